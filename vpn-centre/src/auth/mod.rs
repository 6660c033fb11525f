//! Operator authentication for the dashboard: passwords, sessions, CSRF tokens, login throttling.

pub mod csrf;
pub mod guard;
pub mod password;
pub mod rate_limit;
pub mod session;

pub use guard::{Operator, require_operator};
pub use password::{OperatorError, Operators};
pub use rate_limit::LoginLimiter;
pub use session::{SessionConfig, SessionStore};

/// `n` random bytes from the operating system, hex-encoded (ids and tokens).
pub(crate) fn random_hex(n: usize) -> Result<String, getrandom::Error> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
