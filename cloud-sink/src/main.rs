//! `cloud-sink` command: serve the telemetry store, or ask a running one for data and counts.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use cloud_sink::config::{Config, Overrides};
use runtime::{LogArgs, LogFormat};
use sink_api::{SinkClient, TelemetryQuery};

#[derive(Parser)]
#[command(
    name = "cloud-sink",
    version,
    about = "Durable store of accepted SF2C-BC telemetry"
)]
struct Cli {
    #[command(flatten)]
    log: LogArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the sink's HTTP API over a database.
    Serve {
        /// TOML file with listen, database, max_body_bytes, max_batch_records, max_query_records
        /// and the TLS keys below.
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        flags: Overrides,
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
    fn client(&self) -> Result<SinkClient, sink_api::SinkError> {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logging = Some(cli.log.format_or(LogFormat::Human).into());
    match cli.command {
        Command::Serve { config, flags } => runtime::serve(logging, |shutdown| async move {
            let config = Config::load(config.as_deref(), runtime::config::process_env, flags)?;
            cloud_sink::run(config, shutdown).await
        }),
        Command::Query {
            sink,
            device,
            from_ms,
            to_ms,
            limit,
        } => runtime::main(logging, || async move {
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
        }),
        Command::Counts { sink } => runtime::main(logging, || async move {
            let counts = sink.client()?.counts().await?;
            println!("{}", serde_json::to_string_pretty(&counts)?);
            Ok(())
        }),
    }
}
