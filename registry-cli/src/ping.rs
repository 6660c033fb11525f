//! `ping`: proves the write path (peer reachable, Gateway endorsement plan, orderer, commit) works now.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::cli::Cli;
use crate::connect;

/// A UUID no device has: `DeviceExists` of it answers false and writes nothing.
const PROBE: &str = "00000000-0000-4000-8000-000000000000";

/// Connects, then submits `DeviceExists` as a transaction, until one commits or `wait` seconds
/// pass. Retrying is safe: the transaction writes nothing whether it commits or not.
pub async fn run(cli: &Cli, wait: u64) -> Result<()> {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(wait);
    let mut tries = 0u32;
    let mut contract: Option<fabric_client::Contract> = None;
    loop {
        let attempt = match &contract {
            Some(c) => {
                tries += 1;
                c.submit("DeviceExists", &[PROBE.as_bytes()])
                    .await
                    .map(Some)
                    .map_err(anyhow::Error::from)
            }
            None => connect::contract(cli).await.map(|c| {
                contract = Some(c);
                None
            }),
        };
        match attempt {
            Ok(Some(result)) => {
                println!(
                    "ok: a transaction committed in block {} after {:.1} s ({tries} submits)",
                    result.block,
                    start.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            // Connected: submit right away.
            Ok(None) => continue,
            Err(e) if Instant::now() < deadline => {
                if tries == 1 || tries % 10 == 0 {
                    eprintln!(
                        "not ready yet ({:.0} s): {e:#}",
                        start.elapsed().as_secs_f64()
                    );
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                bail!(
                    "no transaction committed within {wait} s ({tries} submits); last error: {e:#}"
                )
            }
        }
    }
}
