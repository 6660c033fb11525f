//! Single-thread throughput of message verification against the raw RSA verify it is built on.
//!
//! Run: `cargo run --release -p signed-message --example verify_bench [seconds-per-case]`
//! Prints the best of several interleaved rounds per case, in operations per second.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use signed_message::{Algorithm, Claims, SigningKey, VerifyingKey, decode_unverified};
use uuid::Uuid;

/// A named operation to time.
type Case<'a> = (&'static str, Box<dyn FnMut() + 'a>);

/// Rounds per case; the best one is reported.
const ROUNDS: u32 = 5;

/// Runs `f` repeatedly for about `budget` and returns operations per second.
fn rate(budget: Duration, f: &mut dyn FnMut()) -> f64 {
    // Warm up caches and the allocator before timing.
    for _ in 0..50 {
        f();
    }
    let start = Instant::now();
    let mut n: u64 = 0;
    while start.elapsed() < budget {
        for _ in 0..100 {
            f();
        }
        n += 100;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn claims() -> Claims {
    Claims::new(Uuid::new_v4(), 1, 1_718_870_400_000)
        .with("temperature_c", 21.75)
        .with("humidity_pct", 48u64)
        .with("door_open", false)
        .with("site", "hall 3")
}

fn main() -> anyhow::Result<()> {
    let seconds: f64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(2.0);
    let budget = Duration::from_secs_f64(seconds);

    let key = SigningKey::generate(Algorithm::RS256)?;
    let spki = key.public_key_der()?;
    let pem = key.public_key_pem()?;
    let compact = key.sign(&claims())?;
    let unverified = decode_unverified(&compact)?;
    let input = unverified.signing_input().as_bytes().to_vec();
    let signature = unverified.signature().to_vec();
    let verifier = VerifyingKey::from_spki_der_any(&spki)?;
    let parsed = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &spki)?;
    let unparsed = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &spki);
    // Every case must actually succeed, or the figures would time an early failure.
    parsed.verify_sig(&input, &signature)?;
    unparsed.verify(&input, &signature)?;
    decode_unverified(&compact)?.verify(&verifier)?;

    println!(
        "RSA-2048 RS256, one thread, message {} bytes, {seconds}s per case, best of {ROUNDS} rounds",
        compact.len()
    );
    // Cases run interleaved in short rounds and each keeps its best round, so load from other
    // processes on a shared machine skews every case alike and the ratios stay meaningful.
    let mut cases: Vec<Case> = vec![
        (
            "raw PKCS#1 verify, key parsed once (baseline)",
            Box::new(|| {
                black_box(parsed.verify_sig(black_box(&input), black_box(&signature))).ok();
            }),
        ),
        (
            "raw PKCS#1 verify, key parsed per verify",
            Box::new(|| {
                black_box(unparsed.verify(black_box(&input), black_box(&signature))).ok();
            }),
        ),
        (
            "JWS decode only (no signature check)",
            Box::new(|| {
                black_box(decode_unverified(black_box(&compact))).ok();
            }),
        ),
        (
            "JWS decode + verify, VerifyingKey parsed once",
            Box::new(|| {
                let claims =
                    decode_unverified(black_box(&compact)).and_then(|u| u.into_verified(&verifier));
                black_box(claims).ok();
            }),
        ),
        (
            "JWS decode + verify, key parsed from PEM per message",
            Box::new(|| {
                let claims = VerifyingKey::from_public_key_pem(black_box(&pem))
                    .and_then(|k| decode_unverified(black_box(&compact))?.into_verified(&k));
                black_box(claims).ok();
            }),
        ),
    ];
    let mut best = vec![0.0f64; cases.len()];
    for _ in 0..ROUNDS {
        for (i, (_, f)) in cases.iter_mut().enumerate() {
            best[i] = best[i].max(rate(budget / ROUNDS, f));
        }
    }
    for ((name, _), v) in cases.iter().zip(&best) {
        println!("  {name:<58} {v:>10.0} /s");
    }
    let [raw_parsed, raw_unparsed, _, full_parsed, full_reparse] = best[..] else {
        anyhow::bail!("expected five cases");
    };
    let row = |name: &str, v: f64| println!("  {name:<58} {v:>10.0} /s");
    println!(
        "  full JWS / raw verify (parsed once):                        {:>10.3}",
        full_parsed / raw_parsed
    );
    println!(
        "  parsed once / parsed per verify (raw):                      {:>10.3}",
        raw_parsed / raw_unparsed
    );
    println!(
        "  parsed once / PEM per message (full JWS):                   {:>10.3}",
        full_parsed / full_reparse
    );

    println!("other algorithms, JWS decode + verify, key parsed once:");
    for alg in [Algorithm::PS256, Algorithm::EdDSA, Algorithm::ES256] {
        let key = SigningKey::generate(alg)?;
        let verifier = key.verifying_key()?;
        let compact = key.sign(&claims())?;
        decode_unverified(&compact)?.verify(&verifier)?;
        let mut r = 0.0f64;
        for _ in 0..ROUNDS {
            r = r.max(rate(budget / ROUNDS, &mut || {
                let claims =
                    decode_unverified(black_box(&compact)).and_then(|u| u.into_verified(&verifier));
                black_box(claims).ok();
            }));
        }
        row(alg.as_str(), r);
    }
    Ok(())
}
