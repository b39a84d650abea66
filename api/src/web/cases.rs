//! Logging a complaint and the case page: summary, deadlines, timeline, notes, and every
//! command as a form. Each form is shown only to the roles the API allows for it and posts
//! to the same [`Cases::execute`](crate::cases::Cases::execute); a command the rules refuse
//! comes back with the rule's message in place, next to the form that sent it.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use casefile_domain::command::{
    AcknowledgeComplaint, AddLinkedCase, AssignOwner, Categorise, CloseComplaint, DeclareDeadlock,
    Escalate, ExtendDeadline, LearningEntry, LogComplaint, NoteKind, RecordNote, ReferToRedress,
    RefuseComplaint, ReopenComplaint, RespondToStage, WithdrawComplaint,
};
use casefile_domain::values::{Complainant, Remedy};
use casefile_domain::{uk_date, Action, Actor, ComplaintError, DeadlineState};
use casefile_projections::case_view::CaseSummary;
use casefile_projections::CaseView;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::cases::{CaseResponse, CommandContext};
use crate::error::ApiError;
use crate::routes::complaints::{
    case_id, context, CASEWORKERS, CLOSERS, LOGGERS, MANAGERS, READERS, REFERRERS, STAGE1, STAGE2,
    VERIFIERS,
};
use crate::startup::AppState;

use super::forms::{lines, FieldErrors, FormData, Problem};
use super::queue::resident_cases;
use super::session::Staff;
use super::templates::label;
use super::PageError;

/// How a field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    Text,
    Textarea,
    Date,
    Number,
    /// Pounds and pence, kept as integer pence.
    Money,
    Select,
    Checkbox,
    /// A text area read as one item per line.
    Lines,
    /// A select of every user.
    User,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct FieldSpec {
    name: &'static str,
    label: &'static str,
    kind: Kind,
    required: bool,
    hint: &'static str,
    options: &'static [(&'static str, &'static str)],
}

const fn field(name: &'static str, label: &'static str, kind: Kind, required: bool) -> FieldSpec {
    FieldSpec {
        name,
        label,
        kind,
        required,
        hint: "",
        options: &[],
    }
}

const fn hinted(mut spec: FieldSpec, hint: &'static str) -> FieldSpec {
    spec.hint = hint;
    spec
}

const fn select(
    name: &'static str,
    label: &'static str,
    required: bool,
    options: &'static [(&'static str, &'static str)],
) -> FieldSpec {
    FieldSpec {
        name,
        label,
        kind: Kind::Select,
        required,
        hint: "",
        options,
    }
}

/// One command as a form.
struct ActionSpec {
    /// The last segment of the form's URL, as in the API.
    path: &'static str,
    /// The command's name in metrics, as in the API.
    metric: &'static str,
    title: &'static str,
    button: &'static str,
    roles: &'static [Role],
    fields: &'static [FieldSpec],
}

const OUTCOMES: &[(&str, &str)] = &[
    ("upheld", "Upheld"),
    ("partly_upheld", "Partly upheld"),
    ("not_upheld", "Not upheld"),
];
const CHANNELS: &[(&str, &str)] = &[
    ("phone", "Phone"),
    ("email", "Email"),
    ("web_form", "Web form"),
    ("portal", "Portal"),
    ("letter", "Letter"),
    ("in_person", "In person"),
];
const DIVISIONS: &[(&str, &str)] = &[
    ("england-and-wales", "England and Wales"),
    ("scotland", "Scotland"),
    ("northern-ireland", "Northern Ireland"),
];

const RESPONSE_FIELDS: &[FieldSpec] = &[
    select("outcome", "Outcome", true, OUTCOMES),
    field("decision", "Decision", Kind::Textarea, true),
    field("reasons", "Reasons", Kind::Textarea, true),
    hinted(
        field(
            "remedy_actions",
            "Actions to put things right",
            Kind::Lines,
            false,
        ),
        "One action per line.",
    ),
    hinted(
        field("compensation", "Compensation in pounds", Kind::Money, false),
        "For example 150 or 150.50. Leave blank for none.",
    ),
    hinted(
        field(
            "outstanding_actions",
            "Outstanding actions",
            Kind::Lines,
            false,
        ),
        "One per line: what is still to be done, and by when.",
    ),
];

const ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        path: "acknowledge",
        metric: "acknowledge",
        title: "Acknowledge the complaint",
        button: "Acknowledge",
        roles: STAGE1,
        fields: &[field(
            "text",
            "What the resident was told",
            Kind::Textarea,
            false,
        )],
    },
    ActionSpec {
        path: "stage1-response",
        metric: "stage1_response",
        title: "Record the Stage 1 response",
        button: "Record the Stage 1 response",
        roles: STAGE1,
        fields: RESPONSE_FIELDS,
    },
    ActionSpec {
        path: "escalate",
        metric: "escalate",
        title: "Escalate to Stage 2",
        button: "Escalate",
        roles: CASEWORKERS,
        fields: &[field(
            "reason",
            "Why the resident is not satisfied",
            Kind::Textarea,
            true,
        )],
    },
    ActionSpec {
        path: "stage2-acknowledge",
        metric: "stage2_acknowledge",
        title: "Acknowledge the Stage 2 request",
        button: "Acknowledge Stage 2",
        roles: STAGE2,
        fields: &[field(
            "text",
            "What the resident was told",
            Kind::Textarea,
            false,
        )],
    },
    ActionSpec {
        path: "stage2-response",
        metric: "stage2_response",
        title: "Record the Stage 2 response",
        button: "Record the Stage 2 response",
        roles: STAGE2,
        fields: RESPONSE_FIELDS,
    },
    ActionSpec {
        path: "close",
        metric: "close",
        title: "Close the case",
        button: "Close the case",
        roles: CLOSERS,
        fields: &[
            hinted(
                field(
                    "remedy_actions",
                    "Actions to put things right",
                    Kind::Lines,
                    false,
                ),
                "One action per line.",
            ),
            hinted(
                field("compensation", "Compensation in pounds", Kind::Money, false),
                "For example 150 or 150.50. Leave blank for none.",
            ),
            hinted(
                field("learning", "What we learned", Kind::Lines, false),
                "One lesson per line.",
            ),
        ],
    },
    ActionSpec {
        path: "notes",
        metric: "notes",
        title: "Record a note or correspondence",
        button: "Record",
        roles: CASEWORKERS,
        fields: &[
            select(
                "kind",
                "Kind",
                true,
                &[
                    ("note", "Internal note"),
                    ("correspondence", "Correspondence with the resident"),
                ],
            ),
            field("text", "Text", Kind::Textarea, true),
            hinted(
                select(
                    "direction",
                    "Direction",
                    false,
                    &[
                        ("inbound", "From the resident"),
                        ("outbound", "To the resident"),
                    ],
                ),
                "Needed for correspondence.",
            ),
            hinted(
                select("channel", "Channel", false, CHANNELS),
                "For correspondence; email if not chosen.",
            ),
        ],
    },
    ActionSpec {
        path: "categorise",
        metric: "categorise",
        title: "Set the theme and root cause",
        button: "Save the categories",
        roles: CASEWORKERS,
        fields: &[
            field("theme", "Theme", Kind::Text, true),
            field("root_cause", "Root cause", Kind::Text, false),
        ],
    },
    ActionSpec {
        path: "links",
        metric: "links",
        title: "Link a record",
        button: "Link the record",
        roles: CASEWORKERS,
        fields: &[
            select(
                "kind",
                "Kind of record",
                true,
                &[
                    ("repair", "Repair"),
                    ("anti_social_behaviour", "Anti-social behaviour"),
                    ("tenancy", "Tenancy"),
                    ("contact", "Contact"),
                ],
            ),
            field("reference", "Its reference", Kind::Text, true),
            field("note", "Note", Kind::Textarea, false),
        ],
    },
    ActionSpec {
        path: "assign",
        metric: "assign",
        title: "Assign an owner",
        button: "Assign",
        roles: MANAGERS,
        fields: &[field("owner_id", "Owner", Kind::User, true)],
    },
    ActionSpec {
        path: "extend",
        metric: "extend",
        title: "Extend the response deadline",
        button: "Extend",
        roles: STAGE1,
        fields: &[
            field("working_days", "Working days to add", Kind::Number, true),
            field("reason", "Reason", Kind::Textarea, true),
            hinted(
                field(
                    "resident_informed_on",
                    "Day the resident was told",
                    Kind::Date,
                    false,
                ),
                "Today if left blank.",
            ),
        ],
    },
    ActionSpec {
        path: "refuse",
        metric: "refuse",
        title: "Refuse the complaint",
        button: "Refuse",
        roles: STAGE1,
        fields: &[
            select(
                "reason",
                "Reason",
                true,
                &[
                    (
                        "older_than_twelve_months",
                        "The issue arose more than twelve months before",
                    ),
                    ("legal_proceedings", "Legal proceedings have started"),
                    (
                        "previously_considered",
                        "Already considered under the complaints policy",
                    ),
                ],
            ),
            field("explanation", "Explanation", Kind::Textarea, true),
        ],
    },
    ActionSpec {
        path: "withdraw",
        metric: "withdraw",
        title: "Record that the resident withdrew",
        button: "Record the withdrawal",
        roles: CASEWORKERS,
        fields: &[field("reason", "Reason", Kind::Textarea, true)],
    },
    ActionSpec {
        path: "deadlock",
        metric: "deadlock",
        title: "Declare deadlock",
        button: "Declare deadlock",
        roles: STAGE2,
        fields: &[
            field(
                "on_request",
                "The resident asked for a deadlock letter",
                Kind::Checkbox,
                false,
            ),
            field("reason", "Reason", Kind::Textarea, true),
        ],
    },
    ActionSpec {
        path: "refer",
        metric: "refer",
        title: "Record a referral to redress",
        button: "Record the referral",
        roles: REFERRERS,
        fields: &[
            select(
                "scheme",
                "Scheme",
                true,
                &[
                    ("housing-ombudsman", "Housing Ombudsman"),
                    ("property-redress-scheme", "Property Redress Scheme"),
                    ("ombudsman-services", "Ombudsman Services"),
                ],
            ),
            field("reference", "The scheme's reference", Kind::Text, true),
        ],
    },
    ActionSpec {
        path: "reopen",
        metric: "reopen",
        title: "Reopen the case",
        button: "Reopen",
        roles: MANAGERS,
        fields: &[field("reason", "Reason", Kind::Textarea, true)],
    },
];

