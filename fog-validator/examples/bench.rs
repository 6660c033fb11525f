//! Throughput and latency of the validator's accept path with gateway mutual TLS and, as the baseline,
//! with `client_auth = false`, beside the raw RSA-2048 verify rate measured in the same run; plus the
//! rate of fresh TLS handshakes in both modes. Run:
//! `cargo run --release -p fog-validator --example bench [-- MESSAGES BATCH CONNECTIONS]`.
//!
//! The validator runs on a tokio current_thread runtime (one core for its async work; the spool's
//! SQLite writes go to tokio's blocking pool); the load generator runs on its own thread with
//! pre-signed RS256 messages over keep-alive HTTPS connections. The cloud sink is left unreachable, so
//! accepted records only pile up in the spool: this measures acceptance, not delivery.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair, UnparsedPublicKey};
use bytes::Bytes;
use device_record::NodeType;
use fog_validator::Config;
use fog_validator::validator::now_ms;
use http_body_util::{BodyExt, Full};
use rustls::pki_types::ServerName;
use signed_message::Algorithm;
use test_doubles::StaticRegistryFeed;
use test_doubles::TestDevice;
use test_support::pki::{CrlServer, Issued, issue_as, unix_now, write_files};
use vpn_pki::{CertRole, CertificateAuthority, Revocations};

/// Certificates for one run: an in-test CA, the validator's certificate, one client certificate per
/// gateway, and the CA's CRL served over HTTP.
struct Pki {
    ca: CertificateAuthority,
    ca_file: std::path::PathBuf,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    crl_url: String,
    // Declared before its runtime, so it stops before the runtime goes.
    _crl: CrlServer,
    _crl_runtime: tokio::runtime::Runtime,
}

impl Pki {
    fn new(dir: &std::path::Path) -> anyhow::Result<Pki> {
        let now = unix_now();
        let ca =
            CertificateAuthority::generate("SF2C-BC bench CA", Duration::from_secs(86400), now)?;
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca.cert_pem())?;
        let own = issue(
            &ca,
            &uuid::Uuid::new_v4().to_string(),
            CertRole::ClientAndServer,
        );
        let (cert, key) = write_files(dir, "validator", &own);
        let db = vpn_pki::open_database(&dir.join("pki.db"))?;
        let crl = Revocations::new(&db).crl_der(&ca, now, Duration::from_secs(3600))?;
        // Its own worker thread, so the CRL is served while the validators run elsewhere.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let server = runtime.block_on(CrlServer::start(move || Ok::<_, Infallible>(crl.clone())));
        Ok(Pki {
            ca,
            ca_file,
            cert,
            key,
            crl_url: server.url().to_string(),
            _crl: server,
            _crl_runtime: runtime,
        })
    }

    /// A client trusting the CA, presenting a certificate for `uuid` when given.
    fn client(&self, uuid: Option<&str>) -> anyhow::Result<Arc<rustls::ClientConfig>> {
        let config = match uuid {
            Some(uuid) => {
                let issued = issue(&self.ca, uuid, CertRole::Client);
                vpn_pki::client_config(self.ca.cert_pem(), &issued.cert_pem, &issued.key_pem)?
            }
            None => {
                let mut roots = rustls::RootCertStore::empty();
                roots.add(self.ca.cert_der().clone())?;
                rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::aws_lc_rs::default_provider(),
                ))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth()
            }
        };
        Ok(Arc::new(config))
    }
}

/// A leaf for `uuid` with no role, as the benchmark has always used.
fn issue(ca: &CertificateAuthority, uuid: &str, usage: CertRole) -> Issued {
    issue_as(ca, uuid, usage, None)
}

/// What one run of the validator measured.
struct Figures {
    rate: f64,
    accepted: usize,
    sent: usize,
    p50: Duration,
    p99: Duration,
    handshakes_per_sec: f64,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let total = args.first().copied().unwrap_or(4000);
    let batch = args.get(1).copied().unwrap_or(50);
    let connections = args.get(2).copied().unwrap_or(4).max(1);

    let raw = raw_rsa_verify_rate();
    let (pipeline, _) = in_process_rate(total.min(2000));
    let dir = tempfile::tempdir()?;
    let pki = Pki::new(dir.path())?;

    let mtls = run(&pki, dir.path(), true, total, batch, connections)?;
    let plain = run(&pki, dir.path(), false, total, batch, connections)?;

