//! Issued-certificate register and revocation: revoke every certificate of a device, and publish a signed X.509 CRL.
//!
//! Publishing: the centre serves [`Revocations::crl_der`] (e.g. at `/v1/pki/crl`); validators and
//! the cloud sink poll it with [`crate::CrlRefresher`] and swap it into their TLS verifier, so a
//! revocation takes effect for new connections within one poll interval.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    CertificateRevocationListParams, KeyIdMethod, RevocationReason, RevokedCertParams, SerialNumber,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::ca::{CertificateAuthority, IssuedCert, at};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS issued_certs (
    serial_hex  TEXT PRIMARY KEY,
    device_uuid TEXT NOT NULL,
    issued_at   INTEGER NOT NULL,
    not_after   INTEGER NOT NULL,
    revoked_at  INTEGER,
    reason      INTEGER
);
CREATE INDEX IF NOT EXISTS issued_certs_device ON issued_certs (device_uuid);
CREATE TABLE IF NOT EXISTS pki_counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);";

#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    #[error("stored serial {serial:?} is not hex; the issued_certs table is corrupt")]
    CorruptSerial { serial: String },
    #[error("stored revocation reason {code} is unknown; the issued_certs table is corrupt")]
    CorruptReason { code: i64 },
    #[error("CRL lifetime must be at least one second")]
    BadCrlValidity,
    #[error("cannot sign the CRL: {0}")]
    Sign(rcgen::Error),
    #[error("certificate register failed: {0}")]
    Store(#[from] rusqlite::Error),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedCert {
    pub serial_hex: String,
    pub device_uuid: String,
    pub revoked_at: i64,
    pub reason: RevocationReason,
    pub not_after: i64,
}

/// Certificate register operations over a PKI database connection or transaction.
pub struct Revocations<'c> {
    conn: &'c Connection,
}

impl<'c> Revocations<'c> {
    pub fn new(conn: &'c Connection) -> Self {
        Revocations { conn }
    }

    /// Records a certificate so it can later be revoked by device.
    pub fn record_issued(
        &self,
        uuid: &str,
        cert: &IssuedCert,
        now: i64,
    ) -> Result<(), RevocationError> {
        self.conn.execute(
            "INSERT INTO issued_certs (serial_hex, device_uuid, issued_at, not_after) VALUES (?1, ?2, ?3, ?4)",
            params![cert.serial_hex, uuid, now, cert.not_after],
        )?;
        Ok(())
    }

    /// Revokes every unrevoked certificate of the device; returns the serials revoked now
    /// (empty if there were none, so repeating a ban is harmless).
    pub fn revoke_device(
        &self,
        uuid: &str,
        reason: RevocationReason,
        now: i64,
    ) -> Result<Vec<String>, RevocationError> {
        let mut stmt = self.conn.prepare(
            "UPDATE issued_certs SET revoked_at = ?2, reason = ?3
             WHERE device_uuid = ?1 AND revoked_at IS NULL RETURNING serial_hex",
        )?;
        let serials = stmt
            .query_map(params![uuid, now, reason as i64], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(serials)
    }

    pub fn is_revoked(&self, serial_hex: &str) -> Result<bool, RevocationError> {
        let revoked: Option<Option<i64>> = self
            .conn
            .query_row(
                "SELECT revoked_at FROM issued_certs WHERE serial_hex = ?1",
                params![serial_hex],
                |r| r.get(0),
            )
            .optional()?;
        Ok(matches!(revoked, Some(Some(_))))
    }

    /// Revoked certificates that have not yet expired at `now` (expired ones need no CRL entry).
    pub fn revoked(&self, now: i64) -> Result<Vec<RevokedCert>, RevocationError> {
        let mut stmt = self.conn.prepare(
            "SELECT serial_hex, device_uuid, revoked_at, reason, not_after FROM issued_certs
             WHERE revoked_at IS NOT NULL AND not_after > ?1 ORDER BY revoked_at, serial_hex",
        )?;
        let rows = stmt
            .query_map(params![now], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get::<_, i64>(3)?,
                    r.get(4)?,
                ))
            })?
            .collect::<Result<Vec<(String, String, i64, i64, i64)>, _>>()?;
        rows.into_iter()
            .map(|(serial_hex, device_uuid, revoked_at, code, not_after)| {
                Ok(RevokedCert {
                    serial_hex,
                    device_uuid,
                    revoked_at,
                    reason: reason_from_code(code)?,
                    not_after,
                })
            })
            .collect()
    }

    /// The next CRL number: milliseconds since the Unix epoch, or one more than the last number
    /// when that is not lower. Clients refuse a CRL numbered below the one they hold, so the
    /// number follows the clock rather than this database: a PKI database deleted and created
    /// again with the same CA still publishes higher numbers than before.
    fn next_crl_number(&self) -> Result<i64, RevocationError> {
        let clock_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Ok(self.conn.query_row(
            "INSERT INTO pki_counters (name, value) VALUES ('crl_number', ?1)
             ON CONFLICT (name) DO UPDATE SET value = MAX(value + 1, ?1) RETURNING value",
            params![clock_ms],
            |r| r.get(0),
        )?)
    }

    /// A freshly signed CRL (DER) valid from `now` for `validity`; each call takes a higher CRL
    /// number than the last (see [`Self::next_crl_number`]).
    pub fn crl_der(
        &self,
        ca: &CertificateAuthority,
        now: i64,
        validity: Duration,
    ) -> Result<Vec<u8>, RevocationError> {
        if validity.as_secs() == 0 {
            return Err(RevocationError::BadCrlValidity);
        }
        let number = self.next_crl_number()?;
        let revoked_certs = self
            .revoked(now)?
            .into_iter()
            .map(|c| {
                Ok(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&from_hex(&c.serial_hex)?),
                    revocation_time: at(c.revoked_at),
                    reason_code: Some(c.reason),
                    invalidity_date: None,
                })
            })
            .collect::<Result<Vec<_>, RevocationError>>()?;
        let params = CertificateRevocationListParams {
            this_update: at(now),
            next_update: at(now + validity.as_secs() as i64),
            crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params
            .signed_by(ca.issuer())
            .map_err(RevocationError::Sign)?;
        Ok(crl.der().to_vec())
    }
}

