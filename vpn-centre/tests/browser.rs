//! The dashboard in real headless Chromium, driven over WebDriver: log in, watch a warning
//! arrive live, delete it, ban a device, read its history. Screenshots land in
//! `target/browser-artifacts/`. Needs Debian's `chromium` and `chromium-driver`.

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloud_sink::TelemetryRecord;
use common::dashboard_server::{DashboardServer, OPERATOR, PASSWORD, state};
use common::memory_registry::{MemoryRegistry, gateway};
use common::{DEVICE_A, DEVICE_B, sample};
use fantoccini::{Client, ClientBuilder, Locator};
use vpn_centre::{WarningClient, WarningFilter};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A chromedriver process on a free loopback port; killed by PID when dropped.
struct ChromeDriver {
    child: Child,
    port: u16,
}

impl ChromeDriver {
    fn start() -> Self {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "this test needs Debian's chromium and chromium-driver: apt-get install -y chromium chromium-driver"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen within 20 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    std::fs::write(artifacts().join(name), png).unwrap();
}

async fn text_of(browser: &Client, css: &str) -> String {
    match browser.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Polls until `check` holds for the text of `css`, or fails after `secs`.
async fn wait_text(browser: &Client, css: &str, secs: u64, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let text = text_of(browser, css).await;
        if check(&text) {
            return text;
        }
        if Instant::now() >= deadline {
            let page = browser.source().await.unwrap_or_default();
            panic!("{css} never matched; last text: {text:?}; page:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

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
    cloud_sink::SinkClient::new(&url)
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
    let sink = cloud_sink::SinkClient::new(&sink_url).unwrap();
    // Plain HTTP on loopback: the explicit development cookie mode.
    let dashboard = state(dir.path(), false)
        .with_registry(registry.clone())
        .with_sink(sink);
    let server = DashboardServer::start(dashboard).await;
    let base = server.url();

    let driver = ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let args = serde_json::json!([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        format!("--user-data-dir={}", profile.path().display()),
    ]);
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "chrome".into());
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": CHROMIUM, "args": args }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let browser = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("cannot start a Chromium session through chromedriver");

    // Log in.
    browser
        .goto(&format!("{base}/dashboard/warnings"))
        .await
        .unwrap();
    assert!(
        browser
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/login")
    );
    screenshot(&browser, "login.png").await;
    browser
        .find(Locator::Css("input[name=username]"))
        .await
        .unwrap()
        .send_keys(OPERATOR)
        .await
        .unwrap();
    browser
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    browser
        .find(Locator::Css("form.login button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&browser, "h1", 15, |t| t == "Warnings").await;

    // A validator reports a warning; it appears without a reload.
    browser
        .execute("window.sameDocument = true; return null;", vec![])
        .await
        .unwrap();
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
    let same = browser
        .execute("return window.sameDocument === true;", vec![])
        .await
        .unwrap();
    assert_eq!(
        same,
        serde_json::Value::Bool(true),
        "the page reloaded instead of updating live"
    );
    screenshot(&browser, "warnings.png").await;

    // Delete it from the page.
    browser
        .find(Locator::Css(&format!("{row} button")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
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
    browser
        .find(Locator::Css(&format!("{dev} input[name=reason]")))
        .await
        .unwrap()
        .send_keys("key leaked")
        .await
        .unwrap();
    browser
        .find(Locator::Css(&format!("{dev} button[name=ban]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
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
    browser
        .find(Locator::Css(&format!("{dev} a")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let history = wait_text(&browser, "table.history", 10, |t| t.contains("banned")).await;
    assert!(history.contains("registered"), "{history}");
    assert!(history.contains("key leaked"), "{history}");
    screenshot(&browser, "history.png").await;

    browser.close().await.unwrap();
    drop(driver);
}