/// The letters a caseworker may issue from the case page, as `POST …/letters` names them.
const LETTER_KINDS: &[(&str, &str)] = &[
    ("acknowledgement", "Acknowledgement"),
    ("extension", "Extension of the response deadline"),
    ("stage1_response", "Stage 1 response"),
    ("stage2_response", "Stage 2 response"),
    ("deadlock", "Deadlock (end of our procedure)"),
    ("refusal", "Refusal to accept the complaint"),
];

/// The issue-a-letter form: which letter.
pub(crate) const LETTER_FIELDS: &[FieldSpec] = &[hinted(
    select("kind", "Letter", true, LETTER_KINDS),
    "Written from the case as it stands, recorded on it as correspondence.",
)];

/// A field as the template draws it.
#[derive(Debug, Serialize)]
struct FieldView {
    #[serde(flatten)]
    spec: FieldSpec,
    id: String,
    value: String,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct ActionView {
    path: &'static str,
    title: &'static str,
    button: &'static str,
    fields: Vec<FieldView>,
    /// Shown expanded: it was just sent and came back with a problem.
    open: bool,
    /// The rule's message when the command was refused.
    problem: Option<String>,
}

fn field_views(
    prefix: &str,
    fields: &[FieldSpec],
    form: Option<&FormData>,
    errors: &FieldErrors,
) -> Vec<FieldView> {
    fields
        .iter()
        .map(|spec| FieldView {
            spec: *spec,
            id: format!("{prefix}-{}", spec.name.replace('_', "-")),
            value: form
                .and_then(|f| f.get(spec.name))
                .unwrap_or_default()
                .to_string(),
            error: errors.0.get(spec.name).cloned(),
        })
        .collect()
}

/// Blank required fields, each with its own message.
fn check_required(fields: &[FieldSpec], form: &FormData, errors: &mut FieldErrors) {
    for spec in fields.iter().filter(|s| s.required) {
        if form.text(spec.name).is_none() {
            let verb = match spec.kind {
                Kind::Select | Kind::User => "Select",
                _ => "Enter",
            };
            errors.add(spec.name, format!("{verb} {}", spec.label.to_lowercase()));
        }
    }
}

/// The form field a rule's error is about, if it is one of this form's.
fn rule_field(err: &ComplaintError, fields: &[FieldSpec]) -> Option<&'static str> {
    let name = match err {
        ComplaintError::InvalidField { field, .. } => match *field {
            "complainant.name" => "complainant_name",
            "complainant.resident_id" => "complainant_resident_id",
            "remedy.actions" => "remedy_actions",
            other => other,
        },
        ComplaintError::ReceivedInFuture { .. } => "received_on",
        ComplaintError::UnknownProcedure(_) => "procedure",
        ComplaintError::ExtensionExceedsCap { .. } => "working_days",
        ComplaintError::SchemeNotAllowed(_) => "scheme",
        ComplaintError::DeadlockOnRequestNotAllowed => "on_request",
        _ => return None,
    };
    fields.iter().find(|f| f.name == name).map(|f| f.name)
}

