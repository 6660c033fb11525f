# Tests of the configuration templates (rendered as network.sh renders them) and of network.json.
# shellcheck shell=bash source-path=SCRIPTDIR
# shellcheck disable=SC2030,SC2031,SC2016 # environment set inside subshells on purpose; $FN_DIR in bash -c is expanded by that shell

# render_all [OUT]: renders every template into $WORK/OUT (default out) the way `up` and `up --ca`
# do, with the BFT orderer count and the caller's SF2C_PORT_OFFSET.
render_all() (
  out="$WORK/${1:-out}"
  export SF2C_RUN_DIR="$WORK/run"
  # shellcheck source=../lib/common.sh
  . "$FN_DIR/lib/common.sh"
  # shellcheck source=../lib/ca.sh
  . "$FN_DIR/lib/ca.sh"
  mkdir -p "$out"
  configtx_ports
  render "$FN_DIR/config/configtx.yaml.tmpl" "$out/configtx.yaml" \
    "CRYPTO=$RUN_DIR/crypto" "BATCH_TIMEOUT=250ms" "BATCH_MAX_COUNT=100" "${CONFIGTX_PORTS[@]}" || exit 1
  for i in 0 1 2 3; do
    render "$FN_DIR/config/orderer.yaml.tmpl" "$out/orderer$i.yaml" "PORT=$(orderer_port "$i")" \
      "ADMIN_PORT=$(orderer_admin_port "$i")" "OPS_PORT=$(orderer_ops_port "$i")" "NODE=/n$i" "TLSCA=/ca" \
      "DATA=/d$i" || exit 1
  done
  for org in Org1 Org2; do
    render "$FN_DIR/config/core.yaml.tmpl" "$out/core-$org.yaml" "PEER_NAME=$(org_peer_host "$org")" \
      "MSP_ID=$(org_msp "$org")" "NODE=/n" "DATA=/d" "BUILDER=$FN_DIR/builder" "PORT=$(org_peer_port "$org")" \
      "CC_PORT=$(org_cc_port "$org")" "OPS_PORT=$(org_ops_port "$org")" || exit 1
  done
  for org in "${CA_ORGS[@]}"; do ca_config "$org" "$out/ca-$org.yaml" secret || exit 1; done
  echo "${CC_ADDRESS##*:}" >"$out/chaincode.port"
)

test_render_refuses_a_missing_value() {
  expect_fail "no value given for \${BATCH_MAX_COUNT}" bash -c '
    . "$FN_DIR/lib/common.sh"
    render "$FN_DIR/config/configtx.yaml.tmpl" "$WORK/x.yaml" CRYPTO=/c BATCH_TIMEOUT=1s'
}

