#!/usr/bin/env bash
# Script test of the main job on real Fabric: `scripts/demo --duration 30` runs to its end and its
# final summary shows both validators accepting, every accepted message stored in the sink, the
# impersonator refused with 1004 and auto-banned on the ledger, the banned gateway refused (1003,
# or at TLS once its certificate is revoked) and storing nothing, and every process stopped. It
# brings up its own fresh network (replacing any running one) and takes it down at the end. Uses
# the debug binaries (--debug) so it reuses the test builds; pass --release to build those.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

profile=--debug
[ "${1:-}" = --release ] && profile=""
mkdir -p target
out=target/demo-run.log

passed=0 failed=0
check() {
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok   $what"
  else
    failed=$((failed + 1))
    echo "FAIL $what"
  fi
}

# shellcheck disable=SC2086 # profile is one flag or nothing
timeout 900 scripts/demo --duration 30 --stop-network $profile >"$out" 2>&1
status=$?
check "demo exits 0 after --duration (status $status)" test "$status" -eq 0
if [ "$status" -ne 0 ]; then
  tail -n 40 "$out"
  echo "(whole output: $out)"
fi

final=$(sed -n '/^==> final state/,$p' "$out")
field() { # field VALIDATOR KEY: the number after KEY= on the validator's final line (0 if absent)
  awk -v v="$1" -v k="$2=" '$1 == v { for (i = 2; i <= NF; i++) if (index($i, k) == 1) { print substr($i, length(k) + 1); exit } }' <<<"$final" |
    grep -E '^[0-9]+$' || echo 0
}
positive() { [ "$1" -gt 0 ]; }

check "the final summary was printed" grep -q '^==> final state' "$out"
check "fog-1 accepted messages" positive "$(field fog-1 accepted)"
check "fog-2 accepted messages" positive "$(field fog-2 accepted)"
check "1004 refusals (impersonator)" positive $(($(field fog-1 1004) + $(field fog-2 1004)))
# The ban reaches the validators twice: as a registry event (1003) and, via the centre's
# revocation, as a TLS refusal; which the banned gateway meets first is a race, so either counts.
check "the banned gateway is refused (1003 or TLS)" positive \
  $(($(field fog-1 1003) + $(field fog-2 1003) + $(field fog-1 tls-refused) + $(field fog-2 tls-refused)))
check "the banned gateway stored nothing" grep -Eq '^  banned .* rows in the sink: 0$' <<<"$final"
check "sink stored rows" grep -Eq 'sink rows=[1-9][0-9]*' <<<"$final"
check "every accepted message is in the sink" grep -Eq 'every accepted message stored: yes$' <<<"$final"
check "the centre holds warnings" grep -Eq 'centre warnings=[1-9][0-9]*' <<<"$final"
check "impersonator auto-banned on the ledger" grep -Eq '^  impostor .* banned on the ledger: true$' <<<"$final"
check "banned gateway banned on the ledger" grep -Eq '^  banned .* banned on the ledger: true$' <<<"$final"
check "dashboard URL and operator password shown" grep -Eq 'dashboard: +http://127\.0\.0\.1:[0-9]+/ +operator: operator +password: [^ ]+' "$out"

# Every process the demo recorded is gone.
leftover=0
for pidfile in run/demo/pids/*.pid; do
  if kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    leftover=$((leftover + 1))
    echo "still running: $pidfile"
  fi
done
check "every started process stopped" test "$leftover" -eq 0
check "the network was taken down (--stop-network)" test ! -e fabric-network/run/state.env

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
