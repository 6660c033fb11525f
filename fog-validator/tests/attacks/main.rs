//! The attacks of the enforcement issue (attribution and least authority), each against a running
//! deployment on the live Fabric network with real TLS: forged warnings in a victim's name, direct
//! sink writes and reads with a gateway's certificate, and cross-device `telemetry.recent`.

#[path = "../support/mod.rs"]
mod support;

mod deployment;

use std::time::Duration;

use base64::Engine;
use deployment::Deployment;
use fog_validator::code;
use fog_validator::validator::now_ms;
use serde_json::{Value, json};
use support::{Client, error_code, post, submit};
use test_support::wait::until;
use warnings_api::{ClientError, NewWarning};

/// A message whose payload names `device`, with `kid` and a junk signature: what the issue's
/// attacker sent, which no registered key ever signed.
fn forge(device: &str, kid: &str, seq: u64) -> String {
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        b64(json!({"alg": "ES256", "typ": "sf2c-telemetry+jws", "kid": kid})),
        b64(json!({"device": device, "seq": seq, "ts": now_ms(), "data": {"t": 1}})),
        b64(json!("junk signature"))
    )
}

/// `telemetry.recent` about `device`, as `client`.
async fn recent(client: &Client, addr: std::net::SocketAddr, device: &str) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "telemetry.recent", "params": {"device": device}});
    let (status, body) = post(client, addr, serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

/// Waits until the centre holds `n` refusals about `device` with `code`.
async fn centre_holds(d: &Deployment, device: &str, code: i32, n: u64) {
    let seen = until(
        Duration::from_secs(15),
        Duration::from_millis(50),
        || async { (d.warnings_about(device, Some(code)) >= n).then_some(()) },
    )
    .await;
    assert!(
        seen.is_some(),
        "the centre holds {} warnings about {device} with code {code}, expected {n}",
        d.warnings_about(device, Some(code))
    );
}

fn forbidden<T: std::fmt::Debug>(result: Result<T, ClientError>) -> bool {
    matches!(&result, Err(ClientError::Refused { status, .. }) if status.as_u16() == 403)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_in_a_victims_name_blame_the_sender_and_never_ban_the_victim() {
    let d = Deployment::start().await;
    let (attacker, victim) = (d.attacker.uuid().to_string(), d.victim.uuid().to_string());
    let client = d.attacker.client();

    // Its own name with another `kid`: malformed, blamed on it, but no proof of misbehaviour,
    // so 16 of them from two validators ban nobody.
    for v in &d.validators {
        for seq in 1..=8 {
            let answer = submit(&client, v.addr, &forge(&attacker, &victim, seq)).await;
            assert_eq!(
                error_code(&answer),
                Some(i64::from(code::MALFORMED)),
                "{answer}"
            );
        }
    }
    centre_holds(&d, &attacker, code::MALFORMED, 16).await;
    assert!(
        !d.banned(&attacker).await,
        "malformed messages must not ban"
    );

    // The attack: the victim's name, `kid` ≠ device, junk signature, 8 times to each
    // validator. The certificate check comes first: each is "not your device" (1008).
    for v in &d.validators {
        for seq in 1..=8 {
            let answer = submit(&client, v.addr, &forge(&victim, &attacker, seq)).await;
            assert_eq!(
                error_code(&answer),
                Some(i64::from(code::CERT_MISMATCH)),
                "{answer}"
            );
        }
    }
    // Every warning names the sender; none names the victim.
    let banned = until(
        Duration::from_secs(15),
        Duration::from_millis(100),
        || async { d.banned(&attacker).await.then_some(()) },
    )
    .await;
    assert!(
        banned.is_some(),
        "the sender of 16 messages in another's name was not auto-banned"
    );
    assert!(d.warnings_about(&attacker, Some(code::CERT_MISMATCH)) >= 5);
    assert_eq!(d.warnings_about(&victim, None), 0);
    assert!(!d.banned(&victim).await, "the victim was banned");

    // A gateway certificate submitting warnings in the victim's name straight to the centre.
    let forged: Vec<NewWarning> = (0..10)
        .map(|n| NewWarning {
            submitter: d.validators[0].validator.id.clone(),
            offender_address: "127.0.0.1:4000".into(),
            offender_device: Some(victim.clone()),
            time_ms: now_ms() + n,
            code: code::SIGNATURE_INVALID,
            reason: "forged".into(),
            stale: false,
        })
        .collect();
    let as_gateway = d.centre(&d.victim.tls);
    assert!(forbidden(as_gateway.report_batch(&forged).await));
    assert_eq!(d.warnings_about(&victim, None), 0);

    // The victim still works: its own signed message is accepted by both validators.
    for v in &d.validators {
        let answer = submit(
            &d.victim.client(),
            v.addr,
            &d.victim.device.message(1, now_ms()),
        )
        .await;
        assert_eq!(answer["result"]["accepted"], true, "{answer}");
    }
    assert!(!d.banned(&victim).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_reads_only_itself_and_can_neither_write_nor_read_the_sink() {
    let d = Deployment::start().await;
    let (attacker, victim) = (d.attacker.uuid().to_string(), d.victim.uuid().to_string());
    let v = &d.validators[0];
    let genuine = d.victim.device.message(1, now_ms());
    assert_eq!(
        submit(&d.victim.client(), v.addr, &genuine).await["result"]["seq"],
        1
    );
    let own = d.attacker.device.message(1, now_ms());
    assert_eq!(
        submit(&d.attacker.client(), v.addr, &own).await["result"]["seq"],
        1
    );

    // telemetry.recent: another device's readings are refused, its own are answered, and a
    // service reads anyone's.
    let answer = recent(&d.attacker.client(), v.addr, &victim).await;
    assert_eq!(
        error_code(&answer),
        Some(i64::from(code::CERT_MISMATCH)),
        "{answer}"
    );
    assert!(answer.get("result").is_none(), "{answer}");
    let answer = recent(&d.attacker.client(), v.addr, &attacker).await;
    assert_eq!(answer["result"]["records"][0]["seq"], 1, "{answer}");
    let tools = d.service("demo-tools").await;
    let tools_client = Client {
        config: std::sync::Arc::new(
            vpn_pki::client_config(&tools.ca_pem, &tools.cert_pem, &tools.key_pem).unwrap(),
        ),
    };
    let answer = recent(&tools_client, v.addr, &victim).await;
    assert_eq!(answer["result"]["records"][0]["seq"], 1, "{answer}");

    // The sink: the gateway's own certificate may not pre-claim the victim's next sequence
    // numbers, nor read anyone's telemetry.
    let reader = d.sink(&tools);
    let victim_rows = || sink_api::TelemetryQuery {
        device: victim.clone(),
        from_ms: None,
        to_ms: None,
        limit: None,
    };
    let stored = until(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async {
            let rows = reader.query(&victim_rows()).await.unwrap();
            (!rows.is_empty()).then_some(rows)
        },
    )
    .await
    .expect("the victim's accepted message reached the sink")
    .0;
    let mut claim = stored[0].clone();
    claim.seq = 2;
    claim.validator = "fog-0".into();
    let gateway_sink = d.sink(&d.attacker.tls);
    let refused = gateway_sink.ingest(std::slice::from_ref(&claim)).await;
    assert!(
        matches!(&refused, Err(e) if e.is_forbidden()),
        "{refused:?}"
    );
    let refused = gateway_sink.query(&victim_rows()).await;
    assert!(
        matches!(&refused, Err(e) if e.is_forbidden()),
        "{refused:?}"
    );
    assert!(matches!(gateway_sink.counts().await, Err(e) if e.is_forbidden()));
    // A validator's certificate stores but does not read.
    let validator_sink = d.sink(&d.validator_tls[0]);
    assert!(matches!(validator_sink.query(&victim_rows()).await, Err(e) if e.is_forbidden()));
    // Nothing of the claim was stored; the victim's real seq 2 is new, not a duplicate.
    let second = d.victim.device.message(2, now_ms());
    assert_eq!(
        submit(&d.victim.client(), v.addr, &second).await["result"]["seq"],
        2
    );
    let rows = until(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async {
            let rows = reader.query(&victim_rows()).await.unwrap();
            (rows.len() == 2).then_some(rows)
        },
    )
    .await
    .expect("the victim's second message reached the sink")
    .0;
    assert_eq!(rows[1].message, second, "the sink kept a pre-claimed row");

    // The centre's warnings API: a gateway and a service may not submit; a service reads.
    let warning = NewWarning {
        submitter: String::new(),
        offender_address: "127.0.0.1:1".into(),
        offender_device: Some(victim.clone()),
        time_ms: now_ms(),
        code: code::MALFORMED,
        reason: "probe".into(),
        stale: false,
    };
    assert!(forbidden(d.centre(&d.attacker.tls).report(&warning).await));
    assert!(forbidden(d.centre(&tools).report(&warning).await));
    assert!(forbidden(
        d.centre(&d.attacker.tls).count(&Default::default()).await
    ));
    assert!(d.centre(&tools).count(&Default::default()).await.is_ok());
}
