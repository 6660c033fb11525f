//! The built `vpn-centre` binary: persistence across restarts, graceful stop, CLI subcommands.

mod common;

use std::process::Command;

use common::{
    BinaryServer, DEVICE_A, DEVICE_B, binary, issue_identity, sample, validator_identity,
};
use warnings_api::{WarningClient, WarningFilter};

#[tokio::test]
async fn warnings_survive_a_restart_on_the_same_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();

    let first = BinaryServer::start(&["--data-dir", data], &[]);
    let (_, identity) = issue_identity(dir.path(), "operator-tools");
    let validator = validator_identity(dir.path());
    let client = WarningClient::with_mtls(&first.mtls_url, &identity).unwrap();
    let submitter = WarningClient::with_mtls(&first.mtls_url, &validator).unwrap();
    let kept = submitter
        .report_batch(&[
            sample("validator-1", Some(DEVICE_A), -32001, 1_000),
            sample("validator-2", Some(DEVICE_B), -32002, 2_000),
        ])
        .await
        .unwrap();
    let newest = submitter
        .report(&sample("validator-1", None, -32003, 3_000))
        .await
        .unwrap();
    client.delete(newest.id).await.unwrap();
    let status = first.terminate();
    assert!(
        status.success(),
        "graceful stop should exit 0, got {status}"
    );

    let second = BinaryServer::start(&["--data-dir", data], &[]);
    let client = WarningClient::with_mtls(&second.mtls_url, &identity).unwrap();
    let submitter = WarningClient::with_mtls(&second.mtls_url, &validator).unwrap();
    let page = client
        .list(&WarningFilter::default(), None, None)
        .await
        .unwrap();
    let mut expected = kept.clone();
    expected.reverse();
    assert_eq!(page.warnings, expected);

    // Ids are never reused, not even the deleted newest one.
    let later = submitter
        .report(&sample("validator-3", None, -32001, 4_000))
        .await
        .unwrap();
    assert!(
        later.id > newest.id,
        "{} should exceed {}",
        later.id,
        newest.id
    );
}

#[tokio::test]
async fn data_dir_can_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("centre");
    let server = BinaryServer::start(&[], &[("SF2C_VPN_DATA_DIR", &data)]);
    // A service may not submit; a validator may.
    let (_, identity) = issue_identity(&data, "operator-tools");
    let client = WarningClient::with_mtls(&server.mtls_url, &identity).unwrap();
    assert!(
        client
            .report(&sample("validator-1", None, -32001, 1))
            .await
            .is_err()
    );
    WarningClient::with_mtls(&server.mtls_url, &validator_identity(&data))
        .unwrap()
        .report(&sample("validator-1", None, -32001, 1))
        .await
        .unwrap();
    assert!(data.join("warnings.sqlite3").is_file());
}

#[tokio::test]
async fn cli_lists_and_deletes_warnings_of_a_running_centre() {
    let dir = tempfile::tempdir().unwrap();
    let server = BinaryServer::start(&["--data-dir", dir.path().to_str().unwrap()], &[]);
    let (_, identity) = issue_identity(dir.path(), "operator-cli");
    let client = WarningClient::with_mtls(&server.mtls_url, &identity).unwrap();
    let files = dir.path().join("identity-operator-cli");
    let stored = WarningClient::with_mtls(&server.mtls_url, &validator_identity(dir.path()))
        .unwrap()
        .report_batch(&[
            sample("validator-1", Some(DEVICE_A), -32001, 1_000),
            sample("validator-1", Some(DEVICE_B), -32002, 2_000),
        ])
        .await
        .unwrap();

    let cli = |args: &[&str]| {
        Command::new(binary())
            .args(["warnings", "--url", &server.mtls_url, "--ca"])
            .arg(files.join("ca.pem"))
            .arg("--cert")
            .arg(files.join("cert.pem"))
            .arg("--key")
            .arg(files.join("key.pem"))
            .args(args)
            .output()
            .unwrap()
    };

    let out = cli(&["list", "--device", DEVICE_B]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<warnings_api::Warning> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, vec![stored[1].clone()]);

    let out = cli(&["delete", &stored[0].id.to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(client.count(&WarningFilter::default()).await.unwrap(), 1);

    let out = cli(&["delete", &stored[0].id.to_string()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("404"), "{err}");

    let out = cli(&["count"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
}

#[test]
fn operator_add_reads_the_password_from_stdin_and_stores_only_a_hash() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = Command::new(binary())
        .args([
            "operator",
            "add",
            "alice",
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .env_remove("SF2C_VPN_DATA_DIR")
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery staple\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let operators = vpn_centre::auth::Operators::new(data.join("operators"));
    assert!(
        operators
            .check("alice", "correct horse battery staple")
            .unwrap()
    );
    assert!(!operators.check("alice", "correct horse battery").unwrap());
    let text = std::fs::read_to_string(operators.path()).unwrap();
    assert!(!text.contains("staple"), "password stored in clear");

    let short = Command::new(binary())
        .args([
            "operator",
            "add",
            "bob",
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(!short.status.success(), "an empty password must be refused");
    assert!(String::from_utf8_lossy(&short.stderr).contains("too short"));
}

#[tokio::test]
async fn cli_revocation_reaches_a_running_centre_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let server = BinaryServer::start(&["--data-dir", data], &[]);
    let (uuid, identity) = issue_identity(dir.path(), "validator-test");
    let client = WarningClient::with_mtls(&server.mtls_url, &identity).unwrap();
    assert_eq!(client.count(&WarningFilter::default()).await.unwrap(), 0);

    let cli = |args: &[&str]| {
        Command::new(binary())
            .args(args)
            .args(["--data-dir", data])
            .env_remove("SF2C_VPN_DATA_DIR")
            .output()
            .unwrap()
    };
    let token = cli(&["token", "issue", DEVICE_A, "--ttl", "10m"]);
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    assert!(String::from_utf8_lossy(&token.stdout).trim().len() >= 32);
    // Not enrolled yet (no ledger is connected to this binary), so there is no tunnel to describe.
    let hub_key = format!("{}=", "A".repeat(43));
    let wg = cli(&[
        "wireguard",
        DEVICE_A,
        "--hub-public-key",
        &hub_key,
        "--hub-endpoint",
        "hub:51820",
    ]);
    assert!(!wg.status.success());
    let err = String::from_utf8_lossy(&wg.stderr);
    assert!(err.contains("enrol it first"), "{err}");

    let revoke = cli(&["revoke", &uuid]);
    assert!(
        revoke.status.success(),
        "{}",
        String::from_utf8_lossy(&revoke.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&revoke.stdout).lines().count(), 1);
    // The centre picks the revocation up from the shared database (every 2 s by default).
    let start = std::time::Instant::now();
    loop {
        match client.count(&WarningFilter::default()).await {
            Err(warnings_api::ClientError::Unreachable { .. }) => break,
            _ if start.elapsed() < std::time::Duration::from_secs(10) => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await
            }
            other => panic!("still accepted 10 s after revocation: {other:?}"),
        }
    }
}
