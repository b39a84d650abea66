//! Authentication and the role × endpoint matrix of docs/api.md.

use casefile_tests::*;
use reqwest::Method;

both_backends! {
    every_protected_endpoint_needs_a_token => needs_a_token,
    open_endpoints_need_none => open_endpoints,
    role_endpoint_matrix => matrix,
    auditor_never_writes => auditor_never_writes_scenario,
    revoked_tokens_stop_working => revocation,
}

const ANY: &[&str] = &[
    "advisor",
    "officer",
    "reviewer",
    "manager",
    "compliance",
    "auditor",
];

/// One endpoint of the API: method, path, body, and the roles allowed besides admin
/// (`None` for admin-only).
struct Endpoint {
    method: Method,
    path: String,
    body: Option<Value>,
    allowed: &'static [&'static str],
}

impl Endpoint {
    fn write(&self) -> bool {
        self.method != Method::GET
    }
}

fn endpoints(case_id: &str, user_id: &str, owner_id: &str) -> Vec<Endpoint> {
    let ep = |method: Method, path: String, body: Option<Value>, allowed| Endpoint {
        method,
        path,
        body,
        allowed,
    };
    let action = |name: &str, body: Value, allowed| {
        ep(
            Method::POST,
            format!("/api/v1/complaints/{case_id}/{name}"),
            Some(body),
            allowed,
        )
    };
    const ADMIN: &[&str] = &[];
    const STAFF: &[&str] = &["advisor", "officer", "reviewer", "manager"];
    const OFFICER: &[&str] = &["officer", "manager"];
    const REVIEWER: &[&str] = &["reviewer", "manager"];
    vec![
        ep(
            Method::POST,
            "/api/v1/users".into(),
            Some(json!({"name": "Made By Matrix", "roles": ["auditor"]})),
            ADMIN,
        ),
        ep(Method::GET, "/api/v1/users".into(), None, ADMIN),
        ep(
            Method::POST,
            format!("/api/v1/users/{user_id}/tokens"),
            Some(json!({})),
            ADMIN,
        ),
        ep(
            Method::DELETE,
            format!("/api/v1/users/{user_id}/tokens"),
            None,
            ADMIN,
        ),
        ep(Method::GET, "/api/v1/me".into(), None, ANY),
        ep(
            Method::POST,
            "/api/v1/complaints".into(),
            Some(valid_complaint()),
            &["advisor", "officer", "manager"],
        ),
        ep(Method::GET, "/api/v1/complaints".into(), None, ANY),
        ep(
            Method::GET,
            format!("/api/v1/complaints/{case_id}"),
            None,
            ANY,
        ),
        ep(
            Method::GET,
            format!("/api/v1/complaints/{case_id}/history"),
            None,
            ANY,
        ),
        action("notes", json!({"text": "matrix note"}), STAFF),
        action(
            "links",
            json!({"kind": "tenancy", "reference": "T-1"}),
            STAFF,
        ),
        action("categorise", json!({"theme": "repairs"}), STAFF),
        action("definition", definition("stage1"), STAFF),
        action(
            "evidence",
            json!({"name": "a.pdf", "media_type": "application/pdf", "size_bytes": 10, "sha256": "b".repeat(64)}),
            STAFF,
        ),
        action("escalate", json!({"reason": "unhappy"}), STAFF),
        action("withdraw", json!({"reason": "resident withdrew"}), STAFF),
        action("acknowledge", json!({}), OFFICER),
        action(
            "extend",
            json!({"working_days": 1, "reason": "more time"}),
            OFFICER,
        ),
        action("stage1-response", stage_response("upheld"), OFFICER),
        action(
            "refuse",
            json!({"reason": "legal_proceedings", "explanation": "in court"}),
            OFFICER,
        ),
        action("stage2-acknowledge", json!({}), REVIEWER),
        action("stage2-response", stage_response("upheld"), REVIEWER),
        action(
            "deadlock",
            json!({"reason": "stuck", "on_request": true}),
            REVIEWER,
        ),
        action("close", json!({}), &["officer", "reviewer", "manager"]),
        action(
            "refer",
            json!({"scheme": "housing-ombudsman", "reference": "HOS-1"}),
            &["reviewer", "manager", "compliance"],
        ),
        action("assign", json!({"owner_id": owner_id}), &["manager"]),
        action("reopen", json!({"reason": "continue"}), &["manager"]),
    ]
}

async fn call(app: &TestApp, e: &Endpoint, token: Option<&str>, auth: Option<&str>) -> Response {
    let body = match &e.body {
        Some(v) => Body::Json(v.clone()),
        None => Body::None,
    };
    let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
    app.send(e.method.clone(), &e.path, token, body, &headers)
        .await
}

async fn needs_a_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let case_id = app.new_case().await;
    let (user_id, token) = app.create_user("Soon Revoked", &["manager"]).await;
    let (status, _) = app
        .delete(&format!("/api/v1/users/{user_id}/tokens"), &app.admin_token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let history = app.history(&case_id).await;

    let mut all = endpoints(&case_id, &user_id, &user_id);
    all.push(Endpoint {
        method: Method::GET,
        path: "/metrics".into(),
        body: None,
        allowed: ANY,
    });
    let revoked = format!("Bearer {token}");
    let bad_headers = [
        None,
        Some("Bearer cf_not-a-real-token"),
        Some("Bearer "),
        Some("Basic YWRtaW46YWRtaW4="),
        Some(app.admin_token.as_str()),
        Some(revoked.as_str()),
    ];
    for e in &all {
        for header in bad_headers {
            let r = call(&app, e, None, header).await;
            assert_eq!(
                (r.status, r.json["error"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("unauthorized")),
                "{} {} with Authorization {header:?}: {}",
                e.method,
                e.path,
                r.text
            );
            assert_error_shape(&r.json);
        }
    }
    assert_eq!(
        app.history(&case_id).await,
        history,
        "unauthenticated writes"
    );
    assert_eq!(app.case_total().await, 1);
}

async fn open_endpoints(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in [
        "/healthz",
        "/readyz",
        "/api/v1/openapi.json",
        "/api/v1/docs",
    ] {
        let r = app.send(Method::GET, path, None, Body::None, &[]).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "GET {path} without a token: {}",
            r.text
        );
    }
    let r = app
        .send(Method::GET, "/healthz", None, Body::None, &[])
        .await;
    assert_eq!(r.json["status"], "ok", "{}", r.text);
    let r = app
        .send(Method::GET, "/readyz", None, Body::None, &[])
        .await;
    assert_eq!(r.json["status"], "ready", "{}", r.text);
}

