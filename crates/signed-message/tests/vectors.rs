//! Checks the published test vectors in `testdata/vectors.json`; `regenerate_vectors` (ignored) rewrites them.

use std::path::PathBuf;

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use signed_message::{
    Algorithm, Claims, MESSAGE_TYPE, SigningKey, VerifyingKey, decode_and_verify,
    decode_unverified, encode,
};
use uuid::Uuid;

#[derive(Serialize, Deserialize)]
struct VectorFile {
    description: String,
    positive: Vec<Positive>,
    negative: Vec<Negative>,
}

#[derive(Serialize, Deserialize)]
struct Positive {
    alg: String,
    /// RS256 and EdDSA signatures are deterministic: re-signing must give the same bytes.
    deterministic: bool,
    private_key_pkcs8_pem: String,
    public_key_spki_pem: String,
    claims: serde_json::Value,
    header_json: String,
    payload_json: String,
    signing_input: String,
    signature_hex: String,
    compact: String,
}

#[derive(Serialize, Deserialize)]
struct Negative {
    name: String,
    description: String,
    public_key_spki_pem: String,
    compact: String,
    expected_error: String,
}

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/vectors.json")
}

fn load() -> VectorFile {
    let text = std::fs::read_to_string(vectors_path()).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn segment(compact: &str, index: usize) -> &str {
    compact.split('.').nth(index).unwrap()
}

#[test]
fn positive_vectors_decode_verify_and_reproduce() {
    let file = load();
    let algs: Vec<&str> = file.positive.iter().map(|v| v.alg.as_str()).collect();
    assert_eq!(algs, ["RS256", "PS256", "EdDSA", "ES256"]);

    for v in &file.positive {
        let alg = Algorithm::from_name(&v.alg).unwrap();
        let signer = SigningKey::from_pkcs8_pem(&v.private_key_pkcs8_pem, alg).unwrap();
        assert_eq!(
            signer.public_key_pem().unwrap(),
            v.public_key_spki_pem,
            "{}",
            v.alg
        );
        let verifier = VerifyingKey::from_public_key_pem(&v.public_key_spki_pem).unwrap();

        // The pieces of the vector agree with each other.
        assert_eq!(segment(&v.compact, 0), b64(&v.header_json), "{}", v.alg);
        assert_eq!(segment(&v.compact, 1), b64(&v.payload_json), "{}", v.alg);
        assert_eq!(
            v.signing_input,
            format!("{}.{}", b64(&v.header_json), b64(&v.payload_json))
        );
        assert_eq!(
            segment(&v.compact, 2),
            b64(hex::decode(&v.signature_hex).unwrap())
        );

        // The message verifies and yields the published claims.
        let unverified = decode_unverified(&v.compact).unwrap();
        assert_eq!(unverified.signing_input(), v.signing_input);
        assert_eq!(unverified.payload(), v.payload_json.as_bytes());
        let claims = unverified.verify(&verifier).unwrap();
        let expected: Claims = serde_json::from_value(v.claims.clone()).unwrap();
        assert_eq!(claims, expected, "{}", v.alg);

        // This crate serialises the claims to exactly the published bytes.
        let fresh = encode(&signer, &expected).unwrap();
        assert_eq!(
            fresh.split('.').take(2).collect::<Vec<_>>().join("."),
            v.signing_input
        );
        if v.deterministic {
            assert_eq!(fresh, v.compact, "{} signature must be reproducible", v.alg);
            assert_eq!(
                hex::encode(signer.sign_bytes(v.signing_input.as_bytes()).unwrap()),
                v.signature_hex
            );
        } else {
            // Randomised signatures differ each time yet still verify.
            decode_and_verify(&fresh, &verifier).unwrap();
        }
    }
}

#[test]
fn negative_vectors_fail_with_the_expected_kind() {
    let file = load();
    assert!(file.negative.len() >= 4);
    for v in &file.negative {
        let verifier = VerifyingKey::from_public_key_pem(&v.public_key_spki_pem).unwrap();
        let err = decode_and_verify(&v.compact, &verifier).unwrap_err();
        assert_eq!(err.kind().as_str(), v.expected_error, "{}: {err}", v.name);
    }
}

// ---- generation -------------------------------------------------------------------------

const DEVICE: &str = "3f2a8c1e-7b4d-4e6a-9c5f-1d2e3f4a5b6c";

fn vector_claims(seq: u64) -> Claims {
    Claims::new(
        Uuid::parse_str(DEVICE).unwrap(),
        seq,
        1_718_870_400_000 + seq * 1000,
    )
    .with("temperature_c", 21.75)
    .with("humidity_pct", 48u64)
    .with("door_open", false)
    .with("site", "Zürich-Nord/hall 3")
}

fn header_json(alg: &str, kid: &str) -> String {
    format!(r#"{{"alg":"{alg}","typ":"{MESSAGE_TYPE}","kid":"{kid}"}}"#)
}

fn positive(alg: Algorithm, key: &SigningKey) -> Positive {
    let claims = vector_claims(1);
    let compact = key.sign(&claims).unwrap();
    let decoded = decode_unverified(&compact).unwrap();
    Positive {
        alg: alg.as_str().into(),
        deterministic: matches!(alg, Algorithm::RS256 | Algorithm::EdDSA),
        private_key_pkcs8_pem: key.private_key_pem().unwrap(),
        public_key_spki_pem: key.public_key_pem().unwrap(),
        claims: serde_json::to_value(&claims).unwrap(),
        header_json: header_json(alg.as_str(), DEVICE),
        payload_json: String::from_utf8(decoded.payload().to_vec()).unwrap(),
        signing_input: decoded.signing_input().into(),
        signature_hex: hex::encode(decoded.signature()),
        compact,
    }
}

fn negative(
    name: &str,
    description: &str,
    key: &SigningKey,
    compact: String,
    kind: &str,
) -> Negative {
    Negative {
        name: name.into(),
        description: description.into(),
        public_key_spki_pem: key.public_key_pem().unwrap(),
        compact,
        expected_error: kind.into(),
    }
}

#[test]
#[ignore = "rewrites testdata/vectors.json with fresh keys; run on purpose only"]
fn regenerate_vectors() {
    let keys: Vec<(Algorithm, SigningKey)> = Algorithm::ALL
        .into_iter()
        .map(|alg| (alg, SigningKey::generate(alg).unwrap()))
        .collect();
    let key = |alg: Algorithm| &keys.iter().find(|(a, _)| *a == alg).unwrap().1;
    let positive_vectors: Vec<Positive> = keys.iter().map(|(alg, k)| positive(*alg, k)).collect();

    let rs = key(Algorithm::RS256);
    let ed = key(Algorithm::EdDSA);
    let es = key(Algorithm::ES256);
    let rs_msg = rs.sign(&vector_claims(1)).unwrap();
    let ed_msg = ed.sign(&vector_claims(1)).unwrap();
    let es_msg = es.sign(&vector_claims(1)).unwrap();
    let other_ed = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let payload_b64 = segment(&rs_msg, 1).to_owned();
    let other_kid = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a";

    // Signature of the ES256 signing input in DER instead of the JWS fixed r||s form.
    let es_der_key = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        pem::parse(es.private_key_pem().unwrap())
            .unwrap()
            .contents(),
    )
    .unwrap();
    let es_input = decode_unverified(&es_msg)
        .unwrap()
        .signing_input()
        .to_owned();
    let der_sig = es_der_key
        .sign(&SystemRandom::new(), es_input.as_bytes())
        .unwrap();

    // HS256 keyed with the device's public key PEM: the classic algorithm-confusion forgery.
    let hs_input = format!("{}.{payload_b64}", b64(header_json("HS256", DEVICE)));
    let hs_key = hmac::Key::new(hmac::HMAC_SHA256, rs.public_key_pem().unwrap().as_bytes());
    let hs_tag = hmac::sign(&hs_key, hs_input.as_bytes());

    let tampered_payload = serde_json::to_vec(&vector_claims(2)).unwrap();
    let negative_vectors = vec![
        negative(
            "tampered_payload",
            "RS256 message whose payload was replaced by one with seq 2; the signature is the original",
            rs,
            format!(
                "{}.{}.{}",
                segment(&rs_msg, 0),
                b64(&tampered_payload),
                segment(&rs_msg, 2)
            ),
            "bad_signature",
        ),
        negative(
            "wrong_key",
            "EdDSA message checked against another device's Ed25519 key",
            &other_ed,
            ed_msg.clone(),
            "bad_signature",
        ),
        negative(
            "alg_none",
            "unsigned message: header alg \"none\" and an empty signature",
            rs,
            format!("{}.{payload_b64}.", b64(header_json("none", DEVICE))),
            "unsupported_algorithm",
        ),
        negative(
            "alg_hs256_with_public_key",
            "HS256 tag computed with the RSA public key PEM as the HMAC secret",
            rs,
            format!("{hs_input}.{}", b64(hs_tag)),
            "unsupported_algorithm",
        ),
        negative(
            "kid_mismatch",
            "ES256 header kid names a different device than the payload",
            es,
            format!(
                "{}.{}.{}",
                b64(header_json("ES256", other_kid)),
                segment(&es_msg, 1),
                segment(&es_msg, 2)
            ),
            "kid_mismatch",
        ),
        negative(
            "es256_der_signature",
            "ES256 signature encoded as ASN.1 DER instead of the 64-byte r||s form",
            es,
            format!("{es_input}.{}", b64(der_sig)),
            "bad_signature",
        ),
        negative(
            "alg_key_mismatch",
            "valid EdDSA message checked against the device's registered RSA key",
            rs,
            ed_msg,
            "algorithm_key_mismatch",
        ),
        negative(
            "crit_header",
            "header carries \"crit\"; no extensions are understood",
            rs,
            format!(
                "{}.{payload_b64}.{}",
                b64(format!(
                    r#"{{"alg":"RS256","typ":"{MESSAGE_TYPE}","kid":"{DEVICE}","crit":["exp"]}}"#
                )),
                segment(&rs_msg, 2)
            ),
            "malformed",
        ),
    ];

    let file = VectorFile {
        description: "SF2C-BC signed telemetry message test vectors (see docs/protocol.md). \
            Positive: decode, verify with public_key_spki_pem, compare claims; RS256/EdDSA re-signing \
            with private_key_pkcs8_pem gives the same compact string. Negative: verification with \
            public_key_spki_pem must fail with expected_error."
            .into(),
        positive: positive_vectors,
        negative: negative_vectors,
    };
    let mut text = serde_json::to_string_pretty(&file).unwrap();
    text.push('\n');
    std::fs::write(vectors_path(), text).unwrap();
}
