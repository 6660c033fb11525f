//! The VPN Centre's public-key infrastructure: CA, enrolment tokens, virtual IPs, revocation, mTLS and WireGuard export.
//!
//! Data path of an enrolment: [`tokens`] (one-time secret) → [`ledger`] (registered, not banned)
//! → [`ip_pool`] (virtual IP, skipping those [`ledger_ips`] knows taken) → ledger write →
//! [`ca`] (certificate) → [`revocation`] (serial recorded), tied together by [`enrol`], which
//! never holds the database (opened by [`db`]) across a ledger call.

pub mod ca;
pub mod cidr;
pub mod crl_refresher;
pub mod db;
pub mod enrol;
pub mod ip_pool;
pub mod ledger;
pub mod ledger_ips;
pub mod mtls;
pub mod revocation;
pub mod role;
pub mod tokens;
pub mod wireguard;

pub use ca::{CaError, CertRole, CertificateAuthority, IssuedCert, LeafKey, LeafRequest};
pub use cidr::{Cidr, CidrError};
pub use crl_refresher::{CrlFetchError, CrlRefresher, fetch_crl};
pub use db::{DbError, open_database};
pub use enrol::{EnrolError, EnrolRequest, Enrolled, Enroller, EnrolmentConfig};
pub use ip_pool::{IpLease, IpPool, PoolError, Reservation};
// The one key-file rule, shared with the edge gateway (which does not depend on the PKI).
pub use key_file::{KeyFileError, ensure_private, read_private_key, write_private_key};
pub use ledger::{EnrolmentLedger, LedgerError};
pub use ledger_ips::LedgerIps;
pub use mtls::{CrlClientVerifier, MtlsError, certificate_serial, client_config, server_config};
pub use revocation::{RevocationError, Revocations, RevokedCert};
pub use role::{CertIdentity, Role};
pub use tokens::{EnrolmentToken, TokenError, Tokens};
pub use wireguard::{
    HubPeer, PRIVATE_KEY_PLACEHOLDER, WireGuardError, render_config, render_hub_peer,
};
