//! Tests of the key rule: accepted algorithms and sizes, refusals with their own errors, canonical PEM.

use super::*;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;

const RSA1024_SPKI: &str = include_str!("../../tests/fixtures/rsa1024-spki.pem");
const RSA1024_PKCS1: &str = include_str!("../../tests/fixtures/rsa1024-pkcs1.pem");

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let body: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        body.join("\n")
    )
}

fn rsa2048() -> (Vec<u8>, Vec<u8>) {
    let kp = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let pkcs1 = kp.public_key().as_ref().to_vec();
    let spki = kp.public_key().as_der().unwrap().as_ref().to_vec();
    (pkcs1, spki)
}

#[test]
fn rsa_2048_spki_and_pkcs1_give_the_same_key() {
    let (pkcs1, spki) = rsa2048();
    let a = parse_public_key_pem(&pem("PUBLIC KEY", &spki)).unwrap();
    let b = parse_public_key_pem(&pem("RSA PUBLIC KEY", &pkcs1)).unwrap();
    assert_eq!(a.algorithm, KeyAlgorithm::Rsa);
    assert_eq!(a.bits, 2048);
    assert_eq!(a.raw, pkcs1);
    assert_eq!(a.spki_der, spki);
    // The hand-built SPKI wrapper must be byte-identical to the library's encoding.
    assert_eq!(b, a);
    assert_eq!(
        a.fingerprint,
        hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &spki))
    );
}

#[test]
fn rsa_1024_is_refused_naming_the_size() {
    for fixture in [RSA1024_SPKI, RSA1024_PKCS1] {
        let err = parse_public_key_pem(fixture).unwrap_err();
        assert_eq!(err, KeyError::RsaTooSmall { bits: 1024 });
        assert!(err.to_string().contains("1024 bits"), "{err}");
    }
}

#[test]
fn p256_and_ed25519_keys_are_accepted() {
    let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let info = parse_public_key_pem(&ec.public_key_pem()).unwrap();
    assert_eq!(info.algorithm, KeyAlgorithm::EcdsaP256);
    assert_eq!(info.bits, 256);
    assert_eq!(info.raw, ec.public_key_raw());
    assert_eq!(info.raw.len(), 65);
    assert_eq!(
        info.spki_der,
        rcgen::PublicKeyData::subject_public_key_info(&ec)
    );

    let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let info = parse_public_key_pem(&ed.public_key_pem()).unwrap();
    assert_eq!(info.algorithm, KeyAlgorithm::Ed25519);
    assert_eq!(info.raw, ed.public_key_raw());
    assert_eq!(info.fingerprint.len(), 64);
    assert!(
        info.fingerprint
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    );
}

#[test]
fn p384_is_refused_as_unsupported_curve() {
    let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let err = parse_public_key_pem(&ec.public_key_pem()).unwrap_err();
    assert_eq!(
        err,
        KeyError::UnsupportedCurve {
            curve: "1.3.132.0.34".to_string()
        }
    );
}

#[test]
fn other_algorithms_are_refused() {
    // SPKI with the X25519 OID (1.3.101.110) and a 32-byte key.
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(&[7u8; 32]);
    let err = parse_public_key_pem(&pem("PUBLIC KEY", &der)).unwrap_err();
    assert_eq!(
        err,
        KeyError::UnsupportedAlgorithm {
            oid: "1.3.101.110".to_string()
        }
    );
}

#[test]
fn non_pem_bad_label_and_bad_der_each_have_their_own_error() {
    assert!(matches!(
        parse_public_key_pem("ssh-ed25519 AAAA device@x").unwrap_err(),
        KeyError::NotPem { .. }
    ));
    let cert_label = pem("CERTIFICATE", &[0x30, 0x00]);
    assert_eq!(
        parse_public_key_pem(&cert_label).unwrap_err(),
        KeyError::UnsupportedPemLabel {
            label: "CERTIFICATE".to_string()
        }
    );
    let garbage = pem("PUBLIC KEY", &[0x04, 0x03, 1, 2, 3]);
    assert!(matches!(
        parse_public_key_pem(&garbage).unwrap_err(),
        KeyError::MalformedDer { .. }
    ));
    let garbage = pem("RSA PUBLIC KEY", &[0x30, 0x03, 1, 2, 3]);
    assert!(matches!(
        parse_public_key_pem(&garbage).unwrap_err(),
        KeyError::MalformedDer { .. }
    ));
}

#[test]
fn p256_point_off_the_curve_is_malformed() {
    let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let good = parse_public_key_pem(&ec.public_key_pem()).unwrap();
    let mut der = good.spki_der.clone();
    // Change the last byte of y: (x, y') is then almost surely not on the curve.
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let err = parse_public_key_pem(&pem("PUBLIC KEY", &der)).unwrap_err();
    assert!(
        matches!(&err, KeyError::MalformedKey { algorithm: KeyAlgorithm::EcdsaP256, reason } if reason.contains("not on the P-256 curve")),
        "{err:?}"
    );
}

#[test]
fn ed25519_bytes_that_are_not_a_point_are_malformed() {
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    // y = 2 has no matching x on Curve25519, so it does not decompress.
    let mut y = [0u8; 32];
    y[0] = 2;
    der.extend_from_slice(&y);
    let err = parse_public_key_pem(&pem("PUBLIC KEY", &der)).unwrap_err();
    assert!(
        matches!(&err, KeyError::MalformedKey { algorithm: KeyAlgorithm::Ed25519, reason } if reason.contains("not a point")),
        "{err:?}"
    );
}

