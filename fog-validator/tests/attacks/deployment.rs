//! A live deployment for the attack tests: the VPN Centre's PKI and warnings API (mutual TLS,
//! auto-ban) on the live Fabric ledger as the Org1 admin, a cloud sink behind mutual TLS, two fog
//! validators reading the ledger as the Org2 client, and gateways registered on the ledger and
//! enrolled, each with the certificate (and role) enrolment gives it. Tasks stop on drop.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cloud_sink::http::{App, Limits};
use device_record::{DeviceRequest, NodeType};
use fabric_client::Contract;
use fog_validator::{Config, FabricRegistryFeed, RunningValidator};
use signed_message::Algorithm;
use test_doubles::TestDevice;
use test_support::fabric::{LiveNetwork, unique_network, unique_virtual_ip};
use vpn_centre::autoban::AutoBanPolicy;
use vpn_centre::enforcement::Enforcement;
use vpn_centre::fabric_registry::FabricRegistry;
use vpn_centre::http::AppState;
use vpn_centre::pki::{CentrePki, PkiSettings};
use vpn_centre::registry::CentreRegistry;
use vpn_centre::warnings_store::WarningsStore;
use vpn_pki::{EnrolRequest, LeafKey};
use warnings_api::{TlsIdentity, WarningClient, WarningFilter};

use crate::support::Client;

/// An enrolled device: its signing key (gateways) and its TLS identity from the centre.
pub struct Enrolled {
    pub device: TestDevice,
    pub tls: TlsIdentity,
}

impl Enrolled {
    pub fn uuid(&self) -> &str {
        &self.device.uuid
    }

    /// A client of the validators presenting this device's certificate.
    pub fn client(&self) -> Client {
        let t = &self.tls;
        Client {
            config: Arc::new(vpn_pki::client_config(&t.ca_pem, &t.cert_pem, &t.key_pem).unwrap()),
        }
    }
}

pub struct Deployment {
    pub admin: Contract,
    pub pki: Arc<CentrePki>,
    pub store: Arc<WarningsStore>,
    pub mtls_url: String,
    pub sink_url: String,
    pub validators: Vec<RunningValidator>,
    /// The validators' own certificates (role validator).
    pub validator_tls: Vec<TlsIdentity>,
    pub attacker: Enrolled,
    pub victim: Enrolled,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Deployment {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|t| t.abort());
    }
}

async fn register(admin: Contract, device: DeviceRequest) {
    let body = serde_json::to_vec(&device).unwrap();
    admin.submit("RegisterDevice", &[body]).await.unwrap();
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    if name.ends_with("key.pem") {
        vpn_pki::write_private_key(&path, text.as_bytes()).unwrap();
    } else {
        std::fs::write(&path, text).unwrap();
    }
    path
}

impl Deployment {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let net = LiveNetwork::get();
        let admin = net.contract("Org1", "admin").await;
        let devices: Vec<TestDevice> = [
            NodeType::Gateway,
            NodeType::Gateway,
            NodeType::Validator,
            NodeType::Validator,
        ]
        .into_iter()
        .map(|t| TestDevice::new(Algorithm::ES256, t))
        .collect();
        let registrations: Vec<_> = devices
            .iter()
            .map(|d| {
                tokio::spawn(register(
                    admin.clone(),
                    DeviceRequest {
                        uuid: d.uuid.clone(),
                        node_type: d.record.node_type,
                        virtual_ip: unique_virtual_ip(),
                        public_key: d.record.public_key.clone(),
                        labels: Default::default(),
                    },
                ))
            })
            .collect();
        for r in registrations {
            r.await.unwrap();
        }

        // The centre: PKI and auto-ban on the ledger, warnings API behind mutual TLS.
        let registry: Arc<dyn CentreRegistry> =
            Arc::new(FabricRegistry::from_settings(&net.settings("Org1", "admin")).unwrap());
        let settings = PkiSettings {
            dir: dir.path().join("pki"),
            networks: vec![unique_network::<vpn_pki::Cidr>()],
            enrolment: vpn_pki::EnrolmentConfig::default(),
        };
        let pki = Arc::new(
            CentrePki::open(&settings, Some(registry.clone()))
                .await
                .unwrap(),
        );
        let store = Arc::new(WarningsStore::open(&dir.path().join("warnings.sqlite3")).unwrap());
        let enforcement =
            Enforcement::new(Some(registry), Some(pki.clone()), AutoBanPolicy::default());
        let warnings =
            AppState::authenticated(store.clone(), Default::default(), Arc::new(enforcement));
        let own = pki
            .issue_service("vpn-centre", &["127.0.0.1".into()])
            .await
            .unwrap();
        let tls = vpn_pki::server_config(&own.cert_pem, &own.key_pem, pki.verifier()).unwrap();
        let mtls = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mtls_url = format!("https://{}", mtls.local_addr().unwrap());
        let crl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let crl_url = format!("http://{}/v1/pki/crl", crl.local_addr().unwrap());
        let enrol_api =
            vpn_centre::enrol_api::router(vpn_centre::enrol_api::EnrolState::new(pki.clone()))
                .into_make_service_with_connect_info::<SocketAddr>();
        let mut tasks = vec![
            tokio::spawn(vpn_centre::tls_listener::serve_tls(
                mtls,
                Arc::new(tls),
                vpn_centre::app::validator_router(warnings, 1024 * 1024),
                std::future::pending(),
            )),
            tokio::spawn(async move {
                let _ = axum::serve(crl, enrol_api).await;
            }),
        ];
        let ca_file = write(dir.path(), "ca.pem", pki.ca_pem());

