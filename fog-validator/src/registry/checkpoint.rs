//! The registry state persisted under the data directory: last applied block and tx id, and every record.
//!
//! Written atomically (temporary file, fsync, rename, fsync of the directory), so a restarted validator
//! enforces bans before the ledger is reachable and resumes the event stream where it stopped.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use device_record::DeviceRecord;
use serde::{Deserialize, Serialize};

/// File name of the checkpoint inside the data directory.
pub const FILE_NAME: &str = "registry-checkpoint.json";

/// The persisted state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryCheckpoint {
    /// Last ledger block whose events are applied.
    pub block: u64,
    /// Transaction of the last applied event, if any.
    pub tx_id: Option<String>,
    pub records: Vec<DeviceRecord>,
    /// When the ledger last confirmed the cache (Unix ms), so a restart knows how stale it is;
    /// absent in older files, which then count as stale until the ledger answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_at_ms: Option<u64>,
}

/// Failure to read or write the checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum RegistryCheckpointError {
    #[error(
        "registry checkpoint {path}: {action} failed: {source}; check the data directory exists and is writable"
    )]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "registry checkpoint {path} is not valid JSON ({source}); delete it to reload the registry from the ledger"
    )]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

fn io(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> RegistryCheckpointError {
    let path = path.to_path_buf();
    move |source| RegistryCheckpointError::Io {
        path,
        action,
        source,
    }
}

/// Writes `checkpoint` into `dir` atomically.
pub fn save(dir: &Path, checkpoint: &RegistryCheckpoint) -> Result<(), RegistryCheckpointError> {
    let path = dir.join(FILE_NAME);
    let tmp = dir.join(format!("{FILE_NAME}.tmp"));
    let bytes =
        serde_json::to_vec(checkpoint).map_err(|source| RegistryCheckpointError::Corrupt {
            path: path.clone(),
            source,
        })?;
    let mut file = File::create(&tmp).map_err(io(&tmp, "create"))?;
    file.write_all(&bytes).map_err(io(&tmp, "write"))?;
    file.sync_all().map_err(io(&tmp, "fsync"))?;
    drop(file);
    fs::rename(&tmp, &path).map_err(io(&path, "rename into place"))?;
    // Make the rename itself durable.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir, "fsync directory"))?;
    Ok(())
}

/// Reads the checkpoint in `dir`, or `None` if there is none yet.
pub fn load(dir: &Path) -> Result<Option<RegistryCheckpoint>, RegistryCheckpointError> {
    let path = dir.join(FILE_NAME);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path, "read")(e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| RegistryCheckpointError::Corrupt { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use device_record::NodeType;
    use signed_message::Algorithm;
    use test_doubles::TestDevice;

    #[test]
    fn save_then_load_round_trips_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let dev = TestDevice::new(Algorithm::EdDSA, NodeType::Gateway);
        let mut cp = RegistryCheckpoint {
            block: 9,
            tx_id: Some("tx9".into()),
            records: vec![dev.record.clone()],
            current_at_ms: Some(1_700_000_000_000),
        };
        save(dir.path(), &cp).unwrap();
        assert_eq!(load(dir.path()).unwrap().as_ref(), Some(&cp));
        cp.block = 10;
        cp.records.clear();
        save(dir.path(), &cp).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(cp));
        assert!(!dir.path().join(format!("{FILE_NAME}.tmp")).exists());
        // A file written before `current_at_ms` existed still loads.
        fs::write(
            dir.path().join(FILE_NAME),
            br#"{"block":3,"tx_id":null,"records":[]}"#,
        )
        .unwrap();
        assert_eq!(load(dir.path()).unwrap().unwrap().current_at_ms, None);
    }

    #[test]
    fn corrupt_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), b"{not json").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains(FILE_NAME), "{err}");
        assert!(err.contains("delete it"), "{err}");
    }
}
