//! Transactions the live network orders but marks invalid, and what the client reports for them.

mod live;

use fabric_client::{Contract, GatewayError, SubmitOptions, TxValidationCode};
use live::*;

/// How one submitted transaction ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Valid,
    Invalid(TxValidationCode),
    /// Refused at endorsement, with the contract's message.
    Refused(String),
}

async fn register_at(admin: Contract, uuid: String, ip: String) -> Outcome {
    let body = request(&uuid, &ip, &p256_pem(), &[]);
    let options = SubmitOptions::default();
    match within(
        "submit",
        admin.submit_async("RegisterDevice", &[body], &options),
    )
    .await
    {
        Ok((_, commit)) => {
            let status = within("commit", commit.status()).await.unwrap();
            if status.is_valid() {
                Outcome::Valid
            } else {
                Outcome::Invalid(status.code)
            }
        }
        Err(err @ GatewayError::Endorse { .. }) => Outcome::Refused(err.to_string()),
        Err(other) => panic!("unexpected failure: {other:?}"),
    }
}

#[tokio::test]
async fn concurrent_registrations_of_one_uuid_commit_exactly_once() {
    let net = LiveNetwork::get();
    let org1 = net.contract("Org1", "admin").await;
    let org2 = net.contract("Org2", "admin").await;
    let uuid = unique_uuid();
    let ips = [unique_virtual_ip(), unique_virtual_ip()];

    // Both are endorsed against a ledger without the device, so both pass the contract's
    // duplicate check; the one ordered second reads a key the first one wrote.
    let (a, b) = tokio::join!(
        register_at(org1.clone(), uuid.clone(), ips[0].clone()),
        register_at(org2.clone(), uuid.clone(), ips[1].clone()),
    );
    eprintln!("outcomes: {a:?} / {b:?}");
    let winner = match (&a, &b) {
        (Outcome::Valid, loser) => {
            assert_loser(loser);
            0
        }
        (loser, Outcome::Valid) => {
            assert_loser(loser);
            1
        }
        _ => panic!("exactly one must commit: {a:?} / {b:?}"),
    };

    let record = get_version(&org1, &uuid, 1).await;
    let expected_ip = device_record::normalise_virtual_ip(&ips[winner]).unwrap();
    assert_eq!(record.virtual_ip, expected_ip);
    assert_eq!(record.version, 1);
    assert_eq!(history(&org1, &uuid).await.len(), 1, "one committed write");
    // The loser's virtual IP was never claimed: another device may take it.
    let other = unique_uuid();
    let body = request(&other, &ips[1 - winner], &p256_pem(), &[]);
    org1.submit("RegisterDevice", &[body]).await.unwrap();
}

fn assert_loser(outcome: &Outcome) {
    match outcome {
        // In one block, the loser also set the new key's endorsement policy, which Fabric reports
        // as ENDORSEMENT_POLICY_FAILURE (validation parameter updated) rather than MVCC.
        Outcome::Invalid(code) => assert!(
            matches!(
                code,
                TxValidationCode::MvccReadConflict | TxValidationCode::EndorsementPolicyFailure
            ),
            "{code:?}"
        ),
        Outcome::Refused(text) => assert!(text.contains("is already registered"), "{text}"),
        Outcome::Valid => unreachable!(),
    }
}

#[tokio::test]
async fn one_organisation_endorsing_alone_fails_the_majority_policy_at_commit() {
    let net = LiveNetwork::get();
    let admin = net.contract("Org1", "admin").await;
    let uuid = unique_uuid();
    let body = request(&uuid, &unique_virtual_ip(), &p256_pem(), &[]);
    let options = SubmitOptions {
        endorsing_organizations: vec!["Org1MSP".into()],
        ..SubmitOptions::default()
    };
    let err = within(
        "submit",
        admin.submit_with("RegisterDevice", &[body], &options),
    )
    .await
    .unwrap_err();
    let GatewayError::Commit(commit) = &err else {
        panic!("expected an invalid commit, got {err:?}");
    };
    assert_eq!(commit.code, TxValidationCode::EndorsementPolicyFailure);
    assert_eq!(commit.tx_id.len(), 64);
    assert!(commit.block > 0);
    let text = err.to_string();
    assert!(
        text.contains("ENDORSEMENT_POLICY_FAILURE") && text.contains(&commit.tx_id),
        "{text}"
    );
    assert!(
        !exists(&admin, &uuid).await,
        "an invalid transaction writes nothing"
    );
}
