# Tests of network.sh that need no Fabric: syntax, arguments, clear refusals, PID-exact shutdown, env.
# shellcheck shell=bash source-path=SCRIPTDIR
# shellcheck disable=SC2030,SC2031 # environment set inside subshells on purpose

NET="$FN_DIR/network.sh"

scripts() {
  echo "$NET" "$FN_DIR"/lib/*.sh "$FN_DIR/ccaas-package" "$FN_DIR"/builder/bin/* "$TESTS_DIR"/*.sh \
    "$TESTS_DIR"/live/*.sh "$FN_DIR/../scripts/demo"
}

test_every_script_parses() {
  local f
  for f in $(scripts); do bash -n "$f" || fail "bash -n $f failed" || return 1; done
}

test_shellcheck_is_clean() {
  command -v shellcheck >/dev/null || { echo "shellcheck not installed (apt-get install shellcheck)"; return 77; }
  shellcheck -x "$NET" "$FN_DIR/ccaas-package" "$FN_DIR"/builder/bin/* "$TESTS_DIR"/*.sh "$TESTS_DIR"/live/*.sh \
    "$FN_DIR/../scripts/demo"
}

test_help_lists_the_commands() {
  out=$("$NET" --help) || return 1
  for c in up deploy status env enrol-operator --no-attribute down --consensus --batch-timeout --ca --cryptogen SF2C_PORT_OFFSET; do
    grep -q -- "$c" <<<"$out" || fail "--help does not mention $c" || return 1
  done
}

test_unknown_commands_and_options_are_refused() {
  expect_fail "unknown command 'restart'" "$NET" restart || return 1
  expect_fail "unknown option '--orgs' for up" "$NET" up --orgs 3 || return 1
  expect_fail "unknown consensus 'pbft'" "$NET" up --consensus pbft || return 1
  expect_fail "batch timeout '250' is not a positive duration" "$NET" up --batch-timeout 250 || return 1
  expect_fail "batch timeout '0ms' is not a positive duration" "$NET" up --batch-timeout 0ms || return 1
  expect_fail "--batch-timeout needs a duration" "$NET" up --batch-timeout || return 1
  expect_fail "down takes no options" "$NET" down --force || return 1
  expect_fail "usage: network.sh enrol-operator" "$NET" enrol-operator Org1 || return 1
  expect_fail "usage: network.sh enrol-operator" "$NET" enrol-operator Org1 op --frobnicate || return 1
  expect_fail "SF2C_PORT_OFFSET 'abc' is not a whole number" env SF2C_PORT_OFFSET=abc "$NET" status || return 1
  expect_fail "SF2C_PORT_OFFSET '60000' is not a whole number from 0 to 55000" env SF2C_PORT_OFFSET=60000 "$NET" status || return 1
  expect_fail "Usage:" "$NET"
}

test_up_without_fabric_names_the_install_script() {
  mkdir empty-fabric
  expect_fail "run scripts/install-fabric.sh first" \
    env SF2C_FABRIC_HOME="$WORK/empty-fabric" SF2C_RUN_DIR="$WORK/run" "$NET" up || return 1
  [ ! -e "$WORK/run" ] || fail "a refused up still created its run directory"
}

test_commands_needing_a_network_say_so() {
  expect_fail "the network is not up" env SF2C_RUN_DIR="$WORK/run" "$NET" deploy || return 1
  expect_fail "the network is not up" env SF2C_RUN_DIR="$WORK/run" "$NET" env Org1 admin || return 1
  expect_fail "unknown organisation 'Org3'" env SF2C_RUN_DIR="$WORK/run" "$NET" env Org3 || return 1
  expect_fail "unknown identity 'root'" env SF2C_RUN_DIR="$WORK/run" "$NET" env Org1 root || return 1
  expect_fail "the network is not up" env SF2C_RUN_DIR="$WORK/run" "$NET" enrol-operator Org1 op || return 1
  expect_fail "unknown organisation 'Org3'" env SF2C_RUN_DIR="$WORK/run" "$NET" enrol-operator Org3 op || return 1
  expect_fail "operator name 'a/b' is not valid" env SF2C_RUN_DIR="$WORK/run" "$NET" enrol-operator Org1 a/b || return 1
  out=$(SF2C_RUN_DIR="$WORK/run" "$NET" status) || fail "status failed: $out" || return 1
  grep -q "not up" <<<"$out" || fail "status: $out" || return 1
  out=$(SF2C_RUN_DIR="$WORK/run" "$NET" down) || fail "down failed: $out" || return 1
  grep -q "nothing to stop" <<<"$out" || fail "down: $out"
}

test_down_stops_exactly_the_recorded_pids() {
  local ours theirs ca
  mkdir -p run/pids run/logs
  sleep 300 & ours=$!
  sleep 300 & theirs=$!
  sleep 300 & ca=$!
  printf '%s sleep\n' "$ours" >run/pids/peer0.org1.example.com.pid
  printf '%s sleep\n' "$ca" >run/pids/ca.org1.example.com.pid
  # A recorded PID that now belongs to another program must be left alone.
  printf '%s peer\n' "$theirs" >run/pids/peer0.org2.example.com.pid
  printf 'CONSENSUS=raft\nORDERERS=1\nBATCH_TIMEOUT=250ms\n' >run/state.env
  status=$(SF2C_RUN_DIR="$WORK/run" "$NET" status)
  out=$(SF2C_RUN_DIR="$WORK/run" "$NET" down)
  rc=$?
  sleep 0.2
  ours_alive=0; kill -0 "$ours" 2>/dev/null && ours_alive=1
  theirs_alive=0; kill -0 "$theirs" 2>/dev/null && theirs_alive=1
  ca_alive=0; kill -0 "$ca" 2>/dev/null && ca_alive=1
  kill "$ours" "$theirs" "$ca" 2>/dev/null
  wait "$ours" "$theirs" "$ca" 2>/dev/null
  [ "$rc" -eq 0 ] || fail "down failed: $out" || return 1
  grep -q "peer0.org1.example.com.*running" <<<"$status" || fail "status did not show the running process: $status" || return 1
  grep -q "peer0.org2.example.com.*STOPPED" <<<"$status" || fail "status did not flag the foreign PID: $status" || return 1
  [ "$ours_alive" -eq 0 ] || fail "down left the recorded process running" || return 1
  [ "$ca_alive" -eq 0 ] || fail "down left the recorded CA server running" || return 1
  [ "$theirs_alive" -eq 1 ] || fail "down killed a process whose name did not match its record" || return 1
  [ ! -e run ] || fail "down did not remove the run directory"
}

test_env_prints_exports_for_the_identity() {
  out=$(
    export SF2C_RUN_DIR="$WORK/run"
    # shellcheck source=../lib/common.sh
    . "$FN_DIR/lib/common.sh"
    # shellcheck source=../lib/peer_env.sh
    . "$FN_DIR/lib/peer_env.sh"
    # shellcheck disable=SC2034 # read by print_env
    FABRIC_BIN="/opt/fabric bin"
    print_env Org2 client
  ) || return 1
  (
    PATH=/usr/bin:/bin
    eval "$out"
    [ "${PATH%%:*}" = "/opt/fabric bin" ] || fail "PATH does not start with the Fabric bin dir: $PATH" || exit 1
    [ "$CORE_PEER_LOCALMSPID" = Org2MSP ] || fail "MSP ID $CORE_PEER_LOCALMSPID" || exit 1
    [ "$CORE_PEER_ADDRESS" = 127.0.0.1:9051 ] || fail "address $CORE_PEER_ADDRESS" || exit 1
    [ "$CORE_PEER_TLS_ENABLED" = true ] || exit 1
    [[ $CORE_PEER_MSPCONFIGPATH == "$WORK/run/crypto/peerOrganizations/org2.example.com/users/User1@org2.example.com/msp" ]] ||
      fail "client MSP $CORE_PEER_MSPCONFIGPATH" || exit 1
    [[ $CORE_PEER_TLS_ROOTCERT_FILE == */tlsca/tlsca.org2.example.com-cert.pem ]] || fail "TLS root $CORE_PEER_TLS_ROOTCERT_FILE" || exit 1
    [ "$FABRIC_CFG_PATH" = "$WORK/run/peers/peer0.org2.example.com" ] || fail "FABRIC_CFG_PATH $FABRIC_CFG_PATH"
  )
}

