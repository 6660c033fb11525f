//! The sink over mutual TLS with certificates from a real VPN Centre CA and a CRL served over loopback: who gets in, and revocation.

mod support;
mod tls_support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cloud_sink::tls::{SinkTls, TlsError};
use sink_api::{SinkClient, SinkError};
use support::{DEVICE_A, DEVICE_B, records};
use tls_support::{Pki, TlsSink, expect_tls_refusal, serve_crl, uuid};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validator_with_a_centre_certificate_ingests_and_reads_back() {
    let mut sink = TlsSink::start(Duration::from_secs(2)).await;
    let client = sink.validator(10);
    let batch = records(DEVICE_A, 1..=5);
    let answer = client.ingest(&batch).await.unwrap();
    assert_eq!((answer.stored, answer.duplicates), (5, 0));
    client.health().await.unwrap();
    assert_eq!(sink.reader(12).counts().await.unwrap().total, 5);

    // Graceful shutdown: the serve future ends cleanly and the port stops answering.
    sink.stop.take().unwrap().send(()).unwrap();
    let served = tokio::time::timeout(Duration::from_secs(10), &mut sink.served.0)
        .await
        .expect("server stops within 10 s");
    served.unwrap().unwrap();
    let after = sink.validator(11).ingest(&batch).await.unwrap_err();
    assert!(
        matches!(after, SinkError::Unavailable { .. }),
        "after shutdown: {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_without_a_certificate_from_the_centre_are_refused() {
    let sink = TlsSink::start(Duration::from_secs(2)).await;
    let batch = records(DEVICE_A, 1..=3);

    expect_tls_refusal(sink.client(None).ingest(&batch).await, "no certificate");

    // Same UUID and shape of certificate, signed by another CA.
    let rogue = Pki::new("Rogue CA");
    let forged = rogue.validator(10);
    expect_tls_refusal(
        sink.client(Some(&forged)).ingest(&batch).await,
        "certificate from another CA",
    );

    // A client that does not trust the sink's CA refuses the sink.
    let legit = sink.pki.validator(12);
    let distrustful = SinkClient::builder(&sink.url)
        .ca_pem(rogue.ca.cert_pem())
        .client_cert_pem(&legit.cert, &legit.key)
        .build()
        .unwrap();
    expect_tls_refusal(distrustful.ingest(&batch).await, "sink not trusted");

    // Nothing of the refused batches reached the store.
    assert_eq!(sink.reader(13).counts().await.unwrap().total, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_certificate_is_refused_on_new_connections_within_seconds() {
    let refresh = Duration::from_millis(500);
    let sink = TlsSink::start(refresh).await;
    let banned = sink.pki.validator(20);
    let other = sink.pki.validator(21);
    let before = sink
        .client(Some(&banned))
        .ingest(&records(DEVICE_A, 1..=2))
        .await
        .unwrap();
    assert_eq!(before.stored, 2);

    sink.pki.revoke(&uuid(20));
    let start = Instant::now();
    loop {
        // A fresh client each time: revocation applies to new connections.
        match sink
            .client(Some(&banned))
            .ingest(&records(DEVICE_A, 3..=3))
            .await
        {
            Ok(_) => assert!(
                start.elapsed() < Duration::from_secs(5),
                "revoked certificate still admitted after 5 s"
            ),
            // Admitted while the new CRL was being installed, then closed by it: the next
            // connection is refused in the handshake.
            Err(sink_api::SinkError::Unavailable { .. }) => {}
            Err(e) => {
                expect_tls_refusal(Err::<(), _>(e), "revoked certificate");
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "revoked certificate refused {} ms after revocation (CRL refresh every {} ms)",
        start.elapsed().as_millis(),
        refresh.as_millis()
    );

    let still = sink
        .client(Some(&other))
        .ingest(&records(DEVICE_B, 1..=2))
        .await
        .unwrap();
    assert_eq!(still.stored, 2);
}

#[tokio::test]
async fn sink_does_not_start_without_a_first_crl() {
    let pki = Pki::new("SF2C Test VPN Centre CA");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let unreachable = pki.sink_settings(
        &format!("http://{closed}/v1/pki/crl"),
        Duration::from_secs(2),
    );
    match SinkTls::start(&unreachable).await {
        Err(e @ TlsError::FirstCrl(_)) => assert!(e.to_string().contains("crl_url"), "{e}"),
        Err(e) => panic!("expected FirstCrl, got {e}"),
        Ok(_) => panic!("started without a CRL"),
    }

    // A CRL signed by someone else is no CRL at all.
    let rogue = Pki::new("Rogue CA");
    let (rogue_url, _guard) = serve_crl(rogue).await;
    let forged = pki.sink_settings(&rogue_url, Duration::from_secs(2));
    assert!(matches!(
        SinkTls::start(&forged).await,
        Err(TlsError::FirstCrl(vpn_pki::CrlFetchError::Rejected { .. }))
    ));
}

/// The `cloud-sink` binary as a child process; killed when dropped.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl ChildGuard {
    fn spawn(args: &[&str]) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_cloud-sink"))
            .args(args)
            .env_remove("SF2C_SINK_LISTEN")
            .env_remove("SF2C_SINK_DATABASE")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the cloud-sink binary");
        Self(child)
    }

    /// Waits up to `limit` for the process to exit; returns its success and stderr.
    fn finish(&mut self, limit: Duration) -> (bool, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "cloud-sink still running");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = self.0.stderr.take() {
            use std::io::Read;
            let _ = pipe.read_to_string(&mut stderr);
        }
        (status.success(), stderr)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_https_from_flags_and_refuses_unsafe_setups() {
    let pki = Pki::new("SF2C Test VPN Centre CA");
    let (crl_url, _crl) = serve_crl(pki.clone()).await;
    let settings = pki.sink_settings(&crl_url, Duration::from_secs(1));
    let db = tempfile::tempdir().unwrap();
    let database = format!("sqlite:{}", db.path().join("sink.db").display());
    let port = test_support::free_port();
    let listen = format!("127.0.0.1:{port}");
    let path = |p: &PathBuf| p.display().to_string();
    let (cert, key, ca) = (
        path(&settings.cert),
        path(&settings.key),
        path(&settings.client_ca),
    );
    let tls_args = |listen: &str, crl_url: &str| -> Vec<String> {
        [
            "serve",
            "--listen",
            listen,
            "--database",
            &database,
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--client-ca",
            &ca,
            "--crl-url",
            crl_url,
        ]
        .map(String::from)
        .to_vec()
    };

    let args = tls_args(&listen, &crl_url);
    let mut sink = ChildGuard::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let validator = pki.validator(30);
    let client = SinkClient::builder(&format!("https://{listen}"))
        .ca_file(&settings.client_ca)
        .client_cert_pem(&validator.cert, &validator.key)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.health().await.is_err() {
        assert!(sink.0.try_wait().unwrap().is_none(), "cloud-sink exited");
        assert!(
            Instant::now() < deadline,
            "cloud-sink not healthy after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        client
            .ingest(&records(DEVICE_A, 1..=4))
            .await
            .unwrap()
            .stored,
        4
    );
    unsafe { libc::kill(sink.0.id() as i32, libc::SIGTERM) };
    let (clean, _) = sink.finish(Duration::from_secs(10));
    assert!(clean, "HTTPS sink must exit cleanly on SIGTERM");

    let closed: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let args = tls_args(&listen, &format!("http://{closed}/v1/pki/crl"));
    let (ok, stderr) = ChildGuard::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .finish(Duration::from_secs(30));
    assert!(!ok && stderr.contains("first CRL fetch failed"), "{stderr}");

    let (ok, stderr) = ChildGuard::spawn(&[
        "serve",
        "--listen",
        &format!("0.0.0.0:{port}"),
        "--database",
        &database,
    ])
    .finish(Duration::from_secs(30));
    assert!(!ok && stderr.contains("refusing plain HTTP"), "{stderr}");

    let (ok, stderr) = ChildGuard::spawn(&[
        "serve",
        "--listen",
        &listen,
        "--database",
        &database,
        "--tls-cert",
        &cert,
    ])
    .finish(Duration::from_secs(30));
    assert!(
        !ok && stderr.contains("tls_key, client_ca, crl_url"),
        "{stderr}"
    );
}
