//! The KPI, TSM and self-assessment reports, the homes behind CH01, and a case's tenure.
//! Every expected figure is worked out by hand in the comments from the fixture below.

use casefile_tests::*;
use reqwest::Method;

both_backends! {
    reports_count_a_small_year_by_hand => reports_scenario,
    empty_periods_give_zeros_and_malformed_queries_a_400 => empty_and_malformed_scenario,
    the_annual_report_brings_the_year_together_as_json_csv_and_html => annual_scenario,
}

/// Logs a complaint received on `received_on` (England and Wales) with the given tenure;
/// returns `(id, reference)`.
async fn case_with_tenure(app: &TestApp, received_on: &str, tenure: &str) -> (String, String) {
    let view = app
        .log_complaint(
            &app.admin_token,
            backdated_complaint("chc-2024", "england-and-wales", received_on),
        )
        .await;
    let id = str_at(&view, "id");
    let view = app
        .act_ok(
            &app.admin_token,
            &id,
            "tenure",
            json!({"tenure": tenure, "occurred_at": format!("{received_on}T09:30:00Z")}),
        )
        .await;
    assert_eq!(view["tenure"], json!(tenure));
    (id, str_at(&view, "reference"))
}

async fn acknowledge_and_respond(app: &TestApp, id: &str, acknowledged: &str, responded: &str) {
    let token = app.admin_token.clone();
    app.act_ok(
        &token,
        id,
        "acknowledge",
        json!({"occurred_at": format!("{acknowledged}T10:00:00Z")}),
    )
    .await;
    app.act_ok(
        &token,
        id,
        "stage1-response",
        merge(
            stage_response("upheld"),
            json!({"occurred_at": format!("{responded}T15:00:00Z")}),
        ),
    )
    .await;
}

fn measure<'a>(report: &'a Value, code: &str, stage: u64, tenure: &str) -> &'a Value {
    report["measures"]
        .as_array()
        .unwrap_or_else(|| panic!("no measures: {report}"))
        .iter()
        .find(|m| m["code"] == code && m["stage"] == stage && m["tenure"] == tenure)
        .unwrap_or_else(|| panic!("no {code} stage {stage} {tenure}: {report}"))
}

