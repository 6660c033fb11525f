//! The operators' dashboard of the real VPN Centre in real headless Chromium, with the rest of the chain real behind it, the ledger being the live Fabric network.
//!
//! A forged message at a real fog validator becomes a warning that appears live on the Warnings
//! page and is deleted there; a ban from the Devices page commits on the ledger (as Org1's
//! admin), the validator (reading Org2's peer) refuses the gateway's next message, and the
//! device's history shows the ban. Screenshots land in `target/browser-artifacts/e2e-*.png`.

use std::time::{Duration, Instant};

use e2e::centre::{OPERATOR, PASSWORD};
use e2e::chain::Chain;
use e2e::gateway::{self, HeldConnection, Outcome};
use fog_validator::code;
use test_support::browser::{
    ChromeDriver, assert_same_document, click, log_in, mark_document, screenshot, text_of,
    type_into, wait_text,
};
use test_support::wait::until;
use vpn_centre::autoban::AutoBanPolicy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sees_an_impersonation_live_and_bans_a_gateway_the_validator_then_refuses() {
    let chain = Chain::start(1, AutoBanPolicy::default()).await;
    let fog = &chain.fogs[0];
    let base = &chain.centre.url;
    let driver = ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path()).await;

    log_in(&browser, base, OPERATOR, PASSWORD).await;
    mark_document(&browser).await;

    // An impersonation attempt at the validator: its warning appears without a reload.
    let imp = &chain.impostor.uuid;
    let forged = gateway::config(&chain.impostor, &chain.forged_key, &[fog.running.addr]);
    assert_eq!(
        gateway::send_new(&forged, 1).await,
        Outcome::Refused(i64::from(code::SIGNATURE_INVALID))
    );
    let (warnings, _) = until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || async {
            let w = chain.centre.warnings_about(imp);
            (!w.is_empty()).then_some(w)
        },
    )
    .await
    .expect("the validator's warning did not reach the centre");
    assert_eq!(warnings.len(), 1);
    let row = format!("#warning-{}", warnings[0].id);
    let text = wait_text(&browser, &row, 10, |t| t.contains(imp.as_str())).await;
    assert!(text.contains(&fog.device.uuid), "submitter missing: {text}");
    assert_same_document(&browser).await;
    screenshot(&browser, "e2e-warning-live.png").await;

    // Delete it from the page.
    click(&browser, &format!("{row} button")).await;
    wait_text(&browser, "#warnings-live", 10, |t| {
        t.contains("No warnings")
    })
    .await;
    assert!(chain.centre.warnings_about(imp).is_empty());

    // The honest gateway has a connection open to the validator, and its messages pass.
    let honest = &chain.honest.uuid;
    let config = gateway::config(
        &chain.honest,
        &chain.honest.signing_key,
        &[fog.running.addr],
    );
    let mut conn = HeldConnection::new(&config, fog.running.addr);
    assert!(matches!(conn.send(1).await, Outcome::Accepted { .. }));

    // Ban it from the Devices page.
    browser
        .goto(&format!("{base}/dashboard/devices"))
        .await
        .unwrap();
    let dev = format!("#device-{honest}");
    assert_eq!(text_of(&browser, &format!("{dev} .state")).await, "active");
    let reason = "enclosure opened in the field";
    type_into(&browser, &format!("{dev} input[name=reason]"), reason).await;
    click(&browser, &format!("{dev} button[name=ban]")).await;
    wait_text(&browser, &format!("{dev} .state"), 10, |t| {
        t.starts_with("banned")
    })
    .await;
    let shown = Instant::now();

    // The validator refuses the gateway's next message as banned.
    let refused_after = loop {
        match conn.send(2).await {
            Outcome::Refused(c) if c == i64::from(code::BANNED) => break shown.elapsed(),
            // The revocation can reach the validator first: it then closes this connection.
            Outcome::NoAnswer(_) => break shown.elapsed(),
            Outcome::Accepted { .. } => {}
            other => panic!("expected 1003 or a closed connection, got {other:?}"),
        }
        assert!(
            shown.elapsed() < Duration::from_secs(10),
            "ban not enforced after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    // The shared ledger lists every device ever registered: bring this one into the picture.
    browser
        .execute(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})",
            vec![serde_json::json!(dev)],
        )
        .await
        .unwrap();
    screenshot(&browser, "e2e-devices-banned.png").await;
    let record = chain.ledger.device(honest).await;
    assert!(record.banned, "the dashboard's ban is not on the ledger");
    assert_eq!(record.ban_reason.as_deref(), Some(reason));
    assert_eq!(
        text_of(&browser, &format!("#device-{imp} .state")).await,
        "active"
    );

    assert!(fog.sees_banned(honest));
    println!("dashboard ban shown -> validator refuses with 1003: {refused_after:?}");

    // Its history shows the registration and the ban.
    click(&browser, &format!("{dev} a")).await;
    let history = wait_text(&browser, "table.history", 10, |t| t.contains("banned")).await;
    assert!(history.contains("registered"), "{history}");
    assert!(history.contains(reason), "{history}");
    screenshot(&browser, "e2e-history.png").await;

    browser.close().await.unwrap();
    drop(driver);
    chain.shutdown().await;
}