    println!(
        "fog-validator accept path, RS256 (RSA-2048), batches of {batch}, {connections} keep-alive HTTPS connections"
    );
    println!("{:<52} {:>14} {:>14}", "measure", "mTLS", "server TLS");
    println!(
        "{:<52} {:>14.0}",
        "raw RSA-2048 PKCS#1 verify/s (aws-lc-rs, 1 thread)", raw
    );
    println!(
        "{:<52} {:>14.0}",
        "decode+lookup+verify+replay/s (in-process)", pipeline
    );
    let row = |name: &str, a: String, b: String| println!("{name:<52} {a:>14} {b:>14}");
    row(
        "validator accepted msgs/s (HTTPS, 1 core)",
        format!("{:.0}", mtls.rate),
        format!("{:.0}", plain.rate),
    );
    row(
        "messages accepted / sent",
        format!("{}/{}", mtls.accepted, mtls.sent),
        format!("{}/{}", plain.accepted, plain.sent),
    );
    row(
        "batch latency p50 (ms)",
        format!("{:.2}", ms(mtls.p50)),
        format!("{:.2}", ms(plain.p50)),
    );
    row(
        "batch latency p99 (ms)",
        format!("{:.2}", ms(mtls.p99)),
        format!("{:.2}", ms(plain.p99)),
    );
    row(
        "new connections/s (full handshake + GET /healthz)",
        format!("{:.0}", mtls.handshakes_per_sec),
        format!("{:.0}", plain.handshakes_per_sec),
    );
    row(
        "ratio validator / raw verify",
        format!("{:.3}", mtls.rate / raw),
        format!("{:.3}", plain.rate / raw),
    );
    println!(
        "{:<52} {:>14.3}",
        "ratio in-process pipeline / raw verify",
        pipeline / raw
    );
    Ok(())
}

/// Starts a validator (gateway mTLS on or off) on its own one-core runtime, sends `total` pre-signed
/// messages over `connections` keep-alive connections, then measures fresh handshakes.
fn run(
    pki: &Pki,
    dir: &std::path::Path,
    mtls: bool,
    total: usize,
    batch: usize,
    connections: usize,
) -> anyhow::Result<Figures> {
    eprintln!(
        "mTLS {}: generating {connections} RSA-2048 gateways and signing {total} messages...",
        if mtls { "on" } else { "off" }
    );
    let mut devices: Vec<TestDevice> = (0..connections)
        .map(|_| TestDevice::new(Algorithm::RS256, NodeType::Gateway))
        .collect();
    let feed = Arc::new(StaticRegistryFeed::new(
        devices.iter().map(|d| d.record.clone()).collect(),
    ));
    let clients = devices
        .iter()
        .map(|d| pki.client(mtls.then_some(d.uuid.as_str())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let now = now_ms();
    // One device per connection, so each connection's sequence numbers arrive in order.
    let per_conn = total / connections;
    let bodies: Vec<Vec<Vec<u8>>> = devices
        .iter_mut()
        .map(|device| {
            (0..per_conn)
                .collect::<Vec<_>>()
                .chunks(batch)
                .map(|chunk| {
                    let entries: Vec<serde_json::Value> = chunk
                        .iter()
                        .map(|i| serde_json::json!({"jsonrpc":"2.0","id":i,"method":"telemetry.submit","params":{"message": device.next_message(now)}}))
                        .collect();
                    serde_json::to_vec(&entries).unwrap_or_default()
                })
                .collect()
        })
        .collect();

    let config = Config {
        id: "fog-bench".into(),
        listen: "127.0.0.1:0".parse()?,
        data_dir: dir.join(if mtls { "data-mtls" } else { "data-plain" }),
        sink_url: "http://127.0.0.1:9".into(),
        tls_cert: Some(pki.cert.clone()),
        tls_key: Some(pki.key.clone()),
        client_auth: mtls,
        client_ca: mtls.then(|| pki.ca_file.clone()),
        crl_url: mtls.then(|| pki.crl_url.clone()),
        limits: fog_validator::config::Limits {
            max_batch: batch.max(1),
            max_body_bytes: 16 * 1024 * 1024,
            ..Default::default()
        },
        ..Config::default()
    };
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let running = fog_validator::start(&config, feed).await?;
            addr_tx.send(running.addr)?;
            let _ = stop_rx.await;
            running.shutdown().await;
            anyhow::Ok(())
        })
    });
    let addr = addr_rx.recv()?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let handshake_client = clients[0].clone();
    let (elapsed, mut latencies, accepted) = rt.block_on(async move {
        let started = Instant::now();
        let tasks: Vec<_> = bodies
            .into_iter()
            .zip(clients)
            .map(|(bodies, tls)| {
                tokio::spawn(async move {
                    let mut sender = connect(addr, tls).await?;
                    let mut latencies = Vec::new();
                    let mut accepted = 0usize;
                    for body in bodies {
                        let req = hyper::Request::post("/")
                            .header("host", "127.0.0.1")
                            .body(Full::new(Bytes::from(body)))?;
                        let t = Instant::now();
                        let resp = sender.send_request(req).await?;
                        let bytes = resp.into_body().collect().await?.to_bytes();
                        latencies.push(t.elapsed());
                        let answers: Vec<serde_json::Value> = serde_json::from_slice(&bytes)?;
                        accepted += answers
                            .iter()
                            .filter(|a| a["result"]["accepted"] == true)
                            .count();
                    }
                    anyhow::Ok((latencies, accepted))
                })
            })
            .collect();
        let mut all = Vec::new();
        let mut accepted = 0;
        for task in tasks {
            let (latencies, n) = task.await??;
            all.extend(latencies);
            accepted += n;
        }
        anyhow::Ok((started.elapsed(), all, accepted))
    })?;
    let handshakes_per_sec = rt.block_on(handshake_rate(addr, handshake_client, 200))?;
    let _ = stop_tx.send(());
    server
        .join()
        .map_err(|_| anyhow::anyhow!("validator thread panicked"))??;

    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Ok(Figures {
        rate: accepted as f64 / elapsed.as_secs_f64(),
        accepted,
        sent: per_conn * connections,
        p50: pct(0.50),
        p99: pct(0.99),
        handshakes_per_sec,
    })
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// A TLS connection to the validator, ready for HTTP/1.1 requests.
async fn connect(
    addr: std::net::SocketAddr,
    tls: Arc<rustls::ClientConfig>,
) -> anyhow::Result<Sender> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(ServerName::try_from("127.0.0.1")?, tcp)
        .await?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Fresh connections per second, one after another, each doing a full handshake and one `GET /healthz`.