#[test]
fn ed25519_with_wrong_length_is_malformed() {
    let mut der = vec![
        0x30, 0x29, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x20, 0x00,
    ];
    der.extend_from_slice(&[7u8; 31]);
    let err = parse_public_key_pem(&pem("PUBLIC KEY", &der)).unwrap_err();
    assert!(
        matches!(
            err,
            KeyError::MalformedKey {
                algorithm: KeyAlgorithm::Ed25519,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn der_length_encoding_handles_long_forms() {
    let mut v = Vec::new();
    push_der_length(&mut v, 0x7f);
    push_der_length(&mut v, 0x80);
    push_der_length(&mut v, 0x1234);
    assert_eq!(v, vec![0x7f, 0x81, 0x80, 0x82, 0x12, 0x34]);
}

/// A PKCS#1 RSAPublicKey with a `bits`-bit modulus (not a real key: only its size matters here).
fn fake_pkcs1(bits: usize, exponent: &[u8]) -> Vec<u8> {
    let mut modulus = vec![0xffu8; bits.div_ceil(8)];
    modulus[0] = 0xff >> (modulus.len() * 8 - bits);
    let mut body = der_unsigned_integer(&modulus);
    body.extend(der_unsigned_integer(exponent));
    let mut der = vec![0x30];
    push_der_length(&mut der, body.len());
    der.extend(body);
    der
}

#[test]
fn rsa_sizes_from_2048_to_8192_bits_are_accepted_and_others_refused() {
    let e = [0x01, 0x00, 0x01];
    for bits in [2048, 3072, 8192] {
        let info = parse_public_key_pem(&pem("RSA PUBLIC KEY", &fake_pkcs1(bits, &e))).unwrap();
        assert_eq!(info.bits, bits as u32);
    }
    let err = parse_public_key_pem(&pem("RSA PUBLIC KEY", &fake_pkcs1(8193, &e))).unwrap_err();
    assert_eq!(err, KeyError::RsaTooLarge { bits: 8193 });
    assert!(err.to_string().contains("at most 8192"), "{err}");
    let err = parse_public_key_pem(&pem("RSA PUBLIC KEY", &fake_pkcs1(2047, &e))).unwrap_err();
    assert_eq!(err, KeyError::RsaTooSmall { bits: 2047 });
}

#[test]
fn rsa_exponents_other_than_65537_are_refused() {
    for (e, shown) in [(vec![3u8], "3"), (vec![0x01, 0x00, 0x03], "65539")] {
        let err = parse_public_key_pem(&pem("RSA PUBLIC KEY", &fake_pkcs1(2048, &e))).unwrap_err();
        assert_eq!(
            err,
            KeyError::RsaExponent {
                exponent: shown.to_string()
            }
        );
        assert!(err.to_string().contains("only 65537"), "{err}");
    }
    // Also inside an SPKI, not only in PKCS#1 form.
    let spki = info(
        KeyAlgorithm::Rsa,
        2048,
        fake_pkcs1(2048, &[3]),
        &RSA_ALGORITHM_ID_DER,
    )
    .spki_der;
    assert!(matches!(
        parse_public_key_pem(&pem("PUBLIC KEY", &spki)).unwrap_err(),
        KeyError::RsaExponent { .. }
    ));
}

#[test]
fn any_spelling_of_a_key_gives_one_canonical_pem() {
    let (pkcs1, spki) = rsa2048();
    let canonical = pem("PUBLIC KEY", &spki);
    let b64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&spki)
    };
    let spellings = [
        canonical.clone(),
        pem("RSA PUBLIC KEY", &pkcs1),
        canonical.replace('\n', "\r\n"),
        format!("\n\n  {canonical}  \n"),
        // One long base64 line, as some tools write it.
        format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----"),
    ];
    for text in &spellings {
        let info = parse_public_key_pem(text).unwrap();
        assert_eq!(info.pem(), canonical, "from {text:?}");
        assert_eq!(info.spki_der, spki);
    }
    // rcgen (and signed-message) already write the canonical form.
    let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let text = ec.public_key_pem();
    assert_eq!(parse_public_key_pem(&text).unwrap().pem(), text);
}

#[test]
fn extra_blocks_text_headers_and_oversized_input_are_refused() {
    let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let one = ec.public_key_pem();
    let err = parse_public_key_pem(&format!("{one}{one}")).unwrap_err();
    assert_eq!(err, KeyError::MultiplePemBlocks { count: 2 });
    for bad in [
        format!("my device key\n{one}"),
        format!("{one}trailing words\n"),
        one.replace("-----END PUBLIC KEY-----", "-----END CERTIFICATE-----"),
        one.replacen('\n', "\nProc-Type: 4,ENCRYPTED\n", 1),
    ] {
        assert!(
            matches!(parse_public_key_pem(&bad), Err(KeyError::NotPem { .. })),
            "{bad:?}"
        );
    }
    let padded = format!("{one}{}", " ".repeat(MAX_PEM_BYTES));
    let err = parse_public_key_pem(&padded).unwrap_err();
    assert_eq!(
        err,
        KeyError::TooLarge {
            bytes: padded.len(),
            max: MAX_PEM_BYTES
        }
    );
}
