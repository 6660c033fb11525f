//! What a certificate holder may do: the role the centre writes into every certificate it issues, and how servers read it back (the one place this encoding is decided).
//!
//! Encoding: exactly one subject OU (organizationalUnitName) holding the role's name, e.g.
//! `CN=<uuid>, OU=validator`. An OU rather than a private extension because Fabric's NodeOUs put
//! roles in the same place (so operators already look there), `openssl x509 -subject` shows it,
//! and every X.509 parser reads it without custom ASN.1. Only the CA writes it: a CSR's subject is
//! never copied. The role of an enrolled device comes from its `node_type` on the ledger at
//! enrolment; `service` is given only by `vpn-centre cert issue-service`.
//!
//! Fail closed: a certificate with no OU, several, or an unknown value has no role
//! ([`Role::of_certificate`] is `None`), so certificates issued before roles existed carry no
//! authority beyond what the registry grants their UUID.

use device_record::NodeType;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::parse_x509_certificate;

/// The role a certificate grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A registered Gateway: sends its own telemetry, reads its own recent readings.
    Gateway,
    /// A registered Validator: stores telemetry in the sink, submits warnings to the centre.
    Validator,
    /// A registered Administrator (an operator's device): reads telemetry and warnings.
    Administrator,
    /// A service that is not a device (sink, centre, dashboard, operator tools): reads
    /// telemetry and warnings, and may serve.
    Service,
}

