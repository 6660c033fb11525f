//! The PostgreSQL TLS setting: `sslmode` and its CA file, from the database URL or the sink's config.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// How the sink protects its PostgreSQL connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP, the default: fine on loopback, readable and changeable by anyone on the path otherwise.
    Disable,
    /// TLS without checking who the server is: stops passive sniffing, not an active man in the middle.
    Require,
    /// TLS with the server's chain checked against a CA file and its certificate against the host name.
    VerifyFull,
}

impl SslMode {
    /// The spelling used in URLs, settings and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Require => "require",
            Self::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "disable" => Ok(Self::Disable),
            "require" => Ok(Self::Require),
            "verify-full" => Ok(Self::VerifyFull),
            // prefer/allow fall back to plain text and verify-ca skips the host name: not offered.
            _ => Err(format!(
                "sslmode {value:?} is not supported; use disable, require or verify-full"
            )),
        }
    }
}

/// A bad PostgreSQL TLS setting, naming the value or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum PgTlsError {
    #[error("{origin}: {reason}")]
    BadMode {
        origin: &'static str,
        reason: String,
    },
    #[error("database URL parameter {key}: {reason}")]
    UrlParam { key: &'static str, reason: String },
    #[error(
        "PostgreSQL {key} is {in_url} in the database URL but {in_config} in postgres_{key}; give it in one place"
    )]
    Conflict {
        key: &'static str,
        in_url: String,
        in_config: String,
    },
    #[error(
        "PostgreSQL sslmode=verify-full needs the CA that issued the server's certificate: set postgres_sslrootcert or sslrootcert= in the database URL"
    )]
    MissingRootCert,
    #[error(
        "PostgreSQL CA file {path} is given with sslmode={mode}, which does not check certificates; use sslmode=verify-full or drop the CA file"
    )]
    RootCertUnused { path: PathBuf, mode: SslMode },
    #[error("cannot read PostgreSQL CA file {path}: {source}")]
    ReadRootCert {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("PostgreSQL CA file {path} is not usable: {reason}")]
    BadRootCert { path: PathBuf, reason: String },
    #[error("TLS setup for PostgreSQL failed: {0}")]
    Setup(String),
}

/// The TLS setting as given; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PgTlsSettings {
    pub mode: Option<SslMode>,
    /// PEM file of the CA(s) the server's certificate must chain to (`verify-full`).
    pub root_cert: Option<PathBuf>,
}

impl PgTlsSettings {
    /// Parses a configured `sslmode` value; `origin` names where it came from in the error.
    pub fn parse_mode(origin: &'static str, value: &str) -> Result<SslMode, PgTlsError> {
        value
            .parse()
            .map_err(|reason| PgTlsError::BadMode { origin, reason })
    }

    /// The setting in force: the URL's and the configured values merged (a difference is an error),
    /// `disable` when neither names a mode, `verify-full` when only a CA file is given.
    pub fn resolve(from_url: &Self, configured: &Self) -> Result<PgTls, PgTlsError> {
        let mode = merge("sslmode", from_url.mode, configured.mode, |m| m.to_string())?;
        let root_cert = merge(
            "sslrootcert",
            from_url.root_cert.clone(),
            configured.root_cert.clone(),
            |p| p.display().to_string(),
        )?;
        let mode = match (mode, &root_cert) {
            (Some(mode), _) => mode,
            (None, Some(_)) => SslMode::VerifyFull,
            (None, None) => SslMode::Disable,
        };
        match (mode, root_cert) {
            (SslMode::VerifyFull, None) => Err(PgTlsError::MissingRootCert),
            (SslMode::Disable | SslMode::Require, Some(path)) => {
                Err(PgTlsError::RootCertUnused { path, mode })
            }
            (mode, root_cert) => Ok(PgTls { mode, root_cert }),
        }
    }
}

fn merge<T: PartialEq>(
    key: &'static str,
    in_url: Option<T>,
    in_config: Option<T>,
    show: impl Fn(&T) -> String,
) -> Result<Option<T>, PgTlsError> {
    match (in_url, in_config) {
        (Some(a), Some(b)) if a != b => Err(PgTlsError::Conflict {
            key,
            in_url: show(&a),
            in_config: show(&b),
        }),
        (a, b) => Ok(a.or(b)),
    }
}

/// The TLS setting in force for one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTls {
    pub mode: SslMode,
    /// Set exactly when `mode` is `verify-full`.
    pub root_cert: Option<PathBuf>,
}

