//! `case.html`: the case file a person reads, headed by the chosen redress scheme.

use casefile_domain::values::{Remedy, Stage, Tenure};
use casefile_domain::{AlertResolution, AlertState, ComplaintEvent};
use casefile_projections::case_view::{DefinitionView, RepresentativeView, ResponseView};
use casefile_projections::recorded::meta;
use casefile_projections::RecordedEvent;
use minijinja::value::Serde;
use minijinja::{UndefinedBehavior, Value};
use serde::Serialize;

use super::{letter_paths, BundleError, BundleInput};
use crate::contact::{Organisation, SchemeContact};
use crate::{engine, format};

const TEMPLATE: &str = include_str!("../../templates/bundle/case.html");

#[derive(Debug, Serialize)]
struct CaseFile<'a> {
    reference: &'a str,
    scheme: &'a SchemeContact,
    landlord: &'a Organisation,
    case: Vec<(&'static str, String)>,
    complainant: Vec<(&'static str, String)>,
    summary: &'a str,
    description: &'a str,
    staff: Vec<Staff>,
    deadlines: Vec<DeadlineRow>,
    extensions: Vec<ExtensionRow>,
    responses: Vec<ResponseBlock>,
    closure: Option<ClosureBlock>,
    outcomes: Vec<(&'static str, String)>,
    evidence: Vec<EvidenceRow>,
    letters: Vec<LetterRow>,
    links: Vec<Row3>,
    correspondence: Vec<Row3>,
    notes: Vec<Row3>,
    timeline: Vec<TimelineRow>,
    chain_events: u64,
    chain_digest: &'a str,
}

#[derive(Debug, Serialize)]
struct Staff {
    name: String,
    id: String,
    roles: String,
    actions: String,
}

#[derive(Debug, Serialize)]
struct DeadlineRow {
    step: String,
    starts_on: String,
    working_days: u32,
    extended_by: u32,
    due: String,
    met_on: String,
    state: &'static str,
    missed: bool,
}

#[derive(Debug, Serialize)]
struct ExtensionRow {
    stage: &'static str,
    working_days: u32,
    reason: String,
    resident_informed_on: String,
    at: String,
    by: String,
}

#[derive(Debug, Serialize)]
struct ResponseBlock {
    stage: &'static str,
    on: String,
    by: String,
    outcome: &'static str,
    decision: String,
    reasons: String,
    remedy_actions: Vec<String>,
    compensation: String,
    outstanding_actions: Vec<String>,
}

#[derive(Debug, Serialize)]
struct ClosureBlock {
    on: String,
    by: String,
    remedy_actions: Vec<String>,
    compensation: String,
    learning: Vec<String>,
}

#[derive(Debug, Serialize)]
struct EvidenceRow {
    id: String,
    name: String,
    media_type: String,
    size_bytes: u64,
    sha256: String,
    at: String,
    by: String,
    /// Where the file is in the bundle, or why it is not.
    file: String,
}

#[derive(Debug, Serialize)]
struct LetterRow {
    id: String,
    kind: &'static str,
    subject: String,
    issued_at: String,
    by: String,
    html: String,
    text: String,
}

/// A time, a who or what, and a text: links, correspondence and notes.
#[derive(Debug, Serialize)]
struct Row3 {
    at: String,
    who: String,
    text: String,
}

#[derive(Debug, Serialize)]
struct TimelineRow {
    sequence: u64,
    occurred_at: String,
    recorded_at: String,
    event_type: &'static str,
    by: String,
    role: String,
    what: String,
}

/// A serde enum code in words: `web_form` → `web form`.
fn words<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(code)) => code.replace(['_', '-'], " "),
        _ => String::new(),
    }
}

fn response_block(stage: Stage, view: &ResponseView) -> ResponseBlock {
    let r = &view.response;
    ResponseBlock {
        stage: format::stage(stage),
        on: format::long_date(view.on),
        by: view.by.name.clone(),
        outcome: format::outcome(r.outcome),
        decision: r.decision.clone(),
        reasons: r.reasons.clone(),
        remedy_actions: r.remedy.actions.clone(),
        compensation: compensation(&r.remedy),
        outstanding_actions: r.outstanding_actions.clone(),
    }
}

/// A stage's definition with the outcomes sought and when it was last stated.
fn definition(view: &DefinitionView) -> String {
    let mut text = view.definition.clone();
    if !view.outcomes_sought.is_empty() {
        text.push_str(&format!(
            "; outcomes sought: {}",
            view.outcomes_sought.join("; ")
        ));
    }
    text.push_str(&format!(
        " (by {} on {})",
        view.by.name,
        format::long_date(view.on)
    ));
    text
}

