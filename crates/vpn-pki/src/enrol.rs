//! The enrolment flow: token → registry check → virtual IP → ledger update → certificate, all or nothing.
//!
//! Every step runs inside one SQLite transaction (`BEGIN IMMEDIATE`); any failure rolls it back,
//! so the token stays unused, no address stays leased and no certificate is registered. The
//! ledger write is the last step before COMMIT, and is skipped when the record already holds
//! the address. Enrolments are serialised by the database lock; they are rare.

use std::net::IpAddr;
use std::time::Duration;

use device_record::NodeType;
use rcgen::RevocationReason;
use rusqlite::Connection;
use tokio::sync::Mutex;

use crate::ca::{CaError, CertRole, CertificateAuthority, IssuedCert, LeafKey, LeafRequest};
use crate::ip_pool::{IpLease, IpPool, PoolError};
use crate::ledger::{LedgerError, RegistryLedger};
use crate::revocation::{RevocationError, Revocations};
use crate::role::Role;
use crate::tokens::{EnrolmentToken, TokenError, Tokens};

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
    pool: IpPool,
    db: Mutex<Connection>,
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

fn normalise(uuid: &str) -> Result<String, EnrolError> {
    device_record::normalise_uuid(uuid).map_err(|e| EnrolError::BadUuid {
        uuid: uuid.to_string(),
        reason: e.to_string(),
    })
}

impl<L: RegistryLedger> Enroller<L> {
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
        let mut db = self.db.lock().await;
        let conn: &mut Connection = &mut db;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        match self.enrol_steps(conn, &uuid, req, now).await {
            Ok(done) => {
                conn.execute_batch("COMMIT")?;
                tracing::info!(device = %uuid, ip = %done.virtual_ip, serial = %done.serial_hex, "device enrolled");
                Ok(done)
            }
            Err(e) => {
                if let Err(rollback) = conn.execute_batch("ROLLBACK") {
                    tracing::error!(device = %uuid, error = %rollback, "rollback after failed enrolment failed");
                }
                Err(e)
            }
        }
    }

    // `conn` is `&mut` (Send) rather than `&` so the future stays Send across the ledger awaits.
    async fn enrol_steps(
        &self,
        conn: &mut Connection,
        uuid: &str,
        req: &EnrolRequest,
        now: i64,
    ) -> Result<Enrolled, EnrolError> {
        // The token comes first so an unauthenticated caller learns nothing about the registry.
        Tokens::new(conn).redeem(&req.token, uuid, now)?;
        let ledger_err = |source| EnrolError::Ledger {
            uuid: uuid.to_string(),
            source,
        };
        let record = self
            .ledger
            .get_device(uuid)
            .await
            .map_err(ledger_err)?
            .ok_or_else(|| EnrolError::NotRegistered {
                uuid: uuid.to_string(),
            })?;
        if record.banned {
            return Err(EnrolError::Banned {
                uuid: uuid.to_string(),
            });
        }
        let lease = self.pool.allocate(conn, uuid, now)?;
        let virtual_ip = lease.primary().ok_or(PoolError::NoNetworks)?;
        // Role and usage follow the ledger's node_type (server names apply to validators only).
        let cert = self.ca.issue_with_role(
            &LeafRequest {
                uuid: uuid.to_string(),
                role: usage_of(record.node_type),
                virtual_ips: lease.addresses(),
                server_names: self.config.server_names.clone(),
                key: req.key.clone(),
                validity: self.config.leaf_validity,
                now,
            },
            Role::of_node_type(record.node_type),
        )?;
        Revocations::new(conn).record_issued(uuid, &cert, now)?;
        if record.virtual_ip.parse::<IpAddr>().ok() != Some(virtual_ip) {
            self.ledger
                .set_virtual_ip(uuid, virtual_ip)
                .await
                .map_err(ledger_err)?;
        }
        Ok(Enrolled {
            cert_pem: cert.pem,
            ca_pem: self.ca.cert_pem().to_string(),
            virtual_ip,
            lease,
            serial_hex: cert.serial_hex,
            not_after: cert.not_after,
        })
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
