//! One behaviour suite for the sink, run against real SQLite and a real PostgreSQL server.

mod support;

use std::collections::BTreeSet;

use cloud_sink::http::Limits;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use sink_api::{SinkError, TelemetryQuery};
use support::{Backend, DEVICE_A, DEVICE_B, DEVICE_C, TestSink, record, records};

fn query(device: &str) -> TelemetryQuery {
    TelemetryQuery {
        device: device.into(),
        from_ms: None,
        to_ms: None,
        limit: None,
    }
}

async fn ingest_then_query_returns_exactly_the_rows(url: String) {
    let sink = TestSink::start(&url, Limits::default()).await;
    // Sent out of order and mixed across devices: the answer must be per device, by seq.
    let mut batch = records(DEVICE_A, [5, 1, 3, 2, 4]);
    batch.extend(records(DEVICE_B, [1, 2]));
    let answer = sink.client.ingest(&batch).await.unwrap();
    assert_eq!((answer.stored, answer.duplicates), (7, 0));

    let got = sink.client.query(&query(DEVICE_A)).await.unwrap();
    assert_eq!(got, records(DEVICE_A, 1..=5));

    let window = TelemetryQuery {
        from_ms: Some(record(DEVICE_A, 2).ts_ms),
        to_ms: Some(record(DEVICE_A, 4).ts_ms),
        ..query(DEVICE_A)
    };
    let seqs: Vec<u64> = sink
        .client
        .query(&window)
        .await
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, [2, 3], "from_ms is inclusive, to_ms exclusive");

    let limited = TelemetryQuery {
        limit: Some(2),
        ..query(DEVICE_A)
    };
    let seqs: Vec<u64> = sink
        .client
        .query(&limited)
        .await
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, [1, 2]);

    assert!(
        sink.client
            .query(&query(DEVICE_C))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn redelivery_stores_nothing_new(url: String) {
    let sink = TestSink::start(&url, Limits::default()).await;
    let batch = records(DEVICE_A, 1..=10);
    assert_eq!(sink.client.ingest(&batch).await.unwrap().stored, 10);

    let again = sink.client.ingest(&batch).await.unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 10));

    // The same device spelled in upper case is the same device.
    let mut shouted = records(DEVICE_A, 8..=12);
    for r in &mut shouted {
        r.device = r.device.to_uppercase();
    }
    let overlap = sink.client.ingest(&shouted).await.unwrap();
    assert_eq!((overlap.stored, overlap.duplicates), (2, 3));

    // A duplicate inside one batch is stored once.
    let twice = vec![record(DEVICE_B, 1), record(DEVICE_B, 1)];
    let answer = sink.client.ingest(&twice).await.unwrap();
    assert_eq!((answer.stored, answer.duplicates), (1, 1));

    let counts = sink.client.counts().await.unwrap();
    assert_eq!(counts.total, 13);
    let got = sink.client.query(&query(DEVICE_A)).await.unwrap();
    assert_eq!(
        got.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=12).collect::<Vec<_>>()
    );
}

