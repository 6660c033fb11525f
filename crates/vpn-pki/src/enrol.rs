//! The enrolment flow: token → registry check → virtual IP → ledger update → certificate, all or nothing.
//!
//! The PKI database is never held across a ledger call, so a slow or silent peer stalls only the
//! enrolment waiting on it, never CRLs, revocations or other enrolments. Each step under the
//! database lock reserves what the next needs: the token is redeemed first, the address is
//! leased before it is written to the ledger, and the certificate is recorded last. A failure
//! gives back what this enrolment reserved (the token becomes usable again, addresses leased for
//! it are freed), so nothing of a failed enrolment stays. An address the ledger refuses as taken
//! (registered by hand, or by another organisation) or loses to a concurrent write is skipped
//! for the next free one. The ledger write is skipped when the record already holds the address.

use std::net::IpAddr;
use std::time::Duration;

use device_record::NodeType;
use rcgen::RevocationReason;
use rusqlite::Connection;
use tokio::sync::Mutex;

use crate::ca::{CaError, CertRole, CertificateAuthority, IssuedCert, LeafKey, LeafRequest};
use crate::ip_pool::{IpLease, IpPool, PoolError, Reservation};
use crate::ledger::{EnrolmentLedger, LedgerError};
use crate::revocation::{RevocationError, Revocations};
use crate::role::Role;
use crate::tokens::{EnrolmentToken, TokenError, Tokens};

