#!/usr/bin/env bash
# Identities issued by Fabric CA servers on a real network: brings a network up with --ca, deploys,
# then checks that every node's certificates come from its organisation's running CA with the
# right NodeOU and SANs, that network.json and `network.sh env` work as with cryptogen, and who
# may write the registry: the org admin and operators registered with sf2c.registry.admin=true
# may; a plain client, an operator enrolled with --no-attribute, and a client whose affiliation
# is named "admin" (Fabric's MSP refuses that identity outright) may not. Takes the network down
# at the end, even on failure. Honours SF2C_RUN_DIR and SF2C_PORT_OFFSET, so it can run beside
# another network; refuses to touch a network already up in its run directory.
# Needs the chaincode and sf2c-registry builds (SF2C_CHAINCODE_BIN, SF2C_REGISTRY_BIN, default
# target/debug). Last line: "N passed, N failed".
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
cd "$(dirname "$0")/../../.." || exit 1

export SF2C_RUN_DIR=${SF2C_RUN_DIR:-$PWD/fabric-network/run}
RUN=$SF2C_RUN_DIR
NET=fabric-network/network.sh
# Writes refused by the chaincode's admin rule (chaincode/src/access.rs) say this.
REFUSAL='may not change the device registry'
if [ -e "$RUN/state.env" ]; then
  echo "a network is already up in $RUN; take it down, or set SF2C_RUN_DIR and SF2C_PORT_OFFSET" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
work=$(mktemp -d)
# shellcheck source=harness.sh
. fabric-network/tests/live/harness.sh

# Copies, so a rebuild in this checkout while the test runs cannot swap the binaries under it.
mkdir "$work/bin"
if ! cp "${SF2C_CHAINCODE_BIN:-$PWD/target/debug/device-registry}" "$work/bin/device-registry" ||
  ! cp "${SF2C_REGISTRY_BIN:-$PWD/target/debug/sf2c-registry}" "$work/bin/sf2c-registry"; then
  check "the chaincode and sf2c-registry builds exist" false
  exit 1
fi
export SF2C_CHAINCODE_BIN=$work/bin/device-registry SF2C_REGISTRY_BIN=$work/bin/sf2c-registry

# shellcheck source=../../lib/common.sh
. fabric-network/lib/common.sh
ORG1=$RUN/crypto/peerOrganizations/org1.example.com
ORG2=$RUN/crypto/peerOrganizations/org2.example.com
ORDERERS=$RUN/crypto/ordererOrganizations/example.com

registry() { # ORG IDENTITY ARGS...
  "$SF2C_REGISTRY_BIN" --network "$RUN/network.json" --org "$1" --identity "$2" "${@:3}"
}
# register_as ORG IDENTITY NAME: registers a fresh device; its UUID is in $work/NAME.uuid, output in NAME.out.
register_as() {
  local uuid
  uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
  echo "$uuid" >"$work/$3.uuid"
  openssl genpkey -algorithm ed25519 2>/dev/null | openssl pkey -pubout >"$work/$3.pub" 2>/dev/null
  registry "$1" "$2" register --uuid "$uuid" --type Gateway --virtual-ip "fd5f:ca::$(od -An -N2 -tx2 /dev/urandom | tr -d ' ')" \
    --public-key "$work/$3.pub" >"$work/$3.out" 2>&1
}
exists() { registry Org1 client --json get "$(cat "$work/$1.uuid")" >"$work/$1.get" 2>&1 && grep -q '"banned"' "$work/$1.get"; }
# on_ledger NAME: device NAME can be read back; retried for 5 s (one run of this test saw a read
# right after the commit fail, cause not captured).
on_ledger() {
  local _
  for _ in 1 2 3 4 5 6 7 8 9 10; do exists "$1" && return 0; sleep 0.5; done
  echo "     get said: $(tail -n1 "$work/$1.get")"
  return 1
}
# refused ORG IDENTITY NAME PATTERN: the write fails saying PATTERN and the device is not there.
refused() {
  if register_as "$1" "$2" "$3"; then echo "     the write was accepted"; return 1; fi
  echo "     refused: $(grep -o "$4.*" "$work/$3.out" | head -n1 | cut -c1-150)"
  grep -q "$4" "$work/$3.out" && ! exists "$3"
}

