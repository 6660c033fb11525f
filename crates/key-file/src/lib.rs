//! Private key files on disk: written with mode 0600, and tightened when found readable by others.
//!
//! Reading a group/world-readable key warns loudly and fixes the mode (refusing would break
//! existing deployments and helpers that wrote keys with the default umask); a key whose mode
//! cannot be fixed is refused with an error naming the file, its mode and the `chmod 600` fix.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// A private key file that could not be written, read, or made private.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot {action} private key file {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "private key file {path} has mode {mode:03o} (readable by other users) and its mode \
         could not be fixed ({source}); run `chmod 600 {path}`"
    )]
    Exposed {
        path: PathBuf,
        mode: u32,
        source: std::io::Error,
    },
}

/// Writes `contents` to `path` with mode 0600, replacing it; an existing file's mode is fixed too.
pub fn write_private_key(path: &Path, contents: &[u8]) -> Result<(), KeyFileError> {
    let io = |action, source| KeyFileError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io("create", e))?;
    // `mode` applies only on creation; an existing file keeps its own until set here.
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(|e| io("set the mode of", e))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| io("write", e))
}

/// Makes `path` private (0600) if group or others can access it, warning that it was exposed.
pub fn ensure_private(path: &Path) -> Result<(), KeyFileError> {
    let meta = fs::metadata(path).map_err(|source| KeyFileError::Io {
        action: "stat",
        path: path.to_path_buf(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o700)).map_err(|source| {
        KeyFileError::Exposed {
            path: path.to_path_buf(),
            mode,
            source,
        }
    })?;
    let message = format!(
        "WARNING: private key file {} had mode {mode:03o} (readable by other users); its mode \
         is now {:03o}. Create key files with `chmod 600` and treat this key as possibly exposed.",
        path.display(),
        mode & 0o700
    );
    tracing::warn!("{message}");
    eprintln!("{message}");
    Ok(())
}

/// Reads a private key (PEM) after making sure only its owner can read it.
pub fn read_private_key(path: &Path) -> Result<String, KeyFileError> {
    ensure_private(path)?;
    fs::read_to_string(path).map_err(|source| KeyFileError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writing_creates_0600_and_fixes_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        write_private_key(&path, b"one").unwrap();
        assert_eq!(mode(&path), 0o600);

        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        write_private_key(&path, b"two").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(fs::read_to_string(&path).unwrap(), "two");
    }

    #[test]
    fn reading_an_exposed_key_tightens_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        fs::write(&path, "pem").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read_private_key(&path).unwrap(), "pem");
        assert_eq!(mode(&path), 0o600);

        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        read_private_key(&path).unwrap();
        assert_eq!(mode(&path), 0o400, "an already private mode is left alone");
    }

    #[test]
    fn a_missing_key_names_the_file() {
        let err = read_private_key(Path::new("/nonexistent/k.pem")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/k.pem"), "{err}");
    }
}
