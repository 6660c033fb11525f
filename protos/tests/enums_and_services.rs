//! Enum values and gRPC service names a real peer relies on, checked against Fabric's published numbers.

use sf2c_protos::{common, gateway, peer};

#[test]
fn header_types() {
    use common::HeaderType as H;
    let expected = [
        (H::Message, 0),
        (H::Config, 1),
        (H::ConfigUpdate, 2),
        (H::EndorserTransaction, 3),
        (H::OrdererTransaction, 4),
        (H::DeliverSeekInfo, 5),
        (H::ChaincodePackage, 6),
    ];
    for (variant, number) in expected {
        assert_eq!(variant as i32, number, "{variant:?}");
    }
}

#[test]
fn chaincode_message_types() {
    use peer::chaincode_message::Type as T;
    let expected = [
        ("UNDEFINED", 0),
        ("REGISTER", 1),
        ("REGISTERED", 2),
        ("INIT", 3),
        ("READY", 4),
        ("TRANSACTION", 5),
        ("COMPLETED", 6),
        ("ERROR", 7),
        ("GET_STATE", 8),
        ("PUT_STATE", 9),
        ("DEL_STATE", 10),
        ("INVOKE_CHAINCODE", 11),
        ("RESPONSE", 13),
        ("GET_STATE_BY_RANGE", 14),
        ("GET_QUERY_RESULT", 15),
        ("QUERY_STATE_NEXT", 16),
        ("QUERY_STATE_CLOSE", 17),
        ("KEEPALIVE", 18),
        ("GET_HISTORY_FOR_KEY", 19),
        ("GET_STATE_METADATA", 20),
        ("PUT_STATE_METADATA", 21),
        ("GET_PRIVATE_DATA_HASH", 22),
        ("PURGE_PRIVATE_DATA", 23),
        ("WRITE_BATCH_STATE", 24),
        ("GET_STATE_MULTIPLE", 25),
    ];
    for (name, number) in expected {
        let variant = T::from_str_name(name).unwrap_or_else(|| panic!("no variant {name}"));
        assert_eq!(variant as i32, number, "{name}");
    }
    // 12 is unused in Fabric's numbering
    assert!(T::try_from(12).is_err());
}

#[test]
fn tx_validation_codes() {
    use peer::TxValidationCode as V;
    let expected = [
        ("VALID", 0),
        ("BAD_CREATOR_SIGNATURE", 4),
        ("BAD_PROPOSAL_TXID", 8),
        ("DUPLICATE_TXID", 9),
        ("ENDORSEMENT_POLICY_FAILURE", 10),
        ("MVCC_READ_CONFLICT", 11),
        ("PHANTOM_READ_CONFLICT", 12),
        ("INVALID_CHAINCODE", 25),
        ("NOT_VALIDATED", 254),
        ("INVALID_OTHER_REASON", 255),
    ];
    for (name, number) in expected {
        let variant = V::from_str_name(name).unwrap_or_else(|| panic!("no variant {name}"));
        assert_eq!(variant as i32, number, "{name}");
    }
}

#[test]
fn status_codes() {
    use common::Status as S;
    assert_eq!(S::Success as i32, 200);
    assert_eq!(S::BadRequest as i32, 400);
    assert_eq!(S::Forbidden as i32, 403);
    assert_eq!(S::NotFound as i32, 404);
    assert_eq!(S::ServiceUnavailable as i32, 503);
}

#[test]
fn grpc_service_names_match_fabric() {
    assert_eq!(gateway::gateway_server::SERVICE_NAME, "gateway.Gateway");
    assert_eq!(peer::chaincode_server::SERVICE_NAME, "protos.Chaincode");
    assert_eq!(
        peer::chaincode_support_server::SERVICE_NAME,
        "protos.ChaincodeSupport"
    );
    assert_eq!(peer::endorser_server::SERVICE_NAME, "protos.Endorser");
}

#[test]
fn generated_clients_call_fabric_method_paths() {
    let gateway_src = include_str!(concat!(env!("OUT_DIR"), "/gateway.rs"));
    for method in [
        "Endorse",
        "Submit",
        "CommitStatus",
        "Evaluate",
        "ChaincodeEvents",
    ] {
        let path = format!("\"/gateway.Gateway/{method}\"");
        assert!(gateway_src.contains(&path), "missing {path}");
    }
    let peer_src = include_str!(concat!(env!("OUT_DIR"), "/protos.rs"));
    for path in [
        "\"/protos.Chaincode/Connect\"",
        "\"/protos.ChaincodeSupport/Register\"",
        "\"/protos.Endorser/ProcessProposal\"",
    ] {
        assert!(peer_src.contains(path), "missing {path}");
    }
}
