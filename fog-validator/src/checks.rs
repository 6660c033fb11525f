//! The verification pipeline of one message: size, structure, registry (exists, Gateway, not banned), signature.
//!
//! Pure functions over a message, the sender's certificate identity and the cached device; the replay
//! check, which needs shared state, lives in [`crate::replay`] and runs after these.

use device_record::NodeType;
use signed_message::{MessageError, Unverified, decode_unverified};

use crate::peer::PeerIdentity;
use crate::refusal::{Refusal, code};
use crate::registry::cache::CachedDevice;

pub use signed_message::Claims;

/// Checks size and structure; on success the claims are readable but not yet trusted.
pub fn decode(message: &str, max_len: usize) -> Result<Unverified<'_>, Refusal> {
    if message.len() > max_len {
        return Err(Refusal::new(
            code::OVERSIZED,
            format!(
                "message is {} bytes, over the {max_len}-byte limit; send fewer measurements per message",
                message.len()
            ),
        ));
    }
    decode_unverified(message).map_err(|e| {
        let device = match &e {
            MessageError::KidMismatch { device, .. } => Some(device.clone()),
            _ => None,
        };
        let mut refusal = refusal_for(e);
        refusal.device = device;
        refusal
    })
}

/// Checks that the sender's client certificate names the device the message claims, so a gateway can
/// only send for itself. Senders without a certificate (`client_auth = false`) are not checked.
pub fn match_peer(message: &Unverified<'_>, identity: PeerIdentity) -> Result<(), Refusal> {
    let claimed = &message.claims().device;
    let holder = match identity {
        PeerIdentity::Anonymous => return Ok(()),
        PeerIdentity::Device(holder) => holder,
        PeerIdentity::Unnamed => {
            return Err(Refusal::new(
                code::CERT_MISMATCH,
                format!(
                    "certificate does not match device {claimed}: the client certificate names no \
                     device UUID; connect with the certificate issued to this device at enrolment"
                ),
            )
            .for_device(claimed));
        }
    };
    // decode_unverified has already checked that the claimed device is a UUID.
    if message.claims().device_uuid().ok() == Some(holder) {
        return Ok(());
    }
    Err(Refusal::new(
        code::CERT_MISMATCH,
        format!(
            "certificate does not match device: the client certificate is issued to {holder} but \
             the message claims {claimed}; a gateway may only send its own readings"
        ),
    )
    .for_device(&holder.to_string()))
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
        )
        .for_device(uuid));
    };
    let record = &device.record;
    if record.node_type != NodeType::Gateway {
        return Err(Refusal::new(
            code::NOT_A_GATEWAY,
            format!(
                "device {uuid} is registered as {}, and only a Gateway may send telemetry",
                record.node_type
            ),
        )
        .for_device(uuid));
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
        )
        .for_device(uuid));
    }
    let key = device.key.as_ref().map_err(|e| {
        Refusal::new(
            code::SIGNATURE_INVALID,
            format!("public key verification failed: the registered key is unusable ({e})"),
        )
        .for_device(uuid)
    })?;
    message
        .verify(key)
        .map_err(|e| refusal_for(e).for_device(uuid))
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
        authorize(&decode(message, 64 * 1024)?, device)
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

        let err = check(&msg, None).unwrap_err();
        assert_eq!(
            (err.code, err.device.as_deref()),
            (code::UNKNOWN_DEVICE, Some(dev.uuid.as_str()))
        );

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

    #[test]
    fn the_certificate_must_name_the_claimed_device() {
        let mut dev = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
        let msg = dev.next_message(NOW);
        let decoded = decode(&msg, 64 * 1024).unwrap();
        let own: uuid::Uuid = dev.uuid.parse().unwrap();
        assert!(match_peer(&decoded, PeerIdentity::Device(own)).is_ok());
        assert!(match_peer(&decoded, PeerIdentity::Anonymous).is_ok());

        let other = uuid::Uuid::new_v4();
        let err = match_peer(&decoded, PeerIdentity::Device(other)).unwrap_err();
        assert_eq!(err.code, code::CERT_MISMATCH);
        // The warning names the certificate holder, who sent it; the reason names both.
        assert_eq!(err.device, Some(other.to_string()));
        assert!(err.reason.contains(&dev.uuid), "{}", err.reason);

        let err = match_peer(&decoded, PeerIdentity::Unnamed).unwrap_err();
        assert_eq!(
            (err.code, err.device.as_deref()),
            (code::CERT_MISMATCH, Some(dev.uuid.as_str()))
        );
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
            decode(&msg, msg.len() - 1).unwrap_err().code,
            code::OVERSIZED
        );
        for bad in ["", "abc", "a.b", "a.b.c.d", "!!!.???.###"] {
            assert_eq!(
                decode(bad, 1024).unwrap_err().code,
                code::MALFORMED,
                "{bad:?}"
            );
        }
    }
}
