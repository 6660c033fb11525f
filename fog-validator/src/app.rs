//! Assembles a running validator from its configuration: stores, registry follower, listeners and
//! background tasks, and stops them in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fabric_client::LedgerConnectError;
use runtime::Shutdown;
use runtime::shutdown::{self, ShutdownTrigger};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::client_auth::{ClientAuth, ClientAuthError};
use crate::config::Config;
use crate::forwarder::{BatchPolicy, Forwarder};
use crate::metrics::Metrics;
use crate::outbound::{self, OutboundError};
use crate::recent::RecentStore;
use crate::registry::fabric_feed::FabricRegistryFeed;
use crate::registry::feed::RegistryFeed;
use crate::registry::rate_limit::TokenBucket;
use crate::registry::{Registry, RegistryRules};
use crate::replay::ReplayGuard;
use crate::server::{self, TlsError};
use crate::validator::Validator;
use crate::warnings::{self, WarningReporter};

/// Why a validator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("data directory {path} cannot be created: {source}")]
    DataDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "TLS certificate and key are required: set tls_cert and tls_key (or --tls-cert/--tls-key)"
    )]
    TlsMissing,
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    ClientAuth(#[from] ClientAuthError),
    #[error("cannot listen on {addr}: {source}; choose a free address")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Replay(#[from] crate::replay::ReplayStoreError),
    #[error(transparent)]
    Spool(#[from] disk_queue::QueueError),
    #[error(transparent)]
    Checkpoint(#[from] crate::registry::checkpoint::RegistryCheckpointError),
    #[error(transparent)]
    Outbound(#[from] OutboundError),
    #[error(transparent)]
    KeyFile(#[from] vpn_pki::KeyFileError),
    #[error(
        "cannot prepare the ledger connection from {network} (org {org}, identity {identity}): {source}",
        network = network.display()
    )]
    Ledger {
        network: std::path::PathBuf,
        org: String,
        identity: String,
        #[source]
        source: LedgerConnectError,
    },
}

/// A started validator; call [`RunningValidator::shutdown`] to stop it cleanly.
pub struct RunningValidator {
    /// Address of the HTTPS JSON-RPC listener.
    pub addr: SocketAddr,
    /// Address of the plain ops listener, if configured.
    pub ops_addr: Option<SocketAddr>,
    pub validator: Arc<Validator>,
    /// Gateway certificate checks; `None` when `client_auth = false`.
    pub client_auth: Option<ClientAuth>,
    trigger: ShutdownTrigger,
    servers: Vec<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let err = |source| StartError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(err)?;
    let local = listener.local_addr().map_err(err)?;
    Ok((listener, local))
}

/// What `fog-validator serve` does: starts a validator on the ledger `config` names and stops it
/// cleanly once `shutdown` fires.
pub async fn run(config: Config, mut shutdown: Shutdown) -> Result<(), StartError> {
    let running = start_on_ledger(&config).await?;
    shutdown.wait().await;
    tracing::info!("shutting down: draining connections, saving state");
    running.shutdown().await;
    Ok(())
}

/// Starts a validator whose registry feed is the ledger named by `network`, `org` and `identity`.
pub async fn start_on_ledger(config: &Config) -> Result<RunningValidator, StartError> {
    let ledger = config.ledger_settings()?;
    let feed = FabricRegistryFeed::from_settings(&ledger).map_err(|source| StartError::Ledger {
        network: ledger.network.clone(),
        org: ledger.org.clone(),
        identity: ledger.identity.clone(),
        source,
    })?;
    tracing::info!(network = %ledger.network.display(), org = %ledger.org, identity = %ledger.identity,
        "registry read from the Fabric ledger");
    start(config, Arc::new(feed)).await
}

/// Starts a validator reading the registry from `feed`.
pub async fn start(
    config: &Config,
    feed: Arc<dyn RegistryFeed>,
) -> Result<RunningValidator, StartError> {
    config.validate()?;
    let dir = config.data_dir.clone();
    std::fs::create_dir_all(&dir).map_err(|source| StartError::DataDir {
        path: dir.clone(),
        source,
    })?;
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
        return Err(StartError::TlsMissing);
    };
    // A group/world-readable key is tightened to 0600 with a loud warning.
    vpn_pki::ensure_private(key)?;
    // Before anything is opened or spawned: without a first CRL the validator does not start.
    let (tls, client_auth) = match config.client_auth_settings()? {
        Some(settings) => {
            let auth = ClientAuth::start(cert, key, &settings).await?;
            (auth.acceptor.clone(), Some(auth))
        }
        None => {
            tracing::warn!(
                "client_auth = false: any TLS client may submit, without a gateway certificate; \
                 use this only for local experiments"
            );
            (server::load_tls(cert, key)?, None)
        }
    };
    let sink = outbound::sink_client(config)?;
    let vpn = outbound::warning_client(config)?;

    let metrics = Arc::new(Metrics::default());
    let registry = Arc::new(Registry::open(
        feed.clone(),
        dir.clone(),
        RegistryRules {
            miss_bucket: TokenBucket::new(
                config.registry.miss_burst,
                config.registry.miss_per_second,
            ),
            max_staleness: config.registry.max_staleness,
            probe_interval: config.registry.probe_interval,
        },
        metrics.clone(),
    )?);
    let replay = Arc::new(ReplayGuard::open(
        &dir.join("replay.db"),
        config.replay.window_ms,
    )?);
    let forwarder = Arc::new(Forwarder::open(&dir.join("spool.db"), metrics.clone())?);
    let (reporter, warning_rx) = WarningReporter::new(config.warnings.queue, metrics.clone());

    if registry.cache.last_block().is_none() {
        let wait = Duration::from_millis(config.registry.startup_timeout_ms);
        match tokio::time::timeout(wait, feed.snapshot()).await {
            Ok(Ok((records, block))) => registry.install_snapshot(records, block).await,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "no registry snapshot at start; the follower keeps trying")
            }
            Err(_) => tracing::warn!(
                ?wait,
                "registry snapshot timed out at start; the follower keeps trying"
            ),
        }
    }

    let validator = Arc::new(Validator {
        id: config.id.clone(),
        registry: registry.clone(),
        replay,
        recent: RecentStore::new(config.recent.per_device, config.recent.max_devices),
        forwarder: forwarder.clone(),
        warnings: reporter,
        metrics: metrics.clone(),
        limits: config.message_limits(),
        crl: client_auth.as_ref().map(|a| a.verifier.clone()),
    });

    let (trigger, stop) = shutdown::channel();
    let policy = BatchPolicy {
        max_records: config.forward.batch,
        linger: Duration::from_millis(config.forward.linger_ms),
    };
    let workers = vec![
        tokio::spawn(registry.clone().follow(stop.clone())),
        tokio::spawn(registry.probe(stop.clone())),
        tokio::spawn(forwarder.run(sink, policy, stop.clone())),
        tokio::spawn(warnings::run(
            warning_rx,
            vpn,
            metrics.clone(),
            stop.clone(),
        )),
    ];

    let limits = config.server_limits();
    let (listener, addr) = bind(config.listen).await?;
    let revocations = client_auth.as_ref().map(|a| a.verifier.clone());
    let mut servers = vec![tokio::spawn(server::serve(
        listener,
        Some(tls),
        revocations,
        server::router(validator.clone(), limits),
        limits,
        metrics.clone(),
        stop.clone(),
    ))];
    let mut ops_addr = None;
    if let Some(ops) = config.ops_listen {
        let (listener, local) = bind(ops).await?;
        ops_addr = Some(local);
        servers.push(tokio::spawn(server::serve(
            listener,
            None,
            None,
            server::ops_router(validator.clone(), limits),
            limits,
            metrics.clone(),
            stop,
        )));
    }
    tracing::info!(%addr, ?ops_addr, id = %config.id, "fog validator serving");
    Ok(RunningValidator {
        addr,
        ops_addr,
        validator,
        client_auth,
        trigger,
        servers,
        workers,
    })
}

impl RunningValidator {
    /// Stops accepting, lets in-flight requests finish, then stops the background tasks and saves
    /// the registry checkpoint. Spooled records and sequence numbers are on disk already.
    pub async fn shutdown(self) {
        self.trigger.trigger();
        if let Some(auth) = self.client_auth {
            auth.refresher.stop();
        }
        for server in self.servers {
            let _ = server.await;
        }
        for worker in self.workers {
            let _ = worker.await;
        }
        let registry = self.validator.registry.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || registry.save_checkpoint()).await {
            tracing::error!(error = %e, "registry checkpoint not saved at shutdown");
        }
    }
}
