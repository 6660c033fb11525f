//! The cloud sink on a real SQLite file behind mutual TLS: its certificate from the centre's CA,
//! client certificates checked against the centre's CRL. Served in-process; aborted on drop.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cloud_sink::http::{App, Limits};
use cloud_sink::server::Server;
use cloud_sink::sqlite::SqliteStore;
use cloud_sink::tls::{SinkTls, TlsSettings};
use sink_api::{SinkClient, TelemetryQuery, TelemetryRecord};
use tokio::task::JoinHandle;

use crate::centre::Centre;
use crate::device::Device;

pub struct TlsSink {
    /// `https://127.0.0.1:port`
    pub url: String,
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for TlsSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsSink {
    /// Starts the sink with a service certificate the centre issues for it, fetching the CRL as
    /// often as a deployed sink does by default.
    pub async fn start(dir: &Path, centre: &Centre) -> Self {
        Self::start_with_refresh(dir, centre, cloud_sink::tls::DEFAULT_CRL_REFRESH).await
    }

    /// [`TlsSink::start`] fetching the CRL every `crl_refresh`.
    pub async fn start_with_refresh(dir: &Path, centre: &Centre, crl_refresh: Duration) -> Self {
        let own = centre
            .pki
            .issue_service("cloud-sink", &["127.0.0.1".into()])
            .await
            .expect("issue the sink's certificate");
        let (cert, key) = (dir.join("sink-cert.pem"), dir.join("sink-key.pem"));
        std::fs::write(&cert, &own.cert_pem).expect("write the sink certificate");
        std::fs::write(&key, &own.key_pem).expect("write the sink key");
        let tls = SinkTls::start(&TlsSettings {
            cert,
            key,
            client_ca: centre.ca_file.clone(),
            crl_url: centre.crl_url(),
            crl_refresh,
        })
        .await
        .expect("sink TLS with the centre's CRL");
        let server = Server::bind_tls("127.0.0.1:0".parse().expect("address"), tls)
            .await
            .expect("bind the sink");
        let addr = server.local_addr();
        let url = format!("https://127.0.0.1:{}", addr.port());
        let db = dir.join("sink.sqlite3");
        let store = SqliteStore::open(db.to_str().expect("UTF-8 temp path"))
            .await
            .expect("open the sink's SQLite store");
        let app = Arc::new(App {
            store,
            limits: Limits::default(),
            metrics: Default::default(),
        });
        let task = tokio::spawn(async move {
            let _ = server.serve(app, std::future::pending()).await;
        });
        Self { url, addr, task }
    }

    /// Every row stored for `device`, ordered by seq, read over mutual TLS as `reader` (an
    /// Administrator: only operators and services may read the sink).
    pub async fn rows(&self, reader: &Device, device: &str) -> Vec<TelemetryRecord> {
        let tls = reader.tls();
        let client = SinkClient::builder(&self.url)
            .ca_file(&tls.ca)
            .client_cert_files(&tls.cert, &tls.key)
            .build()
            .expect("sink client");
        let query = TelemetryQuery {
            device: device.into(),
            from_ms: None,
            to_ms: None,
            limit: Some(10_000),
        };
        let mut rows = client
            .query(&query)
            .await
            .unwrap_or_else(|e| panic!("query the sink for {device}: {e}"));
        rows.sort_by_key(|r| r.seq);
        rows
    }
}
