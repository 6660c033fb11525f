#!/usr/bin/env bash
# Runs SF2C-BC's Fabric v3.1.5 network as native processes on 127.0.0.1 (no Docker): two peer
# organisations with one peer each, Raft or SmartBFT orderers, TLS everywhere, and the
# device-registry chaincode as an external service.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
. "$here/lib/common.sh"
# shellcheck source=lib/fabric_bin.sh
. "$here/lib/fabric_bin.sh"
# shellcheck source=lib/processes.sh
. "$here/lib/processes.sh"
# shellcheck source=lib/network_json.sh
. "$here/lib/network_json.sh"
# shellcheck source=lib/peer_env.sh
. "$here/lib/peer_env.sh"
# shellcheck source=lib/ca.sh
. "$here/lib/ca.sh"
# shellcheck source=lib/up.sh
. "$here/lib/up.sh"
# shellcheck source=lib/deploy.sh
. "$here/lib/deploy.sh"

usage() {
  cat <<USAGE
Usage: fabric-network/network.sh <command> [options]

Commands:
  up [--consensus raft|bft] [--batch-timeout 250ms] [--ca | --cryptogen]
        generate crypto, create channel '$CHANNEL' (osnadmin, no system channel), start the
        orderers (raft: 1, bft: 4 SmartBFT) and the peers of Org1 and Org2, join them, and write
        ${RUN_DIR#"$REPO_ROOT"/}/network.json. Identities come from one fabric-ca-server per
        organisation (Org1, Org2, the orderers' example.com; the default, --ca), or with
        --cryptogen from cryptogen (a few seconds quicker, no CA servers); same layout
  deploy
        package $CC_NAME for chaincode-as-a-service, install it on both peers, approve for both
        organisations, commit it, start 'device-registry serve', and return once a transaction
        through each organisation's Gateway commits (needs target/release/device-registry and
        target/release/sf2c-registry: cargo build --release -p device-registry -p registry-cli;
        SF2C_CHAINCODE_BIN and SF2C_REGISTRY_BIN name other builds)
  status
        list the network's processes and what is deployed
  enrol-operator Org1|Org2 NAME [--no-attribute]
        (--ca networks) register NAME@<org domain> at the organisation's CA as a client with the
        attribute sf2c.registry.admin=true (none with --no-attribute), enrol it, and print its MSP
        folder, for: sf2c-registry --org Org1 --identity <that folder> ...
  env Org1|Org2 [admin|client]
        print export lines so Fabric's 'peer' CLI acts as that identity:
          eval "\$(fabric-network/network.sh env Org1 admin)"
  stop NODE | start NODE
        stop one running node by PID, or start it again with its data (NODE: orderer0.example.com
        ... orderer3.example.com, peer0.org1.example.com, peer0.org2.example.com, and with --ca
        ca.org1.example.com, ca.org2.example.com, ca.example.com); for trying faults such as a
        lost orderer
  down
        stop exactly the processes 'up' and 'deploy' started (by PID) and remove ${RUN_DIR#"$REPO_ROOT"/}/

Fabric's binaries come from scripts/install-fabric.sh. Logs: ${RUN_DIR#"$REPO_ROOT"/}/logs/.
SF2C_RUN_DIR moves ${RUN_DIR#"$REPO_ROOT"/}/ and SF2C_PORT_OFFSET (default 0) is added to every port, so
a second network can run beside the first.
USAGE
}

parse_up() {
  local consensus=raft batch_timeout=250ms crypto_mode=ca
  while [ $# -gt 0 ]; do
    case "$1" in
      --consensus)
        [ $# -ge 2 ] || die "--consensus needs a value: raft or bft"
        case "$2" in raft|bft) consensus=$2 ;; *) die "unknown consensus '$2'; use raft or bft" ;; esac
        shift 2 ;;
      --batch-timeout)
        [ $# -ge 2 ] || die "--batch-timeout needs a duration such as 250ms or 2s"
        [[ $2 =~ ^[1-9][0-9]*(ms|s)$ ]] || die "batch timeout '$2' is not a positive duration such as 250ms or 2s"
        batch_timeout=$2
        shift 2 ;;
      --ca) crypto_mode=ca; shift ;;
      --cryptogen) crypto_mode=cryptogen; shift ;;
      *) die "unknown option '$1' for up (see network.sh --help)" ;;
    esac
  done
  cmd_up "$consensus" "$batch_timeout" "$crypto_mode"
}

