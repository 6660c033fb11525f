//! The one error type of settings: which file, variable or key is wrong, and why.

use std::path::{Path, PathBuf};

/// Settings that cannot be read or used, naming the file, variable or key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML for these settings; `detail` starts with the line and
    /// column when the parser knows them.
    #[error("config file {} is not valid: {detail}", path.display())]
    Parse { path: PathBuf, detail: String },
    /// An `SF2C_*` environment variable holds a value that does not parse.
    #[error("environment variable {var}={value:?} is not valid: {detail}")]
    Env {
        var: String,
        value: String,
        detail: String,
    },
    /// The merged settings are unusable (a missing or contradictory key).
    #[error("setting `{key}` is not valid: {detail}")]
    Invalid { key: String, detail: String },
}

impl ConfigError {
    /// An [`ConfigError::Invalid`] for `key`.
    pub fn invalid(key: impl Into<String>, detail: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            detail: detail.into(),
        }
    }

    /// A TOML error from `text` (the contents of `path`), with its line and column.
    pub(crate) fn parse(path: &Path, text: &str, error: &toml::de::Error) -> Self {
        let detail = match error.span() {
            Some(span) => {
                let (line, column) = line_and_column(text, span.start);
                format!("line {line}, column {column}: {}", error.message())
            }
            None => error.message().to_string(),
        };
        ConfigError::Parse {
            path: path.to_path_buf(),
            detail: detail.trim_end().to_string(),
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, 6), (2, 1));
        // "bé " is four bytes but three characters.
        assert_eq!(line_and_column(text, 10), (2, 4));
        assert_eq!(line_and_column(text, 999), (3, 1));
    }

    #[test]
    fn messages_name_what_is_wrong() {
        let read = ConfigError::Read {
            path: "/etc/x.toml".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert!(read.to_string().contains("/etc/x.toml"), "{read}");
        let env = ConfigError::Env {
            var: "SF2C_X_LISTEN".into(),
            value: "nowhere".into(),
            detail: "invalid socket address syntax".into(),
        };
        let env = env.to_string();
        assert!(env.contains("SF2C_X_LISTEN=\"nowhere\""), "{env}");
        let invalid = ConfigError::invalid("org", "needed with `network`").to_string();
        assert!(
            invalid.contains("`org`") && invalid.contains("network"),
            "{invalid}"
        );
    }
}
