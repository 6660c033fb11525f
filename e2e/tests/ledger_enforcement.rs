//! The ledger drives revocation: a ban or delete made without the centre (the `sf2c-registry` CLI
//! as a child process, our Gateway client as Org1's admin) revokes the device's certificates, a
//! real validator refuses its handshakes and closes its open connection, and a centre restarted
//! after bans committed while it was down revokes them from its checkpoint.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use device_record::NodeType;
use e2e::centre::Centre;
use e2e::device::Device;
use e2e::ledger::Ledger;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vpn_centre::autoban::AutoBanPolicy;

const POLL: Duration = Duration::from_millis(5);
const BANS: usize = 5;

/// `target/debug/sf2c-registry`, built if needed (cheap when up to date).
fn registry_cli() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args([
            "build",
            "-q",
            "-p",
            "registry-cli",
            "--bin",
            "sf2c-registry",
        ])
        .current_dir(&root)
        .status()
        .expect("run cargo build -p registry-cli");
    assert!(status.success(), "cargo build -p registry-cli failed");
    root.join("target/debug/sf2c-registry")
}

/// A registered, enrolled device of `node_type` in its own folder under `dir`.
async fn enrolled(dir: &Path, ledger: &Ledger, centre: &Centre, node_type: NodeType) -> Device {
    let sub = dir.join(format!("dev-{}", test_support::fabric::unique_uuid()));
    std::fs::create_dir_all(&sub).unwrap();
    let mut device = Device::keygen(&sub, node_type);
    ledger
        .register(&device.uuid, node_type, &device.public_key)
        .await;
    centre.enrol(&mut device).await;
    device
}

