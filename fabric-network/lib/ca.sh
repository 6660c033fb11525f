# `network.sh up --ca` and `enrol-operator`: one fabric-ca-server per organisation issues every
# identity and TLS certificate, laid out exactly where cryptogen puts them.
# shellcheck shell=bash

# The Fabric CA attribute the chaincode reads as "may change the registry" (chaincode/src/access.rs).
REGISTRY_ADMIN_ATTR='sf2c.registry.admin=true:ecert'

require_fabric_ca() {
  local c
  for c in fabric-ca-server fabric-ca-client; do
    [ -x "$FABRIC_BIN/$c" ] || die "$FABRIC_BIN/$c is missing (up --ca needs Fabric CA v1.5.21); run scripts/install-fabric.sh"
  done
}

random_secret() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

ca_config() { # ORG OUT BOOTSTRAP_SECRET: ORG's fabric-ca-server-config.yaml
  render "$FN_DIR/config/ca-server.yaml.tmpl" "$2" "CA_NAME=$(ca_host "$1")" "CN=$(ca_host "$1")" \
    "DOMAIN=$(ca_domain "$1")" "PORT=$(ca_port "$1")" "OPS_PORT=$(ca_ops_port "$1")" "HOST_NAME=$(hostname)" \
    "BOOTSTRAP_SECRET=$3"
}

start_ca() { # ORG
  start_process "$(ca_host "$1")" fabric-ca-serve "$FABRIC_BIN/fabric-ca-server" start -H "$(ca_home "$1")"
}

ca_ready() { # ORG
  curl -sf --cacert "$(ca_home "$1")/ca-cert.pem" "https://127.0.0.1:$(ca_port "$1")/api/v1/cainfo"
}

# ca_client ORG HOME COMMAND ARGS...: fabric-ca-client on ORG's CA with HOME as its home.
ca_client() {
  local org=$1 home=$2 command=$3
  shift 3
  "$FABRIC_BIN/fabric-ca-client" "$command" -H "$home" --tls.certfiles "$(ca_home "$org")/ca-cert.pem" "$@"
}

# ca_enrol ORG ID SECRET OUT [HOSTS]: enrols ID into the folder OUT; with HOSTS, through the CA's
# "tls" profile (server and client auth) with those SANs.
ca_enrol() {
  local org=$1 id=$2 secret=$3 out=$4 hosts=${5:-} extra=()
  [ -z "$hosts" ] || extra=(--enrollment.profile tls --csr.hosts "$hosts")
  ca_client "$org" "$out.home" enroll -u "https://${id//@/%40}:$secret@127.0.0.1:$(ca_port "$org")" \
    --csr.names "O=$(ca_domain "$org")" -M "$out" "${extra[@]}" || return 1
  rm -rf "$out.home"
}

write_node_ous() { # MSP_DIR CA_FILE (relative to MSP_DIR)
  local role
  {
    printf 'NodeOUs:\n  Enable: true\n'
    for role in Client Peer Admin Orderer; do
      printf '  %sOUIdentifier:\n    Certificate: %s\n    OrganizationalUnitIdentifier: %s\n' \
        "$role" "$2" "${role,,}"
    done
  } >"$1/config.yaml"
}

# ca_msp ORG MSP_DIR: the CA certificate as both CA and TLS CA, and NodeOUs (admincerts are not
# needed with NodeOUs).
ca_msp() {
  local d ca
  d=$(ca_domain "$1")
  ca="$(ca_home "$1")/ca-cert.pem"
  mkdir -p "$2/cacerts" "$2/tlscacerts"
  cp "$ca" "$2/cacerts/ca.$d-cert.pem"
  cp "$ca" "$2/tlscacerts/tlsca.$d-cert.pem"
  write_node_ous "$2" "cacerts/ca.$d-cert.pem"
}

