//! The VPN Centre in this process, wired by its library as `vpn-centre serve` wires it: the
//! operators' listener (dashboard, `/v1/enrol`, `/v1/pki/crl`) on plain HTTP (the loopback
//! development mode) and the validators' warnings listener on mutual TLS, a real CA and SQLite
//! files, auto-ban, and the registry on the ledger through `FabricRegistry` as the Org1 admin,
//! followed by the ledger event follower that revokes banned and deleted devices. Enrolment is
//! limited per address far above the deployed limit, as every device here enrols from 127.0.0.1.
//! Everything stops on drop.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use device_record::NodeType;
use fabric_client::LedgerSettings;
use tokio::task::JoinHandle;
use vpn_centre::auth::{Operators, SessionConfig};
use vpn_centre::autoban::AutoBanPolicy;
use vpn_centre::dashboard::DashboardState;
use vpn_centre::fabric_registry::FabricRegistry;
use vpn_centre::ledger_follower::LedgerFollower;
use vpn_centre::listeners::{ListenerSetup, Listening};
use vpn_centre::pki::{CentrePki, PkiSettings};
use vpn_centre::registry::CentreRegistry;
use vpn_centre::warnings_store::WarningsStore;
use vpn_centre::wiring::Wiring;
use vpn_pki::Cidr;
use warnings_api::{ClientError, EnrolBody, TlsIdentity, Warning, WarningClient, WarningFilter};

use crate::device::{Device, Enrolled};
use crate::ledger::Ledger;

/// The dashboard operator the centre is started with.
pub const OPERATOR: &str = "olivia";
pub const PASSWORD: &str = "a long enough operator passphrase";

/// Enrolments the harness may make from 127.0.0.1 within a minute (a benchmark enrols dozens).
const HARNESS_ENROLMENTS: usize = 10_000;

pub struct Centre {
    pub pki: Arc<CentrePki>,
    /// The IPv6 network enrolment leases virtual addresses from.
    pub network: Cidr,
    pub store: Arc<WarningsStore>,
    /// Operators' listener (`http://127.0.0.1:port`).
    pub url: String,
    /// Validators' mutual-TLS listener (`https://127.0.0.1:port`).
    pub mtls_url: String,
    /// The centre's CA certificate, as validators and the sink are given it.
    pub ca_file: PathBuf,
    /// Both listeners; they stop when the centre is dropped.
    _listening: Listening,
    follower: JoinHandle<()>,
}

impl Drop for Centre {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

impl Centre {
    /// Starts both listeners on 127.0.0.1 with state under `dir`, the ledger reached with `ledger`.
    pub async fn start(dir: &Path, ledger: &LedgerSettings, policy: AutoBanPolicy) -> Self {
        let registry: Arc<dyn CentreRegistry> = Arc::new(
            FabricRegistry::from_settings(ledger).expect("FabricRegistry from network.json"),
        );
        let network: Cidr = test_support::fabric::unique_network();
        let settings = PkiSettings {
            dir: dir.join("pki"),
            networks: vec![network],
            enrolment: vpn_pki::EnrolmentConfig::default(),
        };
        let pki = Arc::new(
            CentrePki::open(&settings, Some(registry.clone()))
                .await
                .expect("open the centre's PKI"),
        );
        let ca_file = dir.join("centre-ca.pem");
        std::fs::write(&ca_file, pki.ca_pem()).expect("write the CA certificate");

        let store = Arc::new(
            WarningsStore::open(&dir.join("warnings.sqlite3")).expect("open the warnings store"),
        );
        let operators = Operators::new(dir.join("operators"));
        operators
            .add(OPERATOR, PASSWORD)
            .expect("add the dashboard operator");
        let sessions = SessionConfig {
            secure_cookie: false,
            ..SessionConfig::default()
        };
        let dashboard = DashboardState::new(store.clone(), operators, sessions)
            .with_registry(registry.clone())
            .with_pki(pki.clone());
        // Enrolment admits a whole harness of devices from 127.0.0.1: the deployed limit (per
        // address, a minute) is for one device each.
        let routers = Wiring::new(dashboard, policy)
            .enrol_per_minute(HARNESS_ENROLMENTS)
            .routers();
        let listening = Listening::start_owned(&ListenerSetup::loopback(), &pki, routers)
            .await
            .expect("start the centre's listeners");
        // Bans and deletes by any path revoke, as in `vpn-centre serve`; resumes from the
        // checkpoint in `dir` when a centre is started again there.
        let follower = LedgerFollower::new(ledger, dir, pki.clone(), Some(registry))
            .expect("the ledger event follower")
            .spawn();
        Self {
            pki,
            network,
            store,
            url: listening.operator_url(),
            mtls_url: listening.mtls_url(),
            ca_file,
            _listening: listening,
            follower,
        }
    }

