//! `GET /complaints`: filters and paging.

use std::collections::BTreeSet;

use casefile_tests::*;

both_backends! {
    filters_and_paging => listing_scenario,
}

async fn list(app: &TestApp, query: &str) -> (u64, Vec<String>) {
    let (status, body) = app
        .get(&format!("/api/v1/complaints{query}"), &app.admin_token)
        .await;
    assert_eq!(status, StatusCode::OK, "GET /complaints{query}: {body}");
    let total = body["total"]
        .as_u64()
        .unwrap_or_else(|| panic!("no total: {body}"));
    let ids = body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {body}"))
        .iter()
        .map(|item| str_at(item, "id"))
        .collect();
    (total, ids)
}

async fn listing_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let (officer_id, _) = app.create_user("Olu", &["officer"]).await;
    let a = app.new_case().await;
    let b = app.new_case().await;
    let c = app.new_case().await;
    let view = app
        .log_complaint(
            &app.admin_token,
            merge(valid_complaint(), json!({"procedure": "cloud-direct"})),
        )
        .await;
    let d = str_at(&view, "id");
    let token = app.admin_token.clone();
    app.act_ok(&token, &a, "assign", json!({"owner_id": officer_id}))
        .await;
    app.act_ok(
        &token,
        &b,
        "withdraw",
        json!({"reason": "resolved informally"}),
    )
    .await;
    app.act_ok(&token, &c, "acknowledge", json!({})).await;
    app.act_ok(&token, &c, "stage1-response", stage_response("upheld"))
        .await;
    app.act_ok(&token, &c, "escalate", json!({"reason": "unhappy"}))
        .await;

    let all: BTreeSet<String> = [&a, &b, &c, &d].into_iter().cloned().collect();
    let (total, ids) = list(&app, "").await;
    assert_eq!(total, 4);
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), all);

    let one = |id: &String| vec![id.clone()];
    assert_eq!(list(&app, "?procedure=cloud-direct").await, (1, one(&d)));
    assert_eq!(list(&app, "?status=withdrawn").await, (1, one(&b)));
    assert_eq!(
        list(&app, &format!("?owner_id={officer_id}")).await,
        (1, one(&a))
    );
    assert_eq!(list(&app, "?stage=stage2").await, (1, one(&c)));
    let (total, _) = list(&app, "?status=open").await;
    assert_eq!(total, 3);
    let (total, _) = list(&app, "?status=open&procedure=chc-2024").await;
    assert_eq!(total, 2);

    // Paging: `total` counts every match, `items` only the page.
    let (total, first) = list(&app, "?limit=3").await;
    assert_eq!((total, first.len()), (4, 3));
    let (total, rest) = list(&app, "?limit=3&offset=3").await;
    assert_eq!((total, rest.len()), (4, 1));
    let paged: BTreeSet<String> = first.into_iter().chain(rest).collect();
    assert_eq!(paged, all, "the pages together list every case once");
    let (total, none) = list(&app, "?offset=10").await;
    assert_eq!((total, none.len()), (4, 0));

    // Any role reads the list, the auditor included.
    let (_, auditor) = app.create_user("Aud", &["auditor"]).await;
    let (status, body) = app.get("/api/v1/complaints", &auditor).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 4);
}
