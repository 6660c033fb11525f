# `network.sh deploy`: package, install, approve and commit device-registry, then run its server.
# shellcheck shell=bash

cc_host_dir() { echo "$(org_dir Org1)/peers/chaincode.org1.example.com"; }

orderer_flags() { # fills ORDERER_FLAGS for peer CLI calls that reach the orderer
  ORDERER_FLAGS=(-o "127.0.0.1:$(orderer_port 0)" --tls --cafile "$(orderer_tlsca)")
}

start_chaincode_server() { # PACKAGE_ID
  local tls org members=()
  tls="$(cc_host_dir)/tls"
  # Every endorser's server gets the same member list: it shapes each device's key-level policy.
  for org in "${ORGS[@]}"; do members+=("$(org_msp "$org")"); done
  stop_process chaincode
  start_process chaincode device-registry env CHAINCODE_ID="$1" CHAINCODE_SERVER_ADDRESS="$CC_ADDRESS" \
    CHAINCODE_TLS_CERT="$tls/server.crt" CHAINCODE_TLS_KEY="$tls/server.key" RUST_LOG="${RUST_LOG:-info}" \
    SF2C_MEMBER_MSPS="$(IFS=,; echo "${members[*]}")" "$CC_BIN" serve
}

chaincode_answers() { # ORG: an evaluate through the peer, which dials the chaincode server
  as_org "$1" client "$FABRIC_BIN/peer" chaincode query -C "$CHANNEL" -n "$CC_NAME" \
    -c '{"Args":["DeviceExists","00000000-0000-4000-8000-000000000000"]}'
}

approved_by() { # ORG SEQUENCE PACKAGE_ID: true when ORG's approval of this definition is committed
  as_org "$1" admin "$FABRIC_BIN/peer" lifecycle chaincode queryapproved -C "$CHANNEL" -n "$CC_NAME" \
    --sequence "$2" -O json 2>/dev/null | grep -q "\"package_id\": *\"$3\""
}

# approve ORG SEQUENCE PACKAGE_ID: approveformyorg, retried while the ordering service settles. A
# retry first asks whether the earlier attempt committed after all, since approving the same
# definition twice is refused.
approve() {
  local org=$1 sequence=$2 pkg_id=$3 attempt out
  for attempt in 1 2 3 4 5; do
    if out=$(as_org "$org" admin "$FABRIC_BIN/peer" lifecycle chaincode approveformyorg "${ORDERER_FLAGS[@]}" \
      --channelID "$CHANNEL" --name "$CC_NAME" --version "$CC_VERSION" --package-id "$pkg_id" \
      --sequence "$sequence" --waitForEventTimeout 30s 2>&1); then
      return 0
    fi
    if wait_until 10 "$org's approval to appear" approved_by "$org" "$sequence" "$pkg_id"; then
      log "approval by $org committed although the CLI reported: $(tail -n1 <<<"$out")"
      return 0
    fi
    log "approval by $org failed (attempt $attempt of 5): $(tail -n1 <<<"$out")"
    sleep 2
  done
  echo "$out" >&2
  return 1
}

# gateway_ready ORG: a transaction submitted through ORG's Gateway commits (endorsement plan
# across organisations known, orderer accepting); the peer CLI's own checks do not show that.
gateway_ready() {
  "$REGISTRY_BIN" --network "$RUN_DIR/network.json" --org "$1" --identity client ping --wait 120
}

install_on() { # ORG PACKAGE
  local out
  if out=$(as_org "$1" admin "$FABRIC_BIN/peer" lifecycle chaincode install "$2" 2>&1); then
    log "installed on $(org_peer_host "$1")"
  elif grep -q 'already successfully installed' <<<"$out"; then
    log "already installed on $(org_peer_host "$1")"
  else
    echo "$out" >&2
    die "install on $(org_peer_host "$1") failed (output above)"
  fi
}

