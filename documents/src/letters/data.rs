//! What a letter template sees: the case's facts in the words and formats a letter uses,
//! plus the raw case view as `view` for organisations that want more.
//!
//! Optional values are left out rather than set to `none`, so a template that prints one
//! without testing for it fails against the sparse sample case at load time.

use casefile_domain::values::{CorrespondenceTo, Stage};
use casefile_projections::case_view::ResponseView;
use casefile_projections::CaseView;
use serde::Serialize;

use super::{LetterContext, LetterError, LetterKind};
use crate::contact::{Organisation, SchemeContact};
use crate::format;

#[derive(Debug, Serialize)]
pub(super) struct LetterData<'a> {
    kind: LetterKind,
    /// The date the letter bears.
    date: String,
    landlord: &'a Organisation,
    ombudsman: &'a SchemeContact,
    #[serde(skip_serializing_if = "Option::is_none")]
    redress_within_months: Option<u32>,
    /// The resident the complaint is about.
    resident: Recipient,
    /// Who the letter is addressed to: the resident, or a representative that the case's
    /// letters go to instead of them.
    addressee: Recipient,
    /// Whom the letter is copied to: representatives that receive the case's letters as
    /// well as the resident, or besides the one addressed.
    copy_to: Vec<Recipient>,
    /// The addressee is a representative, not the resident.
    to_representative: bool,
    case: Facts,
    /// The stage the letter is about: `Stage 1` or `Stage 2`.
    stage: &'static str,
    /// The stage's response ends the in-house procedure.
    final_stage: bool,
    /// The letter ends the in-house procedure (a final response, deadlock or refusal):
    /// the resident may now go to the ombudsman.
    procedure_complete: bool,
    /// The stage the resident may escalate to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_stage: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acknowledgement: Option<Acknowledgement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extension: Option<Extension>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<Response>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deadlock: Option<Deadlock>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<Refusal>,
    view: &'a CaseView,
}

