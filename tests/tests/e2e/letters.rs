//! Letters: rendered from the case as it stands, recorded on it by one `LetterIssued`
//! event, returned with `201` and again by `GET …/letters/{letter_id}`. Each kind is checked
//! for what the Complaint Handling Code requires it to say, field by field, against the
//! facts this suite entered itself.

use casefile_tests::*;
use chrono::NaiveDate;

both_backends! {
    every_letter_kind_says_what_the_code_requires => letters_through_both_stages,
    refusal_and_deadlock_letters_give_the_right_to_the_ombudsman => refusal_and_deadlock,
    an_organisations_templates_and_name_replace_the_built_in_ones => own_templates,
}

/// A fresh folder in the temp dir holding `files`.
fn folder(files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "casefile-templates-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

async fn own_templates(backend: Backend) {
    let templates = folder(&[(
        "acknowledgement.txt",
        "{% set subject = \"Acme Homes: complaint \" ~ case.reference %}\n\
         Dear {{ addressee.name }},\nWe at {{ landlord.name }} have your complaint.\n",
    )]);
    let organisation = folder(&[(
        "organisation.toml",
        "name = \"Acme Homes\"\naddress = [\"1 Acme Way\", \"Leeds\", \"LS1 1AA\"]\n",
    )]);
    let app = spawn_app_with(backend, |config| {
        config.templates = Some(templates.clone());
        config.organisation = Some(organisation.join("organisation.toml"));
    })
    .await;
    let view = app.log_complaint(&app.admin_token, valid_complaint()).await;
    let id = str_at(&view, "id");
    app.act_ok(&app.admin_token, &id, "acknowledge", json!({}))
        .await;
    let letter = issue(&app, &app.admin_token, &id, "acknowledgement").await;
    let reference = str_at(&view, "reference");
    assert_eq!(
        letter["subject"],
        format!("Acme Homes: complaint {reference}")
    );
    assert_eq!(
        letter["text"],
        "Dear Alex Morgan,\nWe at Acme Homes have your complaint.\n"
    );
    // The HTML template is still the built-in one, signed for the organisation.
    assert!(str_at(&letter, "html").contains("1 Acme Way"), "{letter}");
    let _ = std::fs::remove_dir_all(templates);
    let _ = std::fs::remove_dir_all(organisation);
}

/// A template that does not render stops the service before it listens, and the message
/// names the file and the line.
#[tokio::test]
async fn a_broken_letter_template_stops_the_start_naming_file_and_line() {
    let templates = folder(&[(
        "refusal.txt",
        "{% set subject = \"Refused\" %}\nDear {{ addressee.name }},\n{{ refusal.no_such_field }}\n",
    )]);
    let store = std::env::temp_dir().join(format!(
        "casefile-test-{}.db",
        uuid::Uuid::new_v4().simple()
    ));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_casefile-test-server"))
        .env(
            "CASEFILE_DATABASE_URL",
            format!("sqlite://{}", store.display()),
        )
        .env("CASEFILE_LISTEN", "127.0.0.1:0")
        .env("CASEFILE_TEMPLATES", &templates)
        .env("CASEFILE_LOG", "error")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "started with a broken template");
    let file = templates.join("refusal.txt");
    assert!(
        stderr.contains(&format!("{} line 3", file.display())),
        "names the file and line 3: {stderr}"
    );
    assert!(!store.exists(), "stopped before touching the store");
    let _ = std::fs::remove_dir_all(templates);
}

/// `3 March 2025`, as the letters print dates.
fn long_date(iso: &str) -> String {
    let date = NaiveDate::parse_from_str(iso, "%Y-%m-%d").unwrap();
    date.format("%-d %B %Y").to_string()
}

/// `POST …/letters` that must succeed; returns the letter.
async fn issue(app: &TestApp, token: &str, id: &str, kind: &str) -> Value {
    let (status, letter) = app.act(token, id, "letters", json!({"kind": kind})).await;
    assert_eq!(status, StatusCode::CREATED, "{kind} letter: {letter}");
    assert_eq!(letter["kind"], kind, "{letter}");
    assert_eq!(letter["case_id"], id, "{letter}");
    letter
}

