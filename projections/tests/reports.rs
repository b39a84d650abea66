//! The reports against a fixture of thirteen case histories whose every figure is worked out
//! by hand below, on the England and Wales calendar.
//!
//! June and July 2025 have no bank holidays in England and Wales, so there N×5 working days
//! after a weekday is the same weekday N weeks later. April and May 2025 have Good Friday
//! (18 Apr), Easter Monday (21 Apr) and the Early May bank holiday (5 May).
//!
//! | case  | tenure | received   | story |
//! |-------|--------|------------|-------|
//! | CF-01 | lcra   | Mon 2 Jun  | ack Wed 4 (due Mon 9, on time); Stage 1 due Wed 18, answered Tue 17 |
//! | CF-02 | lcra   | Mon 2 Jun  | ack Tue 10 (late); Stage 1 due Tue 24, answered Wed 25 (late) |
//! | CF-03 | lcra   | Mon 2 Jun  | ack Mon 9; +10 days on Fri 13 (cap 10): due Mon 7 Jul, answered Fri 4 Jul |
//! | CF-04 | lcra   | Mon 2 Jun  | own procedure, cap 15: ack Tue 3; +15 days on Mon 16; Code due Tue 1 Jul (only 10 count), answered Mon 7 Jul: late under the Code, on time under its procedure |
//! | CF-05 | lcho   | Tue 3 Jun  | ack Tue 3; answered Mon 16; Stage 2 asked Wed 18, ack Wed 25 (due Wed 25); due Wed 23 Jul, answered Tue 22 Jul; closed Thu 24 Jul |
//! | CF-06 | lcho   | Tue 3 Jun  | ack Thu 5; answered Thu 19 (due day); Stage 2 asked Fri 20, ack Mon 30 (due Fri 27, late); +5 days on Mon 21 Jul: due Mon 4 Aug, answered Fri 1 Aug |
//! | CF-07 | none   | Mon 2 Jun  | ack Mon 2; answered Tue 10; closed Thu 12 with £20 |
//! | CF-08 | lcra   | Mon 3 Mar  | ack Tue 4 Mar, answered Mon 17 Mar (last year); Stage 2 asked Tue 1 Apr, ack Thu 3 Apr; due Tue 6 May across Easter and 5 May, answered Tue 6 May; an older event that signposted nothing |
//! | CF-09 | lcra   | Mon 2 Jun  | never acknowledged: due Mon 9 Jun, overdue |
//! | CF-10 | lcho   | Mon 2 Jun  | refused Wed 4 with an explanation, the Housing Ombudsman signposted |
//! | CF-11 | lcra   | Mon 2 Jun  | CloudRooms: refused Thu 5, signposted to the Property Redress Scheme only |
//! | CF-12 | lcra   | Tue 31 Mar 2026 | last day of 2025-26; ack due Thu 9 Apr 2026 (Easter), in 2026-27 |
//! | CF-13 | lcra   | Wed 1 Apr 2026 | first day of 2026-27 |
//!
//! Reports are run on Tue 30 Jun 2026.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use std::collections::HashMap;

use casefile_domain::aggregate::Status;
use casefile_domain::calendar::{Calendar, Division};
use casefile_domain::procedure::{ExtensionRule, Procedure, ProcedureRegistry, Scheme};
use casefile_domain::values::{
    Actor, Channel, Complainant, Outcome, RefusalReason, Remedy, Stage, StageResponse, Tenure,
};
use casefile_domain::{ComplaintEvent, DeadlineState};
use casefile_projections::case_view::CaseRecord;
use casefile_projections::reports::{
    kpi, self_assessment, tsm, Homes, Period, PeriodError, ReportCase, ReportRecord, ReportingYear,
};
use casefile_projections::{CaseView, RecordedEvent};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

