# Tests of the external builder scripts (builder/bin/detect, build, release) as the peer calls them.
# shellcheck shell=bash source-path=SCRIPTDIR

BIN="$FN_DIR/builder/bin"

test_detect_accepts_ccaas_only() {
  mkdir -p src md
  printf '{"type":"ccaas","label":"device-registry_1.0"}' >md/metadata.json
  "$BIN/detect" src md || fail "detect refused a ccaas package" || return 1
  printf '{\n  "label": "x",\n  "type" : "CCaaS"\n}\n' >md/metadata.json
  "$BIN/detect" src md || fail "detect refused type CCaaS spelled in another case" || return 1
  printf '{"type":"golang","label":"x"}' >md/metadata.json
  expect_fail "not 'ccaas'" "$BIN/detect" src md || return 1
  printf '{"label":"x"}' >md/metadata.json
  expect_fail 'no "type"' "$BIN/detect" src md
}

test_detect_fails_clearly_on_bad_input() {
  mkdir -p src md
  expect_fail "md/metadata.json does not exist" "$BIN/detect" src md || return 1
  expect_fail "expected 2 arguments" "$BIN/detect" src
}

test_build_copies_connection_and_meta_inf() {
  mkdir -p src/META-INF/statedb/couchdb/indexes md out
  echo '{"address":"127.0.0.1:9999","tls_required":true}' >src/connection.json
  echo '{"index":{"fields":["banned"]}}' >src/META-INF/statedb/couchdb/indexes/banned.json
  "$BIN/build" src md out || return 1
  cmp src/connection.json out/connection.json || fail "connection.json differs after build" || return 1
  cmp src/META-INF/statedb/couchdb/indexes/banned.json out/META-INF/statedb/couchdb/indexes/banned.json
}

test_build_fails_clearly_on_bad_input() {
  mkdir -p src md out
  expect_fail "src/connection.json does not exist" "$BIN/build" src md out || return 1
  echo '{"tls_required":true}' >src/connection.json
  expect_fail 'no non-empty "address"' "$BIN/build" src md out || return 1
  echo '{"address":"127.0.0.1:9999"}' >src/connection.json
  expect_fail "build output dir missing-dir does not exist" "$BIN/build" src md missing-dir || return 1
  expect_fail "expected 3 arguments" "$BIN/build" src md
}

test_release_puts_connection_under_chaincode_server() {
  mkdir -p built/META-INF/statedb/couchdb/indexes rel
  echo '{"address":"127.0.0.1:9999"}' >built/connection.json
  echo '{"index":{}}' >built/META-INF/statedb/couchdb/indexes/i.json
  "$BIN/release" built rel || return 1
  cmp built/connection.json rel/chaincode/server/connection.json || return 1
  [ -f rel/statedb/couchdb/indexes/i.json ] || fail "CouchDB index not released"
}

test_release_fails_clearly_on_bad_input() {
  mkdir -p built rel
  expect_fail "built/connection.json does not exist" "$BIN/release" built rel || return 1
  echo '{"address":"127.0.0.1:9999"}' >built/connection.json
  expect_fail "release output dir nowhere does not exist" "$BIN/release" built nowhere || return 1
  expect_fail "expected 2 arguments" "$BIN/release" built
}
