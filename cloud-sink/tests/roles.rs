//! Least authority at the sink over real mutual TLS: the role the centre writes into each
//! certificate (from the registry's node_type) decides who stores and who reads.

mod support;
mod tls_support;

use std::time::Duration;

use sink_api::SinkError;
use support::{DEVICE_A, DEVICE_B, records};
use tls_support::{TlsSink, uuid};
use vpn_pki::{CertRole, Role};

fn expect_forbidden(result: Result<impl std::fmt::Debug, SinkError>, what: &str) {
    match result {
        Err(e @ SinkError::Refused { status: 403, .. }) => {
            assert!(e.is_forbidden() && e.is_retryable(), "{what}: {e}");
        }
        other => panic!("{what}: expected 403, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_validators_store_and_only_services_and_operators_read() {
    let sink = TlsSink::start(Duration::from_secs(2)).await;
    // A gateway (DEVICE_B's own certificate) writes for DEVICE_A to pre-claim its next
    // sequence numbers, then tries to read DEVICE_A's telemetry and everyone's counts.
    let gateway = sink.client(Some(&sink.pki.issue(
        DEVICE_B,
        CertRole::Client,
        Some(Role::Gateway),
    )));
    let victim = records(DEVICE_A, 1..=3);
    expect_forbidden(gateway.ingest(&victim).await, "gateway ingest");
    let own = records(DEVICE_B, 1..=1);
    expect_forbidden(gateway.ingest(&own).await, "gateway ingest of its own");
    let query = sink_api::TelemetryQuery {
        device: DEVICE_A.into(),
        from_ms: None,
        to_ms: None,
        limit: None,
    };
    expect_forbidden(gateway.query(&query).await, "gateway query");
    expect_forbidden(gateway.counts().await, "gateway counts");
    gateway.health().await.unwrap();
    // A certificate from the centre without a role has no authority; neither may a validator
    // or an administrator do the other's part.
    let roleless = sink.client(Some(&sink.pki.issue(
        &uuid(40),
        CertRole::ClientAndServer,
        None,
    )));
    expect_forbidden(roleless.ingest(&victim).await, "roleless ingest");
    expect_forbidden(roleless.counts().await, "roleless counts");
    let validator = sink.validator(41);
    expect_forbidden(validator.query(&query).await, "validator query");
    let operator = sink.client(Some(&sink.pki.issue(
        &uuid(42),
        CertRole::Client,
        Some(Role::Administrator),
    )));
    expect_forbidden(operator.ingest(&victim).await, "administrator ingest");

    // Nothing was stored: the genuine records are new, not duplicates of a pre-claim.
    assert_eq!(operator.counts().await.unwrap().total, 0);
    let answer = validator.ingest(&victim).await.unwrap();
    assert_eq!((answer.stored, answer.duplicates), (3, 0));
    let rows = sink.reader(43).query(&query).await.unwrap();
    assert_eq!(rows, victim);
}
