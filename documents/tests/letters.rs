//! Each letter kind carries what the Complaint Handling Code requires, checked field by
//! field against the case the domain produced; templates load, override and fail loudly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use casefile_documents::format;
use casefile_documents::{
    LetterContext, LetterError, LetterKind, Letters, Organisation, RenderedLetter, SchemeContact,
};
use casefile_domain::command::{
    AcknowledgeComplaint, Action, AddRepresentative, DeclareDeadlock, DefineComplaint, Escalate,
    ExtendDeadline, RefuseComplaint, RespondToStage,
};
use casefile_domain::procedure::{Procedure, ProcedureRegistry};
use casefile_domain::values::{
    Authority, Contact, CorrespondenceTo, Outcome, RefusalReason, Relationship, Remedy, Stage,
};
use casefile_domain::Scheme;
use casefile_projections::CaseView;
use support::{actor, date, day, Story};

fn organisation() -> Organisation {
    Organisation {
        name: "Northfield Homes".into(),
        address: vec!["1 Civic Square".into(), "Leeds".into(), "LS2 8AA".into()],
        email: Some("complaints@northfield.example".into()),
        phone: Some("0113 496 0000".into()),
    }
}

fn context(story: &Story) -> LetterContext {
    LetterContext::for_procedure(organisation(), &story.procedure, date(6, 2))
}

fn letters() -> Letters {
    Letters::load(None).expect("the built-in templates load")
}

fn handler() -> casefile_domain::Actor {
    actor("u-handler", "Sam Handler")
}

fn reviewer() -> casefile_domain::Actor {
    actor("u-reviewer", "Jo Reviewer")
}

fn respond(outcome: Outcome) -> RespondToStage {
    RespondToStage {
        outcome,
        decision: "We will replace the boiler and check the radiators".into(),
        reasons: "Our engineer missed two appointments and the repair was not completed".into(),
        remedy: Remedy {
            actions: vec![
                "Replace the boiler by 20 March".into(),
                "Apologise in writing".into(),
            ],
            compensation_pence: 15_000,
        },
        outstanding_actions: vec!["Service the radiators in the back bedroom".into()],
        occurred_at: None,
    }
}

/// Logged 3 March 2025, acknowledged on 4 March.
fn acknowledged(procedure: &str) -> Story {
    let mut story = Story::log(
        procedure,
        day(3, 3),
        "No heating since the boiler failed",
        "The boiler has failed three times since January",
    );
    story.act(
        day(3, 4),
        &handler(),
        "handler",
        Action::Acknowledge(AcknowledgeComplaint::default()),
    );
    story
}

/// Answered at Stage 1 on 12 March.
fn stage1_answered(procedure: &str) -> Story {
    let mut story = acknowledged(procedure);
    story.act(
        day(3, 12),
        &handler(),
        "handler",
        Action::RespondStage1(respond(Outcome::PartlyUpheld)),
    );
    story
}

/// Escalated on 17 March, acknowledged at Stage 2 on 18 March, answered on 1 April.
fn stage2_answered() -> Story {
    let mut story = stage1_answered("chc-2024");
    story.act(
        day(3, 17),
        &handler(),
        "handler",
        Action::Escalate(Escalate {
            reason: "The boiler is still not fixed".into(),
            occurred_at: None,
        }),
    );
    story.act(
        day(3, 18),
        &reviewer(),
        "manager",
        Action::AcknowledgeStage2(AcknowledgeComplaint::default()),
    );
    story.act(
        day(3, 19),
        &reviewer(),
        "manager",
        Action::Define(DefineComplaint {
            stage: Stage::Stage2,
            definition: "The boiler still fails after the Stage 1 repair".into(),
            outcomes_sought: vec!["A new boiler".into(), "Compensation".into()],
            occurred_at: None,
        }),
    );
    story.act(
        day(4, 1),
        &reviewer(),
        "manager",
        Action::RespondStage2(respond(Outcome::Upheld)),
    );
    story
}

