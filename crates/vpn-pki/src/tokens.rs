//! One-time enrolment tokens: random 256-bit secrets, stored only as SHA-256 hashes, single use and expiring.

use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use rusqlite::{Connection, OptionalExtension, params};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS enrolment_tokens (
    token_hash  TEXT PRIMARY KEY,
    device_uuid TEXT NOT NULL,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenError {
    #[error("enrolment token is unknown; ask an operator for a new token")]
    Unknown,
    #[error(
        "enrolment token expired at {expired_at} (unix seconds); ask an operator for a new token"
    )]
    Expired { expired_at: i64 },
    #[error("enrolment token was already used at {used_at} (unix seconds); tokens are single use")]
    Used { used_at: i64 },
    #[error("enrolment token was issued for another device, not {uuid}")]
    WrongDevice { uuid: String },
    #[error("malformed device uuid {uuid:?}: {reason}")]
    BadUuid { uuid: String, reason: String },
    #[error("token lifetime must be between 1 second and 30 days, got {seconds}s")]
    BadTtl { seconds: u64 },
    #[error("cannot generate a random token: the system random source failed")]
    Random,
    #[error("token store failed: {0}")]
    Store(#[from] rusqlite::Error),
}

/// A freshly issued token. `secret` is shown once to the operator and never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentToken {
    pub secret: String,
    pub device_uuid: String,
    pub expires_at: i64,
}

/// Token operations over a PKI database connection (or an open transaction, which derefs to one).
pub struct Tokens<'c> {
    conn: &'c Connection,
}

const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

impl<'c> Tokens<'c> {
    pub fn new(conn: &'c Connection) -> Self {
        Tokens { conn }
    }

    /// Issues a token for `uuid` valid for `ttl` from `now` (unix seconds).
    pub fn issue(&self, uuid: &str, ttl: Duration, now: i64) -> Result<EnrolmentToken, TokenError> {
        let uuid = normalise(uuid)?;
        if ttl.is_zero() || ttl > MAX_TTL {
            return Err(TokenError::BadTtl {
                seconds: ttl.as_secs(),
            });
        }
        let mut raw = [0u8; 32];
        aws_lc_rs::rand::fill(&mut raw).map_err(|_| TokenError::Random)?;
        let secret = to_hex(&raw);
        let expires_at = now.saturating_add(ttl.as_secs() as i64);
        self.conn.execute(
            "INSERT INTO enrolment_tokens (token_hash, device_uuid, issued_at, expires_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![hash(&secret), uuid, now, expires_at],
        )?;
        Ok(EnrolmentToken {
            secret,
            device_uuid: uuid,
            expires_at,
        })
    }

