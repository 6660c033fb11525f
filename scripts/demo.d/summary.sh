# shellcheck shell=bash
# The demo's live summary: each validator's counters from its ops /metrics, the cloud sink's rows
# and the VPN Centre's warnings (both read over mutual TLS with the demo's operator-tools
# certificate). Needs BIN, VALIDATOR_OPS (array "name port"), SINK_URL, CENTRE_MTLS_URL, TOOLS.

# validator_line NAME PORT: "fog-1 accepted=12 refused: 1004=3 tls-refused=2" from the validator's
# metrics (tls-refused: handshakes refused plus live connections closed, e.g. after a revocation).
validator_line() {
  local name=$1 port=$2 metrics
  if ! metrics=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/metrics" 2>/dev/null); then
    echo "  $name  (metrics unreachable on 127.0.0.1:$port)"
    return
  fi
  awk -v name="$name" '
    /^fog_validator_accepted_total / { accepted = $2 }
    /^fog_validator_refused_total\{/ {
      match($0, /code="[^"]*"/); code = substr($0, RSTART + 6, RLENGTH - 7)
      refused = refused " " code "=" $2
    }
    /^fog_validator_tls_handshake_failures_total / { tls += $2 }
    /^fog_validator_revoked_connections_closed_total / { tls += $2 }
    END { printf "  %-6s accepted=%d refused:%s tls-refused=%d\n", name, accepted, (refused == "" ? " none" : refused), tls }
  ' <<<"$metrics"
}

# print_summary: one block of the live summary.
print_summary() {
  local entry rows warnings
  echo "[$(date +%H:%M:%S)] summary"
  for entry in "${VALIDATOR_OPS[@]}"; do
    # shellcheck disable=SC2086 # entry is "name port"
    validator_line $entry
  done
  rows=$("$BIN/cloud-sink" counts --sink "$SINK_URL" --ca "$TOOLS/ca.pem" --cert "$TOOLS/cert.pem" \
    --key "$TOOLS/key.pem" 2>/dev/null | jq -r .total 2>/dev/null) || rows="?"
  warnings=$("$BIN/vpn-centre" warnings --url "$CENTRE_MTLS_URL" --ca "$TOOLS/ca.pem" \
    --cert "$TOOLS/cert.pem" --key "$TOOLS/key.pem" count 2>/dev/null) || warnings="?"
  echo "  sink rows=${rows:-?}  centre warnings=${warnings:-?}  dashboard $CENTRE_URL/"
}

# accepted_total: messages accepted by all validators together (from their metrics).
accepted_total() {
  local entry name port value sum=0
  for entry in "${VALIDATOR_OPS[@]}"; do
    read -r name port <<<"$entry"
    value=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/metrics" |
      awk '/^fog_validator_accepted_total / { print int($2) }') || return 1
    sum=$((sum + ${value:-0}))
  done
  echo "$sum"
}

# sink_rows: rows the cloud sink holds.
sink_rows() {
  "$BIN/cloud-sink" counts --sink "$SINK_URL" --ca "$TOOLS/ca.pem" --cert "$TOOLS/cert.pem" \
    --key "$TOOLS/key.pem" 2>/dev/null | jq -er .total
}

# drain_sink SECONDS: waits until the sink holds as many rows as the validators accepted.
drain_sink() {
  local end=$((SECONDS + $1)) accepted rows
  while [ "$SECONDS" -lt "$end" ]; do
    accepted=$(accepted_total) && rows=$(sink_rows) && [ "$rows" -ge "$accepted" ] && return 0
    sleep 0.5
  done
  echo "demo: after $1 s the sink holds ${rows:-?} rows for ${accepted:-?} accepted messages" >&2
}

# print_totals: accepted messages against stored rows, once the gateways have stopped.
print_totals() {
  local accepted rows verdict=NO
  accepted=$(accepted_total) || accepted="?"
  rows=$(sink_rows) || rows="?"
  [ "$accepted" = "$rows" ] && verdict=yes
  echo "  accepted messages=$accepted  sink rows=$rows  every accepted message stored: $verdict"
}

# device_rows UUID: rows the sink holds for one device.
device_rows() {
  "$BIN/cloud-sink" counts --sink "$SINK_URL" --ca "$TOOLS/ca.pem" --cert "$TOOLS/cert.pem" \
    --key "$TOOLS/key.pem" 2>/dev/null | jq -er --arg d "$1" '[.devices[] | select(.device == $d) | .rows] | add // 0'
}