async fn matrix(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut users = Vec::new();
    for role in ROLES {
        let (_, token) = app.create_user(&format!("The {role}"), &[role]).await;
        users.push((role, token));
    }
    let (target_id, _) = app.create_user("Token Target", &["advisor"]).await;
    let (owner_id, _) = app.create_user("Owner", &["officer"]).await;
    for (role, token) in &users {
        // A fresh case per role, so one role's writes do not decide another's answers.
        let case_id = app.new_case().await;
        for e in endpoints(&case_id, &target_id, &owner_id) {
            let allowed = *role == "admin" || e.allowed.contains(role);
            let r = call(&app, &e, Some(token), None).await;
            if allowed {
                assert!(
                    r.status != StatusCode::FORBIDDEN && r.status != StatusCode::UNAUTHORIZED,
                    "{role} may {} {}, got {}: {}",
                    e.method,
                    e.path,
                    r.status,
                    r.text
                );
            } else {
                assert_error(r.status, &r.json, StatusCode::FORBIDDEN, "forbidden");
                // The message says which roles may.
                let who = e.allowed.first().copied().unwrap_or("admin");
                let message = r.json["message"].as_str().unwrap_or("");
                assert!(
                    message.contains(who),
                    "{role} on {} {}: the 403 message names the roles that may ({who}): {message}",
                    e.method,
                    e.path
                );
            }
        }
    }

    // Roles add up: an officer who is also a reviewer may acknowledge Stage 2.
    let (_, both) = app
        .create_user("Officer Reviewer", &["officer", "reviewer"])
        .await;
    let case_id = app.new_case().await;
    for action in ["acknowledge", "stage2-acknowledge"] {
        let (status, body) = app.act(&both, &case_id, action, json!({})).await;
        assert_ne!(status, StatusCode::FORBIDDEN, "{action}: {body}");
    }
}

async fn auditor_never_writes_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let (auditor_id, auditor) = app.create_user("Aud", &["auditor"]).await;
    let (owner_id, _) = app.create_user("Owner", &["officer"]).await;
    let case_id = app.new_case().await;
    // Get the case to a state where many writes would be accepted for other roles.
    app.act_ok(&app.admin_token, &case_id, "acknowledge", json!({}))
        .await;
    let before = app.history(&case_id).await;
    for e in endpoints(&case_id, &auditor_id, &owner_id) {
        let r = call(&app, &e, Some(&auditor), None).await;
        if e.write() {
            assert_error(r.status, &r.json, StatusCode::FORBIDDEN, "forbidden");
        } else if e.allowed == ANY {
            assert_eq!(
                r.status,
                StatusCode::OK,
                "auditor reads {}: {}",
                e.path,
                r.text
            );
        }
    }
    assert_eq!(
        app.history(&case_id).await,
        before,
        "the auditor wrote events"
    );
    assert_eq!(app.case_total().await, 1, "the auditor logged a case");
    let (_, users_after) = app.get("/api/v1/users", &app.admin_token).await;
    assert!(
        !users_after.to_string().contains("Made By Matrix"),
        "the auditor created a user: {users_after}"
    );
    // The auditor's own token still works: revoking its tokens was refused.
    let (status, _) = app.get("/api/v1/me", &auditor).await;
    assert_eq!(status, StatusCode::OK);
}

async fn revocation(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, first) = app.create_user("Sam Patel", &["officer"]).await;
    let (other_id, other) = app.create_user("Kim Lee", &["officer"]).await;
    let (status, me) = app.get("/api/v1/me", &first).await;
    assert_eq!((status, me["id"].clone()), (StatusCode::OK, json!(id)));

    let (status, issued) = app
        .post(
            &format!("/api/v1/users/{id}/tokens"),
            &app.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let second = str_at(&issued, "token");

    // Revoking removes every token of the user, and only theirs.
    let (status, body) = app
        .delete(&format!("/api/v1/users/{id}/tokens"), &app.admin_token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    for token in [&first, &second] {
        let (status, body) = app.get("/api/v1/me", token).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
        let (status, body) = app
            .post("/api/v1/complaints", token, valid_complaint())
            .await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let (status, me) = app.get("/api/v1/me", &other).await;
    assert_eq!(
        (status, me["id"].clone()),
        (StatusCode::OK, json!(other_id))
    );
    assert_eq!(app.case_total().await, 0);

    // A token issued after the revocation works again.
    let (status, issued) = app
        .post(
            &format!("/api/v1/users/{id}/tokens"),
            &app.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let third = str_at(&issued, "token");
    let (status, me) = app.get("/api/v1/me", &third).await;
    assert_eq!((status, me["id"].clone()), (StatusCode::OK, json!(id)));
    let (status, _) = app.get("/api/v1/me", &first).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
