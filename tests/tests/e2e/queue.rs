//! Work-queue filters and dashboard figures against a hand-built set of cases whose answers
//! are worked out here, and every dashboard bucket clicked through: its `filter` must list
//! exactly the cases it counts.
//!
//! The SLA states depend on today, so the fixture is built so that they do not depend on
//! which day today is:
//! - a case received 60 days ago and never acknowledged is breached (5 working days are
//!   at most 9 calendar days, even across Christmas);
//! - a chc-2024 case received today has its acknowledgement due in 5 working days: pending;
//! - a cloud-direct case received today has its acknowledgement due 1 working day later:
//!   due soon (1 ≤ 2 working days).

use std::collections::BTreeSet;

use casefile_tests::*;

both_backends! {
    queue_filters_and_dashboard_figures_match_the_fixture => queue_scenario,
    free_text_with_a_word_most_cases_contain => common_word_scenario,
}

struct Fixture {
    breached: String,
    pending: String,
    due_soon: String,
    closed: String,
    withdrawn: String,
}

async fn fixture(app: &TestApp, s: &Staff) -> Fixture {
    let today = utc_today().to_string();
    let log =
        |body: Value| async move { str_at(&app.log_complaint(&app.admin_token, body).await, "id") };

    let breached = log(merge(
        backdated_complaint("chc-2024", "england-and-wales", &days_ago(60)),
        json!({"channel": "letter", "summary": "Damp in the bedroom"}),
    ))
    .await;
    app.act_ok(
        &s.officer.token,
        &breached,
        "categorise",
        json!({"theme": "Damp & mould", "root_cause": "Contractor"}),
    )
    .await;
    let (status, body) = app
        .post(
            &format!("/api/v1/complaints/{breached}/assign"),
            &s.manager.token,
            json!({"owner_id": s.officer.id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let pending = log(merge(
        backdated_complaint("chc-2024", "scotland", &today),
        json!({
            "channel": "phone",
            "summary": "Noisy neighbours",
            "complainant": {"name": "Zed Quincy", "address": "4 Leith Walk, Edinburgh EH6 8RE",
                            "resident_id": "R-77"},
            "occurred_at": null,
        }),
    ))
    .await;
    let due_soon = log(merge(
        backdated_complaint("cloud-direct", "northern-ireland", &today),
        json!({"summary": "Broadband outage", "occurred_at": null}),
    ))
    .await;

    // Closed today after a Stage 1 response; withdrawn today.
    let closed = log(merge(
        backdated_complaint("chc-2024", "england-and-wales", &days_ago(30)),
        json!({"summary": "Missed repair appointment"}),
    ))
    .await;
    app.act_ok(&s.officer.token, &closed, "acknowledge", json!({}))
        .await;
    app.act_ok(
        &s.officer.token,
        &closed,
        "stage1-response",
        stage_response("upheld"),
    )
    .await;
    app.act_ok(
        &s.officer.token,
        &closed,
        "close",
        json!({"learning": ["Confirm appointments by text"],
               "open_actions_reason": "The boiler is booked in with the contractor"}),
    )
    .await;
    let withdrawn = log(merge(
        backdated_complaint("chc-2024", "england-and-wales", &today),
        json!({"summary": "Bin collection", "occurred_at": null}),
    ))
    .await;
    app.act_ok(
        &s.officer.token,
        &withdrawn,
        "withdraw",
        json!({"reason": "Resolved on the phone"}),
    )
    .await;
    Fixture {
        breached,
        pending,
        due_soon,
        closed,
        withdrawn,
    }
}

fn of(cases: &[&String]) -> BTreeSet<String> {
    cases.iter().map(|c| (*c).clone()).collect()
}

async fn queue_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let f = fixture(&app, &s).await;
    let t = &s.advisor.token;
    let today = utc_today();
    let everything = of(&[
        &f.breached,
        &f.pending,
        &f.due_soon,
        &f.closed,
        &f.withdrawn,
    ]);

    assert_eq!(app.queue_ids(t, "").await, everything);
    assert_eq!(
        app.queue_ids(t, "status=open").await,
        of(&[&f.breached, &f.pending, &f.due_soon])
    );
    assert_eq!(app.queue_ids(t, "status=closed").await, of(&[&f.closed]));
    assert_eq!(app.queue_ids(t, "sla=breached").await, of(&[&f.breached]));
    assert_eq!(app.queue_ids(t, "sla=due_soon").await, of(&[&f.due_soon]));
    assert_eq!(app.queue_ids(t, "sla=pending").await, of(&[&f.pending]));
    assert_eq!(
        app.queue_ids(t, "theme=Damp%20%26%20mould").await,
        of(&[&f.breached])
    );
    assert_eq!(
        app.queue_ids(t, "status=open&theme=none").await,
        of(&[&f.pending, &f.due_soon])
    );
    assert_eq!(
        app.queue_ids(t, "root_cause=Contractor").await,
        of(&[&f.breached])
    );
    assert_eq!(
        app.queue_ids(t, &format!("owner={}", s.officer.id)).await,
        of(&[&f.breached])
    );
    assert_eq!(
        app.queue_ids(t, "status=open&owner=none").await,
        of(&[&f.pending, &f.due_soon])
    );
    assert_eq!(
        app.queue_ids(t, "division=scotland").await,
        of(&[&f.pending])
    );
    assert_eq!(
        app.queue_ids(t, "procedure=cloud-direct").await,
        of(&[&f.due_soon])
    );
    assert_eq!(app.queue_ids(t, "channel=phone").await, of(&[&f.pending]));
    assert_eq!(app.queue_ids(t, "channel=letter").await, of(&[&f.breached]));
    // Free text: complainant name, postcode in the address, summary, reference; any case.
    assert_eq!(app.queue_ids(t, "q=QUINCY").await, of(&[&f.pending]));
    assert_eq!(app.queue_ids(t, "q=eh6%208re").await, of(&[&f.pending]));
    assert_eq!(app.queue_ids(t, "q=broadband").await, of(&[&f.due_soon]));
    assert_eq!(
        app.queue_ids(t, "q=100%25").await,
        BTreeSet::new(),
        "% is literal"
    );
    let reference = str_at(&app.case(&f.closed).await, "reference");
    assert_eq!(
        app.queue_ids(t, &format!("q={reference}")).await,
        of(&[&f.closed])
    );
    // The search index (SQLite's trigram table, PostgreSQL's trigram index) is rebuilt
    // with the rows it indexes.
    app.rebuild().await;
    assert_eq!(app.queue_ids(t, "q=QUINCY").await, of(&[&f.pending]));
    assert_eq!(
        app.queue_ids(t, "q=h6").await,
        of(&[&f.pending]),
        "shorter than a trigram"
    );
    // Received and closed periods (inclusive).
    assert_eq!(
        app.queue_ids(t, &format!("received_from={today}&received_to={today}"))
            .await,
        of(&[&f.pending, &f.due_soon, &f.withdrawn])
    );
    assert_eq!(
        app.queue_ids(t, &format!("closed_from={today}&closed_to={today}"))
            .await,
        of(&[&f.closed, &f.withdrawn])
    );
    // Due dates count for open cases only: the breached case's acknowledgement is long due.
    assert_eq!(
        app.queue_ids(t, &format!("due_before={today}")).await,
        of(&[&f.breached])
    );
    assert_eq!(
        app.queue_ids(
            t,
            &format!("step=stage1_response&due_before={}", days_ago(0))
        )
        .await,
        BTreeSet::new(),
        "nobody is acknowledged, so no Stage 1 response is due"
    );
    // A resident's cases.
    let (status, body) = app.get("/api/v1/complainants/R-77/complaints", t).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"][0]["id"].as_str(), Some(f.pending.as_str()));

    // The default order is by next due date, cases without one last; paging by cursor
    // walks every case once.
    let (_, first) = app.get("/api/v1/complaints?limit=2", t).await;
    assert_eq!(
        str_at(&first["items"][0], "id"),
        f.breached,
        "most overdue first: {first}"
    );
    assert_eq!(first["total"], 5, "a full page counts every match: {first}");
    let (_, last) = app.get("/api/v1/complaints?limit=2&offset=4", t).await;
    assert_eq!(last["items"].as_array().unwrap().len(), 1, "{last}");
    assert_eq!(last["total"], 5, "{last}");
    let (_, past) = app.get("/api/v1/complaints?limit=2&offset=9", t).await;
    assert_eq!(past["items"].as_array().unwrap().len(), 0, "{past}");
    assert_eq!(past["total"], 5, "{past}");
    let mut seen = Vec::new();
    let mut query = "/api/v1/complaints?limit=2".to_string();
    loop {
        let (status, page) = app.get(&query, t).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| str_at(i, "id")),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("/api/v1/complaints?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), everything);
    let (_, by_received) = app.get("/api/v1/complaints?sort=received&limit=1", t).await;
    assert_ne!(
        str_at(&by_received["items"][0], "id"),
        f.breached,
        "oldest is last"
    );
    // Not hex; and hex of a date and an id that names no case, with a NUL in it (which
    // PostgreSQL's text cannot hold: it used to reach the query, a 500).
    for cursor in ["zz", &hex::encode("2026-01-01|a\0b")] {
        let (status, body) = app
            .get(&format!("/api/v1/complaints?cursor={cursor}"), t)
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    }
    let (status, body) = app.get("/api/v1/complaints?sla=late", t).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");

    // The dashboard, worked out from the fixture.
    let (status, d) = app.get("/api/v1/dashboard", t).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!(d["open"]["total"]["count"], 3, "{d}");
    assert_eq!(d["open"]["by_stage"]["stage1"]["count"], 3);
    assert_eq!(d["open"]["by_status"]["open"]["count"], 3);
    assert_eq!(d["open"]["by_theme"]["Damp & mould"]["count"], 1);
    assert_eq!(d["open"]["by_theme"]["none"]["count"], 2);
    assert_eq!(d["open"]["by_root_cause"]["Contractor"]["count"], 1);
    assert_eq!(d["open"]["by_owner"][&s.officer.id]["count"], 1);
    assert_eq!(d["open"]["by_owner"]["none"]["count"], 2);
    assert_eq!(d["open"]["by_division"]["scotland"]["count"], 1);
    assert_eq!(d["open"]["by_division"]["northern-ireland"]["count"], 1);
    assert_eq!(d["open"]["by_division"]["england-and-wales"]["count"], 1);
    for state in ["pending", "due_soon", "breached"] {
        assert_eq!(d["open"]["by_sla"][state]["count"], 1, "{state}: {d}");
    }
    assert_eq!(d["breached"]["count"], 1);
    assert_eq!(d["closed"]["this_week"]["count"], 2);
    assert_eq!(d["closed"]["this_month"]["count"], 2);
    assert!(d["received"]["this_week"]["count"].as_u64().unwrap() >= 3);
    assert!(d["average_open_age_working_days"].as_f64().unwrap() > 0.0);

    // Every bucket lists exactly the cases it counts.
    let mut buckets = Vec::new();
    collect_buckets(&d, &mut buckets);
    assert!(buckets.len() >= 20, "{buckets:?}");
    for (count, filter) in buckets {
        let listed = app.queue_ids(t, &filter).await;
        assert_eq!(listed.len() as u64, count, "bucket {filter} counts {count}");
    }
}

/// Every `{count, filter}` object anywhere in the dashboard.
fn collect_buckets(value: &Value, out: &mut Vec<(u64, String)>) {
    match value {
        Value::Object(map) => {
            if let (Some(count), Some(filter)) = (
                map.get("count").and_then(Value::as_u64),
                map.get("filter").and_then(Value::as_str),
            ) {
                out.push((count, filter.to_string()));
            } else {
                for v in map.values() {
                    collect_buckets(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_buckets(v, out)),
        _ => {}
    }
}

/// A search for a phrase whose one word nearly every case contains. PostgreSQL's queue looks
/// up only the rarer words in its trigram index once ANALYZE has counted the words
/// (migration 0018), and checks the phrase row by row: the answers must be the same as a
/// plain substring search, worked out here from the summaries.
async fn common_word_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut summaries: Vec<String> = (0..24)
        .map(|n| format!("Boiler {n} keeps failing"))
        .collect();
    summaries.push("Boiler 120 keeps failing".to_string());
    summaries.push("Flat 12, boiler broken".to_string());
    summaries.push("The boiler".to_string());
    // Holds every trigram of `bcabc` but not `bcabc`: the trigram table finds it, the
    // exact check must not.
    summaries.push("Mould code abcab".to_string());
    summaries.push("Said \"boiler\" twice".to_string());
    let mut cases = Vec::new();
    for summary in &summaries {
        let view = app
            .log_complaint(
                &app.admin_token,
                merge(valid_complaint(), json!({"summary": summary})),
            )
            .await;
        cases.push((str_at(&view, "id"), summary.to_lowercase()));
    }
    app.sql("ANALYZE").await;
    if backend == Backend::Postgres {
        let common = app
            .sql_texts(
                "SELECT word FROM pg_stats_ext_exprs s, \
                 unnest(s.most_common_elems::text::text[]) WITH ORDINALITY AS w(word, i) \
                 WHERE s.statistics_schemaname = current_schema() \
                 AND s.statistics_name = 'case_summaries_search_words' \
                 AND s.most_common_elem_freqs[w.i] >= 0.05",
            )
            .await;
        assert!(
            common.iter().any(|w| w == "boiler"),
            "ANALYZE counts `boiler` as common: {common:?}"
        );
    }
    let t = &app.admin_token;
    // With a rarer word of three characters or more (`120`), and without one.
    for phrase in [
        "boiler 120",
        "120 boiler",
        "Boiler 120 keeps",
        "boiler 12",
        "12 boiler",
        "boiler",
        "keeps failing",
        "abcab",
        "bcabc",
        "\"boiler\"",
        "\"",
    ] {
        let expected: BTreeSet<String> = cases
            .iter()
            .filter(|(_, summary)| summary.contains(&phrase.to_lowercase()))
            .map(|(id, _)| id.clone())
            .collect();
        let query = format!("q={}", phrase.replace(' ', "%20").replace('"', "%22"));
        assert_eq!(app.queue_ids(t, &query).await, expected, "{phrase}");
    }

    // The longest search the queue takes is looked up (on SQLite, through its 25 distinct
    // trigrams); one character more is refused, in the API and on the queue's page.
    let longest: String = "boiler 120 keeps failing "
        .repeat(8)
        .chars()
        .take(200)
        .collect();
    assert_eq!(
        app.queue_ids(t, &format!("q={}", longest.replace(' ', "%20")))
            .await,
        BTreeSet::new()
    );
    let too_long = format!("{}x", longest.replace(' ', "%20"));
    let (status, body) = app
        .get(&format!("/api/v1/complaints?q={too_long}"), t)
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    let web = app.web_session("wren@example.org", &["admin"]).await;
    let page = web.get(&format!("/cases?q={too_long}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Enter a search of 200 characters or fewer")
            && html.contains(r##"href="#queue-q""##),
        "the page names the problem and links to the search box"
    );
}
