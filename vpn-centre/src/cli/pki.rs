//! The PKI commands: tokens, device enrolment (client side), service certificates,
//! revocation and WireGuard export. All but `enrol` work on the data directory's PKI database,
//! which a running centre shares (SQLite WAL).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use rcgen::RevocationReason;
use runtime::config::flag;
use vpn_pki::HubPeer;
use warnings_api::{EnrolBody, TlsIdentity, WarningClient};

use crate::config::Config;
use crate::pki::CentrePki;

/// Where the PKI is: the same settings `serve` reads.
#[derive(Args)]
pub struct PkiArgs {
    /// Data directory holding `pki/` (overrides config file and SF2C_VPN_DATA_DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// TOML config file.
    #[arg(long)]
    config: Option<PathBuf>,
}

impl PkiArgs {
    fn settings(&self) -> anyhow::Result<Config> {
        let data_dir = self.data_dir.clone();
        Ok(Config::load_checked(self.config.as_deref(), |s| {
            flag(&mut s.data_dir, data_dir)
        })?)
    }

    async fn open(&self) -> anyhow::Result<(Config, CentrePki)> {
        let settings = self.settings()?;
        let pki = CentrePki::open(&settings.pki_settings()?, None)
            .await
            .with_context(|| format!("cannot open the PKI in {}", settings.pki_path().display()))?;
        Ok((settings, pki))
    }
}

/// TLS material for talking to a centre over `https://`.
#[derive(Args)]
pub struct IdentityArgs {
    /// The centre's CA certificate (PEM), e.g. from `GET /v1/pki/ca`.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Our client certificate (PEM).
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Our private key (PEM).
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
}

fn read(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

impl IdentityArgs {
    /// A client for `url`: plain for `http://`, CA-only or mutual TLS for `https://`.
    pub fn client(&self, url: &str) -> anyhow::Result<WarningClient> {
        if url.starts_with("http://") {
            return Ok(WarningClient::new(url)?);
        }
        let Some(ca) = &self.ca else {
            bail!("{url} is HTTPS: pass --ca with the centre's CA certificate");
        };
        let ca_pem = read(ca, "CA certificate")?;
        Ok(match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => WarningClient::with_mtls(
                url,
                &TlsIdentity {
                    ca_pem,
                    cert_pem: read(cert, "certificate")?,
                    key_pem: vpn_pki::read_private_key(key)?,
                },
            )?,
            _ => WarningClient::with_ca(url, &ca_pem)?,
        })
    }
}

#[derive(Subcommand)]
pub enum TokenAction {
    /// Issue a one-time token for a registered device; it is printed once and stored only hashed.
    Issue {
        uuid: String,
        /// Lifetime, e.g. 30m, 1h, 2d (at most 30 days).
        #[arg(long, default_value = "1h", value_parser = parse_ttl)]
        ttl: Duration,
        #[command(flatten)]
        pki: PkiArgs,
    },
}

fn parse_ttl(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30m, 1h or 2d"))?;
    let scale = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "unit {unit:?} in {text:?} is not one of s, m, h, d"
            ));
        }
    };
    Ok(Duration::from_secs(n.saturating_mul(scale)))
}

pub async fn token(action: TokenAction) -> anyhow::Result<()> {
    let TokenAction::Issue { uuid, ttl, pki } = action;
    let (_, pki) = pki.open().await?;
    let token = pki.issue_token(&uuid, ttl).await?;
    println!("{}", token.secret);
    eprintln!(
        "token for {} expires at {} (unix seconds); it is shown only now",
        token.device_uuid, token.expires_at
    );
    Ok(())
}

#[derive(Args)]
pub struct EnrolArgs {
    /// The centre's operators' listener, e.g. https://127.0.0.1:7300.
    #[arg(long)]
    url: String,
    /// The one-time token on the command line; visible to other local users (`ps`), so prefer
    /// --token-file.
    #[arg(
        long,
        required_unless_present = "token_file",
        conflicts_with = "token_file"
    )]
    token: Option<String>,
    /// File holding the one-time token, or `-` to read it from standard input.
    #[arg(long)]
    token_file: Option<PathBuf>,
    #[arg(long)]
    uuid: String,
    /// The device's private key, public key, or certificate signing request (PEM).
    #[arg(long)]
    key_pem: PathBuf,
    /// The centre's CA (PEM) to trust for an https:// URL.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Directory to write `cert.pem` and `ca.pem` into.
    #[arg(long)]
    out: PathBuf,
}

/// What to send for a key file: a CSR as is, a public key as is, a private key's public half.
fn key_fields(pem: &str, path: &Path) -> anyhow::Result<(Option<String>, Option<String>)> {
    if pem.contains("-----BEGIN CERTIFICATE REQUEST-----") {
        return Ok((None, Some(pem.to_string())));
    }
    if pem.contains("-----BEGIN PUBLIC KEY-----") {
        return Ok((Some(pem.to_string()), None));
    }
    let key = rcgen::KeyPair::from_pem(pem).with_context(|| {
        format!(
            "{} holds no CSR, public key or usable private key (PEM)",
            path.display()
        )
    })?;
    Ok((Some(key.public_key_pem()), None))
}