test_rendered_configs_hold_the_settings_that_matter() {
  have_yaml || { echo "python3 has no yaml module"; return 77; }
  render_all || return 1
  python3 - "$WORK/out" "$FN_DIR" <<'PY'
import os, sys, yaml
out, fn = sys.argv[1], sys.argv[2]
load = lambda name: yaml.safe_load(open(os.path.join(out, name)))

peers = [load("core-Org1.yaml"), load("core-Org2.yaml")]
ports = []
for core in peers:
    p = core["peer"]
    assert core["vm"]["endpoint"] in (None, ""), "vm.endpoint must be empty"
    b = core["chaincode"]["externalBuilders"][0]["path"]
    assert all(os.access(os.path.join(b, "bin", s), os.X_OK) for s in ("detect", "build", "release")), b
    assert p["gossip"]["externalEndpoint"] == p["address"], "gossip.externalEndpoint must be the peer's address"
    assert p["tls"]["enabled"] is True and core["operations"]["tls"]["enabled"] is True
    assert core["ledger"]["history"]["enableHistoryDatabase"] is True
    assert p["handlers"]["endorsers"]["escc"]["name"] == "DefaultEndorsement"
    ports += [p["listenAddress"], p["chaincodeListenAddress"], core["operations"]["listenAddress"]]
    assert all(a.startswith("127.0.0.1:") for a in ports)

orderers = [load("orderer%d.yaml" % i) for i in range(4)]
for o in orderers:
    assert o["General"]["TLS"]["Enabled"] is True and o["General"]["BootstrapMethod"] == "none"
    assert o["Admin"]["TLS"]["ClientAuthRequired"] is True, "Fabric refuses admin TLS without client auth"
    assert o["General"]["ListenAddress"] == "127.0.0.1"
    ports += ["127.0.0.1:%s" % o["General"]["ListenPort"], o["Admin"]["ListenAddress"], o["Operations"]["ListenAddress"]]
for org in ("Org1", "Org2", "Orderer"):
    ca = load("ca-%s.yaml" % org)
    assert ca["address"] == "127.0.0.1" and ca["tls"]["enabled"] is True, org
    assert ca["affiliations"] == {}, "no affiliations: a certificate's only OU is its type"
    assert {"server auth", "client auth"} <= set(ca["signing"]["profiles"]["tls"]["usage"])
    assert ca["registry"]["identities"][0]["pass"] == "secret"
    assert {"localhost", "127.0.0.1", ca["csr"]["cn"]} <= set(ca["csr"]["hosts"])
    ports += ["127.0.0.1:%s" % ca["port"], ca["operations"]["listenAddress"]]
ports.append("127.0.0.1:" + open(os.path.join(out, "chaincode.port")).read().strip())
assert all(a.startswith("127.0.0.1:") for a in ports)
assert len(ports) == len(set(ports)), "two endpoints share a port: %s" % sorted(ports)

tx = load("configtx.yaml")
bft = tx["Profiles"]["SF2CBFT"]
assert bft["Capabilities"] == {"V3_0": True}
o = bft["Orderer"]
assert o["OrdererType"] == "BFT" and "Addresses" not in o
fields = {"RequestBatchMaxCount", "RequestBatchMaxBytes", "RequestBatchMaxInterval", "IncomingMessageBufferSize",
          "RequestPoolSize", "RequestForwardTimeout", "RequestComplainTimeout", "RequestAutoRemoveTimeout",
          "RequestMaxBytes", "ViewChangeResendInterval", "ViewChangeTimeout", "LeaderHeartbeatTimeout",
          "LeaderHeartbeatCount", "CollectTimeout", "SyncOnStart", "SpeedUpViewChange", "LeaderRotation",
          "DecisionsPerLeader"}
assert set(o["SmartBFT"]) == fields, set(o["SmartBFT"]) ^ fields
assert type(o["SmartBFT"]["LeaderRotation"]) is int
assert [c["ID"] for c in o["ConsenterMapping"]] == [1, 2, 3, 4]
assert all(c["Identity"].endswith("-cert.pem") and c["MSPID"] == "OrdererMSP" for c in o["ConsenterMapping"])
assert len(o["Organizations"][0]["OrdererEndpoints"]) == 4 and o["BatchTimeout"] == "250ms"
raft = tx["Profiles"]["SF2CRaft"]["Orderer"]
assert raft["OrdererType"] == "etcdraft" and len(raft["EtcdRaft"]["Consenters"]) == 1
assert raft["Organizations"][0]["OrdererEndpoints"] == ["127.0.0.1:7050"]
app = tx["Profiles"]["SF2CRaft"]["Application"]
assert app["Policies"]["Endorsement"]["Rule"] == "MAJORITY Endorsement"
assert [(org["ID"], org["AnchorPeers"][0]["Port"]) for org in app["Organizations"]] == [("Org1MSP", 7051), ("Org2MSP", 9051)]

cc = yaml.safe_load(open(os.path.join(fn, "config", "crypto-config.yaml")))
for org in cc["OrdererOrgs"] + cc["PeerOrgs"]:
    assert org["EnableNodeOUs"] is True, org["Name"]
    for spec in org.get("Specs", []) + ([org["Template"]] if "Template" in org else []):
        assert {"localhost", "127.0.0.1"} <= set(spec["SANS"]), org["Name"]
PY
}

