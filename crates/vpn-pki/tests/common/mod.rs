//! Shared setup for the integration tests: an enroller over a real SQLite file and `MemoryEnrolmentLedger` (test-doubles) as the ledger.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use device_record::{DeviceRecord, KeyAlgorithm, NodeType};
use test_doubles::MemoryEnrolmentLedger;
use vpn_pki::{
    CertificateAuthority, Cidr, EnrolRequest, Enrolled, Enroller, EnrolmentConfig, IpPool, LeafKey,
    open_database,
};

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn uuid(i: u32) -> String {
    format!("{i:08x}-1111-4222-8333-444455556666")
}

pub fn record(uuid: &str, node_type: NodeType) -> DeviceRecord {
    DeviceRecord {
        uuid: uuid.into(),
        node_type,
        virtual_ip: String::new(),
        public_key: "-----BEGIN PUBLIC KEY-----\n(unused here)\n-----END PUBLIC KEY-----\n".into(),
        key_algorithm: KeyAlgorithm::EcdsaP256,
        key_fingerprint: "00".repeat(32),
        banned: false,
        banned_timestamp: None,
        ban_reason: None,
        banned_by_msp: None,
        owner_msp: "Org1MSP".into(),
        created_at: "2024-01-01T00:00:00Z".into(),
        updated_at: "2024-01-01T00:00:00Z".into(),
        version: 1,
        labels: BTreeMap::new(),
    }
}

pub fn enroller(dir: &Path, networks: &[&str]) -> Enroller<MemoryEnrolmentLedger> {
    let ca = CertificateAuthority::load_or_create(
        &dir.join("ca"),
        "SF2C-BC Test VPN CA",
        Duration::from_secs(3650 * 86400),
        now(),
    )
    .unwrap();
    let nets: Vec<Cidr> = networks.iter().map(|n| n.parse().unwrap()).collect();
    let pool = IpPool::new(&nets).unwrap();
    let db = open_database(&dir.join("pki.db")).unwrap();
    Enroller::new(
        ca,
        pool,
        db,
        MemoryEnrolmentLedger::new(),
        EnrolmentConfig::default(),
    )
}

/// Registers `uuid` on the ledger double, issues a token and enrols a fresh key; returns the key PEM too.
pub async fn register_and_enrol(
    e: &Enroller<MemoryEnrolmentLedger>,
    uuid: &str,
    node_type: NodeType,
) -> (Enrolled, String) {
    e.ledger().insert(record(uuid, node_type));
    let token = e
        .issue_token(uuid, Duration::from_secs(300), now())
        .await
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .serialize_request(&key)
        .unwrap()
        .pem()
        .unwrap();
    let done = e
        .enrol(
            &EnrolRequest {
                token: token.secret,
                uuid: uuid.into(),
                key: LeafKey::Csr(csr),
            },
            now(),
        )
        .await
        .unwrap();
    (done, key.serialize_pem())
}
