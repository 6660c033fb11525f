//! `vpn-centre` binary: serves the operators' and validators' listeners, manages operators,
//! tokens and certificates, enrols devices, and lists or deletes warnings of a running centre.

mod pki_commands;
mod token_input;

use std::io::{BufRead as _, IsTerminal as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use vpn_centre::app;
use vpn_centre::auth::{Operators, SessionConfig};
use vpn_centre::config::{Config, LogFormat};
use vpn_centre::dashboard::DashboardState;
use vpn_centre::enforcement::Enforcement;
use vpn_centre::fabric_registry::FabricRegistry;
use vpn_centre::http::AppState;
use vpn_centre::ledger_follower::LedgerFollower;
use vpn_centre::metrics::Metrics;
use vpn_centre::pki::{CENTRE_SERVICE, CentrePki};
use vpn_centre::registry::RegistryView;
use vpn_centre::tls_listener as listener;
use vpn_centre::{WarningClient, WarningFilter, WarningsStore};

#[derive(Parser)]
#[command(
    name = "vpn-centre",
    version,
    about = "SF2C-BC VPN Centre: PKI and enrolment, warnings from fog validators, auto-ban and the operators' dashboard"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operators' listener (dashboard, enrolment, PKI) and the validators' mTLS listener.
    Serve {
        /// Operators' address (overrides config file and SF2C_VPN_LISTEN).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Validators' mutual-TLS address (overrides config file and SF2C_VPN_MTLS_LISTEN).
        #[arg(long)]
        mtls_listen: Option<SocketAddr>,
        /// Directory holding the warnings database (overrides config file and SF2C_VPN_DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// TOML config file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Cloud sink whose accepted requests the dashboard shows, e.g. http://127.0.0.1:7400; an
        /// https:// sink must hold a certificate from this centre's CA (mutual TLS).
        #[arg(long)]
        sink_url: Option<String>,
        /// Development only: session cookie without `Secure`, for plain HTTP on loopback.
        #[arg(long)]
        insecure_dev_cookies: bool,
        /// network.json of the Fabric network holding the device registry (with --org).
        #[arg(long)]
        network: Option<PathBuf>,
        /// Organisation whose peer to use (short name or MSP ID in network.json), e.g. Org1.
        #[arg(long)]
        org: Option<String>,
        /// Identity to sign with: admin (default), client, or an MSP folder of the organisation.
        #[arg(long)]
        identity: Option<String>,
        /// Most connections open at once on each listener (overrides config file and
        /// SF2C_VPN_MAX_CONNECTIONS).
        #[arg(long)]
        max_connections: Option<usize>,
    },
    /// Manage the operators who may log in to the dashboard.
    Operator {
        #[command(subcommand)]
        action: OperatorAction,
    },
    /// Inspect or prune the warnings of a running centre, on its mutual-TLS listener.
    Warnings {
        /// Base URL of the centre's validators' listener.
        #[arg(long, default_value = "https://127.0.0.1:7301")]
        url: String,
        /// Client certificate and key, e.g. from `vpn-centre cert issue-service operator-cli`.
        #[command(flatten)]
        identity: pki_commands::IdentityArgs,
        #[command(subcommand)]
        action: WarningsAction,
    },
    /// One-time enrolment tokens.
    Token {
        #[command(subcommand)]
        action: pki_commands::TokenAction,
    },
    /// Device side: send a token and key to `/v1/enrol`, write the certificate and CA.
    Enrol(pki_commands::EnrolArgs),
    /// Certificates for services that are not registered devices (cloud sink, operator tools).
    Cert {
        #[command(subcommand)]
        action: pki_commands::CertAction,
    },
    /// Revoke every certificate of a device or service now.
    Revoke(pki_commands::RevokeArgs),
    /// Print the WireGuard configuration of an enrolled device.
    Wireguard(pki_commands::WireguardArgs),
}

