//! `vpn-centre operator add`: adds a dashboard operator, the password read from standard input.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use runtime::config::{flag, flag_some};

use crate::auth::Operators;
use crate::config::Config;

#[derive(Subcommand)]
pub enum OperatorAction {
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

pub fn run(action: OperatorAction) -> anyhow::Result<()> {
    let OperatorAction::Add {
        name,
        file,
        data_dir,
        config,
    } = action;
    // Only the operators file matters here: the rest of the settings is not checked.
    let mut settings = Config::load(config.as_deref(), runtime::config::process_env)?;
    flag(&mut settings.data_dir, data_dir);
    flag_some(&mut settings.operators_file, file);
    add(&settings, &name)
}

/// Reads one password line (prompted on a terminal, piped otherwise) and stores its hash.
fn add(settings: &Config, name: &str) -> anyhow::Result<()> {
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