fn date(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

/// Noon UTC: the same UK date in winter and summer.
fn at(day: &str) -> DateTime<Utc> {
    date(day).and_hms_opt(12, 0, 0).unwrap().and_utc()
}

fn person(id: &str) -> Actor {
    Actor {
        id: id.to_string(),
        name: id.to_string(),
    }
}

fn today() -> NaiveDate {
    date("2026-06-30")
}

fn year() -> ReportingYear {
    "2025-26".parse().unwrap()
}

fn procedure(id: &str) -> Procedure {
    if id == "generous" {
        // An organisation's own procedure allowing 15 working days at Stage 1.
        let mut own = procedure("chc-2024");
        own.id = "generous".to_string();
        own.extensions.stage1 = Some(ExtensionRule {
            max_working_days: Some(15),
        });
        return own;
    }
    ProcedureRegistry::builtin().get(id).unwrap().clone()
}

/// One case's history, one event at noon of each named day.
struct History {
    id: String,
    events: Vec<ComplaintEvent>,
}

fn case(reference: &str, received: &str) -> History {
    History::logged(reference, received, "chc-2024", Channel::Email, None)
}

impl History {
    fn logged(
        reference: &str,
        received: &str,
        procedure_id: &str,
        channel: Channel,
        tenure: Option<Tenure>,
    ) -> Self {
        let event = ComplaintEvent::Logged {
            occurred_at: at(received),
            by: person("advisor"),
            reference: reference.to_string(),
            procedure: procedure(procedure_id),
            division: Division::EnglandAndWales,
            calendar_version: Calendar::builtin().version(),
            received_on: date(received),
            issue_arose_on: None,
            channel,
            complainant: Complainant {
                name: "Resident".to_string(),
                email: None,
                phone: None,
                address: None,
                resident_id: None,
                postcode: None,
                preferred_contact: None,
            },
            summary: "A complaint".to_string(),
            description: String::new(),
            tenure,
        };
        Self {
            id: reference.to_lowercase(),
            events: vec![event],
        }
    }

    fn with(mut self, event: ComplaintEvent) -> Self {
        self.events.push(event);
        self
    }

    fn procedure(mut self, id: &str) -> Self {
        if let ComplaintEvent::Logged { procedure: p, .. } = &mut self.events[0] {
            *p = procedure(id);
        }
        self
    }

    fn channel(mut self, channel: Channel) -> Self {
        if let ComplaintEvent::Logged { channel: c, .. } = &mut self.events[0] {
            *c = channel;
        }
        self
    }

    fn tenure(mut self, tenure: Tenure) -> Self {
        if let ComplaintEvent::Logged { tenure: t, .. } = &mut self.events[0] {
            *t = Some(tenure);
        }
        self
    }

    fn ack(self, day: &str) -> Self {
        self.with(ComplaintEvent::Acknowledged {
            occurred_at: at(day),
            by: person("officer"),
            text: None,
        })
    }

    fn categorise(self, day: &str, theme: &str, root_cause: Option<&str>) -> Self {
        self.with(ComplaintEvent::Categorised {
            occurred_at: at(day),
            by: person("officer"),
            theme: theme.to_string(),
            root_cause: root_cause.map(str::to_string),
        })
    }

    fn extend(self, day: &str, stage: Stage, working_days: u32, reason: &str) -> Self {
        self.with(ComplaintEvent::DeadlineExtended {
            occurred_at: at(day),
            by: person("officer"),
            stage,
            working_days,
            reason: reason.to_string(),
            resident_informed_on: date(day),
        })
    }

    fn respond1(self, day: &str, outcome: Outcome, remedy: Remedy) -> Self {
        self.with(ComplaintEvent::Stage1Responded {
            occurred_at: at(day),
            by: person("officer"),
            response: response(outcome, remedy),
            signposted_to: vec![],
        })
    }

    fn escalate(self, day: &str) -> Self {
        self.with(ComplaintEvent::Escalated {
            occurred_at: at(day),
            by: person("advisor"),
            reason: "Still unhappy".to_string(),
        })
    }

    fn ack2(self, day: &str) -> Self {
        self.with(ComplaintEvent::Stage2Acknowledged {
            occurred_at: at(day),
            by: person("reviewer"),
            text: None,
        })
    }

    fn respond2(self, day: &str, outcome: Outcome, signposted_to: Vec<Scheme>) -> Self {
        self.with(ComplaintEvent::Stage2Responded {
            occurred_at: at(day),
            by: person("reviewer"),
            response: response(outcome, Remedy::default()),
            signposted_to,
        })
    }

    fn close(self, day: &str, remedy: Remedy) -> Self {
        self.with(ComplaintEvent::Closed {
            occurred_at: at(day),
            by: person("officer"),
            remedy,
            learning: vec![],
            open_actions: vec![],
            open_actions_reason: None,
        })
    }

    fn refuse(self, day: &str, signposted_to: Vec<Scheme>) -> Self {
        self.with(ComplaintEvent::Refused {
            occurred_at: at(day),
            by: person("officer"),
            reason: RefusalReason::LegalProceedings,
            explanation: "A claim about the same repair is before the court".to_string(),
            signposted_to,
        })
    }

    fn recorded(&self) -> Vec<RecordedEvent> {
        self.events
            .iter()
            .zip(1..)
            .map(|(event, sequence)| RecordedEvent {
                aggregate_id: self.id.clone(),
                sequence,
                event_version: "1.0".to_string(),
                recorded_at: event.occurred_at(),
                event: event.clone(),
                metadata: HashMap::new(),
            })
            .collect()
    }

    fn view(self) -> CaseView {
        CaseView::build(&self.id, &self.recorded(), &Calendar::builtin(), today()).unwrap()
    }

    /// The case as the service hands it to the reports: read from its stored fold, which
    /// gives what its full view gives.
    fn reported(self) -> ReportCase {
        let (record, _) = CaseRecord::fold(&self.id, &self.recorded()).unwrap();
        let stored = serde_json::to_string(&record).unwrap();
        let lean: ReportRecord = serde_json::from_str(&stored).unwrap();
        assert!(lean.usable(&self.id));
        let case = lean.case();
        let view = record.view(&Calendar::builtin(), today(), Vec::new());
        assert_eq!(case, ReportCase::from(&view));
        case
    }
}

fn response(outcome: Outcome, remedy: Remedy) -> StageResponse {
    StageResponse {
        outcome,
        decision: "Decision".to_string(),
        reasons: "Reasons".to_string(),
        remedy,
        outstanding_actions: vec![],
    }
}

fn remedy(actions: &[&str], compensation_pence: u64) -> Remedy {
    Remedy {
        actions: actions.iter().map(|a| a.to_string()).collect(),
        compensation_pence,
    }
}

fn none() -> Remedy {
    Remedy::default()
}

const HO: Scheme = Scheme::HousingOmbudsman;

fn histories() -> Vec<History> {
    use Outcome::*;
    use Stage::*;
    use Tenure::*;
    vec![
        case("CF-01", "2025-06-02")
            .tenure(Lcra)
            .ack("2025-06-04")
            .categorise("2025-06-04", "Repairs", Some("Missed appointment"))
            .respond1("2025-06-17", Upheld, remedy(&["Repair boiler"], 5_000)),
        case("CF-02", "2025-06-02")
            .tenure(Lcra)
            .channel(Channel::Phone)
            .categorise("2025-06-03", "Repairs", Some("Missed appointment"))
            .ack("2025-06-10")
            .respond1("2025-06-25", NotUpheld, none()),
        case("CF-03", "2025-06-02")
            .tenure(Lcra)
            .ack("2025-06-09")
            .categorise("2025-06-09", "Damp and mould", Some("Contractor delay"))
            .extend("2025-06-13", Stage1, 10, "Waiting for a damp survey")
            .respond1("2025-07-04", PartlyUpheld, remedy(&[], 2_500)),
        case("CF-04", "2025-06-02")
            .procedure("generous")
            .tenure(Lcra)
            .ack("2025-06-03")
            .extend("2025-06-16", Stage1, 15, "Contractor unavailable ")
            .respond1("2025-07-07", Upheld, none()),
        case("CF-05", "2025-06-03")
            .tenure(Lcho)
            .channel(Channel::WebForm)
            .ack("2025-06-03")
            .categorise("2025-06-03", "Damp and mould", None)
            .respond1(
                "2025-06-16",
                PartlyUpheld,
                remedy(&["Mould wash", "Redecorate"], 1_500),
            )
            .escalate("2025-06-18")
            .ack2("2025-06-25")
            .respond2("2025-07-22", Upheld, vec![HO])
            .close("2025-07-24", remedy(&[], 10_000)),
        case("CF-06", "2025-06-03")
            .tenure(Lcho)
            .ack("2025-06-05")
            .categorise("2025-06-05", "Repairs", None)
            .respond1("2025-06-19", NotUpheld, none())
            .escalate("2025-06-20")
            .ack2("2025-06-30")
            .extend("2025-07-21", Stage2, 5, "Specialist report awaited")
            .respond2("2025-08-01", NotUpheld, vec![HO]),
        case("CF-07", "2025-06-02")
            .channel(Channel::Letter)
            .ack("2025-06-02")
            .categorise("2025-06-02", "Staff conduct", None)
            .respond1("2025-06-10", Upheld, none())
            .close("2025-06-12", remedy(&["Apology letter"], 2_000)),
        case("CF-08", "2025-03-03")
            .tenure(Lcra)
            .ack("2025-03-04")
            .respond1("2025-03-17", NotUpheld, none())
            .escalate("2025-04-01")
            .ack2("2025-04-03")
            .respond2("2025-05-06", NotUpheld, vec![]),
        case("CF-09", "2025-06-02").tenure(Lcra),
        case("CF-10", "2025-06-02")
            .tenure(Lcho)
            .refuse("2025-06-04", vec![HO]),
        case("CF-11", "2025-06-02")
            .procedure("cloudrooms")
            .tenure(Lcra)
            .refuse("2025-06-05", vec![Scheme::PropertyRedressScheme]),
        case("CF-12", "2026-03-31").tenure(Lcra),
        case("CF-13", "2026-04-01").tenure(Lcra),
    ]
}

fn fixture() -> Vec<ReportCase> {
    histories().into_iter().map(History::reported).collect()
}

fn find<'a>(cases: &'a [CaseView], reference: &str) -> &'a CaseView {
    cases.iter().find(|c| c.reference == reference).unwrap()
}

