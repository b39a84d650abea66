//! The cases every template is rendered against when the set is loaded: one with every
//! optional part filled in, one with none, both in a state that allows every letter. A case
//! this full cannot happen (refused after a Stage 2 response); it only has to exercise
//! every branch a template may take.

use std::collections::HashMap;

use casefile_domain::calendar::{Calendar, Division};
use casefile_domain::procedure::ProcedureRegistry;
use casefile_domain::values::{
    Actor, Authority, Channel, Complainant, Contact, CorrespondenceTo, Outcome, RefusalReason,
    Relationship, Remedy, Stage, StageResponse,
};
use casefile_domain::ComplaintEvent;
use casefile_projections::{CaseView, RecordedEvent};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::LetterContext;
use crate::contact::{Organisation, SchemeContact};

fn at(month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, month, day, 10, 0, 0)
        .single()
        .unwrap_or_default()
}

fn actor(id: &str, name: &str) -> Actor {
    Actor {
        id: id.into(),
        name: name.into(),
    }
}

fn response(full: bool) -> StageResponse {
    StageResponse {
        outcome: Outcome::PartlyUpheld,
        decision: "Sample decision".into(),
        reasons: "Sample reasons".into(),
        remedy: Remedy {
            actions: if full {
                vec!["Sample action".into()]
            } else {
                Vec::new()
            },
            compensation_pence: if full { 12_345 } else { 0 },
        },
        outstanding_actions: if full {
            vec!["Sample outstanding action".into()]
        } else {
            Vec::new()
        },
    }
}

fn case(full: bool) -> Option<CaseView> {
    let procedure = ProcedureRegistry::builtin().get("chc-2024")?.clone();
    let handler = actor("sample-1", "Sample Handler");
    let reviewer = actor("sample-2", "Sample Reviewer");
    let optional = |text: &str| full.then(|| text.to_string());
    let mut events = vec![
        ComplaintEvent::Logged {
            occurred_at: at(3, 3),
            by: handler.clone(),
            reference: "CF-2025-000000".into(),
            procedure,
            division: Division::EnglandAndWales,
            calendar_version: "sample".into(),
            received_on: NaiveDate::from_ymd_opt(2025, 3, 3)?,
            issue_arose_on: full.then_some(NaiveDate::from_ymd_opt(2025, 2, 1)?),
            channel: Channel::Email,
            complainant: Complainant {
                name: "Sample Resident".into(),
                email: optional("resident@example.org"),
                phone: optional("01234 567890"),
                address: optional("1 Sample Street\nSampletown\nAB1 2CD"),
                resident_id: optional("R-1"),
            },
            summary: "Sample complaint".into(),
            description: if full {
                "Sample details".into()
            } else {
                String::new()
            },
            tenure: None,
        },
        ComplaintEvent::Acknowledged {
            occurred_at: at(3, 4),
            by: handler.clone(),
            text: None,
        },
        ComplaintEvent::DeadlineExtended {
            occurred_at: at(3, 10),
            by: handler.clone(),
            stage: Stage::Stage1,
            working_days: 5,
            reason: "Sample reason".into(),
            resident_informed_on: NaiveDate::from_ymd_opt(2025, 3, 10)?,
        },
        ComplaintEvent::Stage1Responded {
            occurred_at: at(3, 20),
            by: handler.clone(),
            response: response(full),
            signposted_to: Vec::new(),
        },
        ComplaintEvent::Escalated {
            occurred_at: at(3, 24),
            by: handler.clone(),
            reason: "Sample escalation".into(),
        },
        ComplaintEvent::Stage2Acknowledged {
            occurred_at: at(3, 25),
            by: reviewer.clone(),
            text: None,
        },
        ComplaintEvent::Stage2Responded {
            occurred_at: at(4, 10),
            by: reviewer.clone(),
            response: response(full),
            signposted_to: vec![casefile_domain::Scheme::HousingOmbudsman],
        },
        ComplaintEvent::Deadlocked {
            occurred_at: at(4, 11),
            by: reviewer.clone(),
            on_request: true,
            reason: "Sample deadlock".into(),
        },
        ComplaintEvent::Refused {
            occurred_at: at(4, 12),
            by: reviewer,
            reason: RefusalReason::PreviouslyConsidered,
            explanation: "Sample explanation".into(),
            signposted_to: Vec::new(),
        },
    ];
    // The full case defines the complaint at both stages and has one representative the
    // letters go to instead of the resident and one they are copied to; the sparse case
    // has neither, so its letters fall back to the summary and go to the resident.
    if full {
        let defined = |stage, month, day| ComplaintEvent::Defined {
            occurred_at: at(month, day),
            by: handler.clone(),
            stage,
            definition: "Sample definition".into(),
            outcomes_sought: vec!["Sample outcome".into()],
        };
        let representative =
            |id: &str, name: &str, correspondence_to| ComplaintEvent::RepresentativeAdded {
                occurred_at: at(3, 5),
                by: handler.clone(),
                representative_id: id.into(),
                name: name.into(),
                relationship: Relationship::Advocate,
                contact: Contact {
                    email: Some("representative@example.org".into()),
                    phone: None,
                    address: Some("2 Sample Street\nSampletown\nAB1 2CE".into()),
                },
                authority: Authority {
                    how: "Sample consent".into(),
                    given_on: NaiveDate::from_ymd_opt(2025, 3, 5).unwrap_or_default(),
                },
                correspondence_to,
            };
        events.splice(
            2..2,
            [
                defined(Stage::Stage1, 3, 4),
                representative(
                    "rep-1",
                    "Sample Representative",
                    CorrespondenceTo::Representative,
                ),
                representative("rep-2", "Sample Copy", CorrespondenceTo::Both),
            ],
        );
        let escalated = events
            .iter()
            .position(|e| matches!(e, ComplaintEvent::Stage2Acknowledged { .. }))
            .unwrap_or(events.len());
        events.insert(escalated + 1, defined(Stage::Stage2, 3, 26));
    }
    let recorded: Vec<RecordedEvent> = events
        .into_iter()
        .zip(1..)
        .map(|(event, sequence)| RecordedEvent {
            aggregate_id: "sample".into(),
            sequence,
            event_version: "1.0".into(),
            recorded_at: event.occurred_at(),
            event,
            metadata: HashMap::new(),
        })
        .collect();
    CaseView::build(
        "sample",
        &recorded,
        &Calendar::builtin(),
        at(4, 14).date_naive(),
    )
}

