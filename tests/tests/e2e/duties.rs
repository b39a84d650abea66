//! What the Code asks a case to hold: representatives, updates given to the resident,
//! tracked actions that block a close, and learning listed across cases.

use casefile_tests::*;
use reqwest::Method;

both_backends! {
    representatives_updates_actions_and_learning_are_recorded_on_the_case => duties_scenario,
}

async fn duties_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff().await;
    let officer = staff.officer.token.clone();
    let id = app.new_case().await;
    let soon = (utc_today() + chrono::Days::new(30)).to_string();

    // A representative, then their authority ended with a reason.
    let view = app
        .act_ok(
            &staff.advisor.token,
            &id,
            "representatives",
            json!({
                "name": "Sam Advocate",
                "relationship": "advocate",
                "contact": {"email": "sam@example.org"},
                "authority": {"how": "Signed consent form", "given_on": "2025-05-01"},
                "correspondence_to": "both"
            }),
        )
        .await;
    let reps = view["representatives"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(reps.len(), 1, "{view}");
    assert_eq!(
        (
            &reps[0]["name"],
            &reps[0]["correspondence_to"],
            &reps[0]["active"]
        ),
        (&json!("Sam Advocate"), &json!("both"), &json!(true))
    );
    let rep = str_at(&reps[0], "representative_id");
    let end = |rep: String, token: String| {
        let app = &app;
        let id = id.clone();
        async move {
            app.send(
                Method::DELETE,
                &format!("/api/v1/complaints/{id}/representatives/{rep}"),
                Some(&token),
                Body::Json(json!({"reason": "The resident withdrew consent"})),
                &[],
            )
            .await
        }
    };
    let r = end(rep.clone(), staff.auditor.token.clone()).await;
    assert_error(r.status, &r.json, StatusCode::FORBIDDEN, "forbidden");
    let r = end(rep.clone(), officer.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let ended = &r.json["representatives"][0];
    assert_eq!(ended["active"], json!(false), "{ended}");
    assert_eq!(ended["ended"]["reason"], "The resident withdrew consent");
    let r = end(rep.clone(), officer.clone()).await;
    assert_error(
        r.status,
        &r.json,
        StatusCode::CONFLICT,
        "representative_already_ended",
    );
    let r = end("rep-9".to_string(), officer.clone()).await;
    assert_error(
        r.status,
        &r.json,
        StatusCode::NOT_FOUND,
        "unknown_representative",
    );

    // An update given to the resident, with the next one agreed.
    let view = app
        .act_ok(
            &officer,
            &id,
            "updates",
            json!({"channel": "phone", "summary": "Engineer booked", "next_update_due": soon}),
        )
        .await;
    assert_eq!(view["updates"][0]["summary"], "Engineer booked", "{view}");
    assert_eq!(view["updates"][0]["next_update_due"], json!(soon));

    // The Stage 1 response's remedy and outstanding actions become tracked actions.
    app.act_ok(&officer, &id, "acknowledge", json!({})).await;
    let view = app
        .act_ok(&officer, &id, "stage1-response", stage_response("upheld"))
        .await;
    let actions = view["actions"].as_array().cloned().unwrap_or_default();
    assert_eq!(actions.len(), 2, "{view}");
    let first = str_at(&actions[0], "action_id");
    let second = str_at(&actions[1], "action_id");
    let view = app
        .act_ok(
            &officer,
            &id,
            &format!("actions/{first}"),
            json!({"owner": "Repairs team", "due_on": soon}),
        )
        .await;
    let tracked = view["actions"][0].clone();
    assert_eq!(
        (&tracked["owner"], &tracked["due_on"], &tracked["state"]),
        (&json!("Repairs team"), &json!(soon), &json!("open")),
        "{tracked}"
    );
    // The path names the action; a body naming another is refused.
    let (status, body) = app
        .act(
            &officer,
            &id,
            &format!("actions/{first}"),
            json!({"action_id": second, "owner": "x", "due_on": soon}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    let (status, body) = app
        .act(
            &officer,
            &id,
            "actions/act-none",
            json!({"owner": "x", "due_on": soon}),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "unknown_action");

    // An action open after its due date shows on the dashboard, whose filter lists the case.
    let yesterday = (utc_today() - chrono::Days::new(1)).to_string();
    app.act_ok(
        &officer,
        &id,
        &format!("actions/{second}"),
        json!({"owner": "Repairs team", "due_on": yesterday}),
    )
    .await;
    let (_, dashboard) = app.get("/api/v1/dashboard", &staff.manager.token).await;
    assert_eq!(
        dashboard["actions_overdue"],
        json!({"count": 1, "filter": "actions=overdue"}),
        "{dashboard}"
    );
    let (status, queue) = app
        .get("/api/v1/complaints?actions=overdue", &staff.manager.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!(queue["total"], json!(1));
    assert_eq!(queue["items"][0]["id"], json!(id));

    // Open actions block a close that gives no reason.
    let (status, body) = app.act(&officer, &id, "close", json!({})).await;
    assert_error(status, &body, StatusCode::CONFLICT, "open_actions");
    for action in [&first, &second] {
        app.act_ok(
            &officer,
            &id,
            &format!("actions/{action}/complete"),
            json!({"evidence": "Boiler replaced, certificate on file"}),
        )
        .await;
    }
    let view = app.case(&id).await;
    assert_eq!(view["actions"][0]["state"], "done", "{view}");
    let (_, dashboard) = app.get("/api/v1/dashboard", &staff.manager.token).await;
    assert_eq!(
        dashboard["actions_overdue"]["count"],
        json!(0),
        "{dashboard}"
    );
    assert_eq!(
        view["actions"][0]["completed"]["text"],
        "Boiler replaced, certificate on file"
    );
    let (status, body) = app
        .act(
            &officer,
            &id,
            &format!("actions/{first}/complete"),
            json!({"evidence": "again"}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "action_already_completed",
    );
    app.act_ok(&officer, &id, "close", json!({})).await;

    // Learning, recorded by case id in the body and listed across cases.
    let other = app.new_case().await;
    let learning = |case_id: &str, theme: &str| {
        let soon = soon.clone();
        json!({
            "case_id": case_id,
            "learning": "Check boiler repairs a week later",
            "theme": theme,
            "owner": "Repairs manager",
            "due_on": soon
        })
    };
    let (status, body) = app
        .post(
            "/api/v1/learning",
            &staff.auditor.token,
            learning(&id, "Repairs"),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, view) = app
        .post("/api/v1/learning", &officer, learning(&id, "Repairs"))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let learn_id = str_at(&view["learning"][0], "learning_id");
    let (status, _) = app
        .post(
            "/api/v1/learning",
            &officer,
            learning(&other, "Communication"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post(
            "/api/v1/learning",
            &officer,
            merge(learning(&id, "Repairs"), json!({"case_id": null})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );

    let list = |query: &'static str| {
        let app = &app;
        let token = staff.auditor.token.clone();
        async move {
            let (status, body) = app.get(&format!("/api/v1/learning{query}"), &token).await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            body["items"]
                .as_array()
                .unwrap_or_else(|| panic!("no items: {body}"))
                .iter()
                .map(|row| {
                    (
                        str_at(row, "case_id"),
                        str_at(row, "theme"),
                        str_at(row, "status"),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list("?status=open").await.len(), 2);
    assert_eq!(
        list("?theme=repairs").await,
        vec![(id.clone(), "Repairs".to_string(), "open".to_string())]
    );
    assert_eq!(list("?status=done").await, vec![]);

    let (status, view) = app
        .post(
            &format!("/api/v1/learning/{id}/{learn_id}/complete"),
            &officer,
            json!({"what_changed": "Follow-up visits are now booked at every repair"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["learning"][0]["status"], "done");
    assert_eq!(
        list("?status=done").await,
        vec![(id.clone(), "Repairs".to_string(), "done".to_string())]
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/learning/{id}/{learn_id}/complete"),
            &officer,
            json!({"what_changed": "again"}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "learning_already_completed",
    );
    let (status, body) = app
        .get("/api/v1/learning?status=maybe", &staff.auditor.token)
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
}
