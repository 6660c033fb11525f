//! Secrets at rest and in argv: private key files end up mode 0600, the enrolment token comes from
//! a file or stdin (argv still works but warns), through the built `vpn-centre` binary.

mod common;

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::binary;

const UUID: &str = "0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `vpn-centre enrol` against a closed port: everything before the HTTP call runs for real.
fn enrol(dir: &Path, token_args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(binary())
        .args(["enrol", "--url", "http://127.0.0.1:1", "--uuid", UUID])
        .args(token_args)
        .arg("--key-pem")
        .arg(dir.join("tls-key.pem"))
        .arg("--out")
        .arg(dir.join("tls"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn enrol_takes_the_token_from_stdin_or_a_file_and_warns_about_argv() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("tls-key.pem");
    std::fs::write(&key, rcgen::KeyPair::generate().unwrap().serialize_pem()).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();

    // Token on stdin: accepted (the run gets as far as the unreachable centre), no argv warning;
    // the group/world-readable key is tightened to 0600, loudly.
    let out = enrol(dir.path(), &["--token-file", "-"], "secret-token\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("enrolment of"), "{err}");
    assert!(!err.contains("--token puts"), "{err}");
    assert!(err.contains("had mode 644"), "{err}");
    assert_eq!(mode(&key), 0o600);

    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "secret-token\n").unwrap();
    let out = enrol(
        dir.path(),
        &["--token-file", token_file.to_str().unwrap()],
        "",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("enrolment of"), "{err}");
    assert!(
        !err.contains("had mode"),
        "a private key is left alone: {err}"
    );

    let out = enrol(dir.path(), &["--token-file", "-"], "  \n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("enrolment token is empty"), "{err}");

    let out = enrol(dir.path(), &["--token", "secret-token"], "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("WARNING: --token puts the enrolment token"),
        "{err}"
    );
    assert!(err.contains("enrolment of"), "still works: {err}");

    let out = enrol(dir.path(), &[], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token"));
}

#[test]
fn issue_service_writes_keys_0600_even_over_an_exposed_file() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("sink");
    std::fs::create_dir_all(&out_dir).unwrap();
    let key = out_dir.join("key.pem");
    std::fs::write(&key, "old").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();

    let run = Command::new(binary())
        .args(["cert", "issue-service", "sink", "--out"])
        .arg(&out_dir)
        .arg("--data-dir")
        .arg(dir.path().join("centre"))
        .env_remove("SF2C_VPN_DATA_DIR")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(mode(&key), 0o600);
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .contains("PRIVATE KEY")
    );
    assert_eq!(mode(&dir.path().join("centre/pki/ca.key.pem")), 0o600);
    assert_eq!(mode(&out_dir.join("cert.pem")) & 0o600, 0o600);
}
