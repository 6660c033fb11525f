//! Fog validator: verifies every signed telemetry message against the device registry, keeps recent
//! data in RAM, forwards accepted data to the cloud sink and reports refusals to the VPN Centre.
//!
//! Data path: [`server`] (TLS, limits; [`client_auth`] admits gateways, [`caller`] names them) → [`rpc`]
//! (JSON-RPC) → [`validator`] (decides: [`checks`], [`replay`]) → [`forwarder`] (disk spool → cloud
//! sink). Registry state lives in [`registry`]; refusals leave through [`warnings`]; [`outbound`]
//! builds the sink and centre clients; [`health`] says whether the registry and the CRL are
//! current. [`app::start`] wires it all from a [`config::Config`]; [`app::run`] is the binary's
//! whole life on the ledger.

pub mod app;
pub mod caller;
pub mod checks;
pub mod client_auth;
pub mod config;
pub mod forwarder;
pub mod health;
pub mod metrics;
pub mod outbound;
pub mod recent;
pub mod refusal;
pub mod registry;
pub mod replay;
pub mod rpc;
pub mod server;
pub mod validator;
pub mod warnings;

pub use app::{RunningValidator, StartError, run, start, start_on_ledger};
pub use config::Config;
pub use fabric_client::LedgerSettings;
pub use refusal::{Refusal, code};
pub use registry::fabric_feed::FabricRegistryFeed;
pub use registry::feed::RegistryFeed;
pub use validator::Validator;