test_network_json_matches_the_client_format() {
  (
    export SF2C_RUN_DIR="$WORK/run"
    # shellcheck source=../lib/common.sh
    . "$FN_DIR/lib/common.sh"
    # shellcheck source=../lib/network_json.sh
    . "$FN_DIR/lib/network_json.sh"
    mkdir -p "$WORK/raft" "$WORK/bft"
    write_network_json "$WORK/raft" 1 && write_network_json "$WORK/bft" 4
  ) || return 1
  python3 -m json.tool "$WORK/raft/network.json" >/dev/null || fail "network.json is not JSON" || return 1
  python3 - "$WORK/raft/network.json" "$WORK/bft/network.json" <<'PY'
import json, sys
endpoint = {"endpoint", "tls_root_cert", "tls_host_name"}
for path, orderers in ((sys.argv[1], 1), (sys.argv[2], 4)):
    n = json.load(open(path))
    assert set(n) == {"channel", "chaincode", "organizations", "orderers"}, set(n)
    assert n["channel"] == "sf2c" and n["chaincode"] == "device-registry"
    assert [o["name"] for o in n["organizations"]] == ["Org1", "Org2"]
    for org in n["organizations"]:
        assert set(org) == {"name", "msp_id", "peers", "admin", "client"}, set(org)
        assert org["msp_id"] == org["name"] + "MSP"
        for p in org["peers"]:
            assert set(p) == endpoint and p["endpoint"].startswith("127.0.0.1:")
            assert not p["tls_root_cert"].startswith("/")
        assert org["admin"]["msp_dir"].endswith("/users/Admin@%s.example.com/msp" % org["name"].lower())
        assert org["client"]["msp_dir"].endswith("/users/User1@%s.example.com/msp" % org["name"].lower())
    assert len(n["orderers"]) == orderers and all(set(o) == endpoint for o in n["orderers"])
    assert len({o["endpoint"] for o in n["orderers"]}) == orderers
PY
}

test_port_offset_shifts_every_port() {
  have_yaml || { echo "python3 has no yaml module"; return 77; }
  render_all out0 && SF2C_PORT_OFFSET=20000 render_all out1 || return 1
  (
    export SF2C_RUN_DIR="$WORK/run" SF2C_PORT_OFFSET=20000
    # shellcheck source=../lib/common.sh
    . "$FN_DIR/lib/common.sh"
    # shellcheck source=../lib/network_json.sh
    . "$FN_DIR/lib/network_json.sh"
    write_network_json "$WORK/out1" 4
  ) || return 1
  python3 - "$WORK/out0" "$WORK/out1" <<'PY'
import glob, os, re, sys, yaml

def ports(out):
    load = lambda name: yaml.safe_load(open(os.path.join(out, name)))
    num = lambda addr: int(str(addr).rsplit(":", 1)[-1])
    found = []
    for org in ("Org1", "Org2"):
        c = load("core-%s.yaml" % org)
        p = c["peer"]
        found += [num(a) for a in (p["listenAddress"], p["chaincodeListenAddress"], p["chaincodeAddress"], p["address"],
                                   p["gossip"]["bootstrap"], p["gossip"]["endpoint"], p["gossip"]["externalEndpoint"],
                                   c["operations"]["listenAddress"])]
    for i in range(4):
        o = load("orderer%d.yaml" % i)
        found += [o["General"]["ListenPort"], num(o["Admin"]["ListenAddress"]), num(o["Operations"]["ListenAddress"])]
    tx = load("configtx.yaml")["Profiles"]
    for profile in tx.values():
        found += [num(e) for org in profile["Orderer"]["Organizations"] for e in org["OrdererEndpoints"]]
        found += [org["AnchorPeers"][0]["Port"] for org in profile["Application"]["Organizations"]]
    found += [c["Port"] for c in tx["SF2CRaft"]["Orderer"]["EtcdRaft"]["Consenters"]]
    found += [c["Port"] for c in tx["SF2CBFT"]["Orderer"]["ConsenterMapping"]]
    for org in ("Org1", "Org2", "Orderer"):
        ca = load("ca-%s.yaml" % org)
        found += [ca["port"], num(ca["operations"]["listenAddress"])]
    return found + [int(open(os.path.join(out, "chaincode.port")).read())]

base, shifted = ports(sys.argv[1]), ports(sys.argv[2])
assert {7050, 7051, 9051, 9999, 7054, 8054, 9054} <= set(base), sorted(set(base))
assert shifted == [p + 20000 for p in base], list(zip(base, shifted))
# No default port is left anywhere in the shifted files, network.json included.
text = "".join(open(f).read() for f in glob.glob(os.path.join(sys.argv[2], "*")))
left = sorted(p for p in set(base) if re.search(r"\b%d\b" % p, text))
assert not left, "ports not shifted: %s" % left
PY
}
