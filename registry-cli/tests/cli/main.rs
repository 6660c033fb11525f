//! `sf2c-registry` run as a child process against the live Fabric network (see `test_support::fabric`).

mod authority;
mod lifecycle;
mod refusals;
mod support;
mod watch;
