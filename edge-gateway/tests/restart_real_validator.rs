//! The real `edge-gateway run` process against the real fog validator (mutual TLS with certificates
//! from the VPN Centre's CA) and the real cloud sink on SQLite: messages queued while no validator
//! was reachable survive a SIGTERM and reach the sink exactly once after the restart; a banned
//! gateway stops at the first 1003 with its messages still queued while an honest one goes on.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::real_fog::{CentrePki, SqliteSink, start_validator};
use common::{ChildGuard, wait_for, write_lines};
use device_record::NodeType;
use disk_queue::DiskQueue;
use edge_gateway::signer::QueuedMessage;
use signed_message::Algorithm;
use test_doubles::{StaticRegistryFeed, TestDevice};
use vpn_pki::CertRole;

/// Readings queued while the validator is unreachable, then read after the restart.
const OFFLINE: i64 = 12;
const ONLINE: i64 = 3;

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn run_gateway(config: &Path) -> ChildGuard {
    let child = Command::new(env!("CARGO_BIN_EXE_edge-gateway"))
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    ChildGuard(Some(child))
}

fn queued(path: &Path) -> u64 {
    DiskQueue::<QueuedMessage>::open(path)
        .and_then(|q| q.len())
        .unwrap_or(0)
}

/// The gateway's files as enrolment leaves them, and a config reading ndjson from `input`.
struct GatewayFiles {
    dir: std::path::PathBuf,
    toml: String,
}

