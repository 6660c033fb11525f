//! Who sent a request: the client's address and the device its TLS client certificate names.

use std::net::SocketAddr;

use rustls::pki_types::CertificateDer;
use uuid::Uuid;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The sender of a request, attached to every request by [`crate::server::serve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub addr: SocketAddr,
    pub identity: PeerIdentity,
}

/// What the connection's client certificate says about the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerIdentity {
    /// No client certificate was asked for (`client_auth = false`, or the plain ops listener).
    Anonymous,
    /// A verified certificate naming this device UUID (SAN `urn:uuid:` or, failing that, the CN).
    Device(Uuid),
    /// A verified certificate that names no device UUID.
    Unnamed,
}

impl Peer {
    /// A sender with no client certificate.
    pub fn anonymous(addr: SocketAddr) -> Self {
        Self {
            addr,
            identity: PeerIdentity::Anonymous,
        }
    }

    /// The device the certificate names, if any.
    pub fn device(&self) -> Option<Uuid> {
        match self.identity {
            PeerIdentity::Device(uuid) => Some(uuid),
            _ => None,
        }
    }
}

impl PeerIdentity {
    /// The identity of a verified client certificate chain (end entity first); `Anonymous` when there is none.
    pub fn from_chain(chain: Option<&[CertificateDer<'_>]>) -> Self {
        match chain.and_then(|c| c.first()) {
            None => PeerIdentity::Anonymous,
            Some(cert) => device_of(cert).map_or(PeerIdentity::Unnamed, PeerIdentity::Device),
        }
    }
}

/// The device UUID a certificate names: its `urn:uuid:` SAN, else a subject CN that is a UUID.
pub fn device_of(cert: &CertificateDer<'_>) -> Option<Uuid> {
    let (_, cert) = X509Certificate::from_der(cert.as_ref()).ok()?;
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        let from_san = san.value.general_names.iter().find_map(|name| match name {
            GeneralName::URI(uri) => uri
                .strip_prefix("urn:uuid:")
                .and_then(|u| Uuid::parse_str(u).ok()),
            _ => None,
        });
        if from_san.is_some() {
            return from_san;
        }
    }
    cert.subject()
        .iter_common_name()
        .find_map(|cn| cn.as_str().ok().and_then(|s| Uuid::parse_str(s).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(cn: &str, sans: Vec<rcgen::SanType>) -> CertificateDer<'static> {
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.subject_alt_names = sans;
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn the_urn_san_names_the_device_before_the_cn() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let uri = format!("urn:uuid:{b}").try_into().unwrap();
        let der = cert(&a.to_string(), vec![rcgen::SanType::URI(uri)]);
        assert_eq!(device_of(&der), Some(b));
        assert_eq!(
            PeerIdentity::from_chain(Some(std::slice::from_ref(&der))),
            PeerIdentity::Device(b)
        );
    }

    #[test]
    fn a_uuid_cn_counts_when_there_is_no_urn_san() {
        let a = Uuid::new_v4();
        let dns = "gw.example".to_string().try_into().unwrap();
        assert_eq!(
            device_of(&cert(&a.to_string(), vec![rcgen::SanType::DnsName(dns)])),
            Some(a)
        );
    }

    #[test]
    fn a_certificate_without_a_uuid_is_unnamed_and_no_certificate_is_anonymous() {
        let der = cert("validator.example", vec![]);
        assert_eq!(device_of(&der), None);
        assert_eq!(
            PeerIdentity::from_chain(Some(std::slice::from_ref(&der))),
            PeerIdentity::Unnamed
        );
        assert_eq!(PeerIdentity::from_chain(None), PeerIdentity::Anonymous);
        assert_eq!(PeerIdentity::from_chain(Some(&[])), PeerIdentity::Anonymous);
    }
}
