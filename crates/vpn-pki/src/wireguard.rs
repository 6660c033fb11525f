//! WireGuard configuration for an enrolled device: its virtual addresses, and the hub as its only peer.
//!
//! The centre never holds a device's WireGuard private key: the device generates it (`wg genkey`)
//! and either passes it to [`render_config`] locally or replaces the placeholder line. The hub's
//! side of the tunnel is rendered by [`render_hub_peer`] from the device's WireGuard public key.

use std::fmt::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::cidr::Cidr;
use crate::ip_pool::IpLease;

/// Written where the device's private key goes when none is supplied.
pub const PRIVATE_KEY_PLACEHOLDER: &str = "<device private key: run `wg genkey` on the device>";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireGuardError {
    #[error("{what} {key:?} is not a WireGuard key: expected 32 bytes in base64 (44 characters)")]
    BadKey { what: &'static str, key: String },
    #[error("hub endpoint {endpoint:?} must be HOST:PORT")]
    BadEndpoint { endpoint: String },
    #[error("device {uuid} has no virtual address to put in the tunnel")]
    NoAddress { uuid: String },
}

/// The VPN hub as seen by devices.
#[derive(Debug, Clone)]
pub struct HubPeer {
    /// Base64 X25519 public key of the hub.
    pub public_key: String,
    /// `host:port` devices connect to.
    pub endpoint: String,
    /// Seconds between keepalives; keeps NAT mappings of devices behind routers open.
    pub persistent_keepalive: Option<u16>,
}

fn check_key(what: &'static str, key: &str) -> Result<(), WireGuardError> {
    match STANDARD.decode(key.trim()) {
        Ok(bytes) if bytes.len() == 32 => Ok(()),
        _ => Err(WireGuardError::BadKey {
            what,
            key: key.to_string(),
        }),
    }
}

/// Device-side `wg-quick` configuration. `networks` are the virtual networks routed through the hub.
pub fn render_config(
    lease: &IpLease,
    networks: &[Cidr],
    hub: &HubPeer,
    private_key: Option<&str>,
) -> Result<String, WireGuardError> {
    check_key("hub public key", &hub.public_key)?;
    if let Some(key) = private_key {
        check_key("device private key", key)?;
    }
    let port_ok = hub
        .endpoint
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0));
    if !port_ok {
        return Err(WireGuardError::BadEndpoint {
            endpoint: hub.endpoint.clone(),
        });
    }
    let mut addresses = Vec::new();
    if let Some(v4) = lease.v4 {
        addresses.push(format!("{v4}/32"));
    }
    if let Some(v6) = lease.v6 {
        addresses.push(format!("{v6}/128"));
    }
    if addresses.is_empty() {
        return Err(WireGuardError::NoAddress {
            uuid: lease.device_uuid.clone(),
        });
    }
    let allowed: Vec<String> = networks.iter().map(Cidr::to_string).collect();
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# SF2C-BC device {}", lease.device_uuid);
    let _ = writeln!(out, "[Interface]");
    let _ = writeln!(out, "Address = {}", addresses.join(", "));
    let _ = writeln!(
        out,
        "PrivateKey = {}",
        private_key
            .map(str::trim)
            .unwrap_or(PRIVATE_KEY_PLACEHOLDER)
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "[Peer]");
    let _ = writeln!(out, "PublicKey = {}", hub.public_key.trim());
    let _ = writeln!(out, "Endpoint = {}", hub.endpoint);
    let _ = writeln!(out, "AllowedIPs = {}", allowed.join(", "));
    if let Some(keepalive) = hub.persistent_keepalive {
        let _ = writeln!(out, "PersistentKeepalive = {keepalive}");
    }
    Ok(out)
}

/// Hub-side `[Peer]` section for one device: only its own addresses are accepted from it.
pub fn render_hub_peer(lease: &IpLease, device_public_key: &str) -> Result<String, WireGuardError> {
    check_key("device public key", device_public_key)?;
    let mut allowed = Vec::new();
    if let Some(v4) = lease.v4 {
        allowed.push(format!("{v4}/32"));
    }
    if let Some(v6) = lease.v6 {
        allowed.push(format!("{v6}/128"));
    }
    if allowed.is_empty() {
        return Err(WireGuardError::NoAddress {
            uuid: lease.device_uuid.clone(),
        });
    }
    Ok(format!(
        "# SF2C-BC device {}\n[Peer]\nPublicKey = {}\nAllowedIPs = {}\n",
        lease.device_uuid,
        device_public_key.trim(),
        allowed.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    fn lease() -> IpLease {
        IpLease {
            device_uuid: "0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b".into(),
            v4: Some("10.8.0.7".parse().unwrap()),
            v6: Some("fd00:8::7".parse().unwrap()),
        }
    }

    fn hub() -> HubPeer {
        HubPeer {
            public_key: key(1),
            endpoint: "vpn.example.org:51820".into(),
            persistent_keepalive: Some(25),
        }
    }

    fn value<'a>(config: &'a str, field: &str) -> Vec<&'a str> {
        config
            .lines()
            .filter_map(|l| l.strip_prefix(field)?.strip_prefix(" = "))
            .collect()
    }

    #[test]
    fn renders_addresses_hub_and_networks() {
        let nets: Vec<Cidr> = vec![
            "10.8.0.0/24".parse().unwrap(),
            "fd00:8::/64".parse().unwrap(),
        ];
        let text = render_config(&lease(), &nets, &hub(), None).unwrap();
        assert_eq!(value(&text, "Address"), vec!["10.8.0.7/32, fd00:8::7/128"]);
        assert_eq!(value(&text, "PrivateKey"), vec![PRIVATE_KEY_PLACEHOLDER]);
        assert_eq!(value(&text, "PublicKey"), vec![key(1).as_str()]);
        assert_eq!(value(&text, "Endpoint"), vec!["vpn.example.org:51820"]);
        assert_eq!(value(&text, "AllowedIPs"), vec!["10.8.0.0/24, fd00:8::/64"]);
        assert_eq!(value(&text, "PersistentKeepalive"), vec!["25"]);
        assert!(text.find("[Interface]").unwrap() < text.find("[Peer]").unwrap());

        let own = key(9);
        let with_key = render_config(&lease(), &nets, &hub(), Some(&own)).unwrap();
        assert_eq!(value(&with_key, "PrivateKey"), vec![own.as_str()]);

        let peer = render_hub_peer(&lease(), &key(3)).unwrap();
        assert_eq!(
            value(&peer, "AllowedIPs"),
            vec!["10.8.0.7/32, fd00:8::7/128"]
        );
    }

    #[test]
    fn refuses_bad_keys_endpoint_and_empty_lease() {
        let nets: Vec<Cidr> = vec!["10.8.0.0/24".parse().unwrap()];
        let mut bad = hub();
        bad.public_key = STANDARD.encode([1u8; 31]);
        assert!(matches!(
            render_config(&lease(), &nets, &bad, None),
            Err(WireGuardError::BadKey { .. })
        ));
        let mut bad = hub();
        bad.endpoint = "vpn.example.org".into();
        assert!(matches!(
            render_config(&lease(), &nets, &bad, None),
            Err(WireGuardError::BadEndpoint { .. })
        ));
        let empty = IpLease {
            device_uuid: "x".into(),
            v4: None,
            v6: None,
        };
        assert!(matches!(
            render_config(&empty, &nets, &hub(), None),
            Err(WireGuardError::NoAddress { .. })
        ));
        assert!(render_hub_peer(&lease(), "short").is_err());
    }
}
