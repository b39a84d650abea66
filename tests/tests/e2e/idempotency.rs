//! `Idempotency-Key`: the first response (status and body) is returned again to every
//! repeat by the same user with the same body, marked `Idempotency-Replayed: true`, and
//! the command is written once.

use casefile_tests::*;

both_backends! {
    a_repeat_is_replayed => repeat_scenario,
    concurrent_repeats_write_once => concurrent_scenario,
    a_key_reused_with_another_body_is_refused => reused_scenario,
    keys_are_per_user => per_user_scenario,
    key_header_is_checked => header_scenario,
    a_rejection_is_replayed_too => rejection_scenario,
}

const REPLAYED: &str = "idempotency-replayed";

fn count(types: &[String], ty: &str) -> usize {
    types.iter().filter(|t| t.as_str() == ty).count()
}

async fn repeat_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.admin_token.clone();
    let id = app.new_case().await;
    let path = format!("/api/v1/complaints/{id}/notes");
    let body = json!({"text": "Phoned the resident."});
    let key = [("Idempotency-Key", "note-7f3a")];

    let first = app
        .post_with_headers(&path, &token, body.clone(), &key)
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_ne!(
        first.header(REPLAYED),
        Some("true"),
        "the first is no replay"
    );
    let second = app
        .post_with_headers(&path, &token, body.clone(), &key)
        .await;
    assert_eq!(second.status, first.status);
    assert_eq!(second.json, first.json, "the replay returns the first body");
    assert_eq!(second.header(REPLAYED), Some("true"));
    let third = app.post_with_headers(&path, &token, body, &key).await;
    assert_eq!((third.status, &third.json), (first.status, &first.json));
    assert_eq!(third.header(REPLAYED), Some("true"));

    let types = app.event_types(&id).await;
    assert_eq!(types, ["Logged", "Defined", "NoteRecorded"], "written once");

    // Logging a complaint: one case, the same id and reference.
    let key = [("Idempotency-Key", "log-1")];
    let a = app
        .post_with_headers("/api/v1/complaints", &token, valid_complaint(), &key)
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let b = app
        .post_with_headers("/api/v1/complaints", &token, valid_complaint(), &key)
        .await;
    assert_eq!((b.status, &b.json), (a.status, &a.json));
    assert_eq!(b.header(REPLAYED), Some("true"));
    assert_eq!(app.case_total().await, 2);
}

async fn concurrent_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.admin_token.clone();
    let id = app.new_case().await;
    let path = format!("/api/v1/complaints/{id}/notes");
    let body = json!({"text": "Sent twice by a flaky network."});
    let key = [("Idempotency-Key", "burst-1")];
    let responses = futures::future::join_all(
        (0..8).map(|_| app.post_with_headers(&path, &token, body.clone(), &key)),
    )
    .await;
    // They wait for the first and get its answer.
    let first = responses
        .iter()
        .find(|r| r.header(REPLAYED) != Some("true"))
        .unwrap_or_else(|| panic!("every response claims to be a replay"));
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    for r in &responses {
        assert_eq!(
            (r.status, &r.json),
            (first.status, &first.json),
            "{}",
            r.text
        );
    }
    let originals = responses
        .iter()
        .filter(|r| r.header(REPLAYED) != Some("true"))
        .count();
    assert_eq!(originals, 1, "exactly one response is not a replay");
    let types = app.event_types(&id).await;
    assert_eq!(count(&types, "NoteRecorded"), 1, "{types:?}");
    assert_gapless(&app.history(&id).await);

    // The same for logging: eight at once, one case.
    let key = [("Idempotency-Key", "burst-log")];
    let responses = futures::future::join_all(
        (0..8)
            .map(|_| app.post_with_headers("/api/v1/complaints", &token, valid_complaint(), &key)),
    )
    .await;
    for r in &responses {
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.json["id"], responses[0].json["id"]);
    }
    assert_eq!(app.case_total().await, 2);
}

async fn reused_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.admin_token.clone();
    let id = app.new_case().await;
    let path = format!("/api/v1/complaints/{id}/notes");
    let key = [("Idempotency-Key", "k-1")];
    let r = app
        .post_with_headers(&path, &token, json!({"text": "first"}), &key)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let before = app.history(&id).await;
    let r = app
        .post_with_headers(&path, &token, json!({"text": "second"}), &key)
        .await;
    assert_error(
        r.status,
        &r.json,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );
    // The same key on another endpoint is another request too.
    let other = format!("/api/v1/complaints/{id}/categorise");
    let r = app
        .post_with_headers(&other, &token, json!({"theme": "repairs"}), &key)
        .await;
    assert_error(
        r.status,
        &r.json,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );
    assert_eq!(app.history(&id).await, before, "a reused key wrote events");
}

async fn per_user_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, officer) = app.create_user("Olu", &["officer"]).await;
    let (_, advisor) = app.create_user("Ada", &["advisor"]).await;
    let id = app.new_case().await;
    let path = format!("/api/v1/complaints/{id}/notes");
    let body = json!({"text": "same words"});
    let key = [("Idempotency-Key", "shared-key")];
    let a = app
        .post_with_headers(&path, &officer, body.clone(), &key)
        .await;
    let b = app.post_with_headers(&path, &advisor, body, &key).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(b.status, StatusCode::OK, "{}", b.text);
    assert_ne!(
        b.header(REPLAYED),
        Some("true"),
        "another user's key is not a repeat"
    );
    let types = app.event_types(&id).await;
    assert_eq!(count(&types, "NoteRecorded"), 2, "{types:?}");
}

async fn header_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.admin_token.clone();
    let id = app.new_case().await;
    let path = format!("/api/v1/complaints/{id}/notes");
    let before = app.history(&id).await;
    let too_long = "k".repeat(201);
    for key in ["", too_long.as_str()] {
        let r = app
            .post_with_headers(
                &path,
                &token,
                json!({"text": "x"}),
                &[("Idempotency-Key", key)],
            )
            .await;
        assert_error(r.status, &r.json, StatusCode::BAD_REQUEST, "invalid_header");
    }
    assert_eq!(app.history(&id).await, before);
    // 200 characters is allowed.
    let longest = "k".repeat(200);
    let r = app
        .post_with_headers(
            &path,
            &token,
            json!({"text": "x"}),
            &[("Idempotency-Key", &longest)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn rejection_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.admin_token.clone();
    let id = app.new_case().await;
    let path = format!("/api/v1/complaints/{id}/stage1-response");
    let key = [("Idempotency-Key", "respond-1")];
    let first = app
        .post_with_headers(&path, &token, stage_response("upheld"), &key)
        .await;
    assert_error(
        first.status,
        &first.json,
        StatusCode::CONFLICT,
        "not_acknowledged",
    );
    app.act_ok(&token, &id, "acknowledge", json!({})).await;
    // The stored first answer comes back, though the command would now succeed.
    let again = app
        .post_with_headers(&path, &token, stage_response("upheld"), &key)
        .await;
    assert_eq!((again.status, &again.json), (first.status, &first.json));
    assert_eq!(again.header(REPLAYED), Some("true"));
    assert_eq!(
        app.event_types(&id).await,
        ["Logged", "Defined", "Acknowledged"]
    );
}
