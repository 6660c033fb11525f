//! Test harnesses shared by the workspace's tests; setup failures panic saying what failed.
//!
//! Everything here starts real software on 127.0.0.1 and stops it by PID when its guard drops:
//! [`postgres`] a throwaway PostgreSQL server, [`browser`] (feature `browser`) chromedriver and
//! headless Chromium, [`fabric`] (feature `fabric`) the live Fabric network `scripts/test` starts,
//! [`pki`] (feature `pki`) certificates from a test CA and its CRL served over HTTP. [`port`] finds
//! free loopback ports; [`silent`] holds connections open without answering; [`wait`] polls a
//! condition with a deadline; [`workspace_bin`] builds a binary of this workspace to run.

#[cfg(feature = "browser")]
pub mod browser;
#[cfg(feature = "fabric")]
pub mod fabric;
#[cfg(feature = "pki")]
pub mod pki;
pub mod port;
pub mod postgres;
pub mod silent;
pub mod wait;
pub mod workspace_bin;

pub use port::free_port;
pub use workspace_bin::workspace_bin;