/// Both renderings, for checks that must hold in each.
fn both(letter: &RenderedLetter) -> [(&'static str, &str); 2] {
    [("text", &letter.text), ("html", &letter.html)]
}

fn assert_contains(letter: &RenderedLetter, needle: &str) {
    for (form, body) in both(letter) {
        assert!(
            body.contains(needle),
            "the {form} {} letter lacks {needle:?}:\n{body}",
            letter.kind
        );
    }
}

fn assert_lacks(letter: &RenderedLetter, needle: &str) {
    for (form, body) in both(letter) {
        assert!(
            !body.contains(needle),
            "the {form} {} letter has {needle:?}:\n{body}",
            letter.kind
        );
    }
}

/// The scheme's name, every address line, telephone and website.
fn assert_has_scheme(letter: &RenderedLetter, scheme: &SchemeContact) {
    assert_contains(letter, &scheme.name);
    for line in &scheme.address {
        // The HTML escapes the apostrophe of "Greenall's Avenue"; the text keeps it.
        assert!(letter.text.contains(line.as_str()), "text lacks {line:?}");
        assert!(
            letter.html.contains(&line.replace('\'', "&#x27;")),
            "html lacks {line:?}"
        );
    }
    if let Some(phone) = &scheme.phone {
        assert_contains(letter, phone);
    }
    assert_contains(letter, &scheme.website);
}

fn assert_has_case(letter: &RenderedLetter, view: &CaseView) {
    assert_contains(letter, &view.reference);
    assert_contains(letter, &view.complainant.name);
    // The complaint as the case's current stage defines it.
    let defined = view.definitions.stage2.as_ref();
    let defined = defined.or(view.definitions.stage1.as_ref()).unwrap();
    assert_contains(letter, &defined.definition);
    assert!(letter.subject.contains(&view.reference));
    assert!(letter
        .html
        .contains(&format!("<title>{}</title>", letter.subject)));
    assert!(letter.text.contains(&letter.subject));
}

#[test]
fn the_built_in_templates_load_and_render_every_kind_of_sample() {
    letters();
}

#[test]
fn a_stage_1_response_gives_stage_definition_decision_reasons_remedy_actions_escalation_and_ombudsman(
) {
    let story = stage1_answered("chc-2024");
    let view = story.view(date(3, 12));
    let letter = letters()
        .render(LetterKind::Stage1Response, &view, &context(&story))
        .unwrap();
    let response = &view.stage1_response.as_ref().unwrap().response;

    assert_eq!(letter.kind, LetterKind::Stage1Response);
    assert_has_case(&letter, &view);
    assert_contains(&letter, "Stage 1 response");
    assert_contains(&letter, &view.description);
    assert_contains(&letter, &response.decision);
    assert_contains(&letter, &response.reasons);
    assert_contains(&letter, format::outcome(response.outcome));
    for action in &response.remedy.actions {
        assert_contains(&letter, action);
    }
    assert_contains(&letter, "£150.00");
    for action in &response.outstanding_actions {
        assert_contains(&letter, action);
    }
    // How to escalate, and where to.
    assert_contains(&letter, "escalate your complaint to Stage 2");
    assert_contains(&letter, organisation().email.as_deref().unwrap());
    // The ombudsman, and the resident's right to go there.
    assert_has_scheme(&letter, &SchemeContact::builtin(Scheme::HousingOmbudsman));
    assert_contains(&letter, "right to ask it to investigate");
    assert_lacks(&letter, "final response");
    // Signed by the responder, dated as asked.
    assert_contains(&letter, "Sam Handler");
    assert_contains(&letter, "2 June 2025");
}

#[test]
fn a_stage_2_response_is_final_and_sends_the_resident_to_the_ombudsman_not_to_another_stage() {
    let story = stage2_answered();
    let view = story.view(date(4, 1));
    let letter = letters()
        .render(LetterKind::Stage2Response, &view, &context(&story))
        .unwrap();
    let response = &view.stage2_response.as_ref().unwrap().response;

    assert_has_case(&letter, &view);
    assert_contains(&letter, "Stage 2 response");
    assert_contains(&letter, "final response");
    assert_contains(&letter, format::outcome(response.outcome));
    assert_contains(&letter, &response.decision);
    assert_contains(&letter, &response.reasons);
    for action in response
        .remedy
        .actions
        .iter()
        .chain(&response.outstanding_actions)
    {
        assert_contains(&letter, action);
    }
    assert_lacks(&letter, "escalate your complaint");
    assert_has_scheme(&letter, &SchemeContact::builtin(Scheme::HousingOmbudsman));
    assert_contains(&letter, "you have the right to refer your complaint");
    assert_contains(&letter, "Jo Reviewer");
    // Stage 2's own definition, not the one Stage 1 answered.
    assert_contains(&letter, "The boiler still fails after the Stage 1 repair");
    assert_contains(
        &letter,
        "The outcome you are seeking: A new boiler; Compensation",
    );
    assert_lacks(
        &letter,
        &view.definitions.stage1.as_ref().unwrap().definition,
    );
}

fn represented(correspondence_to: CorrespondenceTo) -> AddRepresentative {
    AddRepresentative {
        name: "Pat Advocate".into(),
        relationship: Relationship::Advocate,
        contact: Contact {
            email: Some("pat@advice.example".into()),
            phone: None,
            address: Some("Advice Centre, 5 Market Street, Leeds, LS1 6DT".into()),
        },
        authority: Authority {
            how: "Signed consent form".into(),
            given_on: date(3, 5),
        },
        correspondence_to,
        occurred_at: None,
    }
}

#[test]
fn a_letter_goes_to_the_representative_the_case_says_letters_go_to_about_the_resident() {
    let mut story = acknowledged("chc-2024");
    story.act(
        day(3, 5),
        &handler(),
        "handler",
        Action::AddRepresentative(represented(CorrespondenceTo::Representative)),
    );
    let view = story.view(date(3, 5));
    let letter = letters()
        .render(LetterKind::Acknowledgement, &view, &context(&story))
        .unwrap();

    assert_has_case(&letter, &view);
    assert!(
        letter.text.contains("Dear Pat Advocate,"),
        "{}",
        letter.text
    );
    assert!(
        letter.html.contains("Dear Pat Advocate,"),
        "{}",
        letter.html
    );
    assert_contains(&letter, "Advice Centre");
    assert_contains(&letter, "LS1 6DT");
    assert_contains(&letter, "About the complaint of: Alex Resident");
    assert_lacks(&letter, "Dear Alex Resident");
    assert_lacks(&letter, "LS1 1AA");
}

#[test]
fn a_representative_who_receives_letters_as_well_is_copied_in() {
    let mut story = acknowledged("chc-2024");
    story.act(
        day(3, 5),
        &handler(),
        "handler",
        Action::AddRepresentative(represented(CorrespondenceTo::Both)),
    );
    let view = story.view(date(3, 5));
    let letter = letters()
        .render(LetterKind::Acknowledgement, &view, &context(&story))
        .unwrap();

    assert!(
        letter.text.contains("Dear Alex Resident,"),
        "{}",
        letter.text
    );
    assert!(
        letter.html.contains("Dear Alex Resident,"),
        "{}",
        letter.html
    );
    assert_contains(&letter, "Copy to: Pat Advocate");
    assert_lacks(&letter, "About the complaint of");
}

#[test]
fn a_stage_1_response_of_a_one_stage_procedure_is_the_final_response() {
    let text = r#"
id = "single"
version = 1
name = "Single-stage procedure"
stages = 1
steps = [
  { step = "acknowledge", from = "received", working_days = 5 },
  { step = "stage1_response", from = "acknowledged", working_days = 10 },
]
[redress]
schemes = ["property-redress-scheme"]
within_months = 12
"#;
    let mut registry = ProcedureRegistry::builtin();
    registry
        .add(
            Procedure::parse("single.toml", text).unwrap(),
            "single.toml",
        )
        .unwrap();
    let mut story = Story::log_under(
        registry,
        "single",
        day(3, 3),
        "Damp in the bathroom",
        "",
        None,
    );
    story.act(
        day(3, 4),
        &handler(),
        "handler",
        Action::Acknowledge(AcknowledgeComplaint::default()),
    );
    story.act(
        day(3, 12),
        &handler(),
        "handler",
        Action::RespondStage1(respond(Outcome::NotUpheld)),
    );
    let view = story.view(date(3, 12));
    let letter = letters()
        .render(LetterKind::Stage1Response, &view, &context(&story))
        .unwrap();

    assert_contains(&letter, "final response");
    assert_contains(&letter, "not upheld");
    assert_lacks(&letter, "escalate your complaint");
    assert_has_scheme(
        &letter,
        &SchemeContact::builtin(Scheme::PropertyRedressScheme),
    );
    assert_contains(&letter, "within 12 months of the date of this letter");
    // No details were given beyond the summary: no empty "What you told us".
    assert_lacks(&letter, "What you told us");
}

#[test]
fn an_acknowledgement_restates_the_complaint_and_gives_the_response_date() {
    let story = acknowledged("chc-2024");
    let view = story.view(date(3, 4));
    let letter = letters()
        .render(LetterKind::Acknowledgement, &view, &context(&story))
        .unwrap();

    assert_has_case(&letter, &view);
    assert_contains(&letter, "The outcome you are seeking: A working boiler");
    assert_contains(&letter, "Stage 1");
    assert_contains(&letter, &format::long_date(view.received_on));
    assert_contains(&letter, &format::long_date(view.acknowledged_on.unwrap()));
    assert_contains(
        &letter,
        &format::long_date(view.deadlines["stage1_response"].due),
    );
    assert_has_scheme(&letter, &SchemeContact::builtin(Scheme::HousingOmbudsman));
}

#[test]
fn an_extension_gives_the_new_date_and_the_reason() {
    let mut story = acknowledged("chc-2024");
    let before = story.view(date(3, 10)).deadlines["stage1_response"].due;
    story.act(
        day(3, 10),
        &handler(),
        "handler",
        Action::ExtendDeadline(ExtendDeadline {
            working_days: 5,
            reason: "We are waiting for the boiler manufacturer's report".into(),
            resident_informed_on: None,
            occurred_at: None,
        }),
    );
    let view = story.view(date(3, 10));
    let letter = letters()
        .render(LetterKind::Extension, &view, &context(&story))
        .unwrap();
    let new_due = view.deadlines["stage1_response"].due;
    assert!(new_due > before, "the extension moved the date");

    assert_has_case(&letter, &view);
    assert!(letter
        .text
        .contains("We are waiting for the boiler manufacturer's report"));
    assert!(letter
        .html
        .contains("We are waiting for the boiler manufacturer&#x27;s report"));
    assert_contains(&letter, &format::long_date(new_due));
    assert_lacks(&letter, &format::long_date(before));
    assert_contains(&letter, "5 working days");
    assert_contains(&letter, "Stage 1");
    assert_has_scheme(&letter, &SchemeContact::builtin(Scheme::HousingOmbudsman));
}

#[test]
fn a_deadlock_letter_sends_the_resident_to_the_procedures_scheme() {
    let mut story = acknowledged("cloud-direct");
    story.act(
        day(3, 20),
        &handler(),
        "handler",
        Action::DeclareDeadlock(DeclareDeadlock {
            on_request: true,
            reason: "The resident asked for a deadlock letter".into(),
            occurred_at: None,
        }),
    );
    let view = story.view(date(3, 20));
    let letter = letters()
        .render(LetterKind::Deadlock, &view, &context(&story))
        .unwrap();

    assert_has_case(&letter, &view);
    assert_contains(&letter, &format::long_date(view.deadlocked_on.unwrap()));
    assert_contains(&letter, "deadlock");
    assert_has_scheme(&letter, &SchemeContact::builtin(Scheme::OmbudsmanServices));
    assert_contains(&letter, "you have the right to refer your complaint");
}

#[test]
fn a_refusal_gives_the_reason_and_the_right_to_go_to_the_ombudsman() {
    let mut story = Story::log_under(
        ProcedureRegistry::builtin(),
        "chc-2024",
        day(3, 3),
        "Noise from the neighbours in 2023",
        "",
        Some(chrono::NaiveDate::from_ymd_opt(2023, 6, 1).unwrap()),
    );
    story.act(
        day(3, 5),
        &handler(),
        "handler",
        Action::Refuse(RefuseComplaint {
            reason: RefusalReason::OlderThanTwelveMonths,
            explanation: "The noise complaint concerns events of June 2023".into(),
            occurred_at: None,
        }),
    );
    let view = story.view(date(3, 5));
    let letter = letters()
        .render(LetterKind::Refusal, &view, &context(&story))
        .unwrap();
    let refusal = view.refusal.as_ref().unwrap();

    assert_has_case(&letter, &view);
    assert_contains(&letter, format::refusal_reason(refusal.reason));
    assert_contains(&letter, &refusal.explanation);
    assert_contains(&letter, &format::long_date(refusal.on));
    assert_has_scheme(&letter, &SchemeContact::builtin(Scheme::HousingOmbudsman));
    assert_contains(&letter, "you have the right to refer it");
}

#[test]
fn a_letter_the_case_has_not_reached_is_refused_with_the_rule_it_breaks() {
    let letters = letters();
    let logged = Story::log("chc-2024", day(3, 3), "Broken window", "");
    let story = stage1_answered("chc-2024");
    let cases = [
        (
            &logged,
            LetterKind::Acknowledgement,
            LetterError::NotAcknowledged(Stage::Stage1),
        ),
        (
            &logged,
            LetterKind::Stage1Response,
            LetterError::NotResponded(Stage::Stage1),
        ),
        (
            &story,
            LetterKind::Stage2Response,
            LetterError::NotResponded(Stage::Stage2),
        ),
        (&story, LetterKind::Extension, LetterError::NoExtension),
        (&story, LetterKind::Deadlock, LetterError::NotDeadlocked),
        (&story, LetterKind::Refusal, LetterError::NotRefused),
    ];
    for (story, kind, expected) in cases {
        let err = letters
            .render(kind, &story.view(date(3, 12)), &context(story))
            .unwrap_err();
        assert_eq!(err, expected, "{kind}");
        assert!(err.is_state());
    }
    assert_eq!(
        LetterError::NotResponded(Stage::Stage2).code(),
        "not_responded"
    );
}

#[test]
fn text_the_resident_or_staff_typed_is_escaped_in_html_and_kept_in_text() {
    let story = Story::log(
        "chc-2024",
        day(3, 3),
        "Leak <script>alert(1)</script> & damp",
        "",
    );
    let mut story = story;
    story.act(
        day(3, 4),
        &handler(),
        "handler",
        Action::Acknowledge(AcknowledgeComplaint::default()),
    );
    let letter = letters()
        .render(
            LetterKind::Acknowledgement,
            &story.view(date(3, 4)),
            &context(&story),
        )
        .unwrap();
    assert!(letter
        .text
        .contains("Leak <script>alert(1)</script> & damp"));
    assert!(!letter.html.contains("<script>"));
    assert!(letter
        .html
        .contains("Leak &lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; damp"));
}

#[test]
fn the_kind_is_written_in_snake_case() {
    let kinds: Vec<String> = LetterKind::ALL
        .iter()
        .map(|k| {
            serde_json::to_value(k)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "acknowledgement",
            "extension",
            "stage1_response",
            "stage2_response",
            "deadlock",
            "refusal"
        ]
    );
    let parsed: LetterKind = serde_json::from_str("\"stage1_response\"").unwrap();
    assert_eq!(parsed, LetterKind::Stage1Response);
}

mod overrides {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn an_organisations_file_replaces_the_built_in_one_of_the_same_name() {
        let dir = folder(&[(
            "stage1_response.txt",
            "{% set subject = \"Our answer on \" ~ case.reference %}\nDear {{ resident.name }}, {{ response.decision }}.\n",
        )]);
        let letters = Letters::load(Some(dir.path())).unwrap();
        let story = stage1_answered("chc-2024");
        let letter = letters
            .render(
                LetterKind::Stage1Response,
                &story.view(date(3, 12)),
                &context(&story),
            )
            .unwrap();
        assert_eq!(letter.subject, "Our answer on CF-2025-000042");
        assert_eq!(
            letter.text,
            "Dear Alex Resident, We will replace the boiler and check the radiators.\n"
        );
        // The HTML was not overridden: the built-in one, with the new subject.
        assert!(letter
            .html
            .contains("<title>Our answer on CF-2025-000042</title>"));
    }

    #[test]
    fn an_overridden_partial_changes_every_letter_that_includes_it() {
        let dir = folder(&[(
            "_ombudsman.txt",
            "Ombudsman: {{ ombudsman.name }}, {{ ombudsman.website }}\n",
        )]);
        let letters = Letters::load(Some(dir.path())).unwrap();
        let story = stage1_answered("chc-2024");
        let view = story.view(date(3, 12));
        for kind in [LetterKind::Acknowledgement, LetterKind::Stage1Response] {
            let letter = letters.render(kind, &view, &context(&story)).unwrap();
            assert!(letter
                .text
                .contains("Ombudsman: Housing Ombudsman Service, www.housing-ombudsman.org.uk\n"));
            assert!(!letter.text.contains("PO Box 1484"));
        }
    }

    #[test]
    fn a_template_that_does_not_parse_is_reported_with_its_file_and_line() {
        let dir = folder(&[(
            "stage1_response.html",
            "<p>one</p>\n<p>two</p>\n{% if response %}\n<p>{{ response.decision }</p>\n",
        )]);
        let err = Letters::load(Some(dir.path())).unwrap_err();
        let file = dir
            .path()
            .join("stage1_response.html")
            .display()
            .to_string();
        let LetterError::Template {
            file: found, line, ..
        } = &err
        else {
            panic!("expected a template error, got {err:?}");
        };
        assert_eq!(found, &file);
        assert_eq!(*line, Some(4));
        assert!(
            err.to_string().starts_with(&format!("{file} line 4: ")),
            "{err}"
        );
        assert_eq!(err.code(), "template_failed");
    }

    #[test]
    fn a_template_that_fails_on_a_sample_case_is_reported_at_load_with_its_line() {
        let dir = folder(&[(
            "refusal.txt",
            "{% set subject = \"Refused\" %}\nDear {{ resident.name }},\n{{ refusal.no_such_field }}\n",
        )]);
        let err = Letters::load(Some(dir.path())).unwrap_err();
        let file = dir.path().join("refusal.txt").display().to_string();
        assert!(
            err.to_string().starts_with(&format!("{file} line 3: ")),
            "{err}"
        );
    }

    #[test]
    fn printing_a_value_some_cases_lack_without_testing_for_it_fails_at_load() {
        // The sparse sample resident has no e-mail address.
        let dir = folder(&[(
            "acknowledgement.txt",
            "{% set subject = \"Received\" %}\nWe will write to {{ resident.email }}.\n",
        )]);
        let err = Letters::load(Some(dir.path())).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "{} line 2: ",
                dir.path().join("acknowledgement.txt").display()
            )),
            "{err}"
        );
    }

    #[test]
    fn a_file_named_like_no_template_is_refused_rather_than_ignored() {
        let dir = folder(&[("stage1_respnse.txt", "typo\n")]);
        let err = Letters::load(Some(dir.path())).unwrap_err();
        assert_eq!(err.code(), "unknown_template");
        assert!(err.to_string().contains("stage1_respnse.txt"));
    }

    #[test]
    fn a_text_template_without_a_subject_is_refused() {
        let dir = folder(&[("deadlock.txt", "Dear {{ resident.name }}\n")]);
        let err = Letters::load(Some(dir.path())).unwrap_err();
        assert_eq!(
            err,
            LetterError::NoSubject {
                file: dir.path().join("deadlock.txt").display().to_string()
            }
        );
    }
}
