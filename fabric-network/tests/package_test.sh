# Tests of ccaas-package: byte-identical rebuilds, the package ID, and what the peer finds inside.
# shellcheck shell=bash source-path=SCRIPTDIR

PKG="$FN_DIR/ccaas-package"

test_package_rebuild_is_byte_identical() {
  fake_pem ca.pem
  id1=$("$PKG" --label device-registry_1.0 --address 127.0.0.1:9999 --root-cert ca.pem --out a/p.tgz) || return 1
  sleep 1.1
  touch ca.pem
  id2=$(umask 0077 && "$PKG" --label device-registry_1.0 --address 127.0.0.1:9999 --root-cert ca.pem --out b/p.tgz) || return 1
  cmp a/p.tgz b/p.tgz || fail "two builds of the same inputs differ" || return 1
  [ "$id1" = "$id2" ] || fail "package IDs differ: $id1 vs $id2"
}

test_package_id_is_label_and_sha256_of_file() {
  fake_pem ca.pem
  id=$("$PKG" --label device-registry_1.0 --address 127.0.0.1:9999 --root-cert ca.pem --out p.tgz) || return 1
  [ "$id" = "device-registry_1.0:$(sha256sum p.tgz | cut -d' ' -f1)" ] || fail "package ID $id is not label:sha256(file)" || return 1
  # Another address is another package.
  other=$("$PKG" --label device-registry_1.0 --address 127.0.0.1:9998 --root-cert ca.pem --out q.tgz) || return 1
  [ "$other" != "$id" ] || fail "different connection.json gave the same package ID"
}

test_package_contents_are_what_the_peer_expects() {
  fake_pem ca.pem
  "$PKG" --label device-registry_1.0 --address 127.0.0.1:9999 --root-cert ca.pem --out p.tgz >/dev/null || return 1
  [ "$(tar -tzf p.tgz | tr '\n' ' ')" = "metadata.json code.tar.gz " ] || fail "outer entries: $(tar -tzf p.tgz)" || return 1
  listing=$(tar -tvzf p.tgz) || return 1
  grep -qv ' 0/0 ' <<<"$listing" && { fail "an entry is not owned by 0/0: $listing"; return 1; }
  mkdir x && tar -xzf p.tgz -C x && mkdir x/code && tar -xzf x/code.tar.gz -C x/code || return 1
  python3 - x/metadata.json x/code/connection.json ca.pem <<'PY' || return 1
import json, sys
meta = json.load(open(sys.argv[1]))
assert meta == {"type": "ccaas", "label": "device-registry_1.0"}, meta
conn = json.load(open(sys.argv[2]))
assert set(conn) == {"address", "dial_timeout", "tls_required", "client_auth_required", "root_cert"}, conn
assert conn["address"] == "127.0.0.1:9999" and conn["dial_timeout"] == "10s"
assert conn["tls_required"] is True and conn["client_auth_required"] is False
assert conn["root_cert"] == open(sys.argv[3]).read(), "root_cert is not the PEM given"
PY
  # gzip -n: no name and a zero time stamp in the gzip header (bytes 4-7).
  [ "$(od -An -tx1 -j4 -N4 p.tgz | tr -d ' ')" = 00000000 ] || fail "gzip header carries a time stamp"
}

test_package_meta_inf_is_carried() {
  fake_pem ca.pem
  mkdir -p META-INF/statedb/couchdb/indexes && echo '{}' >META-INF/statedb/couchdb/indexes/i.json
  "$PKG" --label l --address 127.0.0.1:1 --root-cert ca.pem --meta-inf META-INF --out p.tgz >/dev/null || return 1
  tar -xzf p.tgz code.tar.gz || return 1
  # List first: grep -q closing the pipe early would make tar fail under pipefail.
  entries=$(tar -tzf code.tar.gz) || return 1
  grep -qx 'META-INF/statedb/couchdb/indexes/i.json' <<<"$entries" || fail "META-INF missing from code.tar.gz: $entries"
}

test_package_flows_through_detect_build_release() {
  fake_pem ca.pem
  "$PKG" --label device-registry_1.0 --address 127.0.0.1:9999 --root-cert ca.pem --out p.tgz >/dev/null || return 1
  mkdir -p md src out rel && tar -xzf p.tgz -C md metadata.json && tar -xzf p.tgz code.tar.gz &&
    tar -xzf code.tar.gz -C src || return 1
  bin="$FN_DIR/builder/bin"
  "$bin/detect" src md && "$bin/build" src md out && "$bin/release" out rel || return 1
  cmp src/connection.json rel/chaincode/server/connection.json
}

test_package_refuses_bad_input() {
  fake_pem ca.pem
  expect_fail "label 'bad label' is not valid" "$PKG" --label 'bad label' --address 127.0.0.1:1 --root-cert ca.pem --out p.tgz || return 1
  expect_fail "address 'nowhere' is not HOST:PORT" "$PKG" --label l --address nowhere --root-cert ca.pem --out p.tgz || return 1
  expect_fail "root certificate missing.pem does not exist" "$PKG" --label l --address 127.0.0.1:1 --root-cert missing.pem --out p.tgz || return 1
  echo hello >plain.txt
  expect_fail "holds no PEM certificate" "$PKG" --label l --address 127.0.0.1:1 --root-cert plain.txt --out p.tgz || return 1
  expect_fail "--label is required" "$PKG" --address 127.0.0.1:1 --root-cert ca.pem --out p.tgz || return 1
  expect_fail "unknown argument '--frobnicate'" "$PKG" --frobnicate || return 1
  [ ! -e p.tgz ] || fail "a refused build still wrote p.tgz"
}
