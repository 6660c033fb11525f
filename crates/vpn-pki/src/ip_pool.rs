//! Virtual-IP allocation from the configured IPv4 and IPv6 networks, leased per device and persisted in SQLite.
//!
//! Index 0 (network address) and 1 (the hub) are never leased, nor the IPv4 broadcast address,
//! nor an address the ledger gives to another device ([`crate::ledger_ips`]). The `ip` primary
//! key makes a second lease of an address impossible while the first exists.

use std::collections::HashSet;
use std::net::IpAddr;

use rusqlite::{Connection, OptionalExtension, params};

use crate::cidr::Cidr;
use crate::ledger_ips::LedgerIps;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ip_leases (
    ip           TEXT PRIMARY KEY,
    family       INTEGER NOT NULL,
    device_uuid  TEXT NOT NULL,
    allocated_at INTEGER NOT NULL,
    UNIQUE (device_uuid, family)
);";

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("no virtual network configured; set an IPv4 and/or IPv6 network (CIDR)")]
    NoNetworks,
    #[error(
        "two IPv{family} networks configured ({first} and {second}); configure at most one of each family"
    )]
    SameFamily {
        family: u8,
        first: Cidr,
        second: Cidr,
    },
    #[error(
        "virtual network {network} is too small: it needs room for the hub and at least one device"
    )]
    TooSmall { network: Cidr },
    #[error(
        "virtual network {network} is exhausted; release revoked devices or configure a larger network"
    )]
    Exhausted { network: Cidr },
    #[error("stored lease {ip:?} is not an IP address; the ip_leases table is corrupt")]
    CorruptLease { ip: String },
    #[error("IP lease store failed: {0}")]
    Store(#[from] rusqlite::Error),
}

/// The addresses leased to one device: one per configured family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpLease {
    pub device_uuid: String,
    pub v4: Option<IpAddr>,
    pub v6: Option<IpAddr>,
}

impl IpLease {
    /// The address written to the device's ledger record: IPv4 when configured, else IPv6.
    pub fn primary(&self) -> Option<IpAddr> {
        self.v4.or(self.v6)
    }

    pub fn addresses(&self) -> Vec<IpAddr> {
        self.v4.into_iter().chain(self.v6).collect()
    }
}

/// What [`IpPool::reserve`] leased: the lease, and the addresses leased just now (to give
/// back with [`IpPool::release_addresses`] if the enrolment then fails).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub lease: IpLease,
    pub created: Vec<IpAddr>,
}

/// The configured virtual networks.
#[derive(Debug, Clone)]
pub struct IpPool {
    v4: Option<Cidr>,
    v6: Option<Cidr>,
}

impl IpPool {
    /// At most one network per family, at least one in total.
    pub fn new(networks: &[Cidr]) -> Result<Self, PoolError> {
        let (mut v4, mut v6) = (None, None);
        for net in networks {
            let (slot, family) = if net.is_ipv4() {
                (&mut v4, 4)
            } else {
                (&mut v6, 6)
            };
            if let Some(first) = *slot {
                return Err(PoolError::SameFamily {
                    family,
                    first,
                    second: *net,
                });
            }
            // Room for network address, hub, one device (and IPv4 broadcast).
            if net.last_index() < 3 {
                return Err(PoolError::TooSmall { network: *net });
            }
            *slot = Some(*net);
        }
        if v4.is_none() && v6.is_none() {
            return Err(PoolError::NoNetworks);
        }
        Ok(IpPool { v4, v6 })
    }

    pub fn networks(&self) -> Vec<Cidr> {
        self.v4.into_iter().chain(self.v6).collect()
    }

    /// The hub's own address in each network (index 1), used as the WireGuard peer.
    pub fn hub_addresses(&self) -> Vec<IpAddr> {
        self.networks().iter().filter_map(|n| n.nth(1)).collect()
    }

    /// Returns the device's lease, creating what is missing. A device that already holds an
    /// address inside the configured network keeps it.
    pub fn allocate(&self, conn: &Connection, uuid: &str, now: i64) -> Result<IpLease, PoolError> {
        Ok(self.reserve(conn, uuid, now, None, &[])?.lease)
    }