fn cert_der(device: &Device) -> Vec<u8> {
    let pem = std::fs::read(&device.tls().cert).unwrap();
    rustls::pki_types::pem::PemObject::from_pem_slice(&pem)
        .map(|d: rustls::pki_types::CertificateDer<'static>| d.to_vec())
        .unwrap()
}

/// Whether the CRL the centre serves (fetched over HTTP, as validators do) lists `cert`.
async fn crl_lists(centre: &Centre, cert: &[u8]) -> bool {
    let der = vpn_pki::fetch_crl(&centre.crl_url()).await.unwrap();
    let verifier = vpn_pki::CrlClientVerifier::new(centre.pki.ca_pem(), Some(&der), false).unwrap();
    // Resolves at once when listed (a timeout polls its future once before its deadline).
    tokio::time::timeout(Duration::ZERO, verifier.until_revoked(cert))
        .await
        .is_ok()
}

/// Polls `check` every [`POLL`] until it holds; the time taken, or a panic after `limit`.
async fn time_until<F, Fut>(from: Instant, limit: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    loop {
        if check().await {
            return from.elapsed();
        }
        assert!(from.elapsed() < limit, "{what} not seen within {limit:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// A validator on 127.0.0.1:0 with the default CRL refresh (500 ms) and no reachable sink.
async fn validator(
    dir: &Path,
    ledger: &Ledger,
    centre: &Centre,
) -> fog_validator::RunningValidator {
    let device = enrolled(dir, ledger, centre, NodeType::Validator).await;
    e2e::validator::start(dir, &device, centre, "http://127.0.0.1:9", ledger).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bans_by_the_cli_and_a_delete_by_the_gateway_client_revoke_and_close_connections() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::connect().await;
    let cli = registry_cli();
    let centre = Centre::start(
        dir.path(),
        &ledger.centre_settings(),
        AutoBanPolicy::default(),
    )
    .await;
    let fog = validator(dir.path(), &ledger, &centre).await;
    let settings = ledger.centre_settings();

    let (mut to_crl, mut to_refusal) = (Vec::new(), Vec::new());
    for i in 0..=BANS {
        let gw = enrolled(dir.path(), &ledger, &centre, NodeType::Gateway).await;
        let cert = cert_der(&gw);
        let mut held = open(&gw, fog.addr)
            .await
            .expect("an enrolled gateway's keep-alive connection is admitted");
        assert!(!crl_lists(&centre, &cert).await);
        let committed = if i < BANS {
            let out = tokio::process::Command::new(&cli)
                .arg("--network")
                .arg(&settings.network)
                .args([
                    "--org",
                    "Org1",
                    "--identity",
                    "admin",
                    "ban",
                    &gw.uuid,
                    "--reason",
                ])
                .arg("ledger enforcement test")
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "sf2c-registry ban: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Instant::now()
        } else {
            // A second path: DeleteDevice through our Gateway client as Org1's admin.
            ledger
                .net
                .contract("Org1", "admin")
                .await
                .submit("DeleteDevice", &[gw.uuid.as_bytes()])
                .await
                .unwrap();
            Instant::now()
        };
        to_crl.push(
            time_until(
                committed,
                Duration::from_secs(2),
                "the revoked serial in the CRL",
                || crl_lists(&centre, &cert),
            )
            .await,
        );
        to_refusal.push(
            time_until(
                committed,
                Duration::from_secs(3),
                "TLS refusal at the validator",
                || async { matches!(open(&gw, fog.addr).await, Err(Refused::Tls(_))) },
            )
            .await,
        );
        assert!(
            closed_within(&mut held, Duration::from_secs(1)).await,
            "the validator kept the revoked gateway's open connection"
        );
    }
    let closed = fog
        .validator
        .metrics
        .revoked_connections_closed
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(closed >= (BANS + 1) as u64, "{closed} connections closed");
    // Each first TLS failure above was the revocation: refused in the handshake, or admitted
    // while the new CRL was being installed and closed by it right after (besides the held ones).
    let refused = fog
        .validator
        .metrics
        .tls_handshake_failures
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        refused + closed >= 2 * (BANS + 1) as u64,
        "{refused} handshakes refused, {closed} connections closed"
    );
    let (c50, cmax) = p50_max(to_crl);
    let (t50, tmax) = p50_max(to_refusal);
    println!(
        "{} revocations (CLI bans and a delete): commit -> CRL p50 {c50:?} max {cmax:?}; \
         commit -> TLS refusal p50 {t50:?} max {tmax:?}",
        BANS + 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_centre_revokes_bans_committed_while_it_was_down() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::connect().await;
    let centre = Centre::start(
        dir.path(),
        &ledger.centre_settings(),
        AutoBanPolicy::default(),
    )
    .await;
    let gw = enrolled(dir.path(), &ledger, &centre, NodeType::Gateway).await;
    let cert = cert_der(&gw);
    // The follower has saved its starting position once the checkpoint file exists.
    let checkpoint = dir
        .path()
        .join(vpn_centre::ledger_follower::CHECKPOINT_FILE);
    time_until(
        Instant::now(),
        Duration::from_secs(20),
        "the follower's checkpoint",
        || async { checkpoint.exists() },
    )
    .await;
    drop(centre);
    ledger
        .net
        .contract("Org1", "admin")
        .await
        .submit(
            "BanDevice",
            &[gw.uuid.as_bytes(), &b"banned while the centre was down"[..]],
        )
        .await
        .unwrap();
    let centre = Centre::start(
        dir.path(),
        &ledger.centre_settings(),
        AutoBanPolicy::default(),
    )
    .await;
    let took = time_until(
        Instant::now(),
        Duration::from_secs(10),
        "revocation after restart",
        || crl_lists(&centre, &cert),
    )
    .await;
    println!("restarted centre revoked the ban committed while it was down in {took:?}");
}

/// Why [`open`] got no keep-alive connection.
#[derive(Debug)]
#[allow(dead_code)] // The texts are read through `Debug`, in panic messages.
enum Refused {
    /// The TLS handshake or the connection failed (a revoked certificate ends here).
    Tls(String),
    /// TLS was accepted but the HTTP answer was not 200 (e.g. the registry ban).
    Http(String),
}

/// A TLS connection to `addr` as `device`, after one keep-alive request was answered 200 (so
/// the server accepted the certificate).
async fn open(device: &Device, addr: std::net::SocketAddr) -> Result<Stream, Refused> {
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    let tls = device.tls();
    let config = vpn_pki::client_config(&read(&tls.ca), &read(&tls.cert), &read(&tls.key)).unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| Refused::Tls(e.to_string()))?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut stream = connector
        .connect(name, tcp)
        .await
        .map_err(|e| Refused::Tls(e.to_string()))?;
    let request = "GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: keep-alive\r\n\r\n";
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| Refused::Tls(e.to_string()))?;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .map_err(|_| Refused::Tls("no answer within 5 s".into()))?
        .map_err(|e| Refused::Tls(e.to_string()))?;
    let answer = String::from_utf8_lossy(&buf[..n]).to_string();
    match answer {
        a if a.is_empty() => Err(Refused::Tls("closed without an answer".into())),
        a if a.starts_with("HTTP/1.1 200") => Ok(stream),
        a => Err(Refused::Http(
            a.lines().next().unwrap_or_default().to_string(),
        )),
    }
}

type Stream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// Waits until the server closes `stream`; returns whether it did within `limit`.
async fn closed_within(stream: &mut Stream, limit: Duration) -> bool {
    let mut buf = [0u8; 256];
    matches!(
        tokio::time::timeout(limit, stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

fn p50_max(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() - 1])
}
