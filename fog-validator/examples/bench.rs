//! Throughput and latency of the validator's accept path, beside the raw RSA-2048 verify rate measured in
//! the same run. Run: `cargo run --release -p fog-validator --example bench [-- MESSAGES BATCH CONNECTIONS]`.
//!
//! The validator runs on a tokio current_thread runtime (one core for its async work; the spool's
//! SQLite writes go to tokio's blocking pool); the load generator runs on its own thread with
//! pre-signed RS256 messages over keep-alive HTTPS connections. The cloud sink is left unreachable, so
//! accepted records only pile up in the spool: this measures acceptance, not delivery.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair, UnparsedPublicKey};
use bytes::Bytes;
use device_record::NodeType;
use fog_validator::testkit::TestDevice;
use fog_validator::validator::now_ms;
use fog_validator::{Config, StaticRegistrySource};
use http_body_util::{BodyExt, Full};
use rustls::pki_types::{CertificateDer, ServerName};
use signed_message::Algorithm;

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let total = args.first().copied().unwrap_or(4000);
    let batch = args.get(1).copied().unwrap_or(50);
    let connections = args.get(2).copied().unwrap_or(4);

    let raw = raw_rsa_verify_rate();
    let (pipeline, _) = in_process_rate(total.min(2000));

    let dir = tempfile::tempdir()?;
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()])?;
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem())?;
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem())?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(cert.cert.der().to_vec()))?;
    let client_tls = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );

    eprintln!("generating {connections} RSA-2048 gateways and signing {total} messages...");
    let mut devices: Vec<TestDevice> = (0..connections)
        .map(|_| TestDevice::new(Algorithm::RS256, NodeType::Gateway))
        .collect();
    let source = Arc::new(StaticRegistrySource::new(
        devices.iter().map(|d| d.record.clone()).collect(),
    ));
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
        data_dir: dir.path().join("data"),
        sink_url: "http://127.0.0.1:9".into(),
        tls_cert: Some(dir.path().join("cert.pem")),
        tls_key: Some(dir.path().join("key.pem")),
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
            let running = fog_validator::start(&config, source).await?;
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
    let (elapsed, mut latencies, accepted) = rt.block_on(async move {
        let started = Instant::now();
        let tasks: Vec<_> = bodies
            .into_iter()
            .map(|bodies| {
                let tls = client_tls.clone();
                tokio::spawn(async move {
                    let tcp = tokio::net::TcpStream::connect(addr).await?;
                    tcp.set_nodelay(true)?;
                    let stream = tokio_rustls::TlsConnector::from(tls)
                        .connect(ServerName::try_from("127.0.0.1")?, tcp)
                        .await?;
                    let (mut sender, conn) =
                        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                            .await?;
                    tokio::spawn(conn);
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
    let rate = accepted as f64 / elapsed.as_secs_f64();
    println!(
        "fog-validator accept path, RS256 (RSA-2048), batches of {batch}, {connections} keep-alive HTTPS connections"
    );
    println!("{:<48} {:>14}", "measure", "value");
    println!(
        "{:<48} {:>14.0}",
        "raw RSA-2048 PKCS#1 verify/s (aws-lc-rs, 1 thread)", raw
    );
    println!(
        "{:<48} {:>14.0}",
        "decode+lookup+verify+replay/s (in-process)", pipeline
    );
    println!(
        "{:<48} {:>14.0}",
        "validator accepted msgs/s (HTTPS, 1 core)", rate
    );
    println!(
        "{:<48} {:>14}",
        "messages accepted / sent",
        format!("{accepted}/{}", per_conn * connections)
    );
    println!("{:<48} {:>14.2}", "batch latency p50 (ms)", ms(pct(0.50)));
    println!("{:<48} {:>14.2}", "batch latency p99 (ms)", ms(pct(0.99)));
    println!(
        "{:<48} {:>14.3}",
        "ratio validator / raw verify",
        rate / raw
    );
    println!(
        "{:<48} {:>14.3}",
        "ratio in-process pipeline / raw verify",
        pipeline / raw
    );
    Ok(())
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
        let Ok(u) = fog_validator::checks::decode(m, 64 * 1024) else {
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
