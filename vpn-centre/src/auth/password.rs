//! Operator accounts: a file of `NAME:ARGON2ID-PHC` lines, hashed and checked with Argon2id.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Longest operator name, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_LEN: usize = 12;
/// Longest accepted password, in bytes (hashing cost must stay bounded).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Why an operator could not be added or checked.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error(
        "operator name {0:?} is not allowed; use 1-{MAX_NAME_LEN} letters, digits, '.', '_' or '-'"
    )]
    BadName(String),
    #[error(
        "the password is too short or too long; use {MIN_PASSWORD_LEN}..{MAX_PASSWORD_LEN} characters"
    )]
    BadPassword,
    #[error("cannot read operators file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("operators file {path} line {line} is not NAME:HASH; fix or remove that line")]
    Corrupt { path: PathBuf, line: usize },
    #[error("cannot write operators file {path}: {source}; check the directory is writable")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// The operators file; read on every login so `operator add` takes effect without a restart.
#[derive(Debug, Clone)]
pub struct Operators {
    path: PathBuf,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Argon2id PHC string of `password`, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, OperatorError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN || password.len() > MAX_PASSWORD_LEN {
        return Err(OperatorError::BadPassword);
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| OperatorError::Hash(e.to_string()))
}

fn verify(phc: &str, password: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash nobody's password matches, so unknown names cost as much time as known ones.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let secret = super::random_hex(32).unwrap_or_else(|_| "decoy-password-x".repeat(4));
        hash_password(&secret).unwrap_or_default()
    })
}

impl Operators {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<Vec<(String, String)>, OperatorError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(OperatorError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once(':') {
                Some((name, hash)) if valid_name(name) && !hash.is_empty() => {
                    entries.push((name.to_string(), hash.to_string()));
                }
                _ => {
                    return Err(OperatorError::Corrupt {
                        path: self.path.clone(),
                        line: i + 1,
                    });
                }
            }
        }
        Ok(entries)
    }

    /// Names of the operators who can log in.
    pub fn names(&self) -> Result<Vec<String>, OperatorError> {
        Ok(self.read()?.into_iter().map(|(n, _)| n).collect())
    }

    /// Adds `name` or replaces its password; the file is rewritten atomically with mode 0600.
    pub fn add(&self, name: &str, password: &str) -> Result<(), OperatorError> {
        if !valid_name(name) {
            return Err(OperatorError::BadName(name.to_string()));
        }
        let hash = hash_password(password)?;
        let mut entries = self.read()?;
        entries.retain(|(n, _)| n != name);
        entries.push((name.to_string(), hash));
        let mut text = String::from("# vpn-centre operators: NAME:ARGON2ID-HASH\n");
        for (n, h) in &entries {
            text.push_str(&format!("{n}:{h}\n"));
        }
        let write_err = |source| OperatorError::Write {
            path: self.path.clone(),
            source,
        };
        let tmp = self.path.with_extension("tmp");
        {
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(write_err)?;
            file.write_all(text.as_bytes()).map_err(write_err)?;
            file.sync_all().map_err(write_err)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(write_err)
    }

    /// True when `name` exists and `password` is theirs. Slow on purpose (Argon2id): call it
    /// off the async workers.
    pub fn check(&self, name: &str, password: &str) -> Result<bool, OperatorError> {
        let entries = self.read()?;
        let found = entries.iter().find(|(n, _)| n == name);
        let phc = found.map_or(decoy_hash(), |(_, h)| h.as_str());
        let ok = password.len() <= MAX_PASSWORD_LEN && verify(phc, password);
        Ok(ok && found.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_operator_logs_in_only_with_their_password() {
        let dir = tempfile::tempdir().unwrap();
        let ops = Operators::new(dir.path().join("operators"));
        ops.add("alice", "correct horse battery").unwrap();
        ops.add("bob", "another long secret").unwrap();
        assert!(ops.check("alice", "correct horse battery").unwrap());
        assert!(!ops.check("alice", "another long secret").unwrap());
        assert!(!ops.check("carol", "correct horse battery").unwrap());

        let text = std::fs::read_to_string(ops.path()).unwrap();
        assert!(text.contains("alice:$argon2id$"), "{text}");
        assert!(
            !text.contains("correct horse"),
            "password stored in clear: {text}"
        );
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(ops.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        // Replacing a password keeps one line per operator.
        ops.add("alice", "a brand new password").unwrap();
        assert!(ops.check("alice", "a brand new password").unwrap());
        assert!(!ops.check("alice", "correct horse battery").unwrap());
        assert_eq!(ops.names().unwrap(), vec!["bob", "alice"]);
    }

    #[test]
    fn bad_names_passwords_and_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ops = Operators::new(dir.path().join("operators"));
        assert!(matches!(
            ops.add("al ice", "long enough password"),
            Err(OperatorError::BadName(_))
        ));
        assert!(matches!(
            ops.add("al:ice", "long enough password"),
            Err(OperatorError::BadName(_))
        ));
        assert!(matches!(
            ops.add("alice", "short"),
            Err(OperatorError::BadPassword)
        ));
        assert!(!ops.path().exists());

        std::fs::write(ops.path(), "alice:$argon2id$x\nno separator here\n").unwrap();
        let err = ops.check("alice", "whatever it is").unwrap_err();
        assert!(
            matches!(err, OperatorError::Corrupt { line: 2, .. }),
            "{err}"
        );
    }
}
