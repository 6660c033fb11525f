# Assertions shared by the fabric-network tests (sourced by run.sh before the tests).
# shellcheck shell=bash source-path=SCRIPTDIR

fail() { echo "$*"; return 1; }

# expect_fail EXPECTED_TEXT COMMAND...: the command must exit non-zero and say EXPECTED_TEXT.
expect_fail() {
  local want=$1 out rc
  shift
  out=$("$@" 2>&1)
  rc=$?
  [ "$rc" -ne 0 ] || fail "expected '$*' to fail, it exited 0 with: $out" || return 1
  grep -qF -- "$want" <<<"$out" || fail "'$*' failed (rc $rc) without saying '$want'; it said: $out"
}

# A PEM-shaped file; packaging only carries it, so it need not be a real certificate.
fake_pem() {
  printf -- '-----BEGIN CERTIFICATE-----\nMIIBfakecertificatebodyforpackagingtests\n-----END CERTIFICATE-----\n' >"$1"
}

have_yaml() { python3 -c 'import yaml' 2>/dev/null; }
