//! Who sent a request (the gateway or service calling over TLS): its address and what its client certificate names.

use std::net::SocketAddr;

use rustls::pki_types::CertificateDer;
use uuid::Uuid;
use vpn_pki::{CertIdentity, Role};

/// The sender of a request, attached to every request by [`crate::server::serve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub addr: SocketAddr,
    pub identity: CallerIdentity,
}

/// What the connection's client certificate says about the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerIdentity {
    /// No client certificate was asked for (`client_auth = false`, or the plain ops listener).
    Anonymous,
    /// A verified certificate naming this device UUID (SAN `urn:uuid:` or, failing that, the CN)
    /// and the role the centre wrote into it (`None` for certificates without one).
    Device { uuid: Uuid, role: Option<Role> },
    /// A verified certificate that names no device UUID.
    Unnamed,
}

impl Caller {
    /// A sender with no client certificate.
    pub fn anonymous(addr: SocketAddr) -> Self {
        Self {
            addr,
            identity: CallerIdentity::Anonymous,
        }
    }

    /// The device the certificate names, if any: the only name a warning may blame.
    pub fn device(&self) -> Option<Uuid> {
        match self.identity {
            CallerIdentity::Device { uuid, .. } => Some(uuid),
            _ => None,
        }
    }
}

impl CallerIdentity {
    /// The identity of a verified client certificate chain (end entity first); `Anonymous` when there is none.
    pub fn from_chain(chain: Option<&[CertificateDer<'_>]>) -> Self {
        match chain.and_then(|c| c.first()) {
            None => CallerIdentity::Anonymous,
            Some(cert) => CertIdentity::from_der(cert.as_ref())
                .and_then(|id| {
                    Some(CallerIdentity::Device {
                        uuid: Uuid::parse_str(&id.uuid).ok()?,
                        role: id.role,
                    })
                })
                .unwrap_or(CallerIdentity::Unnamed),
        }
    }

    /// Whether this sender may read `device`'s recent readings: a device only its own, operators
    /// and services any; anyone when no certificate is asked for (`client_auth = false`).
    pub fn may_read(&self, device: &str) -> bool {
        match *self {
            CallerIdentity::Anonymous => true,
            CallerIdentity::Unnamed => false,
            CallerIdentity::Device { uuid, role } => CertIdentity {
                uuid: uuid.hyphenated().to_string(),
                role,
            }
            .may_read_device(device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(cn: &str, ou: Option<&str>, sans: Vec<rcgen::SanType>) -> CertificateDer<'static> {
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        if let Some(ou) = ou {
            params
                .distinguished_name
                .push(rcgen::DnType::OrganizationalUnitName, ou);
        }
        params.subject_alt_names = sans;
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    fn identity(der: &CertificateDer<'_>) -> CallerIdentity {
        CallerIdentity::from_chain(Some(std::slice::from_ref(der)))
    }

    #[test]
    fn the_urn_san_names_the_device_before_the_cn_and_the_ou_is_the_role() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let uri = format!("urn:uuid:{b}").try_into().unwrap();
        let der = cert(
            &a.to_string(),
            Some("gateway"),
            vec![rcgen::SanType::URI(uri)],
        );
        assert_eq!(
            identity(&der),
            CallerIdentity::Device {
                uuid: b,
                role: Some(Role::Gateway)
            }
        );
        let dns = "gw.example".to_string().try_into().unwrap();
        let der = cert(&a.to_string(), None, vec![rcgen::SanType::DnsName(dns)]);
        assert_eq!(
            identity(&der),
            CallerIdentity::Device {
                uuid: a,
                role: None
            }
        );
    }

    #[test]
    fn a_certificate_without_a_uuid_is_unnamed_and_no_certificate_is_anonymous() {
        let der = cert("validator.example", Some("service"), vec![]);
        assert_eq!(identity(&der), CallerIdentity::Unnamed);
        assert_eq!(CallerIdentity::from_chain(None), CallerIdentity::Anonymous);
        assert_eq!(
            CallerIdentity::from_chain(Some(&[])),
            CallerIdentity::Anonymous
        );
    }

    #[test]
    fn a_device_reads_only_itself_and_services_read_anyone() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let gateway = CallerIdentity::Device {
            uuid: a,
            role: Some(Role::Gateway),
        };
        assert!(gateway.may_read(&a.to_string()));
        assert!(!gateway.may_read(&b.to_string()));
        let service = CallerIdentity::Device {
            uuid: a,
            role: Some(Role::Service),
        };
        assert!(service.may_read(&b.to_string()));
        assert!(!CallerIdentity::Unnamed.may_read(&b.to_string()));
        assert!(CallerIdentity::Anonymous.may_read(&b.to_string()));
    }
}