    /// Where validators and the sink fetch the signed CRL.
    pub fn crl_url(&self) -> String {
        format!("{}/v1/pki/crl", self.url)
    }

    /// Issues a one-time token for `device` and enrols it over HTTP (`POST /v1/enrol`) with a
    /// fresh TLS key; writes `tls-cert.pem`, `tls-key.pem` and `ca.pem` into the device's folder.
    pub async fn enrol(&self, device: &mut Device) -> Enrolled {
        let token = self
            .pki
            .issue_token(&device.uuid, Duration::from_secs(600))
            .await
            .expect("issue an enrolment token");
        let key = rcgen::KeyPair::generate().expect("generate a TLS key");
        let answer = WarningClient::new(&self.url)
            .expect("client of the operators' listener")
            .enrol(&EnrolBody {
                token: token.secret,
                uuid: device.uuid.clone(),
                public_key: Some(key.public_key_pem()),
                csr: None,
            })
            .await
            .unwrap_or_else(|e| panic!("enrolment of {} refused: {e}", device.uuid));
        let write = |name: &str, text: &str| {
            let path = device.dir.join(name);
            std::fs::write(&path, text).expect("write an enrolment file");
            path
        };
        let enrolled = Enrolled {
            cert: write("tls-cert.pem", &answer.certificate),
            key: write("tls-key.pem", &key.serialize_pem()),
            ca: write("ca.pem", &answer.ca),
            virtual_ip: answer
                .virtual_ip
                .v6
                .map(|ip| ip.to_string())
                .expect("an IPv6 lease"),
        };
        device.enrolled = Some(enrolled.clone());
        enrolled
    }

    /// A new device of `node_type` in its own folder under `dir`: keys made, registered on the
    /// ledger as Org1's admin, and enrolled here.
    pub async fn new_device(&self, dir: &Path, ledger: &Ledger, node_type: NodeType) -> Device {
        let sub = dir.join(format!("dev-{}", test_support::fabric::unique_uuid()));
        std::fs::create_dir_all(&sub).expect("create the device's folder");
        let mut device = Device::keygen(&sub, node_type);
        ledger
            .register(&device.uuid, node_type, &device.public_key)
            .await;
        self.enrol(&mut device).await;
        device
    }

    /// Whether the CRL the centre serves (fetched over HTTP, as validators and the sink do) lists
    /// the certificate `cert` (DER).
    pub async fn crl_lists(&self, cert: &[u8]) -> bool {
        let der = vpn_pki::fetch_crl(&self.crl_url())
            .await
            .expect("fetch the centre's CRL");
        let verifier = vpn_pki::CrlClientVerifier::new(self.pki.ca_pem(), Some(&der), false)
            .expect("the centre's CRL verifies with its CA");
        // Resolves at once when listed (a timeout polls its future once before its deadline).
        tokio::time::timeout(Duration::ZERO, verifier.until_revoked(cert))
            .await
            .is_ok()
    }

    /// Stored warnings about `device`, newest first.
    pub fn warnings_about(&self, device: &str) -> Vec<Warning> {
        let filter = WarningFilter {
            device: Some(device.into()),
            ..WarningFilter::default()
        };
        self.store
            .list(&filter, 1000, None)
            .expect("list warnings")
            .warnings
    }

    /// Refusals the centre holds about `device`: identical ones share a row, so this sums the
    /// rows' counts.
    pub fn refusals_about(&self, device: &str) -> u64 {
        self.warnings_about(device).iter().map(|w| w.count).sum()
    }

    /// Whether the validators' listener now refuses `device`'s certificate in the TLS handshake
    /// (the centre installs a new CRL the moment it revokes).
    pub async fn refuses_tls_of(&self, device: &Device) -> bool {
        let tls = device.tls();
        let read = |p: &Path| std::fs::read_to_string(p).expect("read an enrolment file");
        let identity = TlsIdentity {
            ca_pem: read(&tls.ca),
            cert_pem: read(&tls.cert),
            key_pem: read(&tls.key),
        };
        let client =
            WarningClient::with_mtls(&self.mtls_url, &identity).expect("mutual-TLS client");
        matches!(
            client.count(&WarningFilter::default()).await,
            Err(ClientError::Unreachable { .. })
        )
    }
}
