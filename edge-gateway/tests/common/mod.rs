//! Shared test fixtures: a test CA, the validator test double, the real fog path, the validator
//! binary, config files, process guards, a plain HTTP GET.
#![allow(dead_code)]

pub mod real_fog;
pub mod validator_bin;
pub mod validator_double;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use edge_gateway::keygen::{Enrolment, KeygenOptions, keygen};
use signed_message::Algorithm;
use uuid::Uuid;

/// A throw-away CA and one server certificate for 127.0.0.1.
pub struct TestPki {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
}

impl TestPki {
    pub fn new() -> TestPki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "edge-gateway test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let server_key = rcgen::KeyPair::generate().unwrap();
        let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
        TestPki {
            ca_pem: ca.pem(),
            server_cert_pem: server.pem(),
            server_key_pem: server_key.serialize_pem(),
        }
    }
}

/// A device with its key directory, as `edge-gateway keygen` leaves it.
pub struct DeviceDir {
    pub dir: tempfile::TempDir,
    pub enrolment: Enrolment,
    pub key_path: PathBuf,
    pub ca_path: PathBuf,
}

impl DeviceDir {
    pub fn new(pki: &TestPki, alg: Algorithm) -> DeviceDir {
        let dir = tempfile::tempdir().unwrap();
        let out = keygen(&KeygenOptions {
            out_dir: dir.path().join("keys"),
            alg,
            uuid: Some(Uuid::new_v4()),
            node_type: "Gateway".into(),
            force: false,
        })
        .unwrap();
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, &pki.ca_pem).unwrap();
        DeviceDir {
            enrolment: out.enrolment,
            key_path: out.key_path,
            ca_path,
            dir,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a config file reading ndjson from `input` and sending to `validators`.
    pub fn write_config(&self, name: &str, validators: &[String], input: &Path) -> PathBuf {
        let list = validators
            .iter()
            .map(|v| format!("{v:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            "device_uuid = \"{uuid}\"\n\
             key_path = {key:?}\n\
             validators = [{list}]\n\
             ca_path = {ca:?}\n\
             queue_path = {queue:?}\n\
             batch_size = 4\n\
             request_timeout_ms = 2000\n\
             backoff_min_ms = 20\n\
             backoff_max_ms = 200\n\
             [sensor]\n\
             kind = \"ndjson\"\n\
             path = {input:?}\n",
            uuid = self.enrolment.uuid,
            key = self.key_path.display().to_string(),
            ca = self.ca_path.display().to_string(),
            queue = self.path("queue.db").display().to_string(),
            input = input.display().to_string(),
        );
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// A URL on 127.0.0.1 where nothing listens: the port was bound and released.
pub fn dead_validator_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("https://127.0.0.1:{port}/rpc")
}

/// Writes `lines` as an ndjson file.
pub fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

/// Polls `cond` every 20 ms until it holds or `limit` passes.
pub async fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let held = test_support::wait::until(limit, Duration::from_millis(20), || {
        std::future::ready(cond().then_some(()))
    })
    .await;
    assert!(
        held.is_some(),
        "timed out after {limit:?} waiting for {what}"
    );
}

/// Kills the child process on drop, so a failing test leaves nothing running.
pub struct ChildGuard(pub Option<Child>);

impl ChildGuard {
    pub fn pid(&self) -> u32 {
        self.0.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Sends SIGTERM and waits (up to 10 s) for a clean exit; returns whether it exited with 0.
    pub async fn terminate(mut self) -> bool {
        let Some(mut child) = self.0.take() else {
            return false;
        };
        let status = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.success();
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `GET path` over plain HTTP/1.1 on `addr`; the whole response, status line and headers included.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut text = String::new();
    tcp.read_to_string(&mut text).await.unwrap();
    text
}
