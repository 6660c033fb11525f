//! Unit tests of the configuration layers and checks.

use super::*;
use runtime::config::{Env, Layered};
use std::path::PathBuf;

/// Applies the variables `vars` finds, as the environment layer does.
fn apply_env(
    config: &mut Config,
    vars: impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    config.apply_env(&Env::new(Config::ENV_PREFIX, &vars))
}

#[test]
fn file_values_then_env_overrides() {
    let mut config: Config = toml::from_str(
        r#"
        id = "fog-a"
        listen = "127.0.0.1:9000"
        [limits]
        max_batch = 7
        "#,
    )
    .unwrap();
    assert_eq!(config.id, "fog-a");
    assert_eq!(config.limits.max_batch, 7);
    assert_eq!(
        config.limits.max_connections,
        Limits::default().max_connections
    );
    apply_env(&mut config, |name| match name {
        "SF2C_VALIDATOR_ID" => Some("fog-b".into()),
        "SF2C_VALIDATOR_LISTEN" => Some("127.0.0.1:9001".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(config.id, "fog-b");
    assert_eq!(config.listen.port(), 9001);
}

#[test]
fn the_ledger_needs_a_network_file_and_an_organisation() {
    let mut config: Config = toml::from_str("network = \"run/network.json\"").unwrap();
    assert_eq!(config.identity, "client");
    let err = config.ledger_settings().unwrap_err();
    assert!(err.to_string().contains("missing: org"), "{err}");
    apply_env(&mut config, |name| match name {
        "SF2C_VALIDATOR_ORG" => Some("Org2".into()),
        "SF2C_VALIDATOR_IDENTITY" => Some("/msp/reader".into()),
        _ => None,
    })
    .unwrap();
    let ledger = config.ledger_settings().unwrap();
    assert_eq!(ledger.network, PathBuf::from("run/network.json"));
    assert_eq!(
        (ledger.org.as_str(), ledger.identity.as_str()),
        ("Org2", "/msp/reader")
    );
    assert!(toml::from_str::<Config>("registry_snapshot = \"r.json\"").is_err());
}

#[test]
fn unknown_keys_and_bad_env_are_refused() {
    assert!(toml::from_str::<Config>("lisen = \"127.0.0.1:1\"").is_err());
    let err = apply_env(&mut Config::default(), |name| {
        (name == "SF2C_VALIDATOR_LISTEN").then(|| "nowhere".into())
    })
    .unwrap_err();
    assert!(err.to_string().contains("SF2C_VALIDATOR_LISTEN"), "{err}");
}

#[test]
fn the_outbound_identity_falls_back_to_the_listener_files() {
    let mut config = Config::default();
    assert_eq!(config.client_tls(), None);
    config.tls_cert = Some("server.pem".into());
    config.tls_key = Some("server-key.pem".into());
    config.client_ca = Some("vpn-ca.pem".into());
    let tls = config.client_tls().unwrap();
    assert_eq!(
        (tls.ca, tls.cert, tls.key),
        (
            "vpn-ca.pem".into(),
            "server.pem".into(),
            "server-key.pem".into()
        )
    );
    config.ca = Some("other-ca.pem".into());
    config.client_cert = Some("client.pem".into());
    config.client_key = Some("client-key.pem".into());
    let tls = config.client_tls().unwrap();
    assert_eq!(
        (tls.ca, tls.cert, tls.key),
        (
            "other-ca.pem".into(),
            "client.pem".into(),
            "client-key.pem".into()
        )
    );
}

#[test]
fn client_certificates_are_required_unless_switched_off() {
    let mut config = Config::default();
    let err = config.client_auth_settings().unwrap_err();
    assert!(err.to_string().contains("client_ca"), "{err}");
    config.client_ca = Some("ca.pem".into());
    let err = config.client_auth_settings().unwrap_err();
    assert!(err.to_string().contains("crl_url"), "{err}");
    config.crl_url = Some("http://127.0.0.1:7300/v1/pki/crl".into());
    let settings = config.client_auth_settings().unwrap().unwrap();
    assert_eq!(settings.refresh_every, Duration::from_millis(250));
    config.crl_refresh_secs = 2;
    assert_eq!(config.crl_refresh(), Duration::from_secs(2));
    config.crl_refresh_secs = 0;

    apply_env(&mut config, |name| {
        (name == "SF2C_VALIDATOR_CLIENT_AUTH").then(|| "false".into())
    })
    .unwrap();
    assert!(config.client_auth_settings().unwrap().is_none());
    assert!(
        apply_env(&mut Config::default(), |name| (name
            == "SF2C_VALIDATOR_CLIENT_AUTH")
            .then(|| "no".into()))
        .is_err()
    );
}

#[test]
fn staleness_bounds_come_from_file_then_env_and_are_checked() {
    let mut config: Config = toml::from_str(
        r#"
        [registry]
        max_staleness = "45s"
        probe_interval = "2s"
        [tls]
        crl_max_age = "5m"
        "#,
    )
    .unwrap();
    assert_eq!(config.registry.max_staleness, Duration::from_secs(45));
    assert_eq!(config.registry.probe_interval, Duration::from_secs(2));
    assert_eq!(config.tls.crl_max_age, Duration::from_secs(300));
    config.validate().unwrap();
    let defaults = Config::default();
    assert_eq!(defaults.registry.max_staleness, Duration::from_secs(30));
    assert_eq!(defaults.tls.crl_max_age, Duration::from_secs(600));
    defaults.validate().unwrap();

    apply_env(&mut config, |name| match name {
        "SF2C_VALIDATOR_REGISTRY_MAX_STALENESS" => Some("1s".into()),
        "SF2C_VALIDATOR_TLS_CRL_MAX_AGE" => Some("200ms".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(config.registry.max_staleness, Duration::from_secs(1));
    // 1s is not longer than the 2s probe interval: refused, naming the key and the fix.
    let err = config.validate().unwrap_err().to_string();
    assert!(
        err.contains("registry.max_staleness") && err.contains("probe_interval"),
        "{err}"
    );
    config.registry.probe_interval = Duration::from_millis(200);
    // 200ms is under the 250ms CRL refresh interval.
    let err = config.validate().unwrap_err().to_string();
    assert!(
        err.contains("tls.crl_max_age") && err.contains("250ms"),
        "{err}"
    );
    // Without client certificates there is no CRL to age.
    config.client_auth = false;
    config.validate().unwrap();

    assert!(toml::from_str::<Config>("[registry]\nmax_staleness = \"30\"").is_err());
    assert!(toml::from_str::<Config>("[registry]\nmax_staleness = 30").is_err());
    let err = apply_env(&mut Config::default(), |name| {
        (name == "SF2C_VALIDATOR_TLS_CRL_MAX_AGE").then(|| "ten".into())
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("SF2C_VALIDATOR_TLS_CRL_MAX_AGE"), "{err}");
}

#[test]
fn runtime_layers_defaults_file_env_then_flags_and_checks_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("validator.toml");
    std::fs::write(
        &path,
        "id = \"fog-file\"\nlisten = \"127.0.0.1:9000\"\n[registry]\nprobe_interval = \"2s\"\n",
    )
    .unwrap();
    let env = |name: &str| (name == "SF2C_VALIDATOR_LISTEN").then(|| "127.0.0.1:9001".to_string());
    let config: Config =
        runtime::config::load(Some(&path), env, |c: &mut Config| c.id = "fog-flag".into()).unwrap();
    assert_eq!(
        (config.id.as_str(), config.listen.port()),
        ("fog-flag", 9001)
    );
    assert_eq!(config.registry.probe_interval, Duration::from_secs(2));
    assert_eq!(config.limits.max_batch, Limits::default().max_batch);

    // The merged result is checked: a flag's staleness bound under the file's probe interval.
    let err = runtime::config::load(
        Some(&path),
        |_| None,
        |c: &mut Config| c.registry.max_staleness = Duration::from_secs(1),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("registry.max_staleness"), "{err}");

    std::fs::write(&path, "lisen = \"127.0.0.1:1\"\n").unwrap();
    let err = runtime::config::load::<Config>(Some(&path), |_| None, |_| {}).unwrap_err();
    assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
    assert!(err.to_string().contains("lisen"), "{err}");
    let absent = dir.path().join("absent.toml");
    let err = runtime::config::load::<Config>(Some(&absent), |_| None, |_| {}).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err}");
}
