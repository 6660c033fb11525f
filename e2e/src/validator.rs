//! A fog validator started from its enrolled files: mutual TLS with the centre's CA and CRL URL,
//! the sink and the centre reached over mutual TLS with its own certificate, and the registry read
//! through `FabricRegistryFeed` from the live ledger as an Org2 member, as `fog-validator serve`
//! starts it (`fog_validator::start_on_ledger`).

use std::path::Path;

use fog_validator::{Config, RunningValidator};

use crate::centre::Centre;
use crate::device::Device;
use crate::ledger::Ledger;

/// Starts `device` (a registered, enrolled validator) as a fog validator on 127.0.0.1:0.
pub async fn start(
    dir: &Path,
    device: &Device,
    centre: &Centre,
    sink_url: &str,
    ledger: &Ledger,
) -> RunningValidator {
    start_with(dir, device, centre, sink_url, ledger, |_| {}).await
}

/// [`start`] with the configuration changed by `adjust` first (e.g. its CRL refresh).
pub async fn start_with(
    dir: &Path,
    device: &Device,
    centre: &Centre,
    sink_url: &str,
    ledger: &Ledger,
    adjust: impl FnOnce(&mut Config),
) -> RunningValidator {
    let tls = device.tls();
    let settings = ledger.validator_settings();
    let mut config = Config {
        id: format!("fog-{}", &device.uuid[..8]),
        listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: dir.join(format!("validator-{}", device.uuid)),
        sink_url: sink_url.into(),
        vpn_url: Some(centre.mtls_url.clone()),
        tls_cert: Some(tls.cert.clone()),
        tls_key: Some(tls.key.clone()),
        client_ca: Some(tls.ca.clone()),
        crl_url: Some(centre.crl_url()),
        network: Some(settings.network.clone()),
        org: Some(settings.org.clone()),
        identity: settings.identity.clone(),
        ..Config::default()
    };
    config.forward.linger_ms = 5;
    config.replay.flush_ms = 20;
    adjust(&mut config);
    fog_validator::start_on_ledger(&config)
        .await
        .unwrap_or_else(|e| panic!("validator {} did not start: {e}", device.uuid))
}