    /// Like [`IpPool::allocate`], for an enrolment: `preferred` (the address the ledger already
    /// gives the device) is leased when free, addresses in `avoid` (refused by the ledger during
    /// this enrolment) and those the ledger gives to other devices are skipped, and a held
    /// address among them is given up for a new one.
    pub fn reserve(
        &self,
        conn: &Connection,
        uuid: &str,
        now: i64,
        preferred: Option<IpAddr>,
        avoid: &[IpAddr],
    ) -> Result<Reservation, PoolError> {
        let mut skip = LedgerIps::new(conn).held_by_others(uuid)?;
        skip.extend(avoid);
        let mut lease = IpLease {
            device_uuid: uuid.to_string(),
            v4: None,
            v6: None,
        };
        let mut created = Vec::new();
        for net in self.networks() {
            let family = family_of(&net);
            let ip = match held(conn, uuid, family)? {
                Some(ip) if net.contains(ip) && !skip.contains(&ip) => ip,
                stale => {
                    if let Some(old) = stale {
                        // Reconfigured network, or the ledger gives it to another device.
                        conn.execute(
                            "DELETE FROM ip_leases WHERE ip = ?1",
                            params![old.to_string()],
                        )?;
                    }
                    let ip = match preferred.filter(|p| net.contains(*p) && !skip.contains(p)) {
                        Some(p) if leased_to(conn, p)?.is_none() && usable(&net, p) => p,
                        _ => first_free(conn, &net, &skip)?,
                    };
                    conn.execute(
                        "INSERT INTO ip_leases (ip, family, device_uuid, allocated_at) VALUES (?1, ?2, ?3, ?4)",
                        params![ip.to_string(), family, uuid, now],
                    )?;
                    created.push(ip);
                    ip
                }
            };
            if net.is_ipv4() {
                lease.v4 = Some(ip);
            } else {
                lease.v6 = Some(ip);
            }
        }
        Ok(Reservation { lease, created })
    }

    /// Records the address the ledger now shows for `uuid` (`None`: none, e.g. deleted); only
    /// addresses inside the configured networks are kept.
    pub fn note_ledger_ip(
        &self,
        conn: &Connection,
        uuid: &str,
        ip: Option<IpAddr>,
        now: i64,
    ) -> Result<(), PoolError> {
        let ours = ip.filter(|ip| self.networks().iter().any(|n| n.contains(*ip)));
        Ok(LedgerIps::new(conn).record(uuid, ours, now)?)
    }

    /// Frees the given addresses of the device (a reservation given back).
    pub fn release_addresses(
        &self,
        conn: &Connection,
        uuid: &str,
        ips: &[IpAddr],
    ) -> Result<usize, PoolError> {
        let mut freed = 0;
        for ip in ips {
            freed += conn.execute(
                "DELETE FROM ip_leases WHERE device_uuid = ?1 AND ip = ?2",
                params![uuid, ip.to_string()],
            )?;
        }
        Ok(freed)
    }

    /// The device's current lease, if it has one.
    pub fn lease_of(&self, conn: &Connection, uuid: &str) -> Result<Option<IpLease>, PoolError> {
        let v4 = held(conn, uuid, 4)?;
        let v6 = held(conn, uuid, 6)?;
        Ok((v4.is_some() || v6.is_some()).then(|| IpLease {
            device_uuid: uuid.to_string(),
            v4,
            v6,
        }))
    }

    /// Frees every address of the device (on revocation or deletion); returns how many.
    pub fn release(&self, conn: &Connection, uuid: &str) -> Result<usize, PoolError> {
        Ok(conn.execute(
            "DELETE FROM ip_leases WHERE device_uuid = ?1",
            params![uuid],
        )?)
    }
}

fn family_of(net: &Cidr) -> u8 {
    if net.is_ipv4() { 4 } else { 6 }
}

fn parse_ip(text: String) -> Result<IpAddr, PoolError> {
    text.parse()
        .map_err(|_| PoolError::CorruptLease { ip: text })
}

fn held(conn: &Connection, uuid: &str, family: u8) -> Result<Option<IpAddr>, PoolError> {
    let ip: Option<String> = conn
        .query_row(
            "SELECT ip FROM ip_leases WHERE device_uuid = ?1 AND family = ?2",
            params![uuid, family],
            |r| r.get(0),
        )
        .optional()?;
    ip.map(parse_ip).transpose()
}

/// The device holding a lease on `ip`, if any.
fn leased_to(conn: &Connection, ip: IpAddr) -> Result<Option<String>, PoolError> {
    Ok(conn
        .query_row(
            "SELECT device_uuid FROM ip_leases WHERE ip = ?1",
            params![ip.to_string()],
            |r| r.get(0),
        )
        .optional()?)
}

