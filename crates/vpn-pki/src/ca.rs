//! The VPN Centre's certificate authority: an ECDSA P-256 key and self-signed certificate kept as PEM files, issuing device certificates.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, SanType, SerialNumber, SubjectPublicKeyInfo,
};
use rustls::pki_types::CertificateDer;
use time::OffsetDateTime;

use crate::role::Role;
use crate::tokens::to_hex;

pub const CA_CERT_FILE: &str = "ca.cert.pem";
pub const CA_KEY_FILE: &str = "ca.key.pem";
/// Leaf certificates start slightly in the past so a peer whose clock lags still accepts them.
const BACKDATE: i64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("CA key {path} is readable by other users (mode {mode:03o}); run `chmod 600 {path}`")]
    KeyPermissions { path: PathBuf, mode: u32 },
    #[error(
        "only one of {cert} and {key} exists; restore the missing file or remove both to create a new CA"
    )]
    HalfPresent { cert: PathBuf, key: PathBuf },
    #[error("CA files in {dir} are unusable: {source}")]
    BadCaFiles { dir: PathBuf, source: rcgen::Error },
    #[error(
        "invalid certificate signing request: {0}; send a PEM CSR signed by the key to certify"
    )]
    BadCsr(rcgen::Error),
    #[error(
        "invalid public key: {0}; send a PEM SubjectPublicKeyInfo (ECDSA P-256/P-384, Ed25519 or RSA)"
    )]
    BadPublicKey(rcgen::Error),
    #[error("invalid server name {name:?}: {source}")]
    BadServerName { name: String, source: rcgen::Error },
    #[error("validity {seconds}s is out of range (1 second to 100 years)")]
    BadValidity { seconds: u64 },
    #[error("cannot generate randomness for a serial number")]
    Random,
    #[error("cannot sign certificate for {subject}: {source}")]
    Sign {
        subject: String,
        source: rcgen::Error,
    },
}

/// What a certificate may be used for in TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertRole {
    /// Gateways and administrators: connect to validators and the sink.
    Client,
    /// A server that only answers (not used for devices today).
    Server,
    /// Validators and the cloud sink: serve clients and connect onwards.
    ClientAndServer,
}

impl CertRole {
    fn is_server(self) -> bool {
        matches!(self, CertRole::Server | CertRole::ClientAndServer)
    }

    fn is_client(self) -> bool {
        matches!(self, CertRole::Client | CertRole::ClientAndServer)
    }
}

/// The key to certify, as the subject sent it.
#[derive(Debug, Clone)]
pub enum LeafKey {
    /// PEM CSR; its signature proves possession of the key. Its subject and extensions are ignored:
    /// the CA decides names from the registry.
    Csr(String),
    /// PEM SubjectPublicKeyInfo.
    PublicKey(String),
}

/// Everything that goes into one leaf certificate.
#[derive(Debug, Clone)]
pub struct LeafRequest {
    /// Canonical device UUID: subject CN and SAN `urn:uuid:<uuid>`.
    pub uuid: String,
    pub role: CertRole,
    /// Virtual IPs, written as IP SANs.
    pub virtual_ips: Vec<IpAddr>,
    /// Extra DNS names or IPs for server roles (e.g. `localhost`, `127.0.0.1`); ignored for clients.
    pub server_names: Vec<String>,
    pub key: LeafKey,
    pub validity: Duration,
    /// Unix seconds.
    pub now: i64,
}

#[derive(Debug, Clone)]
pub struct IssuedCert {
    pub pem: String,
    pub der: CertificateDer<'static>,
    /// Lowercase hex of the serial's bytes (128 random bits).
    pub serial_hex: String,
    pub not_after: i64,
}

pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Loads the CA from `dir`, or creates one there (key file mode 0600) if neither file exists.
    pub fn load_or_create(
        dir: &Path,
        common_name: &str,
        validity: Duration,
        now: i64,
    ) -> Result<Self, CaError> {
        let (cert_path, key_path) = (dir.join(CA_CERT_FILE), dir.join(CA_KEY_FILE));
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => Self::load(dir),
            (false, false) => {
                let ca = Self::generate(common_name, validity, now)?;
                fs::create_dir_all(dir).map_err(|source| CaError::Io {
                    action: "create directory",
                    path: dir.to_path_buf(),
                    source,
                })?;
                write_private(&key_path, &ca.issuer.key().serialize_pem())?;
                fs::write(&cert_path, &ca.cert_pem).map_err(|source| CaError::Io {
                    action: "write",
                    path: cert_path.clone(),
                    source,
                })?;
                Ok(ca)
            }
            _ => Err(CaError::HalfPresent {
                cert: cert_path,
                key: key_path,
            }),
        }
    }

    /// Loads an existing CA; refuses a key file other users can read.
    pub fn load(dir: &Path) -> Result<Self, CaError> {
        let (cert_path, key_path) = (dir.join(CA_CERT_FILE), dir.join(CA_KEY_FILE));
        let read = |path: &Path| {
            fs::read_to_string(path).map_err(|source| CaError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            })
        };
        let meta = fs::metadata(&key_path).map_err(|source| CaError::Io {
            action: "stat",
            path: key_path.clone(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(CaError::KeyPermissions {
                path: key_path,
                mode,
            });
        }
        let bad = |source| CaError::BadCaFiles {
            dir: dir.to_path_buf(),
            source,
        };
        let key = KeyPair::from_pem(&read(&key_path)?).map_err(bad)?;
        Self::from_pem(&read(&cert_path)?, key).map_err(bad)
    }

    /// A fresh CA held only in memory (tests, or callers that persist it themselves).
    pub fn generate(common_name: &str, validity: Duration, now: i64) -> Result<Self, CaError> {
        let key =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|source| CaError::Sign {
                subject: common_name.to_string(),
                source,
            })?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "SF2C-BC");
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.serial_number = Some(random_serial()?.0);
        params.not_before = at(now - BACKDATE);
        params.not_after = at(now + validity_secs(validity)?);
        let cert = params.self_signed(&key).map_err(|source| CaError::Sign {
            subject: common_name.to_string(),
            source,
        })?;
        Ok(CertificateAuthority {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    fn from_pem(cert_pem: &str, key: KeyPair) -> Result<Self, rcgen::Error> {
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        let der = rustls::pki_types::pem::PemObject::from_pem_slice(cert_pem.as_bytes())
            .map_err(|_| rcgen::Error::CouldNotParseCertificate)?;
        Ok(CertificateAuthority {
            issuer,
            cert_pem: cert_pem.to_string(),
            cert_der: der,
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    pub(crate) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }

    /// Issues a leaf certificate binding the device UUID and its virtual IPs to the given key,
    /// with no [`Role`]: its holder has no authority beyond what the registry grants its UUID.
    pub fn issue(&self, req: &LeafRequest) -> Result<IssuedCert, CaError> {
        self.issue_leaf(req, None)
    }

    /// Like [`issue`](Self::issue), granting `role` (written as the subject OU, see [`crate::role`]).
    pub fn issue_with_role(&self, req: &LeafRequest, role: Role) -> Result<IssuedCert, CaError> {
        self.issue_leaf(req, Some(role))
    }

    fn issue_leaf(&self, req: &LeafRequest, role: Option<Role>) -> Result<IssuedCert, CaError> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, req.uuid.as_str());
        if let Some(role) = role {
            dn.push(DnType::OrganizationalUnitName, role.as_str());
        }
        params.distinguished_name = dn;
        let urn = format!("urn:uuid:{}", req.uuid);
        let urn = urn
            .clone()
            .try_into()
            .map_err(|source| CaError::BadServerName { name: urn, source })?;
        params.subject_alt_names.push(SanType::URI(urn));
        params
            .subject_alt_names
            .extend(req.virtual_ips.iter().map(|ip| SanType::IpAddress(*ip)));
        if req.role.is_server() {
            for name in &req.server_names {
                let san = match name.parse::<IpAddr>() {
                    Ok(ip) => SanType::IpAddress(ip),
                    Err(_) => SanType::DnsName(name.clone().try_into().map_err(|source| {
                        CaError::BadServerName {
                            name: name.clone(),
                            source,
                        }
                    })?),
                };
                if !params.subject_alt_names.contains(&san) {
                    params.subject_alt_names.push(san);
                }
            }
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
        }
        if req.role.is_client() {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ClientAuth);
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let (serial, serial_hex) = random_serial()?;
        params.serial_number = Some(serial);
        let not_after = req.now + validity_secs(req.validity)?;
        params.not_before = at(req.now - BACKDATE);
        params.not_after = at(not_after);
        let sign_err = |source| CaError::Sign {
            subject: req.uuid.clone(),
            source,
        };
        let cert = match &req.key {
            LeafKey::Csr(pem) => {
                let csr =
                    CertificateSigningRequestParams::from_pem(pem).map_err(CaError::BadCsr)?;
                params.signed_by(&csr.public_key, &self.issuer)
            }
            LeafKey::PublicKey(pem) => {
                let spki = SubjectPublicKeyInfo::from_pem(pem).map_err(CaError::BadPublicKey)?;
                params.signed_by(&spki, &self.issuer)
            }
        }
        .map_err(sign_err)?;
        Ok(IssuedCert {
            pem: cert.pem(),
            der: cert.der().clone(),
            serial_hex,
            not_after,
        })
    }
}

fn validity_secs(validity: Duration) -> Result<i64, CaError> {
    let seconds = validity.as_secs();
    if seconds == 0 || seconds > 100 * 365 * 24 * 3600 {
        return Err(CaError::BadValidity { seconds });
    }
    Ok(seconds as i64)
}

/// Unix seconds to rcgen's date; out-of-range values clamp to the epoch (validity is bounded above).
pub(crate) fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn random_serial() -> Result<(SerialNumber, String), CaError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| CaError::Random)?;
    Ok((SerialNumber::from_slice(&bytes), to_hex(&bytes)))
}

fn write_private(path: &Path, contents: &str) -> Result<(), CaError> {
    let io = |action, source| CaError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io("create", e))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io("write", e))
}

#[cfg(test)]
mod tests;
