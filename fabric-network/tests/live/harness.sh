# Shared by the live network tests (sourced): counting checks, the closing tally, and taking the
# network down on exit. The caller sets NET and work (a temporary folder) before sourcing.
# shellcheck shell=bash

passed=0 failed=0

# check WHAT COMMAND...: runs COMMAND and counts it as passed or failed under WHAT.
check() {
  local what=$1
  shift
  if "$@"; then passed=$((passed + 1)); echo "ok   $what"; else failed=$((failed + 1)); echo "FAIL $what"; fi
}

# shellcheck disable=SC2154 # work is the caller's
# On exit: the network down (by PID), the temporary folder gone, the "N passed, N failed" tally.
finish() {
  "$NET" down >/dev/null 2>&1
  rm -rf "$work"
  echo "$passed passed, $failed failed"
}
trap finish EXIT
