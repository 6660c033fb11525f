#!/usr/bin/env bash
# Runs the fabric-network tests that need no Fabric binaries; the last line is "N passed, N failed".
# shellcheck source-path=SCRIPTDIR
set -uo pipefail

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FN_DIR=$(cd "$TESTS_DIR/.." && pwd)
export TESTS_DIR FN_DIR

passed=0 failed=0 skipped=0
# shellcheck source=helpers.sh
. "$TESTS_DIR/helpers.sh"
# A test is a function named test_*; it fails by returning non-zero, skips by returning 77.
for file in "$TESTS_DIR"/*_test.sh; do
  # shellcheck source=/dev/null
  . "$file"
done
for t in $(declare -F | awk '{print $3}' | grep '^test_' | sort); do
  work=$(mktemp -d)
  out=$(cd "$work" && WORK="$work" "$t" 2>&1)
  rc=$?
  rm -rf "$work"
  case $rc in
    0) passed=$((passed + 1)); echo "ok      $t" ;;
    77) skipped=$((skipped + 1)); echo "skipped $t: $out" ;;
    *) failed=$((failed + 1)); echo "FAILED  $t"; printf '        %s\n' "${out//$'\n'/$'\n'        }" ;;
  esac
done
[ "$skipped" -eq 0 ] || echo "($skipped skipped)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
