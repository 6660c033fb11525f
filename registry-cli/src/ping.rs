//! `ping`: proves the write path (Gateway endorsement plan, orderer, commit) works right now.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use fabric_client::Contract;

/// A UUID no device has: `DeviceExists` of it answers false and writes nothing.
const PROBE: &str = "00000000-0000-4000-8000-000000000000";

/// Submits `DeviceExists` as a transaction until one commits or `wait` seconds pass.
/// Retrying is safe: the transaction writes nothing whether it commits or not.
pub async fn run(contract: &Contract, wait: u64) -> Result<()> {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(wait);
    let mut tries = 0u32;
    loop {
        tries += 1;
        match contract.submit("DeviceExists", &[PROBE.as_bytes()]).await {
            Ok(result) => {
                println!(
                    "ok: a transaction committed in block {} after {:.1} s ({tries} tries)",
                    result.block,
                    start.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            Err(e) if Instant::now() < deadline => {
                if tries == 1 || tries % 10 == 0 {
                    eprintln!(
                        "not ready yet ({:.0} s): {e}",
                        start.elapsed().as_secs_f64()
                    );
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                bail!("no transaction committed within {wait} s ({tries} tries); last error: {e}")
            }
        }
    }
}
