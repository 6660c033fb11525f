//! Fabric client identities: an MSP ID plus X.509 certificate, loaded from an MSP folder with its signing key.

use std::fs;
use std::path::{Path, PathBuf};

use prost::Message;
use sf2c_protos::msp::SerializedIdentity;
use thiserror::Error;

use crate::signer::{SignError, Signer};

/// Why an identity or MSP folder could not be loaded.
#[derive(Debug, Error)]
pub enum IdentityError {
    #[error("MSP ID is empty; pass the organisation's MSP ID (e.g. Org1MSP)")]
    EmptyMspId,
    #[error("cannot read {path}: {source}; check the MSP folder path and permissions")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no *.pem certificate in {dir}; an MSP folder holds its certificate in signcerts/")]
    NoCertificate { dir: PathBuf },
    #[error("{dir} holds {count} *.pem files; keep exactly one signing certificate there")]
    SeveralCertificates { dir: PathBuf, count: usize },
    #[error("{origin} is not PEM: {reason}")]
    BadPem { origin: String, reason: String },
    #[error("{origin} holds a PEM \"{label}\" block, expected \"CERTIFICATE\"")]
    NotCertificate { origin: String, label: String },
    #[error("{origin} is not a parseable X.509 certificate: {reason}")]
    BadCertificate { origin: String, reason: String },
    #[error("no private key in {dir}; expected keystore/*_sk or a PEM \"PRIVATE KEY\" file")]
    NoPrivateKey { dir: PathBuf },
    #[error("private key {path}: {source}")]
    Key { path: PathBuf, source: SignError },
    #[error(
        "no private key in {dir} matches the public key of {cert}; the keystore belongs to another certificate"
    )]
    KeyMismatch { cert: String, dir: PathBuf },
    #[error("the private key given for {msp_id} is not the key of its certificate")]
    KeyNotForCertificate { msp_id: String },
}

/// Who is acting, as Fabric sees it: MSP ID and PEM certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    msp_id: String,
    cert_pem: Vec<u8>,
    public_key: Vec<u8>,
}

impl Identity {
    /// Builds an identity from an MSP ID and a PEM certificate, checking that both are usable.
    pub fn new(
        msp_id: impl Into<String>,
        cert_pem: impl Into<Vec<u8>>,
    ) -> Result<Self, IdentityError> {
        Self::parse(msp_id.into(), cert_pem.into(), "certificate")
    }

    fn parse(msp_id: String, cert_pem: Vec<u8>, origin: &str) -> Result<Self, IdentityError> {
        if msp_id.trim().is_empty() {
            return Err(IdentityError::EmptyMspId);
        }
        let block = pem::parse(&cert_pem).map_err(|e| IdentityError::BadPem {
            origin: origin.to_string(),
            reason: e.to_string(),
        })?;
        if block.tag() != "CERTIFICATE" {
            return Err(IdentityError::NotCertificate {
                origin: origin.to_string(),
                label: block.tag().to_string(),
            });
        }
        let (_, cert) = x509_parser::parse_x509_certificate(block.contents()).map_err(|e| {
            IdentityError::BadCertificate {
                origin: origin.to_string(),
                reason: e.to_string(),
            }
        })?;
        let public_key = cert.public_key().subject_public_key.data.to_vec();
        Ok(Self {
            msp_id,
            cert_pem,
            public_key,
        })
    }

    pub fn msp_id(&self) -> &str {
        &self.msp_id
    }

    /// The certificate exactly as given (Fabric compares these bytes).
    pub fn cert_pem(&self) -> &[u8] {
        &self.cert_pem
    }

    /// Subject public key from the certificate (for EC keys the uncompressed point).
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// Encoded `msp.SerializedIdentity`: the creator bytes in headers and requests.
    pub fn serialize(&self) -> Vec<u8> {
        SerializedIdentity {
            mspid: self.msp_id.clone(),
            id_bytes: self.cert_pem.clone(),
        }
        .encode_to_vec()
    }
}

