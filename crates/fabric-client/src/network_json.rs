//! `network.json`: what a client needs to reach the Fabric network (channel, peers, identities).
//!
//! Relative paths in the file are taken relative to the file's own directory. The format is
//! described in this crate's README.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::identity::{Identity, IdentityError, SigningIdentity};
use crate::signer::Signer;

/// Why `network.json` or something it names could not be used.
#[derive(Debug, Error)]
pub enum NetworkFileError {
    #[error("cannot read {path}: {source}; bring the network up (network.sh up) or pass --network")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid network description: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("organisation {name:?} is not in {path}; known: {known}")]
    UnknownOrg {
        name: String,
        path: PathBuf,
        known: String,
    },
    #[error("organisation {org} lists no peers in {path}")]
    NoPeer { org: String, path: PathBuf },
    #[error("identity {role:?} of {org} gives neither msp_dir nor both cert and key")]
    IncompleteIdentity { org: String, role: String },
    #[error("cannot read {what} {path}: {source}")]
    ReadFile {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("private key {path} is not PEM: {reason}")]
    KeyPem { path: PathBuf, reason: String },
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFile {
    pub channel: String,
    pub chaincode: String,
    pub organizations: Vec<Organization>,
    #[serde(default)]
    pub orderers: Vec<Node>,
    /// Directory relative paths are resolved against (not in the file).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// One peer organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    /// Short name used on command lines, e.g. `Org1`.
    pub name: String,
    pub msp_id: String,
    pub peers: Vec<Node>,
    pub admin: IdentityFiles,
    pub client: IdentityFiles,
}

/// A peer or orderer endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// `host:port` to dial.
    pub endpoint: String,
    /// PEM file of the CA that signed the node's TLS certificate.
    pub tls_root_cert: PathBuf,
    /// Name the node's TLS certificate is checked against.
    pub tls_host_name: String,
}

/// Where an identity's files are: an MSP folder, or a certificate and key file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityFiles {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msp_dir: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
}

