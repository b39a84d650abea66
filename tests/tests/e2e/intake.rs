//! Logging a complaint as staff expect it: today and the organisation's division by default,
//! a postcode checked and stored in its usual form, a preferred way of contact, and a
//! referral whose ombudsman reference arrives later.

use casefile_tests::*;

both_backends! {
    a_complaint_logged_with_the_least_takes_todays_date_and_the_default_division => defaults_scenario,
    a_postcode_is_checked_stored_in_its_usual_form_and_searchable => postcode_scenario,
    a_referral_can_be_recorded_before_the_schemes_reference_arrives => referral_scenario,
}

fn least() -> Value {
    json!({
        "procedure": "chc-2024",
        "channel": "phone",
        "complainant": {"name": "Lee Minimal"},
        "summary": "Missed repair",
        "definition": "The repair appointment on Monday was missed.",
    })
}

async fn defaults_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let view = app.log_complaint(&app.admin_token, least()).await;
    assert!(
        uk_today_candidates().contains(view["received_on"].as_str().unwrap_or("")),
        "received today: {view}"
    );
    assert_eq!(view["division"], "england-and-wales", "{view}");

    let scottish = spawn_app_with(backend, |config| {
        config.default_division = casefile_domain::Division::Scotland;
    })
    .await;
    let view = scottish.log_complaint(&scottish.admin_token, least()).await;
    assert_eq!(view["division"], "scotland", "{view}");
    // A division given wins over the default.
    let view = scottish
        .log_complaint(
            &scottish.admin_token,
            merge(least(), json!({"division": "northern-ireland"})),
        )
        .await;
    assert_eq!(view["division"], "northern-ireland", "{view}");
}

async fn postcode_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = merge(
        least(),
        json!({"complainant": {"name": "Pat Post", "postcode": "eh68re",
                               "preferred_contact": "text_message"}}),
    );
    let view = app.log_complaint(&app.admin_token, body).await;
    assert_eq!(view["complainant"]["postcode"], "EH6 8RE", "{view}");
    assert_eq!(view["complainant"]["preferred_contact"], "text_message");
    let (status, list) = app
        .get("/api/v1/complaints?q=eh6%208re", &app.admin_token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 1, "{list}");

    for bad in ["EH6", "123 456", "EH6 8R3"] {
        let (status, body) = app
            .post(
                "/api/v1/complaints",
                &app.admin_token,
                merge(
                    least(),
                    json!({"complainant": {"name": "X", "postcode": bad}}),
                ),
            )
            .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        );
        assert!(
            body["message"]
                .as_str()
                .unwrap_or("")
                .contains("complainant.postcode"),
            "the message names the field: {body}"
        );
    }
    let (status, body) = app
        .post(
            "/api/v1/complaints",
            &app.admin_token,
            merge(
                least(),
                json!({"complainant": {"name": "X", "preferred_contact": "pigeon"}}),
            ),
        )
        .await;
    assert!(status.is_client_error(), "{status}: {body}");
    assert_error_shape(&body);
}

async fn referral_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let id = str_at(
        &app.log_complaint(
            &s.officer.token,
            merge(least(), json!({"procedure": "cloud-direct"})),
        )
        .await,
        "id",
    );
    app.act_ok(&s.officer.token, &id, "acknowledge", json!({}))
        .await;
    app.act_ok(
        &s.reviewer.token,
        &id,
        "deadlock",
        json!({"reason": "The resident asked for a deadlock letter.", "on_request": true}),
    )
    .await;
    let (status, body) = app
        .act(
            &s.compliance.token,
            &id,
            "referral-reference",
            json!({"reference": "OS-1"}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "not_referred");
    let view = app
        .act_ok(
            &s.compliance.token,
            &id,
            "refer",
            json!({"scheme": "ombudsman-services"}),
        )
        .await;
    assert_eq!(view["referral"]["reference"], Value::Null, "{view}");
    let view = app
        .act_ok(
            &s.compliance.token,
            &id,
            "referral-reference",
            json!({"reference": "OS-2026-77"}),
        )
        .await;
    assert_eq!(view["referral"]["reference"], "OS-2026-77", "{view}");
    let (status, body) = app
        .act(
            &s.compliance.token,
            &id,
            "referral-reference",
            json!({"reference": "OS-2026-78"}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "referral_reference_recorded",
    );
    let types = app.event_types(&id).await;
    assert_eq!(
        types.last().map(String::as_str),
        Some("ReferralReferenceRecorded")
    );
}
