//! Where an event listener left off (block + transaction ID), so a restart resumes right after it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::events::{ChaincodeEvent, StartPosition};

/// Why a checkpoint could not be read or saved.
#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error(
        "cannot {action} checkpoint {path}: {source}; check the directory exists and is writable"
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "checkpoint {path} is not valid JSON ({reason}); delete it to start from the default position"
    )]
    Corrupt { path: PathBuf, reason: String },
}

/// The last event a listener finished with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub block: u64,
    pub tx_id: String,
}

/// Records progress through an event stream.
pub trait Checkpoint {
    /// The last event recorded, if any.
    fn position(&self) -> Option<Position>;

    /// Records that `event` has been fully processed.
    fn save(&mut self, event: &ChaincodeEvent) -> Result<(), CheckpointError>;

    /// Where to open the stream: right after the recorded event, else `fallback`.
    fn start_position(&self, fallback: StartPosition) -> StartPosition {
        match self.position() {
            Some(p) => StartPosition::AfterTx {
                block: p.block,
                tx_id: p.tx_id,
            },
            None => fallback,
        }
    }
}

/// A checkpoint kept in a JSON file, replaced atomically (temporary file, fsync, rename) so a
/// crash leaves either the old or the new position, never a torn one.
#[derive(Debug)]
pub struct FileCheckpoint {
    path: PathBuf,
    position: Option<Position>,
}

impl FileCheckpoint {
    /// Opens `path`; a missing file means no event was processed yet.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        let path = path.as_ref().to_path_buf();
        let position = match fs::read(&path) {
            Ok(bytes) => {
                Some(
                    serde_json::from_slice(&bytes).map_err(|e| CheckpointError::Corrupt {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?,
                )
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(CheckpointError::Io {
                    action: "read",
                    path,
                    source,
                });
            }
        };
        Ok(Self { path, position })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&self, position: &Position) -> Result<(), CheckpointError> {
        let io = |action, source| CheckpointError::Io {
            action,
            path: self.path.clone(),
            source,
        };
        let mut tmp_name = self.path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        // Serialising two plain fields cannot fail.
        let bytes = serde_json::to_vec(position).unwrap_or_default();
        let mut file = fs::File::create(&tmp).map_err(|e| io("create", e))?;
        file.write_all(&bytes).map_err(|e| io("write", e))?;
        file.sync_all().map_err(|e| io("sync", e))?;
        fs::rename(&tmp, &self.path).map_err(|e| io("replace", e))?;
        Ok(())
    }
}

impl Checkpoint for FileCheckpoint {
    fn position(&self) -> Option<Position> {
        self.position.clone()
    }

    fn save(&mut self, event: &ChaincodeEvent) -> Result<(), CheckpointError> {
        let position = Position {
            block: event.block,
            tx_id: event.tx_id.clone(),
        };
        self.write(&position)?;
        self.position = Some(position);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(block: u64, tx: &str) -> ChaincodeEvent {
        ChaincodeEvent {
            block,
            tx_id: tx.into(),
            chaincode: "cc".into(),
            name: "E".into(),
            payload: Vec::new(),
        }
    }

    #[test]
    fn saved_position_is_read_back_and_used_as_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.json");
        let mut cp = FileCheckpoint::open(&path).unwrap();
        assert_eq!(
            cp.start_position(StartPosition::Newest),
            StartPosition::Newest
        );
        cp.save(&event(7, "a")).unwrap();
        cp.save(&event(8, "b")).unwrap();
        let again = FileCheckpoint::open(&path).unwrap();
        assert_eq!(
            again.start_position(StartPosition::Newest),
            StartPosition::AfterTx {
                block: 8,
                tx_id: "b".into()
            }
        );
        // the temporary file is renamed away, not left behind
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn corrupt_file_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.json");
        std::fs::write(&path, b"{\"block\":").unwrap();
        let err = FileCheckpoint::open(&path).unwrap_err();
        assert!(err.to_string().contains("cp.json"), "{err}");
    }
}