async fn handshake_rate(
    addr: std::net::SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    n: usize,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    for _ in 0..n {
        let mut sender = connect(addr, tls.clone()).await?;
        let req = hyper::Request::get("/healthz")
            .header("host", "127.0.0.1")
            .body(Full::new(Bytes::new()))?;
        let resp = sender.send_request(req).await?;
        anyhow::ensure!(
            resp.status().is_success(),
            "healthz answered {}",
            resp.status()
        );
        resp.into_body().collect().await?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// RSA-2048 PKCS#1 v1.5 SHA-256 verifications per second with a parsed key, one thread.
fn raw_rsa_verify_rate() -> f64 {
    let Ok(pair) = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048) else {
        return 0.0;
    };
    let message = b"eyJhbGciOiJSUzI1NiJ9.eyJzZXEiOjF9";
    let mut sig = vec![0; pair.public_modulus_len()];
    let rng = aws_lc_rs::rand::SystemRandom::new();
    if pair
        .sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
        .is_err()
    {
        return 0.0;
    }
    let key = UnparsedPublicKey::new(
        &signature::RSA_PKCS1_2048_8192_SHA256,
        pair.public_key().as_ref().to_vec(),
    );
    let Ok(parsed) = key.parse() else { return 0.0 };
    // Warm up first, so frequency scaling and cache misses do not count against the baseline.
    for _ in 0..1000 {
        let _ = std::hint::black_box(parsed.verify_sig(message, &sig));
    }
    let n = 5000;
    let start = Instant::now();
    for _ in 0..n {
        let _ = std::hint::black_box(parsed.verify_sig(message, &sig));
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Messages per second through decode, cache lookup, authorize and the replay guard, without HTTP or the spool.
fn in_process_rate(n: usize) -> (f64, usize) {
    use fog_validator::registry::cache::RegistryCache;
    use fog_validator::replay::ReplayGuard;
    let mut device = TestDevice::new(Algorithm::RS256, NodeType::Gateway);
    let cache = RegistryCache::new();
    cache.load_snapshot(vec![device.record.clone()], 1);
    let replay = ReplayGuard::in_memory(300_000);
    let now = now_ms();
    let messages: Vec<String> = (0..n).map(|_| device.next_message(now)).collect();
    let start = Instant::now();
    let mut ok = 0;
    for m in &messages {
        let anonymous = fog_validator::caller::CallerIdentity::Anonymous;
        let Ok(u) = fog_validator::checks::decode(m, 64 * 1024, anonymous) else {
            continue;
        };
        let dev = cache.get(&u.claims().device);
        if let Ok(c) = fog_validator::checks::authorize(&u, dev.as_deref())
            && replay.accept(&c.device, c.seq, c.ts, now).is_ok()
        {
            ok += 1;
        }
    }
    (ok as f64 / start.elapsed().as_secs_f64(), ok)
}