/// Someone who acted for the resident: who, how to reach them, on what authority and
/// whether they still act.
fn representative(r: &RepresentativeView) -> (&'static str, String) {
    let contact = [&r.contact.address, &r.contact.email, &r.contact.phone]
        .into_iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let mut text = format!("{} ({})", r.name, words(&r.relationship));
    if !contact.is_empty() {
        text.push_str(&format!(", {contact}"));
    }
    text.push_str(&format!(
        "; authority: {} given on {}; correspondence to {}",
        r.authority.how,
        format::long_date(r.authority.given_on),
        words(&r.correspondence_to)
    ));
    if let Some(ended) = &r.ended {
        text.push_str(&format!(
            "; no longer acts since {}: {}",
            format::instant(ended.at),
            ended.reason
        ));
    }
    ("Representative", text)
}

fn compensation(remedy: &Remedy) -> String {
    if remedy.compensation_pence == 0 {
        "none".into()
    } else {
        format::pounds(remedy.compensation_pence)
    }
}

/// One line saying what an event did, for the timeline.
fn describe(event: &ComplaintEvent) -> String {
    use ComplaintEvent as E;
    match event {
        E::Logged {
            received_on,
            channel,
            procedure,
            ..
        } => format!(
            "Complaint logged: received on {} by {}, under {}",
            format::long_date(*received_on),
            words(channel),
            procedure.name
        ),
        E::Acknowledged { text, .. } => match text {
            Some(text) => format!("Acknowledged at Stage 1: {text}"),
            None => "Acknowledged at Stage 1".into(),
        },
        E::OwnerAssigned {
            owner, previous, ..
        } => match previous {
            Some(previous) => format!("Owner changed from {} to {}", previous.name, owner.name),
            None => format!("Owner set to {}", owner.name),
        },
        E::NoteRecorded { text, .. } => format!("Internal note: {text}"),
        E::CorrespondenceRecorded {
            direction,
            channel,
            text,
            ..
        } => format!("{} {}: {text}", capitalise(&words(direction)), words(channel)),
        E::EvidenceAttached {
            evidence_id, name, ..
        } => format!("Evidence {evidence_id} attached: {name}"),
        E::LetterIssued {
            letter_id,
            kind,
            subject,
            ..
        } => format!(
            "Letter {letter_id} ({}) issued: {subject}",
            kind.as_str().replace('_', " ")
        ),
        E::LinkedCaseAdded {
            kind,
            reference,
            note,
            ..
        } => match note {
            Some(note) => format!("Linked {} record {reference}: {note}", words(kind)),
            None => format!("Linked {} record {reference}", words(kind)),
        },
        E::Categorised {
            theme, root_cause, ..
        } => match root_cause {
            Some(cause) => format!("Categorised as {theme}, root cause {cause}"),
            None => format!("Categorised as {theme}"),
        },
        E::DeadlineExtended {
            stage,
            working_days,
            reason,
            resident_informed_on,
            ..
        } => format!(
            "{} response deadline extended by {working_days} working days (resident told on {}): {reason}",
            format::stage(*stage),
            format::long_date(*resident_informed_on)
        ),
        E::Stage1Responded { response, .. } => {
            format!("Stage 1 response sent: {}", format::outcome(response.outcome))
        }
        E::Escalated { reason, .. } => format!("Escalated to Stage 2: {reason}"),
        E::Stage2Acknowledged { text, .. } => match text {
            Some(text) => format!("Acknowledged at Stage 2: {text}"),
            None => "Acknowledged at Stage 2".into(),
        },
        E::Stage2Responded { response, .. } => {
            format!("Stage 2 response sent: {}", format::outcome(response.outcome))
        }
        E::Closed {
            open_actions,
            open_actions_reason,
            ..
        } => match (open_actions.is_empty(), open_actions_reason) {
            (true, _) => "Case closed".into(),
            (false, reason) => format!(
                "Case closed with actions {} still open: {}",
                open_actions.join(", "),
                reason.as_deref().unwrap_or("no reason given")
            ),
        },
        E::Deadlocked {
            on_request, reason, ..
        } => format!(
            "Deadlock declared ({}): {reason}",
            if *on_request {
                "at the resident's request"
            } else {
                "the procedure's time limit passed"
            }
        ),
        E::ReferredToRedress {
            scheme, reference, ..
        } => match reference {
            Some(reference) => format!(
                "Referred to {} (its reference {reference})",
                SchemeContact::builtin(*scheme).name
            ),
            None => format!(
                "Referred to {} (its reference not yet given)",
                SchemeContact::builtin(*scheme).name
            ),
        },
        E::ReferralReferenceRecorded { reference, .. } => {
            format!("The redress scheme's reference recorded: {reference}")
        }
        E::Refused {
            reason,
            explanation,
            ..
        } => format!(
            "Refused because {}: {explanation}",
            format::refusal_reason(*reason)
        ),
        E::Withdrawn { reason, .. } => format!("Withdrawn: {reason}"),
        E::Reopened { reason, .. } => format!("Reopened: {reason}"),
        E::SlaAlertRaised {
            step, state, due, ..
        } => format!(
            "Alert: {} {} (due {})",
            format::step(step.as_str()),
            match state {
                AlertState::DueSoon => "is due soon",
                AlertState::Breached => "is overdue",
            },
            format::long_date(*due)
        ),
        E::SlaAlertResolved {
            step, due, reason, ..
        } => format!(
            "Alert resolved: {} (due {}) {}",
            format::step(step.as_str()),
            format::long_date(*due),
            match reason {
                AlertResolution::Met => "was met on time",
                AlertResolution::MetLate => "was met late",
                AlertResolution::NoLongerDue => "is no longer due on that date",
                AlertResolution::CaseEnded => "was left unmet when the case ended",
            }
        ),
        E::TenureRecorded {
            tenure, previous, ..
        } => match previous {
            Some(previous) => format!(
                "Tenure changed from {} to {}",
                tenure_words(*previous),
                tenure_words(*tenure)
            ),
            None => format!("Tenure recorded as {}", tenure_words(*tenure)),
        },
        E::Defined {
            stage,
            definition,
            outcomes_sought,
            ..
        } => {
            let defined = format!("{} complaint defined: {definition}", format::stage(*stage));
            if outcomes_sought.is_empty() {
                defined
            } else {
                format!("{defined}; outcomes sought: {}", outcomes_sought.join("; "))
            }
        }
        E::RepresentativeAdded {
            representative_id,
            name,
            relationship,
            authority,
            correspondence_to,
            ..
        } => format!(
            "Representative {representative_id} added: {name} ({}), authority {} given on {}; correspondence to {}",
            words(relationship),
            authority.how,
            format::long_date(authority.given_on),
            words(correspondence_to)
        ),
        E::RepresentativeEnded {
            representative_id,
            reason,
            ..
        } => format!("Representative {representative_id} no longer acts: {reason}"),
        E::UpdateRecorded {
            channel,
            summary,
            next_update_due,
            ..
        } => match next_update_due {
            Some(due) => format!(
                "Update given by {}: {summary}; next update by {}",
                words(channel),
                format::long_date(*due)
            ),
            None => format!("Update given by {}: {summary}", words(channel)),
        },
        E::ActionTracked {
            action_id,
            stage,
            description,
            ..
        } => format!(
            "{} action {action_id} tracked: {description}",
            format::stage(*stage)
        ),
        E::ActionAssigned {
            action_id,
            owner,
            due_on,
            ..
        } => format!(
            "Action {action_id} given to {owner}, due {}",
            format::long_date(*due_on)
        ),
        E::ActionCompleted {
            action_id,
            evidence,
            ..
        } => format!("Action {action_id} completed: {evidence}"),
        E::LearningRecorded {
            learning_id,
            learning,
            theme,
            owner,
            due_on,
            ..
        } => format!(
            "Learning {learning_id} recorded ({theme}): {learning}; owner {owner}, due {}",
            format::long_date(*due_on)
        ),
        E::LearningCompleted {
            learning_id,
            what_changed,
            ..
        } => format!("Learning {learning_id} completed: {what_changed}"),
    }
}