impl NetworkFile {
    /// Reads and checks `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, NetworkFileError> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|source| NetworkFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Self::parse(&bytes, path, base)
    }

    /// Parses file contents; `origin` names the file in errors, `base_dir` anchors relative paths.
    pub fn parse(bytes: &[u8], origin: &Path, base_dir: PathBuf) -> Result<Self, NetworkFileError> {
        let parse_err = |reason: String| NetworkFileError::Parse {
            path: origin.to_path_buf(),
            reason,
        };
        let mut file: NetworkFile =
            serde_json::from_slice(bytes).map_err(|e| parse_err(e.to_string()))?;
        if file.channel.is_empty() || file.chaincode.is_empty() {
            return Err(parse_err("channel and chaincode must not be empty".into()));
        }
        if file.organizations.is_empty() {
            return Err(parse_err("no organizations listed".into()));
        }
        for org in &file.organizations {
            if org.peers.is_empty() {
                return Err(NetworkFileError::NoPeer {
                    org: org.name.clone(),
                    path: origin.to_path_buf(),
                });
            }
        }
        file.base_dir = base_dir;
        Ok(file)
    }

    /// A copy whose relative paths are resolved, to be saved in another directory (e.g. with
    /// one endpoint changed to try a fault).
    pub fn with_absolute_paths(&self) -> NetworkFile {
        let mut file = self.clone();
        for node in file
            .organizations
            .iter_mut()
            .flat_map(|o| o.peers.iter_mut())
            .chain(file.orderers.iter_mut())
        {
            node.tls_root_cert = self.resolve(&node.tls_root_cert);
        }
        for org in &mut file.organizations {
            for files in [&mut org.admin, &mut org.client] {
                for path in [&mut files.msp_dir, &mut files.cert, &mut files.key] {
                    *path = path.as_deref().map(|p| self.resolve(p));
                }
            }
        }
        file
    }

    /// The organisation called `name` (its short name or its MSP ID).
    pub fn organization(&self, name: &str) -> Result<&Organization, NetworkFileError> {
        self.organizations
            .iter()
            .find(|o| o.name == name || o.msp_id == name)
            .ok_or_else(|| NetworkFileError::UnknownOrg {
                name: name.to_string(),
                path: self.base_dir.join("network.json"),
                known: self
                    .organizations
                    .iter()
                    .map(|o| o.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// A path from the file, made absolute against the file's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    /// Reads a node's TLS root certificate.
    pub fn tls_root_pem(&self, node: &Node) -> Result<Vec<u8>, NetworkFileError> {
        let path = self.resolve(&node.tls_root_cert);
        fs::read(&path).map_err(|source| NetworkFileError::ReadFile {
            what: "TLS root certificate",
            path,
            source,
        })
    }

    /// Loads one of an organisation's identities (`role` names it in errors).
    pub fn signing_identity(
        &self,
        org: &Organization,
        role: &str,
        files: &IdentityFiles,
    ) -> Result<SigningIdentity, NetworkFileError> {
        match (&files.cert, &files.key, &files.msp_dir) {
            (Some(cert), Some(key), _) => {
                load_cert_and_key(&org.msp_id, &self.resolve(cert), &self.resolve(key))
            }
            (_, _, Some(dir)) => Ok(SigningIdentity::load_msp_dir(
                &org.msp_id,
                self.resolve(dir),
            )?),
            _ => Err(NetworkFileError::IncompleteIdentity {
                org: org.name.clone(),
                role: role.to_string(),
            }),
        }
    }
}

/// Pairs a PEM certificate file with a PEM private key file.
pub fn load_cert_and_key(
    msp_id: &str,
    cert: &Path,
    key: &Path,
) -> Result<SigningIdentity, NetworkFileError> {
    let read = |what, path: &Path| {
        fs::read(path).map_err(|source| NetworkFileError::ReadFile {
            what,
            path: path.to_path_buf(),
            source,
        })
    };
    let cert_pem = read("certificate", cert)?;
    let key_pem = read("private key", key)?;
    let block = pem::parse(&key_pem).map_err(|e| NetworkFileError::KeyPem {
        path: key.to_path_buf(),
        reason: e.to_string(),
    })?;
    let signer =
        Signer::from_private_key_der(block.contents()).map_err(|source| IdentityError::Key {
            path: key.to_path_buf(),
            source,
        })?;
    let identity = Identity::new(msp_id, cert_pem)?;
    Ok(SigningIdentity::new(identity, signer)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
      "channel": "sf2c", "chaincode": "device-registry",
      "organizations": [{
        "name": "Org1", "msp_id": "Org1MSP",
        "peers": [{"endpoint": "127.0.0.1:7051", "tls_root_cert": "org1/tlsca.pem",
                   "tls_host_name": "peer0.org1.example.com"}],
        "admin": {"msp_dir": "org1/admin/msp"},
        "client": {"cert": "/abs/cert.pem", "key": "org1/key.pem"}
      }],
      "orderers": [{"endpoint": "127.0.0.1:7050", "tls_root_cert": "orderer/tlsca.pem",
                    "tls_host_name": "orderer.example.com"}]
    }"#;

    #[test]
    fn parses_and_resolves_relative_paths_against_the_file() {
        let file = NetworkFile::parse(
            SAMPLE.as_bytes(),
            Path::new("run/network.json"),
            "run".into(),
        )
        .unwrap();
        let org = file.organization("Org1MSP").unwrap();
        assert_eq!(org.name, "Org1");
        assert_eq!(
            file.resolve(&org.peers[0].tls_root_cert),
            PathBuf::from("run/org1/tlsca.pem")
        );
        assert_eq!(
            file.resolve(org.client.cert.as_deref().unwrap()),
            PathBuf::from("/abs/cert.pem")
        );
        assert_eq!(file.orderers[0].tls_host_name, "orderer.example.com");
    }

    #[test]
    fn unknown_organisation_lists_the_known_ones() {
        let file = NetworkFile::parse(SAMPLE.as_bytes(), Path::new("n.json"), ".".into()).unwrap();
        let err = file.organization("Org3").unwrap_err();
        assert!(err.to_string().contains("known: Org1"), "{err}");
    }

    #[test]
    fn unknown_fields_and_missing_peers_are_refused() {
        let typo = SAMPLE.replace("\"chaincode\"", "\"chaincod\"");
        assert!(NetworkFile::parse(typo.as_bytes(), Path::new("n.json"), ".".into()).is_err());
        let no_peer = SAMPLE.replace(
            r#"[{"endpoint": "127.0.0.1:7051", "tls_root_cert": "org1/tlsca.pem",
                   "tls_host_name": "peer0.org1.example.com"}]"#,
            "[]",
        );
        assert_ne!(no_peer, SAMPLE);
        let err =
            NetworkFile::parse(no_peer.as_bytes(), Path::new("n.json"), ".".into()).unwrap_err();
        assert!(err.to_string().contains("no peers"), "{err}");
    }
}
