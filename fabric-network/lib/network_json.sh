# Writes run/network.json, the network description our Rust tools read (crates/fabric-client/README.md).
# shellcheck shell=bash

# write_network_json DIR ORDERER_COUNT: paths inside are relative to DIR, which holds crypto/.
write_network_json() {
  local dir=$1 orderers=$2 org d i sep out
  out="$dir/network.json"
  {
    printf '{\n  "channel": "%s",\n  "chaincode": "%s",\n  "organizations": [\n' "$CHANNEL" "$CC_NAME"
    sep=''
    for org in "${ORGS[@]}"; do
      d=$(org_domain "$org")
      printf '%s    {\n' "$sep"
      printf '      "name": "%s",\n      "msp_id": "%s",\n' "$org" "$(org_msp "$org")"
      printf '      "peers": [\n        { "endpoint": "127.0.0.1:%s",\n' "$(org_peer_port "$org")"
      printf '          "tls_root_cert": "crypto/peerOrganizations/%s/tlsca/tlsca.%s-cert.pem",\n' "$d" "$d"
      printf '          "tls_host_name": "peer0.%s" }\n      ],\n' "$d"
      printf '      "admin": { "msp_dir": "crypto/peerOrganizations/%s/users/Admin@%s/msp" },\n' "$d" "$d"
      printf '      "client": { "msp_dir": "crypto/peerOrganizations/%s/users/User1@%s/msp" }\n' "$d" "$d"
      printf '    }'
      sep=$',\n'
    done
    printf '\n  ],\n  "orderers": [\n'
    sep=''
    for ((i = 0; i < orderers; i++)); do
      printf '%s    { "endpoint": "127.0.0.1:%s",\n' "$sep" "$(orderer_port "$i")"
      printf '      "tls_root_cert": "crypto/ordererOrganizations/example.com/tlsca/tlsca.example.com-cert.pem",\n'
      printf '      "tls_host_name": "%s" }' "$(orderer_host "$i")"
      sep=$',\n'
    done
    printf '\n  ]\n}\n'
  } >"$out.tmp"
  mv "$out.tmp" "$out"
}