#[derive(Subcommand)]
enum OperatorAction {
    /// Add an operator or replace their password; the password is read from standard input.
    Add {
        name: String,
        /// Operators file (default: DATA_DIR/operators).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Data directory whose `operators` file to use (overrides SF2C_VPN_DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// TOML config file naming `data_dir` or `operators_file`.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum WarningsAction {
    /// Print warnings newest first, one JSON object per line.
    List {
        #[arg(long)]
        device: Option<String>,
        #[arg(long)]
        code: Option<i32>,
        #[arg(long)]
        submitter: Option<String>,
        /// Only warnings refused at or after this time (ms since the Unix epoch).
        #[arg(long)]
        since: Option<u64>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Only warnings with an id below this one (paging cursor).
        #[arg(long)]
        before: Option<u64>,
    },
    /// Print how many warnings are stored.
    Count,
    /// Delete one warning by id.
    Delete { id: u64 },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            listen,
            mtls_listen,
            data_dir,
            config,
            sink_url,
            insecure_dev_cookies,
            network,
            org,
            identity,
            max_connections,
        } => {
            let mut settings = Config::load(config.as_deref(), |k| std::env::var(k).ok())?;
            if let Some(l) = listen {
                settings.listen = l;
            }
            if let Some(l) = mtls_listen {
                settings.mtls_listen = l;
            }
            if let Some(d) = data_dir {
                settings.data_dir = d;
            }
            if let Some(f) = cli.log_format {
                settings.log_format = f;
            }
            if sink_url.is_some() {
                settings.sink_url = sink_url;
            }
            settings.insecure_dev_cookies |= insecure_dev_cookies;
            if network.is_some() {
                settings.network = network;
            }
            if org.is_some() {
                settings.org = org;
            }
            if let Some(i) = identity {
                settings.identity = i;
            }
            if let Some(n) = max_connections {
                settings.listeners.max_connections = n;
            }
            settings.check()?;
            service_log::init(settings.log_format);
            serve(settings).await
        }
        Command::Operator {
            action:
                OperatorAction::Add {
                    name,
                    file,
                    data_dir,
                    config,
                },
        } => {
            let mut settings = Config::load(config.as_deref(), |k| std::env::var(k).ok())?;
            if let Some(d) = data_dir {
                settings.data_dir = d;
            }
            if file.is_some() {
                settings.operators_file = file;
            }
            add_operator(&settings, &name)
        }
        Command::Warnings {
            url,
            identity,
            action,
        } => {
            service_log::init(cli.log_format.unwrap_or_default());
            let client = identity.client(&url)?;
            warnings(client, action).await
        }
        Command::Token { action } => pki_commands::token(action).await,
        Command::Enrol(args) => pki_commands::enrol(args).await,
        Command::Cert { action } => pki_commands::cert(action).await,
        Command::Revoke(args) => pki_commands::revoke(args).await,
        Command::Wireguard(args) => pki_commands::wireguard(args).await,
    }
}