impl GatewayFiles {
    fn new(dir: &Path, pki: &CentrePki, device: &TestDevice, validator: SocketAddr) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("signing.pem"),
            device.key.private_key_pem().unwrap(),
        )
        .unwrap();
        pki.issue_files(dir, "client", &device.uuid, CertRole::Client);
        let toml = format!(
            "device_uuid = \"{uuid}\"\n\
             key_path = {key:?}\n\
             validators = [\"https://{validator}/\"]\n\
             ca_path = {ca:?}\n\
             client_cert_path = {cert:?}\n\
             client_key_path = {client_key:?}\n\
             queue_path = {queue:?}\n\
             batch_size = 4\n\
             request_timeout_ms = 2000\n\
             backoff_min_ms = 20\n\
             backoff_max_ms = 200\n",
            uuid = device.uuid,
            key = dir.join("signing.pem").display().to_string(),
            ca = pki.ca_file.display().to_string(),
            cert = dir.join("client.pem").display().to_string(),
            client_key = dir.join("client-key.pem").display().to_string(),
            queue = dir.join("queue.db").display().to_string(),
        );
        GatewayFiles {
            dir: dir.to_path_buf(),
            toml,
        }
    }

    /// Writes `{name}.toml` reading `readings`, with metrics on `metrics`.
    fn config(
        &self,
        name: &str,
        readings: std::ops::Range<i64>,
        metrics: SocketAddr,
    ) -> std::path::PathBuf {
        let input = self.dir.join(format!("{name}.ndjson"));
        let lines: Vec<String> = readings.map(|n| format!(r#"{{"n": {n}}}"#)).collect();
        if lines.is_empty() {
            std::fs::write(&input, "").unwrap();
        } else {
            write_lines(&input, &lines);
        }
        let text = format!(
            "{}metrics_listen = \"{metrics}\"\n[sensor]\nkind = \"ndjson\"\npath = {:?}\n",
            self.toml,
            input.display().to_string()
        );
        let path = self.dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn queue(&self) -> std::path::PathBuf {
        self.dir.join("queue.db")
    }
}

/// `GET /metrics` from the gateway's plain metrics listener.
async fn scrape(addr: SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    tcp.read_to_string(&mut text).await.unwrap();
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_restarted_with_a_queue_delivers_each_message_once_through_the_real_validator() {
    let dir = tempfile::tempdir().unwrap();
    let pki = CentrePki::start(dir.path()).await;
    let sink = SqliteSink::start(&dir.path().join("sink.db")).await;
    let device = TestDevice::new(Algorithm::ES256, NodeType::Gateway);
    let source = Arc::new(StaticRegistryFeed::new(vec![device.record.clone()]));
    // The validator's address is fixed before it runs, so the gateway's config names it.
    let validator_addr = free_addr();
    let files = GatewayFiles::new(&dir.path().join("gateway"), &pki, &device, validator_addr);

    // Run 1: nothing listens at the validator's address; every reading waits on disk.
    let offline = files.config("offline", 0..OFFLINE, free_addr());
    let gateway = run_gateway(&offline);
    wait_for(Duration::from_secs(20), "12 queued messages", || {
        queued(&files.queue()) == OFFLINE as u64
    })
    .await;
    assert!(
        gateway.terminate().await,
        "gateway did not exit cleanly on SIGTERM"
    );
    assert_eq!(
        queued(&files.queue()),
        OFFLINE as u64,
        "shutdown must keep the queue"
    );

    // The validator comes up; the gateway restarts with its backlog and a few new readings.
    let running = start_validator(&pki, dir.path(), validator_addr, &sink.url, source).await;
    let metrics = free_addr();
    let online = files.config("online", OFFLINE..OFFLINE + ONLINE, metrics);
    let gateway = run_gateway(&online);
    let total = (OFFLINE + ONLINE) as u64;
    let validator = running.validator.clone();
    wait_for(Duration::from_secs(30), "every message accepted", || {
        validator.metrics.accepted.load(Ordering::SeqCst) >= total
    })
    .await;
    wait_for(
        Duration::from_secs(10),
        "gateway queue acknowledged",
        || queued(&files.queue()) == 0,
    )
    .await;
    wait_for(Duration::from_secs(10), "validator spool drained", || {
        validator.forwarder.depth() == 0
    })
    .await;
    let gateway_metrics = scrape(metrics).await;
    assert!(gateway.terminate().await, "gateway did not exit cleanly");

    let rows = sink.rows(&device.uuid).await;
    let readings: Vec<i64> = rows.iter().map(|r| r.data["n"].as_i64().unwrap()).collect();
    assert_eq!(
        readings,
        (0..OFFLINE + ONLINE).collect::<Vec<_>>(),
        "each reading stored once, in order"
    );
    let seqs: Vec<u64> = rows.iter().map(|r| r.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "seqs not contiguous: {seqs:?}"
    );
    let m = &running.validator.metrics;
    assert_eq!(m.accepted.load(Ordering::SeqCst), total);
    assert_eq!(m.forwarded.load(Ordering::SeqCst), total);
    assert_eq!(m.forward_duplicates.load(Ordering::SeqCst), 0);
    let replays = m.refused_count(fog_validator::code::REPLAY);
    // A resend after a lost answer is refused as a replay; the gateway must not count it again.
    assert!(
        gateway_metrics.contains(&format!("edge_gateway_delivered_total {total}\n")),
        "{gateway_metrics}"
    );
    assert_eq!(sink.client.counts().await.unwrap().total, total);
    println!(
        "{total} messages ({OFFLINE} queued across the restart) stored once; seqs {}..={}; \
         replays refused by the validator: {replays}",
        seqs[0],
        seqs[seqs.len() - 1]
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banned_gateway_stops_at_the_first_1003_keeping_its_queue_while_an_honest_one_sends() {
    const READINGS: i64 = 6;
    let dir = tempfile::tempdir().unwrap();
    let pki = CentrePki::start(dir.path()).await;
    let sink = SqliteSink::start(&dir.path().join("sink.db")).await;
    let honest = TestDevice::new(Algorithm::ES256, NodeType::Gateway);
    let banned = TestDevice::new(Algorithm::ES256, NodeType::Gateway);
    let banned_record = banned.with_record(|r| r.banned = true);
    let source = Arc::new(StaticRegistryFeed::new(vec![
        honest.record.clone(),
        banned_record,
    ]));
    let validator_addr = free_addr();
    let running = start_validator(&pki, dir.path(), validator_addr, &sink.url, source).await;
    let validator = running.validator.clone();

    let banned_files = GatewayFiles::new(&dir.path().join("banned"), &pki, &banned, validator_addr);
    let banned_config = banned_files.config("run", 0..READINGS, free_addr());
    let log_path = dir.path().join("banned.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_edge-gateway"))
        .args(["run", "--config"])
        .arg(&banned_config)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut banned_gateway = ChildGuard(Some(child));

    let honest_files = GatewayFiles::new(&dir.path().join("honest"), &pki, &honest, validator_addr);
    // A weather sensor reads on and on, so the honest gateway is still sending after the ban.
    let honest_config = honest_files.dir.join("weather.toml");
    let text = format!(
        "{}[sensor]\nkind = \"weather\"\ninterval_ms = 100\n",
        honest_files.toml
    );
    std::fs::write(&honest_config, text).unwrap();
    let honest_gateway = run_gateway(&honest_config);

    let mut status = None;
    wait_for(
        Duration::from_secs(20),
        "the banned gateway to exit",
        || {
            status = banned_gateway.0.as_mut().unwrap().try_wait().unwrap();
            status.is_some()
        },
    )
    .await;
    assert_eq!(
        status.unwrap().code(),
        Some(3),
        "exit status of a banned gateway"
    );
    let refusals = validator.metrics.refused_count(fog_validator::code::BANNED);
    assert!(
        (1..=4).contains(&refusals),
        "one batch (at most 4) refused with 1003, got {refusals}"
    );
    // Nothing was dropped: the queue still starts at the first seq and has no gap.
    let queue = DiskQueue::<QueuedMessage>::open(&banned_files.queue()).unwrap();
    let left: Vec<u64> = queue
        .peek(100)
        .unwrap()
        .iter()
        .map(|(_, m)| m.seq)
        .collect();
    assert!(!left.is_empty(), "the unsent messages stay queued");
    assert!(left.windows(2).all(|w| w[1] == w[0] + 1), "gap in {left:?}");
    assert!(sink.rows(&banned.uuid).await.is_empty());
    let text = std::fs::read_to_string(&log_path).unwrap();
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.contains("banned on the registry; not sending until restarted after an unban")
        })
        .collect();
    assert_eq!(errors.len(), 1, "one clear error, got:\n{text}");
    assert!(errors[0].contains(&banned.uuid), "{}", errors[0]);
    assert!(
        errors[0].contains(&validator_addr.to_string()),
        "{}",
        errors[0]
    );

    // The honest gateway is unaffected and keeps sending readings taken after the ban.
    let before = validator.metrics.accepted.load(Ordering::SeqCst);
    wait_for(Duration::from_secs(20), "honest readings accepted", || {
        validator.metrics.accepted.load(Ordering::SeqCst) >= before + 3
    })
    .await;
    wait_for(Duration::from_secs(10), "honest rows stored", || {
        validator.forwarder.depth() == 0
    })
    .await;
    assert!(sink.rows(&honest.uuid).await.len() as u64 >= before + 3);
    assert!(
        honest_gateway.terminate().await,
        "honest gateway did not exit cleanly"
    );
    println!("banned gateway exited 3 after {refusals} refusal(s) with seqs {left:?} still queued");
    running.shutdown().await;
}
