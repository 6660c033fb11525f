//! The binaries' log setup, moved to `runtime::log` (crate `sf2c-runtime`); re-exported here until
//! every binary imports it from there, then this crate goes.

pub use runtime::log::*;
