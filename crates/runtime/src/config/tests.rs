//! Layering precedence and error reports, on settings shaped like a service's.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::*;

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Service {
    id: String,
    listen: SocketAddr,
    vpn_url: Option<String>,
    network: Option<PathBuf>,
    org: Option<String>,
    validators: Vec<String>,
    limits: Limits,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Limits {
    max_batch: usize,
    max_connections: usize,
}

impl Default for Service {
    fn default() -> Self {
        Service {
            id: "default-id".into(),
            listen: "127.0.0.1:7000".parse().unwrap(),
            vpn_url: None,
            network: None,
            org: None,
            validators: Vec::new(),
            limits: Limits::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_batch: 100,
            max_connections: 1024,
        }
    }
}

impl Layered for Service {
    const ENV_PREFIX: &'static str = "SF2C_TEST_";

    fn apply_env(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        env.set("ID", &mut self.id)?;
        env.set("LISTEN", &mut self.listen)?;
        env.set_some("VPN_URL", &mut self.vpn_url)?;
        env.set_some("NETWORK", &mut self.network)?;
        env.set_some("ORG", &mut self.org)?;
        env.set_list("VALIDATORS", &mut self.validators);
        env.set("MAX_BATCH", &mut self.limits.max_batch)
    }

    fn check(&self) -> Result<(), ConfigError> {
        match (&self.network, &self.org) {
            (Some(_), None) => Err(ConfigError::invalid("org", "give it with `network`")),
            (None, Some(_)) => Err(ConfigError::invalid("network", "give it with `org`")),
            _ => Ok(()),
        }
    }
}

/// The flags a binary might take.
#[derive(Default)]
struct Flags {
    listen: Option<SocketAddr>,
    org: Option<String>,
}

impl Flags {
    fn apply(self, settings: &mut Service) {
        flag(&mut settings.listen, self.listen);
        flag_some(&mut settings.org, self.org);
    }
}

fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    }
}

fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("service.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

const FILE: &str = "id = \"from-file\"\nlisten = \"127.0.0.1:7001\"\n\n[limits]\nmax_batch = 7\n";

#[test]
fn each_layer_overrides_the_one_before() {
    let (_dir, path) = file(FILE);
    let only_file: Service = load(Some(&path), env_of(&[]), |_| {}).unwrap();
    assert_eq!(only_file.id, "from-file");
    assert_eq!(only_file.listen.port(), 7001);
    assert_eq!(only_file.limits.max_batch, 7);
    assert_eq!(only_file.limits.max_connections, 1024, "default kept");

    let env = env_of(&[
        ("SF2C_TEST_LISTEN", "127.0.0.1:7002"),
        ("SF2C_TEST_MAX_BATCH", "9"),
        ("SF2C_TEST_VALIDATORS", "https://a:1/,https://b:2/"),
    ]);
    let with_env: Service = load(Some(&path), &env, |_| {}).unwrap();
    assert_eq!(with_env.listen.port(), 7002);
    assert_eq!(with_env.limits.max_batch, 9);
    assert_eq!(with_env.id, "from-file", "file kept where env is silent");
    assert_eq!(with_env.validators, ["https://a:1/", "https://b:2/"]);

    let flags = Flags {
        listen: Some("127.0.0.1:7003".parse().unwrap()),
        ..Flags::default()
    };
    let with_flags: Service = load(Some(&path), &env, |s| flags.apply(s)).unwrap();
    assert_eq!(with_flags.listen.port(), 7003);
    assert_eq!(
        with_flags.limits.max_batch, 9,
        "env kept where flags are silent"
    );
}

#[test]
fn without_a_file_the_defaults_take_its_place() {
    let env = env_of(&[("SF2C_TEST_VPN_URL", "https://127.0.0.1:7301")]);
    let settings: Service = load(None, env, |_| {}).unwrap();
    assert_eq!(settings.id, "default-id");
    assert_eq!(settings.vpn_url.as_deref(), Some("https://127.0.0.1:7301"));
}

#[test]
fn a_missing_file_names_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.toml");
    let err = load::<Service>(Some(&path), env_of(&[]), |_| {}).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("absent.toml"), "{err}");
}

#[test]
fn a_typo_in_the_file_names_the_file_the_key_and_where_it_is() {
    let (_dir, path) = file("id = \"a\"\n\n  lisen = \"127.0.0.1:1\"\n");
    let err = load::<Service>(Some(&path), env_of(&[]), |_| {}).unwrap_err();
    let ConfigError::Parse { path: at, detail } = &err else {
        panic!("expected Parse, got {err:?}");
    };
    assert_eq!(at, &path);
    assert!(detail.starts_with("line 3, column 3:"), "{detail}");
    assert!(detail.contains("lisen"), "{detail}");
    assert!(!err.to_string().contains('\n'), "one line: {err}");

    let (_dir, path) = file("[limits]\nmax_batch = \"many\"\n");
    let err = load::<Service>(Some(&path), env_of(&[]), |_| {}).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn a_bad_variable_is_named_with_its_value() {
    let env = env_of(&[("SF2C_TEST_LISTEN", "nowhere")]);
    let err = load::<Service>(None, env, |_| {}).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ConfigError::Env { .. }), "{err:?}");
    assert!(
        message.contains("SF2C_TEST_LISTEN=\"nowhere\""),
        "{message}"
    );
}

#[test]
fn the_check_sees_the_flags() {
    let env = env_of(&[("SF2C_TEST_NETWORK", "/run/network.json")]);
    let err = load::<Service>(None, &env, |_| {}).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Invalid { key, .. } if key == "org"),
        "{err:?}"
    );
    let flags = Flags {
        org: Some("Org1".into()),
        ..Flags::default()
    };
    let settings: Service = load(None, &env, |s| flags.apply(s)).unwrap();
    assert_eq!(settings.org.as_deref(), Some("Org1"));
}

/// Settings with keys that have no default, like the edge gateway's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Device {
    device_uuid: String,
    key_path: PathBuf,
    #[serde(default)]
    batch_size: usize,
}

impl Layered for Device {
    const ENV_PREFIX: &'static str = "SF2C_DEVICE_";

    fn apply_env(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        env.set("DEVICE_UUID", &mut self.device_uuid)?;
        env.set("BATCH_SIZE", &mut self.batch_size)
    }
}

#[test]
fn required_keys_come_from_the_file_and_paths_follow_it() {
    let (_dir, path) = file("device_uuid = \"u1\"\nkey_path = \"device.key\"\n");
    let env = env_of(&[("SF2C_DEVICE_BATCH_SIZE", "5")]);
    let mut device: Device = load_required(&path, &env, |d: &mut Device| {
        d.device_uuid = "u2".into();
    })
    .unwrap();
    assert_eq!((device.device_uuid.as_str(), device.batch_size), ("u2", 5));
    let base = path.parent().unwrap();
    resolve_relative(base, &mut device.key_path);
    assert_eq!(device.key_path, base.join("device.key"));
    let mut absolute = PathBuf::from("/etc/sf2c/ca.pem");
    resolve_relative(base, &mut absolute);
    assert_eq!(absolute, Path::new("/etc/sf2c/ca.pem"));

    let (_dir, path) = file("device_uuid = \"u1\"\n");
    let err = load_required::<Device>(&path, &env, |_| {}).unwrap_err();
    assert!(err.to_string().contains("key_path"), "{err}");
}
