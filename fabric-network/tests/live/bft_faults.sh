#!/usr/bin/env bash
# Ordering faults on a real SmartBFT network (4 orderers, tolerates 1): brings the network up
# with --consensus bft, deploys, then checks that a write commits with one orderer stopped,
# fails within seconds naming the lost quorum with two stopped, and commits again after both
# restart with nothing committed lost, and the refused transaction committed at most once under
# its own ID (the orderers that were up keep it and may order it once quorum returns). Takes the network down at the end, even on failure.
# Needs the chaincode and sf2c-registry builds (SF2C_CHAINCODE_BIN, SF2C_REGISTRY_BIN, default
# target/debug). Last line: "N passed, N failed".
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
cd "$(dirname "$0")/../../.." || exit 1

export SF2C_CHAINCODE_BIN=${SF2C_CHAINCODE_BIN:-$PWD/target/debug/device-registry}
export SF2C_REGISTRY_BIN=${SF2C_REGISTRY_BIN:-$PWD/target/debug/sf2c-registry}
NET=fabric-network/network.sh
work=$(mktemp -d)
# shellcheck source=harness.sh
. fabric-network/tests/live/harness.sh

registry() { "$SF2C_REGISTRY_BIN" --network fabric-network/run/network.json --org Org1 --identity admin "$@"; }
# register N: registers a fresh Ed25519 device; its UUID is in $work/N.uuid.
register() {
  local uuid
  uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
  echo "$uuid" >"$work/$1.uuid"
  openssl genpkey -algorithm ed25519 2>/dev/null | openssl pkey -pubout >"$work/$1.pub" 2>/dev/null
  registry register --uuid "$uuid" --type Gateway --virtual-ip "fd5f:bf7::$1" --public-key "$work/$1.pub"
}
# exists N: device N reads back. A read can fail while the peers reconnect to the restarted
# orderers (seen once under heavy load), so it is tried three times, each failure shown.
exists() {
  local out try
  for try in 1 2 3; do
    out=$(registry --json get "$(cat "$work/$1.uuid")" 2>&1) && grep -q '"banned"' <<<"$out" && return 0
    echo "     device $1 does not read back (try $try): $(tail -n1 <<<"$out")"
    grep -q 'is not registered' <<<"$out" && return 1
    sleep 2
  done
  return 1
}
# refused_tx_at_most_once N: device N is absent, or its one history entry is the refused tx itself.
refused_tx_at_most_once() {
  local tx history
  tx=$(grep -o 'submit of tx [0-9a-f]*' "$work/lost.out" | head -n1 | awk '{print $4}')
  [ -n "$tx" ] || { echo "     no tx id in the refusal"; return 1; }
  if ! exists "$1"; then
    echo "     the refused tx $tx never committed"
    return 0
  fi
  history=$(registry --json history "$(cat "$work/$1.uuid")") || return 1
  echo "     the refused tx $tx committed after the orderers returned"
  [ "$(jq length <<<"$history")" = 1 ] && [ "$(jq -r '.[0].tx_id' <<<"$history")" = "$tx" ]
}

[ ! -f fabric-network/run/state.env ] || "$NET" down >/dev/null
if ! "$NET" up --consensus bft >"$work/up.log" 2>&1 || ! "$NET" deploy >>"$work/up.log" 2>&1; then
  cat "$work/up.log"
  check "BFT network up and chaincode deployed" false
  exit 1
fi
check "BFT network up (4 orderers) and chaincode deployed" true
check "a write commits with all four orderers" register 1

"$NET" stop orderer3.example.com >/dev/null
check "a write commits with one orderer stopped" register 2

"$NET" stop orderer2.example.com >/dev/null
start=$(date +%s%N)
register 3 >"$work/lost.out" 2>&1
status=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
echo "     with two orderers stopped the write failed after ${elapsed_ms} ms: $(tail -n1 "$work/lost.out")"
check "with two stopped the write fails" test "$status" -ne 0
check "... within 15 s (took ${elapsed_ms} ms)" test "$elapsed_ms" -lt 15000
check "... naming the lost quorum" grep -qi 'quorum' "$work/lost.out"

"$NET" start orderer2.example.com >/dev/null
"$NET" start orderer3.example.com >/dev/null
check "writes commit again after the orderers restart" registry ping --wait 90
check "a new device registers after the restart" register 4
check "devices committed before the faults are still there" exists 1
check "the device committed with one orderer down is still there" exists 2
check "the refused write committed at most once, under its own tx id" refused_tx_at_most_once 3
[ "$failed" -eq 0 ]