/// Takes `sslmode` and `sslrootcert` out of a `postgres://` URL's query (tokio-postgres knows no
/// `sslrootcert` and only a weaker `sslmode`) and returns the rest of the URL untouched.
pub fn split_url(url: &str) -> Result<(String, PgTlsSettings), PgTlsError> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, query),
        None => return Ok((url.into(), PgTlsSettings::default())),
    };
    let mut settings = PgTlsSettings::default();
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => {
                let value = percent_decode("sslmode", value)?;
                settings.mode = Some(PgTlsSettings::parse_mode("database URL", &value)?);
            }
            "sslrootcert" => {
                let value = percent_decode("sslrootcert", value)?;
                if value.is_empty() {
                    return Err(PgTlsError::UrlParam {
                        key: "sslrootcert",
                        reason: "empty file path".into(),
                    });
                }
                settings.root_cert = Some(PathBuf::from(value));
            }
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, settings))
}

/// Decodes `%XX` escapes (and `+` stays `+`, as in libpq's URIs).
fn percent_decode(key: &'static str, value: &str) -> Result<String, PgTlsError> {
    let bad = |reason: &str| PgTlsError::UrlParam {
        key,
        reason: format!("{reason} in {value:?}"),
    };
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or_else(|| bad("truncated %-escape"))?;
            let hex = std::str::from_utf8(hex).map_err(|_| bad("bad %-escape"))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad("bad %-escape"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad("not UTF-8 after decoding"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(mode: Option<SslMode>, ca: Option<&str>) -> PgTlsSettings {
        PgTlsSettings {
            mode,
            root_cert: ca.map(PathBuf::from),
        }
    }

    #[test]
    fn url_tls_parameters_are_taken_out_and_the_rest_kept() {
        let (rest, s) = split_url(
            "postgres://u@db:5432/x?application_name=sink&sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20a.pem&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgres://u@db:5432/x?application_name=sink&connect_timeout=3"
        );
        assert_eq!(
            s,
            settings(Some(SslMode::VerifyFull), Some("/etc/ca a.pem"))
        );
        let (rest, s) = split_url("postgres://u@db/x?sslmode=disable").unwrap();
        assert_eq!(
            (rest.as_str(), s.mode),
            ("postgres://u@db/x", Some(SslMode::Disable))
        );
        let (rest, s) = split_url("postgres://u@db/x").unwrap();
        assert_eq!(
            (rest.as_str(), s),
            ("postgres://u@db/x", PgTlsSettings::default())
        );
    }

    #[test]
    fn bad_values_are_named() {
        for (url, needle) in [
            ("postgres://db/x?sslmode=prefer", "\"prefer\""),
            ("postgres://db/x?sslmode=verify-ca", "\"verify-ca\""),
            ("postgres://db/x?sslrootcert=%zz", "%zz"),
            ("postgres://db/x?sslrootcert=", "empty"),
        ] {
            let err = split_url(url).unwrap_err().to_string();
            assert!(err.contains(needle), "{url}: {err}");
        }
        let err = PgTlsSettings::parse_mode("postgres_sslmode setting", "on").unwrap_err();
        assert_eq!(
            err.to_string(),
            "postgres_sslmode setting: sslmode \"on\" is not supported; use disable, require or verify-full"
        );
    }

    #[test]
    fn resolution_defaults_to_today_and_refuses_contradictions() {
        let none = PgTlsSettings::default();
        let resolve = |a: &PgTlsSettings, b: &PgTlsSettings| PgTlsSettings::resolve(a, b);
        assert_eq!(resolve(&none, &none).unwrap().mode, SslMode::Disable);
        let ca_only = settings(None, Some("ca.pem"));
        assert_eq!(resolve(&none, &ca_only).unwrap().mode, SslMode::VerifyFull);
        let from_config = settings(Some(SslMode::Require), None);
        assert_eq!(resolve(&none, &from_config).unwrap().mode, SslMode::Require);
        assert!(matches!(
            resolve(&settings(Some(SslMode::VerifyFull), None), &none),
            Err(PgTlsError::MissingRootCert)
        ));
        let err = resolve(&settings(Some(SslMode::Require), Some("ca.pem")), &none).unwrap_err();
        assert!(err.to_string().contains("ca.pem"), "{err}");
        let err = resolve(&settings(Some(SslMode::Disable), None), &from_config).unwrap_err();
        assert!(
            err.to_string().contains("disable") && err.to_string().contains("require"),
            "{err}"
        );
        let same = settings(Some(SslMode::VerifyFull), Some("ca.pem"));
        assert_eq!(
            resolve(&same, &same).unwrap().root_cert,
            Some("ca.pem".into())
        );
    }
}
