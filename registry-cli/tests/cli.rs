//! `sf2c-registry` run as a process against DoubleNetwork: the TLS GatewayDouble, an in-process
//! test double of a peer's Gateway service (not a real peer), described by a generated network.json.

use std::path::Path;
use std::process::Output;

use fabric_client::DoubleNetwork;

const UUID: &str = "8c3b1f2a-5d4e-4f60-9a7b-0c1d2e3f4a5b";

async fn run(network: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_sf2c-registry"))
        .env("SF2C_NETWORK", network)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr_of_failure(out: &Output) -> String {
    assert!(!out.status.success(), "command unexpectedly succeeded");
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Writes an enrolment file in the shape `edge-gateway keygen` produces.
fn write_enrolment(dir: &Path) -> std::path::PathBuf {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let enrolment = serde_json::json!({
        "uuid": UUID,
        "node_type": "Gateway",
        "public_key": key.public_key_pem(),
        "key_algorithm": "ECDSA-P256",
    });
    let path = dir.join("enrolment.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&enrolment).unwrap()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_lifecycle_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let net = DoubleNetwork::start(dir.path()).await;
    let nj = net.network_json.as_path();
    let enrolment = write_enrolment(dir.path());
    let enrolment = enrolment.to_str().unwrap();

    let out = stdout(
        &run(
            nj,
            &[
                "--json",
                "register",
                "--enrolment",
                enrolment,
                "--virtual-ip",
                "10.8.0.9",
                "--label",
                "area=north",
            ],
        )
        .await,
    );
    let written: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(written["function"], "RegisterDevice");
    assert_eq!(written["result"]["uuid"], UUID);
    assert_eq!(written["result"]["labels"]["area"], "north");
    let first_block = written["block"].as_u64().unwrap();

    let shown = stdout(&run(nj, &["--identity", "client", "get", UUID]).await);
    assert!(
        shown.contains("10.8.0.9") && shown.contains("Org1MSP"),
        "{shown}"
    );

    stdout(&run(nj, &["ban", UUID, "--reason", "tampered casing"]).await);
    let banned = stdout(&run(nj, &["list", "--banned", "true"]).await);
    assert!(
        banned.contains(UUID) && banned.contains("1 device(s)"),
        "{banned}"
    );
    let unbanned = stdout(&run(nj, &["list", "--banned", "false"]).await);
    assert!(unbanned.contains("0 device(s)"), "{unbanned}");

    stdout(&run(nj, &["update", UUID, "--virtual-ip", "10.8.0.10"]).await);
    let record: serde_json::Value =
        serde_json::from_str(&stdout(&run(nj, &["--json", "get", UUID]).await)).unwrap();
    assert_eq!(record["virtual_ip"], "10.8.0.10");
    assert_eq!(record["banned"], true, "an update keeps the ban");
    assert_eq!(record["version"], 3);

    // the committed changes come back as events from the first block on
    let from = first_block.to_string();
    let events = stdout(
        &run(
            nj,
            &["--json", "watch", "--from-block", &from, "--count", "3"],
        )
        .await,
    );
    let changes: Vec<String> = events
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event"]["change"].to_string()
        })
        .collect();
    assert_eq!(changes, ["\"Registered\"", "\"Banned\"", "\"Updated\""]);

    stdout(&run(nj, &["delete", UUID]).await);
    let history = stdout(&run(nj, &["--json", "history", UUID]).await);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&history).unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[3]["is_delete"], true);

    let gone = stderr_of_failure(&run(nj, &["get", UUID]).await);
    assert!(
        gone.contains("is not registered") && gone.contains(UUID),
        "{gone}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_resumes_from_its_checkpoint_file() {
    let dir = tempfile::tempdir().unwrap();
    let net = DoubleNetwork::start(dir.path()).await;
    let nj = net.network_json.as_path();
    let enrolment = write_enrolment(dir.path());
    let first = net.double.height().to_string();
    stdout(
        &run(
            nj,
            &[
                "register",
                "--enrolment",
                enrolment.to_str().unwrap(),
                "--virtual-ip",
                "10.8.0.20",
            ],
        )
        .await,
    );
    stdout(&run(nj, &["ban", UUID, "--reason", "first"]).await);
    stdout(&run(nj, &["unban", UUID, "--reason", "cleared"]).await);

    let cp = dir.path().join("watch.checkpoint");
    let cp = cp.to_str().unwrap();
    let args = [
        "watch",
        "--from-block",
        &first,
        "--checkpoint",
        cp,
        "--count",
        "2",
    ];
    let one = stdout(&run(nj, &args).await);
    assert!(
        one.contains("Registered") && one.contains("Banned"),
        "{one}"
    );
    let args = [
        "watch",
        "--from-block",
        &first,
        "--checkpoint",
        cp,
        "--count",
        "1",
    ];
    let two = stdout(&run(nj, &args).await);
    assert_eq!(two.lines().count(), 1);
    assert!(
        two.contains("Unbanned") && two.contains("reason: cleared"),
        "{two}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_reported_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let net = DoubleNetwork::start(dir.path()).await;
    let nj = net.network_json.as_path();
    let enrolment = write_enrolment(dir.path());
    let enrolment = enrolment.to_str().unwrap();

    let denied = stderr_of_failure(
        &run(
            nj,
            &[
                "--identity",
                "client",
                "register",
                "--enrolment",
                enrolment,
                "--virtual-ip",
                "10.8.0.30",
            ],
        )
        .await,
    );
    assert!(
        denied.contains("may not change the device registry"),
        "{denied}"
    );

    let no_ip = stderr_of_failure(&run(nj, &["register", "--enrolment", enrolment]).await);
    assert!(no_ip.contains("--virtual-ip"), "{no_ip}");

    let no_org = stderr_of_failure(&run(nj, &["--org", "Org7", "list"]).await);
    assert!(
        no_org.contains("Org7") && no_org.contains("known: Org1"),
        "{no_org}"
    );

    let missing = dir.path().join("absent.json");
    let no_file = stderr_of_failure(&run(&missing, &["list"]).await);
    assert!(no_file.contains("absent.json"), "{no_file}");
}