subject() { openssl x509 -in "$1" -noout -subject; }
issuer_is() { openssl x509 -in "$1" -noout -issuer | grep -q "CN = $2\$"; }
# cert_is CERT CA_NAME OU: issued by that CA, chains to the running CA's certificate, one OU.
cert_is() {
  local ca_file=$RUN/ca/${2#ca.}/ca-cert.pem
  if ! issuer_is "$1" "$2" || ! openssl verify -CAfile "$ca_file" "$1" >/dev/null ||
    [ "$(subject "$1" | grep -o 'OU = [a-z]*')" != "OU = $3" ]; then
    echo "     $1: $(subject "$1")"
    return 1
  fi
}
has_attribute() { openssl x509 -in "$1" -noout -text | grep -q '"sf2c.registry.admin":"true"'; }
# tls_cert_is CERT CA_NAME OU HOST: as cert_is, with SANs HOST, localhost, 127.0.0.1 and this host's name.
tls_cert_is() {
  local sans n
  cert_is "$1" "$2" "$3" || return 1
  sans=$(openssl x509 -in "$1" -noout -ext subjectAltName)
  for n in "$4" localhost 127.0.0.1 "$(hostname)"; do
    grep -qE "(DNS|IP Address):$n(,|\$)" <<<"$sans" || { echo "     no SAN $n in: $sans"; return 1; }
  done
}
# user_cert_is CERT CA_NAME OU with|without: as cert_is, with or without the registry attribute.
user_cert_is() {
  cert_is "$1" "$2" "$3" || return 1
  if [ "$4" = with ]; then has_attribute "$1"; else ! has_attribute "$1"; fi
}
enrol_refuses_duplicate() {
  local out
  if out=$("$NET" enrol-operator Org1 "op-$$" 2>&1); then echo "     enrolled again: $out"; return 1; fi
  grep -q "exists already" <<<"$out"
}
two_role_ous() { subject "$1" | grep -q 'OU = admin + OU = client\|OU = client + OU = admin'; }
# The CA server itself serves the certificate the MSPs hold (so they did not come from cryptogen).
ca_serves() { # ORG MSP_CACERT
  curl -sf --cacert "$2" "https://127.0.0.1:$(ca_port "$1")/api/v1/cainfo" | jq -r .result.CAChain | base64 -d |
    openssl x509 -noout -fingerprint | cmp -s - <(openssl x509 -in "$2" -noout -fingerprint)
}
env_lists_channel() { # ORG IDENTITY
  (eval "$("$NET" env "$1" "$2")" && peer channel list 2>/dev/null | grep -qx "$CHANNEL")
}

if ! "$NET" up --ca >"$work/up.log" 2>&1 || ! "$NET" deploy >>"$work/up.log" 2>&1; then
  cat "$work/up.log"
  check "network up with --ca and chaincode deployed" false
  exit 1
fi
check "network up with --ca (CA servers on ports $(ca_port Org1), $(ca_port Org2), $(ca_port Orderer)) and chaincode deployed" true

check "Org1's CA server serves the CA certificate in Org1's MSP" ca_serves Org1 "$ORG1/msp/cacerts/ca.org1.example.com-cert.pem"
check "the orderers' CA server serves the CA certificate in OrdererMSP" ca_serves Orderer "$ORDERERS/msp/cacerts/ca.example.com-cert.pem"
check "peer0.org1's identity: issued by ca.org1.example.com, OU=peer" \
  cert_is "$ORG1/peers/peer0.org1.example.com/msp/signcerts/peer0.org1.example.com-cert.pem" ca.org1.example.com peer
check "peer0.org2's identity: issued by ca.org2.example.com, OU=peer" \
  cert_is "$ORG2/peers/peer0.org2.example.com/msp/signcerts/peer0.org2.example.com-cert.pem" ca.org2.example.com peer
check "orderer0's identity: issued by ca.example.com, OU=orderer" \
  cert_is "$ORDERERS/orderers/orderer0.example.com/msp/signcerts/orderer0.example.com-cert.pem" ca.example.com orderer
check "peer0.org1's TLS certificate: from Org1's CA, SANs host name, localhost, 127.0.0.1, $(hostname)" \
  tls_cert_is "$ORG1/peers/peer0.org1.example.com/tls/server.crt" ca.org1.example.com peer peer0.org1.example.com
check "orderer0's TLS certificate: from the orderers' CA, same SANs" \
  tls_cert_is "$ORDERERS/orderers/orderer0.example.com/tls/server.crt" ca.example.com orderer orderer0.example.com
check "the chaincode server's TLS certificate: from Org1's CA, same SANs" \
  tls_cert_is "$ORG1/peers/chaincode.org1.example.com/tls/server.crt" ca.org1.example.com client chaincode.org1.example.com
check "Org1's admin: OU=admin with the attribute sf2c.registry.admin=true" \
  user_cert_is "$ORG1/users/Admin@org1.example.com/msp/signcerts/Admin@org1.example.com-cert.pem" ca.org1.example.com admin with
check "Org1's plain client: OU=client without the attribute" \
  user_cert_is "$ORG1/users/User1@org1.example.com/msp/signcerts/User1@org1.example.com-cert.pem" ca.org1.example.com client without
check "network.sh env Org1 admin: Fabric's peer CLI lists channel $CHANNEL" env_lists_channel Org1 admin
check "network.sh env Org2 client: Fabric's peer CLI lists channel $CHANNEL" env_lists_channel Org2 client

check "Org1's admin (network.json 'admin') registers a device" register_as Org1 admin admin
check "... and it is on the ledger" on_ledger admin
check "Org1's registry operator from up (Operator1, client + attribute) registers a device" \
  register_as Org1 "$ORG1/users/Operator1@org1.example.com/msp" operator1
check "Org1's plain client (network.json 'client') is refused by the contract" refused Org1 client client "$REFUSAL"

op=$("$NET" enrol-operator Org1 "op-$$" 2>"$work/enrol.err")
check "enrol-operator Org1 prints the new operator's MSP folder" test -f "$op/signcerts/op-$$@org1.example.com-cert.pem"
check "... a client-type identity with the attribute" \
  user_cert_is "$op/signcerts/op-$$@org1.example.com-cert.pem" ca.org1.example.com client with
check "... that registers a device" register_as Org1 "$op" operator
check "... and it is on the ledger" on_ledger operator
op2=$("$NET" enrol-operator Org2 "op-$$" 2>>"$work/enrol.err")
check "an operator enrolled for Org2 registers a device through Org2's peer" register_as Org2 "$op2" operator2
plain=$("$NET" enrol-operator Org1 "plain-$$" --no-attribute 2>>"$work/enrol.err")
check "enrol-operator --no-attribute: OU=client, no attribute" \
  user_cert_is "$plain/signcerts/plain-$$@org1.example.com-cert.pem" ca.org1.example.com client without
check "... is refused by the contract" refused Org1 "$plain" plain "$REFUSAL"
check "enrol-operator refuses a name already enrolled" enrol_refuses_duplicate

# A client whose affiliation is named "admin": Fabric CA puts OU=admin beside OU=client.
ca() { "$FABRIC_BIN/fabric-ca-client" "$@" --tls.certfiles "$(ca_home Org1)/ca-cert.pem"; }
FABRIC_BIN=$(scripts/install-fabric.sh --print-bin)
registrar=(-H "$(ca_home Org1)/registrar" -u "https://127.0.0.1:$(ca_port Org1)")
name="aff-$$"
if ! { ca affiliation add admin "${registrar[@]}" &&
  ca register "${registrar[@]}" --id.name "$name" --id.type client --id.affiliation admin --id.secret "s$$" &&
  ca enroll -H "$work/aff.home" -u "https://$name:s$$@127.0.0.1:$(ca_port Org1)" -M "$work/aff-msp"; } >"$work/aff.log" 2>&1; then
  cat "$work/aff.log"
fi
aff_cert=$work/aff-msp/signcerts/cert.pem
check "a client registered under affiliation 'admin' gets OU=admin and OU=client" two_role_ous "$aff_cert"
check "... its write is refused (Fabric's MSP denies the identity before the contract runs)" \
  refused Org1 "$work/aff-msp" affiliation 'access denied'
check "... the peer's log names the reason: two NodeOU roles" \
  grep -q "not a combination of them.*CN=$name" "$RUN/logs/peer0.org1.example.com.log"
[ "$failed" -eq 0 ]
