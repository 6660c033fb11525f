//! The dashboard over real HTTP and a real SQLite store: the session and CSRF gate, login
//! throttling, escaping, security headers, and the pages' honest "not connected" states.

mod common;

use std::sync::Arc;

use common::dashboard_server::{
    DashboardServer, FORM, OPERATOR, PASSWORD, login, send, session, state,
};
use common::memory_registry::{MemoryRegistry, gateway};
use common::{DEVICE_A, DEVICE_B, sample};
use warnings_api::{WarningClient, WarningFilter};

const GET_ROUTES: &[&str] = &[
    "/dashboard",
    "/dashboard/warnings",
    "/dashboard/warnings/live",
    "/dashboard/requests",
    "/dashboard/requests/live",
    "/dashboard/devices",
];

#[tokio::test]
async fn actions_without_a_session_or_its_token_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Arc::new(MemoryRegistry::default());
    registry.register(gateway(DEVICE_A, 10));
    registry.register(gateway(DEVICE_B, 11));
    ban_directly(&registry, DEVICE_B).await;
    let server =
        DashboardServer::start(state(dir.path(), false).with_registry(registry.clone())).await;
    let client = WarningClient::new(&server.api_url()).unwrap();
    let warning = client
        .report(&sample("validator-1", Some(DEVICE_A), -32001, 1_000))
        .await
        .unwrap();
    let addr = server.addr;

    // Page loads without a session are sent to the login page and show no data.
    for path in GET_ROUTES
        .iter()
        .copied()
        .chain([format!("/dashboard/devices/{DEVICE_A}").as_str()])
    {
        let reply = send(addr, "GET", path, &[], "").await;
        assert_eq!(reply.status, 303, "{path}: {reply:?}");
        assert_eq!(reply.header("location"), Some("/login"), "{path}");
        assert!(!reply.body.contains("validator-1"), "{path} leaked data");
    }
    let login_page = send(addr, "GET", "/login", &[], "").await;
    assert!(login_page.body.contains("name=\"password\""));

    let (cookie, token) = session(addr).await;
    let id = warning.id;
    let actions: Vec<(&str, String, String)> = vec![
        (
            "POST",
            format!("/dashboard/warnings/{id}/delete"),
            String::new(),
        ),
        ("DELETE", format!("/dashboard/warnings/{id}"), String::new()),
        (
            "POST",
            format!("/dashboard/devices/{DEVICE_A}/ban"),
            "reason=test".into(),
        ),
        (
            "POST",
            format!("/dashboard/devices/{DEVICE_B}/unban"),
            String::new(),
        ),
        ("POST", "/logout".into(), String::new()),
    ];
    let wrong = "0".repeat(64);
    for (method, path, body) in &actions {
        let no_session = send(addr, method, path, &[FORM], body).await;
        assert_eq!(no_session.status, 401, "{method} {path}: {no_session:?}");

        let forged = send(
            addr,
            method,
            path,
            &[FORM, ("Cookie", &format!("sf2c_session={wrong}"))],
            body,
        )
        .await;
        assert_eq!(forged.status, 401, "{method} {path} with a made-up session");

        let no_token = send(addr, method, path, &[FORM, ("Cookie", &cookie)], body).await;
        assert_eq!(no_token.status, 403, "{method} {path}: {no_token:?}");

        let with_wrong_field = format!("{body}&csrf={wrong}");
        let bad_field = send(
            addr,
            method,
            path,
            &[FORM, ("Cookie", &cookie)],
            &with_wrong_field,
        )
        .await;
        assert_eq!(
            bad_field.status, 403,
            "{method} {path} with a wrong form token"
        );

        let bad_header = send(
            addr,
            method,
            path,
            &[FORM, ("Cookie", &cookie), ("X-CSRF-Token", &wrong)],
            body,
        )
        .await;
        assert_eq!(
            bad_header.status, 403,
            "{method} {path} with a wrong header token"
        );
    }

    // Nothing changed: the warning is stored, A active, B banned, the session alive.
    assert_eq!(client.count(&WarningFilter::default()).await.unwrap(), 1);
    assert!(!registry.current(DEVICE_A).unwrap().banned);
    assert!(registry.current(DEVICE_B).unwrap().banned);
    assert_eq!(registry.current(DEVICE_A).unwrap().version, 1);
    let still = send(
        addr,
        "GET",
        "/dashboard/warnings",
        &[("Cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(still.status, 200);

    // With the token, the same actions work.
    let ok_body = format!("csrf={token}");
    let deleted = send(
        addr,
        "POST",
        &format!("/dashboard/warnings/{id}/delete"),
        &[FORM, ("Cookie", &cookie)],
        &ok_body,
    )
    .await;
    assert_eq!(deleted.status, 303, "{deleted:?}");
    assert_eq!(client.count(&WarningFilter::default()).await.unwrap(), 0);
    let gone = send(
        addr,
        "DELETE",
        &format!("/dashboard/warnings/{id}"),
        &[("Cookie", &cookie), ("X-CSRF-Token", &token)],
        "",
    )
    .await;
    assert_eq!(
        gone.status, 404,
        "deleting twice reports the missing warning"
    );

    let banned = send(
        addr,
        "POST",
        &format!("/dashboard/devices/{DEVICE_A}/ban"),
        &[FORM, ("Cookie", &cookie)],
        &format!("reason=key+leaked&{ok_body}"),
    )
    .await;
    assert_eq!(banned.status, 303, "{banned:?}");
    let a = registry.current(DEVICE_A).unwrap();
    assert!(a.banned);
    assert_eq!(a.ban_reason.as_deref(), Some("key leaked"));
    let no_reason = send(
        addr,
        "POST",
        &format!("/dashboard/devices/{DEVICE_B}/ban"),
        &[FORM, ("Cookie", &cookie)],
        &ok_body,
    )
    .await;
    assert_eq!(no_reason.status, 400, "a ban needs a reason");

    let out = send(
        addr,
        "POST",
        "/logout",
        &[FORM, ("Cookie", &cookie)],
        &ok_body,
    )
    .await;
    assert_eq!(out.status, 303);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let after = send(
        addr,
        "GET",
        "/dashboard/warnings",
        &[("Cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(
        after.status, 303,
        "the old cookie must not work after logout"
    );
}

async fn ban_directly(registry: &MemoryRegistry, uuid: &str) {
    use vpn_centre::registry::CentreRegistry as _;
    registry.ban(uuid, "set up as banned").await.unwrap();
}

#[tokio::test]
async fn wrong_passwords_are_throttled_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let server = DashboardServer::start(state(dir.path(), true)).await;
    let addr = server.addr;

    let unknown = login(addr, "mallory", PASSWORD).await;
    assert_eq!(unknown.status, 401);
    assert!(unknown.header("set-cookie").is_none());
    for _ in 0..2 {
        let wrong = login(addr, OPERATOR, "not the password at all").await;
        assert_eq!(wrong.status, 401);
        assert!(wrong.body.contains("Wrong operator name or password"));
    }
    // The limit (3 in this setup) is reached: even the right password is refused now.
    let blocked = login(addr, OPERATOR, PASSWORD).await;
    assert_eq!(blocked.status, 429, "{blocked:?}");
    assert!(blocked.header("set-cookie").is_none());

    let dir2 = tempfile::tempdir().unwrap();
    let fresh = DashboardServer::start(state(dir2.path(), true)).await;
    let ok = login(fresh.addr, OPERATOR, PASSWORD).await;
    assert_eq!(ok.status, 303);
    let cookie = ok.header("set-cookie").unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(cookie.contains(flag), "cookie lacks {flag}: {cookie}");
    }
    let cross_site = send(
        fresh.addr,
        "POST",
        "/login",
        &[FORM, ("Origin", "http://evil.example")],
        &format!(
            "username={OPERATOR}&password={}",
            PASSWORD.replace(' ', "+")
        ),
    )
    .await;
    assert_eq!(cross_site.status, 403);
    assert!(cross_site.header("set-cookie").is_none());
}

#[tokio::test]
async fn untrusted_text_is_escaped_and_pages_carry_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let server = DashboardServer::start(state(dir.path(), false)).await;
    let client = WarningClient::new(&server.api_url()).unwrap();
    let mut hostile = sample("<b>validator</b>", Some(DEVICE_A), -32001, 1_000);
    hostile.reason = "<script>alert(1)</script><img src=x onerror=alert(2)>".into();
    // Sent three times: one row, with its count and last time (the paper's columns stay).
    for n in 0..3 {
        hostile.time_ms = 1_000 + n * 500;
        client.report(&hostile).await.unwrap();
    }
    let (cookie, _) = session(server.addr).await;

    for path in ["/dashboard/warnings", "/dashboard/warnings/live"] {
        let reply = send(server.addr, "GET", path, &[("Cookie", &cookie)], "").await;
        assert_eq!(reply.status, 200);
        assert!(
            !reply.body.contains("<script>alert"),
            "{path} echoes markup"
        );
        assert!(!reply.body.contains("<img src=x"), "{path} echoes markup");
        assert!(!reply.body.contains("<b>validator"), "{path} echoes markup");
        assert!(reply.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(reply.body.contains("&lt;b&gt;validator&lt;/b&gt;"));
        let one_row = reply.body.matches("<tr id=\"warning-").count() == 1;
        let counted = reply.body.contains("<td class=\"count\">3</td>")
            && reply.body.contains(">3</strong> matching warnings");
        assert!(one_row && counted, "{}", reply.body);
        let csp = reply.header("content-security-policy").unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(reply.header("x-frame-options"), Some("DENY"));
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    }
    let page = send(
        server.addr,
        "GET",
        "/dashboard/warnings",
        &[("Cookie", &cookie)],
        "",
    )
    .await;
    assert!(
        !page.body.contains("<script>"),
        "no inline scripts on pages"
    );
    assert!(page.body.contains("<script src=\"/static/dashboard.js\""));
    let js = send(server.addr, "GET", "/static/dashboard.js", &[], "").await;
    assert_eq!(js.status, 200);
    assert!(
        js.header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );

    // A bad filter is shown back, escaped, instead of being run.
    let bad = send(
        server.addr,
        "GET",
        "/dashboard/warnings?device=%3Cx%3E",
        &[("Cookie", &cookie)],
        "",
    )
    .await;
    assert!(bad.body.contains("is not a UUID"));
    assert!(!bad.body.contains("<x>"));
}

#[tokio::test]
async fn missing_ledger_and_unreachable_sink_are_said_plainly() {
    let dir = tempfile::tempdir().unwrap();
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let sink = sink_api::SinkClient::new(&format!("http://{closed}")).unwrap();
    let server = DashboardServer::start(state(dir.path(), false).with_sink(sink)).await;
    let (cookie, token) = session(server.addr).await;

    let devices = send(
        server.addr,
        "GET",
        "/dashboard/devices",
        &[("Cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(devices.status, 503);
    assert!(
        devices.body.contains("ledger is not connected"),
        "{}",
        devices.body
    );
    assert!(
        !devices.body.contains("<table"),
        "no device data without a ledger"
    );
    let ban = send(
        server.addr,
        "POST",
        &format!("/dashboard/devices/{DEVICE_A}/ban"),
        &[FORM, ("Cookie", &cookie)],
        &format!("reason=x&csrf={token}"),
    )
    .await;
    assert_eq!(ban.status, 503);

    let requests = send(
        server.addr,
        "GET",
        "/dashboard/requests",
        &[("Cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(requests.status, 200);
    assert!(
        requests.body.contains("Sink unreachable"),
        "{}",
        requests.body
    );
    assert!(requests.body.contains(&closed.to_string()));
}