fn context(full: bool, stages: u8) -> LetterContext {
    let mut organisation = Organisation::named("Sample Homes");
    let mut scheme = SchemeContact::builtin(casefile_domain::Scheme::HousingOmbudsman);
    if full {
        organisation.address = vec!["1 Landlord Road".into(), "Sampletown".into()];
        organisation.email = Some("complaints@example.org".into());
        organisation.phone = Some("01234 000000".into());
    } else {
        scheme.phone = None;
        scheme.email = None;
    }
    LetterContext {
        organisation,
        scheme,
        redress_within_months: full.then_some(12),
        stages,
        date: NaiveDate::from_ymd_opt(2025, 4, 14).unwrap_or_default(),
    }
}

/// The sample cases with their contexts: full and sparse, each under a one- and a
/// two-stage procedure (a Stage 1 response reads differently when it is the final one).
pub(super) fn cases() -> Vec<(CaseView, LetterContext)> {
    let mut cases = Vec::new();
    for full in [true, false] {
        if let Some(view) = case(full) {
            for stages in [1, 2] {
                cases.push((view.clone(), context(full, stages)));
            }
        }
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_four_sample_cases_allowing_every_letter() {
        let cases = cases();
        assert_eq!(cases.len(), 4);
        for (view, _) in &cases {
            assert!(view.acknowledged_on.is_some() && view.stage2_acknowledged_on.is_some());
            assert!(view.stage1_response.is_some() && view.stage2_response.is_some());
            assert!(view.deadlocked_on.is_some() && view.refusal.is_some());
            assert_eq!(view.extensions.len(), 1);
        }
    }
}
