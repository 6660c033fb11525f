//! What `/healthz` reports: the registry's staleness and the CRL's, and 503 once either is past its bound.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::validator::{Validator, now_ms};

/// The health status and body: `"ok"` (200), `"stale"` (503: the registry is past
/// `registry.max_staleness` and submits are refused with 1009) or `"crl_stale"` (503: the CRL is
/// past `tls.crl_max_age` or its nextUpdate, and new handshakes are refused). `reason` names the
/// cause; `registry_stale_ms` and `crl.age_ms` are always there to watch.
pub fn report(validator: &Validator) -> (StatusCode, Value) {
    let registry = validator.registry.freshness.check(now_ms());
    let crl = validator.crl.as_ref().map(|v| v.health());
    let (status, reason) = match &crl {
        _ if registry.stale => ("stale", registry.reason.clone()),
        Some(crl) if crl.stale => ("crl_stale", crl.reason.clone()),
        _ => ("ok", None),
    };
    let cache = &validator.registry.cache;
    let mut body = json!({
        "status": status,
        "id": validator.id,
        "registry_devices": cache.len(),
        "registry_last_block": cache.last_block(),
        "registry_stale_ms": registry.stale_ms,
        "registry_max_staleness_ms": registry.max_ms,
    });
    if let Some(reason) = reason {
        body["reason"] = reason.into();
    }
    if let Some(detail) = registry.reason {
        body["registry_detail"] = detail.into();
    }
    if let Some(crl) = crl {
        body["crl"] = json!({
            "age_ms": crl.age_ms,
            "max_age_ms": crl.max_age_ms,
            "stale": crl.stale,
            "detail": crl.reason,
        });
    }
    let code = if status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, body)
}
