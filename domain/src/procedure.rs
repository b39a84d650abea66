//! Complaint procedures as data: which steps have deadlines, what starts each clock, how
//! many working days each step gets, extension caps, the deadlock rule and redress schemes.
//!
//! Four procedures are built in (`chc-2024`, `cloudrooms`, `cloud-direct`, `ocasa`); an
//! organisation adds its own from TOML or JSON files. The `Logged` event keeps a copy of the
//! procedure it was logged under, so replaying an old case gives the dates it had even after
//! the procedure file changes.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::calendar::Division;
use crate::values::Stage;

/// A deadline-bearing step of the procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Acknowledge,
    Stage1Response,
    Stage2Acknowledge,
    Stage2Response,
}

impl Step {
    pub const ALL: [Step; 4] = [
        Step::Acknowledge,
        Step::Stage1Response,
        Step::Stage2Acknowledge,
        Step::Stage2Response,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Acknowledge => "acknowledge",
            Self::Stage1Response => "stage1_response",
            Self::Stage2Acknowledge => "stage2_acknowledge",
            Self::Stage2Response => "stage2_response",
        }
    }

    /// The stage a step belongs to; extensions are granted per stage.
    pub fn stage(&self) -> Stage {
        match self {
            Self::Acknowledge | Self::Stage1Response => Stage::Stage1,
            Self::Stage2Acknowledge | Self::Stage2Response => Stage::Stage2,
        }
    }
}

/// What starts a step's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClockStart {
    /// The date the complaint was received.
    Received,
    /// The date the complaint was acknowledged.
    Acknowledged,
    /// The date the resident asked for Stage 2.
    Escalated,
    /// The date Stage 2 was acknowledged.
    Stage2Acknowledged,
}

/// One step's deadline rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StepRule {
    pub step: Step,
    pub from: ClockStart,
    pub working_days: u32,
}

/// Whether a stage's response deadline may be extended, and by how much in total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExtensionRule {
    /// Total working days all extensions of the stage may add; absent means uncapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_working_days: Option<u32>,
}

/// Extension rules per stage; a stage without a rule allows no extension.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Extensions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage1: Option<ExtensionRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage2: Option<ExtensionRule>,
}

impl Extensions {
    pub fn for_stage(&self, stage: Stage) -> Option<&ExtensionRule> {
        match stage {
            Stage::Stage1 => self.stage1.as_ref(),
            Stage::Stage2 => self.stage2.as_ref(),
        }
    }
}

/// When a case may be declared deadlocked, opening the way to redress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeadlockRule {
    /// The resident may ask for a deadlock letter at any time.
    #[serde(default)]
    pub on_request: bool,
    /// The case is deadlocked once unresolved this many weeks after receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_weeks: Option<u32>,
}

/// An independent redress scheme a case can be referred to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    HousingOmbudsman,
    PropertyRedressScheme,
    OmbudsmanServices,
}

impl Scheme {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::HousingOmbudsman => "housing-ombudsman",
            Self::PropertyRedressScheme => "property-redress-scheme",
            Self::OmbudsmanServices => "ombudsman-services",
        }
    }
}

/// Where a resident goes once the in-house procedure is over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Redress {
    pub schemes: Vec<Scheme>,
    /// A referral must come within this many months of the final response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_months: Option<u32>,
}

/// Longest deadline a step may have, in working days (a year).
pub const MAX_STEP_WORKING_DAYS: u32 = 260;

fn two() -> u8 {
    2
}

fn twelve() -> u32 {
    12
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

/// Who new cases are assigned to, round robin over a list of user ids: the list for the
/// case's theme if it has one listed, else its division's, else `officers`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub officers: Vec<String>,
    /// Division id (`england-and-wales`, `scotland`, `northern-ireland`) to user ids.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_division: BTreeMap<String, Vec<String>>,
    /// Theme to user ids.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_theme: BTreeMap<String, Vec<String>>,
}

impl Assignment {
    /// The officers a case with `theme` in `division` is shared among.
    pub fn candidates(&self, theme: Option<&str>, division: Division) -> &[String] {
        let by_theme = theme.and_then(|theme| self.by_theme.get(theme));
        let by_division = self.by_division.get(division.as_str());
        by_theme
            .or(by_division)
            .map(Vec::as_slice)
            .unwrap_or(&self.officers)
    }
}

/// What the service does on its own for cases under the procedure. Everything is off by
/// default except deadlock once `[deadlock] after_weeks` has passed, which is what that
/// rule says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Automation {
    /// Acknowledge every case as soon as it is logged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub acknowledge_on_logging: bool,
    /// Escalate to Stage 2 a case whose Stage 1 response is breached.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub escalate_breached_stage1: bool,
    /// Declare deadlock once the case is unresolved `[deadlock] after_weeks` after receipt.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub deadlock_after_limit: bool,
    /// Assign new cases that have no owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign: Option<Assignment>,
}

