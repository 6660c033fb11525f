//! The validator's own connections over mutual TLS: to a real cloud sink and a real VPN Centre warnings
//! listener (both on SQLite, in-process, certificates and CRL from one in-test CA), each presenting the
//! validator's certificate.

mod support;

use std::sync::Arc;
use std::time::Duration;

use device_record::NodeType;
use fog_validator::validator::now_ms;
use fog_validator::{StartError, code};
use signed_message::Algorithm;
use support::*;
use test_doubles::StaticRegistryFeed;
use test_doubles::TestDevice;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_data_reaches_a_tls_sink_and_warnings_a_tls_centre_under_the_validator_certificate()
 {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::start(dir.path()).await;
    let sink = TlsSink::start(&pki, dir.path()).await;
    let vpn = TlsVpn::start(&pki, dir.path()).await;
    let mut gateway = TestDevice::new(Algorithm::ES256, NodeType::Gateway);
    let feed = Arc::new(StaticRegistryFeed::new(vec![gateway.record.clone()]));
    // No ca/client_cert/client_key: the validator uses client_ca and its listener certificate.
    let cfg = config(
        &pki,
        &dir.path().join("validator"),
        sink.url(),
        Some(vpn.url()),
    );
    let running = start(&cfg, feed).await;
    let client = pki.client(&gateway.uuid);

    let message = gateway.next_message(now_ms());
    let answer = submit(&client, running.addr, &message).await;
    assert_eq!(answer["result"]["accepted"], true, "{answer}");
    let replay = submit(&client, running.addr, &message).await;
    assert_eq!(error_code(&replay), Some(i64::from(code::REPLAY)));

    let query = sink_api::TelemetryQuery {
        device: gateway.uuid.clone(),
        from_ms: None,
        to_ms: None,
        limit: None,
    };
    let mut rows = Vec::new();
    for _ in 0..300 {
        rows = sink.client.query(&query).await.unwrap();
        if !rows.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        rows.len(),
        1,
        "the accepted message did not reach the TLS sink"
    );
    assert_eq!(rows[0].message, message);
    assert_eq!(running.validator.forwarder.depth(), 0);

    let warnings = vpn.wait_for(1).await;
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    let warning = &warnings[0].warning;
    assert_eq!(warning.code, code::REPLAY);
    assert_eq!(
        warning.offender_device.as_deref(),
        Some(gateway.uuid.as_str())
    );
    // The centre names the submitter from the validator's certificate, not from the body.
    assert_eq!(warning.submitter, pki.validator_uuid);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_sink_without_a_client_identity_is_a_start_error() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::start(dir.path()).await;
    let feed = Arc::new(StaticRegistryFeed::new(vec![]));
    let mut cfg = config(
        &pki,
        &dir.path().join("validator"),
        "https://127.0.0.1:9".into(),
        None,
    );
    // A listener without client certificates has no CA to trust the sink by.
    cfg.client_auth = false;
    cfg.client_ca = None;
    let err = match fog_validator::start(&cfg, feed).await {
        Err(e) => e,
        Ok(_) => panic!("started with an https:// sink and no CA"),
    };
    assert!(matches!(err, StartError::Outbound(_)), "{err:?}");
    assert!(err.to_string().contains("sink_url"), "{err}");
}
