//! Command-line arguments of `sf2c-registry`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Administer the SF2C-BC device registry on Hyperledger Fabric.
#[derive(Debug, Parser)]
#[command(name = "sf2c-registry", version)]
pub struct Cli {
    /// Network description written by network.sh.
    #[arg(
        long,
        env = "SF2C_NETWORK",
        default_value = "fabric-network/run/network.json"
    )]
    pub network: PathBuf,
    /// Organisation to act for (short name or MSP ID).
    #[arg(long, default_value = "Org1")]
    pub org: String,
    /// `admin`, `client`, or the path of an MSP folder of the organisation.
    #[arg(long, default_value = "admin")]
    pub identity: String,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register a new device (from flags or an enrolment file written by `edge-gateway keygen`).
    Register(RegisterArgs),
    /// Change a device's role, virtual IP, key or labels (unnamed fields keep their value).
    Update(UpdateArgs),
    /// Replace a device's public key.
    RotateKey {
        uuid: String,
        /// SubjectPublicKeyInfo PEM file of the new key.
        #[arg(long)]
        public_key: PathBuf,
    },
    /// Move a device to another virtual IP, changing nothing else (owning organisation only).
    SetIp {
        uuid: String,
        #[arg(long)]
        virtual_ip: String,
    },
    /// Ban a device: validators refuse its messages. Any member may ban; the record names who did.
    Ban {
        uuid: String,
        #[arg(long)]
        reason: String,
    },
    /// Lift a ban (the banning organisation or the device's owner only).
    Unban {
        uuid: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Remove a device; its history stays on the ledger.
    Delete { uuid: String },
    /// Show one device.
    Get { uuid: String },
    /// List devices, a page at a time.
    List(ListArgs),
    /// Show every committed change of a device, oldest first.
    History { uuid: String },
    /// Show the key-level endorsement policies on a device's ledger keys.
    Policy { uuid: String },
    /// Print registry changes as they are committed.
    Watch(WatchArgs),
    /// Check that a write would commit now: submit a read-only transaction through this
    /// organisation's Gateway (endorsed by a majority, ordered, committed), retrying until --wait ends.
    Ping {
        /// Keep retrying for this many seconds (0: try once).
        #[arg(long, default_value_t = 0)]
        wait: u64,
    },
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Enrolment JSON ({uuid, node_type, public_key, key_algorithm}); flags override its fields.
    #[arg(long)]
    pub enrolment: Option<PathBuf>,
    #[arg(long)]
    pub uuid: Option<String>,
    /// Gateway, Validator or Administrator.
    #[arg(long = "type")]
    pub node_type: Option<String>,
    #[arg(long)]
    pub virtual_ip: Option<String>,
    /// SubjectPublicKeyInfo PEM file.
    #[arg(long)]
    pub public_key: Option<PathBuf>,
    /// Label as key=value; repeatable.
    #[arg(long = "label")]
    pub labels: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    pub uuid: String,
    #[arg(long = "type")]
    pub node_type: Option<String>,
    #[arg(long)]
    pub virtual_ip: Option<String>,
    #[arg(long)]
    pub public_key: Option<PathBuf>,
    /// Replace all labels with these key=value pairs; repeatable.
    #[arg(long = "label")]
    pub labels: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long, default_value_t = 100)]
    pub page_size: u32,
    /// Continue from the bookmark a previous page printed.
    #[arg(long, default_value = "")]
    pub bookmark: String,
    /// Fetch every page, not just one.
    #[arg(long)]
    pub all: bool,
    /// Only devices of this role.
    #[arg(long = "type")]
    pub node_type: Option<String>,
    /// Only banned (true) or only unbanned (false) devices.
    #[arg(long)]
    pub banned: Option<bool>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Start at this block instead of the next commit.
    #[arg(long)]
    pub from_block: Option<u64>,
    /// Resume after the last event recorded in this file, and record progress in it.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Exit after this many events.
    #[arg(long)]
    pub count: Option<u64>,
}
