//! Operations endpoints: health, readiness, metrics, the OpenAPI document and docs page.

use casefile_tests::*;
use reqwest::Method;

both_backends! {
    operations_endpoints => ops_scenario,
}

async fn ops_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.new_case().await;
    app.act_ok(&app.admin_token, &id, "acknowledge", json!({}))
        .await;

    let r = app
        .send(Method::GET, "/healthz", None, Body::None, &[])
        .await;
    assert_eq!(
        (r.status, &r.json["status"]),
        (StatusCode::OK, &json!("ok")),
        "{}",
        r.text
    );
    let r = app
        .send(Method::GET, "/readyz", None, Body::None, &[])
        .await;
    assert_eq!(
        (r.status, &r.json["status"]),
        (StatusCode::OK, &json!("ready")),
        "{}",
        r.text
    );

    let r = app
        .send(
            Method::GET,
            "/metrics",
            Some(&app.admin_token),
            Body::None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for name in [
        "casefile_http_requests_total",
        "casefile_http_request_duration_seconds",
        "casefile_commands_total",
    ] {
        assert!(r.text.contains(name), "/metrics lacks {name}:\n{}", r.text);
    }

    let r = app
        .send(Method::GET, "/api/v1/openapi.json", None, Body::None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let version = r.json["openapi"].as_str().unwrap_or("");
    assert!(version.starts_with("3."), "OpenAPI 3, got `{version}`");
    let paths = r.json["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("no paths: {}", r.text));
    for path in ["/api/v1/complaints", "/api/v1/users", "/api/v1/me"] {
        assert!(paths.contains_key(path), "openapi.json lacks {path}");
    }
    // Every route of docs/api.md, with the `{id}` parameter it names.
    let mut expected: Vec<String> = [
        "/api/v1/users",
        "/api/v1/users/{id}/tokens",
        "/api/v1/me",
        "/api/v1/complaints/{id}",
        "/api/v1/complaints/{id}/history",
        "/api/v1/complaints/{id}/letters/{letter_id}",
        "/api/v1/complaints/{id}/bundle",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    for action in [
        "acknowledge",
        "assign",
        "notes",
        "evidence",
        "letters",
        "links",
        "categorise",
        "definition",
        "extend",
        "stage1-response",
        "escalate",
        "stage2-acknowledge",
        "stage2-response",
        "close",
        "deadlock",
        "refer",
        "refuse",
        "withdraw",
        "reopen",
    ] {
        expected.push(format!("/api/v1/complaints/{{id}}/{action}"));
    }
    let missing: Vec<&String> = expected
        .iter()
        .filter(|p| !paths.contains_key(p.as_str()))
        .collect();
    assert!(missing.is_empty(), "openapi.json lacks {missing:?}");

    let r = app
        .send(Method::GET, "/api/v1/docs", None, Body::None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let content_type = r.header("content-type").unwrap_or("");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    // Works offline: loads nothing from elsewhere.
    for remote in [
        "src=\"http",
        "src='http",
        "stylesheet\" href=\"http",
        "@import url(http",
    ] {
        assert!(
            !r.text.contains(remote),
            "the docs page loads a remote resource ({remote})"
        );
    }
}