/// A host address of `net` the pool may lease: not the network address, the hub or the IPv4
/// broadcast address.
fn usable(net: &Cidr, ip: IpAddr) -> bool {
    net.index_of(ip)
        .is_some_and(|i| (2..=last_host(net)).contains(&i))
}

/// Index of the last leasable address: the IPv4 broadcast address is not one.
fn last_host(net: &Cidr) -> u128 {
    if net.is_ipv4() {
        net.last_index() - 1
    } else {
        net.last_index()
    }
}

/// Lowest free host address not in `skip`. The scan stops at the first gap, so it costs at most
/// one step per existing lease or skipped address even in a /64.
fn first_free(conn: &Connection, net: &Cidr, skip: &HashSet<IpAddr>) -> Result<IpAddr, PoolError> {
    let mut stmt = conn.prepare("SELECT ip FROM ip_leases WHERE family = ?1")?;
    let mut taken: HashSet<u128> = stmt
        .query_map(params![family_of(net)], |r| r.get::<_, String>(0))?
        .map(|row| parse_ip(row?))
        .collect::<Result<Vec<_>, PoolError>>()?
        .into_iter()
        .filter_map(|ip| net.index_of(ip))
        .collect();
    taken.extend(skip.iter().filter_map(|ip| net.index_of(*ip)));
    let last = last_host(net);
    let mut index = 2u128;
    while index <= last {
        if !taken.contains(&index) {
            return net.nth(index).ok_or(PoolError::Exhausted { network: *net });
        }
        index += 1;
    }
    Err(PoolError::Exhausted { network: *net })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_database(&dir.path().join("pki.db")).unwrap();
        (dir, conn)
    }

    fn pool(nets: &[&str]) -> IpPool {
        IpPool::new(&nets.iter().map(|n| n.parse().unwrap()).collect::<Vec<_>>()).unwrap()
    }

    fn uuid(i: u32) -> String {
        format!("{i:08x}-0000-4000-8000-000000000000")
    }

    #[test]
    fn exhausts_small_ipv4_network_skipping_network_hub_and_broadcast() {
        let (_d, conn) = db();
        let pool = pool(&["10.9.0.0/29"]);
        let got: Vec<IpAddr> = (0..5)
            .map(|i| pool.allocate(&conn, &uuid(i), 0).unwrap().v4.unwrap())
            .collect();
        let want: Vec<IpAddr> = (2..7)
            .map(|h| format!("10.9.0.{h}").parse().unwrap())
            .collect();
        assert_eq!(got, want);
        assert!(matches!(
            pool.allocate(&conn, &uuid(99), 0),
            Err(PoolError::Exhausted { .. })
        ));
        // Releasing one frees exactly that address for the next device.
        assert_eq!(pool.release(&conn, &uuid(2)).unwrap(), 1);
        assert_eq!(
            pool.allocate(&conn, &uuid(99), 0).unwrap().v4,
            Some("10.9.0.4".parse().unwrap())
        );
    }

    #[test]
    fn same_device_keeps_its_addresses_in_both_families() {
        let (_d, conn) = db();
        let pool = pool(&["10.8.0.0/24", "fd00:8::/64"]);
        let first = pool.allocate(&conn, &uuid(1), 0).unwrap();
        let other = pool.allocate(&conn, &uuid(2), 0).unwrap();
        let again = pool.allocate(&conn, &uuid(1), 5).unwrap();
        assert_eq!(first, again);
        assert_ne!(first.v4, other.v4);
        assert_ne!(first.v6, other.v6);
        assert_eq!(first.primary(), first.v4);
        assert_eq!(pool.lease_of(&conn, &uuid(1)).unwrap(), Some(first));
        assert_eq!(
            pool.hub_addresses(),
            vec![
                "10.8.0.1".parse::<IpAddr>().unwrap(),
                "fd00:8::1".parse().unwrap()
            ]
        );
    }

    #[test]
    fn refuses_bad_configuration() {
        assert!(matches!(IpPool::new(&[]), Err(PoolError::NoNetworks)));
        let two: Vec<Cidr> = vec![
            "10.0.0.0/24".parse().unwrap(),
            "10.1.0.0/24".parse().unwrap(),
        ];
        assert!(matches!(
            IpPool::new(&two),
            Err(PoolError::SameFamily { family: 4, .. })
        ));
        assert!(matches!(
            IpPool::new(&["10.0.0.0/31".parse().unwrap()]),
            Err(PoolError::TooSmall { .. })
        ));
    }
}