async fn reports_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff().await;

    // Homes for 2025-26, set by the admin only.
    let homes = json!({"year": "2025-26", "lcra": 12500, "lcho": 900});
    let r = app
        .send(
            Method::PUT,
            "/api/v1/organisation/homes",
            Some(&staff.manager.token),
            Body::Json(homes.clone()),
            &[],
        )
        .await;
    assert_error(r.status, &r.json, StatusCode::FORBIDDEN, "forbidden");
    let r = app
        .send(
            Method::PUT,
            "/api/v1/organisation/homes",
            Some(&app.admin_token),
            Body::Json(homes.clone()),
            &[],
        )
        .await;
    assert_eq!((r.status, &r.json), (StatusCode::OK, &homes));
    let (status, read) = app
        .get(
            "/api/v1/organisation/homes?year=2025-26",
            &staff.compliance.token,
        )
        .await;
    assert_eq!((status, read), (StatusCode::OK, homes));

    // A: LCRA, received Thu 1 May 2025, acknowledged that day, answered Thu 8 May. Its
    //    Stage 1 response was due 10 working days after the acknowledgement, skipping the
    //    bank holiday of Mon 5 May: Fri 16 May. In time.
    let (a, a_ref) = case_with_tenure(&app, "2025-05-01", "lcra").await;
    acknowledge_and_respond(&app, &a, "2025-05-01", "2025-05-08").await;
    // B: LCRA, received and acknowledged Mon 2 June 2025; due Mon 16 June; answered Mon 30
    //    June. Late.
    let (b, b_ref) = case_with_tenure(&app, "2025-06-02", "lcra").await;
    acknowledge_and_respond(&app, &b, "2025-06-02", "2025-06-30").await;
    // C: LCHO, received Tue 1 July 2025, never acknowledged.
    let (_c, c_ref) = case_with_tenure(&app, "2025-07-01", "lcho").await;
    // D: LCRA, received 20 March 2025: the year before, counted in no 2025-26 figure.
    let (_d, d_ref) = case_with_tenure(&app, "2025-03-20", "lcra").await;

    // TSM 2025-26.
    let (status, tsm) = app
        .get(
            "/api/v1/reports/tsm?year=2025-26&detail=cases",
            &staff.compliance.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tsm}");
    assert_eq!(tsm["year"], "2025-26");
    assert_eq!(tsm["measures"].as_array().map(Vec::len), Some(8));
    let mut lcra_refs = vec![a_ref.clone(), b_ref.clone()];
    lcra_refs.sort();
    // CH01 Stage 1 LCRA: A and B received; 2 × 1000 / 12500 = 0.16 per 1,000 homes.
    assert_eq!(
        measure(&tsm, "CH01", 1, "lcra"),
        &json!({"code": "CH01", "stage": 1, "tenure": "lcra", "value": 0.16,
                "numerator": 2, "denominator": 12500,
                "cases": lcra_refs})
    );
    // CH01 Stage 1 LCHO: C; 1 × 1000 / 900 = 1.111… → 1.11.
    assert_eq!(
        measure(&tsm, "CH01", 1, "lcho"),
        &json!({"code": "CH01", "stage": 1, "tenure": "lcho", "value": 1.11,
                "numerator": 1, "denominator": 900, "cases": [c_ref]})
    );
    // CH01 Stage 2: nothing escalated; 0 per 1,000.
    assert_eq!(measure(&tsm, "CH01", 2, "lcra")["value"], json!(0.0));
    assert_eq!(measure(&tsm, "CH01", 2, "lcho")["numerator"], json!(0));
    // CH02 Stage 1 LCRA: A in time of A and B answered: 50%.
    assert_eq!(
        measure(&tsm, "CH02", 1, "lcra"),
        &json!({"code": "CH02", "stage": 1, "tenure": "lcra", "value": 50.0,
                "numerator": 1, "denominator": 2, "cases": [a_ref]})
    );
    // CH02 Stage 1 LCHO: nothing answered, so no percentage.
    assert_eq!(measure(&tsm, "CH02", 1, "lcho")["value"], Value::Null);
    assert_eq!(measure(&tsm, "CH02", 1, "lcho")["denominator"], json!(0));
    let everyone = tsm.to_string();
    assert!(!everyone.contains(&d_ref), "D is not in 2025-26: {tsm}");

    // The same as CSV.
    let r = app
        .send(
            Method::GET,
            "/api/v1/reports/tsm?year=2025-26&format=csv",
            Some(&staff.manager.token),
            Body::None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.header("content-type")
            .is_some_and(|ct| ct.starts_with("text/csv")),
        "{:?}",
        r.headers
    );
    let lines: Vec<&str> = r.text.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&"code,stage,tenure,value,numerator,denominator")
    );
    assert_eq!(lines.len(), 9, "{}", r.text);
    assert!(lines.contains(&"CH01,1,lcra,0.16,2,12500"), "{}", r.text);
    assert!(lines.contains(&"CH01,1,lcho,1.11,1,900"), "{}", r.text);
    assert!(lines.contains(&"CH02,1,lcra,50,1,2"), "{}", r.text);
    assert!(lines.contains(&"CH02,1,lcho,,0,0"), "{}", r.text);

    // KPI for April to June 2025: A and B received (C came in July, D in March).
    let (status, kpi) = app
        .get(
            "/api/v1/reports/kpi?from=2025-04-01&to=2025-06-30",
            &staff.manager.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{kpi}");
    assert_eq!(kpi["received"]["stage1"], json!(2));
    assert_eq!(kpi["received"]["stage2"], json!(0));
    // Both answered in the period, A in time and B late.
    assert_eq!(
        kpi["responded_on_time"]["stage1"],
        json!({"count": 1, "of": 2, "percent": 50.0})
    );
    // Neither escalated.
    assert_eq!(
        kpi["escalation_rate"],
        json!({"count": 0, "of": 2, "percent": 0.0})
    );
    let r = app
        .send(
            Method::GET,
            "/api/v1/reports/kpi?from=2025-04-01&to=2025-06-30&format=csv",
            Some(&staff.compliance.token),
            Body::None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r
        .header("content-type")
        .is_some_and(|ct| ct.starts_with("text/csv")));
    assert!(r.text.lines().count() > 1, "{}", r.text);

    // Self-assessment 2025-26: 6.3 (Stage 1 within 10 working days) met by A, not by B.
    let (status, sa) = app
        .get(
            "/api/v1/reports/self-assessment?year=2025-26",
            &staff.compliance.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sa}");
    let row = |provision: &str| {
        sa["rows"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["provision"] == provision))
            .cloned()
            .unwrap_or_else(|| panic!("no {provision}: {sa}"))
    };
    let stage1 = row("6.3");
    assert_eq!(
        stage1["measured"],
        json!({"count": 1, "of": 2, "percent": 50.0})
    );
    assert_eq!(stage1["comply"], json!(false));
    assert_eq!(stage1["falling_short"], json!([b_ref]));
    // 6.2: C was never acknowledged, so it falls short; A and B were acknowledged the day
    // they came in.
    let acknowledge = row("6.2");
    assert_eq!(acknowledge["comply"], json!(false));
    assert!(
        acknowledge["falling_short"]
            .as_array()
            .is_some_and(|refs| refs.contains(&json!(c_ref))
                && !refs.contains(&json!(a_ref))
                && !refs.contains(&json!(b_ref))),
        "{acknowledge}"
    );

    // A stored fold of an older format is not read as one: its case is folded from its
    // events instead, and every report gives the same figures.
    let paths = [
        "/api/v1/reports/kpi?from=2025-04-01&to=2025-06-30",
        "/api/v1/reports/tsm?year=2025-26&detail=cases",
        "/api/v1/reports/self-assessment?year=2025-26",
    ];
    let mut from_folds = Vec::new();
    for path in paths {
        let (status, report) = app.get(path, &staff.compliance.token).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        from_folds.push(report);
    }
    let aged = app
        .sql(
            r#"UPDATE case_records SET body = replace(body, '{"format":3,', '{"format":2,')
               WHERE body LIKE '{"format":3,%'"#,
        )
        .await;
    assert!(aged >= 3, "{aged} folds aged");
    for (path, expected) in paths.into_iter().zip(from_folds) {
        let (status, report) = app.get(path, &staff.compliance.token).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report, expected, "{path}");
    }

    // Roles: the auditor reads no report; nor does an officer.
    for token in [&staff.auditor.token, &staff.officer.token] {
        let (status, body) = app.get("/api/v1/reports/tsm?year=2025-26", token).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
}