#[test]
fn the_fixtures_hand_worked_dates_are_the_calendars() {
    let cases: Vec<CaseView> = histories().into_iter().map(History::view).collect();
    let due = |reference: &str, step: &str| find(&cases, reference).deadlines[step].due;
    // Under each case's own procedure, as the case view computes them.
    assert_eq!(due("CF-01", "stage1_response"), date("2025-06-18"));
    assert_eq!(due("CF-03", "stage1_response"), date("2025-07-07"));
    assert_eq!(due("CF-04", "stage1_response"), date("2025-07-08")); // 10 + 15 days
    assert_eq!(due("CF-06", "stage2_acknowledge"), date("2025-06-27"));
    assert_eq!(due("CF-06", "stage2_response"), date("2025-08-04"));
    assert_eq!(due("CF-08", "stage2_response"), date("2025-05-06"));
    assert_eq!(due("CF-09", "acknowledge"), date("2025-06-09"));
    assert_eq!(due("CF-12", "acknowledge"), date("2026-04-09"));
    assert_eq!(find(&cases, "CF-07").tenure, Tenure::Other);
}

#[test]
fn what_the_state_decides_is_read_from_a_stored_fold_as_from_the_view() {
    // A tenure recorded after logging, and a withdrawal: a stored fold's view does not keep
    // them up to date, its state does. `reported` compares the fold's case with the view's.
    let case = case("CF-30", "2025-06-02")
        .ack("2025-06-03")
        .with(ComplaintEvent::TenureRecorded {
            occurred_at: at("2025-06-04"),
            by: person("officer"),
            tenure: Tenure::Lcho,
            previous: None,
        })
        .with(ComplaintEvent::Withdrawn {
            occurred_at: at("2025-06-05"),
            by: person("officer"),
            reason: "Sorted out with the repairs team".to_string(),
        })
        .reported();
    assert_eq!(case.tenure, Tenure::Lcho);
    assert_eq!(case.status, Status::Withdrawn);
    assert_eq!(case.withdrawal.map(|w| w.on), Some(date("2025-06-05")));
    assert_eq!(case.acknowledged_on, Some(date("2025-06-03")));
}

