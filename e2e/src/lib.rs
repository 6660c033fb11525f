//! Harness of the end-to-end tests: every part of the chain started in this process on 127.0.0.1.
//!
//! What is real: the VPN Centre (both listeners, CA, enrolment over HTTP, CRL, warnings store,
//! auto-ban, dashboard), the fog validators (mutual TLS, registry follower, forwarding), the
//! cloud sink on SQLite behind mutual TLS, and the edge gateway's own signing and sending code.
//!
//! What is NOT real: the ledger. No Fabric network can run on this machine, so [`ledger`] uses
//! fabric-client's `DoubleNetwork`, which serves `GatewayDouble`, an in-process TEST DOUBLE of a
//! Fabric peer's Gateway service that runs the real device-registry contract on an in-memory
//! ledger over TLS. Nothing here shows conformance with a real Fabric peer.
//!
//! Setup failures panic with what failed: this crate is test scaffolding and is never published.

pub mod centre;
pub mod chain;
pub mod device;
pub mod gateway;
pub mod ledger;
pub mod sink;
pub mod validator;