async fn empty_and_malformed_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.admin_token.clone();

    // No cases and no homes: zeros, and null where a ratio has no denominator.
    let (status, kpi) = app
        .get("/api/v1/reports/kpi?from=2030-01-01&to=2030-01-31", &token)
        .await;
    assert_eq!(status, StatusCode::OK, "{kpi}");
    assert_eq!(kpi["received"]["stage1"], json!(0));
    assert_eq!(
        kpi["acknowledged_on_time"],
        json!({"count": 0, "of": 0, "percent": null})
    );
    let (status, tsm) = app.get("/api/v1/reports/tsm?year=2030-31", &token).await;
    assert_eq!(status, StatusCode::OK, "{tsm}");
    for m in tsm["measures"].as_array().unwrap() {
        assert_eq!(
            (&m["numerator"], &m["value"]),
            (&json!(0), &Value::Null),
            "{m}"
        );
    }
    let (status, sa) = app
        .get("/api/v1/reports/self-assessment?year=2030-31", &token)
        .await;
    assert_eq!(status, StatusCode::OK, "{sa}");
    for row in sa["rows"].as_array().unwrap() {
        assert_eq!(row["measured"]["percent"], Value::Null, "{row}");
    }
    let (status, homes) = app
        .get("/api/v1/organisation/homes?year=2030-31", &token)
        .await;
    assert_eq!(
        (status, homes),
        (
            StatusCode::OK,
            json!({"year": "2030-31", "lcra": 0, "lcho": 0})
        )
    );

    for (query, code) in [
        ("/api/v1/reports/tsm?year=2025", "malformed_reporting_year"),
        (
            "/api/v1/reports/tsm?year=2025-27",
            "reporting_year_not_consecutive",
        ),
        ("/api/v1/reports/tsm", "missing_parameter"),
        (
            "/api/v1/reports/self-assessment?year=25-26",
            "malformed_reporting_year",
        ),
        (
            "/api/v1/reports/kpi?from=2025-13-01&to=2025-12-31",
            "malformed_date",
        ),
        ("/api/v1/reports/kpi?from=2025-04-01", "missing_parameter"),
        (
            "/api/v1/reports/kpi?from=2025-05-01&to=2025-04-01",
            "period_ends_before_start",
        ),
        (
            "/api/v1/reports/kpi?from=2025-04-01&to=2025-05-01&format=pdf",
            "invalid_query",
        ),
        (
            "/api/v1/reports/tsm?year=2025-26&detail=everything",
            "invalid_query",
        ),
        (
            "/api/v1/organisation/homes?year=next",
            "malformed_reporting_year",
        ),
    ] {
        let (status, body) = app.get(query, &token).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, code);
    }
}