fn homes() -> Homes {
    Homes {
        year: year(),
        lcra: 2_000,
        lcho: 300,
    }
}

#[test]
fn tsm_counts_complaints_per_thousand_homes_and_responses_within_the_code() {
    let report = tsm(&fixture(), &Calendar::builtin(), &homes(), false);
    // CH01 Stage 1 lcra: CF-01, 02, 03, 04, 09, 11 and 12 (31 Mar 2026) were received in
    // 2025-26; CF-08 (March 2025) and CF-13 (April 2026) were not: 7 × 1000 / 2000 = 3.5.
    // CH01 Stage 1 lcho: CF-05, 06, 10: 3 × 1000 / 300 = 10.
    // CH01 Stage 2 lcra: CF-08 asked on 1 Apr 2025: 1 × 1000 / 2000 = 0.5.
    // CH01 Stage 2 lcho: CF-05, 06: 2 × 1000 / 300 = 6.666… = 6.67.
    // CH02 Stage 1 lcra: answered in the year CF-01 (in time), 02 (late), 03 (in time with
    // an extension at the cap), 04 (late: only 10 of its 15 days count): 2 / 4 = 50%.
    // CH02 Stage 1 lcho: CF-05, 06 in time: 100%.
    // CH02 Stage 2 lcra: CF-08 on Tue 6 May, its due day across Easter and 5 May: 100%.
    // CH02 Stage 2 lcho: CF-05 in time; CF-06 in time with its extension: 100%.
    // CF-07 has no tenure recorded and is in no measure.
    assert_eq!(
        serde_json::to_value(&report).unwrap(),
        json!({
            "year": "2025-26",
            "measures": [
                {"code": "CH01", "stage": 1, "tenure": "lcra", "value": 3.5, "numerator": 7, "denominator": 2000},
                {"code": "CH01", "stage": 1, "tenure": "lcho", "value": 10.0, "numerator": 3, "denominator": 300},
                {"code": "CH01", "stage": 2, "tenure": "lcra", "value": 0.5, "numerator": 1, "denominator": 2000},
                {"code": "CH01", "stage": 2, "tenure": "lcho", "value": 6.67, "numerator": 2, "denominator": 300},
                {"code": "CH02", "stage": 1, "tenure": "lcra", "value": 50.0, "numerator": 2, "denominator": 4},
                {"code": "CH02", "stage": 1, "tenure": "lcho", "value": 100.0, "numerator": 2, "denominator": 2},
                {"code": "CH02", "stage": 2, "tenure": "lcra", "value": 100.0, "numerator": 1, "denominator": 1},
                {"code": "CH02", "stage": 2, "tenure": "lcho", "value": 100.0, "numerator": 2, "denominator": 2},
            ]
        })
    );
}

