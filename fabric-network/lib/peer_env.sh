# Environment that makes Fabric's own peer CLI act as an organisation's admin or client identity.
# shellcheck shell=bash

# peer_env ORG IDENTITY: fills the array PEER_ENV with NAME=VALUE entries.
peer_env() {
  local org=$1 identity=$2 msp
  org_domain "$org" >/dev/null || die "unknown organisation '$org'; use Org1 or Org2"
  msp=$(org_user_msp "$org" "$identity") || die "unknown identity '$identity'; use admin or client"
  PEER_ENV=(
    "FABRIC_CFG_PATH=$RUN_DIR/peers/$(org_peer_host "$org")"
    "CORE_PEER_TLS_ENABLED=true"
    "CORE_PEER_LOCALMSPID=$(org_msp "$org")"
    "CORE_PEER_MSPCONFIGPATH=$msp"
    "CORE_PEER_ADDRESS=127.0.0.1:$(org_peer_port "$org")"
    "CORE_PEER_TLS_ROOTCERT_FILE=$(org_tlsca "$org")"
    "ORDERER_ADDRESS=127.0.0.1:$(orderer_port 0)"
    "ORDERER_CA=$(orderer_tlsca)"
    "FABRIC_LOGGING_SPEC=${FABRIC_LOGGING_SPEC:-warning}"
  )
}

# as_org ORG IDENTITY COMMAND...: runs a Fabric command as that identity.
as_org() {
  local org=$1 identity=$2
  shift 2
  peer_env "$org" "$identity"
  env "${PEER_ENV[@]}" "$@"
}

# print_env ORG IDENTITY: export lines for `eval "$(network.sh env Org1 admin)"`.
print_env() {
  local kv
  peer_env "$1" "$2"
  # PATH is left to expand in the caller's shell, so their own PATH is kept behind Fabric's.
  # shellcheck disable=SC2016
  printf 'export PATH=%q:"$PATH"\n' "$FABRIC_BIN"
  for kv in "${PEER_ENV[@]}"; do
    printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}"
  done
}
