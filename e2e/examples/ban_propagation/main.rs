//! Ban propagation on real Fabric: how fast a ban made on the ledger, not through the VPN Centre,
//! stops a gateway everywhere. It prints figures; it asserts nothing (a benchmark, not a test).
//!
//! `SF2C_NETWORK=…/network.json cargo run --release -p e2e --example ban_propagation -- --bans 20`
//!
//! In this process: the VPN Centre (ledger follower, CRL), the cloud sink and two fog validators,
//! all as deployed (mutual TLS, CRL refresh 250 ms by default), and `--bans + --honest` enrolled
//! gateways sending signed readings to both validators. Each banned gateway is banned by Org1's admin,
//! alternately through our Gateway client and the `sf2c-registry` CLI; from the moment the
//! submitter is told the ban committed, it times (a) the first 1003 answer to its live traffic at
//! each validator, (b) the first refused new TLS handshake at each validator and at the sink and
//! (c) the closing of a connection it held open to each. The baseline, measured under the same
//! load, is one `GetDevice` evaluate round trip to the ledger. Figures also go to JSON.

mod measure;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use device_record::NodeType;
use e2e::bans::{BanPath, Banner};
use e2e::centre::Centre;
use e2e::ledger::Ledger;
use e2e::sink::TlsSink;
use e2e::traffic::Traffic;
use serde_json::json;
use vpn_centre::autoban::AutoBanPolicy;

use measure::{Bench, Targets};

/// Times a ledger ban's propagation to two validators and the sink on a live Fabric network
/// (named by SF2C_NETWORK); prints p50/p99/max per measure and writes them as JSON.
#[derive(Parser, Debug)]
#[command(name = "ban_propagation")]
struct Args {
    /// Bans to make, one gateway each, alternating our Gateway client and sf2c-registry.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=500))]
    bans: u64,
    /// Gateways never banned, sending throughout (their refusals are reported).
    #[arg(long, default_value_t = 2)]
    honest: usize,
    /// Milliseconds between two readings of one gateway to one validator.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    interval_ms: u64,
    /// Milliseconds between two new-handshake probes of one server.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    probe_ms: u64,
    /// CRL refresh of the validators and the sink, milliseconds (their default is 250).
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(50..=60_000))]
    crl_refresh_ms: u64,
    /// Where the figures are written as JSON.
    #[arg(long, default_value_os_t = default_json())]
    json: PathBuf,
}