    /// Consumes the token for `uuid` at `now`. A single conditional UPDATE makes the check and the
    /// consumption one step, so of two concurrent redeems exactly one succeeds.
    pub fn redeem(&self, secret: &str, uuid: &str, now: i64) -> Result<(), TokenError> {
        let uuid = normalise(uuid)?;
        let token_hash = hash(secret);
        let changed = self.conn.execute(
            "UPDATE enrolment_tokens SET used_at = ?3
             WHERE token_hash = ?1 AND device_uuid = ?2 AND used_at IS NULL AND expires_at > ?3",
            params![token_hash, uuid, now],
        )?;
        if changed == 1 {
            return Ok(());
        }
        let row: Option<(String, i64, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT device_uuid, expires_at, used_at FROM enrolment_tokens WHERE token_hash = ?1",
                params![token_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        Err(match row {
            None => TokenError::Unknown,
            Some((_, _, Some(used_at))) => TokenError::Used { used_at },
            Some((owner, _, None)) if owner != uuid => TokenError::WrongDevice { uuid },
            Some((_, expired_at, None)) => TokenError::Expired { expired_at },
        })
    }

    /// Makes a token redeemed at `used_at` usable again, for an enrolment that failed after
    /// redeeming it; returns whether it was given back (not when redeemed at another time).
    pub fn restore(&self, secret: &str, uuid: &str, used_at: i64) -> Result<bool, TokenError> {
        let uuid = normalise(uuid)?;
        let changed = self.conn.execute(
            "UPDATE enrolment_tokens SET used_at = NULL
             WHERE token_hash = ?1 AND device_uuid = ?2 AND used_at = ?3",
            params![hash(secret), uuid, used_at],
        )?;
        Ok(changed == 1)
    }

    /// Deletes tokens that expired before `now`; returns how many were removed.
    pub fn purge_expired(&self, now: i64) -> Result<usize, TokenError> {
        Ok(self.conn.execute(
            "DELETE FROM enrolment_tokens WHERE expires_at <= ?1",
            params![now],
        )?)
    }
}

fn normalise(uuid: &str) -> Result<String, TokenError> {
    device_record::normalise_uuid(uuid).map_err(|e| TokenError::BadUuid {
        uuid: uuid.to_string(),
        reason: e.to_string(),
    })
}

fn hash(secret: &str) -> String {
    to_hex(digest(&SHA256, secret.trim().as_bytes()).as_ref())
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: &str = "0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b";
    const OTHER: &str = "1b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b";

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_database(&dir.path().join("pki.db")).unwrap();
        (dir, conn)
    }

    #[test]
    fn secret_is_256_bits_and_only_its_hash_is_stored() {
        let (_d, conn) = db();
        let t = Tokens::new(&conn)
            .issue(DEV, Duration::from_secs(60), 1000)
            .unwrap();
        assert_eq!(t.secret.len(), 64);
        let stored: String = conn
            .query_row("SELECT token_hash FROM enrolment_tokens", [], |r| r.get(0))
            .unwrap();
        assert_ne!(stored, t.secret);
        assert_eq!(stored, hash(&t.secret));
        let t2 = Tokens::new(&conn)
            .issue(DEV, Duration::from_secs(60), 1000)
            .unwrap();
        assert_ne!(t.secret, t2.secret);
    }

    #[test]
    fn redeem_is_single_use_and_reports_why_it_fails() {
        let (_d, conn) = db();
        let tokens = Tokens::new(&conn);
        let t = tokens.issue(DEV, Duration::from_secs(60), 1000).unwrap();
        assert_eq!(
            tokens.redeem(&t.secret, OTHER, 1001),
            Err(TokenError::WrongDevice { uuid: OTHER.into() })
        );
        assert_eq!(
            tokens.redeem(&"0".repeat(64), DEV, 1001),
            Err(TokenError::Unknown)
        );
        tokens.redeem(&t.secret, DEV, 1001).unwrap();
        assert_eq!(
            tokens.redeem(&t.secret, DEV, 1002),
            Err(TokenError::Used { used_at: 1001 })
        );
        // A failed enrolment gives its token back, and only the redemption it made.
        assert!(!tokens.restore(&t.secret, DEV, 1000).unwrap());
        assert!(tokens.restore(&t.secret, DEV, 1001).unwrap());
        tokens.redeem(&t.secret, DEV, 1003).unwrap();
        let late = tokens.issue(DEV, Duration::from_secs(60), 1000).unwrap();
        assert_eq!(
            tokens.redeem(&late.secret, DEV, 1060),
            Err(TokenError::Expired { expired_at: 1060 })
        );
        assert_eq!(tokens.purge_expired(1060).unwrap(), 2);
    }

    #[test]
    fn refuses_bad_uuid_and_ttl() {
        let (_d, conn) = db();
        let tokens = Tokens::new(&conn);
        assert!(matches!(
            tokens.issue("nope", Duration::from_secs(60), 0),
            Err(TokenError::BadUuid { .. })
        ));
        assert!(matches!(
            tokens.issue(DEV, Duration::ZERO, 0),
            Err(TokenError::BadTtl { .. })
        ));
    }

    #[test]
    fn two_concurrent_redeems_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pki.db");
        let setup = crate::db::open_database(&path).unwrap();
        for _round in 0..5 {
            let secret = Tokens::new(&setup)
                .issue(DEV, Duration::from_secs(60), 1000)
                .unwrap()
                .secret;
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let (path, secret, barrier) = (path.clone(), secret.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        let conn = crate::db::open_database(&path).unwrap();
                        barrier.wait();
                        Tokens::new(&conn).redeem(&secret, DEV, 1001)
                    })
                })
                .collect();
            let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            let wins = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(wins, 1, "{results:?}");
            assert!(
                results
                    .iter()
                    .any(|r| matches!(r, Err(TokenError::Used { used_at: 1001 }))),
                "{results:?}"
            );
        }
    }
}
