//! Settings layering for every service: defaults, then a TOML file, then `SF2C_*` environment
//! variables, then command-line flags, then one check of the result.
//!
//! A service's settings type derives `Deserialize` (with `deny_unknown_fields`, so typos in the
//! file are refused), implements [`Layered`] to name its variables, and its binary calls
//! [`load`] (or [`load_required`] when some keys have no default) with a closure applying the
//! flags it was given.

mod env;
mod error;

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

pub use env::Env;
pub use error::ConfigError;

/// A service's settings, as the layers see them.
pub trait Layered: DeserializeOwned {
    /// Prefix of the service's environment variables, e.g. `SF2C_VALIDATOR_`.
    const ENV_PREFIX: &'static str;

    /// Applies the service's variables, e.g. `env.set("LISTEN", &mut self.listen)?`.
    fn apply_env(&mut self, env: &Env<'_>) -> Result<(), ConfigError>;

    /// Refuses merged settings that cannot work; runs after the flags.
    fn check(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// The process environment, for [`load`]'s `lookup`.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Defaults, overlaid by `file` when given, then by the variables `lookup` finds, then by
/// `flags`; then [`Layered::check`].
pub fn load<C: Layered + Default>(
    file: Option<&Path>,
    lookup: impl Fn(&str) -> Option<String>,
    flags: impl FnOnce(&mut C),
) -> Result<C, ConfigError> {
    let settings = match file {
        Some(path) => read_file(path)?,
        None => C::default(),
    };
    layer(settings, &lookup, flags)
}

/// As [`load`] for settings with required keys: `file` must exist and hold them.
pub fn load_required<C: Layered>(
    file: &Path,
    lookup: impl Fn(&str) -> Option<String>,
    flags: impl FnOnce(&mut C),
) -> Result<C, ConfigError> {
    layer(read_file(file)?, &lookup, flags)
}

fn layer<C: Layered>(
    mut settings: C,
    lookup: &dyn Fn(&str) -> Option<String>,
    flags: impl FnOnce(&mut C),
) -> Result<C, ConfigError> {
    settings.apply_env(&Env::new(C::ENV_PREFIX, lookup))?;
    flags(&mut settings);
    settings.check()?;
    Ok(settings)
}

/// Reads and parses a TOML file; errors name the file, and the line and column of a bad key.
pub fn read_file<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Parses `text` as the contents of the TOML file `path`.
pub fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::parse(path, text, &e))
}

/// Replaces `field` with a flag's value when the flag was given.
pub fn flag<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// Sets an optional `field` from a flag when the flag was given.
pub fn flag_some<T>(field: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *field = value;
    }
}

/// Makes a relative `path` relative to `base` (a config file's directory), so a file's paths
/// mean the same whatever directory the binary starts in.
pub fn resolve_relative(base: &Path, path: &mut PathBuf) {
    if path.is_relative() {
        *path = base.join(&*path);
    }
}

#[cfg(test)]
mod tests;
