//! The users API's sign-in fields, over HTTP: set at creation or with `PUT /users/{id}`,
//! checked, unique, never shown back as a password; one-time set-password links.

use casefile_tests::{assert_error, json, spawn_app, str_at, Backend, Body, StatusCode, TestApp};
use reqwest::Method;

use crate::journeys::PASSWORD;

casefile_tests::both_backends! {
    an_administrator_sets_and_clears_a_users_sign_in_email_and_password => an_administrator_sets_and_clears_a_users_sign_in_email_and_password_scenario,
    sign_in_fields_are_checked_and_an_email_belongs_to_one_user => sign_in_fields_are_checked_and_an_email_belongs_to_one_user_scenario,
    a_set_password_link_is_made_for_one_user_by_an_administrator => a_set_password_link_is_made_for_one_user_by_an_administrator_scenario,
}

async fn put(
    app: &TestApp,
    id: &str,
    token: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let r = app
        .send(
            Method::PUT,
            &format!("/api/v1/users/{id}"),
            Some(token),
            Body::Json(body),
            &[],
        )
        .await;
    (r.status, r.json)
}

async fn an_administrator_sets_and_clears_a_users_sign_in_email_and_password_scenario(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (id, token) = app.create_user("Sam Patel", &["officer"]).await;

    let (status, body) = put(
        &app,
        &id,
        &app.admin_token,
        json!({"email": " Sam@Example.org "}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"id": id, "name": "Sam Patel", "roles": ["officer"],
               "email": "sam@example.org", "has_password": false})
    );
    let (status, body) = put(&app, &id, &app.admin_token, json!({"password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["has_password"], json!(true));
    assert_eq!(
        body["email"],
        json!("sam@example.org"),
        "an absent field is kept"
    );
    assert!(!body.to_string().contains(PASSWORD));

    let (status, body) = put(&app, &id, &app.admin_token, json!({"email": null})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], json!(null));

    // Only an administrator may.
    let (status, body) = put(&app, &id, &token, json!({"password": PASSWORD})).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = put(&app, "no-such-user", &app.admin_token, json!({})).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

async fn sign_in_fields_are_checked_and_an_email_belongs_to_one_user_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            json!({"name": "Sam", "roles": ["officer"], "email": "sam@example.org"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let sam = str_at(&body, "id");
    let (status, body) = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            json!({"name": "Sam Two", "roles": ["officer"], "email": "SAM@example.org"}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "email_taken");
    let (status, body) = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            json!({"name": "Short", "roles": ["officer"], "password": "too short"}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "password_too_short",
    );
    assert_eq!(body["details"], json!({"field": "password"}));
    let (status, body) = put(
        &app,
        &sam,
        &app.admin_token,
        json!({"email": "not an address"}),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_email",
    );
    let (status, body) = put(&app, &sam, &app.admin_token, json!({"nickname": "x"})).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    // A refused user was not created.
    let (_, users) = app.get("/api/v1/users", &app.admin_token).await;
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["name"].as_str())
        .collect();
    assert_eq!(names, vec!["Administrator", "Sam"]);
}

async fn a_set_password_link_is_made_for_one_user_by_an_administrator_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, token) = app.create_user("Sam", &["officer"]).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/users/{id}/password-link"),
            &app.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let url = str_at(&body, "url");
    let path = str_at(&body, "path");
    assert!(path.starts_with("/set-password?token=cf_"), "{path}");
    assert_eq!(url, format!("{}{path}", app.address));
    assert!(body["expires_at"].is_string());
    let page = app.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Set your password"));

    let (status, body) = app
        .post(
            &format!("/api/v1/users/{id}/password-link"),
            &token,
            json!({}),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app
        .post(
            "/api/v1/users/nobody/password-link",
            &app.admin_token,
            json!({}),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}
