//! The VPN Centre's HTTP API as its callers see it: warning, enrolment and answer bodies, and
//! [`WarningClient`], so validators and devices call the centre without linking the centre.

pub mod answer;
pub mod client;
pub mod enrol;
pub mod query;
pub mod tls;
pub mod warning;

pub use answer::{CountBody, ErrorBody};
pub use client::{ClientError, DEFAULT_TIMEOUT, TlsIdentity, WarningClient};
pub use enrol::{EnrolAnswer, EnrolBody, VirtualIp};
pub use query::{WarningFilter, WarningPage};
pub use warning::{FieldError, MAX_REASON_LEN, NewWarning, Warning};
