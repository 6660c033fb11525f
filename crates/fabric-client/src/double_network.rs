//! `DoubleNetwork`: a [`GatewayDouble`] served over TLS on 127.0.0.1 with generated certificates,
//! MSP folders and a `network.json`, so tests (and the CLI's tests) reach it like a real peer.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rcgen::{CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use sf2c_protos::gateway::gateway_server::GatewayServer;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity as TlsIdentity, Server, ServerTlsConfig};

use crate::gateway_double::GatewayDouble;
use crate::identity::SigningIdentity;

/// Channel name the double serves.
pub const CHANNEL: &str = "sf2c";
/// Chaincode name written into `network.json`.
pub const CHAINCODE: &str = "device-registry";
/// MSP ID of the one organisation.
pub const MSP_ID: &str = "Org1MSP";
/// TLS host name of the double's certificate.
pub const PEER_HOST: &str = "peer0.org1.example.com";

/// A running double plus the files that describe it; dropping it stops the server.
#[derive(Debug)]
pub struct DoubleNetwork {
    pub double: GatewayDouble,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub network_json: PathBuf,
    pub tls_root_pem: Vec<u8>,
    pub admin_msp: PathBuf,
    pub client_msp: PathBuf,
    server: JoinHandle<()>,
}

impl Drop for DoubleNetwork {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn ca(name: &str) -> (KeyPair, CertificateParams, String) {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("generate CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let pem = params.self_signed(&key).expect("self-sign CA").pem();
    (key, params, pem)
}

/// Writes an MSP folder whose certificate (signed by the org CA) has the given CN and OU.
fn write_msp(dir: &Path, issuer: &Issuer<'_, KeyPair>, cn: &str, ou: &str) {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("generate key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, ou);
    let cert = params.signed_by(&key, issuer).expect("sign certificate");
    fs::create_dir_all(dir.join("signcerts")).expect("mkdir signcerts");
    fs::create_dir_all(dir.join("keystore")).expect("mkdir keystore");
    fs::write(dir.join("signcerts/cert.pem"), cert.pem()).expect("write cert");
    fs::write(dir.join("keystore/priv_sk"), key.serialize_pem()).expect("write key");
}

impl DoubleNetwork {
    /// Generates credentials under `dir`, binds 127.0.0.1 on a free port and starts serving.
    /// Panics on setup failure: it is test scaffolding.
    pub async fn start(dir: &Path) -> Self {
        let (tls_ca_key, tls_ca_params, tls_root) = ca("tlsca.org1.example.com");
        let tls_issuer = Issuer::new(tls_ca_params, tls_ca_key);
        let server_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut server_params =
            CertificateParams::new(vec![PEER_HOST.to_string(), "localhost".to_string()])
                .expect("server params");
        server_params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        let server_cert = server_params
            .signed_by(&server_key, &tls_issuer)
            .expect("sign server cert");

        let (org_ca_key, org_ca_params, _) = ca("ca.org1.example.com");
        let org_issuer = Issuer::new(org_ca_params, org_ca_key);
        let admin_msp = dir.join("users/Admin@org1/msp");
        let client_msp = dir.join("users/User1@org1/msp");
        write_msp(&admin_msp, &org_issuer, "Admin@org1.example.com", "admin");
        write_msp(&client_msp, &org_issuer, "User1@org1.example.com", "client");
        fs::write(dir.join("tlsca.pem"), &tls_root).expect("write TLS CA");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let network = serde_json::json!({
            "channel": CHANNEL,
            "chaincode": CHAINCODE,
            "organizations": [{
                "name": "Org1",
                "msp_id": MSP_ID,
                "peers": [{
                    "endpoint": addr.to_string(),
                    "tls_root_cert": "tlsca.pem",
                    "tls_host_name": PEER_HOST,
                }],
                "admin": { "msp_dir": "users/Admin@org1/msp" },
                "client": { "msp_dir": "users/User1@org1/msp" },
            }],
            "orderers": [],
        });
        let network_json = dir.join("network.json");
        fs::write(
            &network_json,
            serde_json::to_vec_pretty(&network).expect("encode network.json"),
        )
        .expect("write network.json");

        let double = GatewayDouble::new(CHANNEL, MSP_ID, &format!("{PEER_HOST}:{}", addr.port()));
        let tls = ServerTlsConfig::new().identity(TlsIdentity::from_pem(
            server_cert.pem(),
            server_key.serialize_pem(),
        ));
        let service = GatewayServer::new(double.clone());
        let router = Server::builder()
            .tls_config(tls)
            .expect("server TLS config")
            .add_service(service);
        let server = tokio::spawn(async move {
            let _ = router
                .serve_with_incoming(TcpIncoming::from(listener))
                .await;
        });
        Self {
            double,
            addr,
            dir: dir.to_path_buf(),
            network_json,
            tls_root_pem: tls_root.into_bytes(),
            admin_msp,
            client_msp,
            server,
        }
    }

    /// The registry administrator of Org1 (certificate OU=admin).
    pub fn admin(&self) -> SigningIdentity {
        SigningIdentity::load_msp_dir(MSP_ID, &self.admin_msp).expect("load admin MSP")
    }

    /// An ordinary member of Org1 (OU=client): may read, may not write.
    pub fn client(&self) -> SigningIdentity {
        SigningIdentity::load_msp_dir(MSP_ID, &self.client_msp).expect("load client MSP")
    }
}
