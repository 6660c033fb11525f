//! A binary of this workspace, built by cargo for tests that run it as a child process.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `package`'s binary `bin`, built by cargo in this build's profile (cheap when up to date) under
/// the cargo target directory (`CARGO_TARGET_DIR` when set).
pub fn workspace_bin(package: &str, bin: &str) -> PathBuf {
    // crates/test-support -> the workspace root
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let release = !cfg!(debug_assertions);
    let mut args = vec!["build", "-q", "-p", package, "--bin", bin];
    if release {
        args.push("--release");
    }
    let status = Command::new(cargo)
        .args(&args)
        .current_dir(&root)
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo build -p {package}: {e}"));
    assert!(status.success(), "cargo build -p {package} failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    target
        .join(if release { "release" } else { "debug" })
        .join(bin)
}