#[test]
fn tsm_with_detail_lists_the_cases_behind_each_numerator() {
    let report = tsm(&fixture(), &Calendar::builtin(), &homes(), true);
    let cases: Vec<Value> = serde_json::to_value(&report).unwrap()["measures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["cases"].clone())
        .collect();
    assert_eq!(
        cases,
        vec![
            json!(["CF-01", "CF-02", "CF-03", "CF-04", "CF-09", "CF-11", "CF-12"]),
            json!(["CF-05", "CF-06", "CF-10"]),
            json!(["CF-08"]),
            json!(["CF-05", "CF-06"]),
            json!(["CF-01", "CF-03"]),
            json!(["CF-05", "CF-06"]),
            json!(["CF-08"]),
            json!(["CF-05", "CF-06"]),
        ]
    );
}

#[test]
fn ch02_agrees_with_the_case_deadlines_where_the_procedure_is_the_code() {
    // An independent path: the domain's deadline states for chc-2024 cases, whose
    // extensions are all within the cap, must say the same as the report.
    let cases: Vec<CaseView> = histories().into_iter().map(History::view).collect();
    let reported: Vec<ReportCase> = cases.iter().map(ReportCase::from).collect();
    let report = tsm(&reported, &Calendar::builtin(), &homes(), true);
    let in_time: Vec<String> = report
        .measures
        .iter()
        .filter(|m| m.code.as_str() == "CH02" && m.stage == 1)
        .flat_map(|m| m.cases.clone().unwrap())
        .collect();
    for case in cases.iter().filter(|c| c.procedure.id == "chc-2024") {
        let Some(response) = &case.stage1_response else {
            continue;
        };
        if !year().contains(response.on) || case.tenure == Tenure::Other {
            continue;
        }
        let met = case.deadlines["stage1_response"].state == DeadlineState::Met;
        assert_eq!(in_time.contains(&case.reference), met, "{}", case.reference);
    }
}

#[test]
fn tsm_csv_has_the_contract_columns_and_one_row_per_measure() {
    let report = tsm(&fixture(), &Calendar::builtin(), &homes(), true);
    assert_eq!(
        report.to_csv(),
        "code,stage,tenure,value,numerator,denominator\n\
         CH01,1,lcra,3.5,7,2000\n\
         CH01,1,lcho,10,3,300\n\
         CH01,2,lcra,0.5,1,2000\n\
         CH01,2,lcho,6.67,2,300\n\
         CH02,1,lcra,50,2,4\n\
         CH02,1,lcho,100,2,2\n\
         CH02,2,lcra,100,1,1\n\
         CH02,2,lcho,100,2,2\n"
    );
}

#[test]
fn tsm_without_homes_or_cases_gives_zeros_and_nulls() {
    let year: ReportingYear = "2030-31".parse().unwrap();
    let report = tsm(
        &fixture(),
        &Calendar::builtin(),
        &Homes::unknown(year),
        false,
    );
    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(value["year"], "2030-31");
    for measure in value["measures"].as_array().unwrap() {
        assert_eq!(measure["value"], Value::Null, "{measure}");
        assert_eq!(measure["numerator"], 0);
        assert_eq!(measure["denominator"], 0);
    }
    let report = tsm(&[], &Calendar::builtin(), &homes(), false);
    let values: Vec<Option<f64>> = report.measures.iter().map(|m| m.value).collect();
    // CH01 with homes but no complaints is 0 per 1,000; CH02 with no responses has no value.
    assert_eq!(
        values,
        [
            Some(0.0),
            Some(0.0),
            Some(0.0),
            Some(0.0),
            None,
            None,
            None,
            None
        ]
    );
    assert!(report.to_csv().ends_with("CH02,2,lcho,,0,0\n"));
}

fn june() -> Period {
    Period::new(date("2025-06-01"), date("2025-06-30")).unwrap()
}

#[test]
fn kpi_figures_for_june_2025() {
    let report = kpi(&fixture(), &Calendar::builtin(), june());
    // Received in June: CF-01 to 07 and 09 to 11 = 10; Stage 2 asked: CF-05, 06.
    // Channels: phone CF-02, web form CF-05, letter CF-07, email the other 7.
    // Acknowledged in June: CF-01 (Wed 4), 02 (Tue 10, late), 03 (Mon 9, the due day),
    // 04 (Tue 3), 05 (Tue 3), 06 (Thu 5), 07 (Mon 2): 6 of 7 = 85.714… = 85.71%.
    // Stage 1 answered in June: CF-01, 02 (late), 05, 06, 07: 4 of 5 = 80%; CF-03 and 04
    // answered in July. No Stage 2 answer in June: 0 of 0, null.
    // Extensions in June: CF-03 (10 days), CF-04 (15 days); CF-06's is in July.
    // Escalated since: of the 5 answered in June, CF-05 and 06: 40%.
    // Outcomes: CF-01 and 07 upheld, 05 partly, 02 and 06 not.
    // Remedies: actions 1 (CF-01) + 2 (CF-05) + 1 (CF-07's closure) = 4; compensation
    // 5,000 + 1,500 at Stage 1, 2,000 at CF-07's closure on 12 June: 8,500 pence.
    // Themes of the 10 received: Repairs 3 (01, 02, 06), Damp and mould 2 (03, 05), Staff
    // conduct 1 (07), none 4; root causes: Missed appointment 2, Contractor delay 1, none 7.
    // Working days from receipt to the Stage 1 answer: CF-07 Mon 2 → Tue 10 = 6; CF-05 Tue
    // 3 → Mon 16 = 9; CF-01 Mon 2 → Tue 17 = 11; CF-06 Tue 3 → Thu 19 = 12; CF-02 Mon 2 →
    // Wed 25 = 17. Sum 55 over 5: 11; 90th percentile: the ⌈4.5⌉ = 5th smallest, 17.
    assert_eq!(
        serde_json::to_value(&report).unwrap(),
        json!({
            "from": "2025-06-01",
            "to": "2025-06-30",
            "received": {
                "stage1": 10,
                "stage2": 2,
                "by_channel": [
                    {"channel": "phone", "count": 1},
                    {"channel": "email", "count": 7},
                    {"channel": "web_form", "count": 1},
                    {"channel": "portal", "count": 0},
                    {"channel": "letter", "count": 1},
                    {"channel": "in_person", "count": 0},
                ],
                "by_procedure": [
                    {"procedure": "chc-2024", "count": 8},
                    {"procedure": "cloudrooms", "count": 1},
                    {"procedure": "generous", "count": 1},
                ],
            },
            "acknowledged_on_time": {"count": 6, "of": 7, "percent": 85.71},
            "responded_on_time": {
                "stage1": {"count": 4, "of": 5, "percent": 80.0},
                "stage2": {"count": 0, "of": 0, "percent": null},
            },
            "extensions": {
                "count": 2,
                "working_days": 25,
                "stage1": 2,
                "stage2": 0,
                "reasons": [
                    {"reason": "Contractor unavailable", "count": 1},
                    {"reason": "Waiting for a damp survey", "count": 1},
                ],
            },
            "escalation_rate": {"count": 2, "of": 5, "percent": 40.0},
            "outcomes": {
                "stage1": {"upheld": 2, "partly_upheld": 1, "not_upheld": 2},
                "stage2": {"upheld": 0, "partly_upheld": 0, "not_upheld": 0},
            },
            "remedies": {
                "actions": 4,
                "compensation_pence": {"stage1": 6500, "stage2": 0, "closure": 2000, "total": 8500},
            },
            "themes": {
                "top": [
                    {"name": "Repairs", "count": 3},
                    {"name": "Damp and mould", "count": 2},
                    {"name": "Staff conduct", "count": 1},
                ],
                "unrecorded": 4,
            },
            "root_causes": {
                "top": [
                    {"name": "Missed appointment", "count": 2},
                    {"name": "Contractor delay", "count": 1},
                ],
                "unrecorded": 7,
            },
            "working_days_to_respond": {
                "stage1": {"responses": 5, "average": 11.0, "p90": 17},
                "stage2": {"responses": 0, "average": null, "p90": null},
            },
        })
    );
}

#[test]
fn kpi_for_july_2025_counts_the_late_extended_response_and_stage_two() {
    let report = kpi(
        &fixture(),
        &Calendar::builtin(),
        Period::new(date("2025-07-01"), date("2025-07-31")).unwrap(),
    );
    // Stage 1 answered in July: CF-03 (Fri 4, due Mon 7 with its 10 days) in time; CF-04
    // (Mon 7) late, because the Code counts 10 of its 15 days (due Tue 1): 1 of 2 = 50%.
    assert_eq!(
        serde_json::to_value(report.responded_on_time.stage1).unwrap(),
        json!({"count": 1, "of": 2, "percent": 50.0})
    );
    // Stage 2 answered in July: CF-05 only (CF-06 on 1 Aug), from its request Wed 18 Jun to
    // Tue 22 Jul: Thu 19 and Fri 20 (2), four full weeks to Fri 18 Jul (20), Mon 21 and
    // Tue 22 (2) = 24 working days.
    assert_eq!(report.working_days_to_respond.stage2.responses, 1);
    assert_eq!(report.working_days_to_respond.stage2.average, Some(24.0));
    assert_eq!(report.working_days_to_respond.stage2.p90, Some(24));
    assert_eq!(report.outcomes.stage2.upheld, 1);
    // CF-05's closure on 24 July repeats nothing at Stage 2 but adds £100.
    assert_eq!(report.remedies.compensation_pence.closure, 10_000);
    assert_eq!(report.remedies.compensation_pence.total, 12_500); // + CF-03's £25
    assert_eq!(report.extensions.stage2, 1);
}

#[test]
fn a_kpi_period_with_no_cases_gives_zeros_and_null_percentages() {
    let period = Period::new(date("2030-01-01"), date("2030-01-31")).unwrap();
    for cases in [fixture(), vec![]] {
        let report = kpi(&cases, &Calendar::builtin(), period);
        let value = serde_json::to_value(&report).unwrap();
        assert_eq!(value["received"]["stage1"], 0);
        assert_eq!(value["received"]["by_procedure"], json!([]));
        assert_eq!(
            value["acknowledged_on_time"],
            json!({"count": 0, "of": 0, "percent": null})
        );
        assert_eq!(value["escalation_rate"]["percent"], Value::Null);
        assert_eq!(value["themes"], json!({"top": [], "unrecorded": 0}));
        assert_eq!(
            value["working_days_to_respond"]["stage1"],
            json!({"responses": 0, "average": null, "p90": null})
        );
        assert!(report
            .to_csv()
            .starts_with("figure,breakdown,value,count,of\n"));
    }
}

#[test]
fn a_period_cannot_end_before_it_starts() {
    assert_eq!(
        Period::new(date("2025-06-30"), date("2025-06-01")),
        Err(PeriodError::EndsBeforeStart {
            from: date("2025-06-30"),
            to: date("2025-06-01"),
        })
    );
    assert_eq!(
        Period::new(date("2025-06-30"), date("2025-06-01"))
            .unwrap_err()
            .code(),
        "period_ends_before_start"
    );
    // A single day is a period.
    assert!(Period::new(date("2025-06-30"), date("2025-06-30")).is_ok());
}

#[test]
fn kpi_csv_puts_each_figure_on_a_row_and_a_ratios_counts_in_their_own_columns() {
    let csv = kpi(&fixture(), &Calendar::builtin(), june()).to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "figure,breakdown,value,count,of");
    for expected in [
        "received,stage1,10,,",
        "received_by_channel,web_form,1,,",
        "received_by_procedure,generous,1,,",
        "acknowledged_on_time,,85.71,6,7",
        "responded_on_time,stage1,80,4,5",
        "responded_on_time,stage2,,0,0",
        "extension_reasons,Waiting for a damp survey,1,,",
        "escalation_rate,,40,2,5",
        "outcomes_stage1,not_upheld,2,,",
        "compensation_pence,total,8500,,",
        "themes,Damp and mould,2,,",
        "themes_unrecorded,,4,,",
        "root_causes_unrecorded,,7,,",
        "working_days_to_respond_stage1,p90,17,,",
        "working_days_to_respond_stage2,average,,,",
    ] {
        assert!(lines.contains(&expected), "missing {expected:?} in\n{csv}");
    }
    // Every row has the header's five columns.
    assert!(
        lines.iter().all(|line| line.matches(',').count() == 4),
        "{csv}"
    );
}

