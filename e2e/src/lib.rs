//! Harness of the end-to-end tests: every part of the chain started in this process on 127.0.0.1.
//!
//! Everything is real: the VPN Centre (both listeners, CA, enrolment over HTTP, CRL, warnings store,
//! auto-ban, dashboard), the fog validators (mutual TLS, registry follower, forwarding), the
//! cloud sink on SQLite behind mutual TLS, and the edge gateway's own signing and sending code.
//!
//! The ledger is the live Fabric network `scripts/test` starts (`test_support::fabric`): Org1's
//! admin registers devices and the centre writes as it, validators read as Org2's client. It is
//! shared and never reset, so every device has a fresh UUID and every virtual IP is unique.
//!
//! Around them: live gateway traffic (`traffic`), raw connections held open and probed
//! (`tls_probe`), and bans made without the centre by our Gateway client, `sf2c-registry` and
//! Fabric's `peer` CLI (`bans`, with `test_support::fabric::PeerCli`), for the enforcement tests
//! and the ban benchmark.
//!
//! Setup failures panic with what failed: this crate is test scaffolding and is never published.

pub mod bans;
pub mod centre;
pub mod chain;
pub mod device;
pub mod gateway;
pub mod ledger;
pub mod sink;
pub mod tls_probe;
pub mod traffic;
pub mod validator;