#[derive(Debug, Clone, Serialize)]
struct Recipient {
    name: String,
    /// Postal address, one line per element.
    address: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

#[derive(Debug, Serialize)]
struct Facts {
    reference: String,
    received_on: String,
    /// The landlord's understanding of the complaint: the definition recorded for the
    /// letter's stage (Stage 1's while Stage 2 has none), else the summary it was logged with.
    definition: String,
    /// The outcomes the resident seeks, as the same definition records them.
    outcomes_sought: Vec<String>,
    /// The fuller account given when the complaint was logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<String>,
}

#[derive(Debug, Serialize)]
struct Acknowledgement {
    on: String,
    /// When the stage's response is due, if its clock has started.
    #[serde(skip_serializing_if = "Option::is_none")]
    response_due: Option<String>,
}

#[derive(Debug, Serialize)]
struct Extension {
    working_days: u32,
    reason: String,
    /// The stage's response date with every extension applied.
    new_due: String,
    resident_informed_on: String,
}

#[derive(Debug, Serialize)]
struct Response {
    on: String,
    by: String,
    outcome: &'static str,
    decision: String,
    reasons: String,
    remedy_actions: Vec<String>,
    /// Present only when money is offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    compensation: Option<String>,
    compensation_pence: u64,
    outstanding_actions: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Deadlock {
    on: String,
}

#[derive(Debug, Serialize)]
struct Refusal {
    on: String,
    reason: &'static str,
    explanation: String,
}

fn response_step(stage: Stage) -> &'static str {
    match stage {
        Stage::Stage1 => "stage1_response",
        Stage::Stage2 => "stage2_response",
    }
}

impl<'a> LetterData<'a> {
    pub(super) fn build(
        kind: LetterKind,
        case: &'a CaseView,
        context: &'a LetterContext,
    ) -> Result<Self, LetterError> {
        let resident = Recipient {
            name: case.complainant.name.clone(),
            address: address_lines(case.complainant.address.as_deref()),
            email: case.complainant.email.clone(),
        };
        let (representative, copy_to) = recipients(case);
        let to_representative = representative.is_some();
        let addressee = representative.unwrap_or_else(|| resident.clone());
        let mut data = Self {
            kind,
            date: format::long_date(context.date),
            landlord: &context.organisation,
            ombudsman: &context.scheme,
            redress_within_months: context.redress_within_months,
            resident,
            addressee,
            copy_to,
            to_representative,
            case: Facts {
                reference: case.reference.clone(),
                received_on: format::long_date(case.received_on),
                definition: case.summary.clone(),
                outcomes_sought: Vec::new(),
                details: Some(case.description.clone()).filter(|d| !d.trim().is_empty()),
            },
            stage: format::stage(case.stage),
            final_stage: false,
            procedure_complete: false,
            next_stage: None,
            acknowledgement: None,
            extension: None,
            response: None,
            deadlock: None,
            refusal: None,
            view: case,
        };
        let stage = match kind {
            LetterKind::Acknowledgement => {
                let on = match case.stage {
                    Stage::Stage1 => case.acknowledged_on,
                    Stage::Stage2 => case.stage2_acknowledged_on,
                }
                .ok_or(LetterError::NotAcknowledged(case.stage))?;
                data.acknowledgement = Some(Acknowledgement {
                    on: format::long_date(on),
                    response_due: case
                        .deadlines
                        .get(response_step(case.stage))
                        .map(|d| format::long_date(d.due)),
                });
                case.stage
            }
            LetterKind::Extension => {
                let extension = case.extensions.last().ok_or(LetterError::NoExtension)?;
                let due = case
                    .deadlines
                    .get(response_step(extension.stage))
                    .ok_or(LetterError::NoResponseDeadline(extension.stage))?;
                data.extension = Some(Extension {
                    working_days: extension.working_days,
                    reason: extension.reason.clone(),
                    new_due: format::long_date(due.due),
                    resident_informed_on: format::long_date(extension.resident_informed_on),
                });
                extension.stage
            }
            LetterKind::Stage1Response => {
                let response = case
                    .stage1_response
                    .as_ref()
                    .ok_or(LetterError::NotResponded(Stage::Stage1))?;
                data.response = Some(Response::from(response));
                Stage::Stage1
            }
            LetterKind::Stage2Response => {
                let response = case
                    .stage2_response
                    .as_ref()
                    .ok_or(LetterError::NotResponded(Stage::Stage2))?;
                data.response = Some(Response::from(response));
                Stage::Stage2
            }
            LetterKind::Deadlock => {
                let on = case.deadlocked_on.ok_or(LetterError::NotDeadlocked)?;
                data.deadlock = Some(Deadlock {
                    on: format::long_date(on),
                });
                case.stage
            }
            LetterKind::Refusal => {
                let refusal = case.refusal.as_ref().ok_or(LetterError::NotRefused)?;
                data.refusal = Some(Refusal {
                    on: format::long_date(refusal.on),
                    reason: format::refusal_reason(refusal.reason),
                    explanation: refusal.explanation.clone(),
                });
                case.stage
            }
        };
        data.stage = format::stage(stage);
        let definitions = &case.definitions;
        let defined = match stage {
            Stage::Stage1 => definitions.stage1.as_ref(),
            Stage::Stage2 => definitions.stage2.as_ref().or(definitions.stage1.as_ref()),
        };
        if let Some(defined) = defined {
            data.case.definition = defined.definition.clone();
            data.case.outcomes_sought = defined.outcomes_sought.clone();
        }
        data.final_stage = stage >= context.final_stage();
        data.procedure_complete = match kind {
            LetterKind::Stage1Response | LetterKind::Stage2Response => data.final_stage,
            LetterKind::Deadlock | LetterKind::Refusal => true,
            LetterKind::Acknowledgement | LetterKind::Extension => false,
        };
        data.next_stage = (stage < context.final_stage()).then_some(format::stage(Stage::Stage2));
        Ok(data)
    }
}

impl From<&ResponseView> for Response {
    fn from(view: &ResponseView) -> Self {
        let r = &view.response;
        Self {
            on: format::long_date(view.on),
            by: view.by.name.clone(),
            outcome: format::outcome(r.outcome),
            decision: r.decision.clone(),
            reasons: r.reasons.clone(),
            remedy_actions: r.remedy.actions.clone(),
            compensation: (r.remedy.compensation_pence > 0)
                .then(|| format::pounds(r.remedy.compensation_pence)),
            compensation_pence: r.remedy.compensation_pence,
            outstanding_actions: r.outstanding_actions.clone(),
        }
    }
}

/// The representative a letter is addressed to instead of the resident, and those it is
/// copied to, as the active representatives' `correspondence_to` says: the first whose
/// letters go to them alone is addressed; the others who receive letters are copied in.
fn recipients(case: &CaseView) -> (Option<Recipient>, Vec<Recipient>) {
    let mut addressee = None;
    let mut copy_to = Vec::new();
    for representative in case.active_representatives() {
        let recipient = Recipient {
            name: representative.name.clone(),
            address: address_lines(representative.contact.address.as_deref()),
            email: representative.contact.email.clone(),
        };
        match representative.correspondence_to {
            CorrespondenceTo::Resident => {}
            CorrespondenceTo::Representative if addressee.is_none() => addressee = Some(recipient),
            CorrespondenceTo::Representative | CorrespondenceTo::Both => copy_to.push(recipient),
        }
    }
    (addressee, copy_to)
}

/// A free-text address as the lines of a letter's address block: split at line breaks,
/// or at commas when written on one line.
fn address_lines(address: Option<&str>) -> Vec<String> {
    let Some(address) = address else {
        return Vec::new();
    };
    let separator = if address.contains('\n') { '\n' } else { ',' };
    address
        .split(separator)
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}