impl Default for Automation {
    fn default() -> Self {
        Self {
            acknowledge_on_logging: false,
            escalate_breached_stage1: false,
            deadlock_after_limit: true,
            assign: None,
        }
    }
}

impl Automation {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// A complaints procedure. Field names are the file format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Procedure {
    /// Stable id, lower-case letters, digits and `-`.
    pub id: String,
    /// Bumped whenever the rules change; cases keep the version they were logged under.
    pub version: u32,
    pub name: String,
    /// In-house stages: 1 or 2.
    #[serde(default = "two")]
    pub stages: u8,
    pub steps: Vec<StepRule>,
    #[serde(default)]
    pub extensions: Extensions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadlock: Option<DeadlockRule>,
    pub redress: Redress,
    /// Complaints about issues older than this at receipt may be refused (Code 2.3).
    #[serde(default = "twelve")]
    pub refusal_age_months: u32,
    /// What the service does on its own; absent from older copies, which get the default.
    #[serde(default, skip_serializing_if = "Automation::is_default")]
    pub automation: Automation,
}

/// A procedure file or definition that cannot be used; names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: field `{field}`: {message}")]
pub struct ProcedureError {
    /// The file (or `builtin`) the definition came from.
    pub source_name: String,
    pub field: String,
    pub message: String,
}

impl Procedure {
    pub fn step(&self, step: Step) -> Option<&StepRule> {
        self.steps.iter().find(|rule| rule.step == step)
    }

    /// The stage whose response ends the in-house procedure.
    pub fn final_stage(&self) -> Stage {
        if self.stages >= 2 {
            Stage::Stage2
        } else {
            Stage::Stage1
        }
    }

    pub fn allows_scheme(&self, scheme: Scheme) -> bool {
        self.redress.schemes.contains(&scheme)
    }

    /// Checks what serde cannot: ids, stage counts, step clocks.
    pub fn validate(&self, source_name: &str) -> Result<(), ProcedureError> {
        let fail = |field: &str, message: &str| ProcedureError {
            source_name: source_name.to_string(),
            field: field.to_string(),
            message: message.to_string(),
        };
        let id_ok = !self.id.is_empty()
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !id_ok {
            return Err(fail(
                "id",
                "must be non-empty lower-case letters, digits and '-'",
            ));
        }
        if self.version == 0 {
            return Err(fail("version", "must be 1 or more"));
        }
        if self.name.trim().is_empty() {
            return Err(fail("name", "must not be empty"));
        }
        if !(1..=2).contains(&self.stages) {
            return Err(fail("stages", "must be 1 or 2"));
        }
        for (i, rule) in self.steps.iter().enumerate() {
            let field = format!("steps[{i}]");
            if self.steps[..i].iter().any(|r| r.step == rule.step) {
                return Err(fail(&format!("{field}.step"), "step listed twice"));
            }
            if rule.working_days > MAX_STEP_WORKING_DAYS {
                return Err(fail(
                    &format!("{field}.working_days"),
                    &format!("must be at most {MAX_STEP_WORKING_DAYS}"),
                ));
            }
            if rule.step.stage() == Stage::Stage2 && self.stages < 2 {
                return Err(fail(
                    &format!("{field}.step"),
                    "a Stage 2 step needs `stages = 2`",
                ));
            }
            let allowed: &[ClockStart] = match rule.step {
                Step::Acknowledge => &[ClockStart::Received],
                Step::Stage1Response => &[ClockStart::Received, ClockStart::Acknowledged],
                Step::Stage2Acknowledge => &[ClockStart::Escalated],
                Step::Stage2Response => &[ClockStart::Escalated, ClockStart::Stage2Acknowledged],
            };
            if !allowed.contains(&rule.from) {
                return Err(fail(
                    &format!("{field}.from"),
                    "this clock cannot start the step",
                ));
            }
            if rule.from == ClockStart::Stage2Acknowledged
                && self.step(Step::Stage2Acknowledge).is_none()
            {
                return Err(fail(
                    &format!("{field}.from"),
                    "counts from a Stage 2 acknowledgement the procedure does not have",
                ));
            }
        }
        if self.extensions.stage2.is_some() && self.stages < 2 {
            return Err(fail("extensions.stage2", "the procedure has no Stage 2"));
        }
        if let Some(rule) = &self.deadlock {
            if !rule.on_request && rule.after_weeks.is_none() {
                return Err(fail(
                    "deadlock",
                    "needs `on_request = true`, `after_weeks`, or both",
                ));
            }
        }
        if self.redress.schemes.is_empty() {
            return Err(fail("redress.schemes", "must name at least one scheme"));
        }
        self.validate_automation(&fail)
    }

