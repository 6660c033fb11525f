//! The `edge-gateway` command: run the daemon, generate a device key, or send one reading.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use edge_gateway::Config;
use edge_gateway::keygen::{KeygenOptions, keygen};
use edge_gateway::sensor::ndjson::parse_line;
use runtime::{LogArgs, LogFormat, config::process_env};
use signed_message::Algorithm;
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "edge-gateway",
    version,
    about = "SF2C-BC edge gateway: sign sensor readings and forward them to fog validators"
)]
struct Cli {
    #[command(flatten)]
    log: LogArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon until SIGINT or SIGTERM.
    ///
    /// If a validator answers 1003 (the device is banned on the registry), the gateway logs it,
    /// stops reading and sending, keeps every unsent message queued on disk, and exits with
    /// status 3; start it again after the device is unbanned. (Do not restart on status 3, e.g.
    /// systemd's RestartPreventExitStatus=3.) A refused TLS handshake (revoked certificate) is
    /// retried with backoff instead.
    Run {
        #[command(flatten)]
        common: CommonFlags,
        /// Sensor to read: weather or ndjson.
        #[arg(long)]
        sensor: Option<String>,
        /// Ndjson input file or device ("-" for stdin).
        #[arg(long)]
        sensor_path: Option<PathBuf>,
        /// Weather: milliseconds between readings.
        #[arg(long)]
        interval_ms: Option<u64>,
        /// Most messages per JSON-RPC batch.
        #[arg(long)]
        batch_size: Option<u64>,
        /// Address for /metrics and /health, e.g. 127.0.0.1:9464.
        #[arg(long)]
        metrics_listen: Option<String>,
    },
    /// Generate the device key and the enrolment request for the registry.
    Keygen {
        /// Directory for device.key and enrolment.json.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value_t = Alg::Rs256)]
        alg: Alg,
        /// Device UUID; a random one when absent.
        #[arg(long)]
        uuid: Option<Uuid>,
        /// Registry role: Gateway, Validator or Administrator.
        #[arg(long, default_value = "Gateway")]
        role: String,
        /// Replace an existing key.
        #[arg(long)]
        force: bool,
    },
    /// Sign one reading (from --data or one JSON object on stdin), send it, print the answer.
    SendOnce {
        #[command(flatten)]
        common: CommonFlags,
        /// The measurements as a JSON object, e.g. '{"temperature_c": 21.5}'.
        #[arg(long)]
        data: Option<String>,
    },
}

#[derive(clap::Args)]
struct CommonFlags {
    /// TOML configuration file.
    #[arg(long)]
    config: PathBuf,
    /// Validator URL; repeat to list several (replaces the configured list).
    #[arg(long = "validator")]
    validators: Vec<String>,
    /// SQLite file of the queue and sequence counter.
    #[arg(long)]
    queue: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Alg {
    Rs256,
    Eddsa,
    Es256,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logging = Some(cli.log.format_or(LogFormat::Human).into());
    match cli.command {
        Command::Run {
            common,
            sensor,
            sensor_path,
            interval_ms,
            batch_size,
            metrics_listen,
        } => runtime::serve(logging, |shutdown| async move {
            let mut flags = common.flags();
            if let Some(v) = sensor {
                flags.push(("sensor.kind", toml::Value::String(v)));
            }
            if let Some(v) = sensor_path {
                flags.push(("sensor.path", toml::Value::String(v.display().to_string())));
            }
            if let Some(v) = interval_ms {
                flags.push(("sensor.interval_ms", int(v)?));
            }
            if let Some(v) = batch_size {
                flags.push(("batch_size", int(v)?));
            }
            if let Some(v) = metrics_listen {
                flags.push(("metrics_listen", toml::Value::String(v)));
            }
            let config = Config::load(&common.config, process_env, &flags)?;
            edge_gateway::run(&config, shutdown).await
        }),
        Command::Keygen {
            out,
            alg,
            uuid,
            role,
            force,
        } => runtime::main(logging, || async move {
            let options = KeygenOptions {
                out_dir: out,
                alg: alg.into(),
                uuid,
                node_type: role,
                force,
            };
            generate_key(&options)
        }),
        Command::SendOnce { common, data } => runtime::main(logging, || send_one(common, data)),
    }
}

/// Writes the device key and the enrolment request, and says where they are.
fn generate_key(options: &KeygenOptions) -> anyhow::Result<()> {
    let written = keygen(options)?;
    println!("device uuid: {}", written.enrolment.uuid);
    println!(
        "private key: {} (keep it on this device)",
        written.key_path.display()
    );
    println!(
        "enrolment:   {} (give it to the registry administrator)",
        written.enrolment_path.display()
    );
    Ok(())
}

impl From<Alg> for Algorithm {
    fn from(alg: Alg) -> Self {
        match alg {
            Alg::Rs256 => Algorithm::RS256,
            Alg::Eddsa => Algorithm::EdDSA,
            Alg::Es256 => Algorithm::ES256,
        }
    }
}

/// Signs one reading (from `data` or stdin), sends it and prints the answer.
async fn send_one(common: CommonFlags, data: Option<String>) -> anyhow::Result<()> {
    let config = Config::load(&common.config, process_env, &common.flags())?;
    let text = match data {
        Some(text) => text,
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the reading from stdin")?;
            text
        }
    };
    let Some(measurements) =
        parse_line(&text).map_err(|e| anyhow::anyhow!("reading {text:?}: {e}"))?
    else {
        bail!("no reading given: pass --data '{{\"name\": value}}' or one JSON object on stdin");
    };
    let report = edge_gateway::send_once::send_once(&config, measurements).await?;
    for failure in &report.failures {
        eprintln!("failed: {failure}");
    }
    match (report.validator, report.answer) {
        (Some(url), Some(answer)) => {
            eprintln!("seq {} answered by {url}", report.seq);
            println!("{answer}");
            if answer.get("error").is_some() {
                bail!("the validator refused the message");
            }
            Ok(())
        }
        _ => bail!(
            "no validator could be reached (seq {} was used and will not be reused)",
            report.seq
        ),
    }
}

impl CommonFlags {
    fn flags(&self) -> Vec<(&'static str, toml::Value)> {
        let mut flags = Vec::new();
        if !self.validators.is_empty() {
            let list = self
                .validators
                .iter()
                .cloned()
                .map(toml::Value::String)
                .collect();
            flags.push(("validators", toml::Value::Array(list)));
        }
        if let Some(q) = &self.queue {
            flags.push(("queue_path", toml::Value::String(q.display().to_string())));
        }
        flags
    }
}

fn int(v: u64) -> anyhow::Result<toml::Value> {
    Ok(toml::Value::Integer(
        i64::try_from(v).with_context(|| format!("{v} is too large"))?,
    ))
}
