//! The whole centre in-process, wired by the library as `vpn-centre serve` wires it: operators'
//! listener on plain HTTP (the loopback development mode), validators' listener on mutual TLS,
//! over real SQLite files and a real CA, with the
//! `MemoryRegistry` test double standing in for the ledger (or, with [`Centre::start_on`], any
//! registry, such as `FabricRegistry` on the live Fabric network). It stops when dropped.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use device_record::{DeviceRecord, NodeType};
use vpn_centre::autoban::AutoBanPolicy;
use vpn_centre::listeners::{ListenerSetup, Listening};
use vpn_centre::pki::{CentrePki, PkiSettings};
use vpn_centre::registry::CentreRegistry;
use vpn_centre::wiring::Wiring;
use warnings_api::{EnrolBody, TlsIdentity, WarningClient};

use super::dashboard_server::state;
use super::memory_registry::{MemoryRegistry, gateway};

pub struct Centre<R = MemoryRegistry> {
    pub registry: Arc<R>,
    pub pki: Arc<CentrePki>,
    pub url: String,
    pub addr: SocketAddr,
    pub mtls_url: String,
    /// Both listeners; they stop when the centre is dropped.
    _listening: Listening,
}

/// An enrolment request for `uuid` with `token` and a freshly generated public key.
pub fn enrol_body(token: &str, uuid: &str) -> EnrolBody {
    EnrolBody {
        token: token.to_string(),
        uuid: uuid.to_string(),
        public_key: Some(rcgen::KeyPair::generate().unwrap().public_key_pem()),
        csr: None,
    }
}

/// A registry record of `node_type` that has not enrolled yet (no virtual IP).
pub fn unenrolled(uuid: &str, node_type: NodeType) -> DeviceRecord {
    DeviceRecord {
        node_type,
        virtual_ip: String::new(),
        ..gateway(uuid, 1)
    }
}

pub async fn pki_in(dir: &Path, registry: Option<Arc<dyn CentreRegistry>>) -> CentrePki {
    let networks = vec![
        "10.8.0.0/24".parse().unwrap(),
        "fd00:8::/64".parse().unwrap(),
    ];
    pki_leasing(dir, registry, networks).await
}

/// The PKI leasing virtual IPs from `networks`.
pub async fn pki_leasing(
    dir: &Path,
    registry: Option<Arc<dyn CentreRegistry>>,
    networks: Vec<vpn_pki::Cidr>,
) -> CentrePki {
    let settings = PkiSettings {
        dir: dir.join("pki"),
        networks,
        enrolment: vpn_pki::EnrolmentConfig::default(),
    };
    CentrePki::open(&settings, registry).await.unwrap()
}

impl Centre {
    pub async fn start(dir: &Path, policy: AutoBanPolicy) -> Self {
        Self::start_on(dir, policy, Arc::new(MemoryRegistry::default())).await
    }

    /// Registers `uuid` as `node_type`, issues a token and enrols over HTTP with a fresh key.
    pub async fn enrol(&self, uuid: &str, node_type: NodeType) -> TlsIdentity {
        self.registry.register(unenrolled(uuid, node_type));
        self.enrol_registered(uuid).await
    }
}

impl<R: CentreRegistry + 'static> Centre<R> {
    /// The centre with `registry` as its ledger.
    pub async fn start_on(dir: &Path, policy: AutoBanPolicy, registry: Arc<R>) -> Self {
        let view: Arc<dyn CentreRegistry> = registry.clone();
        let pki = Arc::new(pki_in(dir, Some(view)).await);
        Self::start_with(dir, policy, registry, pki).await
    }

    /// The centre with `registry` as its ledger, leasing virtual IPs from `networks` (a shared
    /// ledger needs addresses no other test or run holds).
    pub async fn start_leasing(
        dir: &Path,
        policy: AutoBanPolicy,
        registry: Arc<R>,
        networks: Vec<vpn_pki::Cidr>,
    ) -> Self {
        let view: Arc<dyn CentreRegistry> = registry.clone();
        let pki = Arc::new(pki_leasing(dir, Some(view), networks).await);
        Self::start_with(dir, policy, registry, pki).await
    }

    async fn start_with(
        dir: &Path,
        policy: AutoBanPolicy,
        registry: Arc<R>,
        pki: Arc<CentrePki>,
    ) -> Self {
        let dashboard = state(dir, false)
            .with_registry(registry.clone())
            .with_pki(pki.clone());
        let routers = Wiring::new(dashboard, policy).routers();
        let listening = Listening::start_owned(&ListenerSetup::loopback(), &pki, routers)
            .await
            .unwrap();
        Self {
            registry,
            pki,
            url: listening.operator_url(),
            addr: listening.operator_addr,
            mtls_url: listening.mtls_url(),
            _listening: listening,
        }
    }

    pub async fn enrol_registered(&self, uuid: &str) -> TlsIdentity {
        let token = self
            .pki
            .issue_token(uuid, std::time::Duration::from_secs(600))
            .await
            .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let answer = WarningClient::new(&self.url)
            .unwrap()
            .enrol(&EnrolBody {
                token: token.secret,
                uuid: uuid.to_string(),
                public_key: Some(key.public_key_pem()),
                csr: None,
            })
            .await
            .unwrap();
        TlsIdentity {
            ca_pem: answer.ca,
            cert_pem: answer.certificate,
            key_pem: key.serialize_pem(),
        }
    }

    /// A client of the validators' listener presenting `identity`.
    pub fn client(&self, identity: &TlsIdentity) -> WarningClient {
        WarningClient::with_mtls(&self.mtls_url, identity).unwrap()
    }
}
