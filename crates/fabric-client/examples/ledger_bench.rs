//! Benchmark of our Gateway client on the running Fabric network: evaluate and submit rates and
//! submit→commit latency. It prints figures; it asserts nothing (a benchmark, not a test).
//!
//! `cargo run --release -p fabric-client --example ledger_bench -- [EVALUATES] [SUBMITS]`
//! with a network up (`fabric-network/network.sh up && deploy`; `SF2C_NETWORK` names another).
//! Registers SUBMITS + 20 new devices on that ledger.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fabric_client::Contract;
use test_support::fabric::{LiveNetwork, unique_uuid, unique_virtual_ip};

fn device_body() -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("generate key");
    serde_json::to_vec(&serde_json::json!({
        "uuid": unique_uuid(),
        "node_type": "Gateway",
        "virtual_ip": unique_virtual_ip(),
        "public_key": key.public_key_pem(),
        "labels": {"bench": "ledger"},
    }))
    .expect("encode request")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

struct Run {
    rate: f64,
    latencies: Vec<Duration>,
    errors: usize,
}

/// Runs `total` calls of `call` with `in_flight` concurrent workers; latency per call.
async fn run<F, Fut>(total: usize, in_flight: usize, call: F) -> Run
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..in_flight {
        let (call, next) = (call.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let mut errors = 0;
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let t = Instant::now();
                if call().await {
                    mine.push(t.elapsed());
                } else {
                    errors += 1;
                }
            }
            (mine, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (mine, e) = w.await.expect("worker");
        latencies.extend(mine);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort();
    Run {
        rate: latencies.len() as f64 / elapsed,
        latencies,
        errors,
    }
}

fn print(name: &str, run: &Run) {
    println!(
        "{name:<44} {:>8.1}/s   p50 {:>7.1} ms   p99 {:>7.1} ms   ({} ok, {} errors)",
        run.rate,
        percentile(&run.latencies, 0.5),
        percentile(&run.latencies, 0.99),
        run.latencies.len(),
        run.errors
    );
}

async fn submits(contract: &Contract, total: usize, in_flight: usize) -> Run {
    let contract = contract.clone();
    run(total, in_flight, move || {
        let contract = contract.clone();
        async move {
            contract
                .submit("RegisterDevice", &[device_body()])
                .await
                .is_ok()
        }
    })
    .await
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("arguments are counts"))
        .collect();
    let evaluates = args.first().copied().unwrap_or(4000);
    let total_submits = args.get(1).copied().unwrap_or(640);
    let net = LiveNetwork::get();
    println!("network: {}", net.network_json.display());
    let admin = net.contract("Org1", "admin").await;
    let reader = net.contract("Org2", "client").await;

    // One device to read, registered first (it also warms both connections).
    let body = device_body();
    let uuid = serde_json::from_slice::<serde_json::Value>(&body).expect("json")["uuid"]
        .as_str()
        .expect("uuid")
        .to_string();
    admin
        .submit("RegisterDevice", &[body])
        .await
        .expect("register the device to read");

    let get = {
        let (reader, uuid) = (reader.clone(), uuid.clone());
        run(evaluates, 32, move || {
            let (reader, uuid) = (reader.clone(), uuid.clone());
            async move { reader.evaluate("GetDevice", &[uuid]).await.is_ok() }
        })
        .await
    };
    print("GetDevice evaluate, 32 in flight", &get);
    let exists = {
        let (reader, uuid) = (reader.clone(), uuid.clone());
        run(evaluates / 4, 1, move || {
            let (reader, uuid) = (reader.clone(), uuid.clone());
            async move { reader.evaluate("DeviceExists", &[uuid]).await.is_ok() }
        })
        .await
    };
    print("DeviceExists evaluate, 1 in flight", &exists);
    let lone = submits(&admin, 20, 1).await;
    print("RegisterDevice submit->commit, 1 in flight", &lone);
    let many = submits(&admin, total_submits, 64).await;
    print("RegisterDevice submit->commit, 64 in flight", &many);
}
