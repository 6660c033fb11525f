//! Sign-then-verify behaviour of every algorithm, and the ways a message is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use signed_message::{
    Algorithm, Claims, ErrorKind, KeyFamily, MAX_MESSAGE_LEN, MessageError, SigningKey,
    VerifyingKey, decode_and_verify, decode_unverified, encode,
};
use uuid::Uuid;

fn claims(seq: u64) -> Claims {
    Claims::new(
        Uuid::parse_str("6f1c2d3e-4b5a-4978-8a6b-5c4d3e2f1a0b").unwrap(),
        seq,
        1_718_000_000_000 + seq,
    )
    .with("temperature_c", 21.75)
    .with("humidity_pct", 48u64)
    .with("door", "closed")
    .with("tamper", false)
}

fn kind(result: Result<impl std::fmt::Debug, MessageError>) -> ErrorKind {
    result.unwrap_err().kind()
}

/// Re-encodes `compact` with one segment replaced.
fn replace_segment(compact: &str, index: usize, bytes: &[u8]) -> String {
    let mut parts: Vec<String> = compact.split('.').map(str::to_owned).collect();
    parts[index] = URL_SAFE_NO_PAD.encode(bytes);
    parts.join(".")
}

#[test]
fn every_algorithm_signs_and_verifies_through_its_pem_forms() {
    for alg in Algorithm::ALL {
        let signer = SigningKey::generate(alg).unwrap();
        // Reload both halves from PEM, as a device and a validator would.
        let signer = SigningKey::from_pkcs8_pem(&signer.private_key_pem().unwrap(), alg).unwrap();
        let verifier =
            VerifyingKey::from_public_key_pem(&signer.public_key_pem().unwrap()).unwrap();
        assert_eq!(verifier.family(), alg.key_family());

        let sent = claims(42);
        let compact = signer.sign(&sent).unwrap();
        let unverified = decode_unverified(&compact).unwrap();
        assert_eq!(unverified.header().alg, alg);
        assert_eq!(unverified.header().kid, sent.device);
        assert_eq!(unverified.claims(), &sent);
        assert!(compact.starts_with(unverified.signing_input()));
        assert_eq!(unverified.verify(&verifier).unwrap(), sent, "{alg}");
        assert_eq!(decode_and_verify(&compact, &verifier).unwrap(), sent);
    }
}

#[test]
fn signature_sizes_follow_the_algorithm() {
    for (alg, len) in [
        (Algorithm::RS256, 256),
        (Algorithm::PS256, 256),
        (Algorithm::EdDSA, 64),
        (Algorithm::ES256, 64),
    ] {
        let compact = encode(&SigningKey::generate(alg).unwrap(), &claims(1)).unwrap();
        assert_eq!(
            decode_unverified(&compact).unwrap().signature().len(),
            len,
            "{alg}"
        );
    }
}

#[test]
fn tampered_payload_and_wrong_key_fail_as_bad_signature() {
    for alg in Algorithm::ALL {
        let signer = SigningKey::generate(alg).unwrap();
        let verifier = signer.verifying_key().unwrap();
        let compact = signer.sign(&claims(5)).unwrap();

        let forged = claims(6);
        let tampered = replace_segment(&compact, 1, &serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            kind(decode_and_verify(&tampered, &verifier)),
            ErrorKind::BadSignature
        );

        let other = SigningKey::generate(alg).unwrap().verifying_key().unwrap();
        let err = decode_and_verify(&compact, &other).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadSignature);
        assert!(
            err.to_string().contains("public key verification failed"),
            "{err}"
        );
    }
}

#[test]
fn header_algorithm_must_match_the_key_family() {
    let rsa = SigningKey::generate(Algorithm::RS256).unwrap();
    let ed = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let compact = ed.sign(&claims(1)).unwrap();
    let err = decode_and_verify(&compact, &rsa.verifying_key().unwrap()).unwrap_err();
    assert!(matches!(
        err,
        MessageError::AlgorithmKeyMismatch {
            alg: Algorithm::EdDSA,
            needs: KeyFamily::Ed25519,
            found: KeyFamily::Rsa
        }
    ));
}

