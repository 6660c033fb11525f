# shellcheck shell=bash
# Device steps of the demo: key generation, registration on the ledger, enrolment at the VPN
# Centre, and the gateways' configuration files. Needs BIN, RUN, REGISTRY (array), CENTRE_DATA,
# CENTRE_URL set by scripts/demo.

next_placeholder_ip=1

# new_device DIR ROLE [KEYDIR]: keygen into DIR (or KEYDIR), prints the UUID.
new_device() {
  local dir=$1 role=$2
  mkdir -p "$dir"
  "$BIN/edge-gateway" keygen --out "$dir" --role "$role" >/dev/null
  jq -r .uuid "$dir/enrolment.json"
}

# register DIR: registers DIR's enrolment.json as the Org1 admin at a placeholder virtual IP
# (enrolment replaces it with the centre's lease).
register() {
  local dir=$1 out tries=0 ip
  ip="10.99.0.$next_placeholder_ip"
  next_placeholder_ip=$((next_placeholder_ip + 1))
  # On Fabric the first submit may come before the peers found each other through gossip; retry briefly.
  until out=$("${REGISTRY[@]}" register --enrolment "$dir/enrolment.json" --virtual-ip "$ip" 2>&1); do
    tries=$((tries + 1))
    if [ "$tries" -ge 30 ] || ! grep -qi 'endorsement policy\|no combination of peers' <<<"$out"; then
      echo "$out" >&2
      echo "demo: registering the device in $dir failed (output above)" >&2
      exit 1
    fi
    sleep 1
  done
}

# enrol DIR UUID: one-time token from the centre's PKI, a fresh P-256 TLS key, POST /v1/enrol;
# leaves DIR/tls-key.pem, DIR/tls/cert.pem and DIR/tls/ca.pem.
enrol() {
  local dir=$1 uuid=$2 token
  token=$("$BIN/vpn-centre" token issue "$uuid" --ttl 30m --data-dir "$CENTRE_DATA" 2>/dev/null) ||
    { echo "demo: issuing an enrolment token for $uuid failed; see vpn-centre token issue --help" >&2; exit 1; }
  # umask 077: the key is never readable by others, not even between creation and chmod.
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/tls-key.pem" 2>/dev/null)
  chmod 600 "$dir/tls-key.pem"
  mkdir -p "$dir/tls"
  # The token goes through stdin (printf is a builtin), never into argv where `ps` shows it.
  if ! printf '%s\n' "$token" | "$BIN/vpn-centre" enrol --url "$CENTRE_URL" --token-file - --uuid "$uuid" \
    --key-pem "$dir/tls-key.pem" --out "$dir/tls" >"$dir/enrol.log" 2>&1; then
    cat "$dir/enrol.log" >&2
    echo "demo: enrolment of $uuid at $CENTRE_URL failed (output above)" >&2
    exit 1
  fi
}

# gateway_config DIR UUID SIGNING_KEY QUEUE VALIDATOR_URL...: writes DIR/NAME.toml for `edge-gateway
# run` with the weather sensor; prints its path. QUEUE names the queue file (and the config).
gateway_config() {
  local dir=$1 uuid=$2 key=$3 queue=$4
  shift 4
  local list="" url
  for url in "$@"; do
    list="$list${list:+, }\"$url\""
  done
  cat >"$dir/$queue.toml" <<TOML
device_uuid = "$uuid"
key_path = "$key"
validators = [$list]
ca_path = "$dir/tls/ca.pem"
client_cert_path = "$dir/tls/cert.pem"
client_key_path = "$dir/tls-key.pem"
queue_path = "$dir/$queue.sqlite3"
batch_size = 20
backoff_max_ms = 2000

[sensor]
kind = "weather"
interval_ms = 500
TOML
  echo "$dir/$queue.toml"
}
