//! The ledger drives revocation: the centre follows the registry's chaincode events and revokes
//! every certificate of a device the ledger bans or deletes, whoever wrote the ban.
//!
//! Gap-free across restarts: the position of the last handled event is kept in a
//! [`FileCheckpoint`] in the data directory, saved after the event's revocation is committed and
//! its CRL installed, so a restart resumes right after it (bans made while the centre was down
//! are revoked on start). With no checkpoint yet, the stream starts at the current channel height
//! and the devices the ledger lists as banned now are revoked once; the history before that is
//! not replayed, because an old ban followed by an unban and a new enrolment would revoke the new
//! certificate (events say nothing about which certificates they predate). `Unbanned` revokes
//! nothing and restores nothing: an unbanned device enrols again.
//!
//! The same listing and every event also tell the PKI which virtual IPs the ledger gives to
//! which device, so enrolment skips addresses registered by hand or by another organisation.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use device_record::{ChangeKind, EVENT_NAME, RegistryEvent};
use fabric_client::{
    ChaincodeEvent, Checkpoint as _, Deadlines, FileCheckpoint, LedgerConnectError, LedgerSettings,
    Network, StartPosition, connect,
};
use rcgen::RevocationReason;

use crate::pki::CentrePki;
use crate::registry::CentreRegistry;

/// The checkpoint file inside the data directory.
pub const CHECKPOINT_FILE: &str = "ledger-events.checkpoint.json";
/// Pause before reopening a failed or closed event stream.
const RETRY: Duration = Duration::from_secs(1);
/// Bound on the whole registry listing at start (each page has the evaluate deadline).
const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// Follows the registry's events and revokes what the ledger bans or deletes.
pub struct LedgerFollower {
    network: Network,
    chaincode: String,
    checkpoint_path: PathBuf,
    pki: Arc<CentrePki>,
    registry: Option<Arc<dyn CentreRegistry>>,
}

impl LedgerFollower {
    /// Prepares a follower reading as the configured identity; does not dial yet. `registry`
    /// serves the first-start listing of banned devices.
    pub fn new(
        settings: &LedgerSettings,
        data_dir: &Path,
        pki: Arc<CentrePki>,
        registry: Option<Arc<dyn CentreRegistry>>,
    ) -> Result<Self, LedgerConnectError> {
        let connection = connect(settings)?;
        Ok(Self {
            network: connection.network,
            chaincode: connection.chaincode,
            checkpoint_path: data_dir.join(CHECKPOINT_FILE),
            pki,
            registry,
        })
    }

    /// This follower with other deadlines for its one-shot ledger reads.
    pub fn with_deadlines(mut self, deadlines: Deadlines) -> Self {
        self.network = self.network.with_deadlines(deadlines);
        self
    }

    /// Runs until the task is aborted; failures are logged and retried.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(self) {
        let mut checkpoint = loop {
            match self.open_checkpoint().await {
                Ok(cp) => break cp,
                Err(e) => {
                    tracing::error!(error = %e, "ledger follower cannot start; retrying");
                    tokio::time::sleep(RETRY).await;
                }
            }
        };
        loop {
            // A real peer answers only with the first event: this await may last until the next
            // commit, which is fine on this task of its own.
            let start = checkpoint.start_position(StartPosition::NextCommit);
            match self.network.chaincode_events(&self.chaincode, start).await {
                Ok(mut events) => {
                    while let Some(next) = events.next().await {
                        match next {
                            Ok(event) => {
                                if let Err(e) = self.handle(&mut checkpoint, &event).await {
                                    tracing::error!(error = %e, block = event.block,
                                        tx_id = %event.tx_id, "ledger event not applied; retrying");
                                    break;
                                }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "registry event stream failed; reopening");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot open the registry event stream"),
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    /// The saved checkpoint, or a new one at the current height after revoking every device
    /// banned now (see the module docs).
    async fn open_checkpoint(&self) -> Result<FileCheckpoint, String> {
        let mut cp = FileCheckpoint::open(&self.checkpoint_path).map_err(|e| e.to_string())?;
        if let Some(p) = cp.position() {
            tracing::info!(block = p.block, tx_id = %p.tx_id, "ledger follower resumes from its checkpoint");
            return Ok(cp);
        }
        // Bounded by the evaluate deadline, whose timeout error names the call and the peer.
        let height = self
            .network
            .block_height()
            .await
            .map_err(|e| format!("reading the channel height: {e}"))?;
        if let Some(registry) = &self.registry {
            let devices = tokio::time::timeout(READ_TIMEOUT, registry.list())
                .await
                .map_err(|_| "listing the registry timed out".to_string())?
                .map_err(|e| e.to_string())?;
            for d in devices.iter().filter(|d| d.banned) {
                self.revoke(&d.uuid, ChangeKind::Banned).await?;
            }
            let seen: Vec<_> = devices
                .iter()
                .map(|d| (d.uuid.clone(), d.virtual_ip.parse::<IpAddr>().ok()))
                .collect();
            self.pki
                .note_ledger_ips(&seen)
                .await
                .map_err(|e| format!("cannot record the ledger's virtual IPs: {e}"))?;
        }
        // An empty transaction id skips nothing: the stream restarts at `height` itself.
        let start = ChaincodeEvent {
            block: height,
            tx_id: String::new(),
            chaincode: self.chaincode.clone(),
            name: String::new(),
            payload: Vec::new(),
        };
        cp.save(&start).map_err(|e| e.to_string())?;
        tracing::info!(
            block = height,
            "ledger follower starts at the current height (no checkpoint)"
        );
        Ok(cp)
    }

    async fn handle(
        &self,
        checkpoint: &mut FileCheckpoint,
        event: &ChaincodeEvent,
    ) -> Result<(), String> {
        if event.name == EVENT_NAME {
            match RegistryEvent::from_json(&event.payload) {
                Ok(change) => {
                    let ip = change
                        .record
                        .as_ref()
                        .and_then(|r| r.virtual_ip.parse().ok());
                    self.pki
                        .note_ledger_ips(&[(change.uuid.clone(), ip)])
                        .await
                        .map_err(|e| {
                            format!("cannot record the virtual IP of {}: {e}", change.uuid)
                        })?;
                    if matches!(change.change, ChangeKind::Banned | ChangeKind::Deleted) {
                        self.revoke(&change.uuid, change.change).await?;
                    }
                }
                // Only a broken chaincode writes this; nothing in it can be applied.
                Err(e) => tracing::error!(block = event.block, tx_id = %event.tx_id, error = %e,
                    "registry event is not valid JSON; skipped"),
            }
        }
        checkpoint.save(event).map_err(|e| e.to_string())
    }

    async fn revoke(&self, uuid: &str, change: ChangeKind) -> Result<(), String> {
        let reason = match change {
            ChangeKind::Deleted => RevocationReason::CessationOfOperation,
            _ => RevocationReason::PrivilegeWithdrawn,
        };
        let serials = self
            .pki
            .revoke(uuid, reason)
            .await
            .map_err(|e| format!("cannot revoke the certificates of {uuid}: {e}"))?;
        if !serials.is_empty() {
            tracing::warn!(device = %uuid, ?change, revoked = serials.len(),
                "ledger change revoked the device's certificates; new CRL published");
        }
        Ok(())
    }
}
