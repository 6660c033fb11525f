//! Layering, the ledger pair, and refusals of `vpn-centre serve`'s settings.

use super::*;

#[test]
fn environment_overrides_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("centre.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9000\"\ndata_dir = \"/from/file\"\nlog_format = \"json\"\n",
    )
    .unwrap();

    let only_file = Config::load(Some(&file), |_| None).unwrap();
    assert_eq!(only_file.listen.port(), 9000);
    assert_eq!(only_file.data_dir, PathBuf::from("/from/file"));
    assert_eq!(only_file.log_format, LogFormat::Json);
    assert_eq!(only_file.body_limit_bytes, DEFAULT_BODY_LIMIT);

    let env = |k: &str| (k == ENV_DATA_DIR).then(|| "/from/env".to_string());
    let overridden = Config::load(Some(&file), env).unwrap();
    assert_eq!(overridden.data_dir, PathBuf::from("/from/env"));
    assert_eq!(overridden.listen.port(), 9000);
}

#[test]
fn pki_autoban_and_hub_settings_come_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("centre.toml");
    std::fs::write(
        &file,
        "mtls_listen = \"127.0.0.1:9443\"\nvirtual_networks = [\"10.9.0.0/24\"]\n\
         [autoban]\nwarnings = 3\nvalidators = 3\nwindow_seconds = 10\n\
         [wireguard]\nhub_endpoint = \"vpn.example:51820\"\n",
    )
    .unwrap();
    let config = Config::load(Some(&file), |_| None).unwrap();
    assert_eq!(config.mtls_listen.port(), 9443);
    // Validators get their own names; the centre's stay its own.
    assert_eq!(
        config.pki_settings().unwrap().enrolment.server_names,
        config.validator_server_names
    );
    assert!(config.autoban.enabled);
    assert_eq!(
        config.autoban.to_string(),
        "auto-ban: 3 warnings from 3 validators within 10 s"
    );
    assert_eq!(
        config.wireguard.hub_endpoint.as_deref(),
        Some("vpn.example:51820")
    );
    let pki = config.pki_settings().unwrap();
    assert_eq!(pki.networks.len(), 1);
    assert_eq!(pki.dir, config.data_dir.join("pki"));
    assert!(config.check().is_ok());

    let bad = Config {
        virtual_networks: vec!["10.9.0.0/33".into()],
        ..Config::default()
    };
    assert!(
        matches!(bad.check(), Err(ConfigError::Invalid { key, .. }) if key == "virtual_networks")
    );
}

#[test]
fn the_ledger_needs_network_and_org_together() {
    let config = Config::default();
    assert_eq!(config.ledger_settings(), None);
    assert_eq!(config.identity, "admin");
    let env = |k: &str| (k == ENV_NETWORK).then(|| "/run/network.json".to_string());
    let half = Config::load(None, env).unwrap();
    assert!(
        matches!(half.check(), Err(ConfigError::Invalid { key, detail }) if key == "org" && detail.contains("org"))
    );
    let env = |k: &str| match k {
        ENV_NETWORK => Some("/run/network.json".to_string()),
        ENV_ORG => Some("Org2".to_string()),
        ENV_IDENTITY => Some("/msp/ops".to_string()),
        _ => None,
    };
    let full = Config::load(None, env).unwrap();
    assert!(full.check().is_ok());
    let ledger = full.ledger_settings().unwrap();
    assert_eq!(ledger.network, PathBuf::from("/run/network.json"));
    assert_eq!(
        (ledger.org.as_str(), ledger.identity.as_str()),
        ("Org2", "/msp/ops")
    );
}

#[test]
fn bad_values_are_reported() {
    let env = |k: &str| (k == ENV_LISTEN).then(|| "localhost".to_string());
    let err = Config::load(None, env).unwrap_err();
    assert!(err.to_string().contains(ENV_LISTEN), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("centre.toml");
    std::fs::write(&file, "lisen = \"127.0.0.1:1\"\n").unwrap();
    let err = Config::load(Some(&file), |_| None).unwrap_err();
    assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
}

#[test]
fn plain_http_cookies_only_on_loopback() {
    let mut config = Config {
        insecure_dev_cookies: true,
        ..Config::default()
    };
    assert!(config.check().is_ok());
    config.listen = "0.0.0.0:7300".parse().unwrap();
    assert!(matches!(
        config.check(),
        Err(ConfigError::Invalid { key, .. }) if key == "insecure_dev_cookies"
    ));
    config.insecure_dev_cookies = false;
    assert!(config.check().is_ok());
    config.autoban.validators = 9;
    assert!(matches!(config.check(), Err(ConfigError::Invalid { key, .. }) if key == "autoban"));
    assert_eq!(config.operators_path(), config.data_dir.join("operators"));
}
