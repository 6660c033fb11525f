//! Headless Chromium over WebDriver: chromedriver killed by PID on drop, sessions, screenshots, text polling.
//!
//! Needs Debian's `chromium` and `chromium-driver`.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::ClientBuilder;
pub use fantoccini::{Client, Locator};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A chromedriver process on a free loopback port.
pub struct ChromeDriver {
    child: Child,
    port: u16,
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ChromeDriver {
    /// Starts chromedriver on a free loopback port and waits (up to 20 s) until it listens.
    pub fn start() -> Self {
        assert!(
            Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
            "this test needs Debian's chromium and chromium-driver: apt-get install -y chromium chromium-driver"
        );
        let port = crate::free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
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

    /// A new headless Chromium session with its profile in `profile`.
    pub async fn session(&self, profile: &Path) -> Client {
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
            format!("--user-data-dir={}", profile.display()),
        ]);
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "chrome".into());
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": CHROMIUM, "args": args }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("cannot start a Chromium session through chromedriver")
    }
}

/// The workspace's `target/browser-artifacts/`, created if missing.
pub fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-artifacts");
    std::fs::create_dir_all(&dir).expect("create target/browser-artifacts");
    dir
}

/// Saves a PNG screenshot of the page as `target/browser-artifacts/{name}`.
pub async fn screenshot(browser: &Client, name: &str) -> PathBuf {
    let png = browser.screenshot().await.expect("take a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    let path = artifacts().join(name);
    std::fs::write(&path, png).expect("write the screenshot");
    path
}

/// The text of the first element matching `css`, or empty when there is none.
pub async fn text_of(browser: &Client, css: &str) -> String {
    match browser.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Polls until `check` holds for the text of `css`; panics with the page after `secs`.
pub async fn wait_text(
    browser: &Client,
    css: &str,
    secs: u64,
    check: impl Fn(&str) -> bool,
) -> String {
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

/// Types `text` into the element matching `css`.
pub async fn type_into(browser: &Client, css: &str, text: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
}

/// Clicks the element matching `css`.
pub async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

/// Marks the page now shown, so [`assert_same_document`] can tell a live update from a reload.
pub async fn mark_document(browser: &Client) {
    browser
        .execute("window.sameDocument = true; return null;", vec![])
        .await
        .expect("mark the current document");
}

/// Panics if the page marked by [`mark_document`] was reloaded or replaced since.
pub async fn assert_same_document(browser: &Client) {
    let same = browser
        .execute("return window.sameDocument === true;", vec![])
        .await
        .expect("read the document mark");
    assert_eq!(
        same,
        serde_json::Value::Bool(true),
        "the page reloaded instead of updating live"
    );
}

/// Opens `{base}/dashboard/warnings` and asserts the dashboard sent the browser to its login page.
pub async fn open_login(browser: &Client, base: &str) {
    browser
        .goto(&format!("{base}/dashboard/warnings"))
        .await
        .unwrap_or_else(|e| panic!("open {base}/dashboard/warnings: {e}"));
    let url = browser.current_url().await.expect("read the current URL");
    assert!(
        url.path().ends_with("/login"),
        "not sent to the login page: {url}"
    );
}

/// Fills in and submits the login form shown, then waits (up to 15 s) for the warnings page.
pub async fn submit_login(browser: &Client, username: &str, password: &str) {
    type_into(browser, "input[name=username]", username).await;
    type_into(browser, "input[name=password]", password).await;
    click(browser, "form.login button").await;
    wait_text(browser, "h1", 15, |t| t == "Warnings").await;
}

/// Logs an operator in to the dashboard at `base`: [`open_login`], then [`submit_login`].
pub async fn log_in(browser: &Client, base: &str, username: &str, password: &str) {
    open_login(browser, base).await;
    submit_login(browser, username, password).await;
}