/// A tenure as the regulator's measures name it.
fn tenure_words(tenure: Tenure) -> &'static str {
    match tenure {
        Tenure::Lcra => "low-cost rental (LCRA)",
        Tenure::Lcho => "low-cost home ownership (LCHO)",
        Tenure::Other => "other",
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// One person's part in the case while it is being tallied.
struct Acting {
    id: String,
    name: String,
    roles: Vec<String>,
    actions: Vec<(&'static str, u32)>,
}

/// Everyone who acted on the case, in the order they first did, with the roles they
/// acted in and how many of each thing they did.
fn staff(events: &[RecordedEvent]) -> Vec<Staff> {
    let mut people: Vec<Acting> = Vec::new();
    for recorded in events {
        let actor = recorded.event.by();
        let index = match people.iter().position(|p| p.id == actor.id) {
            Some(index) => index,
            None => {
                people.push(Acting {
                    id: actor.id.clone(),
                    name: actor.name.clone(),
                    roles: Vec::new(),
                    actions: Vec::new(),
                });
                people.len() - 1
            }
        };
        let person = &mut people[index];
        if let Some(role) = recorded.meta(meta::ACTOR_ROLE) {
            if !person.roles.iter().any(|r| r == role) {
                person.roles.push(role.to_string());
            }
        }
        let name = recorded.event.name();
        match person.actions.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => *count += 1,
            None => person.actions.push((name, 1)),
        }
    }
    people
        .into_iter()
        .map(|p| Staff {
            name: p.name,
            id: p.id,
            roles: p.roles.join(", "),
            actions: p
                .actions
                .iter()
                .map(|(n, c)| {
                    if *c == 1 {
                        n.to_string()
                    } else {
                        format!("{n} ×{c}")
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect()
}

fn optional<T>(
    label: &'static str,
    value: Option<T>,
    show: impl Fn(T) -> String,
) -> Option<(&'static str, String)> {
    value.map(|v| (label, show(v)))
}

pub(super) fn render(
    input: &BundleInput,
    evidence_paths: &[Option<String>],
) -> Result<String, BundleError> {
    let case = &input.case;
    let case_rows: Vec<(&'static str, String)> = [
        Some(("Reference", case.reference.clone())),
        Some(("Case id", case.id.clone())),
        Some((
            "Procedure",
            format!(
                "{} ({} version {})",
                case.procedure.name, case.procedure.id, case.procedure.version
            ),
        )),
        Some(("Division", capitalise(&words(&case.division)))),
        Some(("Calendar", case.calendar_version.clone())),
        Some(("Received", format::long_date(case.received_on))),
        optional("Issue arose", case.issue_arose_on, format::long_date),
        Some(("Channel", words(&case.channel))),
        Some(("Status", case.status.to_string())),
        Some(("Stage", format::stage(case.stage).to_string())),
        optional("Owner", case.owner.as_ref(), |o| {
            format!("{} ({})", o.name, o.id)
        }),
        optional("Acknowledged", case.acknowledged_on, format::long_date),
        optional("Escalated to Stage 2", case.escalated_on, format::long_date),
        optional(
            "Stage 2 acknowledged",
            case.stage2_acknowledged_on,
            format::long_date,
        ),
        optional("Deadlocked", case.deadlocked_on, format::long_date),
        Some(("Tenure", tenure_words(case.tenure).to_string())),
        optional(
            "Stage 1 definition",
            case.definitions.stage1.as_ref(),
            definition,
        ),
        optional(
            "Stage 2 definition",
            case.definitions.stage2.as_ref(),
            definition,
        ),
        optional("Theme", case.theme.clone(), |t| t),
        optional("Root cause", case.root_cause.clone(), |t| t),
        Some(("Logged at", format::instant(case.logged_at))),
        Some(("Last changed at", format::instant(case.updated_at))),
    ]
    .into_iter()
    .flatten()
    .collect();

    let c = &case.complainant;
    let complainant: Vec<(&'static str, String)> = [
        Some(("Name", c.name.clone())),
        optional("Address", c.address.clone(), |t| t),
        optional("E-mail", c.email.clone(), |t| t),
        optional("Telephone", c.phone.clone(), |t| t),
        optional("Resident id", c.resident_id.clone(), |t| t),
    ]
    .into_iter()
    .flatten()
    .chain(case.representatives.iter().map(representative))
    .collect();

    let deadlines = case
        .deadlines
        .iter()
        .map(|(step, d)| DeadlineRow {
            step: format::step(step),
            starts_on: format::long_date(d.starts_on),
            working_days: d.working_days,
            extended_by: d.extended_by,
            due: format::long_date(d.due),
            met_on: d
                .met_on
                .map(format::long_date)
                .unwrap_or_else(|| "not yet".into()),
            state: format::deadline_state(d.state),
            missed: matches!(
                d.state,
                casefile_domain::DeadlineState::Breached | casefile_domain::DeadlineState::MetLate
            ),
        })
        .collect();

    let extensions = case
        .extensions
        .iter()
        .map(|e| ExtensionRow {
            stage: format::stage(e.stage),
            working_days: e.working_days,
            reason: e.reason.clone(),
            resident_informed_on: format::long_date(e.resident_informed_on),
            at: format::instant(e.at),
            by: e.by.name.clone(),
        })
        .collect();

    let responses = [
        case.stage1_response
            .as_ref()
            .map(|r| response_block(Stage::Stage1, r)),
        case.stage2_response
            .as_ref()
            .map(|r| response_block(Stage::Stage2, r)),
    ]
    .into_iter()
    .flatten()
    .collect();

    let closure = case.closure.as_ref().map(|c| ClosureBlock {
        on: format::long_date(c.on),
        by: c.by.name.clone(),
        remedy_actions: c.remedy.actions.clone(),
        compensation: compensation(&c.remedy),
        learning: c.learning.clone(),
    });

    let outcomes: Vec<(&'static str, String)> = [
        case.referral.as_ref().map(|r| {
            (
                "Referred to redress",
                format!(
                    "{} on {}, its reference {}",
                    SchemeContact::builtin(r.scheme).name,
                    format::long_date(r.on),
                    r.reference.as_deref().unwrap_or("not yet given")
                ),
            )
        }),
        case.refusal.as_ref().map(|r| {
            (
                "Refused",
                format!(
                    "on {} because {}: {}",
                    format::long_date(r.on),
                    format::refusal_reason(r.reason),
                    r.explanation
                ),
            )
        }),
        case.withdrawal.as_ref().map(|w| {
            (
                "Withdrawn",
                format!("on {}: {}", format::long_date(w.on), w.reason),
            )
        }),
    ]
    .into_iter()
    .flatten()
    .collect();

    let evidence = case
        .evidence
        .iter()
        .zip(evidence_paths)
        .map(|(e, path)| EvidenceRow {
            id: e.evidence_id.clone(),
            name: e.name.clone(),
            media_type: e.media_type.clone(),
            size_bytes: e.size_bytes,
            sha256: e.sha256.clone(),
            at: format::instant(e.at),
            by: e.by.name.clone(),
            file: path.clone().unwrap_or_else(|| {
                "not in this bundle: recorded by description, kept elsewhere".into()
            }),
        })
        .collect();

    let letters = input
        .letters
        .iter()
        .map(|l| {
            let (html, text) = letter_paths(l);
            LetterRow {
                id: l.letter_id.clone(),
                kind: l.letter.kind.as_str(),
                subject: l.letter.subject.clone(),
                issued_at: format::instant(l.issued_at),
                by: l.by.name.clone(),
                html,
                text,
            }
        })
        .collect();

    let links = case
        .links
        .iter()
        .map(|l| Row3 {
            at: format::instant(l.at),
            who: format!("{} {}", words(&l.kind), l.reference),
            text: l.note.clone().unwrap_or_default(),
        })
        .collect();
    let correspondence = case
        .correspondence
        .iter()
        .map(|c| Row3 {
            at: format::instant(c.at),
            who: format!(
                "{} ({} {})",
                c.by.name,
                words(&c.direction),
                words(&c.channel)
            ),
            text: c.text.clone(),
        })
        .collect();
    let notes = case
        .notes
        .iter()
        .map(|n| Row3 {
            at: format::instant(n.at),
            who: n.by.name.clone(),
            text: n.text.clone(),
        })
        .collect();

    let timeline = input
        .events
        .iter()
        .map(|r| TimelineRow {
            sequence: r.sequence,
            occurred_at: format::instant(r.event.occurred_at()),
            recorded_at: format::instant(r.recorded_at),
            event_type: r.event.name(),
            by: format!("{} ({})", r.event.by().name, r.event.by().id),
            role: r.meta(meta::ACTOR_ROLE).unwrap_or("").to_string(),
            what: describe(&r.event),
        })
        .collect();

    let file = CaseFile {
        reference: &case.reference,
        scheme: &input.scheme,
        landlord: &input.organisation,
        case: case_rows,
        complainant,
        summary: &case.summary,
        description: &case.description,
        staff: staff(&input.events),
        deadlines,
        extensions,
        responses,
        closure,
        outcomes,
        evidence,
        letters,
        links,
        correspondence,
        notes,
        timeline,
        chain_events: input.chain.events,
        chain_digest: &input.chain.digest,
    };

    let failed = |err: minijinja::Error| BundleError::CaseFile(err.to_string());
    let mut env = engine::environment(UndefinedBehavior::SemiStrict).map_err(failed)?;
    env.add_template("case.html", TEMPLATE).map_err(failed)?;
    env.get_template("case.html")
        .and_then(|t| t.render(Value::from(Serde(&file))))
        .map_err(failed)
}
