//! A case as the reports read it: the facts some report counts, and nothing else. A year of
//! cases is decoded for every report; leaving out the complainant, the complaint's texts,
//! the responses' reasons and all the rest makes that decoding, and the memory the cases
//! take while the report runs, a fraction of what whole views would cost.

use casefile_domain::aggregate::Status;
use casefile_domain::calendar::Division;
use casefile_domain::procedure::Scheme;
use casefile_domain::values::{Channel, Outcome, Stage, Tenure};
use chrono::{DateTime, NaiveDate, Utc};
use serde::de::{Deserializer, IgnoredAny};
use serde::Deserialize;

use super::count;

use crate::case_view::{
    CaseRecord, CaseView, ClosureView, ExtensionView, LearningRow, LearningView, RefusalView,
    ResponseView, StateFacts,
};

/// What the reports read of one case, under the names its [`CaseView`] gives them: the same
/// figures come from either (see [`ReportCase::from`]). Read from storage only as part of a
/// [`ReportRecord`]: alone, it would leave the fields the case's state decides at their
/// defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReportCase {
    pub id: String,
    pub reference: String,
    pub procedure: ReportProcedure,
    pub division: Division,
    pub received_on: NaiveDate,
    pub channel: Channel,
    pub theme: Option<String>,
    pub root_cause: Option<String>,
    // Boxed, as few cases are refused or reach Stage 2: unboxed, they would make every case
    // of the year held in memory larger by their size.
    pub refusal: Option<Box<RefusalView>>,
    pub withdrawal: Option<ReportWithdrawal>,
    pub closure: Option<ReportClosure>,
    pub stage1_response: Option<ReportResponse>,
    pub stage2_response: Option<Box<ReportResponse>>,
    pub extensions: Vec<ReportExtension>,
    #[serde(default)]
    pub learning: Vec<LearningView>,
    // What the aggregate's state decides: a stored fold's view does not keep these up to
    // date, so they are copied from its state (see `ReportRecord::case`).
    #[serde(skip_deserializing)]
    pub status: Status,
    #[serde(skip_deserializing)]
    pub tenure: Tenure,
    #[serde(skip_deserializing)]
    pub acknowledged_on: Option<NaiveDate>,
    #[serde(skip_deserializing)]
    pub escalated_on: Option<NaiveDate>,
    #[serde(skip_deserializing)]
    pub stage2_acknowledged_on: Option<NaiveDate>,
}

/// The procedure a case follows, by id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReportProcedure {
    pub id: String,
}

/// A stage response: when, by whom, its outcome and its remedy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReportResponse {
    pub on: NaiveDate,
    pub by: ReportActor,
    pub outcome: Outcome,
    pub remedy: ReportRemedy,
    /// The schemes a final response told the resident they may go to.
    #[serde(default)]
    pub signposted_to: Vec<Scheme>,
}

/// Who responded, by user id: the reports compare responders, and name none.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReportActor {
    pub id: String,
}

/// An extension: its stage, length and reason, when it was granted and when the resident
/// was told.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReportExtension {
    pub stage: Stage,
    pub working_days: u32,
    pub reason: String,
    pub resident_informed_on: NaiveDate,
    pub at: DateTime<Utc>,
}

/// A withdrawal: when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct ReportWithdrawal {
    pub on: NaiveDate,
}

/// How many actions a remedy names, and the compensation it offers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct ReportRemedy {
    #[serde(default, deserialize_with = "count_of")]
    pub actions: u64,
    #[serde(default)]
    pub compensation_pence: u64,
}

/// A closure: when, and its remedy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReportClosure {
    pub on: NaiveDate,
    pub remedy: ReportRemedy,
}

impl ReportCase {
    /// The case's learning actions as rows of a list across cases.
    pub fn learning_rows(&self) -> Vec<LearningRow> {
        LearningRow::all(&self.id, &self.reference, &self.learning)
    }
}

impl From<&CaseView> for ReportCase {
    fn from(view: &CaseView) -> Self {
        let response = |response: &ResponseView| ReportResponse {
            on: response.on,
            by: ReportActor {
                id: response.by.id.clone(),
            },
            outcome: response.response.outcome,
            remedy: ReportRemedy {
                actions: count(&response.response.remedy.actions),
                compensation_pence: response.response.remedy.compensation_pence,
            },
            signposted_to: response.signposted_to.clone(),
        };
        let closure = |closure: &ClosureView| ReportClosure {
            on: closure.on,
            remedy: ReportRemedy {
                actions: count(&closure.remedy.actions),
                compensation_pence: closure.remedy.compensation_pence,
            },
        };
        let extension = |extension: &ExtensionView| ReportExtension {
            stage: extension.stage,
            working_days: extension.working_days,
            reason: extension.reason.clone(),
            resident_informed_on: extension.resident_informed_on,
            at: extension.at,
        };
        Self {
            id: view.id.clone(),
            reference: view.reference.clone(),
            procedure: ReportProcedure {
                id: view.procedure.id.clone(),
            },
            division: view.division,
            received_on: view.received_on,
            channel: view.channel,
            theme: view.theme.clone(),
            root_cause: view.root_cause.clone(),
            refusal: view.refusal.clone().map(Box::new),
            withdrawal: view
                .withdrawal
                .as_ref()
                .map(|withdrawal| ReportWithdrawal { on: withdrawal.on }),
            closure: view.closure.as_ref().map(closure),
            stage1_response: view.stage1_response.as_ref().map(response),
            stage2_response: view.stage2_response.as_ref().map(response).map(Box::new),
            extensions: view.extensions.iter().map(extension).collect(),
            learning: view.learning.clone(),
            status: view.status,
            tenure: view.tenure,
            acknowledged_on: view.acknowledged_on,
            escalated_on: view.escalated_on,
            stage2_acknowledged_on: view.stage2_acknowledged_on,
        }
    }
}

/// A stored [`CaseRecord`] read for the reports: the part of its view they read, and the
/// facts of its state the view copies. Decoding it skips everything else, the aggregate's
/// state with the whole procedure it carries among it, and computes no deadline.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportRecord {
    format: u32,
    view: ReportCase,
    state: StateFacts,
}

impl ReportRecord {
    /// Whether the fold is of the current format and of the case `id`: else it cannot be
    /// read this way, and the case is folded from its events.
    pub fn usable(&self, id: &str) -> bool {
        self.format == CaseRecord::FORMAT && self.view.id == id
    }

    /// The case as [`ReportCase::from`] gives it from the record's view on any day.
    pub fn case(self) -> ReportCase {
        let state = self.state;
        ReportCase {
            status: state.status,
            tenure: state.tenure.unwrap_or_default(),
            acknowledged_on: state.acknowledged_on,
            escalated_on: state.escalated_on,
            stage2_acknowledged_on: state.stage2_acknowledged_on,
            ..self.view
        }
    }
}

/// The number of elements of a sequence, read without keeping any of them.
fn count_of<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    // `IgnoredAny` takes no space, so the vector never allocates.
    Vec::<IgnoredAny>::deserialize(deserializer).map(count)
}
