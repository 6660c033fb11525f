//! A device's files as the deployment steps leave them: `edge-gateway keygen` output (signing key,
//! enrolment request) and, after enrolment, the centre's certificate, its TLS key and the CA.

use std::path::{Path, PathBuf};

use device_record::NodeType;
use edge_gateway::keygen::{KeygenOptions, keygen};
use signed_message::Algorithm;

/// What `POST /v1/enrol` gave the device, written next to its key.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    /// The address the centre leased (from its IPv6 pool).
    pub virtual_ip: String,
}

/// One device of the chain.
#[derive(Debug, Clone)]
pub struct Device {
    pub uuid: String,
    pub node_type: NodeType,
    pub dir: PathBuf,
    /// The message-signing key (PKCS#8 PEM) whose public half is registered on the ledger.
    pub signing_key: PathBuf,
    pub public_key: String,
    pub enrolled: Option<Enrolled>,
}

fn role(node_type: NodeType) -> &'static str {
    match node_type {
        NodeType::Gateway => "Gateway",
        NodeType::Validator => "Validator",
        NodeType::Administrator => "Administrator",
    }
}

impl Device {
    /// Runs the gateway's keygen (ES256) into `dir` for a new UUID.
    pub fn keygen(dir: &Path, node_type: NodeType) -> Self {
        let out = keygen(&KeygenOptions {
            out_dir: dir.to_path_buf(),
            alg: Algorithm::ES256,
            uuid: None,
            node_type: role(node_type).into(),
            force: false,
        })
        .unwrap_or_else(|e| panic!("keygen into {}: {e}", dir.display()));
        Self {
            uuid: out.enrolment.uuid.hyphenated().to_string(),
            node_type,
            dir: dir.to_path_buf(),
            signing_key: out.key_path,
            public_key: out.enrolment.public_key,
            enrolled: None,
        }
    }

    /// The enrolled TLS certificate, DER.
    pub fn cert_der(&self) -> Vec<u8> {
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let cert = CertificateDer::from_pem_file(&self.tls().cert)
            .unwrap_or_else(|e| panic!("the certificate of {}: {e}", self.uuid));
        cert.to_vec()
    }

    /// The enrolment files; panics if the device has not enrolled.
    pub fn tls(&self) -> &Enrolled {
        self.enrolled
            .as_ref()
            .unwrap_or_else(|| panic!("device {} has not enrolled", self.uuid))
    }
}
