//! The dashboard in real headless Chromium, driven over WebDriver: log in, watch a warning
//! arrive live, delete it, ban a device, read its history. Screenshots land in
//! `target/browser-artifacts/`. Needs Debian's `chromium` and `chromium-driver`.

mod common;

use std::sync::Arc;

use common::dashboard_server::{DashboardServer, OPERATOR, PASSWORD, state};
use common::memory_registry::{MemoryRegistry, gateway};
use common::{DEVICE_A, DEVICE_B, sample};
use sink_api::TelemetryRecord;
use test_support::browser::{
    ChromeDriver, assert_same_document, click, mark_document, open_login, screenshot, submit_login,
    text_of, type_into, wait_text,
};
use warnings_api::{WarningClient, WarningFilter};

/// A real cloud sink over SQLite in `dir`, with one accepted record; runs until the test ends.
async fn sink_with_one_record(dir: &std::path::Path) -> String {
    use cloud_sink::http::{App, Limits};
    let db = dir.join("sink.sqlite3");
    let store = cloud_sink::sqlite::SqliteStore::open(db.to_str().unwrap())
        .await
        .unwrap();
    let app = Arc::new(App {
        store,
        limits: Limits::default(),
        metrics: Default::default(),
    });
    let server = cloud_sink::server::Server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", server.local_addr());
    tokio::spawn(server.serve(app, std::future::pending()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let record = TelemetryRecord {
        device: DEVICE_B.into(),
        seq: 1,
        ts_ms: now,
        received_ms: now,
        validator: "validator-1".into(),
        data: serde_json::json!({"temperature_c": 21.5}),
        message: "eyJhbGciOiJFZERTQSJ9.eyJzZXEiOjF9.c2ln".into(),
    };
    sink_api::SinkClient::new(&url)
        .unwrap()
        .ingest(&[record])
        .await
        .unwrap();
    url
}

#[tokio::test]
async fn an_operator_watches_deletes_and_bans_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Arc::new(MemoryRegistry::default());
    registry.register(gateway(DEVICE_A, 10));
    registry.register(gateway(DEVICE_B, 11));
    let sink_url = sink_with_one_record(dir.path()).await;
    let sink = sink_api::SinkClient::new(&sink_url).unwrap();
    // Plain HTTP on loopback: the explicit development cookie mode.
    let dashboard = state(dir.path(), false)
        .with_registry(registry.clone())
        .with_sink(sink);
    let server = DashboardServer::start(dashboard).await;
    let base = server.url();

    let driver = ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path()).await;

    open_login(&browser, &base).await;
    screenshot(&browser, "login.png").await;
    submit_login(&browser, OPERATOR, PASSWORD).await;

    // A validator reports a warning; it appears without a reload.
    mark_document(&browser).await;
    let client = WarningClient::new(&server.api_url()).unwrap();
    let mut w = sample("validator-7", Some(DEVICE_A), -32003, 1_767_225_600_000);
    w.reason = "signature does not verify with the registered key".into();
    let stored = client.report(&w).await.unwrap();
    let row = format!("#warning-{}", stored.id);
    let text = wait_text(&browser, &row, 10, |t| {
        t.contains("signature does not verify")
    })
    .await;
    assert!(
        text.contains("validator-7") && text.contains(DEVICE_A),
        "{text}"
    );
    assert_same_document(&browser).await;
    screenshot(&browser, "warnings.png").await;

    // Delete it from the page.
    click(&browser, &format!("{row} button")).await;
    wait_text(&browser, "#warnings-live", 10, |t| {
        t.contains("No warnings")
    })
    .await;
    assert_eq!(client.count(&WarningFilter::default()).await.unwrap(), 0);

    // Accepted requests, read from the real sink.
    browser
        .goto(&format!("{base}/dashboard/requests"))
        .await
        .unwrap();
    let total = wait_text(&browser, "#accepted-total", 10, |t| !t.is_empty()).await;
    assert_eq!(total, "1");
    let live = text_of(&browser, "#requests-live").await;
    assert!(
        live.contains(DEVICE_B) && live.contains("temperature_c"),
        "{live}"
    );
    screenshot(&browser, "requests.png").await;

    // Ban a device and see its state change.
    browser
        .goto(&format!("{base}/dashboard/devices"))
        .await
        .unwrap();
    let dev = format!("#device-{DEVICE_A}");
    assert_eq!(text_of(&browser, &format!("{dev} .state")).await, "active");
    type_into(&browser, &format!("{dev} input[name=reason]"), "key leaked").await;
    click(&browser, &format!("{dev} button[name=ban]")).await;
    wait_text(&browser, &format!("{dev} .state"), 10, |t| {
        t.starts_with("banned")
    })
    .await;
    let record = registry.current(DEVICE_A).unwrap();
    assert!(record.banned);
    assert_eq!(record.ban_reason.as_deref(), Some("key leaked"));
    assert_eq!(
        text_of(&browser, &format!("#device-{DEVICE_B} .state")).await,
        "active"
    );
    screenshot(&browser, "devices.png").await;

    // Its history shows registration and the ban.
    click(&browser, &format!("{dev} a")).await;
    let history = wait_text(&browser, "table.history", 10, |t| t.contains("banned")).await;
    assert!(history.contains("registered"), "{history}");
    assert!(history.contains("key leaked"), "{history}");
    screenshot(&browser, "history.png").await;

    browser.close().await.unwrap();
    drop(driver);
}