async fn bad_record_refuses_whole_batch(url: String) {
    let sink = TestSink::start(&url, Limits::default()).await;
    type Spoil = fn(&mut sink_api::TelemetryRecord);
    let spoilers: Vec<(&str, Spoil)> = vec![
        ("data", |r| r.data = json!("21.5")),
        ("device", |r| r.device = "device-42".into()),
        ("validator", |r| r.validator.clear()),
        ("message", |r| r.message = "not a jws".into()),
    ];
    for (field, spoil) in spoilers {
        let mut batch = records(DEVICE_A, 1..=4);
        spoil(&mut batch[2]);
        match sink.client.ingest(&batch).await {
            Err(SinkError::Refused {
                status,
                code,
                index,
                field: got,
                ..
            }) => {
                assert_eq!((status, code.as_str()), (422, "invalid_record"));
                assert_eq!((index, got.as_deref()), (Some(2), Some(field)));
            }
            other => panic!("batch with bad {field} answered {other:?}"),
        }
    }
    let counts = sink.client.counts().await.unwrap();
    assert_eq!(counts.total, 0, "nothing of a refused batch may be stored");
    assert!(
        sink.client
            .query(&query(DEVICE_A))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn concurrent_overlapping_ingests_store_each_row_once(url: String) {
    // Two sinks on one database, as when two instances share it.
    let sinks = [
        TestSink::start(&url, Limits::default()).await,
        TestSink::start(&url, Limits::default()).await,
    ];
    let mut tasks = Vec::new();
    for worker in 0..8u64 {
        let client = sinks[worker as usize % 2].client.clone();
        // Worker k sends seq 20k..20k+60, in batches of 15: every seq is sent by up to three workers.
        let batches: Vec<_> = (0..4)
            .map(|b| records(DEVICE_A, worker * 20 + b * 15..worker * 20 + (b + 1) * 15))
            .collect();
        tasks.push(tokio::spawn(async move {
            let mut sent = 0;
            let mut stored = 0;
            for batch in batches {
                let answer = client.ingest(&batch).await.unwrap();
                assert_eq!(answer.stored + answer.duplicates, batch.len() as u64);
                sent += batch.len() as u64;
                stored += answer.stored;
            }
            (sent, stored)
        }));
    }
    let (mut sent, mut stored) = (0, 0);
    for task in tasks {
        let (s, n) = task.await.unwrap();
        sent += s;
        stored += n;
    }
    let distinct: BTreeSet<u64> = (0..8u64).flat_map(|k| k * 20..k * 20 + 60).collect();
    assert!(sent > distinct.len() as u64, "the batches must overlap");
    assert_eq!(
        stored,
        distinct.len() as u64,
        "each (device, seq) is reported new exactly once"
    );
    let counts = sinks[0].client.counts().await.unwrap();
    assert_eq!(counts.total, distinct.len() as u64);
    let got = sinks[1].client.query(&query(DEVICE_A)).await.unwrap();
    assert_eq!(got.iter().map(|r| r.seq).collect::<BTreeSet<_>>(), distinct);
    assert_eq!(got.len(), distinct.len());
}

async fn counts_are_per_device(url: String) {
    let sink = TestSink::start(&url, Limits::default()).await;
    sink.client
        .ingest(&records(DEVICE_C, [3, 9, 27]))
        .await
        .unwrap();
    sink.client.ingest(&records(DEVICE_A, 0..5)).await.unwrap();
    sink.client.ingest(&records(DEVICE_B, [100])).await.unwrap();
    let counts = sink.client.counts().await.unwrap();
    assert_eq!(counts.total, 9);
    let per: Vec<(&str, u64, u64)> = counts
        .devices
        .iter()
        .map(|d| (d.device.as_str(), d.rows, d.max_seq))
        .collect();
    assert_eq!(
        per,
        [(DEVICE_A, 5, 4), (DEVICE_B, 1, 100), (DEVICE_C, 3, 27)]
    );
}

async fn http_refuses_bad_input_and_keeps_serving(url: String) {
    let limits = Limits {
        max_body_bytes: 16 * 1024,
        max_batch_records: 10,
        max_query_records: 100,
    };
    let sink = TestSink::start(&url, limits).await;
    let http = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let post = |body: Vec<u8>| {
        let request = hyper::Request::post(format!("{}/v1/ingest", sink.url))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let http = http.clone();
        async move {
            let response = http.request(request).await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value =
                serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes())
                    .unwrap();
            (status, body)
        }
    };

    let oversized =
        serde_json::to_vec(&json!({ "records": [], "padding": "x".repeat(64 * 1024) })).unwrap();
    let (status, body) = post(oversized).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("body_too_large")),
        "{body}"
    );

    let (status, body) = post(br#"{"records": [ {"device": "#.to_vec()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("malformed_json")),
        "{body}"
    );

    let (status, body) =
        post(serde_json::to_vec(&json!({ "records": records(DEVICE_A, 0..11) })).unwrap()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("too_many_records")),
        "{body}"
    );

    // Still serving, and nothing of the refused requests was stored.
    assert_eq!(sink.client.counts().await.unwrap().total, 0);
    assert_eq!(
        sink.client
            .ingest(&records(DEVICE_A, 0..10))
            .await
            .unwrap()
            .stored,
        10
    );
    sink.client.health().await.unwrap();

    let metrics = http
        .get(format!("{}/metrics", sink.url).parse().unwrap())
        .await
        .unwrap();
    let text = String::from_utf8(
        metrics
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(text.contains("sf2c_sink_rows_stored_total 10"), "{text}");
    assert!(text.contains("sf2c_sink_batches_refused_total 3"), "{text}");
    assert!(
        text.contains(r#"sf2c_sink_http_requests_total{route="/v1/ingest",status="413"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"sf2c_sink_store_seconds_count{op="ingest"} 1"#),
        "{text}"
    );
}

/// Runs each case against a fresh database of each backend.
macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = super::Backend::sqlite();
                    super::$case(db.url()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = super::Backend::postgres();
                    super::$case(db.url()).await;
                }
            )*
        }
    };
}

suite!(
    ingest_then_query_returns_exactly_the_rows,
    redelivery_stores_nothing_new,
    bad_record_refuses_whole_batch,
    concurrent_overlapping_ingests_store_each_row_once,
    counts_are_per_device,
    http_refuses_bad_input_and_keeps_serving,
);