#[test]
fn self_assessment_for_2025_26() {
    let report = self_assessment(&fixture(), &Calendar::builtin(), year(), today());
    // 2.4: refused in the year CF-10 (Ombudsman signposted) and CF-11 (only the Property
    // Redress Scheme): 1 of 2.
    // 6.2: acknowledged in the year CF-01, 03, 04, 05, 06, 07 in time and CF-02 late; CF-09
    // was never acknowledged and its due day (Mon 9 Jun) has passed; CF-10 and 11 were
    // refused before theirs; CF-12's falls in 2026-27: 6 of 8.
    // 6.3: answered in the year CF-01, 03, 05, 06, 07 in time; CF-02 and CF-04 late: 5 of 7
    // = 71.428… = 71.43%.
    // 6.4: Stage 1 extensions in the year: CF-03 (10 days, told on the day it was granted,
    // before its due day Mon 23 Jun) keeps to the Code; CF-04's 15 days exceed the cap.
    // 6.11: CF-05 (Wed 25, the due day) and CF-08 (Thu 3 Apr, due Tue 8) in time; CF-06 (Mon
    // 30, due Fri 27) late: 2 of 3 = 66.67%.
    // 6.13: CF-05, 06, 08 answered at Stage 2 by someone other than at Stage 1.
    // 6.14: CF-05, 06 (with its 5 days) and CF-08 in time.
    // 6.15: CF-06's 5 days, told on Mon 21 Jul before its due day Mon 28 Jul.
    // 6.19: CF-05 and 06 signposted the Housing Ombudsman; CF-08's response recorded none.
    let rows: Vec<Value> = serde_json::to_value(&report).unwrap()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            json!([
                row["provision"],
                row["measured"],
                row["comply"],
                row["falling_short"]
            ])
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            json!(["2.4", {"count": 1, "of": 2, "percent": 50.0}, false, ["CF-11"]]),
            json!(["6.2", {"count": 6, "of": 8, "percent": 75.0}, false, ["CF-02", "CF-09"]]),
            json!(["6.3", {"count": 5, "of": 7, "percent": 71.43}, false, ["CF-02", "CF-04"]]),
            json!(["6.4", {"count": 1, "of": 2, "percent": 50.0}, false, ["CF-04"]]),
            json!(["6.11", {"count": 2, "of": 3, "percent": 66.67}, false, ["CF-06"]]),
            json!(["6.13", {"count": 3, "of": 3, "percent": 100.0}, true, []]),
            json!(["6.14", {"count": 3, "of": 3, "percent": 100.0}, true, []]),
            json!(["6.15", {"count": 1, "of": 1, "percent": 100.0}, true, []]),
            json!(["6.19", {"count": 2, "of": 3, "percent": 66.67}, false, ["CF-08"]]),
        ]
    );
    assert_eq!(serde_json::to_value(&report).unwrap()["year"], "2025-26");
    assert!(report.rows.iter().all(|row| !row.requirement.is_empty()));
}

