//! The verification pipeline of one message: size, certificate owner = claimed device, structure, registry (exists, Gateway, not banned), signature.
//!
//! Pure functions over a message, the sender's certificate identity and the cached device; the replay
//! check, which needs shared state, lives in [`crate::replay`] and runs after these.

use device_record::NodeType;
use signed_message::{MessageError, Unverified, decode_unverified};

use crate::caller::CallerIdentity;
use crate::refusal::{Refusal, code};
use crate::registry::cache::CachedDevice;

pub use signed_message::Claims;

/// Checks size, then that the sender's certificate names the device the message claims, then the
/// rest of the structure; on success the claims are readable but not yet trusted.
///
/// The certificate check comes before every other check that reads the claims (a `kid` naming
/// another device included), so a message naming a device other than the sender's is always
/// answered as such (1008), whatever else is wrong with it.
pub fn decode(
    message: &str,
    max_len: usize,
    identity: CallerIdentity,
) -> Result<Unverified<'_>, Refusal> {
    if message.len() > max_len {
        return Err(Refusal::new(
            code::OVERSIZED,
            format!(
                "message is {} bytes, over the {max_len}-byte limit; send fewer measurements per message",
                message.len()
            ),
        ));
    }
    match decode_unverified(message) {
        Ok(unverified) => {
            match_caller(&unverified.claims().device, identity)?;
            Ok(unverified)
        }
        Err(e) => {
            if let MessageError::KidMismatch { device, .. } = &e {
                match_caller(device, identity)?;
            }
            Err(refusal_for(e))
        }
    }
}

/// Checks that the sender's client certificate names `claimed`, so a gateway can only send for
/// itself. Senders without a certificate (`client_auth = false`) are not checked.
pub fn match_caller(claimed: &str, identity: CallerIdentity) -> Result<(), Refusal> {
    let holder = match identity {
        CallerIdentity::Anonymous => return Ok(()),
        CallerIdentity::Device { uuid, .. } => uuid,
        CallerIdentity::Unnamed => {
            return Err(Refusal::new(
                code::CERT_MISMATCH,
                format!(
                    "certificate does not match device {claimed}: the client certificate names no \
                     device UUID; connect with the certificate issued to this device at enrolment"
                ),
            ));
        }
    };
    if uuid::Uuid::parse_str(claimed).ok() == Some(holder) {
        return Ok(());
    }
    Err(Refusal::new(
        code::CERT_MISMATCH,
        format!(
            "certificate does not match device: the client certificate is issued to {holder} but \
             the message claims {claimed}; a gateway may only send its own readings"
        ),
    ))
}

/// Checks the registry rules and the signature for a decoded message and the device it claims
/// (`None` when the registry does not know it).
pub fn authorize(
    message: &Unverified<'_>,
    device: Option<&CachedDevice>,
) -> Result<Claims, Refusal> {
    let uuid = message.claims().device.as_str();
    let Some(device) = device else {
        return Err(Refusal::new(
            code::UNKNOWN_DEVICE,
            format!("device {uuid} is not in the registry; enrol it before sending"),
        ));
    };
    let record = &device.record;
    if record.node_type != NodeType::Gateway {
        return Err(Refusal::new(
            code::NOT_A_GATEWAY,
            format!(
                "device {uuid} is registered as {}, and only a Gateway may send telemetry",
                record.node_type
            ),
        ));
    }
    if record.banned {
        let since = record
            .banned_timestamp
            .as_deref()
            .unwrap_or("an unknown time");
        let why = record.ban_reason.as_deref().unwrap_or("no reason recorded");
        return Err(Refusal::new(
            code::BANNED,
            format!("gateway is banned (since {since}: {why})"),
        ));
    }
    let key = device.key.as_ref().map_err(|e| {
        Refusal::new(
            code::SIGNATURE_INVALID,
            format!("public key verification failed: the registered key is unusable ({e})"),
        )
    })?;
    message.verify(key).map_err(refusal_for)
}

