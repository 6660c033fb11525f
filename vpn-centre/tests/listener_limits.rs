//! The listeners' connection limit and timeouts, on real sockets: silent clients are cut off, a
//! full listener sheds its oldest silent connection for a newcomer, and refuses newcomers only
//! while every connection has a request in progress.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use vpn_centre::metrics::Metrics;
use vpn_centre::tls_listener::{ListenerLimits, serve};

async fn start(limits: ListenerLimits, metrics: Arc<Metrics>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/healthz", get(|| async { "ok" }));
    tokio::spawn(serve(
        listener,
        None,
        app,
        limits,
        Some(metrics),
        std::future::pending(),
    ));
    addr
}

/// One `GET /healthz` on a fresh connection; the raw response.
async fn get_health(addr: SocketAddr) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: centre\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_string(&mut out)).await;
    out
}

/// Whether the server closed `tcp` within `wait` (EOF or reset).
async fn closed_within(tcp: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(wait, tcp.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(n)) => panic!("unexpected {n} bytes from the server"),
        Err(_) => false,
    }
}

#[tokio::test]
async fn a_silent_client_is_cut_off_while_others_are_served() {
    let limits = ListenerLimits {
        header_read_timeout: Duration::from_millis(400),
        ..ListenerLimits::default()
    };
    let addr = start(limits, Arc::new(Metrics::default())).await;
    let started = Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();

    let answer = get_health(addr).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");

    assert!(closed_within(&mut silent, Duration::from_secs(5)).await);
    let lived = started.elapsed();
    assert!(
        lived >= Duration::from_millis(350),
        "closed too early: {lived:?}"
    );
}

#[tokio::test]
async fn a_full_listener_sheds_the_oldest_silent_connection_for_a_newcomer() {
    let limits = ListenerLimits {
        max_connections: 2,
        header_read_timeout: Duration::from_secs(30),
        ..ListenerLimits::default()
    };
    let metrics = Arc::new(Metrics::default());
    let addr = start(limits, metrics.clone()).await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut second = TcpStream::connect(addr).await.unwrap();
    // Let the server accept both before the third arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The newcomer is served at once; the oldest silent connection made room for it.
    let started = Instant::now();
    let answer = get_health(addr).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(closed_within(&mut first, Duration::from_secs(2)).await);
    assert!(!closed_within(&mut second, Duration::from_millis(200)).await);
    let text = metrics.render(0);
    assert!(text.contains("sf2c_vpn_connections_shed_total 1"), "{text}");
    assert!(
        text.contains("sf2c_vpn_connections_refused_total 0"),
        "{text}"
    );
}

#[tokio::test]
async fn a_full_listener_with_every_connection_busy_refuses_newcomers_and_recovers() {
    let limits = ListenerLimits {
        max_connections: 2,
        ..ListenerLimits::default()
    };
    let metrics = Arc::new(Metrics::default());
    let release = Arc::new(tokio::sync::Notify::new());
    let wait = release.clone();
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/wait",
            get(move || {
                let wait = wait.clone();
                async move {
                    wait.notified().await;
                    "done"
                }
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(
        listener,
        None,
        app,
        limits,
        Some(metrics.clone()),
        std::future::pending(),
    ));
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET /wait HTTP/1.1\r\nHost: centre\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        busy.push(tcp);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut third = TcpStream::connect(addr).await.unwrap();
    assert!(closed_within(&mut third, Duration::from_secs(2)).await);
    let text = metrics.render(0);
    assert!(
        text.contains("sf2c_vpn_connections_refused_total 1"),
        "{text}"
    );
    assert!(text.contains("sf2c_vpn_connections_shed_total 0"), "{text}");

    // Both requests finish; their slots free up and newcomers are served again.
    release.notify_waiters();
    for mut tcp in busy {
        let mut out = String::new();
        tcp.read_to_string(&mut out).await.unwrap();
        assert!(out.ends_with("done"), "{out}");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = get_health(addr).await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "never served again: {answer:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_connection_quiet_between_requests_is_closed_after_the_idle_timeout() {
    let limits = ListenerLimits {
        idle_timeout: Duration::from_millis(300),
        ..ListenerLimits::default()
    };
    let addr = start(limits, Arc::new(Metrics::default())).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: centre\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // Kept alive after the answer, then closed for idling well before the 10 s header timeout.
    assert!(!closed_within(&mut tcp, Duration::from_millis(100)).await);
    assert!(closed_within(&mut tcp, Duration::from_secs(3)).await);
}

#[tokio::test]
async fn a_client_that_never_starts_the_tls_handshake_is_cut_off() {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![CertificateDer::from(cert.cert.der().to_vec())], key)
    .unwrap();
    let limits = ListenerLimits {
        tls_handshake_timeout: Duration::from_millis(300),
        ..ListenerLimits::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(
        listener,
        Some(Arc::new(config)),
        Router::new(),
        limits,
        None,
        std::future::pending(),
    ));
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert!(!closed_within(&mut silent, Duration::from_millis(150)).await);
    assert!(closed_within(&mut silent, Duration::from_secs(3)).await);
}