impl Role {
    /// The OU value written for this role.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Gateway => "gateway",
            Role::Validator => "validator",
            Role::Administrator => "administrator",
            Role::Service => "service",
        }
    }

    /// The role an OU value names, if any.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Role::Gateway,
            Role::Validator,
            Role::Administrator,
            Role::Service,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }

    /// The role of a device registered with `node_type`.
    pub const fn of_node_type(node_type: NodeType) -> Self {
        match node_type {
            NodeType::Gateway => Role::Gateway,
            NodeType::Validator => Role::Validator,
            NodeType::Administrator => Role::Administrator,
        }
    }

    /// Operators and services may read every device's telemetry and the warnings.
    pub const fn reads_everything(self) -> bool {
        matches!(self, Role::Administrator | Role::Service)
    }

    /// The role a DER certificate carries; `None` when it carries none (or is not a certificate).
    pub fn of_certificate(der: &[u8]) -> Option<Self> {
        let (_, cert) = parse_x509_certificate(der).ok()?;
        let mut ous = cert.subject().iter_organizational_unit();
        let only = ous.next()?;
        if ous.next().is_some() {
            return None;
        }
        Role::parse(only.as_str().ok()?)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a verified client certificate names: its UUID and its role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertIdentity {
    /// Lowercase hyphenated UUID from the SAN `urn:uuid:`, else a subject CN that is a UUID.
    pub uuid: String,
    pub role: Option<Role>,
}

impl CertIdentity {
    /// The identity in a certificate the TLS layer has already verified; `None` when it names
    /// no UUID.
    pub fn from_der(der: &[u8]) -> Option<Self> {
        let (_, cert) = parse_x509_certificate(der).ok()?;
        let from_san = cert
            .subject_alternative_name()
            .ok()
            .flatten()
            .and_then(|san| {
                san.value.general_names.iter().find_map(|name| match name {
                    GeneralName::URI(uri) => uri
                        .strip_prefix("urn:uuid:")
                        .and_then(|u| device_record::normalise_uuid(u).ok()),
                    _ => None,
                })
            });
        let uuid = from_san.or_else(|| {
            cert.subject().iter_common_name().find_map(|cn| {
                cn.as_str()
                    .ok()
                    .and_then(|s| device_record::normalise_uuid(s).ok())
            })
        })?;
        Some(Self {
            uuid,
            role: Role::of_certificate(der),
        })
    }

    /// Whether this holder may read `device`'s telemetry: its own always, any with a reading role.
    pub fn may_read_device(&self, device: &str) -> bool {
        self.role.is_some_and(Role::reads_everything)
            || device_record::normalise_uuid(device).is_ok_and(|d| d == self.uuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair, SanType};

    /// (rcgen keeps one value per attribute type, so a certificate with two OUs cannot be made here.)
    fn cert(cn: &str, ous: &[&str], san_uuid: Option<&str>) -> Vec<u8> {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, cn);
        for ou in ous {
            params
                .distinguished_name
                .push(DnType::OrganizationalUnitName, *ou);
        }
        if let Some(u) = san_uuid {
            params
                .subject_alt_names
                .push(SanType::URI(format!("urn:uuid:{u}").try_into().unwrap()));
        }
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    const A: &str = "0b6f3c1e-4a5d-4e8f-9a0b-1c2d3e4f5a6b";
    const B: &str = "6f1c2a8e-3b4d-4c5e-8f9a-0b1c2d3e4f50";

    #[test]
    fn one_known_ou_is_the_role_and_anything_else_is_none() {
        for role in [
            Role::Gateway,
            Role::Validator,
            Role::Administrator,
            Role::Service,
        ] {
            assert_eq!(
                Role::of_certificate(&cert(A, &[role.as_str()], None)),
                Some(role)
            );
        }
        assert_eq!(Role::of_certificate(&cert(A, &[], None)), None);
        assert_eq!(Role::of_certificate(&cert(A, &["Service"], None)), None);
        assert_eq!(Role::of_certificate(b"not a certificate"), None);
    }

    #[test]
    fn the_urn_san_names_the_holder_before_the_cn() {
        let id = CertIdentity::from_der(&cert(A, &["gateway"], Some(&B.to_uppercase()))).unwrap();
        assert_eq!(
            id,
            CertIdentity {
                uuid: B.into(),
                role: Some(Role::Gateway)
            }
        );
        let id = CertIdentity::from_der(&cert(A, &[], None)).unwrap();
        assert_eq!((id.uuid.as_str(), id.role), (A, None));
        assert_eq!(
            CertIdentity::from_der(&cert("sink.example", &[], None)),
            None
        );
    }

    #[test]
    fn the_role_is_the_cas_choice_never_the_csrs() {
        use crate::{CertRole, CertificateAuthority, LeafKey, LeafRequest};
        let ca = CertificateAuthority::generate("Test CA", std::time::Duration::from_secs(3600), 0)
            .unwrap();
        let key = KeyPair::generate().unwrap();
        // The CSR asks for the service role; the CA writes the one it was told.
        let mut asked = CertificateParams::new(vec!["a.example".to_string()]).unwrap();
        asked
            .distinguished_name
            .push(DnType::OrganizationalUnitName, Role::Service.as_str());
        let request = LeafRequest {
            uuid: A.into(),
            role: CertRole::Client,
            virtual_ips: vec![],
            server_names: vec![],
            key: LeafKey::Csr(asked.serialize_request(&key).unwrap().pem().unwrap()),
            validity: std::time::Duration::from_secs(60),
            now: 1_700_000_000,
        };
        let gateway = ca.issue_with_role(&request, Role::Gateway).unwrap();
        assert_eq!(Role::of_certificate(&gateway.der), Some(Role::Gateway));
        assert_eq!(CertIdentity::from_der(&gateway.der).unwrap().uuid, A);
        let none = ca.issue(&request).unwrap();
        assert_eq!(Role::of_certificate(&none.der), None);
    }

    #[test]
    fn a_device_reads_itself_and_readers_read_everyone() {
        let gw = CertIdentity {
            uuid: A.into(),
            role: Some(Role::Gateway),
        };
        assert!(gw.may_read_device(A) && gw.may_read_device(&A.to_uppercase()));
        assert!(!gw.may_read_device(B) && !gw.may_read_device("junk"));
        let validator = CertIdentity {
            role: Some(Role::Validator),
            ..gw.clone()
        };
        assert!(!validator.may_read_device(B));
        for reader in [Role::Service, Role::Administrator] {
            let r = CertIdentity {
                role: Some(reader),
                ..gw.clone()
            };
            assert!(r.may_read_device(B));
        }
        let roleless = CertIdentity { role: None, ..gw };
        assert!(!roleless.may_read_device(B));
    }
}