#[test]
fn rs256_and_ps256_are_not_interchangeable_on_one_rsa_key() {
    let der = SigningKey::generate(Algorithm::RS256)
        .unwrap()
        .private_key_pem()
        .unwrap();
    let rs = SigningKey::from_pkcs8_pem(&der, Algorithm::RS256).unwrap();
    let ps = SigningKey::from_pkcs8_pem(&der, Algorithm::PS256).unwrap();
    let verifier = rs.verifying_key().unwrap();
    let rs_msg = rs.sign(&claims(1)).unwrap();
    let ps_msg = ps.sign(&claims(1)).unwrap();
    decode_and_verify(&rs_msg, &verifier).unwrap();
    decode_and_verify(&ps_msg, &verifier).unwrap();
    // Relabel each signature with the other RSA algorithm: the padding check must fail.
    let header_of = |m: &str| m.split('.').next().unwrap().to_owned();
    let swap = |m: &str, header: String| {
        let mut parts: Vec<&str> = m.split('.').collect();
        parts[0] = &header;
        parts.join(".")
    };
    let relabelled = swap(&rs_msg, header_of(&ps_msg));
    assert_eq!(
        kind(decode_and_verify(&relabelled, &verifier)),
        ErrorKind::BadSignature
    );
    let relabelled = swap(&ps_msg, header_of(&rs_msg));
    assert_eq!(
        kind(decode_and_verify(&relabelled, &verifier)),
        ErrorKind::BadSignature
    );
}

#[test]
fn a_message_re_serialised_with_other_whitespace_no_longer_verifies() {
    let signer = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let compact = signer.sign(&claims(9)).unwrap();
    let payload = URL_SAFE_NO_PAD
        .decode(compact.split('.').nth(1).unwrap())
        .unwrap();
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(&payload).unwrap())
            .unwrap();
    assert_ne!(pretty, payload);
    let respaced = replace_segment(&compact, 1, &pretty);
    // Same claims, different bytes: decoding succeeds but the signature covers the original bytes only.
    assert_eq!(decode_unverified(&respaced).unwrap().claims(), &claims(9));
    assert_eq!(
        kind(decode_and_verify(
            &respaced,
            &signer.verifying_key().unwrap()
        )),
        ErrorKind::BadSignature
    );
}

#[test]
fn kid_must_name_the_payload_device() {
    let signer = SigningKey::generate(Algorithm::ES256).unwrap();
    let compact = signer.sign(&claims(1)).unwrap();
    let header = format!(
        r#"{{"alg":"ES256","typ":"sf2c-telemetry+jws","kid":"{}"}}"#,
        Uuid::new_v4()
    );
    let swapped = replace_segment(&compact, 0, header.as_bytes());
    assert_eq!(kind(decode_unverified(&swapped)), ErrorKind::KidMismatch);
}

#[test]
fn structural_problems_are_malformed_and_name_the_part() {
    let signer = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let compact = signer.sign(&claims(1)).unwrap();
    let parts: Vec<&str> = compact.split('.').collect();
    let cases = [
        (format!("{}.{}", parts[0], parts[1]), "compact"),
        (format!("{compact}.x"), "compact"),
        (format!("{}.{}.", parts[0], parts[1]), "signature"),
        (
            format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
            "protected header",
        ),
        (
            format!("{}.{}+.{}", parts[0], parts[1], parts[2]),
            "payload",
        ),
        (
            format!(
                "{}.{}.{}",
                parts[0],
                URL_SAFE_NO_PAD.encode("{not json"),
                parts[2]
            ),
            "payload",
        ),
        (
            format!("{}.{}.{}$", parts[0], parts[1], parts[2]),
            "signature",
        ),
    ];
    for (message, part) in cases {
        let err = decode_unverified(&message).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Malformed, "{message}");
        assert!(err.to_string().contains(part), "{part}: {err}");
    }
}

