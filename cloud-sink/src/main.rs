//! `cloud-sink` command: serve the telemetry store, or ask a running one for data and counts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use cloud_sink::config::{Config, Overrides};
use cloud_sink::http::App;
use cloud_sink::server::Server;
use cloud_sink::tls::SinkTls;
use cloud_sink::{Database, SinkClient, Store, TelemetryQuery};
use service_log::LogFormat;

#[derive(Parser)]
#[command(
    name = "cloud-sink",
    version,
    about = "Durable store of accepted SF2C-BC telemetry"
)]
struct Cli {
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the sink's HTTP API over a database.
    Serve {
        /// Address to listen on [env: SF2C_SINK_LISTEN] [default: 127.0.0.1:7400].
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// `sqlite:PATH` or a `postgres://` URL [env: SF2C_SINK_DATABASE] [default: sqlite:./cloud-sink.db].
        #[arg(long)]
        database: Option<String>,
        /// TOML file with listen, database, max_body_bytes, max_batch_records, max_query_records
        /// and the TLS keys below.
        #[arg(long)]
        config: Option<PathBuf>,
        /// PEM certificate chain the sink presents; enables HTTPS with client certificates.
        #[arg(long)]
        tls_cert: Option<PathBuf>,
        /// PEM private key of --tls-cert.
        #[arg(long)]
        tls_key: Option<PathBuf>,
        /// PEM CA certificate client certificates must chain to (the VPN Centre's CA).
        #[arg(long)]
        client_ca: Option<PathBuf>,
        /// URL of the VPN Centre's CRL; fetched before serving, then every --crl-refresh-ms.
        #[arg(long)]
        crl_url: Option<String>,
        /// Seconds between CRL fetches (older flag; --crl-refresh-ms wins).
        #[arg(long)]
        crl_refresh_secs: Option<u64>,
        /// Milliseconds between CRL fetches [default: 250, at least 50].
        #[arg(long)]
        crl_refresh_ms: Option<u64>,
        /// TLS to PostgreSQL: disable, require (encrypts, checks nothing) or verify-full
        /// [default: the URL's sslmode, else disable].
        #[arg(long)]
        postgres_sslmode: Option<String>,
        /// PEM CA file the PostgreSQL server's certificate must chain to (verify-full).
        #[arg(long)]
        postgres_sslrootcert: Option<PathBuf>,
    },
    /// Print the stored records of one device from a running sink, as JSON lines.
    Query {
        #[command(flatten)]
        sink: SinkArgs,
        #[arg(long)]
        device: String,
        #[arg(long)]
        from_ms: Option<u64>,
        #[arg(long)]
        to_ms: Option<u64>,
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Print row counts of a running sink as JSON.
    Counts {
        #[command(flatten)]
        sink: SinkArgs,
    },
}

/// Which sink to ask, and the certificates an `https://` sink needs.
#[derive(Args)]
struct SinkArgs {
    #[arg(long, default_value = "http://127.0.0.1:7400")]
    sink: String,
    /// PEM CA certificate the sink's certificate must chain to (https only).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// PEM client certificate to present (https only), with --key.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// PEM private key of --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
}

impl SinkArgs {
    fn client(&self) -> Result<SinkClient, cloud_sink::SinkError> {
        let mut builder = SinkClient::builder(&self.sink);
        if let Some(ca) = &self.ca {
            builder = builder.ca_file(ca);
        }
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            builder = builder.client_cert_files(cert, key);
        }
        builder.build()
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    service_log::init(cli.log_format);
    match cli.command {
        Command::Serve {
            listen,
            database,
            config,
            tls_cert,
            tls_key,
            client_ca,
            crl_url,
            crl_refresh_secs,
            crl_refresh_ms,
            postgres_sslmode,
            postgres_sslrootcert,
        } => {
            let config = Config::load(
                config.as_deref(),
                |k| std::env::var(k).ok(),
                Overrides {
                    listen,
                    database,
                    tls_cert,
                    tls_key,
                    client_ca,
                    crl_url,
                    crl_refresh_secs,
                    crl_refresh_ms,
                    postgres_sslmode,
                    postgres_sslrootcert,
                },
            )?;
            serve(config).await
        }
        Command::Query {
            sink,
            device,
            from_ms,
            to_ms,
            limit,
        } => {
            let client = sink.client()?;
            let records = client
                .query(&TelemetryQuery {
                    device,
                    from_ms,
                    to_ms,
                    limit,
                })
                .await?;
            for record in records {
                println!("{}", serde_json::to_string(&record)?);
            }
            Ok(())
        }
        Command::Counts { sink } => {
            let counts = sink.client()?.counts().await?;
            println!("{}", serde_json::to_string_pretty(&counts)?);
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let store = Database::open_with(&config.database, &config.postgres_tls)
        .await
        .with_context(|| format!("opening the database {}", redact(&config.database)))?;
    store
        .health()
        .await
        .context("first health check of the database")?;
    let server = match &config.tls {
        Some(tls) => {
            let tls = SinkTls::start(tls).await?;
            Server::bind_tls(config.listen, tls).await?
        }
        None => Server::bind(config.listen).await?,
    };
    tracing::info!(
        listen = %server.local_addr(),
        tls = server.is_tls(),
        database = redact(&config.database),
        backend = store.kind(),
        "cloud sink listening"
    );
    let app = Arc::new(App {
        store,
        limits: config.limits,
        metrics: Default::default(),
    });
    server.serve(app, shutdown_signal()).await?;
    tracing::info!("cloud sink stopped");
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM; stopping on SIGINT only");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutdown requested; finishing in-flight requests");
}

/// Hides a password in a database URL before it is logged.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.into();
    };
    match rest.split_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.into(),
    }
}
