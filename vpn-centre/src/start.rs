//! `vpn-centre serve` as one call: opens the store, operators, ledger and PKI its settings name,
//! serves both listeners with [`crate::wiring`] and [`crate::listeners`], keeps the CRL and the
//! ledger's bans in step, and stops cleanly when `shutdown` fires.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use runtime::Shutdown;
use sink_api::SinkClient;

use crate::auth::{Operators, SessionConfig};
use crate::config::Config;
use crate::dashboard::DashboardState;
use crate::fabric_registry::FabricRegistry;
use crate::ledger_follower::LedgerFollower;
use crate::listeners::{ListenerSetup, Listening};
use crate::pki::CentrePki;
use crate::registry::CentreRegistry;
use crate::warnings_retention::spawn_pruner;
use crate::warnings_store::WarningsStore;
use crate::wiring::Wiring;

/// How often expired warnings are pruned when none arrive (inserts prune too).
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Serves the centre with checked `settings` until `shutdown` fires. The listeners' addresses are
/// printed on stdout, so a script that asked for port 0 learns the real ports.
pub async fn run(settings: Config, mut shutdown: Shutdown) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create data directory {}; choose a writable --data-dir",
            settings.data_dir.display()
        )
    })?;
    let store = Arc::new(
        WarningsStore::open(&settings.database_path())?
            .with_retention(settings.warnings_retention()),
    );
    spawn_pruner(store.clone(), PRUNE_EVERY);
    let operators = operators(&settings)?;
    let sessions = sessions(&settings);
    let registry = registry(&settings)?;
    let pki = Arc::new(
        CentrePki::open(&settings.pki_settings()?, registry.clone())
            .await
            .context("cannot open the PKI")?,
    );
    let mut dashboard = DashboardState::new(store, operators, sessions).with_pki(pki.clone());
    if let Some(registry) = &registry {
        dashboard = dashboard.with_registry(registry.clone());
    }
    if let Some(url) = &settings.sink_url {
        dashboard = dashboard.with_sink(sink(url, &pki).await?);
    }
    let wiring = Wiring::new(dashboard, settings.autoban).body_limit(settings.body_limit_bytes);

    let setup = ListenerSetup {
        listen: settings.listen,
        mtls_listen: settings.mtls_listen,
        server_names: settings.server_names.clone(),
        plain_operators: settings.insecure_dev_cookies,
        limits: settings.listeners.limits(),
    };
    let listening = Listening::start(&setup, &pki, wiring.routers(), shutdown.clone()).await?;
    println!("vpn-centre listening on {}", listening.operator_url());
    println!("vpn-centre validators on {}", listening.mtls_url());

    let sync = pki.spawn_crl_sync(Duration::from_secs(settings.crl_sync_seconds));
    // Bans and deletes made by any path reach the CRL through the ledger's event stream.
    let follower = match settings.ledger_settings() {
        Some(ledger) => Some(
            LedgerFollower::new(&ledger, &settings.data_dir, pki.clone(), registry.clone())
                .context("cannot prepare the ledger event follower")?
                .with_deadlines(settings.ledger_timeouts.deadlines())
                .spawn(),
        ),
        None => None,
    };
    tracing::info!(listen = %listening.operator_addr, mtls_listen = %listening.mtls_addr,
        data_dir = %settings.data_dir.display(), "vpn-centre started");
    shutdown.wait().await;
    tracing::info!("finishing in-flight requests");
    sync.abort();
    if let Some(f) = follower {
        f.abort();
    }
    listening.stopped().await;
    tracing::info!("vpn-centre stopped");
    Ok(())
}

/// The dashboard's operators, warning when there are none yet.
fn operators(settings: &Config) -> anyhow::Result<Operators> {
    let operators = Operators::new(settings.operators_path());
    match operators.names() {
        Ok(names) if names.is_empty() => tracing::warn!(
            file = %operators.path().display(),
            "no dashboard operators yet; add one with `vpn-centre operator add NAME`"
        ),
        Ok(names) => tracing::info!(count = names.len(), "dashboard operators loaded"),
        Err(e) => return Err(e).context("cannot read the dashboard operators"),
    }
    Ok(operators)
}

fn sessions(settings: &Config) -> SessionConfig {
    if settings.insecure_dev_cookies {
        tracing::warn!(
            "session cookies lack `Secure` (development flag); never use this beyond loopback"
        );
    }
    SessionConfig {
        idle: Duration::from_secs(settings.session_idle_minutes.max(1) * 60),
        secure_cookie: !settings.insecure_dev_cookies,
        ..SessionConfig::default()
    }
}

/// The registry on the ledger, when `network` and `org` are set. Without it enrolment answers
/// "ledger unavailable", the Devices page says the ledger is not connected, and auto-ban cannot
/// act.
fn registry(settings: &Config) -> anyhow::Result<Option<Arc<dyn CentreRegistry>>> {
    let Some(ledger) = settings.ledger_settings() else {
        tracing::warn!(
            "no ledger configured (network, org): enrolment, bans and auto-ban are unavailable"
        );
        return Ok(None);
    };
    let deadlines = settings.ledger_timeouts.deadlines();
    let registry = FabricRegistry::from_settings_with(&ledger, deadlines).with_context(|| {
        format!(
            "cannot prepare the ledger connection from {} (org {}, identity {})",
            ledger.network.display(),
            ledger.org,
            ledger.identity
        )
    })?;
    tracing::info!(network = %ledger.network.display(), org = %ledger.org,
        identity = %ledger.identity, "device registry on the Fabric ledger");
    Ok(Some(Arc::new(registry)))
}

/// The client of the sink whose requests the dashboard shows.
async fn sink(url: &str, pki: &CentrePki) -> anyhow::Result<SinkClient> {
    let mut builder = SinkClient::builder(url).timeout(Duration::from_secs(2));
    // A sink behind mutual TLS holds a server certificate from this centre's CA and admits
    // clients with one: the dashboard gets its own, issued at start like the listener's.
    if url.starts_with("https://") {
        // A client only: no server names.
        let client = pki
            .issue_service("vpn-centre-dashboard", &[])
            .await
            .context("cannot issue the dashboard's client certificate for the sink")?;
        builder = builder
            .ca_pem(pki.ca_pem())
            .client_cert_pem(client.cert_pem, client.key_pem);
    }
    builder
        .build()
        .with_context(|| format!("sink URL {url:?} is not usable"))
}