cmd_deploy() {
  local pkg pkg_id peer_id sequence=1 org commit_peers=()
  load_state
  require_fabric
  CC_BIN=${SF2C_CHAINCODE_BIN:-$REPO_ROOT/target/release/device-registry}
  [ -x "$CC_BIN" ] || die "chaincode server $CC_BIN not found; build it with: cargo build --release -p device-registry"
  REGISTRY_BIN=${SF2C_REGISTRY_BIN:-$REPO_ROOT/target/release/sf2c-registry}
  [ -x "$REGISTRY_BIN" ] || die "$REGISTRY_BIN not found (deploy checks the Gateways with it); build it with: cargo build --release -p registry-cli"
  mkdir -p "$RUN_DIR/chaincode"
  pkg="$RUN_DIR/chaincode/$CC_LABEL.tar.gz"
  pkg_id=$("$FN_DIR/ccaas-package" --label "$CC_LABEL" --address "$CC_ADDRESS" \
    --root-cert "$(cc_host_dir)/tls/ca.crt" --out "$pkg")
  peer_id=$(as_org Org1 admin "$FABRIC_BIN/peer" lifecycle chaincode calculatepackageid "$pkg") ||
    die "peer lifecycle chaincode calculatepackageid refused $pkg"
  [ "$peer_id" = "$pkg_id" ] || die "package ID mismatch: ours $pkg_id, Fabric's $peer_id"
  log "package $CC_LABEL: $pkg_id"

  if [ -f "$RUN_DIR/chaincode/deployed.env" ]; then
    # shellcheck source=/dev/null
    . "$RUN_DIR/chaincode/deployed.env"
    if [ "${DEPLOYED_PACKAGE_ID:-}" = "$pkg_id" ]; then
      log "$CC_NAME is already committed with this package (sequence $DEPLOYED_SEQUENCE)"
      sequence=''
    else
      sequence=$((DEPLOYED_SEQUENCE + 1))
    fi
  fi

  if [ -n "$sequence" ]; then
    for org in "${ORGS[@]}"; do install_on "$org" "$pkg"; done
    start_chaincode_server "$pkg_id"
    orderer_flags
    for org in "${ORGS[@]}"; do
      approve "$org" "$sequence" "$pkg_id" || die "approval by $org failed (output above)"
      log "approved by $org (sequence $sequence)"
      commit_peers+=(--peerAddresses "127.0.0.1:$(org_peer_port "$org")" --tlsRootCertFiles "$(org_tlsca "$org")")
    done
    # No --signature-policy: the channel's default, a MAJORITY of organisations, applies.
    as_org Org1 admin "$FABRIC_BIN/peer" lifecycle chaincode commit "${ORDERER_FLAGS[@]}" \
      --channelID "$CHANNEL" --name "$CC_NAME" --version "$CC_VERSION" --sequence "$sequence" \
      "${commit_peers[@]}" || die "commit of $CC_NAME failed (output above)"
    log "committed $CC_NAME sequence $sequence on $CHANNEL"
    printf 'DEPLOYED_PACKAGE_ID=%s\nDEPLOYED_SEQUENCE=%s\n' "$pkg_id" "$sequence" >"$RUN_DIR/chaincode/deployed.env"
  elif ! pid_alive "$RUN_DIR/pids/chaincode.pid" 2>/dev/null; then
    start_chaincode_server "$pkg_id"
  fi

  for org in "${ORGS[@]}"; do
    wait_until 90 "$CC_NAME to answer on $(org_peer_host "$org")" chaincode_answers "$org" ||
      die "$CC_NAME does not answer on $(org_peer_host "$org"); see $RUN_DIR/logs/chaincode.log and the peer's log"
  done
  for org in "${ORGS[@]}"; do
    gateway_ready "$org" >>"$RUN_DIR/logs/deploy-ping.log" 2>&1 ||
      die "a transaction through $(org_peer_host "$org")'s Gateway did not commit within 120 s; see $RUN_DIR/logs/deploy-ping.log"
    log "a transaction through $(org_peer_host "$org")'s Gateway committed"
  done
  log "$CC_NAME answers on every peer and writes commit; try: ${REGISTRY_BIN#"$REPO_ROOT"/} list"
}