/// Turns a refused command into messages: on a field when the rule names one, otherwise
/// for the form as a whole.
pub(crate) fn refusal(
    err: ApiError,
    fields: &[FieldSpec],
    errors: &mut FieldErrors,
) -> Result<Option<String>, PageError> {
    match err {
        ApiError::Rule(rule) => match rule_field(&rule, fields) {
            Some(field) => {
                errors.add(field, super::sign_in::capitalise(&rule.to_string()));
                Ok(None)
            }
            None => Ok(Some(super::sign_in::capitalise(&rule.to_string()))),
        },
        ApiError::Unprocessable { message, .. } | ApiError::Rejected { message, .. } => {
            Ok(Some(super::sign_in::capitalise(&message)))
        }
        ApiError::Conflict => Ok(Some(
            "Someone else changed this case at the same moment. Check the case and try again."
                .to_string(),
        )),
        ApiError::Forbidden(message) => Ok(Some(super::sign_in::capitalise(&message))),
        other => Err(other.into()),
    }
}

/// Reads one command's form into the command, or the problems with its fields.
async fn build_action(
    state: &AppState,
    spec: &ActionSpec,
    form: &FormData,
    errors: &mut FieldErrors,
) -> Result<Option<Action>, PageError> {
    check_required(spec.fields, form, errors);
    let text = |name: &str| form.text(name).unwrap_or_default();
    let response = |errors: &mut FieldErrors| -> Option<RespondToStage> {
        let outcome = errors.choice(form, "outcome", "the outcome");
        let compensation_pence = errors.pence(form, "compensation");
        Some(RespondToStage {
            outcome: outcome?,
            decision: text("decision"),
            reasons: text("reasons"),
            remedy: Remedy {
                actions: lines(form, "remedy_actions"),
                compensation_pence,
            },
            outstanding_actions: lines(form, "outstanding_actions"),
            occurred_at: None,
        })
    };
    let action = match spec.path {
        "acknowledge" | "stage2-acknowledge" => {
            let c = AcknowledgeComplaint {
                text: form.text("text"),
                occurred_at: None,
            };
            Some(if spec.path == "acknowledge" {
                Action::Acknowledge(c)
            } else {
                Action::AcknowledgeStage2(c)
            })
        }
        "stage1-response" => response(errors).map(Action::RespondStage1),
        "stage2-response" => response(errors).map(Action::RespondStage2),
        "escalate" => Some(Action::Escalate(Escalate {
            reason: text("reason"),
            occurred_at: None,
        })),
        "close" => {
            let compensation_pence = errors.pence(form, "compensation");
            Some(Action::Close(CloseComplaint {
                remedy: Remedy {
                    actions: lines(form, "remedy_actions"),
                    compensation_pence,
                },
                learning: lines(form, "learning")
                    .into_iter()
                    .map(LearningEntry::Note)
                    .collect(),
                open_actions_reason: None,
                occurred_at: None,
            }))
        }
        "notes" => {
            let kind: Option<NoteKind> = errors.choice(form, "kind", "the kind");
            let direction = form
                .text("direction")
                .and_then(|_| errors.choice(form, "direction", "the direction"));
            let channel = form
                .text("channel")
                .and_then(|_| errors.choice(form, "channel", "the channel"));
            kind.map(|kind| {
                Action::RecordNote(RecordNote {
                    kind,
                    text: text("text"),
                    direction,
                    channel,
                    occurred_at: None,
                })
            })
        }
        "categorise" => Some(Action::Categorise(Categorise {
            theme: text("theme"),
            root_cause: form.text("root_cause"),
            occurred_at: None,
        })),
        "links" => errors
            .choice(form, "kind", "the kind of record")
            .map(|kind| {
                Action::AddLinkedCase(AddLinkedCase {
                    kind,
                    reference: text("reference"),
                    note: form.text("note"),
                    occurred_at: None,
                })
            }),
        "assign" => {
            let owner = match form.text("owner_id") {
                Some(id) => state.store.user(&id).await?,
                None => None,
            };
            match owner {
                Some(owner) => Some(Action::AssignOwner(AssignOwner {
                    owner: Actor {
                        id: owner.id,
                        name: owner.name,
                    },
                    occurred_at: None,
                })),
                None => {
                    errors.add("owner_id", "Select the owner from the list");
                    None
                }
            }
        }
        "extend" => {
            let working_days = match form.text("working_days").map(|d| d.parse::<u32>()) {
                Some(Ok(days)) => Some(days),
                Some(Err(_)) => {
                    errors.add("working_days", "Enter a whole number of working days");
                    None
                }
                None => None,
            };
            let resident_informed_on = errors.date(form, "resident_informed_on");
            working_days.map(|working_days| {
                Action::ExtendDeadline(ExtendDeadline {
                    working_days,
                    reason: text("reason"),
                    resident_informed_on,
                    occurred_at: None,
                })
            })
        }
        "refuse" => errors.choice(form, "reason", "the reason").map(|reason| {
            Action::Refuse(RefuseComplaint {
                reason,
                explanation: text("explanation"),
                occurred_at: None,
            })
        }),
        "withdraw" => Some(Action::Withdraw(WithdrawComplaint {
            reason: text("reason"),
            occurred_at: None,
        })),
        "deadlock" => Some(Action::DeclareDeadlock(DeclareDeadlock {
            on_request: form.get("on_request").is_some(),
            reason: text("reason"),
            occurred_at: None,
        })),
        "refer" => errors.choice(form, "scheme", "the scheme").map(|scheme| {
            Action::ReferToRedress(ReferToRedress {
                scheme,
                reference: Some(text("reference")).filter(|r| !r.trim().is_empty()),
                occurred_at: None,
            })
        }),
        "reopen" => Some(Action::Reopen(ReopenComplaint {
            reason: text("reason"),
            occurred_at: None,
        })),
        _ => return Err(PageError::NotFound),
    };
    Ok(action.filter(|_| errors.is_empty()))
}