/// The stable code and reason for a message-format error.
fn refusal_for(error: MessageError) -> Refusal {
    let code = match &error {
        MessageError::TooLarge { .. } => code::OVERSIZED,
        MessageError::BadSignature { .. }
        | MessageError::AlgorithmKeyMismatch { .. }
        | MessageError::Key(_) => code::SIGNATURE_INVALID,
        _ => code::MALFORMED,
    };
    let reason = match &error {
        MessageError::BadSignature { .. } => error.to_string(),
        _ if code == code::SIGNATURE_INVALID => format!("public key verification failed: {error}"),
        _ => error.to_string(),
    };
    Refusal::new(code, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use device_record::DeviceRecord;
    use signed_message::Algorithm;
    use test_doubles::TestDevice;
    use test_doubles::test_device::tamper_payload;

    const NOW: u64 = 1_700_000_000_000;

    /// The device's record, after `change`, as the cache would hold it.
    fn cached_with(dev: &TestDevice, change: impl FnOnce(&mut DeviceRecord)) -> CachedDevice {
        CachedDevice::new(dev.with_record(change))
    }

    fn check(message: &str, device: Option<&CachedDevice>) -> Result<Claims, Refusal> {
        authorize(
            &decode(message, 64 * 1024, CallerIdentity::Anonymous)?,
            device,
        )
    }

    #[test]
    fn a_valid_message_from_a_gateway_passes() {
        let mut dev = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
        let msg = dev.next_message(NOW);
        let claims = check(&msg, Some(&cached_with(&dev, |_| {}))).unwrap();
        assert_eq!(claims.device, dev.uuid);
        assert_eq!(claims.seq, 1);
    }

    #[test]
    fn each_rule_has_its_own_code() {
        let mut dev = TestDevice::new(Algorithm::ES256, NodeType::Gateway);
        let msg = dev.next_message(NOW);

        assert_eq!(check(&msg, None).unwrap_err().code, code::UNKNOWN_DEVICE);

        let validator = cached_with(&dev, |r| r.node_type = NodeType::Validator);
        assert_eq!(
            check(&msg, Some(&validator)).unwrap_err().code,
            code::NOT_A_GATEWAY
        );

        let banned = cached_with(&dev, |r| {
            r.banned = true;
            r.ban_reason = Some("stolen".into());
        });
        let err = check(&msg, Some(&banned)).unwrap_err();
        assert_eq!(err.code, code::BANNED);
        assert!(
            err.reason.starts_with("gateway is banned"),
            "{}",
            err.reason
        );
        assert!(err.reason.contains("stolen"), "{}", err.reason);

        // Registered with another key of the same algorithm: the signature does not verify.
        let other = TestDevice::new(Algorithm::ES256, NodeType::Gateway);
        let wrong_key = cached_with(&dev, |r| r.public_key = other.record.public_key.clone());
        let err = check(&msg, Some(&wrong_key)).unwrap_err();
        assert_eq!(err.code, code::SIGNATURE_INVALID);
        assert!(
            err.reason.starts_with("public key verification failed"),
            "{}",
            err.reason
        );

        // Registered with a key of another family.
        let ed = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
        let other_family = cached_with(&dev, |r| r.public_key = ed.record.public_key.clone());
        assert_eq!(
            check(&msg, Some(&other_family)).unwrap_err().code,
            code::SIGNATURE_INVALID
        );
    }

    /// A message naming `device` with `kid` and a junk signature, as an attacker writes it.
    fn forge(device: &str, kid: &str, seq: u64, ts: u64) -> String {
        use base64::Engine;
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!(
            "{}.{}.anVuaw",
            b64(serde_json::json!({"alg": "ES256", "typ": "sf2c-telemetry+jws", "kid": kid})),
            b64(serde_json::json!({"device": device, "seq": seq, "ts": ts, "data": {"t": 1}}))
        )
    }

    fn holder(uuid: &str) -> CallerIdentity {
        CallerIdentity::Device {
            uuid: uuid.parse().unwrap(),
            role: Some(vpn_pki::Role::Gateway),
        }
    }

    #[test]
    fn the_certificate_must_name_the_claimed_device() {
        let mut dev = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
        let msg = dev.next_message(NOW);
        assert!(decode(&msg, 64 * 1024, holder(&dev.uuid)).is_ok());
        assert!(decode(&msg, 64 * 1024, CallerIdentity::Anonymous).is_ok());

        let other = uuid::Uuid::new_v4().to_string();
        let err = decode(&msg, 64 * 1024, holder(&other)).unwrap_err();
        assert_eq!(err.code, code::CERT_MISMATCH);
        assert!(
            err.reason.contains(&dev.uuid) && err.reason.contains(&other),
            "{}",
            err.reason
        );
        let err = decode(&msg, 64 * 1024, CallerIdentity::Unnamed).unwrap_err();
        assert_eq!(err.code, code::CERT_MISMATCH);
    }

    #[test]
    fn another_devices_name_is_refused_before_a_kid_mismatch() {
        // The attack: the payload names a victim, `kid` names someone else, junk signature.
        let victim = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
        let sender = uuid::Uuid::new_v4().to_string();
        let forged = forge(&victim.uuid, &sender, 1, NOW);
        let err = decode(&forged, 64 * 1024, holder(&sender)).unwrap_err();
        assert_eq!(err.code, code::CERT_MISMATCH, "{err:?}");
        // Naming itself in the payload with another `kid` is only malformed.
        let own = forge(&sender, &victim.uuid, 1, NOW);
        let err = decode(&own, 64 * 1024, holder(&sender)).unwrap_err();
        assert_eq!(err.code, code::MALFORMED, "{err:?}");
    }

    #[test]
    fn tampered_payload_fails_the_signature() {
        let mut dev = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
        let msg = dev.next_message(NOW);
        let tampered = tamper_payload(&msg);
        assert_eq!(
            check(&tampered, Some(&cached_with(&dev, |_| {})))
                .unwrap_err()
                .code,
            code::SIGNATURE_INVALID
        );
    }

    #[test]
    fn oversized_and_malformed_are_refused_before_lookup() {
        let mut dev = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
        let msg = dev.next_message(NOW);
        assert_eq!(
            decode(&msg, msg.len() - 1, CallerIdentity::Anonymous)
                .unwrap_err()
                .code,
            code::OVERSIZED
        );
        for bad in ["", "abc", "a.b", "a.b.c.d", "!!!.???.###"] {
            assert_eq!(
                decode(bad, 1024, CallerIdentity::Anonymous)
                    .unwrap_err()
                    .code,
                code::MALFORMED,
                "{bad:?}"
            );
        }
    }
}