cmd_status() {
  if [ ! -f "$RUN_DIR/state.env" ]; then
    log "the network is not up"
    return 0
  fi
  load_state
  # shellcheck disable=SC2153 # CONSENSUS, ORDERERS and BATCH_TIMEOUT come from state.env
  log "up: $CONSENSUS ordering, $ORDERERS orderer(s), BatchTimeout $BATCH_TIMEOUT, channel $CHANNEL, identities from ${CRYPTO_MODE:-cryptogen}"
  print_processes
  if [ -f "$RUN_DIR/chaincode/deployed.env" ]; then
    # shellcheck source=/dev/null
    . "$RUN_DIR/chaincode/deployed.env"
    log "deployed: $CC_NAME sequence $DEPLOYED_SEQUENCE, package $DEPLOYED_PACKAGE_ID, server $CC_ADDRESS"
  else
    log "$CC_NAME is not deployed yet (network.sh deploy)"
  fi
  log "network description: $RUN_DIR/network.json"
}

cmd_down() {
  if [ ! -d "$RUN_DIR" ]; then
    log "nothing to stop ($RUN_DIR does not exist)"
    return 0
  fi
  stop_all
  rm -rf "$RUN_DIR"
  log "network stopped and ${RUN_DIR#"$REPO_ROOT"/}/ removed"
}

# node_start_fn NODE: prints how `start` brings NODE back, or fails naming the valid nodes.
node_start_fn() {
  local i
  for ((i = 0; i < ${ORDERERS:-1}; i++)); do
    [ "$1" = "$(orderer_host "$i")" ] && { echo "start_orderer $i"; return 0; }
  done
  for org in "${ORGS[@]}"; do
    [ "$1" = "$(org_peer_host "$org")" ] && { echo "start_peer $org"; return 0; }
  done
  if [ "${CRYPTO_MODE:-cryptogen}" = ca ]; then
    for org in "${CA_ORGS[@]}"; do
      [ "$1" = "$(ca_host "$org")" ] && { echo "start_ca $org"; return 0; }
    done
  fi
  return 1
}

cmd_node() { # stop|start NODE
  [ $# -eq 2 ] || die "usage: network.sh $1 NODE"
  load_state
  local how f nodes=''
  for f in "$RUN_DIR"/pids/*.pid; do
    [ -f "$f" ] || continue
    f=$(basename "$f" .pid)
    [ "$f" = chaincode ] || nodes+=" $f"
  done
  how=$(node_start_fn "$2") || die "unknown node '$2'; nodes:$nodes"
  if [ "$1" = stop ]; then
    stop_process "$2"
    return 0
  fi
  if [ -f "$RUN_DIR/pids/$2.pid" ] && pid_alive "$RUN_DIR/pids/$2.pid"; then
    log "$2 is already running"
    return 0
  fi
  require_fabric
  LOG_SPEC=${FABRIC_LOGGING_SPEC:-grpc=error:info}
  $how
}

cmd_env() {
  if [ $# -lt 1 ] || [ $# -gt 2 ]; then die "usage: network.sh env Org1|Org2 [admin|client]"; fi
  org_domain "$1" >/dev/null || die "unknown organisation '$1'; use Org1 or Org2"
  case "${2:-admin}" in admin|client) ;; *) die "unknown identity '$2'; use admin or client" ;; esac
  load_state
  require_fabric
  print_env "$1" "${2:-admin}"
}

[ $# -ge 1 ] || { usage >&2; exit 2; }
command=$1
shift
case "$command" in
  up) parse_up "$@" ;;
  deploy) [ $# -eq 0 ] || die "deploy takes no options (got '$*')"; cmd_deploy ;;
  status) [ $# -eq 0 ] || die "status takes no options (got '$*')"; cmd_status ;;
  env) cmd_env "$@" ;;
  down) [ $# -eq 0 ] || die "down takes no options (got '$*')"; cmd_down ;;
  stop|start) cmd_node "$command" "$@" ;;
  enrol-operator)
    [ $# -eq 2 ] || { [ $# -eq 3 ] && [ "$3" = --no-attribute ]; } ||
      die "usage: network.sh enrol-operator Org1|Org2 NAME [--no-attribute]"
    cmd_enrol_operator "$@" ;;
  -h|--help|help) usage ;;
  *) die "unknown command '$command'; commands: up, deploy, status, env, enrol-operator, stop, start, down (see --help)" ;;
esac
