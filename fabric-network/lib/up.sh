# `network.sh up`: crypto (cryptogen, or Fabric CA servers with --ca), genesis block, orderers
# joined by osnadmin, peers joined, network.json.
# shellcheck shell=bash

osnadmin_tls() { # fills OSN_TLS with the orderer admin's mutual-TLS flags
  local admin
  admin="$(orderer_org_dir)/users/Admin@example.com/tls"
  OSN_TLS=(--ca-file "$(orderer_tlsca)" --client-cert "$admin/client.crt" --client-key "$admin/client.key")
}

start_orderer() { # INDEX
  local i=$1 host dir node
  host=$(orderer_host "$i")
  dir="$RUN_DIR/orderers/$host"
  node="$(orderer_org_dir)/orderers/$host"
  mkdir -p "$dir"
  render "$FN_DIR/config/orderer.yaml.tmpl" "$dir/orderer.yaml" \
    "PORT=$(orderer_port "$i")" "ADMIN_PORT=$(orderer_admin_port "$i")" "OPS_PORT=$(orderer_ops_port "$i")" \
    "NODE=$node" "TLSCA=$(orderer_tlsca)" "DATA=$dir"
  start_process "$host" orderer env FABRIC_CFG_PATH="$dir" FABRIC_LOGGING_SPEC="$LOG_SPEC" \
    "$FABRIC_BIN/orderer"
}

start_peer() { # ORG
  local org=$1 host dir
  host=$(org_peer_host "$org")
  dir="$RUN_DIR/peers/$host"
  mkdir -p "$dir/data"
  render "$FN_DIR/config/core.yaml.tmpl" "$dir/core.yaml" \
    "PEER_NAME=$host" "MSP_ID=$(org_msp "$org")" "NODE=$(org_dir "$org")/peers/$host" "DATA=$dir/data" \
    "BUILDER=$FN_DIR/builder" "PORT=$(org_peer_port "$org")" "CC_PORT=$(org_cc_port "$org")" \
    "OPS_PORT=$(org_ops_port "$org")"
  start_process "$host" peer env FABRIC_CFG_PATH="$dir" FABRIC_LOGGING_SPEC="$LOG_SPEC" \
    "$FABRIC_BIN/peer" node start
}

orderer_active() { # INDEX: the orderer serves the channel as an active consenter
  "$FABRIC_BIN/osnadmin" channel list --channelID "$CHANNEL" -o "127.0.0.1:$(orderer_admin_port "$1")" \
    "${OSN_TLS[@]}" 2>/dev/null | tr -d ' \n' | grep -q '"status":"active"'
}

peer_healthy() { # ORG
  curl -sf --cacert "$(org_tlsca "$1")" "https://127.0.0.1:$(org_ops_port "$1")/healthz"
}

peer_has_channel() { # ORG
  as_org "$1" admin "$FABRIC_BIN/peer" channel getinfo -c "$CHANNEL"
}

# ports_free ORDERERS WITH_CA: refuses to start over another network's (or anything's) ports.
ports_free() {
  local p what
  while read -r p what; do
    ! port_in_use "$p" ||
      die "port $p ($what) is already in use on 127.0.0.1; to run beside another network set SF2C_PORT_OFFSET (and SF2C_RUN_DIR)"
  done < <(network_ports "$1" "$2")
}

