//! Test harness: sample warnings, an in-process server, the real binary under a kill-on-drop guard,
//! and a raw HTTP/1.1 sender for bodies no well-behaved client would send.
#![allow(dead_code)]

pub mod centre;
pub mod dashboard_server;
pub mod memory_registry;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use vpn_centre::http::{AppState, router};
use vpn_centre::warnings_store::WarningsStore;
use warnings_api::NewWarning;

pub const DEVICE_A: &str = "6f1c2a8e-3b4d-4c5e-8f9a-0b1c2d3e4f50";
pub const DEVICE_B: &str = "0d9e8f7a-6b5c-4d3e-9f1a-2b3c4d5e6f70";

pub fn sample(submitter: &str, device: Option<&str>, code: i32, time_ms: u64) -> NewWarning {
    NewWarning {
        submitter: submitter.to_string(),
        offender_address: "10.8.0.12:51000".to_string(),
        offender_device: device.map(str::to_string),
        time_ms,
        code,
        reason: format!("refused with code {code}"),
        stale: false,
    }
}

/// The API served in-process on 127.0.0.1:0 with a real SQLite file; stops when dropped.
pub struct InProcessServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl InProcessServer {
    pub async fn start(db: &Path, body_limit: usize) -> Self {
        let store = WarningsStore::open(db).unwrap();
        let app = router(AppState::new(store), body_limit);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_vpn-centre")
}

/// The built `vpn-centre serve` process; killed by PID when dropped.
pub struct BinaryServer {
    child: Child,
    /// Operators' listener (https, or http with `--insecure-dev-cookies`).
    pub url: String,
    /// Validators' mutual-TLS listener.
    pub mtls_url: String,
}

/// A service certificate issued by the binary's `cert issue-service` into `data_dir`'s PKI.
pub fn issue_identity(data_dir: &Path, name: &str) -> (String, warnings_api::TlsIdentity) {
    let out = data_dir.join(format!("identity-{name}"));
    let run = Command::new(binary())
        .args(["cert", "issue-service", name, "--out"])
        .arg(&out)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("SF2C_VPN_DATA_DIR")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let uuid = String::from_utf8(run.stdout).unwrap().trim().to_string();
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
    let identity = warnings_api::TlsIdentity {
        ca_pem: read("ca.pem"),
        cert_pem: read("cert.pem"),
        key_pem: read("key.pem"),
    };
    (uuid, identity)
}

/// `vpn-centre revoke UUID --data-dir DATA` as an operator runs it, in its own process; panics with
/// its stderr unless it succeeds.
pub fn revoke_with_cli(data_dir: &str, uuid: &str) {
    let revoke = Command::new(binary())
        .args(["revoke", uuid, "--data-dir", data_dir])
        .env_remove("SF2C_VPN_DATA_DIR")
        .output()
        .unwrap();
    assert!(
        revoke.status.success(),
        "{}",
        String::from_utf8_lossy(&revoke.stderr)
    );
}

/// A validator's certificate (role `validator`, as enrolment writes it for a device registered as
/// a Validator) from the CA in `data_dir`'s PKI: the binary runs without a ledger here, so no
/// device can enrol.
pub fn validator_identity(data_dir: &Path) -> warnings_api::TlsIdentity {
    let ca = vpn_pki::CertificateAuthority::load(&data_dir.join("pki")).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let now = vpn_centre::pki::now_secs();
    let cert = ca
        .issue_with_role(
            &vpn_pki::LeafRequest {
                uuid: uuid::Uuid::new_v4().to_string(),
                role: vpn_pki::CertRole::ClientAndServer,
                virtual_ips: vec![],
                server_names: vec![],
                key: vpn_pki::LeafKey::PublicKey(key.public_key_pem()),
                validity: Duration::from_secs(3600),
                now,
            },
            vpn_pki::Role::Validator,
        )
        .unwrap();
    warnings_api::TlsIdentity {
        ca_pem: ca.cert_pem().to_string(),
        cert_pem: cert.pem,
        key_pem: key.serialize_pem(),
    }
}

impl BinaryServer {
    /// Starts the binary on 127.0.0.1:0 (both listeners) and waits for the lines announcing them.
    pub fn start(args: &[&str], envs: &[(&str, &Path)]) -> Self {
        let mut cmd = Command::new(binary());
        cmd.arg("serve")
            .args(["--listen", "127.0.0.1:0", "--mtls-listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("SF2C_VPN_LISTEN")
            .env_remove("SF2C_VPN_MTLS_LISTEN")
            .env_remove("SF2C_VPN_DATA_DIR")
            // Only problems reach the test output.
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let mut next_line = |prefix: &str| {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            line.trim()
                .strip_prefix(prefix)
                .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"))
                .to_string()
        };
        let url = next_line("vpn-centre listening on ");
        let mtls_url = next_line("vpn-centre validators on ");
        Self {
            child,
            url,
            mtls_url,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asks for a graceful stop with SIGTERM and waits for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("vpn-centre did not stop within 5 s of SIGTERM");
    }
}

impl Drop for BinaryServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends one raw HTTP/1.1 request and returns status code and body text.
pub async fn raw_request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("no answer within 10 s")
        .unwrap();
    let text = String::from_utf8_lossy(&answer).to_string();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// `GET /v1/pki/crl` on a centre's operators' listener (`https://`, trusting `ca_pem`); the DER body.
pub async fn fetch_crl(url: &str, ca_pem: &str) -> Result<Vec<u8>, String> {
    use http_body_util::BodyExt as _;
    let config = std::sync::Arc::new(warnings_api::tls::trust_only(ca_pem)?);
    let uri: hyper::Uri = format!("{url}/v1/pki/crl")
        .parse()
        .map_err(|e| format!("bad URL {url}: {e}"))?;
    let host = uri.authority().map(|a| a.to_string()).unwrap_or_default();
    let request = hyper::Request::get(&uri)
        .header(hyper::header::HOST, host)
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .map_err(|e| e.to_string())?;
    let response = warnings_api::tls::send(&uri, config, request).await?;
    if !response.status().is_success() {
        return Err(format!("GET /v1/pki/crl answered {}", response.status()));
    }
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(body.to_bytes().to_vec())
}