# ca_identity ORG ID TYPE DIR MSP(0|1) TLS(none|server|client) [ATTRS]: registers ID with a random
# secret and enrols it into DIR/msp (signcerts/ID-cert.pem, as cryptogen names it) and DIR/tls.
ca_identity() {
  local org=$1 id=$2 type=$3 dir=$4 msp=$5 tls=$6 attrs=${7:-} secret extra=() host
  secret=$(random_secret)
  [ -z "$attrs" ] || extra=(--id.attrs "$attrs")
  ca_client "$org" "$(ca_home "$org")/registrar" register -u "https://127.0.0.1:$(ca_port "$org")" \
    --id.name "$id" --id.type "$type" --id.secret "$secret" "${extra[@]}" || { echo "error: could not register $id"; return 1; }
  mkdir -p "$dir"
  if [ "$msp" = 1 ]; then
    ca_enrol "$org" "$id" "$secret" "$dir/msp" || { echo "error: could not enrol $id"; return 1; }
    mv "$dir/msp/signcerts/cert.pem" "$dir/msp/signcerts/$id-cert.pem"
    # Idemix and fabric-ca-client leftovers; the CA certificate goes in under cryptogen's names.
    rm -rf "$dir/msp/cacerts" "$dir/msp/user" "$dir/msp/IssuerPublicKey" "$dir/msp/IssuerRevocationPublicKey"
    ca_msp "$org" "$dir/msp"
  fi
  if [ "$tls" != none ]; then
    host=${id#*@} # a node's ID is its host name; a user's SANs name its organisation's domain
    ca_enrol "$org" "$id" "$secret" "$dir/tls.enrol" "$host,localhost,127.0.0.1,$(hostname)" ||
      { echo "error: could not enrol $id for TLS"; return 1; }
    mkdir -p "$dir/tls"
    cp "$dir/tls.enrol/signcerts/cert.pem" "$dir/tls/$tls.crt"
    cp "$dir/tls.enrol"/keystore/*_sk "$dir/tls/$tls.key"
    cp "$(ca_home "$org")/ca-cert.pem" "$dir/tls/ca.crt"
    rm -rf "$dir/tls.enrol"
  fi
}

# ca_enrol_org ORG ORDERERS BOOTSTRAP_SECRET: enrols the CA's registrar, then every identity of ORG
# (in parallel: each is its own registration and key).
ca_enrol_org() {
  local org=$1 orderers=$2 d dir i pid failed=0 pids=()
  d=$(ca_domain "$org")
  dir=$(ca_org_dir "$org")
  ca_client "$org" "$(ca_home "$org")/registrar" enroll -u "https://admin:$3@127.0.0.1:$(ca_port "$org")" || return 1
  mkdir -p "$dir/ca" "$dir/tlsca"
  cp "$(ca_home "$org")/ca-cert.pem" "$dir/ca/ca.$d-cert.pem"
  cp "$(ca_home "$org")/ca-cert.pem" "$dir/tlsca/tlsca.$d-cert.pem"
  ca_msp "$org" "$dir/msp"
  if [ "$org" = Orderer ]; then
    for ((i = 0; i < orderers; i++)); do
      ca_identity "$org" "$(orderer_host "$i")" orderer "$dir/orderers/$(orderer_host "$i")" 1 server &
      pids+=($!)
    done
    ca_identity "$org" "Admin@$d" admin "$dir/users/Admin@$d" 1 client &
    pids+=($!)
  else
    ca_identity "$org" "peer0.$d" peer "$dir/peers/peer0.$d" 1 server &
    pids+=($!)
    if [ "$org" = Org1 ]; then # the chaincode server needs only a TLS certificate
      ca_identity "$org" "chaincode.$d" client "$dir/peers/chaincode.$d" 0 server &
      pids+=($!)
    fi
    ca_identity "$org" "Admin@$d" admin "$dir/users/Admin@$d" 1 client "$REGISTRY_ADMIN_ATTR" &
    pids+=($!)
    ca_identity "$org" "User1@$d" client "$dir/users/User1@$d" 1 none &
    pids+=($!)
    ca_identity "$org" "Operator1@$d" client "$dir/users/Operator1@$d" 1 none "$REGISTRY_ADMIN_ATTR" &
    pids+=($!)
  fi
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  return "$failed"
}

# ca_up ORDERERS: starts the three CA servers and enrols every organisation in parallel.
ca_up() {
  local org home secrets=() pids=() n=0 log
  require_fabric_ca
  for org in "${CA_ORGS[@]}"; do
    home=$(ca_home "$org")
    mkdir -p "$home"
    secrets+=("$(random_secret)")
    (umask 077 && ca_config "$org" "$home/fabric-ca-server-config.yaml" "${secrets[-1]}") ||
      die "could not write $home/fabric-ca-server-config.yaml"
    start_ca "$org"
  done
  for org in "${CA_ORGS[@]}"; do
    # A CA answers within about a second, so poll faster than wait_until's 1 s.
    for ((n = 0; n < 300; n++)); do ca_ready "$org" >/dev/null 2>&1 && break; sleep 0.2; done
    ca_ready "$org" >/dev/null 2>&1 || die "$(ca_host "$org") did not start; see $RUN_DIR/logs/$(ca_host "$org").log"
  done
  n=0
  for org in "${CA_ORGS[@]}"; do
    ca_enrol_org "$org" "$1" "${secrets[n]}" >"$RUN_DIR/logs/enrol-$(ca_domain "$org").log" 2>&1 &
    pids+=($!)
    n=$((n + 1))
  done
  n=0
  for org in "${CA_ORGS[@]}"; do
    log="$RUN_DIR/logs/enrol-$(ca_domain "$org").log"
    wait "${pids[n]}" || die "enrolling $org's identities at $(ca_host "$org") failed: $(grep -i error "$log" | tail -n1) (see $log)"
    n=$((n + 1))
  done
  log "enrolled peers, orderers, admins, clients and registry operators at the CAs"
}

cmd_enrol_operator() { # ORG NAME [--no-attribute]
  local org=$1 name=$2 attrs=$REGISTRY_ADMIN_ATTR d dir log
  [ "${3:-}" != --no-attribute ] || attrs=''
  org_domain "$org" >/dev/null || die "unknown organisation '$org'; use Org1 or Org2"
  [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "operator name '$name' is not valid (letters, digits, . _ -)"
  load_state
  [ "${CRYPTO_MODE:-cryptogen}" = ca ] ||
    die "enrol-operator needs a network whose identities come from Fabric CA ('network.sh up', not --cryptogen); this one uses cryptogen, which has no CA to register with"
  require_fabric
  require_fabric_ca
  d=$(org_domain "$org")
  dir="$(org_dir "$org")/users/$name@$d"
  [ ! -e "$dir" ] || die "$dir exists already; choose another name"
  ca_ready "$org" >/dev/null 2>&1 || die "$(ca_host "$org") does not answer (network.sh status; network.sh start $(ca_host "$org"))"
  log="$RUN_DIR/logs/enrol-operator.log"
  if ! ca_identity "$org" "$name@$d" client "$dir" 1 none "$attrs" >>"$log" 2>&1; then
    rm -rf "$dir"
    die "registering $name@$d at $(ca_host "$org") failed: $(grep -i error "$log" | tail -n1) (see $log)"
  fi
  echo "network: enrolled $name@$d (type client${attrs:+, attribute ${attrs%:ecert}}) at $(ca_host "$org")" >&2
  echo "$dir/msp"
}