    fn validate_automation(
        &self,
        fail: &dyn Fn(&str, &str) -> ProcedureError,
    ) -> Result<(), ProcedureError> {
        let automation = &self.automation;
        if automation.escalate_breached_stage1
            && (self.stages < 2 || self.step(Step::Stage1Response).is_none())
        {
            return Err(fail(
                "automation.escalate_breached_stage1",
                "needs `stages = 2` and a `stage1_response` step",
            ));
        }
        let Some(assign) = &automation.assign else {
            return Ok(());
        };
        let lists =
            std::iter::once(("automation.assign.officers".to_string(), &assign.officers))
                .chain(assign.by_division.iter().map(|(division, ids)| {
                    (format!("automation.assign.by_division.{division}"), ids)
                }))
                .chain(
                    assign
                        .by_theme
                        .iter()
                        .map(|(theme, ids)| (format!("automation.assign.by_theme.{theme}"), ids)),
                );
        for (field, ids) in lists {
            if ids.iter().any(|id| id.trim().is_empty()) {
                return Err(fail(&field, "must list user ids, none blank"));
            }
        }
        if let Some(division) = assign
            .by_division
            .keys()
            .find(|key| key.parse::<Division>().is_err())
        {
            return Err(fail(
                &format!("automation.assign.by_division.{division}"),
                "is not a division (england-and-wales, scotland, northern-ireland)",
            ));
        }
        if assign.officers.is_empty()
            && assign.by_division.values().all(Vec::is_empty)
            && assign.by_theme.values().all(Vec::is_empty)
        {
            return Err(fail("automation.assign", "must name at least one officer"));
        }
        Ok(())
    }

    /// Parses one procedure from TOML or JSON (chosen by `source_name`'s extension).
    pub fn parse(source_name: &str, text: &str) -> Result<Self, ProcedureError> {
        let procedure: Procedure = if source_name.ends_with(".json") {
            let de = &mut serde_json::Deserializer::from_str(text);
            serde_path_to_error::deserialize(de).map_err(|err| ProcedureError {
                source_name: source_name.to_string(),
                field: err.path().to_string(),
                message: err.inner().to_string(),
            })?
        } else {
            let de = toml::Deserializer::new(text);
            serde_path_to_error::deserialize(de).map_err(|err| ProcedureError {
                source_name: source_name.to_string(),
                field: err.path().to_string(),
                message: err.inner().message().to_string(),
            })?
        };
        procedure.validate(source_name)?;
        Ok(procedure)
    }
}

/// Every procedure the service knows, by id.
#[derive(Debug, Clone)]
pub struct ProcedureRegistry {
    by_id: BTreeMap<String, Procedure>,
}

impl Default for ProcedureRegistry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl ProcedureRegistry {
    /// The four procedures Casefile ships with.
    pub fn builtin() -> Self {
        let by_id = builtin_procedures()
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        Self { by_id }
    }

    pub fn get(&self, id: &str) -> Option<&Procedure> {
        self.by_id.get(id)
    }

    pub fn all(&self) -> impl Iterator<Item = &Procedure> {
        self.by_id.values()
    }

    /// Adds an organisation's own procedure; an id already taken is an error.
    pub fn add(&mut self, procedure: Procedure, source_name: &str) -> Result<(), ProcedureError> {
        procedure.validate(source_name)?;
        if self.by_id.contains_key(&procedure.id) {
            return Err(ProcedureError {
                source_name: source_name.to_string(),
                field: "id".to_string(),
                message: format!("a procedure with id `{}` already exists", procedure.id),
            });
        }
        self.by_id.insert(procedure.id.clone(), procedure);
        Ok(())
    }

    /// Reads a procedure file (`.toml` or `.json`) and adds it.
    pub fn load_file(&mut self, path: &Path) -> Result<(), ProcedureError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| ProcedureError {
            source_name: name.clone(),
            field: "-".to_string(),
            message: err.to_string(),
        })?;
        let procedure = Procedure::parse(&name, &text)?;
        self.add(procedure, &name)
    }
}

fn step(step: Step, from: ClockStart, working_days: u32) -> StepRule {
    StepRule {
        step,
        from,
        working_days,
    }
}