#[derive(Debug, Serialize)]
struct DeadlineRow {
    step: String,
    due: String,
    state: DeadlineState,
    met_on: Option<String>,
    /// Working days from today to the due date, for a deadline not yet met.
    days_left: Option<u32>,
    extended_by: u32,
}

#[derive(Debug, Serialize)]
struct TimelineEntry {
    at: String,
    title: String,
    actor: String,
    role: Option<String>,
}

#[derive(Debug, Serialize)]
struct UserOption {
    id: String,
    name: String,
}

#[derive(Debug, Serialize)]
struct CasePage {
    case: CaseView,
    deadlines: Vec<DeadlineRow>,
    timeline: Vec<TimelineEntry>,
    actions: Vec<ActionView>,
    users: Vec<UserOption>,
    done: Option<String>,
    /// Links to the forms with problems, for the summary at the top.
    problems: Vec<Problem>,
    /// The resident's other cases, when the case names the resident.
    other_cases: Option<Vec<CaseSummary>>,
    /// The upload form, for the roles that may attach evidence.
    evidence_form: Option<EvidenceForm>,
    /// The issue-a-letter form, for the roles that may issue letters.
    letter_form: Option<ActionView>,
    /// May download the ombudsman bundle (compliance, managers, auditors, admins).
    can_bundle: bool,
    /// May check the event chain (auditors, compliance, managers, admins).
    can_verify: bool,
}

/// The evidence upload form as the template draws it.
#[derive(Debug, Serialize)]
struct EvidenceForm {
    description: String,
    file_error: Option<String>,
    description_error: Option<String>,
    /// The rule's message when the command was refused.
    problem: Option<String>,
    /// The largest file accepted, in words.
    limit: String,
}

/// The form sent to the command `prefix`, if that is the one the page answers, with its
/// field errors and refusal; each is also listed in `problems` for the summary at the top,
/// linked to its field (`#{prefix}-{field}`) or the form's message (`#{prefix}-problem`).
fn sent_to<'a>(
    sent: &Option<(&str, &'a FormData, FieldErrors, Option<String>)>,
    prefix: &str,
    problems: &mut Vec<Problem>,
) -> (Option<&'a FormData>, FieldErrors, Option<String>) {
    let (form, errors, problem) = match sent {
        Some((path, form, errors, problem)) if *path == prefix => {
            (Some(*form), errors.clone(), problem.clone())
        }
        _ => (None, FieldErrors::default(), None),
    };
    for (field, message) in &errors.0 {
        problems.push(Problem {
            href: format!("#{prefix}-{}", field.replace('_', "-")),
            text: message.clone(),
        });
    }
    if let Some(problem) = &problem {
        problems.push(Problem {
            href: format!("#{prefix}-problem"),
            text: problem.clone(),
        });
    }
    (form, errors, problem)
}