/// Addresses one enrolment tries before giving up (each refused one is skipped).
const ADDRESS_TRIES: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("device {uuid} is not registered on the ledger; register it before enrolling")]
    NotRegistered { uuid: String },
    #[error("device {uuid} is banned; an operator must unban it before it can enrol")]
    Banned { uuid: String },
    #[error("malformed device uuid {uuid:?}: {reason}")]
    BadUuid { uuid: String, reason: String },
    #[error("cannot allocate a virtual IP: {0}")]
    Pool(#[from] PoolError),
    #[error("cannot issue the certificate: {0}")]
    Ca(#[from] CaError),
    #[error("ledger step failed for device {uuid}: {source}")]
    Ledger { uuid: String, source: LedgerError },
    #[error(transparent)]
    Revocation(#[from] RevocationError),
    #[error("PKI database failed: {0}")]
    Store(#[from] rusqlite::Error),
}

/// Centre-wide enrolment settings.
#[derive(Debug, Clone)]
pub struct EnrolmentConfig {
    /// Lifetime of device certificates.
    pub leaf_validity: Duration,
    /// Host names written into enrolled validators' certificates besides their virtual IPs, for
    /// gateways that reach validators by another address (e.g. `127.0.0.1` in a local demo). Only
    /// validators get them: a service certificate carries its own names, given at issue.
    pub server_names: Vec<String>,
    /// Time between a CRL's thisUpdate and nextUpdate.
    pub crl_validity: Duration,
}

impl Default for EnrolmentConfig {
    fn default() -> Self {
        EnrolmentConfig {
            leaf_validity: Duration::from_secs(90 * 24 * 3600),
            server_names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            crl_validity: Duration::from_secs(600),
        }
    }
}

/// A device's enrolment request.
#[derive(Debug, Clone)]
pub struct EnrolRequest {
    pub token: String,
    pub uuid: String,
    pub key: LeafKey,
}

/// What the device gets back.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub cert_pem: String,
    pub ca_pem: String,
    /// The address recorded on the ledger (IPv4 when configured).
    pub virtual_ip: IpAddr,
    pub lease: IpLease,
    pub serial_hex: String,
    pub not_after: i64,
}

/// The VPN Centre's PKI state: CA, address pool, database and ledger access.
pub struct Enroller<L> {
    ca: CertificateAuthority,
    pub(crate) pool: IpPool,
    pub(crate) db: Mutex<Connection>,
    ledger: L,
    config: EnrolmentConfig,
}

/// TLS usage of a device's certificate; its authority is [`Role::of_node_type`].
fn usage_of(node_type: NodeType) -> CertRole {
    match node_type {
        NodeType::Validator => CertRole::ClientAndServer,
        NodeType::Gateway | NodeType::Administrator => CertRole::Client,
    }
}

fn ledger_error(uuid: &str, source: LedgerError) -> EnrolError {
    EnrolError::Ledger {
        uuid: uuid.to_string(),
        source,
    }
}

pub(crate) fn normalise(uuid: &str) -> Result<String, EnrolError> {
    device_record::normalise_uuid(uuid).map_err(|e| EnrolError::BadUuid {
        uuid: uuid.to_string(),
        reason: e.to_string(),
    })
}

impl<L: EnrolmentLedger> Enroller<L> {
    /// `db` must come from [`crate::open_database`].
    pub fn new(
        ca: CertificateAuthority,
        pool: IpPool,
        db: Connection,
        ledger: L,
        config: EnrolmentConfig,
    ) -> Self {
        Enroller {
            ca,
            pool,
            db: Mutex::new(db),
            ledger,
            config,
        }
    }

    pub fn ca(&self) -> &CertificateAuthority {
        &self.ca
    }

    pub fn pool(&self) -> &IpPool {
        &self.pool
    }

    pub fn ledger(&self) -> &L {
        &self.ledger
    }

    /// Operator step: a one-time token for `uuid`, valid for `ttl`.
    pub async fn issue_token(
        &self,
        uuid: &str,
        ttl: Duration,
        now: i64,
    ) -> Result<EnrolmentToken, EnrolError> {
        let db = self.db.lock().await;
        Ok(Tokens::new(&db).issue(uuid, ttl, now)?)
    }

    /// Runs the whole enrolment; on any error nothing is changed.
    pub async fn enrol(&self, req: &EnrolRequest, now: i64) -> Result<Enrolled, EnrolError> {
        let uuid = normalise(&req.uuid)?;
        // The token comes first so an unauthenticated caller learns nothing about the registry.
        Tokens::new(&*self.db.lock().await).redeem(&req.token, &uuid, now)?;
        match self.enrol_redeemed(&uuid, req, now).await {
            Ok(done) => {
                tracing::info!(device = %uuid, ip = %done.virtual_ip, serial = %done.serial_hex, "device enrolled");
                Ok(done)
            }
            Err(e) => {
                let db = self.db.lock().await;
                if let Err(restore) = Tokens::new(&db).restore(&req.token, &uuid, now) {
                    tracing::error!(device = %uuid, error = %restore, "cannot give back the token of a failed enrolment");
                }
                Err(e)
            }
        }
    }

    async fn enrol_redeemed(
        &self,
        uuid: &str,
        req: &EnrolRequest,
        now: i64,
    ) -> Result<Enrolled, EnrolError> {
        let record = self
            .ledger
            .get_device(uuid)
            .await
            .map_err(|source| ledger_error(uuid, source))?
            .ok_or_else(|| EnrolError::NotRegistered {
                uuid: uuid.to_string(),
            })?;
        if record.banned {
            return Err(EnrolError::Banned {
                uuid: uuid.to_string(),
            });
        }
        let on_ledger = record.virtual_ip.parse::<IpAddr>().ok();
        let mut refused = Vec::new();
        for _ in 0..ADDRESS_TRIES {
            let reservation = {
                let db = self.db.lock().await;
                self.pool.reserve(&db, uuid, now, on_ledger, &refused)?
            };
            let lease = reservation.lease.clone();
            let virtual_ip = lease.primary().ok_or(PoolError::NoNetworks)?;
            // Issued before the ledger write, so a bad key changes nothing on the ledger.
            let cert = match self.issue(uuid, record.node_type, &lease, &req.key, now) {
                Ok(cert) => cert,
                Err(e) => {
                    self.give_back(uuid, &reservation).await;
                    return Err(e);
                }
            };
            if on_ledger != Some(virtual_ip) {
                if let Err(error) = self.ledger.set_virtual_ip(uuid, virtual_ip).await {
                    self.give_back(uuid, &reservation).await;
                    self.skip_refused(uuid, virtual_ip, error, now).await?;
                    refused.push(virtual_ip);
                    continue;
                }
            }
            Revocations::new(&*self.db.lock().await).record_issued(uuid, &cert, now)?;
            return Ok(Enrolled {
                cert_pem: cert.pem,
                ca_pem: self.ca.cert_pem().to_string(),
                virtual_ip,
                lease,
                serial_hex: cert.serial_hex,
                not_after: cert.not_after,
            });
        }
        Err(ledger_error(
            uuid,
            LedgerError::Rejected(format!(
                "no virtual IP could be written after {ADDRESS_TRIES} tries ({} refused as taken: \
                 {refused:?}); check the registry for addresses registered inside the centre's network",
                refused.len()
            )),
        ))
    }

    /// The device's certificate; role and usage follow the ledger's node_type (server names
    /// apply to validators only).
    fn issue(
        &self,
        uuid: &str,
        node_type: NodeType,
        lease: &IpLease,
        key: &LeafKey,
        now: i64,
    ) -> Result<IssuedCert, EnrolError> {
        Ok(self.ca.issue_with_role(
            &LeafRequest {
                uuid: uuid.to_string(),
                role: usage_of(node_type),
                virtual_ips: lease.addresses(),
                server_names: self.config.server_names.clone(),
                key: key.clone(),
                validity: self.config.leaf_validity,
                now,
            },
            Role::of_node_type(node_type),
        )?)
    }

    /// After a refused address write: an address taken on the ledger is recorded and skipped,
    /// as is one lost to a concurrent write; any other failure ends the enrolment.
    async fn skip_refused(
        &self,
        uuid: &str,
        ip: IpAddr,
        error: LedgerError,
        now: i64,
    ) -> Result<(), EnrolError> {
        match &error {
            LedgerError::IpTaken { ip: taken, holder } => {
                let db = self.db.lock().await;
                self.pool.note_ledger_ip(&db, holder, Some(*taken), now)?;
                tracing::warn!(device = %uuid, %ip, %holder, "virtual IP taken on the ledger; trying the next one");
                Ok(())
            }
            LedgerError::Conflict(reason) => {
                tracing::warn!(device = %uuid, %ip, %reason, "virtual IP write lost to a concurrent change; trying the next one");
                Ok(())
            }
            _ => Err(ledger_error(uuid, error)),
        }
    }

    /// Frees the addresses leased for an enrolment that failed.
    async fn give_back(&self, uuid: &str, reservation: &Reservation) {
        let db = self.db.lock().await;
        if let Err(e) = self.pool.release_addresses(&db, uuid, &reservation.created) {
            tracing::error!(device = %uuid, error = %e, "cannot free the addresses of a failed enrolment");
        }
    }

    /// Certificate for a service that is not a registered device (the cloud sink, the centre,
    /// operator tools): operator issued, role [`Role::Service`], client and server usage, valid
    /// only for `server_names` (the service's own names; none for a pure client), recorded so it
    /// can be revoked like any other.
    pub async fn issue_service_cert(
        &self,
        service_uuid: &str,
        server_names: &[String],
        key: LeafKey,
        now: i64,
    ) -> Result<IssuedCert, EnrolError> {
        let uuid = normalise(service_uuid)?;
        let cert = self.ca.issue_with_role(
            &LeafRequest {
                uuid: uuid.clone(),
                role: CertRole::ClientAndServer,
                virtual_ips: vec![],
                server_names: server_names.to_vec(),
                key,
                validity: self.config.leaf_validity,
                now,
            },
            Role::Service,
        )?;
        let db = self.db.lock().await;
        Revocations::new(&db).record_issued(&uuid, &cert, now)?;
        Ok(cert)
    }

    /// On ban: revokes every certificate of the device. The address stays leased because the
    /// ledger record still holds it (the registry keeps virtual IPs unique); an unbanned device
    /// re-enrols with the same address.
    pub async fn revoke_device(
        &self,
        uuid: &str,
        reason: RevocationReason,
        now: i64,
    ) -> Result<Vec<String>, EnrolError> {
        let uuid = normalise(uuid)?;
        let db = self.db.lock().await;
        let serials = Revocations::new(&db).revoke_device(&uuid, reason, now)?;
        tracing::info!(device = %uuid, revoked = serials.len(), ?reason, "device certificates revoked");
        Ok(serials)
    }

    /// On deletion from the registry: revokes the device's certificates and frees its addresses.
    pub async fn retire_device(&self, uuid: &str, now: i64) -> Result<Vec<String>, EnrolError> {
        let uuid = normalise(uuid)?;
        let mut db = self.db.lock().await;
        let tx = db.transaction()?;
        let serials = Revocations::new(&tx).revoke_device(
            &uuid,
            RevocationReason::CessationOfOperation,
            now,
        )?;
        self.pool.release(&tx, &uuid)?;
        self.pool.note_ledger_ip(&tx, &uuid, None, now)?;
        tx.commit()?;
        Ok(serials)
    }

    pub async fn lease_of(&self, uuid: &str) -> Result<Option<IpLease>, EnrolError> {
        let uuid = normalise(uuid)?;
        let db = self.db.lock().await;
        Ok(self.pool.lease_of(&db, &uuid)?)
    }

    /// Revoked certificates not yet expired at `now`: lets a server see whether its CRL is stale
    /// without signing a new one.
    pub async fn revoked(&self, now: i64) -> Result<Vec<crate::RevokedCert>, EnrolError> {
        let db = self.db.lock().await;
        Ok(Revocations::new(&db).revoked(now)?)
    }

    /// A freshly signed CRL in DER, to serve at e.g. `GET /v1/pki/crl`.
    pub async fn crl_der(&self, now: i64) -> Result<Vec<u8>, EnrolError> {
        let db = self.db.lock().await;
        Ok(Revocations::new(&db).crl_der(&self.ca, now, self.config.crl_validity)?)
    }
}