fn reason_from_code(code: i64) -> Result<RevocationReason, RevocationError> {
    use RevocationReason::*;
    Ok(match code {
        0 => Unspecified,
        1 => KeyCompromise,
        2 => CaCompromise,
        3 => AffiliationChanged,
        4 => Superseded,
        5 => CessationOfOperation,
        6 => CertificateHold,
        8 => RemoveFromCrl,
        9 => PrivilegeWithdrawn,
        10 => AaCompromise,
        _ => return Err(RevocationError::CorruptReason { code }),
    })
}

fn from_hex(text: &str) -> Result<Vec<u8>, RevocationError> {
    let bad = || RevocationError::CorruptSerial {
        serial: text.to_string(),
    };
    if text.len() % 2 != 0 {
        return Err(bad());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::{CertRole, LeafKey, LeafRequest};
    use x509_parser::prelude::*;

    const DEV: &str = "0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b";
    const OTHER: &str = "1b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b";

    fn issue(ca: &CertificateAuthority, uuid: &str, now: i64) -> IssuedCert {
        let key = rcgen::KeyPair::generate().unwrap();
        ca.issue(&LeafRequest {
            uuid: uuid.into(),
            role: CertRole::Client,
            virtual_ips: vec![],
            server_names: vec![],
            key: LeafKey::PublicKey(key.public_key_pem()),
            validity: Duration::from_secs(3600),
            now,
        })
        .unwrap()
    }

    #[test]
    fn revoking_a_device_lists_all_its_certs_in_a_signed_crl() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_database(&dir.path().join("pki.db")).unwrap();
        let ca =
            CertificateAuthority::generate("Test CA", Duration::from_secs(86400), 1000).unwrap();
        let revs = Revocations::new(&conn);
        let a1 = issue(&ca, DEV, 1000);
        let a2 = issue(&ca, DEV, 1000);
        let b = issue(&ca, OTHER, 1000);
        for c in [&a1, &a2] {
            revs.record_issued(DEV, c, 1000).unwrap();
        }
        revs.record_issued(OTHER, &b, 1000).unwrap();

        let mut revoked = revs
            .revoke_device(DEV, RevocationReason::PrivilegeWithdrawn, 1100)
            .unwrap();
        revoked.sort();
        let mut want = vec![a1.serial_hex.clone(), a2.serial_hex.clone()];
        want.sort();
        assert_eq!(revoked, want);
        assert!(
            revs.revoke_device(DEV, RevocationReason::Unspecified, 1200)
                .unwrap()
                .is_empty()
        );
        assert!(revs.is_revoked(&a1.serial_hex).unwrap());
        assert!(!revs.is_revoked(&b.serial_hex).unwrap());

        let der = revs.crl_der(&ca, 1200, Duration::from_secs(600)).unwrap();
        let (_, crl) = CertificateRevocationList::from_der(&der).unwrap();
        let (_, ca_cert) = parse_x509_certificate(ca.cert_der()).unwrap();
        crl.verify_signature(ca_cert.public_key()).unwrap();
        assert_eq!(
            crl.next_update().unwrap().timestamp() - crl.last_update().timestamp(),
            600
        );
        let (_, a1_cert) = parse_x509_certificate(&a1.der).unwrap();
        let (_, b_cert) = parse_x509_certificate(&b.der).unwrap();
        let listed: Vec<_> = crl
            .iter_revoked_certificates()
            .map(|r| r.serial().clone())
            .collect();
        assert_eq!(listed.len(), 2);
        assert!(listed.contains(&a1_cert.serial));
        assert!(!listed.contains(&b_cert.serial));
        let first_number = crl.crl_number().unwrap().clone();
        let der2 = revs.crl_der(&ca, 1201, Duration::from_secs(600)).unwrap();
        let (_, crl2) = CertificateRevocationList::from_der(&der2).unwrap();
        assert!(crl2.crl_number().unwrap() > &first_number);

        // A counter ahead of the clock still moves up by one; a fresh database follows the clock.
        conn.execute("UPDATE pki_counters SET value = value + 1000000", [])
            .unwrap();
        let ahead = crl.crl_number().unwrap() + 1_000_000u32;
        let der_ahead = revs.crl_der(&ca, 1202, Duration::from_secs(600)).unwrap();
        let (_, crl_ahead) = CertificateRevocationList::from_der(&der_ahead).unwrap();
        assert!(crl_ahead.crl_number().unwrap() > &ahead);
        // A reset a few milliseconds later (a restart takes far longer).
        std::thread::sleep(Duration::from_millis(5));
        let fresh = crate::db::open_database(&dir.path().join("reset.db")).unwrap();
        let der_fresh = Revocations::new(&fresh)
            .crl_der(&ca, 1203, Duration::from_secs(600))
            .unwrap();
        let (_, crl_fresh) = CertificateRevocationList::from_der(&der_fresh).unwrap();
        assert!(crl_fresh.crl_number().unwrap() > crl2.crl_number().unwrap());

        // Once expired, the entries leave the CRL.
        let der3 = revs
            .crl_der(&ca, 1000 + 3600, Duration::from_secs(600))
            .unwrap();
        let (_, crl3) = CertificateRevocationList::from_der(&der3).unwrap();
        assert_eq!(crl3.iter_revoked_certificates().count(), 0);
    }
}