/// "Stage1Responded" → "Stage 1 responded".
pub(crate) fn event_title(name: &str) -> String {
    let mut words = String::new();
    for (i, c) in name.chars().enumerate() {
        if i > 0 && (c.is_uppercase() || c.is_ascii_digit()) {
            words.push(' ');
        }
        if i == 0 {
            words.push(c);
        } else {
            words.extend(c.to_lowercase());
        }
    }
    words
}

/// What was just done, from the redirect after a command.
fn done_message(done: Option<&str>) -> Option<String> {
    let done = done?;
    if done == "log" {
        return Some("The complaint is logged.".to_string());
    }
    if done == "evidence" {
        return Some("The evidence file is stored and added to the case.".to_string());
    }
    ACTIONS
        .iter()
        .find(|a| a.path == done)
        .map(|a| format!("Done: {}.", a.title.to_lowercase()))
}

/// Everything the case page shows, with `sent` the form that just came back refused.
pub(crate) async fn render_case(
    state: &AppState,
    staff: &Staff,
    id: &str,
    done: Option<&str>,
    sent: Option<(&str, &FormData, FieldErrors, Option<String>)>,
) -> Result<Response, PageError> {
    let case = state.cases.view(id).await?.ok_or(PageError::NotFound)?;
    let history = state.cases.history(id).await?.ok_or(PageError::NotFound)?;
    let today = uk_date(Utc::now());
    let deadlines = case
        .deadlines
        .iter()
        .map(|(step, d)| DeadlineRow {
            step: step.clone(),
            due: d.due.to_string(),
            state: d.state,
            met_on: d.met_on.map(|m| m.to_string()),
            days_left: match d.state {
                DeadlineState::Pending | DeadlineState::DueSoon => Some(
                    state
                        .web
                        .calendar
                        .working_days_between(case.division, today, d.due),
                ),
                _ => None,
            },
            extended_by: d.extended_by,
        })
        .collect();
    let timeline = history
        .events
        .iter()
        .rev()
        .map(|e| TimelineEntry {
            at: e.occurred_at.to_rfc3339(),
            title: event_title(&e.event_type),
            actor: e.actor.name.clone(),
            role: e.actor.role.as_deref().map(|r| label(r.to_string())),
        })
        .collect();
    let mut problems = Vec::new();
    let actions = ACTIONS
        .iter()
        .filter(|a| staff.principal.require(a.roles).is_ok())
        .map(|a| {
            let (form, errors, problem) = sent_to(&sent, a.path, &mut problems);
            let prefix = a.path;
            ActionView {
                path: a.path,
                title: a.title,
                button: a.button,
                fields: field_views(prefix, a.fields, form, &errors),
                open: form.is_some(),
                problem,
            }
        })
        .collect::<Vec<_>>();
    let evidence_form = staff.principal.require(CASEWORKERS).is_ok().then(|| {
        let (form, errors, problem) = sent_to(&sent, "evidence", &mut problems);
        EvidenceForm {
            description: form
                .and_then(|f| f.get("description"))
                .unwrap_or_default()
                .to_string(),
            file_error: errors.0.get("file").cloned(),
            description_error: errors.0.get("description").cloned(),
            problem,
            limit: super::evidence::size_words(state.evidence_limit),
        }
    });
    let letter_form = staff.principal.require(CASEWORKERS).is_ok().then(|| {
        let (form, errors, problem) = sent_to(&sent, "letters", &mut problems);
        ActionView {
            path: "letters",
            title: "Issue a letter",
            button: "Issue the letter",
            fields: field_views("letters", LETTER_FIELDS, form, &errors),
            open: form.is_some(),
            problem,
        }
    });
    let users = if actions.iter().any(|a| a.path == "assign") {
        state
            .store
            .users()
            .await?
            .into_iter()
            .map(|u| UserOption {
                id: u.id,
                name: u.name,
            })
            .collect()
    } else {
        Vec::new()
    };
    let other_cases = match case.complainant.resident_id.as_deref() {
        Some(resident) => Some(
            resident_cases(state, resident)
                .await?
                .into_iter()
                .filter(|c| c.id != case.id)
                .collect(),
        ),
        None => None,
    };
    let status = if sent.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    state.web.page_with_status(
        status,
        "case.html",
        Some(staff),
        CasePage {
            case,
            deadlines,
            timeline,
            actions,
            users,
            done: done_message(done),
            problems,
            other_cases,
            evidence_form,
            letter_form,
            can_bundle: staff
                .principal
                .require(crate::routes::letters::BUNDLERS)
                .is_ok(),
            can_verify: staff.principal.require(VERIFIERS).is_ok(),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct CaseQuery {
    done: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(query): Query<CaseQuery>,
) -> Result<Response, PageError> {
    staff.principal.require(READERS)?;
    let id = case_id(&id).map_err(|_| PageError::NotFound)?;
    render_case(&state, &staff, &id, query.done.as_deref(), None).await
}

pub async fn act(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, path)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = FormData::parse(&body);
    staff.check_csrf(form.get("csrf"))?;
    let id = case_id(&id).map_err(|_| PageError::NotFound)?;
    let spec = ACTIONS
        .iter()
        .find(|a| a.path == path)
        .ok_or(PageError::NotFound)?;
    let role = staff.principal.require(spec.roles)?;
    if state.cases.view(&id).await?.is_none() {
        return Err(PageError::NotFound);
    }
    let mut errors = FieldErrors::default();
    let problem = match build_action(&state, spec, &form, &mut errors).await? {
        Some(action) => {
            // The page is drawn afresh after the redirect, so the answer's lists go unread.
            let ctx = CommandContext {
                minimal: true,
                ..context(&staff.principal, role, &headers, None)
            };
            match state.cases.execute(&id, spec.metric, action, &ctx).await {
                Ok(_) => {
                    let to = format!("/cases/{id}?done={}", spec.path);
                    return Ok(Redirect::to(&to).into_response());
                }
                Err(err) => refusal(err, spec.fields, &mut errors)?,
            }
        }
        None => None,
    };
    render_case(
        &state,
        &staff,
        &id,
        None,
        Some((spec.path, &form, errors, problem)),
    )
    .await
}

const INTAKE_FIELDS: &[FieldSpec] = &[
    select("procedure", "Procedure", true, &[]),
    select("division", "Where the home is", true, DIVISIONS),
    hinted(
        field(
            "received_on",
            "Day the complaint was received",
            Kind::Date,
            true,
        ),
        "Deadlines count from this day.",
    ),
    hinted(
        field("issue_arose_on", "Day the issue arose", Kind::Date, false),
        "If known.",
    ),
    select("channel", "How it reached us", true, CHANNELS),
    field("complainant_name", "Full name", Kind::Text, true),
    field("complainant_email", "Email address", Kind::Text, false),
    field("complainant_phone", "Phone number", Kind::Text, false),
    field("complainant_address", "Address", Kind::Textarea, false),
    hinted(
        field(
            "complainant_resident_id",
            "Resident or tenancy id",
            Kind::Text,
            false,
        ),
        "Our own id for the resident, to find their other cases.",
    ),
    hinted(
        field("summary", "Summary", Kind::Text, true),
        "One line: what the complaint is about.",
    ),
    field("description", "What happened", Kind::Textarea, false),
];

#[derive(Debug, Serialize)]
struct NewCasePage {
    procedures: Vec<super::ProcedureOption>,
    fields: Vec<FieldView>,
    problem: Option<String>,
    problems: Vec<Problem>,
    /// The resident id looked up or typed, and that resident's cases.
    resident_id: Option<String>,
    resident_cases: Vec<CaseSummary>,
}

async fn intake_page(
    state: &AppState,
    staff: &Staff,
    status: StatusCode,
    form: &FormData,
    errors: &FieldErrors,
    problem: Option<String>,
) -> Result<Response, PageError> {
    let mut fields = field_views("intake", INTAKE_FIELDS, Some(form), errors);
    if form.get("received_on").is_none() {
        if let Some(received) = fields.iter_mut().find(|f| f.spec.name == "received_on") {
            received.value = uk_date(Utc::now()).to_string();
        }
    }
    let problems = fields
        .iter()
        .filter_map(|f| {
            f.error.as_ref().map(|text| Problem {
                href: format!("#{}", f.id),
                text: text.clone(),
            })
        })
        .chain(problem.iter().map(|text| Problem {
            href: "#intake-problem".to_string(),
            text: text.clone(),
        }))
        .collect();
    let resident_id = form.text("complainant_resident_id");
    let resident_cases = match &resident_id {
        Some(resident) => resident_cases(state, resident).await?,
        None => Vec::new(),
    };
    state.web.page_with_status(
        status,
        "case_new.html",
        Some(staff),
        NewCasePage {
            procedures: state.web.procedures.clone(),
            fields,
            problem,
            problems,
            resident_id,
            resident_cases,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct IntakeQuery {
    /// A resident whose cases to show, and to fill in on the form.
    #[serde(default)]
    resident_id: String,
}

pub async fn new_page(
    State(state): State<AppState>,
    staff: Staff,
    query: Result<Query<IntakeQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    staff.principal.require(LOGGERS)?;
    let resident = query
        .map(|Query(q)| q.resident_id.trim().to_string())
        .unwrap_or_default();
    let form = if resident.is_empty() {
        FormData::default()
    } else {
        FormData::from_pairs(vec![("complainant_resident_id".to_string(), resident)])
    };
    intake_page(
        &state,
        &staff,
        StatusCode::OK,
        &form,
        &FieldErrors::default(),
        None,
    )
    .await
}

pub async fn log(
    State(state): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = FormData::parse(&body);
    staff.check_csrf(form.get("csrf"))?;
    let role = staff.principal.require(LOGGERS)?;
    let mut errors = FieldErrors::default();
    check_required(INTAKE_FIELDS, &form, &mut errors);
    let procedure = form.text("procedure").unwrap_or_default();
    if !procedure.is_empty() && !state.web.procedures.iter().any(|p| p.id == procedure) {
        errors.add("procedure", "Select the procedure from the list");
    }
    let division = form
        .text("division")
        .and_then(|_| errors.choice(&form, "division", "where the home is"));
    let channel = form
        .text("channel")
        .and_then(|_| errors.choice(&form, "channel", "how it reached us"));
    let received_on = errors.date(&form, "received_on");
    let issue_arose_on = errors.date(&form, "issue_arose_on");
    let complaint = match (division, channel, received_on) {
        (Some(division), Some(channel), Some(received_on)) if errors.is_empty() => {
            Some(LogComplaint {
                procedure,
                division: Some(division),
                received_on: Some(received_on),
                issue_arose_on,
                channel,
                complainant: Complainant {
                    name: form.text("complainant_name").unwrap_or_default(),
                    email: form.text("complainant_email"),
                    phone: form.text("complainant_phone"),
                    address: form.text("complainant_address"),
                    resident_id: form.text("complainant_resident_id"),
                    postcode: form.text("complainant_postcode"),
                    preferred_contact: None,
                },
                summary: form.text("summary").unwrap_or_default(),
                description: form.text("description").unwrap_or_default(),
                occurred_at: None,
                tenure: None,
                definition: None,
                outcomes_sought: Vec::new(),
            })
        }
        _ => None,
    };
    let mut problem = None;
    if let Some(complaint) = complaint {
        // The page is drawn afresh after the redirect, so the answer's lists go unread.
        let ctx = CommandContext {
            minimal: true,
            ..context(&staff.principal, role, &headers, None)
        };
        match state.cases.log(complaint, &ctx).await {
            Ok(CaseResponse { view, .. }) => {
                // A logged case always has a view; the queue is the fallback.
                let to = view.map_or_else(
                    || "/cases".to_string(),
                    |view| format!("/cases/{}?done=log", view.id),
                );
                return Ok(Redirect::to(&to).into_response());
            }
            Err(err) => problem = refusal(err, INTAKE_FIELDS, &mut errors)?,
        }
    }
    intake_page(
        &state,
        &staff,
        StatusCode::UNPROCESSABLE_ENTITY,
        &form,
        &errors,
        problem,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_read_as_sentences() {
        assert_eq!(event_title("Stage1Responded"), "Stage 1 responded");
        assert_eq!(event_title("OwnerAssigned"), "Owner assigned");
        assert_eq!(event_title("Logged"), "Logged");
    }

    #[test]
    fn every_command_of_the_api_has_a_form() {
        let paths: Vec<&str> = ACTIONS.iter().map(|a| a.path).collect();
        // The API's action routes, less evidence, whose upload form is its own
        // (`evidence.rs`).
        for path in [
            "acknowledge",
            "assign",
            "notes",
            "links",
            "categorise",
            "extend",
            "stage1-response",
            "escalate",
            "stage2-acknowledge",
            "stage2-response",
            "close",
            "deadlock",
            "refer",
            "refuse",
            "withdraw",
            "reopen",
        ] {
            assert!(paths.contains(&path), "{path}");
        }
    }

    #[test]
    fn a_rule_about_a_field_of_the_form_is_shown_on_that_field() {
        let err = ComplaintError::InvalidField {
            field: "reason",
            reason: "must not be empty".into(),
        };
        let escalate = ACTIONS
            .iter()
            .find(|a| a.path == "escalate")
            .map(|a| a.fields);
        assert_eq!(
            rule_field(&err, escalate.unwrap_or_default()),
            Some("reason")
        );
        assert_eq!(rule_field(&ComplaintError::NotAcknowledged, &[]), None);
    }
}
