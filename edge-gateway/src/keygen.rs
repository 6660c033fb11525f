//! Device key generation and the enrolment file the registry administrator registers.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use signed_message::{Algorithm, KeyFamily, SigningKey};
use uuid::Uuid;

use crate::error::GatewayError;

/// File name of the private key inside the output directory.
pub const KEY_FILE: &str = "device.key";
/// File name of the enrolment request inside the output directory.
pub const ENROLMENT_FILE: &str = "enrolment.json";

/// What the registry needs to register this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    pub uuid: Uuid,
    /// Gateway, Validator or Administrator.
    pub node_type: String,
    /// SubjectPublicKeyInfo PEM.
    pub public_key: String,
    /// The registry's key algorithm name: RSA, Ed25519 or ECDSA-P256.
    pub key_algorithm: String,
}

/// Inputs of [`keygen`].
#[derive(Debug, Clone)]
pub struct KeygenOptions {
    pub out_dir: PathBuf,
    pub alg: Algorithm,
    /// A fresh random UUID when absent.
    pub uuid: Option<Uuid>,
    pub node_type: String,
    /// Replace an existing key.
    pub force: bool,
}

/// The files [`keygen`] wrote.
#[derive(Debug, Clone)]
pub struct KeygenOutput {
    pub key_path: PathBuf,
    pub enrolment_path: PathBuf,
    pub enrolment: Enrolment,
}

/// Generates a device key, writes it (PKCS#8 PEM, mode 0600) and its enrolment file.
pub fn keygen(opts: &KeygenOptions) -> Result<KeygenOutput, GatewayError> {
    if !matches!(
        opts.node_type.as_str(),
        "Gateway" | "Validator" | "Administrator"
    ) {
        return Err(GatewayError::Config(format!(
            "role {:?} is not one of Gateway, Validator, Administrator",
            opts.node_type
        )));
    }
    std::fs::create_dir_all(&opts.out_dir).map_err(|source| GatewayError::WriteFile {
        what: "output directory",
        path: opts.out_dir.clone(),
        source,
    })?;
    let key_path = opts.out_dir.join(KEY_FILE);
    if key_path.exists() && !opts.force {
        return Err(GatewayError::KeyExists { path: key_path });
    }
    let key = SigningKey::generate(opts.alg).map_err(|source| GatewayError::Key {
        path: key_path.clone(),
        source,
    })?;
    let key_err = |source| GatewayError::Key {
        path: key_path.clone(),
        source,
    };
    let private_pem = key.private_key_pem().map_err(key_err)?;
    let public_pem = key.public_key_pem().map_err(key_err)?;
    write_private(&key_path, private_pem.as_bytes())?;

    let enrolment = Enrolment {
        uuid: opts.uuid.unwrap_or_else(Uuid::new_v4),
        node_type: opts.node_type.clone(),
        public_key: public_pem,
        key_algorithm: registry_key_algorithm(opts.alg.key_family()).to_string(),
    };
    let enrolment_path = opts.out_dir.join(ENROLMENT_FILE);
    let mut json = serde_json::to_vec_pretty(&enrolment).map_err(|e| {
        GatewayError::Config(format!("cannot serialise the enrolment request: {e}"))
    })?;
    json.push(b'\n');
    write_atomically(&enrolment_path, &json, "enrolment file")?;
    Ok(KeygenOutput {
        key_path,
        enrolment_path,
        enrolment,
    })
}

/// The name the device registry uses for a key family.
pub fn registry_key_algorithm(family: KeyFamily) -> &'static str {
    match family {
        KeyFamily::Rsa => "RSA",
        KeyFamily::Ed25519 => "Ed25519",
        KeyFamily::EcP256 => "ECDSA-P256",
    }
}

/// Loads the device key; without `alg` the key decides (RSA keys sign RS256).
pub fn load_signing_key(path: &Path, alg: Option<&str>) -> Result<SigningKey, GatewayError> {
    ensure_private(path, "device key")?;
    let pem = std::fs::read_to_string(path).map_err(|source| GatewayError::ReadFile {
        what: "device key",
        path: path.to_path_buf(),
        source,
    })?;
    let key_err = |source| GatewayError::Key {
        path: path.to_path_buf(),
        source,
    };
    match alg {
        Some(name) => {
            let alg = Algorithm::from_name(name).ok_or_else(|| {
                GatewayError::Config(format!(
                    "key_algorithm {name:?} is not one of RS256, PS256, EdDSA, ES256"
                ))
            })?;
            SigningKey::from_pkcs8_pem(&pem, alg).map_err(key_err)
        }
        None => {
            let mut last = None;
            for alg in [Algorithm::RS256, Algorithm::EdDSA, Algorithm::ES256] {
                match SigningKey::from_pkcs8_pem(&pem, alg) {
                    Ok(key) => return Ok(key),
                    Err(e) => last = Some(e),
                }
            }
            Err(key_err(last.unwrap_or(signed_message::MessageError::Key(
                "no algorithm accepted the key".into(),
            ))))
        }
    }
}

/// Tightens a key file other users can read to 0600, warning loudly (the key may be exposed).
pub(crate) fn ensure_private(path: &Path, what: &'static str) -> Result<(), GatewayError> {
    key_file::ensure_private(path).map_err(|e| match e {
        key_file::KeyFileError::Io { path, source, .. } => {
            GatewayError::ReadFile { what, path, source }
        }
        key_file::KeyFileError::Exposed { path, mode, source } => {
            GatewayError::KeyExposed { path, mode, source }
        }
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), GatewayError> {
    let err = |source| GatewayError::WriteFile {
        what: "device key",
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("key.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    // The mode above applies only on creation; a leftover temp file keeps its own.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(err)?;
    file.write_all(bytes).map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// Writes `bytes` to a temp file, syncs it and renames it over `path`, so readers never see half a file.
pub(crate) fn write_atomically(
    path: &Path,
    bytes: &[u8],
    what: &'static str,
) -> Result<(), GatewayError> {
    let err = |source| GatewayError::WriteFile {
        what,
        path: path.to_path_buf(),
        source,
    };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let mut file = std::fs::File::create(&tmp).map_err(err)?;
    file.write_all(bytes).map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}
