//! An IPv4 or IPv6 network written as CIDR text (`10.8.0.0/24`, `fd00:8::/64`), and the host addresses in it.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CidrError {
    #[error(
        "malformed network {text:?}: expected ADDRESS/PREFIX such as 10.8.0.0/24 or fd00:8::/64"
    )]
    Malformed { text: String },
    #[error("prefix /{prefix} is too long for {text:?}: max /{max}")]
    PrefixTooLong { text: String, prefix: u8, max: u8 },
    #[error("{text:?} has host bits set; write the network address, e.g. {network}")]
    HostBitsSet { text: String, network: String },
}

/// A network: base address (host bits zero) and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn network(&self) -> IpAddr {
        self.network
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn is_ipv4(&self) -> bool {
        self.network.is_ipv4()
    }

    fn bits(&self) -> u8 {
        if self.is_ipv4() { 32 } else { 128 }
    }

    fn host_mask(&self) -> u128 {
        let host_bits = u32::from(self.bits() - self.prefix);
        if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.is_ipv4() && to_u128(ip) & !self.host_mask() == to_u128(self.network)
    }

    /// The `index`-th address of the network (0 = network address), if inside it.
    pub fn nth(&self, index: u128) -> Option<IpAddr> {
        (index <= self.host_mask())
            .then(|| from_u128(to_u128(self.network) + index, self.is_ipv4()))
    }

    /// Offset of `ip` inside the network, if it is inside.
    pub fn index_of(&self, ip: IpAddr) -> Option<u128> {
        self.contains(ip)
            .then(|| to_u128(ip) - to_u128(self.network))
    }

    /// Highest index, i.e. the last address (IPv4 broadcast).
    pub fn last_index(&self) -> u128 {
        self.host_mask()
    }
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn from_u128(value: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4((value as u32).into())
    } else {
        IpAddr::V6(value.into())
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || CidrError::Malformed {
            text: text.to_string(),
        };
        let (addr, prefix) = text.trim().split_once('/').ok_or_else(malformed)?;
        let network: IpAddr = addr.parse().map_err(|_| malformed())?;
        let prefix: u8 = prefix.parse().map_err(|_| malformed())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(CidrError::PrefixTooLong {
                text: text.to_string(),
                prefix,
                max,
            });
        }
        let candidate = Cidr { network, prefix };
        let masked = from_u128(to_u128(network) & !candidate.host_mask(), network.is_ipv4());
        if masked != network {
            return Err(CidrError::HostBitsSet {
                text: text.to_string(),
                network: format!("{masked}/{prefix}"),
            });
        }
        Ok(candidate)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_indexes_ipv4_and_ipv6() {
        let v4: Cidr = "10.8.0.0/24".parse().unwrap();
        assert_eq!(v4.nth(1), Some("10.8.0.1".parse().unwrap()));
        assert_eq!(v4.nth(255), Some("10.8.0.255".parse().unwrap()));
        assert_eq!(v4.nth(256), None);
        assert!(v4.contains("10.8.0.77".parse().unwrap()));
        assert!(!v4.contains("10.8.1.0".parse().unwrap()));
        assert_eq!(v4.index_of("10.8.0.9".parse().unwrap()), Some(9));
        let v6: Cidr = "fd00:8::/64".parse().unwrap();
        assert_eq!(v6.nth(2), Some("fd00:8::2".parse().unwrap()));
        assert_eq!(v6.last_index(), u128::from(u64::MAX));
        assert!(!v6.contains("10.8.0.1".parse().unwrap()));
        assert_eq!(v6.to_string(), "fd00:8::/64");
        let all: Cidr = "::/0".parse().unwrap();
        assert_eq!(all.last_index(), u128::MAX);
    }

    #[test]
    fn refuses_bad_text() {
        assert!(matches!(
            "10.8.0.0".parse::<Cidr>(),
            Err(CidrError::Malformed { .. })
        ));
        assert!(matches!(
            "10.8.0.0/33".parse::<Cidr>(),
            Err(CidrError::PrefixTooLong { .. })
        ));
        assert_eq!(
            "10.8.0.5/24".parse::<Cidr>(),
            Err(CidrError::HostBitsSet {
                text: "10.8.0.5/24".into(),
                network: "10.8.0.0/24".into()
            })
        );
    }
}
