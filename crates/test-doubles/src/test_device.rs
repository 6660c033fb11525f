//! `TestDevice`: devices with real keys, their registry records and real signed messages, for the fog validator's and edge gateway's tests and the benchmark.
//!
//! Not a double (nothing here stands in for Fabric): it moved here from fog-validator's `testkit`
//! so that no product crate compiles test fixtures. It has no fog-validator types, so the
//! validator's unit tests in src/ can use it too.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use device_record::{DeviceRecord, NodeType, parse_public_key_pem};
use signed_message::{Algorithm, Claims, SigningKey};
use uuid::Uuid;

/// A device with a fresh key pair, its registry record and its next sequence number.
pub struct TestDevice {
    pub uuid: String,
    pub key: SigningKey,
    pub record: DeviceRecord,
    pub next_seq: u64,
}

impl TestDevice {
    /// A new device of `node_type` with a freshly generated key for `alg`, registered at version 1.
    ///
    /// # Panics
    /// If key generation fails, which only happens when the crypto library is broken.
    pub fn new(alg: Algorithm, node_type: NodeType) -> Self {
        let key = SigningKey::generate(alg).expect("generate a signing key");
        let uuid = Uuid::new_v4().hyphenated().to_string();
        let public_key = key.public_key_pem().expect("export the public key");
        let record = record_for(&uuid, node_type, &public_key);
        Self {
            uuid,
            key,
            record,
            next_seq: 1,
        }
    }

    /// Signs the next reading, stamped `ts_ms`.
    pub fn next_message(&mut self, ts_ms: u64) -> String {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.message(seq, ts_ms)
    }

    /// Signs a reading with an explicit sequence number.
    pub fn message(&self, seq: u64, ts_ms: u64) -> String {
        let claims = self.claims(seq, ts_ms);
        self.key.sign(&claims).expect("sign claims")
    }

    /// The claims [`TestDevice::message`] signs.
    pub fn claims(&self, seq: u64, ts_ms: u64) -> Claims {
        let uuid = Uuid::parse_str(&self.uuid).expect("uuid made by this builder");
        Claims::new(uuid, seq, ts_ms)
            .with("temperature", 20.5 + (seq % 10) as f64)
            .with("humidity", 40_i64)
    }

    /// A copy of the record after `change`.
    pub fn with_record(&self, change: impl FnOnce(&mut DeviceRecord)) -> DeviceRecord {
        let mut record = self.record.clone();
        change(&mut record);
        record
    }
}

/// A registry record as the chaincode would store it, at version 1.
///
/// # Panics
/// If `public_key` is not a key the registry accepts.
pub fn record_for(uuid: &str, node_type: NodeType, public_key: &str) -> DeviceRecord {
    let info = parse_public_key_pem(public_key).expect("a registrable public key");
    DeviceRecord {
        uuid: uuid.to_owned(),
        node_type,
        virtual_ip: "10.8.0.2".into(),
        public_key: public_key.to_owned(),
        key_algorithm: info.algorithm,
        key_fingerprint: info.fingerprint,
        banned: false,
        banned_timestamp: None,
        ban_reason: None,
        banned_by_msp: None,
        owner_msp: "Org1MSP".into(),
        created_at: "2025-01-01T00:00:00Z".into(),
        updated_at: "2025-01-01T00:00:00Z".into(),
        version: 1,
        labels: Default::default(),
    }
}

/// The same message with one measurement changed and the original signature kept.
///
/// # Panics
/// If `message` is not a compact JWS with a JSON payload.
pub fn tamper_payload(message: &str) -> String {
    let parts: Vec<&str> = message.split('.').collect();
    let payload = URL_SAFE_NO_PAD.decode(parts[1]).expect("base64url payload");
    let mut claims: serde_json::Value = serde_json::from_slice(&payload).expect("JSON payload");
    claims["data"]["temperature"] = serde_json::json!(99.9);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("serialise claims"));
    format!("{}.{}.{}", parts[0], payload, parts[2])
}
