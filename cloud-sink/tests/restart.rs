//! Data outlives the sink process: stop the real binary with SIGTERM, start it again, read back.

mod support;

use sink_api::{SinkClient, TelemetryQuery};
use support::{Backend, DEVICE_B, SinkProcess, records};

async fn data_persists_across_restart(backend: Backend) {
    let url = backend.url();
    let batch = records(DEVICE_B, 1..=50);
    let mut first = SinkProcess::start(&url).await;
    let client = SinkClient::new(&first.url).unwrap();
    assert_eq!(client.ingest(&batch).await.unwrap().stored, 50);
    assert!(first.terminate(), "sink must exit cleanly on SIGTERM");
    drop(first);

    let second = SinkProcess::start(&url).await;
    let client = SinkClient::new(&second.url).unwrap();
    let query = TelemetryQuery {
        device: DEVICE_B.into(),
        from_ms: None,
        to_ms: None,
        limit: None,
    };
    assert_eq!(client.query(&query).await.unwrap(), batch);
    let again = client.ingest(&batch).await.unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 50));
    assert_eq!(client.counts().await.unwrap().total, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_data_persists_across_restart() {
    data_persists_across_restart(Backend::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_data_persists_across_restart() {
    data_persists_across_restart(Backend::postgres()).await;
}
