# Shared names, ports, paths and small helpers of network.sh (sourced, not run).
# shellcheck shell=bash

FN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_ROOT=$(cd "$FN_DIR/.." && pwd)
RUN_DIR=${SF2C_RUN_DIR:-$FN_DIR/run}
# Added to every port, so a second network (with its own SF2C_RUN_DIR) can run beside the first.
PORT_OFFSET=${SF2C_PORT_OFFSET:-0}

CHANNEL=sf2c
CC_NAME=device-registry
CC_VERSION=1.0
CC_LABEL=${CC_NAME}_${CC_VERSION}
ORGS=(Org1 Org2)

log() { echo "network: $*"; }
die() { echo "network: $*" >&2; exit 1; }

# The highest base port is 9999; the offset must keep every port below 65536.
if ! [[ $PORT_OFFSET =~ ^[0-9]{1,5}$ ]] || [ "$PORT_OFFSET" -gt 55000 ]; then
  die "SF2C_PORT_OFFSET '$PORT_OFFSET' is not a whole number from 0 to 55000"
fi
port() { echo $(($1 + PORT_OFFSET)); }
CC_ADDRESS=127.0.0.1:$(port 9999)

# Ports and names of each organisation's single peer.
org_domain() { case "$1" in Org1) echo org1.example.com ;; Org2) echo org2.example.com ;; *) return 1 ;; esac; }
org_msp() { case "$1" in Org1) echo Org1MSP ;; Org2) echo Org2MSP ;; *) return 1 ;; esac; }
org_peer_port() { case "$1" in Org1) port 7051 ;; Org2) port 9051 ;; *) return 1 ;; esac; }
org_cc_port() { case "$1" in Org1) port 7052 ;; Org2) port 9052 ;; *) return 1 ;; esac; }
org_ops_port() { case "$1" in Org1) port 9444 ;; Org2) port 9445 ;; *) return 1 ;; esac; }
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
orderer_port() { port $((7050 + 10 * $1)); }
orderer_admin_port() { port $((7053 + 10 * $1)); }
orderer_ops_port() { port $((9443 + 10 * $1)); }
orderer_host() { echo "orderer$1.example.com"; }
orderer_org_dir() { echo "$RUN_DIR/crypto/ordererOrganizations/example.com"; }
orderer_tlsca() { echo "$(orderer_org_dir)/tlsca/tlsca.example.com-cert.pem"; }

# Fabric CA mode (up --ca): one CA server per organisation, the orderer organisation included.
CA_ORGS=(Org1 Org2 Orderer)
ca_domain() { case "$1" in Orderer) echo example.com ;; *) org_domain "$1" ;; esac; }
ca_host() { echo "ca.$(ca_domain "$1")"; }
ca_port() { case "$1" in Org1) port 7054 ;; Org2) port 8054 ;; Orderer) port 9054 ;; *) return 1 ;; esac; }
ca_ops_port() { case "$1" in Org1) port 9446 ;; Org2) port 9447 ;; Orderer) port 9448 ;; *) return 1 ;; esac; }
ca_home() { echo "$RUN_DIR/ca/$(ca_domain "$1")"; }
ca_org_dir() { case "$1" in Orderer) orderer_org_dir ;; *) org_dir "$1" ;; esac; }

# The port values configtx.yaml.tmpl needs, as NAME=VALUE arguments for render.
configtx_ports() {
  local i
  CONFIGTX_PORTS=("ORG1_PEER_PORT=$(org_peer_port Org1)" "ORG2_PEER_PORT=$(org_peer_port Org2)")
  for i in 0 1 2 3; do CONFIGTX_PORTS+=("ORDERER${i}_PORT=$(orderer_port "$i")"); done
}

# Every port a network with ORDERERS orderers listens on (CA servers included when --ca), with a name.
network_ports() { # ORDERERS WITH_CA(0|1)
  local i org
  for ((i = 0; i < $1; i++)); do
    printf '%s %s\n' "$(orderer_port "$i")" "$(orderer_host "$i")" "$(orderer_admin_port "$i")" "$(orderer_host "$i") admin" \
      "$(orderer_ops_port "$i")" "$(orderer_host "$i") operations"
  done
  for org in "${ORGS[@]}"; do
    printf '%s %s\n' "$(org_peer_port "$org")" "$(org_peer_host "$org")" "$(org_cc_port "$org")" \
      "$(org_peer_host "$org") chaincode" "$(org_ops_port "$org")" "$(org_peer_host "$org") operations"
  done
  printf '%s chaincode server\n' "${CC_ADDRESS##*:}"
  if [ "$2" = 1 ]; then
    for org in "${CA_ORGS[@]}"; do
      printf '%s %s\n' "$(ca_port "$org")" "$(ca_host "$org")" "$(ca_ops_port "$org")" "$(ca_host "$org") operations"
    done
  fi
}

# port_in_use PORT: something accepts connections on 127.0.0.1:PORT.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

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
