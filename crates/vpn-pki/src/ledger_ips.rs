//! Virtual IPs the ledger shows held by devices (learned from registry events and from refused writes), so the pool never offers one to another device.
//!
//! An operator may register a device with `--virtual-ip` by hand, or another organisation may
//! register one, at an address inside the centre's network. The registry keeps addresses unique,
//! so leasing that address to an enrolling device would only make its ledger write fail. Each
//! device holds at most one address on the ledger; a deleted device holds none.

use std::collections::HashSet;
use std::net::IpAddr;

use rusqlite::{Connection, OptionalExtension, params};

use crate::enrol::{EnrolError, Enroller, normalise};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ledger_ips (
    ip          TEXT PRIMARY KEY,
    device_uuid TEXT NOT NULL,
    seen_at     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_ips_device ON ledger_ips (device_uuid);";

/// The ledger's address holders over a PKI database connection or transaction.
pub struct LedgerIps<'c> {
    conn: &'c Connection,
}

impl<'c> LedgerIps<'c> {
    pub fn new(conn: &'c Connection) -> Self {
        LedgerIps { conn }
    }

    /// Records that the ledger now shows `uuid` at `ip`, or at no address of ours (`None`):
    /// forgets the device's previous address and any other holder of `ip`.
    pub fn record(&self, uuid: &str, ip: Option<IpAddr>, now: i64) -> rusqlite::Result<()> {
        self.conn.execute(
            "DELETE FROM ledger_ips WHERE device_uuid = ?1",
            params![uuid],
        )?;
        if let Some(ip) = ip {
            self.conn.execute(
                "INSERT INTO ledger_ips (ip, device_uuid, seen_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (ip) DO UPDATE SET device_uuid = excluded.device_uuid,
                                                seen_at = excluded.seen_at",
                params![ip.to_string(), uuid, now],
            )?;
        }
        Ok(())
    }

    /// The device the ledger was last seen to give `ip` to.
    pub fn holder(&self, ip: IpAddr) -> rusqlite::Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT device_uuid FROM ledger_ips WHERE ip = ?1",
                params![ip.to_string()],
                |r| r.get(0),
            )
            .optional()
    }

    /// Addresses the ledger gives to devices other than `uuid` (unparsable rows are skipped:
    /// they can name no address of ours).
    pub fn held_by_others(&self, uuid: &str) -> rusqlite::Result<HashSet<IpAddr>> {
        let mut stmt = self
            .conn
            .prepare("SELECT ip FROM ledger_ips WHERE device_uuid != ?1")?;
        let rows = stmt.query_map(params![uuid], |r| r.get::<_, String>(0))?;
        let mut ips = HashSet::new();
        for row in rows {
            if let Ok(ip) = row?.parse() {
                ips.insert(ip);
            }
        }
        Ok(ips)
    }
}

/// What the centre learns of the ledger's addresses, kept in the enroller's database.
impl<L> Enroller<L> {
    /// Records the addresses the ledger shows for devices (`None`: none, e.g. deleted), learned
    /// from the registry's listing and events, so the pool offers them to no other device.
    pub async fn note_ledger_ips(
        &self,
        seen: &[(String, Option<IpAddr>)],
        now: i64,
    ) -> Result<(), EnrolError> {
        let mut db = self.db.lock().await;
        let tx = db.transaction()?;
        for (uuid, ip) in seen {
            self.pool.note_ledger_ip(&tx, &normalise(uuid)?, *ip, now)?;
        }
        Ok(tx.commit()?)
    }

    /// The device the ledger was last seen to give `ip` to, as far as this PKI knows.
    pub async fn ledger_holder(&self, ip: IpAddr) -> Result<Option<String>, EnrolError> {
        let db = self.db.lock().await;
        Ok(LedgerIps::new(&db).holder(ip)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip_pool::IpPool;

    fn uuid(i: u32) -> String {
        format!("{i:08x}-0000-4000-8000-000000000000")
    }

    const A: &str = "0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b";
    const B: &str = "1b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b";

    #[test]
    fn each_device_holds_one_address_and_each_address_one_device() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_database(&dir.path().join("pki.db")).unwrap();
        let ips = LedgerIps::new(&conn);
        let (x, y): (IpAddr, IpAddr) = ("10.8.0.7".parse().unwrap(), "10.8.0.9".parse().unwrap());
        ips.record(A, Some(x), 1).unwrap();
        assert_eq!(ips.holder(x).unwrap().as_deref(), Some(A));
        assert_eq!(ips.held_by_others(B).unwrap(), HashSet::from([x]));
        assert!(ips.held_by_others(A).unwrap().is_empty());
        // A moves: its old address is free again.
        ips.record(A, Some(y), 2).unwrap();
        assert_eq!(ips.holder(x).unwrap(), None);
        // B takes y (A must have left it): y is B's now.
        ips.record(B, Some(y), 3).unwrap();
        assert_eq!(ips.holder(y).unwrap().as_deref(), Some(B));
        assert_eq!(ips.held_by_others(B).unwrap(), HashSet::new());
        // Deleted: holds nothing.
        ips.record(B, None, 4).unwrap();
        assert_eq!(ips.holder(y).unwrap(), None);
    }

    #[test]
    fn addresses_the_ledger_gives_to_others_are_skipped_and_a_device_gets_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_database(&dir.path().join("pki.db")).unwrap();
        let pool = IpPool::new(&["10.9.0.0/29".parse().unwrap()]).unwrap();
        let ip = |h: u8| -> IpAddr { format!("10.9.0.{h}").parse().unwrap() };
        // Registered by hand at .2 and .4; an address outside the network is not kept.
        pool.note_ledger_ip(&conn, &uuid(50), Some(ip(2)), 0)
            .unwrap();
        pool.note_ledger_ip(&conn, &uuid(51), Some(ip(4)), 0)
            .unwrap();
        pool.note_ledger_ip(&conn, &uuid(52), Some("10.7.0.2".parse().unwrap()), 0)
            .unwrap();
        let first = pool.reserve(&conn, &uuid(1), 0, None, &[]).unwrap();
        assert_eq!(
            (first.lease.v4, first.created.clone()),
            (Some(ip(3)), vec![ip(3)])
        );
        // Refused during this enrolment: the held address is given up for the next free one.
        let again = pool.reserve(&conn, &uuid(1), 0, None, &[ip(3)]).unwrap();
        assert_eq!(again.lease.v4, Some(ip(5)));
        assert_eq!(
            pool.release_addresses(&conn, &uuid(1), &again.created)
                .unwrap(),
            1
        );
        assert_eq!(pool.lease_of(&conn, &uuid(1)).unwrap(), None);
        // The hand-registered device enrolling keeps the address the ledger gives it.
        let own = pool.reserve(&conn, &uuid(51), 0, Some(ip(4)), &[]).unwrap();
        assert_eq!(own.lease.v4, Some(ip(4)));
        // A preferred address leased to another device, or unusable, is not taken.
        let other = pool.reserve(&conn, &uuid(53), 0, Some(ip(4)), &[]).unwrap();
        assert_eq!(other.lease.v4, Some(ip(3)));
        let hub = pool.reserve(&conn, &uuid(54), 0, Some(ip(1)), &[]).unwrap();
        assert_eq!(hub.lease.v4, Some(ip(5)));
        // Deleted from the ledger: its address is free again.
        pool.note_ledger_ip(&conn, &uuid(50), None, 0).unwrap();
        assert_eq!(pool.allocate(&conn, &uuid(55), 0).unwrap().v4, Some(ip(2)));
    }
}