pub async fn enrol(args: EnrolArgs) -> anyhow::Result<()> {
    let token = super::token_input::enrol_token(args.token_file.as_deref(), args.token.as_deref())?;
    let pem = read(&args.key_pem, "key")?;
    if pem.contains("PRIVATE KEY-----") {
        vpn_pki::ensure_private(&args.key_pem)?;
    }
    let (public_key, csr) = key_fields(&pem, &args.key_pem)?;
    let identity = IdentityArgs {
        ca: args.ca.clone(),
        cert: None,
        key: None,
    };
    let client = identity.client(&args.url)?;
    let answer = client
        .enrol(&EnrolBody {
            token,
            uuid: args.uuid.clone(),
            public_key,
            csr,
        })
        .await
        .with_context(|| format!("enrolment of {} at {} failed", args.uuid, args.url))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    write(&args.out.join("cert.pem"), &answer.certificate, false)?;
    write(&args.out.join("ca.pem"), &answer.ca, false)?;
    println!(
        "enrolled {}: virtual IPv4 {}, IPv6 {}; certificate in {}",
        args.uuid,
        answer
            .virtual_ip
            .v4
            .map(|i| i.to_string())
            .unwrap_or("-".into()),
        answer
            .virtual_ip
            .v6
            .map(|i| i.to_string())
            .unwrap_or("-".into()),
        args.out.join("cert.pem").display()
    );
    Ok(())
}

fn write(path: &Path, text: &str, private: bool) -> anyhow::Result<()> {
    if private {
        // Mode 0600, also when the file already existed with a wider mode.
        return Ok(vpn_pki::write_private_key(path, text.as_bytes())?);
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

#[derive(Subcommand)]
pub enum CertAction {
    /// New key and certificate with role `service` for a service such as the cloud sink (reads
    /// telemetry and warnings; serves under its own names only); written as cert.pem, key.pem
    /// (mode 0600) and ca.pem.
    IssueService {
        /// Service name (its UUID is derived from it; also its DNS name when valid) or a UUID.
        name: String,
        /// Host name or IP the service is reached at (repeatable); none for a client-only tool.
        #[arg(long = "server-name")]
        server_names: Vec<String>,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        pki: PkiArgs,
    },
}

pub async fn cert(action: CertAction) -> anyhow::Result<()> {
    let CertAction::IssueService {
        name,
        server_names,
        out,
        pki,
    } = action;
    let (_, pki) = pki.open().await?;
    let issued = pki.issue_service(&name, &server_names).await?;
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    write(&out.join("cert.pem"), &issued.cert_pem, false)?;
    write(&out.join("key.pem"), &issued.key_pem, true)?;
    write(&out.join("ca.pem"), pki.ca_pem(), false)?;
    println!("{}", issued.uuid);
    eprintln!(
        "service {name} has UUID {} (serial {}); files in {}",
        issued.uuid,
        issued.serial_hex,
        out.display()
    );
    Ok(())
}

/// Revocation reasons an operator can give.
#[derive(Clone, Copy, ValueEnum)]
pub enum Reason {
    KeyCompromise,
    Superseded,
    CessationOfOperation,
    Unspecified,
}

impl From<Reason> for RevocationReason {
    fn from(r: Reason) -> Self {
        match r {
            Reason::KeyCompromise => RevocationReason::KeyCompromise,
            Reason::Superseded => RevocationReason::Superseded,
            Reason::CessationOfOperation => RevocationReason::CessationOfOperation,
            Reason::Unspecified => RevocationReason::Unspecified,
        }
    }
}

#[derive(Args)]
pub struct RevokeArgs {
    /// Device or service UUID.
    uuid: String,
    #[arg(long, value_enum, default_value = "key-compromise")]
    reason: Reason,
    #[command(flatten)]
    pki: PkiArgs,
}

pub async fn revoke(args: RevokeArgs) -> anyhow::Result<()> {
    let (settings, pki) = args.pki.open().await?;
    let serials = pki.revoke(&args.uuid, args.reason.into()).await?;
    for s in &serials {
        println!("{s}");
    }
    eprintln!(
        "revoked {} certificate(s) of {}; a running centre enforces it within {} s, validators and the sink at their next CRL fetch",
        serials.len(),
        args.uuid,
        settings.crl_sync_seconds
    );
    Ok(())
}

#[derive(Args)]
pub struct WireguardArgs {
    uuid: String,
    /// The device's WireGuard private key file; without it a placeholder line is written.
    #[arg(long)]
    device_private_key: Option<PathBuf>,
    /// Hub public key (overrides `[wireguard] hub_public_key`).
    #[arg(long)]
    hub_public_key: Option<String>,
    /// Hub `host:port` (overrides `[wireguard] hub_endpoint`).
    #[arg(long)]
    hub_endpoint: Option<String>,
    #[command(flatten)]
    pki: PkiArgs,
}

pub async fn wireguard(args: WireguardArgs) -> anyhow::Result<()> {
    let (settings, pki) = args.pki.open().await?;
    let hub = HubPeer {
        public_key: args
            .hub_public_key
            .or(settings.wireguard.hub_public_key.clone())
            .context(
                "no hub public key: set [wireguard] hub_public_key or pass --hub-public-key",
            )?,
        endpoint: args
            .hub_endpoint
            .or(settings.wireguard.hub_endpoint.clone())
            .context("no hub endpoint: set [wireguard] hub_endpoint or pass --hub-endpoint")?,
        persistent_keepalive: settings.wireguard.persistent_keepalive,
    };
    let lease = pki
        .lease_of(&args.uuid)
        .await?
        .with_context(|| format!("device {} has no virtual IP; enrol it first", args.uuid))?;
    let private = match &args.device_private_key {
        Some(path) => Some(read(path, "WireGuard private key")?),
        None => None,
    };
    let text = vpn_pki::render_config(&lease, &pki.networks(), &hub, private.as_deref())?;
    print!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_read_with_units() {
        assert_eq!(parse_ttl("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_ttl("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_ttl("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl("2d").unwrap(), Duration::from_secs(172_800));
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("h").is_err());
    }
}