test_enrol_operator_needs_a_ca_network() {
  mkdir -p run
  printf 'CONSENSUS=raft\nORDERERS=1\nBATCH_TIMEOUT=250ms\n' >run/state.env
  expect_fail "enrol-operator needs a network whose identities come from Fabric CA" \
    env SF2C_RUN_DIR="$WORK/run" "$NET" enrol-operator Org1 op || return 1
  printf 'CRYPTO_MODE=cryptogen\n' >>run/state.env
  expect_fail "this one uses cryptogen" env SF2C_RUN_DIR="$WORK/run" "$NET" enrol-operator Org2 op --no-attribute
}

test_port_offset_moves_the_peer_cli_environment() {
  out=$(
    export SF2C_RUN_DIR="$WORK/run" SF2C_PORT_OFFSET=3000
    # shellcheck source=../lib/common.sh
    . "$FN_DIR/lib/common.sh"
    # shellcheck source=../lib/peer_env.sh
    . "$FN_DIR/lib/peer_env.sh"
    # shellcheck disable=SC2034 # read by print_env
    FABRIC_BIN=/opt/fabric
    print_env Org1 admin
    echo "CC=$CC_ADDRESS"
  ) || return 1
  grep -qx "export CORE_PEER_ADDRESS=127.0.0.1:10051" <<<"$out" || fail "peer address not shifted: $out" || return 1
  grep -qx "export ORDERER_ADDRESS=127.0.0.1:10050" <<<"$out" || fail "orderer address not shifted: $out" || return 1
  grep -qx "CC=127.0.0.1:12999" <<<"$out" || fail "chaincode server address not shifted: $out"
}

test_up_refuses_ports_already_in_use() {
  local listener out
  # The orderer's port under a random offset, held by a plain listener.
  offset=$((30000 + RANDOM % 20000))
  python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("ready", flush=True); time.sleep(60)' $((7050 + offset)) >ready &
  listener=$!
  for _ in $(seq 1 50); do [ -s ready ] && break; sleep 0.1; done
  out=$(
    export SF2C_RUN_DIR="$WORK/run" SF2C_PORT_OFFSET=$offset
    # shellcheck source=../lib/common.sh
    . "$FN_DIR/lib/common.sh"
    # shellcheck source=../lib/up.sh
    . "$FN_DIR/lib/up.sh"
    ports_free 1 1 2>&1
  )
  rc=$?
  kill "$listener" 2>/dev/null
  wait "$listener" 2>/dev/null
  [ "$rc" -ne 0 ] || fail "ports_free accepted a port in use" || return 1
  grep -q "port $((7050 + offset)) (orderer0.example.com) is already in use" <<<"$out" || fail "ports_free said: $out"
}
