//! The warnings API served in-process over real HTTP and a real SQLite file.

mod common;

use common::{DEVICE_A, DEVICE_B, InProcessServer, raw_request, sample};
use vpn_centre::http::{DEFAULT_BODY_LIMIT, ErrorBody};
use warnings_api::{ClientError, WarningClient, WarningFilter};

async fn server() -> (tempfile::TempDir, InProcessServer, WarningClient) {
    let dir = tempfile::tempdir().unwrap();
    let server = InProcessServer::start(&dir.path().join("w.sqlite3"), DEFAULT_BODY_LIMIT).await;
    let client = WarningClient::new(&server.url()).unwrap();
    (dir, server, client)
}

fn refused_body(err: ClientError) -> (u16, ErrorBody) {
    match err {
        ClientError::Refused { status, body } => (status.as_u16(), body),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn received_warnings_are_listed_newest_first() {
    let (_dir, _server, client) = server().await;
    let sent = [
        sample("validator-1", Some(DEVICE_A), -32001, 1_000),
        sample("validator-2", None, -32002, 2_000),
        sample("validator-1", Some(DEVICE_B), -32003, 3_000),
    ];
    let mut ids = Vec::new();
    for w in &sent {
        let stored = client.report(w).await.unwrap();
        assert_eq!(&stored.warning, w);
        assert!(stored.received_ms > 0);
        ids.push(stored.id);
    }
    let page = client
        .list(&WarningFilter::default(), None, None)
        .await
        .unwrap();
    let listed: Vec<_> = page.warnings.iter().map(|w| w.warning.clone()).collect();
    let mut expected = sent.to_vec();
    expected.reverse();
    assert_eq!(listed, expected);
    let listed_ids: Vec<_> = page.warnings.iter().map(|w| w.id).collect();
    ids.reverse();
    assert_eq!(listed_ids, ids);
    assert_eq!(page.next_before, None);
    assert_eq!(client.count(&WarningFilter::default()).await.unwrap(), 3);
}

#[tokio::test]
async fn a_batch_is_stored_whole_and_filters_select_from_it() {
    let (_dir, _server, client) = server().await;
    let batch = vec![
        sample("validator-1", Some(DEVICE_A), -32001, 1_000),
        sample("validator-1", Some(DEVICE_B), -32001, 2_000),
        sample("validator-2", Some(DEVICE_A), -32004, 3_000),
        sample("validator-2", None, -32004, 4_000),
        sample("validator-3", Some(DEVICE_A), -32001, 5_000),
    ];
    let stored = client.report_batch(&batch).await.unwrap();
    assert_eq!(stored.len(), 5);
    assert!(stored.windows(2).all(|p| p[0].id < p[1].id));

    let by_device = WarningFilter {
        device: Some(DEVICE_A.into()),
        ..Default::default()
    };
    let page = client.list(&by_device, None, None).await.unwrap();
    let times: Vec<_> = page.warnings.iter().map(|w| w.warning.time_ms).collect();
    assert_eq!(times, [5_000, 3_000, 1_000]);

    let by_code = WarningFilter {
        code: Some(-32004),
        ..Default::default()
    };
    assert_eq!(client.count(&by_code).await.unwrap(), 2);

    let combined = WarningFilter {
        device: Some(DEVICE_A.into()),
        code: Some(-32001),
        submitter: Some("validator-1".into()),
        since_ms: None,
    };
    let page = client.list(&combined, None, None).await.unwrap();
    assert_eq!(page.warnings.len(), 1);
    assert_eq!(page.warnings[0].id, stored[0].id);

    let recent = WarningFilter {
        since_ms: Some(3_000),
        ..Default::default()
    };
    let page = client.list(&recent, None, None).await.unwrap();
    assert!(page.warnings.iter().all(|w| w.warning.time_ms >= 3_000));
    assert_eq!(page.warnings.len(), 3);
}

#[tokio::test]
async fn paging_walks_every_warning_once() {
    let (_dir, _server, client) = server().await;
    // Distinct codes: identical refusals would share a row.
    let batch: Vec<_> = (1..=7)
        .map(|i| sample("validator-1", Some(DEVICE_A), -32000 - i as i32, i * 1000))
        .collect();
    client.report_batch(&batch).await.unwrap();

    let mut seen = Vec::new();
    let mut before = None;
    let mut pages = 0;
    loop {
        let page = client
            .list(&WarningFilter::default(), Some(3), before)
            .await
            .unwrap();
        pages += 1;
        assert!(page.warnings.len() <= 3);
        seen.extend(page.warnings.iter().map(|w| w.warning.time_ms));
        match page.next_before {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, [7000, 6000, 5000, 4000, 3000, 2000, 1000]);
}

#[tokio::test]
async fn identical_refusals_within_a_minute_are_one_row_with_a_count() {
    let (_dir, _server, client) = server().await;
    let t0 = 1_700_000_000_000;
    let flood: Vec<_> = (0..50)
        .map(|i| sample("validator-1", Some(DEVICE_A), 1003, t0 + i * 500))
        .collect();
    let stored = client.report_batch(&flood).await.unwrap();
    // One answer per warning sent, all the same row, its count growing.
    assert_eq!(stored.len(), 50);
    assert!(stored.iter().all(|w| w.id == stored[0].id));
    assert_eq!((stored[0].count, stored[49].count), (1, 50));
    // Another submitter, offender or code, or a refusal a minute after the row's first, is a
    // row of its own.
    let others = [
        sample("validator-2", Some(DEVICE_A), 1003, t0 + 1_000),
        sample("validator-1", Some(DEVICE_B), 1003, t0 + 1_000),
        sample("validator-1", Some(DEVICE_A), 1004, t0 + 1_000),
        sample("validator-1", Some(DEVICE_A), 1003, t0 + 60_000),
        sample("validator-1", Some(DEVICE_A), 1003, t0 + 61_000),
    ];
    client.report_batch(&others).await.unwrap();
    let page = client
        .list(&WarningFilter::default(), None, None)
        .await
        .unwrap();
    assert_eq!(page.warnings.len(), 5, "{page:#?}");
    let flood_row = page.warnings.last().unwrap();
    assert_eq!(flood_row.id, stored[0].id);
    // The paper's columns are the first refusal's; count and last time say the rest.
    assert_eq!(flood_row.warning, flood[0]);
    assert_eq!((flood_row.count, flood_row.last_ms), (50, t0 + 49 * 500));
    assert_eq!(
        (page.warnings[0].count, page.warnings[0].last_ms),
        (2, t0 + 61_000)
    );
    // Counting counts refusals, not rows.
    assert_eq!(client.count(&WarningFilter::default()).await.unwrap(), 55);
    let by_code = WarningFilter {
        code: Some(1003),
        ..Default::default()
    };
    assert_eq!(client.count(&by_code).await.unwrap(), 54);
}

#[tokio::test]
async fn deleted_warning_is_gone_and_unknown_id_is_404() {
    let (_dir, server, client) = server().await;
    let a = client
        .report(&sample("v", Some(DEVICE_A), -32001, 1))
        .await
        .unwrap();
    let b = client
        .report(&sample("v", Some(DEVICE_B), -32001, 2))
        .await
        .unwrap();

    client.delete(a.id).await.unwrap();
    let page = client
        .list(&WarningFilter::default(), None, None)
        .await
        .unwrap();
    assert_eq!(page.warnings, vec![b.clone()]);

    let (status, body) = refused_body(client.delete(a.id).await.unwrap_err());
    assert_eq!(status, 404);
    assert!(body.error.contains(&a.id.to_string()), "{}", body.error);

    let (status, body) = raw_request(server.addr, "DELETE", "/v1/warnings/abc", b"").await;
    assert_eq!(status, 400);
    assert!(body.contains("\"field\":\"id\""), "{body}");
    assert_eq!(client.count(&WarningFilter::default()).await.unwrap(), 1);
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_nothing_is_stored() {
    let (_dir, server, client) = server().await;

    let mut w = sample("validator-1", Some(DEVICE_A), -32001, 1);
    w.offender_address = "not-an-address".into();
    let (status, body) = refused_body(client.report(&w).await.unwrap_err());
    assert_eq!(
        (status, body.field.as_deref()),
        (400, Some("offender_address"))
    );

    let mut w = sample("", Some(DEVICE_A), -32001, 1);
    w.submitter = String::new();
    let (_, body) = refused_body(client.report(&w).await.unwrap_err());
    assert_eq!(body.field.as_deref(), Some("submitter"));

    let w = sample("validator-1", Some("device-7"), -32001, 1);
    let (_, body) = refused_body(client.report(&w).await.unwrap_err());
    assert_eq!(body.field.as_deref(), Some("offender_device"));

    let mut w = sample("validator-1", None, -32001, 1);
    w.reason = "r".repeat(5000);
    let (_, body) = refused_body(client.report(&w).await.unwrap_err());
    assert_eq!(body.field.as_deref(), Some("reason"));

    // One bad warning in a batch refuses the whole batch and says which one.
    let mut batch = vec![
        sample("v", None, -32001, 1),
        sample("v", None, -32001, 2),
        sample("v", None, -32001, 3),
    ];
    batch[2].reason = "   ".into();
    let (status, body) = refused_body(client.report_batch(&batch).await.unwrap_err());
    assert_eq!(
        (status, body.field.as_deref(), body.index),
        (400, Some("reason"), Some(2))
    );

    let cases: [(&[u8], &str); 5] = [
        (b"{not json", "body"),
        (br#"{"submitter":"v","offender_address":"10.0.0.1","time_ms":5,"code":1}"#, "reason"),
        (br#"{"submitter":"v","offender_address":"10.0.0.1","time_ms":"soon","code":1,"reason":"r"}"#, "time_ms"),
        (b"[]", "body"),
        (br#"{"submitter":"v","offender_address":"10.0.0.1","time_ms":5,"code":1,"reason":"r"} extra"#, "body"),
    ];
    for (raw, field) in cases {
        let (status, body) = raw_request(server.addr, "POST", "/v1/warnings", raw).await;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(raw));
        let parsed: ErrorBody = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed.field.as_deref(), Some(field), "{body}");
    }

    let (status, body) = raw_request(server.addr, "GET", "/v1/warnings?limit=0", b"").await;
    assert_eq!(status, 400);
    assert!(body.contains("\"field\":\"limit\""), "{body}");
    let (status, body) = raw_request(server.addr, "GET", "/v1/warnings?code=x", b"").await;
    assert_eq!(status, 400);
    assert!(body.contains("\"field\":\"code\""), "{body}");

    assert_eq!(client.count(&WarningFilter::default()).await.unwrap(), 0);
    let (_, metrics) = raw_request(server.addr, "GET", "/metrics", b"").await;
    assert!(
        metrics.contains("sf2c_vpn_warning_submissions_refused_total 10\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn oversized_body_is_413_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = InProcessServer::start(&dir.path().join("w.sqlite3"), 4096).await;
    let client = WarningClient::new(&server.url()).unwrap();

    let big: Vec<_> = (0..40)
        .map(|i| sample("validator-1", None, -32001, i + 1))
        .collect();
    let (status, _) = refused_body(client.report_batch(&big).await.unwrap_err());
    assert_eq!(status, 413);
    let raw = vec![b' '; 8192];
    let (status, body) = raw_request(server.addr, "POST", "/v1/warnings", &raw).await;
    assert_eq!(status, 413, "{body}");

    let (status, _) = raw_request(server.addr, "POST", "/v1/warnings", b"{oops").await;
    assert_eq!(status, 400);
    let (status, _) = raw_request(server.addr, "GET", "/v2/nothing", b"").await;
    assert_eq!(status, 404);

    let stored = client
        .report(&sample("validator-1", None, -32001, 9))
        .await
        .unwrap();
    assert_eq!(client.count(&WarningFilter::default()).await.unwrap(), 1);
    let page = client
        .list(&WarningFilter::default(), None, None)
        .await
        .unwrap();
    assert_eq!(page.warnings, vec![stored]);
}

#[tokio::test]
async fn health_and_metrics_reflect_received_codes() {
    let (_dir, server, client) = server().await;
    let (status, body) = raw_request(server.addr, "GET", "/healthz", b"").await;
    assert_eq!((status, body.trim()), (200, "ok"));

    let batch = vec![
        sample("v", None, -32001, 1),
        sample("v", None, -32001, 2),
        sample("v", None, -32005, 3),
    ];
    client.report_batch(&batch).await.unwrap();
    let (status, text) = raw_request(server.addr, "GET", "/metrics", b"").await;
    assert_eq!(status, 200);
    assert!(
        text.contains("sf2c_vpn_warnings_received_total{code=\"-32001\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("sf2c_vpn_warnings_received_total{code=\"-32005\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("sf2c_vpn_warnings_stored 3\n"), "{text}");
}

#[tokio::test]
async fn client_tells_unreachable_from_refused() {
    // A port that was just free: nothing listens there now.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let client = WarningClient::new(&format!("http://{addr}")).unwrap();
    let err = client
        .report(&sample("v", None, -32001, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");
    assert!(err.is_retryable());

    let (_dir, _server, client) = server().await;
    let err = client
        .report(&sample("", None, -32001, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Refused { .. }), "{err:?}");
    assert!(!err.is_retryable());

    assert!(matches!(
        WarningClient::new("ftp://x"),
        Err(ClientError::BadUrl { .. })
    ));
    assert!(matches!(
        WarningClient::new("127.0.0.1:7300"),
        Err(ClientError::BadUrl { .. })
    ));
}
