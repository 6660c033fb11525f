//! Refusals from the live network reach the caller with the contract's own message, and change nothing.

mod live;

use fabric_client::{Contract, GatewayError};
use live::*;

const NOT_ADMIN: &str = "may not change the device registry";

/// Submits `function` as a member that is not a registry administrator and checks the refusal.
async fn refused(member: &Contract, msp_id: &str, function: &str, args: &[&str]) {
    let err = within(function, member.submit(function, args))
        .await
        .expect_err(function);
    let GatewayError::Endorse {
        function: failed,
        status,
        ..
    } = &err
    else {
        panic!("{function}: expected an endorsement refusal, got {err:?}");
    };
    assert_eq!(failed, function);
    assert_eq!(status.code, tonic::Code::Aborted, "{err}");
    assert!(!status.details.is_empty(), "{err}");
    for detail in &status.details {
        assert!(detail.message.contains(NOT_ADMIN), "{function}: {err}");
    }
    let text = err.to_string();
    assert!(text.contains(NOT_ADMIN) && text.contains(msp_id), "{text}");
}

#[tokio::test]
async fn client_identities_are_refused_on_every_write_and_nothing_changes() {
    let net = LiveNetwork::get();
    let admin = net.contract("Org1", "admin").await;
    let (free, banned) = (unique_uuid(), unique_uuid());
    register(&admin, &free).await;
    register(&admin, &banned).await;
    admin
        .submit("BanDevice", &[banned.as_str(), "for the unban refusal"])
        .await
        .unwrap();
    let before = (get(&admin, &free).await, get(&admin, &banned).await);

    for (org, msp_id) in [("Org1", "Org1MSP"), ("Org2", "Org2MSP")] {
        let member = net.contract(org, "client").await;
        let newcomer = unique_uuid();
        let new_body = request(&newcomer, &unique_virtual_ip(), &p256_pem(), &[]);
        let update = request(
            &free,
            &unique_virtual_ip(),
            &p256_pem(),
            &[("by", "member")],
        );
        let (new_body, update) = (
            String::from_utf8(new_body).unwrap(),
            String::from_utf8(update).unwrap(),
        );
        let key = p256_pem();
        refused(&member, msp_id, "RegisterDevice", &[&new_body]).await;
        refused(&member, msp_id, "UpdateDevice", &[&update]).await;
        refused(&member, msp_id, "RotateKey", &[&free, &key]).await;
        refused(&member, msp_id, "BanDevice", &[&free, "not allowed"]).await;
        refused(&member, msp_id, "UnbanDevice", &[&banned]).await;
        refused(&member, msp_id, "DeleteDevice", &[&free]).await;
        assert!(!exists(&member, &newcomer).await);
    }

    let after = (get(&admin, &free).await, get(&admin, &banned).await);
    assert_eq!(after, before);
    assert_eq!(history(&admin, &free).await.len(), 1);
    assert_eq!(history(&admin, &banned).await.len(), 2);
}

#[tokio::test]
async fn contract_validation_errors_name_the_cause() {
    let net = LiveNetwork::get();
    let admin = net.contract("Org1", "admin").await;
    let reader = net.contract("Org2", "client").await;

    // A read of an unknown device is an evaluate error naming it.
    let missing = unique_uuid();
    let err = reader
        .evaluate("GetDevice", &[missing.as_str()])
        .await
        .unwrap_err();
    assert!(matches!(err, GatewayError::Evaluate { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("device {missing} is not registered")),
        "{err}"
    );

    // An administrator's write that breaks an invariant is refused at endorsement.
    let (holder, _) = register(&admin, &unique_uuid()).await;
    let thief = unique_uuid();
    let body = request(&thief, &holder.virtual_ip, &p256_pem(), &[]);
    let err = admin.submit("RegisterDevice", &[body]).await.unwrap_err();
    assert!(matches!(err, GatewayError::Endorse { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("already assigned to device {}", holder.uuid)),
        "{text}"
    );
    assert!(!exists(&reader, &thief).await);
}