fn default_json() -> PathBuf {
    let e2e = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    e2e.parent()
        .unwrap_or(e2e)
        .join("target/bench/ban_propagation.json")
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if std::env::var_os(test_support::fabric::NETWORK_ENV).is_none() {
        eprintln!(
            "ban_propagation: set {} to the network.json of a running network with the chaincode \
             deployed (fabric-network/network.sh up && fabric-network/network.sh deploy)",
            test_support::fabric::NETWORK_ENV
        );
        return ExitCode::from(2);
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let bans = args.bans as usize;

    let ledger = Ledger::connect().await;
    let policy = AutoBanPolicy::default();
    let centre = Centre::start(&root.join("centre"), &ledger.centre_settings(), policy).await;
    let refresh = Duration::from_millis(args.crl_refresh_ms);
    let sink = TlsSink::start_with_refresh(root, &centre, refresh).await;
    let mut fogs = Vec::new();
    for _ in 0..2 {
        let device = centre.new_device(root, &ledger, NodeType::Validator).await;
        let adjust = |c: &mut fog_validator::Config| c.crl_refresh_ms = args.crl_refresh_ms;
        fogs.push(
            e2e::validator::start_with(root, &device, &centre, &sink.url, &ledger, adjust).await,
        );
    }
    let validators = [fogs[0].addr, fogs[1].addr];
    let banner = Banner::new(&ledger).await;
    println!(
        "enrolling {} gateways (register and enrol, one after another)…",
        bans + args.honest
    );
    let mut gateways = Vec::new();
    for _ in 0..bans + args.honest {
        gateways.push(centre.new_device(root, &ledger, NodeType::Gateway).await);
    }
    let every = Duration::from_millis(args.interval_ms);
    let mut traffic: Vec<Option<Traffic>> = gateways
        .iter()
        .map(|g| Some(Traffic::start(g, &validators, every)))
        .collect();
    if !all_accepted(&traffic).await {
        eprintln!(
            "ban_propagation: not every gateway had a message accepted by both validators within 30 s"
        );
        return ExitCode::FAILURE;
    }
    let setup = started.elapsed();

    let baseline =
        report::Baseline::new(evaluate_round_trips(&ledger, &gateways[0].uuid, 200).await);
    println!(
        "set up in {:.1} s; baseline GetDevice evaluate p50 {:.2} ms; {bans} bans, traffic every {} ms, \
         CRL refresh {} ms",
        setup.as_secs_f64(),
        baseline.p50(),
        args.interval_ms,
        args.crl_refresh_ms
    );
    let bench = Bench {
        banner: &banner,
        centre: &centre,
        validators: [&fogs[0], &fogs[1]],
        targets: Targets {
            validators,
            sink: sink.addr,
        },
        probe_every: Duration::from_millis(args.probe_ms),
    };
    let mut times = Vec::new();
    for i in 0..bans {
        let path = if i % 2 == 0 {
            BanPath::GatewayClient
        } else {
            BanPath::RegistryCli
        };
        let own = traffic[i]
            .as_ref()
            .expect("traffic of a gateway not yet banned");
        // A random pause, so bans do not fall at the same point of the CRL refresh each time.
        tokio::time::sleep(jitter(args.crl_refresh_ms)).await;
        let t = bench.one_ban(&gateways[i], own, path).await;
        let show = |v: &[Option<f64>]| {
            v.iter()
                .map(|x| x.map_or("-".into(), |x| format!("{x:.0}")))
                .collect::<Vec<String>>()
                .join("/")
        };
        println!(
            "ban {:>3}/{bans} by {:<14}: refused {}{} ms; TLS refused {} ms; closed {} ms; CRL {} ms",
            i + 1,
            path.name(),
            show(&t.banned),
            if t.cut_off.contains(&true) {
                " (cut off)"
            } else {
                ""
            },
            show(&t.tls_refused),
            show(&t.closed),
            show(&[t.in_crl]),
        );
        times.push(t);
        traffic[i] = None; // a gateway answered 1003 stops
    }

    let honest: Vec<&Traffic> = traffic.iter().flatten().collect();
    let honest_accepted: u64 = honest.iter().map(|t| t.accepted(0) + t.accepted(1)).sum();
    let honest_failures: u64 = honest.iter().map(|t| t.failures()).sum();
    let rows = report::rows(&times);
    report::print(&rows, &baseline, &times);
    println!(
        "honest gateways: {} accepted, {} refused or unanswered; validators accepted {} and {} in all",
        honest_accepted,
        honest_failures,
        fogs[0]
            .validator
            .metrics
            .accepted
            .load(std::sync::atomic::Ordering::Relaxed),
        fogs[1]
            .validator
            .metrics
            .accepted
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    let settings = json!({
        "bans": bans, "honest": args.honest, "interval_ms": args.interval_ms,
        "probe_ms": args.probe_ms, "crl_refresh_ms": args.crl_refresh_ms,
        "ban_paths": ["Gateway client", "sf2c-registry"], "setup_s": setup.as_secs_f64(),
        "run_s": started.elapsed().as_secs_f64(),
        "honest_accepted": honest_accepted, "honest_failures": honest_failures,
    });
    if let Err(e) = report::write_json(&args.json, &rows, &baseline, &times, settings) {
        eprintln!("ban_propagation: cannot write {}: {e}", args.json.display());
        return ExitCode::FAILURE;
    }
    println!(
        "figures written to {}; whole run {:.1} s",
        args.json.display(),
        started.elapsed().as_secs_f64()
    );
    drop(traffic);
    for fog in fogs {
        fog.shutdown().await;
    }
    ExitCode::SUCCESS
}

/// A random duration below `ms` milliseconds.
fn jitter(ms: u64) -> Duration {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    Duration::from_millis(random % ms.max(1))
}

/// Waits until every gateway had a message accepted by both validators (30 s at most).
async fn all_accepted(traffic: &[Option<Traffic>]) -> bool {
    let ready = || {
        traffic
            .iter()
            .flatten()
            .all(|t| t.accepted(0) > 0 && t.accepted(1) > 0)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// `count` `GetDevice` evaluates on Org2's peer, one after another; each round trip in ms.
async fn evaluate_round_trips(ledger: &Ledger, uuid: &str, count: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let t = Instant::now();
        ledger.device(uuid).await;
        out.push(t.elapsed().as_secs_f64() * 1e3);
    }
    out
}