/// The HTML's text: tags dropped, whitespace runs as one space.
fn html_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Asserts the letter's text and its HTML both say each phrase (a list item `- x` is
/// looked for as `x` in the HTML, whose lists have no dashes).
#[track_caller]
fn says(letter: &Value, part: &str, expected: &[&str]) {
    let text = letter["text"].as_str().unwrap();
    let html = html_text(letter["html"].as_str().unwrap());
    for phrase in expected {
        assert!(
            text.contains(phrase),
            "the {} letter's text lacks {part}: `{phrase}`\n{text}",
            letter["kind"]
        );
        let phrase = phrase.strip_prefix("- ").unwrap_or(phrase);
        assert!(
            html.contains(phrase),
            "the {} letter's HTML lacks {part}: `{phrase}`\n{html}",
            letter["kind"]
        );
    }
}

/// The Housing Ombudsman's published contact details (chc-2024's scheme).
const HOUSING_OMBUDSMAN: &[&str] = &[
    "Housing Ombudsman Service",
    "PO Box 1484",
    "0300 111 3000",
    "info@housing-ombudsman.org.uk",
    "www.housing-ombudsman.org.uk",
];

async fn letters_through_both_stages(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let view = app.log_complaint(&s.advisor.token, valid_complaint()).await;
    let id = str_at(&view, "id");
    let reference = str_at(&view, "reference");

    // Nothing acknowledged yet: the letter does not fit the case.
    let (status, body) = app
        .act(
            &s.officer.token,
            &id,
            "letters",
            json!({"kind": "acknowledgement"}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "not_acknowledged");
    // An unknown kind, a stray field, a role that does not handle cases, a case that
    // does not exist.
    let (status, body) = app
        .act(&s.officer.token, &id, "letters", json!({"kind": "apology"}))
        .await;
    assert!(status.is_client_error(), "{status}: {body}");
    assert_error_shape(&body);
    let (status, body) = app
        .act(
            &s.officer.token,
            &id,
            "letters",
            json!({"kind": "refusal", "extra": 1}),
        )
        .await;
    assert!(status.is_client_error(), "{status}: {body}");
    let (status, body) = app
        .act(&s.auditor.token, &id, "letters", json!({"kind": "refusal"}))
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app
        .act(
            &s.officer.token,
            "0190c6e2-0000-7000-8000-000000000099",
            "letters",
            json!({"kind": "refusal"}),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.history(&id).await.len(), 2, "nothing was recorded");

    // Acknowledgement: the stage, the complaint as defined, the response date.
    let view = app
        .act_ok(&s.officer.token, &id, "acknowledge", json!({}))
        .await;
    let ack = issue(&app, &s.advisor.token, &id, "acknowledgement").await;
    says(
        &ack,
        "the stage and the definition",
        &[
            "Stage 1",
            "The boiler has failed repeatedly and the repairs have not lasted.",
            "A boiler that works",
            &reference,
        ],
    );
    let due = long_date(&str_at(&view, "/deadlines/stage1_response/due"));
    says(&ack, "the response date", &[&due]);
    assert_eq!(
        ack["subject"],
        format!("Your complaint {reference}: we have received it")
    );

    // The same letter again, and as correspondence on the case; its event in the trail.
    let letter_id = str_at(&ack, "letter_id");
    let (status, again) = app
        .get(
            &format!("/api/v1/complaints/{id}/letters/{letter_id}"),
            &s.auditor.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, ack);
    let (status, body) = app
        .get(
            &format!("/api/v1/complaints/{id}/letters/no-such-letter"),
            &s.auditor.token,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let view = app.case(&id).await;
    let letters: Vec<&Value> = view["correspondence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["letter"].is_null())
        .collect();
    assert_eq!(letters.len(), 1, "{view}");
    assert_eq!(letters[0]["letter"]["letter_id"], letter_id.as_str());
    assert_eq!(letters[0]["letter"]["kind"], "acknowledgement");
    assert_eq!(letters[0]["direction"], "outbound");
    assert_eq!(letters[0]["channel"], "letter");
    assert_eq!(letters[0]["text"], ack["subject"]);
    let history = app.history(&id).await;
    let last = history.last().unwrap();
    assert_eq!(last["type"], "LetterIssued");
    assert_eq!(last["payload"]["letter_id"], letter_id.as_str());
    assert_eq!(last["payload"]["html"], ack["html"]);
    assert_eq!(last["payload"]["text"], ack["text"]);

    // A repeat under the same Idempotency-Key answers the same letter and records none.
    let events_before = app.history(&id).await.len();
    let path = format!("/api/v1/complaints/{id}/letters");
    let first = app
        .post_with_headers(
            &path,
            &s.advisor.token,
            json!({"kind": "acknowledgement"}),
            &[("Idempotency-Key", "ack-letter-1")],
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let repeat = app
        .post_with_headers(
            &path,
            &s.advisor.token,
            json!({"kind": "acknowledgement"}),
            &[("Idempotency-Key", "ack-letter-1")],
        )
        .await;
    assert_eq!(repeat.status, StatusCode::CREATED);
    assert_eq!(repeat.header("idempotency-replayed"), Some("true"));
    assert_eq!(repeat.json, first.json);
    assert_eq!(app.history(&id).await.len(), events_before + 1);

    // Extension: the reason and the new date.
    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "extend",
            json!({"working_days": 5, "reason": "Waiting for the engineer's report"}),
        )
        .await;
    let extension = issue(&app, &s.officer.token, &id, "extension").await;
    let new_due = long_date(&str_at(&view, "/deadlines/stage1_response/due"));
    says(
        &extension,
        "the new date and the reason",
        &[
            &format!("We will now respond by {new_due}."),
            "5 working days",
        ],
    );
    // The reason has an apostrophe: check the text only.
    assert!(extension["text"]
        .as_str()
        .unwrap()
        .contains("Waiting for the engineer's report"));

    // Stage 1 response (chc-2024 has two stages): stage, definition, decision and
    // reasons, remedy, outstanding actions, how to escalate, the ombudsman.
    let (status, body) = app
        .act(
            &s.officer.token,
            &id,
            "letters",
            json!({"kind": "stage1_response"}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "not_responded");
    app.act_ok(
        &s.officer.token,
        &id,
        "stage1-response",
        stage_response("partly_upheld"),
    )
    .await;
    let stage1 = issue(&app, &s.officer.token, &id, "stage1_response").await;
    says(&stage1, "the stage", &["This is our Stage 1 response"]);
    says(
        &stage1,
        "the definition",
        &["The boiler has failed repeatedly and the repairs have not lasted."],
    );
    says(
        &stage1,
        "the decision and reasons",
        &[
            "Your complaint is partly upheld.",
            "We will replace the boiler.",
            "The engineer",
        ],
    );
    says(
        &stage1,
        "the remedy and outstanding actions",
        &["- Replace boiler", "£150.00", "- Fit new boiler"],
    );
    says(
        &stage1,
        "how to escalate",
        &["escalate your complaint to Stage 2"],
    );
    says(
        &stage1,
        "the ombudsman's contact details",
        HOUSING_OMBUDSMAN,
    );
    says(
        &stage1,
        "the right to go to the ombudsman",
        &["you have the right to ask it to investigate your complaint"],
    );
    assert!(
        !stage1["text"].as_str().unwrap().contains("final response"),
        "a Stage 1 response of a two-stage procedure is not final"
    );

    // Stage 2 response: the final one.
    app.act_ok(
        &s.officer.token,
        &id,
        "escalate",
        json!({"reason": "The repair did not last."}),
    )
    .await;
    app.act_ok(&s.reviewer.token, &id, "stage2-acknowledge", json!({}))
        .await;
    app.define_stage2(&s.reviewer.token, &id, None).await;
    app.act_ok(
        &s.reviewer.token,
        &id,
        "stage2-response",
        json!({
            "outcome": "upheld",
            "decision": "We will fit a new boiler and pay for the heaters.",
            "reasons": "The Stage 1 repair failed within a week.",
            "remedy": {"actions": ["Fit a new boiler"], "compensation_pence": 45050},
            "outstanding_actions": ["Inspect the radiators"]
        }),
    )
    .await;
    let stage2 = issue(&app, &s.reviewer.token, &id, "stage2_response").await;
    says(
        &stage2,
        "the stage",
        &["This is our Stage 2 response to your complaint. It is our final response"],
    );
    says(
        &stage2,
        "the Stage 2 definition",
        &[
            "The boiler still fails after the Stage 1 repair.",
            "A new boiler; Compensation for the weeks without heating",
        ],
    );
    says(
        &stage2,
        "the decision and reasons",
        &[
            "Your complaint is upheld.",
            "We will fit a new boiler and pay for the heaters.",
            "The Stage 1 repair failed within a week.",
        ],
    );
    says(
        &stage2,
        "the remedy and outstanding actions",
        &["- Fit a new boiler", "£450.50", "- Inspect the radiators"],
    );
    says(
        &stage2,
        "the ombudsman's contact details",
        HOUSING_OMBUDSMAN,
    );
    says(
        &stage2,
        "the right to go to the ombudsman",
        &["you have the right to refer your complaint to the independent redress scheme, Housing Ombudsman Service"],
    );
    assert!(
        !stage2["text"].as_str().unwrap().contains("escalate"),
        "a final response offers no further stage"
    );
}

async fn refusal_and_deadlock(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;

    // Refusal: the reason and the right to go to the ombudsman.
    let body = merge(
        valid_complaint(),
        json!({"issue_arose_on": days_ago(3 + 2 * 366)}),
    );
    let id = str_at(&app.log_complaint(&s.advisor.token, body).await, "id");
    let (status, body) = app
        .act(&s.manager.token, &id, "letters", json!({"kind": "refusal"}))
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "not_refused");
    app.act_ok(
        &s.officer.token,
        &id,
        "refuse",
        json!({"reason": "older_than_twelve_months",
               "explanation": "The boiler issue arose in an earlier tenancy year."}),
    )
    .await;
    let refusal = issue(&app, &s.manager.token, &id, "refusal").await;
    says(
        &refusal,
        "the reason",
        &[
            "more than twelve months before you told us about it",
            "The boiler issue arose in an earlier tenancy year.",
        ],
    );
    says(
        &refusal,
        "the ombudsman's contact details",
        HOUSING_OMBUDSMAN,
    );
    says(
        &refusal,
        "the right to go to the ombudsman",
        &["you have the right to refer it to the independent redress scheme"],
    );

    // Deadlock on Cloud Direct's procedure, whose scheme is Ombudsman Services.
    let body = merge(valid_complaint(), json!({"procedure": "cloud-direct"}));
    let id = str_at(&app.log_complaint(&s.advisor.token, body).await, "id");
    app.act_ok(&s.officer.token, &id, "acknowledge", json!({}))
        .await;
    app.act_ok(
        &s.reviewer.token,
        &id,
        "deadlock",
        json!({"reason": "The resident asked for a deadlock letter.", "on_request": true}),
    )
    .await;
    let deadlock = issue(&app, &s.reviewer.token, &id, "deadlock").await;
    says(
        &deadlock,
        "the deadlock",
        &["this letter confirms that we are in deadlock"],
    );
    says(
        &deadlock,
        "the ombudsman",
        &[
            "Ombudsman Services",
            "WA4 6HL",
            "www.ombudsman-services.org",
            "you have the right to refer your complaint to the independent redress scheme",
        ],
    );
}
