//! Why a call to the sink did not succeed, sorted by what the caller should do with its batch.

/// Why a call to the sink did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The base URL cannot be used.
    #[error("sink URL {url:?} is not usable: {reason}")]
    BadUrl { url: String, reason: String },
    /// The sink could not be reached or did not answer in time, or answered that its
    /// database is down (5xx). The batch may be retried later unchanged: storage is idempotent.
    #[error("sink at {url} is unavailable: {reason}; keep the batch and retry later")]
    Unavailable { url: String, reason: String },
    /// The sink answered and refused the request (4xx); retrying the same batch will not help.
    #[error("sink at {url} refused the request with {status} ({code}): {message}")]
    Refused {
        url: String,
        status: u16,
        code: String,
        message: String,
        index: Option<usize>,
        field: Option<String>,
    },
    /// The TLS handshake failed: the sink refused our certificate (missing, from another CA,
    /// revoked) or we refused the sink's. Retrying cannot help until an operator fixes the
    /// certificates, but the batch must be kept, so this counts as retryable.
    #[error(
        "TLS with sink at {url} failed: {reason}; check this client's certificate is current (not revoked) and both sides trust the VPN Centre's CA"
    )]
    Tls { url: String, reason: String },
    /// The client's own TLS files are missing or unusable.
    #[error("cannot set up TLS for sink {url}: {reason}")]
    TlsSetup { url: String, reason: String },
    /// The sink answered success with a body this client does not understand.
    #[error(
        "sink at {url} answered with an unreadable body: {reason}; check that client and sink versions match"
    )]
    BadResponse { url: String, reason: String },
}

impl SinkError {
    /// True when the batch should be kept (spooled) rather than dropped: the sink was
    /// unreachable or failing ([`Unavailable`](Self::Unavailable)), TLS failed
    /// ([`Tls`](Self::Tls)), or our certificate's role was refused (403, see
    /// [`is_forbidden`](Self::is_forbidden)); each needs an operator but says nothing against
    /// the records.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Tls { .. }) || self.is_forbidden()
    }

    /// True when the sink refused this client's certificate role (403): e.g. a validator whose
    /// certificate was issued without a role must re-enrol.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Self::Refused { status: 403, .. })
    }

    /// True when TLS failed, so an operator must look at certificates.
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls { .. } | Self::TlsSetup { .. })
    }
}