async fn serve(settings: Config) -> anyhow::Result<()> {
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
    // Inserts prune too; this also expires warnings when none arrive.
    vpn_centre::warnings_retention::spawn_pruner(store.clone(), Duration::from_secs(3600));
    let operators = Operators::new(settings.operators_path());
    match operators.names() {
        Ok(names) if names.is_empty() => tracing::warn!(
            file = %operators.path().display(),
            "no dashboard operators yet; add one with `vpn-centre operator add NAME`"
        ),
        Ok(names) => tracing::info!(count = names.len(), "dashboard operators loaded"),
        Err(e) => return Err(e).context("cannot read the dashboard operators"),
    }
    let sessions = SessionConfig {
        idle: Duration::from_secs(settings.session_idle_minutes.max(1) * 60),
        secure_cookie: !settings.insecure_dev_cookies,
        ..SessionConfig::default()
    };
    if settings.insecure_dev_cookies {
        tracing::warn!(
            "session cookies lack `Secure` (development flag); never use this beyond loopback"
        );
    }
    // Without a ledger the registry is absent: enrolment answers "ledger unavailable", the
    // Devices page says the ledger is not connected, and auto-ban cannot act.
    let registry: Option<Arc<dyn RegistryView>> = match settings.ledger_settings() {
        Some(ledger) => {
            let deadlines = settings.ledger_timeouts.deadlines();
            let registry =
                FabricRegistry::from_settings_with(&ledger, deadlines).with_context(|| {
                    format!(
                        "cannot prepare the ledger connection from {} (org {}, identity {})",
                        ledger.network.display(),
                        ledger.org,
                        ledger.identity
                    )
                })?;
            tracing::info!(network = %ledger.network.display(), org = %ledger.org,
                identity = %ledger.identity, "device registry on the Fabric ledger");
            Some(Arc::new(registry))
        }
        None => {
            tracing::warn!(
                "no ledger configured (network, org): enrolment, bans and auto-ban are unavailable"
            );
            None
        }
    };
    let pki = Arc::new(
        CentrePki::open(&settings.pki_settings()?, registry.clone())
            .await
            .context("cannot open the PKI")?,
    );
    let mut dashboard =
        DashboardState::new(store.clone(), operators, sessions).with_pki(pki.clone());
    if let Some(registry) = &registry {
        dashboard = dashboard.with_registry(registry.clone());
    }
    if let Some(url) = &settings.sink_url {
        let mut builder = cloud_sink::SinkClient::builder(url).timeout(Duration::from_secs(2));
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
        let sink = builder
            .build()
            .with_context(|| format!("sink URL {url:?} is not usable"))?;
        dashboard = dashboard.with_sink(sink);
    }
    let metrics = Arc::new(Metrics::default());
    let enforcement = Arc::new(Enforcement::new(
        registry.clone(),
        Some(pki.clone()),
        settings.autoban,
    ));
    let warnings = AppState::authenticated(store, metrics.clone(), enforcement);
    let operator_app = app::operator_router(dashboard, warnings.clone());
    let validator_app = app::validator_router(warnings, settings.body_limit_bytes);

    // The centre's own certificate, fresh at every start, for both listeners.
    let own = pki
        .issue_service(CENTRE_SERVICE, &settings.server_names)
        .await
        .context("cannot issue the centre's own TLS certificate")?;
    let mtls_config = vpn_pki::server_config(&own.cert_pem, &own.key_pem, pki.verifier())
        .context("cannot build the validators' mutual-TLS configuration")?;

    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}; is another process using it?"))
    };
    let operator_listener = bind(settings.listen).await?;
    let mtls_listener = bind(settings.mtls_listen).await?;
    let operator_addr = operator_listener
        .local_addr()
        .context("listener has no local address")?;
    let mtls_addr = mtls_listener
        .local_addr()
        .context("listener has no local address")?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    let limits = settings.listeners.limits();
    let operator_tls = if settings.insecure_dev_cookies {
        println!("vpn-centre listening on http://{operator_addr}");
        None
    } else {
        println!("vpn-centre listening on https://{operator_addr}");
        Some(Arc::new(listener::server_only_tls(
            &own.cert_pem,
            &own.key_pem,
        )?))
    };
    let operators_task = tokio::spawn(listener::serve(
        operator_listener,
        operator_tls,
        operator_app,
        limits,
        Some(metrics.clone()),
        until_stopped(stopped.clone()),
    ));
    // Printed on stdout so scripts started with port 0 can learn the real ports.
    println!("vpn-centre validators on https://{mtls_addr}");
    // Mutual TLS: a connection closes as soon as its certificate is revoked.
    let mtls = listener::Security::MutualTls {
        config: Arc::new(mtls_config),
        verifier: pki.verifier(),
    };
    let validators_task = tokio::spawn(listener::serve_with(
        mtls_listener,
        mtls,
        validator_app,
        limits,
        Some(metrics),
        until_stopped(stopped.clone()),
    ));
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
    tracing::info!(listen = %operator_addr, mtls_listen = %mtls_addr,
        data_dir = %settings.data_dir.display(), "vpn-centre started");
    shutdown_signal().await;
    let _ = stop.send(true);
    sync.abort();
    if let Some(f) = follower {
        f.abort();
    }
    let _ = operators_task.await;
    let _ = validators_task.await;
    tracing::info!("vpn-centre stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM, letting in-flight requests finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

/// Reads one password line: prompted on a terminal, piped otherwise.
fn add_operator(settings: &Config, name: &str) -> anyhow::Result<()> {
    let operators = Operators::new(settings.operators_path());
    if let Some(dir) = operators
        .path()
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password for {name} (input is shown; prefer piping it): ");
    }
    let mut password = String::new();
    stdin
        .lock()
        .read_line(&mut password)
        .context("cannot read the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']);
    operators.add(name, password).with_context(|| {
        format!(
            "cannot add operator {name:?} to {}",
            operators.path().display()
        )
    })?;
    eprintln!("operator {name} saved in {}", operators.path().display());
    Ok(())
}

async fn warnings(client: WarningClient, action: WarningsAction) -> anyhow::Result<()> {
    match action {
        WarningsAction::List {
            device,
            code,
            submitter,
            since,
            limit,
            before,
        } => {
            let filter = WarningFilter {
                device,
                code,
                submitter,
                since_ms: since,
            };
            let page = client.list(&filter, Some(limit), before).await?;
            for w in &page.warnings {
                println!("{}", serde_json::to_string(w)?);
            }
            if let Some(next) = page.next_before {
                eprintln!("more warnings: pass --before {next}");
            }
        }
        WarningsAction::Count => {
            println!("{}", client.count(&WarningFilter::default()).await?);
        }
        WarningsAction::Delete { id } => {
            client.delete(id).await?;
            eprintln!("deleted warning {id}");
        }
    }
    Ok(())
}
