//! Sign one reading and send it straight to the first validator that answers, bypassing the queue.

use std::sync::Arc;

use serde_json::Value;

use crate::config::Config;
use crate::error::GatewayError;
use crate::keygen::load_signing_key;
use crate::rpc;
use crate::sensor::Measurements;
use crate::sequence::SequenceStore;
use crate::signer::Signer;
use crate::tls;
use crate::transport::ValidatorClient;

/// What happened to the one message.
#[derive(Debug, Clone)]
pub struct SendOnceReport {
    pub seq: u64,
    pub jws: String,
    /// The validator that answered, or None when none could be reached.
    pub validator: Option<String>,
    /// The JSON-RPC response object it returned.
    pub answer: Option<Value>,
    /// Why each validator tried before failed.
    pub failures: Vec<String>,
}

/// Signs `data` with a fresh sequence number (shared with the daemon) and sends it.
pub async fn send_once(
    config: &Config,
    data: Measurements,
) -> Result<SendOnceReport, GatewayError> {
    let key = load_signing_key(&config.key_path, config.key_algorithm.as_deref())?;
    let (path, device) = (config.queue_path.clone(), config.device_uuid);
    let msg = tokio::task::spawn_blocking(move || {
        let seq = SequenceStore::open(&path, device)?;
        Signer::new(device, key, seq).sign(data)
    })
    .await
    .map_err(|e| GatewayError::Task(e.to_string()))??;
    let tls = tls::client_config_for(config)?;
    let body = serde_json::to_vec(&rpc::request(msg.seq, &msg.jws)).unwrap_or_default();
    let mut failures = Vec::new();
    for url in &config.validators {
        let mut client = ValidatorClient::new(url, Arc::clone(&tls))
            .map_err(|e| GatewayError::Config(e.to_string()))?;
        match client
            .post_json(body.clone(), config.request_timeout())
            .await
        {
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(answer) => {
                    return Ok(SendOnceReport {
                        seq: msg.seq,
                        jws: msg.jws,
                        validator: Some(url.clone()),
                        answer: Some(answer),
                        failures,
                    });
                }
                Err(e) => failures.push(format!("{url}: answer is not JSON: {e}")),
            },
            Err(e) => failures.push(e.to_string()),
        }
    }
    Ok(SendOnceReport {
        seq: msg.seq,
        jws: msg.jws,
        validator: None,
        answer: None,
        failures,
    })
}
