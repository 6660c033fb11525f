//! Compiles the Fabric wire schemas in `proto/` with protox (no system protoc)
//! and generates prost messages plus tonic client and server stubs.

const PROTOS: &[&str] = &[
    "common/common.proto",
    "common/policies.proto",
    "common/ledger.proto",
    "msp/identities.proto",
    "msp/msp_principal.proto",
    "peer/chaincode.proto",
    "peer/chaincode_event.proto",
    "peer/chaincode_shim.proto",
    "peer/peer.proto",
    "peer/proposal.proto",
    "peer/proposal_response.proto",
    "peer/transaction.proto",
    "orderer/ab.proto",
    "gateway/gateway.proto",
    "ledger/queryresult/kv_query_result.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(PROTOS, ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // No `connect` constructors: `protos.Chaincode` has an rpc named Connect
        // and the two would clash. Callers build a Channel and use `new`.
        .build_transport(false)
        .emit_rerun_if_changed(false)
        .compile_fds(fds)?;
    Ok(())
}
