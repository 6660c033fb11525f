//! Where `vpn-centre enrol` takes its one-time token from: a file or stdin, so it stays out of `ps`.

use std::path::Path;

use anyhow::{Context as _, bail};

/// The token from `file` (stdin for `-`) or, with a warning, from the command line.
pub fn enrol_token(file: Option<&Path>, argv: Option<&str>) -> anyhow::Result<String> {
    let text = match (file, argv) {
        (Some(path), _) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("cannot read the enrolment token from standard input")?;
            text
        }
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read enrolment token file {}", path.display()))?,
        (None, Some(token)) => {
            eprintln!(
                "WARNING: --token puts the enrolment token in the process list, where other local \
                 users can read it; use --token-file PATH or --token-file - (stdin) instead"
            );
            token.to_string()
        }
        (None, None) => bail!("give the enrolment token with --token-file PATH or --token-file -"),
    };
    let token = text.trim();
    if token.is_empty() {
        bail!("the enrolment token is empty");
    }
    Ok(token.to_string())
}
