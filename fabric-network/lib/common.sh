# Shared names, ports, paths and small helpers of network.sh (sourced, not run).
# shellcheck shell=bash

FN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_ROOT=$(cd "$FN_DIR/.." && pwd)
RUN_DIR=${SF2C_RUN_DIR:-$FN_DIR/run}

CHANNEL=sf2c
CC_NAME=device-registry
CC_VERSION=1.0
CC_LABEL=${CC_NAME}_${CC_VERSION}
CC_ADDRESS=127.0.0.1:9999
ORGS=(Org1 Org2)

log() { echo "network: $*"; }
die() { echo "network: $*" >&2; exit 1; }

# Ports and names of each organisation's single peer.
org_domain() { case "$1" in Org1) echo org1.example.com ;; Org2) echo org2.example.com ;; *) return 1 ;; esac; }
org_msp() { case "$1" in Org1) echo Org1MSP ;; Org2) echo Org2MSP ;; *) return 1 ;; esac; }
org_peer_port() { case "$1" in Org1) echo 7051 ;; Org2) echo 9051 ;; *) return 1 ;; esac; }
org_cc_port() { case "$1" in Org1) echo 7052 ;; Org2) echo 9052 ;; *) return 1 ;; esac; }
org_ops_port() { case "$1" in Org1) echo 9444 ;; Org2) echo 9445 ;; *) return 1 ;; esac; }
org_peer_host() { echo "peer0.$(org_domain "$1")"; }
org_dir() { echo "$RUN_DIR/crypto/peerOrganizations/$(org_domain "$1")"; }
org_tlsca() { local d; d=$(org_domain "$1"); echo "$(org_dir "$1")/tlsca/tlsca.$d-cert.pem"; }
org_user_msp() { # ORG admin|client
  local d; d=$(org_domain "$1")
  case "$2" in
    admin) echo "$(org_dir "$1")/users/Admin@$d/msp" ;;
    client) echo "$(org_dir "$1")/users/User1@$d/msp" ;;
    *) return 1 ;;
  esac
}

# Orderer i (0-based): general, admin (osnadmin) and operations ports.
orderer_port() { echo $((7050 + 10 * $1)); }
orderer_admin_port() { echo $((7053 + 10 * $1)); }
orderer_ops_port() { echo $((9443 + 10 * $1)); }
orderer_host() { echo "orderer$1.example.com"; }
orderer_org_dir() { echo "$RUN_DIR/crypto/ordererOrganizations/example.com"; }
orderer_tlsca() { echo "$(orderer_org_dir)/tlsca/tlsca.example.com-cert.pem"; }

# render TEMPLATE OUT NAME=VALUE...: replaces each ${NAME}; refuses to leave a placeholder unfilled.
render() {
  local template=$1 out=$2 content kv name value
  shift 2
  content=$(<"$template")
  for kv in "$@"; do
    name=${kv%%=*}
    value=${kv#*=}
    content=${content//"\${$name}"/"$value"}
  done
  # shellcheck disable=SC2016 # a literal "${" is what is searched for
  if [[ $content == *'${'* ]]; then
    local left
    # shellcheck disable=SC2016
    left=$(grep -o '\${[A-Z_0-9]*}' <<<"$content" | sort -u | tr '\n' ' ')
    echo "network: $template: no value given for $left" >&2
    return 1
  fi
  printf '%s\n' "$content" >"$out"
}

# wait_until SECONDS WHAT COMMAND...: retries COMMAND once a second rather than sleeping blindly.
wait_until() {
  local timeout=$1 what=$2 start
  shift 2
  start=$(date +%s)
  until "$@" >/dev/null 2>&1; do
    if [ $(($(date +%s) - start)) -ge "$timeout" ]; then
      echo "network: gave up after ${timeout}s waiting for $what" >&2
      return 1
    fi
    sleep 1
  done
}

# The state file written by `up` (consensus, orderer count, batch timeout).
load_state() {
  [ -f "$RUN_DIR/state.env" ] || die "the network is not up ($RUN_DIR/state.env missing); run: fabric-network/network.sh up"
  # shellcheck source=/dev/null
  . "$RUN_DIR/state.env"
}