#[test]
fn payload_json_of_the_wrong_shape_is_claims_invalid() {
    let signer = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let compact = signer.sign(&claims(1)).unwrap();
    let payload = r#"{"device":"6f1c2d3e-4b5a-4978-8a6b-5c4d3e2f1a0b","seq":"1","ts":1,"data":{}}"#;
    let bad = replace_segment(&compact, 1, payload.as_bytes());
    assert_eq!(kind(decode_unverified(&bad)), ErrorKind::ClaimsInvalid);
}

#[test]
fn oversized_messages_are_refused_before_decoding() {
    let at_limit = "a".repeat(MAX_MESSAGE_LEN);
    // Exactly at the limit is decoded (and fails for other reasons).
    assert_eq!(kind(decode_unverified(&at_limit)), ErrorKind::Malformed);
    let over = "a".repeat(MAX_MESSAGE_LEN + 1);
    assert_eq!(kind(decode_unverified(&over)), ErrorKind::TooLarge);

    let signer = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let big = claims(1).with("blob", "x".repeat(MAX_MESSAGE_LEN));
    assert_eq!(kind(signer.sign(&big)), ErrorKind::TooLarge);
}

#[test]
fn keys_of_the_wrong_family_are_refused_when_loaded() {
    let ed_pem = SigningKey::generate(Algorithm::EdDSA)
        .unwrap()
        .private_key_pem()
        .unwrap();
    assert_eq!(
        kind(SigningKey::from_pkcs8_pem(&ed_pem, Algorithm::RS256)),
        ErrorKind::Key
    );
    assert_eq!(
        kind(SigningKey::from_pkcs8_pem(&ed_pem, Algorithm::ES256)),
        ErrorKind::Key
    );
    let public_pem = SigningKey::generate(Algorithm::EdDSA)
        .unwrap()
        .public_key_pem()
        .unwrap();
    assert_eq!(
        kind(SigningKey::from_pkcs8_pem(&public_pem, Algorithm::EdDSA)),
        ErrorKind::Key
    );

    let p256 = SigningKey::generate(Algorithm::ES256).unwrap();
    let spki = p256.public_key_der().unwrap();
    assert_eq!(
        kind(VerifyingKey::from_spki_der(KeyFamily::Rsa, &spki)),
        ErrorKind::Key
    );
    assert_eq!(
        VerifyingKey::from_spki_der_any(&spki).unwrap().family(),
        KeyFamily::EcP256
    );
}

#[test]
fn signing_refuses_claims_with_a_non_canonical_device() {
    let signer = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let mut bad = claims(1);
    bad.device = bad.device.to_uppercase();
    assert_eq!(kind(signer.sign(&bad)), ErrorKind::ClaimsInvalid);
}

/// A 1024-bit RSA public key: below the accepted range.
const RSA_1024_SPKI_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDk81RyKy5FiCJvq9Bb3Iz+7ubt
7aHbJ6Nvn61p1Rh6Ex4Y3N6q+yeMQcxDB9TBouQ9kOJYU5+xh47pHi3h8s9poN/j
8WD4aRhrQiQ4ELhxaAVyBpkVoWloCC9L4V+5YOIIA8a5XSiAX9sY5oAaaP/O8KA3
bffE9u7feq8mV5LISwIDAQAB
-----END PUBLIC KEY-----
";

#[test]
fn rsa_keys_below_2048_bits_are_refused() {
    let der = pem::parse(RSA_1024_SPKI_PEM).unwrap().into_contents();
    for result in [
        VerifyingKey::from_spki_der(KeyFamily::Rsa, &der),
        VerifyingKey::from_spki_der_any(&der),
        VerifyingKey::from_public_key_pem(RSA_1024_SPKI_PEM),
    ] {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Key);
        assert!(err.to_string().contains("1024"), "{err}");
    }
    let rsa = SigningKey::generate(Algorithm::RS256)
        .unwrap()
        .verifying_key()
        .unwrap();
    assert_eq!(rsa.rsa_bits(), Some(2048));
}
