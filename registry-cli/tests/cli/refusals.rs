//! What `sf2c-registry` says when the live network refuses a command, and that a refusal changes nothing.

use std::time::{Duration, Instant};

use test_support::fabric::{LiveNetwork, unique_uuid};

use crate::support::{Cli, fresh_ip, unreachable_network};

fn assert_says(stderr: &str, parts: &[&str]) {
    for part in parts {
        assert!(stderr.contains(part), "{part:?} not in {stderr:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_on_an_unknown_device_name_it_and_create_nothing() {
    let cli = Cli::live();
    let uuid = unique_uuid();
    let (key, _) = cli.key_file(true);
    let commands: [&[&str]; 7] = [
        &["get", &uuid],
        &["history", &uuid],
        &["update", &uuid, "--virtual-ip", "10.9.9.9"],
        &["rotate-key", &uuid, "--public-key", &key],
        &["ban", &uuid, "--reason", "x"],
        &["unban", &uuid],
        &["delete", &uuid],
    ];
    for args in commands {
        let stderr = cli.refused(args).await;
        assert_says(&stderr, &[&format!("device {uuid} is not registered")]);
    }
    assert_eq!(cli.device(&uuid).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_its_reason_and_writes_nothing() {
    let cli = Cli::live();
    let uuid = unique_uuid();
    let (key, _) = cli.key_file(false);
    let ip = fresh_ip();
    let garbage = cli.file(
        "garbage.pem",
        "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n",
    );
    let not_enrolment = cli.file("notes.json", "{\"hello\": 1}");
    let long_key = format!("{}=v", "k".repeat(65));
    let register = |overrides: &[(&'static str, String)], extra: &[String]| {
        let mut args: Vec<String> = vec!["register".into()];
        for (flag, default) in [
            ("--uuid", uuid.clone()),
            ("--type", "Gateway".into()),
            ("--public-key", key.clone()),
            ("--virtual-ip", ip.clone()),
        ] {
            let value = overrides
                .iter()
                .find(|(f, _)| *f == flag)
                .map_or(default, |(_, v)| v.clone());
            args.extend([flag.to_string(), value]);
        }
        args.extend_from_slice(extra);
        args
    };
    let cases: Vec<(Vec<String>, Vec<String>)> = vec![
        (
            register(&[("--uuid", "not-a-uuid".into())], &[]),
            vec!["\"not-a-uuid\" is not a hyphenated UUID".into()],
        ),
        (
            register(&[("--type", "Router".into())], &[]),
            vec!["role \"Router\" is not one of Gateway, Validator, Administrator".into()],
        ),
        (
            register(&[("--public-key", "/nonexistent/key.pem".into())], &[]),
            vec!["cannot read public key file /nonexistent/key.pem".into()],
        ),
        (
            register(&[("--public-key", garbage.clone())], &[]),
            vec![format!("public key of device {uuid} refused")],
        ),
        (
            register(&[("--virtual-ip", "10.8.0.256".into())], &[]),
            vec!["virtual IP \"10.8.0.256\" is not an IPv4 or IPv6 address".into()],
        ),
        (
            register(&[], &["--label".into(), "novalue".into()]),
            vec!["label \"novalue\" is not key=value".into()],
        ),
        (
            register(&[], &["--label".into(), long_key]),
            vec![format!(
                "label \"{}\" of device {uuid} is invalid",
                "k".repeat(65)
            )],
        ),
        (
            vec![
                "register".into(),
                "--enrolment".into(),
                not_enrolment.clone(),
            ],
            vec![format!(
                "{not_enrolment} is not an enrolment file written by edge-gateway keygen"
            )],
        ),
    ];
    for (args, expected) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let stderr = cli.refused(&args).await;
        assert_says(
            &stderr,
            &expected.iter().map(String::as_str).collect::<Vec<_>>(),
        );
    }
    let (enrolment, _) = cli.enrolment(&uuid, "Gateway");
    let stderr = cli.refused(&["register", "--enrolment", &enrolment]).await;
    assert_says(&stderr, &["--virtual-ip is required"]);
    assert_says(
        &cli.refused(&["get", "not-a-uuid"]).await,
        &["\"not-a-uuid\" is not a hyphenated UUID"],
    );
    assert_eq!(
        cli.device(&uuid).await,
        None,
        "no refused register wrote anything"
    );

    // On a registered device: a taken address, an unknown role, an unusable key.
    let holder = unique_uuid();
    let held = cli.register(&holder, "Gateway").await["result"].clone();
    let taken = held["virtual_ip"].as_str().unwrap();
    let args = register(&[("--virtual-ip", taken.to_string())], &[]);
    let stderr = cli
        .refused(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    assert_says(
        &stderr,
        &[&format!(
            "virtual IP {taken} is already assigned to device {holder}"
        )],
    );
    assert_says(
        &cli.refused(&["update", &holder, "--type", "Router"]).await,
        &["\"Router\""],
    );
    assert_says(
        &cli.refused(&["rotate-key", &holder, "--public-key", &garbage])
            .await,
        &[&format!("new public key for device {holder} refused")],
    );
    assert_eq!(cli.device(&uuid).await, None);
    assert_eq!(
        cli.device(&holder).await,
        Some(held),
        "the holder is unchanged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_identity_reads_but_every_write_is_refused() {
    let cli = Cli::live();
    let uuid = unique_uuid();
    let held = cli.register(&uuid, "Gateway").await["result"].clone();
    let fresh = unique_uuid();
    let (enrolment, _) = cli.enrolment(&fresh, "Gateway");
    let ip = fresh_ip();
    let (key, _) = cli.key_file(true);
    let writes: [&[&str]; 5] = [
        &[
            "--identity",
            "client",
            "register",
            "--enrolment",
            &enrolment,
            "--virtual-ip",
            &ip,
        ],
        &[
            "--identity",
            "client",
            "ban",
            &uuid,
            "--reason",
            "not allowed",
        ],
        &[
            "--identity",
            "client",
            "rotate-key",
            &uuid,
            "--public-key",
            &key,
        ],
        &[
            "--org",
            "Org2",
            "--identity",
            "client",
            "update",
            &uuid,
            "--virtual-ip",
            &ip,
        ],
        &["--org", "Org2", "--identity", "client", "delete", &uuid],
    ];
    for args in writes {
        let stderr = cli.refused(args).await;
        assert_says(
            &stderr,
            &[
                "may not change the device registry",
                "submit with a registry administrator identity",
            ],
        );
    }
    let read = cli
        .ok(&["--org", "Org2", "--identity", "client", "get", &uuid])
        .await;
    assert!(read.contains(&uuid), "{read}");
    assert_eq!(
        cli.device(&uuid).await,
        Some(held),
        "no refused write changed the device"
    );
    assert_eq!(cli.device(&fresh).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_peer_is_named_and_nothing_is_written() {
    let live = LiveNetwork::get();
    let dir = tempfile::tempdir().unwrap();
    let (network, port) = unreachable_network(&live, dir.path());
    let down = Cli::at(network);
    let uuid = unique_uuid();
    let (enrolment, _) = down.enrolment(&uuid, "Gateway");
    let ip = fresh_ip();
    let endpoint = format!("cannot connect to peer 127.0.0.1:{port}");
    let commands: [&[&str]; 4] = [
        &["list"],
        &["get", &uuid],
        &["register", "--enrolment", &enrolment, "--virtual-ip", &ip],
        &["ping", "--wait", "3"],
    ];
    for args in commands {
        let start = Instant::now();
        let stderr = down.refused(args).await;
        assert_says(&stderr, &[&endpoint]);
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{args:?} took {:?}",
            start.elapsed()
        );
    }
    assert_eq!(Cli::live().device(&uuid).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_organisation_or_missing_network_file_is_named() {
    let cli = Cli::live();
    let stderr = cli.refused(&["--org", "Org7", "list"]).await;
    assert_says(
        &stderr,
        &["organisation \"Org7\" is not in", "known: Org1, Org2"],
    );
    let missing = cli.dir.path().join("absent.json");
    let stderr = Cli::at(missing).refused(&["list"]).await;
    assert_says(&stderr, &["absent.json", "network.sh up"]);
}