async fn annual_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff().await;
    let homes = json!({"year": "2025-26", "lcra": 12500, "lcho": 900});
    let r = app
        .send(
            Method::PUT,
            "/api/v1/organisation/homes",
            Some(&app.admin_token),
            Body::Json(homes),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // The fixture of the first scenario: A in time, B late, C never acknowledged, D the
    // year before.
    let (a, a_ref) = case_with_tenure(&app, "2025-05-01", "lcra").await;
    acknowledge_and_respond(&app, &a, "2025-05-01", "2025-05-08").await;
    let (b, _) = case_with_tenure(&app, "2025-06-02", "lcra").await;
    acknowledge_and_respond(&app, &b, "2025-06-02", "2025-06-30").await;
    let (_c, _) = case_with_tenure(&app, "2025-07-01", "lcho").await;
    let (_d, d_ref) = case_with_tenure(&app, "2025-03-20", "lcra").await;
    // E: received Fri 1 August 2025 and refused on Mon 4 August: legal proceedings.
    let (e, _) = case_with_tenure(&app, "2025-08-01", "lcra").await;
    let view = app
        .act_ok(
            &app.admin_token,
            &e,
            "refuse",
            json!({"reason": "legal_proceedings",
                   "explanation": "A claim about the same repair is before the county court.",
                   "occurred_at": "2025-08-04T11:00:00Z"}),
        )
        .await;
    assert_eq!(view["status"], "refused", "{view}");
    // A learning action from A, still open.
    let (status, view) = app
        .post(
            "/api/v1/learning",
            &app.admin_token,
            json!({"case_id": a, "learning": "Check <boiler> repairs a week later",
                   "theme": "Repairs", "owner": "Repairs manager", "due_on": "2027-01-29"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");

    let (status, report) = app
        .get(
            "/api/v1/reports/annual?year=2025-26",
            &staff.compliance.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["year"], "2025-26");
    // A, B, C and E received at Stage 1; none escalated; D is the year before.
    assert_eq!(report["volumes"], json!({"stage1": 4, "stage2": 0}));
    assert!(!report.to_string().contains(&d_ref), "{report}");
    // A and B answered, both upheld.
    assert_eq!(
        report["outcomes"]["stage1"],
        json!({"upheld": 2, "partly_upheld": 0, "not_upheld": 0})
    );
    // Timeliness as the KPI report gives it: A in time, B late.
    assert_eq!(
        report["timeliness"]["stage1_responded_on_time"],
        json!({"count": 1, "of": 2, "percent": 50.0})
    );
    // CH01 Stage 1 LCRA: A, B and E; 3 × 1000 / 12500 = 0.24 per 1,000 homes.
    let ch01 = report["tsm"]
        .as_array()
        .and_then(|ms| {
            ms.iter()
                .find(|m| m["code"] == "CH01" && m["stage"] == 1 && m["tenure"] == "lcra")
        })
        .cloned()
        .unwrap_or_else(|| panic!("no CH01: {report}"));
    assert_eq!(
        (&ch01["value"], &ch01["numerator"]),
        (&json!(0.24), &json!(3))
    );
    // One refusal, for legal proceedings.
    assert_eq!(report["refusals"]["total"], json!(1));
    assert!(
        report["refusals"]["by_reason"]
            .as_array()
            .is_some_and(
                |rs| rs.contains(&json!({"reason": "legal_proceedings", "count": 1}))
                    && rs.contains(&json!({"reason": "previously_considered", "count": 0}))
            ),
        "{report}"
    );
    // Stage 1 timescale (6.3) is not met, so it is a finding of non-compliance.
    let findings = report["non_compliance"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        findings
            .iter()
            .any(|r| r["provision"] == "6.3" && r["comply"] == json!(false)),
        "{report}"
    );
    assert!(
        findings.iter().all(|r| r["comply"] == json!(false)),
        "{report}"
    );
    // The learning action, open, from A.
    assert_eq!(report["learning"]["open"], json!(1));
    assert_eq!(report["learning"]["done"], json!(0));
    assert_eq!(report["learning"]["actions"][0]["reference"], json!(a_ref));
    assert_eq!(report["learning"]["actions"][0]["status"], json!("open"));

    // CSV: one row per figure.
    let r = app
        .send(
            Method::GET,
            "/api/v1/reports/annual?year=2025-26&format=csv",
            Some(&staff.manager.token),
            Body::None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r
        .header("content-type")
        .is_some_and(|ct| ct.starts_with("text/csv")));
    let lines: Vec<&str> = r.text.lines().collect();
    assert_eq!(lines.first(), Some(&"section,figure,value,count,of"));
    assert!(lines.contains(&"volumes,received_stage1,4,,"), "{}", r.text);
    assert!(
        lines.contains(&"refusals,legal_proceedings,1,,"),
        "{}",
        r.text
    );
    assert!(
        lines.contains(&"tsm,CH01_stage1_lcra,0.24,3,12500"),
        "{}",
        r.text
    );
    assert!(
        lines.contains(&"timeliness,stage1_responded_on_time,50,1,2"),
        "{}",
        r.text
    );

    // HTML: a printable page, with recorded text escaped.
    let r = app
        .send(
            Method::GET,
            "/api/v1/reports/annual?year=2025-26&format=html",
            Some(&app.admin_token),
            Body::None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.header("content-type")
            .is_some_and(|ct| ct.starts_with("text/html")),
        "{:?}",
        r.headers
    );
    assert!(r.text.starts_with("<!DOCTYPE html>"), "{}", r.text);
    assert!(
        r.text.contains("Check &lt;boiler&gt; repairs"),
        "{}",
        r.text
    );
    assert!(!r.text.contains("<boiler>"), "{}", r.text);

    // Roles as for the other reports; a bad year is a 400.
    for token in [&staff.auditor.token, &staff.officer.token] {
        let (status, body) = app.get("/api/v1/reports/annual?year=2025-26", token).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    let (status, body) = app
        .get("/api/v1/reports/annual?year=2025", &staff.manager.token)
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "malformed_reporting_year",
    );
}