#[test]
fn an_unacknowledged_complaint_falls_short_only_once_its_due_day_has_passed() {
    let cases = vec![case("CF-20", "2025-06-02").reported()];
    let on = |today: &str| {
        self_assessment(&cases, &Calendar::builtin(), year(), date(today)).rows[1].clone()
    };
    // Due Mon 9 Jun: still in time on the 9th, short from the 10th.
    assert_eq!(on("2025-06-09").measured.of, 0);
    assert!(on("2025-06-09").comply);
    assert_eq!(on("2025-06-10").falling_short, ["CF-20"]);
}

#[test]
fn an_extension_the_resident_heard_of_after_the_date_it_replaced_falls_short() {
    // Acknowledged Mon 2 Jun, Stage 1 due Mon 16 Jun; 5 more days granted on Tue 17 Jun and
    // recorded as told that day: after the date it replaced.
    let cases = vec![case("CF-21", "2025-06-02")
        .ack("2025-06-02")
        .extend("2025-06-17", Stage::Stage1, 5, "Late survey")
        .reported()];
    let report = self_assessment(&cases, &Calendar::builtin(), year(), today());
    assert_eq!(report.rows[3].provision, "6.4");
    assert_eq!(report.rows[3].falling_short, ["CF-21"]);
}

#[test]
fn a_self_assessment_with_no_cases_complies_with_null_percentages() {
    let report = self_assessment(&[], &Calendar::builtin(), year(), today());
    assert_eq!(report.rows.len(), 9);
    for row in &report.rows {
        assert_eq!(row.measured.percent, None);
        assert!(row.comply);
        assert!(row.falling_short.is_empty());
    }
    let csv = report.to_csv();
    assert!(csv.starts_with("provision,requirement,comply,percent,count,of,falling_short\n"));
    assert!(csv.contains("\n6.2,\"Complaints must be acknowledged, defined and logged"));
}

#[test]
fn self_assessment_csv_lists_the_cases_falling_short() {
    let csv = self_assessment(&fixture(), &Calendar::builtin(), year(), today()).to_csv();
    let line = csv.lines().find(|l| l.starts_with("6.3,")).unwrap();
    assert!(line.ends_with(",no,71.43,5,7,CF-02 CF-04"), "{line}");
}