/// The built-in procedures, from the statutory Code and the three published procedures.
pub fn builtin_procedures() -> Vec<Procedure> {
    use ClockStart::*;
    use Step::*;
    vec![
        Procedure {
            id: "chc-2024".into(),
            version: 1,
            name: "Housing Ombudsman Complaint Handling Code 2024".into(),
            stages: 2,
            steps: vec![
                step(Acknowledge, Received, 5),
                step(Stage1Response, Acknowledged, 10),
                step(Stage2Acknowledge, Escalated, 5),
                step(Stage2Response, Stage2Acknowledged, 20),
            ],
            extensions: Extensions {
                stage1: Some(ExtensionRule {
                    max_working_days: Some(10),
                }),
                stage2: Some(ExtensionRule {
                    max_working_days: Some(20),
                }),
            },
            deadlock: None,
            redress: Redress {
                schemes: vec![Scheme::HousingOmbudsman],
                within_months: None,
            },
            refusal_age_months: 12,
            automation: Automation::default(),
        },
        Procedure {
            id: "cloudrooms".into(),
            version: 1,
            name: "CloudRooms complaints procedure".into(),
            stages: 2,
            steps: vec![
                step(Acknowledge, Received, 5),
                step(Stage1Response, Acknowledged, 15),
                // Senior review: the final viewpoint is due 15 working days after the request.
                step(Stage2Response, Escalated, 15),
            ],
            extensions: Extensions::default(),
            deadlock: None,
            redress: Redress {
                schemes: vec![Scheme::PropertyRedressScheme],
                within_months: Some(12),
            },
            refusal_age_months: 12,
            automation: Automation::default(),
        },
        Procedure {
            id: "cloud-direct".into(),
            version: 1,
            name: "Cloud Direct customer complaints code of practice".into(),
            stages: 2,
            steps: vec![
                // "Within 24 hours of receipt, excluding weekends and bank holidays".
                step(Acknowledge, Received, 1),
                // "Agree a resolution plan within one week of receiving your complaint".
                step(Stage1Response, Received, 5),
            ],
            extensions: Extensions::default(),
            deadlock: Some(DeadlockRule {
                on_request: true,
                after_weeks: Some(8),
            }),
            redress: Redress {
                schemes: vec![Scheme::OmbudsmanServices],
                within_months: None,
            },
            refusal_age_months: 12,
            automation: Automation::default(),
        },
        Procedure {
            id: "ocasa".into(),
            version: 1,
            name: "Ocasa customer complaints process".into(),
            stages: 2,
            steps: vec![
                step(Acknowledge, Received, 2),
                step(Stage2Acknowledge, Escalated, 1),
                step(Stage2Response, Stage2Acknowledged, 5),
            ],
            extensions: Extensions {
                stage1: None,
                // "Longer only with reasons and an anticipated timescale": uncapped, reasoned.
                stage2: Some(ExtensionRule {
                    max_working_days: None,
                }),
            },
            deadlock: None,
            redress: Redress {
                schemes: vec![Scheme::PropertyRedressScheme],
                within_months: None,
            },
            refusal_age_months: 12,
            automation: Automation::default(),
        },
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_procedure_is_valid() {
        for procedure in builtin_procedures() {
            assert_eq!(procedure.validate("builtin"), Ok(()), "{}", procedure.id);
        }
    }

    #[test]
    fn a_toml_procedure_round_trips() {
        let text = r#"
id = "acme"
version = 3
name = "Acme Homes"
steps = [
  { step = "acknowledge", from = "received", working_days = 3 },
  { step = "stage1_response", from = "acknowledged", working_days = 10 },
]
[extensions.stage1]
max_working_days = 5
[redress]
schemes = ["housing-ombudsman"]
"#;
        let procedure = Procedure::parse("acme.toml", text).unwrap();
        assert_eq!(procedure.id, "acme");
        assert_eq!(procedure.stages, 2);
        assert_eq!(procedure.step(Step::Acknowledge).unwrap().working_days, 3);
        assert_eq!(
            procedure.extensions.stage1,
            Some(ExtensionRule {
                max_working_days: Some(5)
            })
        );
    }

    #[test]
    fn a_malformed_file_names_the_field() {
        let text = r#"{"id": "x", "version": 1, "name": "X",
            "steps": [{"step": "acknowledge", "from": "received", "working_days": "five"}],
            "redress": {"schemes": ["housing-ombudsman"]}}"#;
        let err = Procedure::parse("x.json", text).unwrap_err();
        assert_eq!(err.field, "steps[0].working_days");

        let text = "id = \"x\"\nversion = 1\nname = \"X\"\nsteps = []\n[redress]\nschemes = [\"nobody\"]\n";
        let err = Procedure::parse("x.toml", text).unwrap_err();
        assert_eq!(err.field, "redress.schemes[0]");

        let text = "id = \"x\"\nversion = 1\nname = \"X\"\nstages = 1\nsteps = [{ step = \"stage2_response\", from = \"escalated\", working_days = 5 }]\n[redress]\nschemes = [\"housing-ombudsman\"]\n";
        let err = Procedure::parse("x.toml", text).unwrap_err();
        assert_eq!(err.field, "steps[0].step");
    }

    #[test]
    fn a_procedure_id_cannot_be_taken_twice() {
        let mut registry = ProcedureRegistry::builtin();
        let copy = registry.get("chc-2024").unwrap().clone();
        let err = registry.add(copy, "mine.toml").unwrap_err();
        assert_eq!(err.field, "id");
    }
}
