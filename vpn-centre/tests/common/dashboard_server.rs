//! The operators' listener served in-process with connection info, beside an unauthenticated
//! warnings API over the same store (standing in for validators, whose mutual-TLS path has its
//! own tests), and a raw HTTP client that shows status, headers and body, with cookie and CSRF helpers.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use vpn_centre::auth::{LoginLimiter, Operators, SessionConfig};
use vpn_centre::dashboard::DashboardState;
use vpn_centre::http::{AppState, DEFAULT_BODY_LIMIT};
use vpn_centre::metrics::Metrics;
use vpn_centre::warnings_store::WarningsStore;

pub const OPERATOR: &str = "alice";
pub const PASSWORD: &str = "correct horse battery staple";

/// A dashboard state over a real SQLite file in `dir`, with one operator and the given cookie mode.
pub fn state(dir: &Path, secure_cookie: bool) -> DashboardState {
    let store = Arc::new(WarningsStore::open(&dir.join("warnings.sqlite3")).unwrap());
    let operators = Operators::new(dir.join("operators"));
    operators.add(OPERATOR, PASSWORD).unwrap();
    let sessions = SessionConfig {
        secure_cookie,
        ..SessionConfig::default()
    };
    DashboardState::new(store, operators, sessions)
        .with_login_limiter(LoginLimiter::new(3, Duration::from_secs(60)))
}

/// Serves `state` on 127.0.0.1:0 (and the plain warnings API on another port); the tasks stop
/// when dropped.
pub struct DashboardServer {
    pub addr: SocketAddr,
    pub api_addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl DashboardServer {
    pub async fn start(state: DashboardState) -> Self {
        let warnings = AppState {
            store: Arc::clone(&state.store),
            metrics: Arc::new(Metrics::default()),
            enforcement: None,
        };
        let api = vpn_centre::http::router(warnings.clone(), DEFAULT_BODY_LIMIT);
        let app = vpn_centre::app::operator_router(state, warnings)
            .into_make_service_with_connect_info::<SocketAddr>();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let api_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_addr = api_listener.local_addr().unwrap();
        let tasks = vec![
            tokio::spawn(async move {
                axum::serve(listener, app).await.unwrap();
            }),
            tokio::spawn(async move {
                axum::serve(api_listener, api).await.unwrap();
            }),
        ];
        Self {
            addr,
            api_addr,
            tasks,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The unauthenticated warnings API over the same store.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api_addr)
    }
}

impl Drop for DashboardServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request over a fresh connection; `headers` are added as given.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("no answer within 30 s")
        .unwrap();
    let text = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

pub const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// Logs in; returns the `Cookie` header value for the new session.
pub async fn login(addr: SocketAddr, user: &str, password: &str) -> Reply {
    let body = format!("username={user}&password={}", password.replace(' ', "+"));
    send(addr, "POST", "/login", &[FORM], &body).await
}

/// `name=value` of the session cookie set by a login reply.
pub fn session_cookie(reply: &Reply) -> String {
    let set = reply
        .header("set-cookie")
        .unwrap_or_else(|| panic!("no Set-Cookie in {reply:?}"));
    set.split(';').next().unwrap().trim().to_string()
}

/// The CSRF token embedded in a dashboard page.
pub fn csrf_token(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("page has no CSRF field") + marker.len();
    page[start..start + 64].to_string()
}

/// Logs in as the test operator; returns (cookie header value, CSRF token).
pub async fn session(addr: SocketAddr) -> (String, String) {
    let reply = login(addr, OPERATOR, PASSWORD).await;
    assert_eq!(reply.status, 303, "login failed: {reply:?}");
    let cookie = session_cookie(&reply);
    let page = send(
        addr,
        "GET",
        "/dashboard/warnings",
        &[("Cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(page.status, 200, "{page:?}");
    (cookie.clone(), csrf_token(&page.body))
}
