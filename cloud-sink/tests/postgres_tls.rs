//! The sink reaches a real PostgreSQL (ssl on or off, certificates from test CAs) in each sslmode.

mod pg_tls_support;
mod support;

use std::time::Duration;

use cloud_sink::pg_tls::SslMode;
use cloud_sink::{Database, Store, StoreError};
use pg_tls_support::{Sink, TestCa, plain_server, rows_of, sessions_ssl, tls_server, url_with};
use support::{DEVICE_A, DEVICE_B, records};

/// Opens the sink's store and expects a TLS refusal; returns (mode, check, whole message).
async fn refused(url: &str) -> (SslMode, String, String) {
    let error = match Database::open(url).await {
        Err(error) => error,
        Ok(_) => panic!("connected although TLS should have refused: {url}"),
    };
    let text = error.to_string();
    match error {
        StoreError::PostgresTls { mode, check, .. } => (mode, check, text),
        other => panic!("expected a TLS refusal, got: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_from_the_url_stores_rows_over_tls() {
    let ca = TestCa::new("sf2c test PostgreSQL CA");
    let pg = tls_server(&ca, &["127.0.0.1", "localhost"]).await;
    // By address (IP SAN) and by name (DNS SAN): both checked against the certificate.
    for (host, app) in [("127.0.0.1", "sink-by-ip"), ("localhost", "sink-by-name")] {
        let url = url_with(
            &pg,
            &format!(
                "sslmode=verify-full&sslrootcert={}&application_name={app}",
                ca.file().display()
            ),
        )
        .replace("127.0.0.1", host);
        let store = Database::open(&url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let answer = store.ingest(records(DEVICE_A, 1..=5)).await.unwrap();
        assert_eq!(answer.stored + answer.duplicates, 5);
        let sessions = sessions_ssl(&pg, app).await;
        assert!(!sessions.is_empty(), "no session named {app}");
        for (ssl, version) in &sessions {
            assert!(*ssl, "pg_stat_ssl says a {app} session is not encrypted");
            assert!(
                version.as_deref().is_some_and(|v| v.starts_with("TLSv1.")),
                "{version:?}"
            );
        }
    }
    assert_eq!(rows_of(&pg, DEVICE_A).await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_with_postgres_sslmode_flags_ingests_over_tls() {
    let ca = TestCa::new("sf2c test PostgreSQL CA");
    let pg = tls_server(&ca, &["127.0.0.1"]).await;
    let ca_file = ca.file();
    let mut sink = Sink::spawn(
        &url_with(&pg, "application_name=sf2c-sink-binary"),
        &[
            "--postgres-sslmode",
            "verify-full",
            "--postgres-sslrootcert",
            ca_file.to_str().unwrap(),
        ],
    );
    let client = sink.wait_healthy().await;
    let answer = client.ingest(&records(DEVICE_B, 1..=20)).await.unwrap();
    assert_eq!((answer.stored, answer.duplicates), (20, 0));
    assert_eq!(rows_of(&pg, DEVICE_B).await, 20);
    let sessions = sessions_ssl(&pg, "sf2c-sink-binary").await;
    assert!(sessions.len() >= 2, "the sink keeps a pool: {sessions:?}");
    assert!(sessions.iter().all(|(ssl, _)| *ssl), "{sessions:?}");
    let log = sink.stderr();
    assert!(
        log.contains("connected to PostgreSQL") && log.contains("sslmode=verify-full"),
        "{log}"
    );
    assert!(
        !log.contains("without TLS"),
        "no plaintext warning expected:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_refuses_a_certificate_from_another_ca() {
    let ours = TestCa::new("sf2c test PostgreSQL CA");
    let theirs = TestCa::new("someone else's CA");
    let pg = tls_server(&theirs, &["127.0.0.1", "localhost"]).await;
    let ca_file = ours.file();
    let url = url_with(
        &pg,
        &format!(
            "sslmode=verify-full&sslrootcert={}&application_name=refused",
            ca_file.display()
        ),
    );
    let (mode, check, text) = refused(&url).await;
    assert_eq!(mode, SslMode::VerifyFull);
    assert!(
        check.starts_with("certificate chain check failed"),
        "{check}"
    );
    assert!(
        check.contains(&ca_file.display().to_string()),
        "names the CA file: {check}"
    );
    assert!(
        text.contains("127.0.0.1") && text.contains("sslmode=verify-full"),
        "{text}"
    );
    assert!(sessions_ssl(&pg, "refused").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_refuses_a_certificate_for_another_host() {
    let ca = TestCa::new("sf2c test PostgreSQL CA");
    let pg = tls_server(&ca, &["db.example"]).await;
    let url = url_with(
        &pg,
        &format!("sslmode=verify-full&sslrootcert={}", ca.file().display()),
    );
    let (_, check, _) = refused(&url).await;
    assert!(check.starts_with("host name check failed"), "{check}");
    assert!(check.ends_with("not valid for 127.0.0.1"), "{check}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_encrypts_without_checking_and_no_sslmode_stays_plain() {
    let theirs = TestCa::new("a CA nobody configured");
    let pg = tls_server(&theirs, &["db.example"]).await;
    // require: any certificate will do, but the session is encrypted.
    let store = Database::open(&url_with(&pg, "sslmode=require&application_name=req"))
        .await
        .unwrap();
    store.ingest(records(DEVICE_A, 1..=3)).await.unwrap();
    let sessions = sessions_ssl(&pg, "req").await;
    assert!(
        !sessions.is_empty() && sessions.iter().all(|(ssl, _)| *ssl),
        "{sessions:?}"
    );
    // No sslmode anywhere: plain TCP as before, even though the server offers TLS.
    let store = Database::open(&url_with(&pg, "application_name=default"))
        .await
        .unwrap();
    store.health().await.unwrap();
    let sessions = sessions_ssl(&pg, "default").await;
    assert!(
        !sessions.is_empty() && sessions.iter().all(|(ssl, _)| !*ssl),
        "{sessions:?}"
    );
    assert_eq!(rows_of(&pg, DEVICE_A).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_and_verify_full_refuse_a_server_without_tls_and_disable_works() {
    let pg = plain_server().await;
    let ca = TestCa::new("sf2c test PostgreSQL CA");
    for params in [
        "sslmode=require".to_string(),
        format!("sslmode=verify-full&sslrootcert={}", ca.file().display()),
    ] {
        let (_, check, text) = refused(&url_with(&pg, &params)).await;
        assert!(check.contains("does not accept TLS"), "{params}: {check}");
        assert!(text.contains("127.0.0.1"), "{text}");
    }
    let store = Database::open(&url_with(&pg, "sslmode=disable&application_name=plain"))
        .await
        .unwrap();
    let answer = store.ingest(records(DEVICE_B, 1..=4)).await.unwrap();
    assert_eq!(answer.stored, 4);
    assert_eq!(rows_of(&pg, DEVICE_B).await, 4);
    let sessions = sessions_ssl(&pg, "plain").await;
    assert!(
        !sessions.is_empty() && sessions.iter().all(|(ssl, _)| !*ssl),
        "{sessions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_names_bad_settings_and_warns_about_plaintext_over_the_network() {
    // Nothing listens there (TEST-NET-1); the sink must warn before it even tries, then fail.
    let remote = "postgres://sf2c@192.0.2.1:5432/postgres?connect_timeout=1";
    let mut sink = Sink::spawn(remote, &[]);
    let status = sink
        .wait_exit(Duration::from_secs(20))
        .expect("sink gave up");
    assert!(!status.success());
    let log = sink.stderr();
    assert!(
        log.contains("without TLS") && log.contains("192.0.2.1"),
        "{log}"
    );
    let mut sink = Sink::spawn(remote, &["--postgres-sslmode", "require"]);
    sink.wait_exit(Duration::from_secs(20))
        .expect("sink gave up");
    assert!(!sink.stderr().contains("without TLS"), "{}", sink.stderr());

    let local = "postgres://sf2c@127.0.0.1:1/postgres";
    for (args, needle) in [
        (vec!["--postgres-sslmode", "verify"], "\"verify\""),
        (vec!["--postgres-sslmode", "verify-full"], "needs the CA"),
        (
            vec!["--postgres-sslrootcert", "/nonexistent/pg-ca.pem"],
            "/nonexistent/pg-ca.pem",
        ),
    ] {
        let mut sink = Sink::spawn(local, &args);
        let status = sink
            .wait_exit(Duration::from_secs(20))
            .expect("sink gave up");
        assert!(!status.success(), "{args:?}");
        assert!(
            sink.stderr().contains(needle),
            "{args:?}: {}",
            sink.stderr()
        );
    }
    let mut sink = Sink::spawn(&format!("{local}?sslmode=prefer"), &[]);
    sink.wait_exit(Duration::from_secs(20))
        .expect("sink gave up");
    assert!(
        sink.stderr().contains("\"prefer\" is not supported"),
        "{}",
        sink.stderr()
    );
}