/// An identity together with the private key of its certificate.
#[derive(Debug)]
pub struct SigningIdentity {
    identity: Identity,
    signer: Signer,
}

impl SigningIdentity {
    /// Pairs an identity with its key; fails when the key is not the certificate's.
    pub fn new(identity: Identity, signer: Signer) -> Result<Self, IdentityError> {
        if identity.public_key() != signer.public_key() {
            return Err(IdentityError::KeyNotForCertificate {
                msp_id: identity.msp_id.clone(),
            });
        }
        Ok(Self { identity, signer })
    }

    /// Loads `<dir>/signcerts/*.pem` and the matching key in `<dir>/keystore/`.
    ///
    /// Key files are those named `*_sk` (cryptogen, Fabric CA) or holding a PEM
    /// `PRIVATE KEY` / `EC PRIVATE KEY` block; when several exist, the one
    /// whose public key is the certificate's is used (Fabric CA keeps old keys
    /// after re-enrolment).
    pub fn load_msp_dir(msp_id: &str, dir: impl AsRef<Path>) -> Result<Self, IdentityError> {
        let dir = dir.as_ref();
        let cert_path = single_certificate(&dir.join("signcerts"))?;
        let cert_pem = read(&cert_path)?;
        let origin = cert_path.display().to_string();
        let identity = Identity::parse(msp_id.to_string(), cert_pem, &origin)?;

        let keystore = dir.join("keystore");
        let mut candidates = 0usize;
        let mut last_error = None;
        for path in sorted_files(&keystore)? {
            let Some(der) = key_der(&path)? else { continue };
            candidates += 1;
            match Signer::from_private_key_der(&der) {
                Ok(signer) if signer.public_key() == identity.public_key() => {
                    return Ok(Self { identity, signer });
                }
                Ok(_) => {}
                Err(source) => last_error = Some(IdentityError::Key { path, source }),
            }
        }
        match (candidates, last_error) {
            (0, _) => Err(IdentityError::NoPrivateKey { dir: keystore }),
            (1, Some(err)) => Err(err),
            _ => Err(IdentityError::KeyMismatch {
                cert: origin,
                dir: keystore,
            }),
        }
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Signs `message` with the identity's key (low-S DER).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.signer.sign(message)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, IdentityError> {
    fs::read(path).map_err(|source| IdentityError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn sorted_files(dir: &Path) -> Result<Vec<PathBuf>, IdentityError> {
    let entries = fs::read_dir(dir).map_err(|source| IdentityError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| IdentityError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn single_certificate(dir: &Path) -> Result<PathBuf, IdentityError> {
    let pems: Vec<PathBuf> = sorted_files(dir)?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pem"))
        .collect();
    match pems.as_slice() {
        [] => Err(IdentityError::NoCertificate {
            dir: dir.to_path_buf(),
        }),
        [one] => Ok(one.clone()),
        more => Err(IdentityError::SeveralCertificates {
            dir: dir.to_path_buf(),
            count: more.len(),
        }),
    }
}

/// The DER of a key file, or None when the file is not a key at all.
fn key_der(path: &Path) -> Result<Option<Vec<u8>>, IdentityError> {
    let named_key = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with("_sk"));
    let bytes = read(path)?;
    match pem::parse(&bytes) {
        Ok(block) if matches!(block.tag(), "PRIVATE KEY" | "EC PRIVATE KEY") => {
            Ok(Some(block.into_contents()))
        }
        Ok(block) if named_key => Err(IdentityError::BadPem {
            origin: path.display().to_string(),
            reason: format!(
                "holds a \"{}\" block, expected \"PRIVATE KEY\"",
                block.tag()
            ),
        }),
        Err(e) if named_key => Err(IdentityError::BadPem {
            origin: path.display().to_string(),
            reason: e.to_string(),
        }),
        _ => Ok(None),
    }
}
