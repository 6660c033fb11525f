//! The real message path behind a gateway, in this process on 127.0.0.1: the VPN Centre's CA with
//! its signed CRL served over HTTP, the fog validator library with mutual TLS, and the cloud sink on
//! SQLite. Only the registry is a test double (`StaticRegistryFeed`): there is no Fabric here.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cloud_sink::http::{App, Limits};
use cloud_sink::server::Server;
use cloud_sink::sqlite::SqliteStore;
use fog_validator::RunningValidator;
use sink_api::{SinkClient, TelemetryQuery, TelemetryRecord};
use test_doubles::StaticRegistryFeed;
use test_support::pki::{CrlServer, issue_as, write_files};
use vpn_pki::{CertRole, CertificateAuthority};

/// The VPN Centre's CA as the validator and a gateway meet it; the CRL server stops on drop.
pub struct CentrePki {
    ca: Arc<CertificateAuthority>,
    pub ca_file: PathBuf,
    pub crl_url: String,
    _crl: CrlServer,
}

impl CentrePki {
    pub async fn start(dir: &Path) -> CentrePki {
        let ca = Arc::new(test_support::pki::ca("SF2C-BC gateway test CA"));
        let ca_file = dir.join("vpn-ca.pem");
        std::fs::write(&ca_file, ca.cert_pem()).unwrap();
        let db = Arc::new(Mutex::new(
            vpn_pki::open_database(&dir.join("pki.db")).unwrap(),
        ));
        let crl = CrlServer::signed(ca.clone(), db).await;
        CentrePki {
            ca,
            ca_file,
            crl_url: crl.url().to_string(),
            _crl: crl,
        }
    }

    /// Writes a certificate (no role, as before roles existed) for `uuid` and its key into `dir`
    /// as `{name}.pem` / `{name}-key.pem`.
    pub fn issue_files(
        &self,
        dir: &Path,
        name: &str,
        uuid: &str,
        role: CertRole,
    ) -> (PathBuf, PathBuf) {
        write_files(dir, name, &issue_as(&self.ca, uuid, role, None))
    }
}

/// The cloud sink on a SQLite file, served in-process; stops when dropped.
pub struct SqliteSink {
    pub url: String,
    pub client: SinkClient,
    task: tokio::task::JoinHandle<()>,
}

impl SqliteSink {
    pub async fn start(db: &Path) -> SqliteSink {
        let store = SqliteStore::open(db.to_str().unwrap()).await.unwrap();
        let app = Arc::new(App {
            store,
            limits: Limits::default(),
            metrics: Default::default(),
        });
        let server = Server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let url = format!("http://{}", server.local_addr());
        let task = tokio::spawn(async move {
            let _ = server.serve(app, std::future::pending()).await;
        });
        let client = SinkClient::new(&url).unwrap();
        SqliteSink { url, client, task }
    }

    /// Every row stored for `device`, ordered by seq.
    pub async fn rows(&self, device: &str) -> Vec<TelemetryRecord> {
        let query = TelemetryQuery {
            device: device.into(),
            from_ms: None,
            to_ms: None,
            limit: Some(10_000),
        };
        let mut rows = self.client.query(&query).await.unwrap();
        rows.sort_by_key(|r| r.seq);
        rows
    }
}

impl Drop for SqliteSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the fog validator on `listen` with gateway mutual TLS (certificate from `pki`, CRL
/// refreshed every second), forwarding to `sink_url`, reading the registry from `source`.
pub async fn start_validator(
    pki: &CentrePki,
    dir: &Path,
    listen: SocketAddr,
    sink_url: &str,
    source: Arc<StaticRegistryFeed>,
) -> RunningValidator {
    let (tls_cert, tls_key) = pki.issue_files(
        dir,
        "validator",
        &uuid::Uuid::new_v4().to_string(),
        CertRole::ClientAndServer,
    );
    let mut config = fog_validator::Config {
        id: "fog-gateway-test".into(),
        listen,
        data_dir: dir.join("validator"),
        sink_url: sink_url.into(),
        vpn_url: None,
        tls_cert: Some(tls_cert),
        tls_key: Some(tls_key),
        client_ca: Some(pki.ca_file.clone()),
        crl_url: Some(pki.crl_url.clone()),
        crl_refresh_secs: 1,
        ..fog_validator::Config::default()
    };
    config.forward.linger_ms = 5;
    config.replay.flush_ms = 20;
    fog_validator::start(&config, source).await.unwrap()
}