        // Every device enrols: the centre reads its node_type on the ledger for the role.
        let mut enrolled = Vec::new();
        for device in devices {
            let token = pki
                .issue_token(&device.uuid, Duration::from_secs(600))
                .await
                .unwrap();
            let key = rcgen::KeyPair::generate().unwrap();
            let request = EnrolRequest {
                token: token.secret,
                uuid: device.uuid.clone(),
                key: LeafKey::PublicKey(key.public_key_pem()),
            };
            let answer = pki.enrol(&request).await.unwrap();
            let tls = TlsIdentity {
                ca_pem: answer.ca_pem,
                cert_pem: answer.cert_pem,
                key_pem: key.serialize_pem(),
            };
            enrolled.push(Enrolled { device, tls });
        }

        // The sink, with its own service certificate.
        let sink_cert = pki
            .issue_service("cloud-sink", &["127.0.0.1".into()])
            .await
            .unwrap();
        let sink_tls = cloud_sink::tls::SinkTls::start(&cloud_sink::tls::TlsSettings {
            cert: write(dir.path(), "sink.pem", &sink_cert.cert_pem),
            key: write(dir.path(), "sink-key.pem", &sink_cert.key_pem),
            client_ca: ca_file.clone(),
            crl_url: crl_url.clone(),
            crl_refresh: Duration::from_secs(1),
        })
        .await
        .unwrap();
        let server = cloud_sink::server::Server::bind_tls("127.0.0.1:0".parse().unwrap(), sink_tls)
            .await
            .unwrap();
        let sink_url = format!("https://{}", server.local_addr());
        let db = dir.path().join("sink.sqlite3");
        let app = Arc::new(App {
            store: cloud_sink::sqlite::SqliteStore::open(db.to_str().unwrap())
                .await
                .unwrap(),
            limits: Limits::default(),
            metrics: Default::default(),
        });
        tasks.push(tokio::spawn(async move {
            let _ = server.serve(app, std::future::pending()).await;
        }));

        let validators_enrolled = enrolled.split_off(2);
        let mut validators = Vec::new();
        for (n, v) in validators_enrolled.iter().enumerate() {
            let mut config = Config {
                id: format!("fog-{n}"),
                listen: "127.0.0.1:0".parse().unwrap(),
                data_dir: dir.path().join(format!("validator-{n}")),
                sink_url: sink_url.clone(),
                vpn_url: Some(mtls_url.clone()),
                tls_cert: Some(write(dir.path(), &format!("v{n}.pem"), &v.tls.cert_pem)),
                tls_key: Some(write(dir.path(), &format!("v{n}-key.pem"), &v.tls.key_pem)),
                client_ca: Some(ca_file.clone()),
                crl_url: Some(crl_url.clone()),
                crl_refresh_secs: 1,
                ..Config::default()
            };
            config.forward.linger_ms = 5;
            let feed = FabricRegistryFeed::from_settings(&net.settings("Org2", "client")).unwrap();
            validators.push(fog_validator::start(&config, Arc::new(feed)).await.unwrap());
        }
        let victim = enrolled.pop().unwrap();
        let attacker = enrolled.pop().unwrap();
        Self {
            admin,
            pki,
            store,
            mtls_url,
            sink_url,
            validators,
            validator_tls: validators_enrolled.into_iter().map(|v| v.tls).collect(),
            attacker,
            victim,
            tasks,
            _dir: dir,
        }
    }

    /// A certificate with role `service` (operator tools) from the centre.
    pub async fn service(&self, name: &str) -> TlsIdentity {
        let issued = self.pki.issue_service(name, &[]).await.unwrap();
        TlsIdentity {
            ca_pem: self.pki.ca_pem().to_string(),
            cert_pem: issued.cert_pem,
            key_pem: issued.key_pem,
        }
    }

    /// A client of the centre's warnings API presenting `identity`.
    pub fn centre(&self, identity: &TlsIdentity) -> WarningClient {
        WarningClient::with_mtls(&self.mtls_url, identity).unwrap()
    }

    /// A client of the sink presenting `identity`.
    pub fn sink(&self, identity: &TlsIdentity) -> sink_api::SinkClient {
        sink_api::SinkClient::builder(&self.sink_url)
            .ca_pem(self.pki.ca_pem())
            .client_cert_pem(&identity.cert_pem, &identity.key_pem)
            .build()
            .unwrap()
    }

    /// Refusals the centre holds about `device` (with `code`, when given).
    pub fn warnings_about(&self, device: &str, code: Option<i32>) -> u64 {
        let filter = WarningFilter {
            device: Some(device.into()),
            code,
            ..WarningFilter::default()
        };
        self.store.count(&filter).unwrap()
    }

    /// Whether the ledger (Org1's peer, the centre's) holds `uuid` as banned.
    pub async fn banned(&self, uuid: &str) -> bool {
        let bytes = self
            .admin
            .evaluate("GetDevice", &[uuid.as_bytes()])
            .await
            .unwrap();
        device_record::DeviceRecord::from_json(&bytes)
            .unwrap()
            .banned
    }
}
