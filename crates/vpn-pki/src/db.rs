//! Opens the VPN Centre's PKI database (SQLite) and creates every table the PKI modules use.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "cannot open PKI database {path}: {source}; check the directory exists and is writable"
    )]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("cannot create PKI tables in {path}: {source}")]
    Schema {
        path: String,
        source: rusqlite::Error,
    },
}

/// Opens (creating if needed) the database at `path` with every PKI table in place.
///
/// WAL mode and a busy timeout let several connections (or processes) share the file; writers
/// that collide wait instead of failing.
pub fn open_database(path: &Path) -> Result<Connection, DbError> {
    let shown = path.display().to_string();
    let conn = Connection::open(path).map_err(|source| DbError::Open {
        path: shown.clone(),
        source,
    })?;
    let schema = |source| DbError::Schema {
        path: shown.clone(),
        source,
    };
    conn.busy_timeout(Duration::from_secs(10)).map_err(schema)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(schema)?;
    for sql in [
        crate::tokens::SCHEMA,
        crate::ip_pool::SCHEMA,
        crate::ledger_ips::SCHEMA,
        crate::revocation::SCHEMA,
    ] {
        conn.execute_batch(sql).map_err(schema)?;
    }
    Ok(conn)
}