cmd_up() { # CONSENSUS BATCH_TIMEOUT CRYPTO_MODE(cryptogen|ca)
  local consensus=$1 batch_timeout=$2 crypto_mode=$3 profile orderers i org
  [ ! -e "$RUN_DIR/state.env" ] || die "the network is already up ($RUN_DIR exists); run network.sh down first"
  require_fabric
  [ "$crypto_mode" = cryptogen ] || require_fabric_ca
  command -v curl >/dev/null || die "curl is needed to check the peers' health endpoints; install curl"
  [ -x "$FN_DIR/builder/bin/detect" ] || die "$FN_DIR/builder/bin/detect is missing or not executable"
  case "$consensus" in
    raft) profile=SF2CRaft orderers=1 ;;
    bft) profile=SF2CBFT orderers=4 ;;
  esac
  ports_free "$orderers" "$([ "$crypto_mode" = ca ] && echo 1 || echo 0)"
  LOG_SPEC=${FABRIC_LOGGING_SPEC:-grpc=error:info}
  rm -rf "$RUN_DIR"
  mkdir -p "$RUN_DIR/logs" "$RUN_DIR/pids" "$RUN_DIR/config" "$RUN_DIR/channel"
  trap 'echo "network: up failed; logs are in ${RUN_DIR#"$REPO_ROOT"/}/logs; run network.sh down to clean up" >&2' ERR

  if [ "$crypto_mode" = ca ]; then
    log "starting one Fabric CA per organisation; identities enrolled with fabric-ca-client (NodeOUs on)"
    ca_up "$orderers"
  else
    log "generating crypto material (cryptogen, NodeOUs on)"
    "$FABRIC_BIN/cryptogen" generate --config="$FN_DIR/config/crypto-config.yaml" --output="$RUN_DIR/crypto" \
      >"$RUN_DIR/logs/cryptogen.log" 2>&1 || die "cryptogen failed; see $RUN_DIR/logs/cryptogen.log"
  fi

  log "creating the genesis block of channel $CHANNEL (profile $profile, BatchTimeout $batch_timeout)"
  configtx_ports
  render "$FN_DIR/config/configtx.yaml.tmpl" "$RUN_DIR/config/configtx.yaml" \
    "CRYPTO=$RUN_DIR/crypto" "BATCH_TIMEOUT=$batch_timeout" "BATCH_MAX_COUNT=100" "${CONFIGTX_PORTS[@]}"
  "$FABRIC_BIN/configtxgen" -configPath "$RUN_DIR/config" -profile "$profile" -channelID "$CHANNEL" \
    -outputBlock "$RUN_DIR/channel/$CHANNEL.block" >"$RUN_DIR/logs/configtxgen.log" 2>&1 ||
    die "configtxgen failed; see $RUN_DIR/logs/configtxgen.log"

  for ((i = 0; i < orderers; i++)); do start_orderer "$i"; done
  osnadmin_tls
  for ((i = 0; i < orderers; i++)); do
    wait_until 60 "orderer $i's admin endpoint" \
      "$FABRIC_BIN/osnadmin" channel list -o "127.0.0.1:$(orderer_admin_port "$i")" "${OSN_TLS[@]}" ||
      die "orderer $i did not start; see $RUN_DIR/logs/$(orderer_host "$i").log"
    "$FABRIC_BIN/osnadmin" channel join --channelID "$CHANNEL" --config-block "$RUN_DIR/channel/$CHANNEL.block" \
      -o "127.0.0.1:$(orderer_admin_port "$i")" "${OSN_TLS[@]}" >>"$RUN_DIR/logs/osnadmin.log" 2>&1 ||
      die "orderer $i refused to join $CHANNEL; see $RUN_DIR/logs/osnadmin.log"
    log "orderer $i joined $CHANNEL"
  done
  for ((i = 0; i < orderers; i++)); do
    wait_until 60 "orderer $i to serve $CHANNEL as an active consenter" orderer_active "$i" ||
      die "orderer $i is not active on $CHANNEL; see $RUN_DIR/logs/$(orderer_host "$i").log"
  done

  for org in "${ORGS[@]}"; do start_peer "$org"; done
  for org in "${ORGS[@]}"; do
    wait_until 60 "$(org_peer_host "$org") /healthz" peer_healthy "$org" ||
      die "$(org_peer_host "$org") is not healthy; see $RUN_DIR/logs/$(org_peer_host "$org").log"
    wait_until 30 "$(org_peer_host "$org") to join $CHANNEL" \
      as_org "$org" admin "$FABRIC_BIN/peer" channel join -b "$RUN_DIR/channel/$CHANNEL.block" ||
      die "$(org_peer_host "$org") could not join $CHANNEL; see its log"
    wait_until 60 "$(org_peer_host "$org") to receive $CHANNEL's blocks" peer_has_channel "$org" ||
      die "$(org_peer_host "$org") has no ledger for $CHANNEL; see its log"
    log "$(org_peer_host "$org") joined $CHANNEL"
  done

  write_network_json "$RUN_DIR" "$orderers"
  printf 'CONSENSUS=%s\nORDERERS=%s\nBATCH_TIMEOUT=%s\nCRYPTO_MODE=%s\n' "$consensus" "$orderers" "$batch_timeout" \
    "$crypto_mode" >"$RUN_DIR/state.env"
  trap - ERR
  log "network is up ($consensus, $orderers orderer(s), identities from $crypto_mode); description in ${RUN_DIR#"$REPO_ROOT"/}/network.json"
  log "next: fabric-network/network.sh deploy"
}
