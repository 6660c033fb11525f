//! Shared test setup: identities with in-test certificates, in-test keys, and a harness that runs
//! each call as its own transaction on `MemoryLedger` (test-doubles' in-memory stand-in for the Fabric ledger).
#![allow(dead_code)]

use device_record::{RegistryEvent, TxTimestamp};
use device_registry::{ContractError, Creator, Members, invoke};
use rcgen::{CertificateParams, CustomExtension, DnType, KeyPair};
use serde_json::json;
use test_doubles::MemoryLedger;

pub const RSA1024_PEM: &str = include_str!("../fixtures/rsa1024-spki.pem");

/// A Fabric identity: MSP ID and a self-made certificate.
pub fn identity(msp: &str, cn: &str, ou: &str, attrs: Option<serde_json::Value>) -> Creator {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, ou);
    if let Some(attrs) = attrs {
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &[1, 2, 3, 4, 5, 6, 7, 8, 1],
                serde_json::to_vec(&json!({ "attrs": attrs })).unwrap(),
            ));
    }
    let cert = params.self_signed(&key).unwrap();
    Creator {
        msp_id: msp.to_string(),
        id_bytes: cert.pem().into_bytes(),
    }
}

pub fn admin() -> Creator {
    identity("Org1MSP", "Admin@org1", "admin", None)
}

/// The other member organisation's administrator.
pub fn org2_admin() -> Creator {
    identity("Org2MSP", "Admin@org2", "admin", None)
}

/// The member organisations every harness runs with.
pub fn members() -> Members {
    Members::new(["Org1MSP", "Org2MSP"]).unwrap()
}

pub fn client() -> Creator {
    identity("Org2MSP", "User1@org2", "client", None)
}

pub fn attribute_admin() -> Creator {
    identity(
        "Org2MSP",
        "registrar@org2",
        "client",
        Some(json!({ "sf2c.registry.admin": "true" })),
    )
}

pub fn p256_pem() -> String {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .unwrap()
        .public_key_pem()
}

pub fn ed25519_pem() -> String {
    KeyPair::generate_for(&rcgen::PKCS_ED25519)
        .unwrap()
        .public_key_pem()
}

pub fn rsa2048_pem() -> String {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair as _;
    let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = kp.public_key().as_der().unwrap();
    let b64 = base64_encode(der.as_ref());
    format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
}

fn base64_encode(data: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    lines.join("\n")
}

/// A device UUID numbered `n` (n > 0).
pub fn uuid(n: u32) -> String {
    format!("{n:08x}-0000-4000-8000-{n:012x}")
}

pub fn request(uuid: &str, node_type: &str, ip: &str, key_pem: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "uuid": uuid, "node_type": node_type, "virtual_ip": ip,
        "public_key": key_pem, "labels": { "area": "north" }
    }))
    .unwrap()
}

/// Runs calls as transactions with increasing ids and timestamps.
pub struct Harness {
    pub ledger: MemoryLedger,
    pub next_tx: u64,
}

impl Harness {
    pub fn new() -> Self {
        Harness {
            ledger: MemoryLedger::new(),
            next_tx: 1,
        }
    }

    /// The timestamp the next transaction will carry.
    pub fn next_timestamp(&self) -> TxTimestamp {
        TxTimestamp::new(1_700_000_000 + self.next_tx as i64 * 60, 123_000_000)
    }

    pub fn next_tx_id(&self) -> String {
        format!("tx{:04}", self.next_tx)
    }

    /// Runs one call; commits on success. On failure it checks nothing was staged, then discards.
    pub fn submit(
        &mut self,
        who: &Creator,
        function: &str,
        args: &[&[u8]],
    ) -> Result<Vec<u8>, ContractError> {
        let tx_id = self.next_tx_id();
        let ts = self.next_timestamp();
        self.next_tx += 1;
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        let mut tx = self.ledger.begin(&tx_id, ts, who.clone());
        let result = invoke(&mut tx, &members(), function, &args);
        match &result {
            Ok(_) => tx.commit(),
            Err(e) => {
                assert_eq!(
                    tx.pending_writes(),
                    0,
                    "{function} failed ({e}) but staged writes"
                );
                assert!(!tx.has_event(), "{function} failed ({e}) but set an event");
            }
        }
        result
    }

    pub fn register(&mut self, n: u32, node_type: &str, ip: &str) -> Vec<u8> {
        let body = request(&uuid(n), node_type, ip, &p256_pem());
        self.submit(&admin(), "RegisterDevice", &[&body]).unwrap()
    }

    pub fn get(&mut self, uuid: &str) -> serde_json::Value {
        let out = self
            .submit(&client(), "GetDevice", &[uuid.as_bytes()])
            .unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    pub fn events(&self) -> Vec<RegistryEvent> {
        self.ledger
            .events()
            .iter()
            .map(|e| {
                assert_eq!(e.name, device_record::EVENT_NAME);
                RegistryEvent::from_json(&e.payload).unwrap()
            })
            .collect()
    }

    /// Refused calls must leave committed state as it was.
    pub fn assert_refused(
        &mut self,
        who: &Creator,
        function: &str,
        args: &[&[u8]],
    ) -> ContractError {
        let before = self.ledger.state().clone();
        let policies = self.ledger.validation_parameters().clone();
        let events = self.ledger.events().len();
        let err = self.submit(who, function, args).unwrap_err();
        assert_eq!(
            self.ledger.state(),
            &before,
            "{function} changed state on refusal"
        );
        assert_eq!(self.ledger.validation_parameters(), &policies);
        assert_eq!(self.ledger.events().len(), events);
        err
    }
}
