//! The `Resident` aggregate: the needs and vulnerabilities a resident has disclosed, the
//! reasonable adjustments agreed for them and when those are next reviewed.
//!
//! They belong to the person, not to one complaint, so the aggregate is keyed by the
//! landlord's `resident_id` (the one on [`Complainant`](crate::values::Complainant)) and
//! every case of that resident reads the same record. This is special-category personal
//! data: it is kept out of the complaint's own events.
//!
//! One command sets the whole record; it writes an event only when something changed, so
//! saving the record as it stands records nothing new. Broken rules reuse
//! [`ComplaintError`]'s variants and codes (`invalid_field`, `occurred_in_future`, …).

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Clock, ComplaintServices, SystemClock};
use crate::error::ComplaintError;
use crate::uk_date;
use crate::values::Actor;

const EVENT_VERSION: &str = "1.0";
/// Longest need or adjustment, in characters.
const MAX_ITEM: usize = 2_000;

/// An adjustment as agreed with the resident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Adjustment {
    /// The disclosed need it meets.
    pub need: String,
    /// What the landlord does differently, e.g. "large-print letters", "calls, not letters".
    pub adjustment: String,
    pub agreed_on: NaiveDate,
    /// The user who recorded the agreement.
    pub agreed_by: Actor,
}

/// An adjustment as a client sends it: who agreed it is the user sending it, unless it
/// was already on record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AgreedAdjustment {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub need: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub adjustment: String,
    pub agreed_on: NaiveDate,
}

/// The resident's needs, adjustments and next review, as a whole: what is left out is no
/// longer on record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetAdjustments {
    /// Disclosed needs and vulnerabilities, in the resident's or the landlord's words.
    #[serde(default)]
    pub needs: Vec<String>,
    /// Each meets one of `needs`.
    #[serde(default)]
    pub adjustments: Vec<AgreedAdjustment>,
    /// Required while any need is recorded; a new date must be after the day it is set.
    #[serde(default)]
    pub review_due: Option<NaiveDate>,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// A command with the user it is issued by.
#[derive(Debug, Clone, PartialEq)]
pub struct ResidentCommand {
    pub actor: Actor,
    pub action: ResidentAction,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResidentAction {
    SetAdjustments(SetAdjustments),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ResidentEvent {
    /// The whole record after a change: needs and adjustments in a canonical order.
    AdjustmentsSet {
        occurred_at: DateTime<Utc>,
        by: Actor,
        needs: Vec<String>,
        adjustments: Vec<Adjustment>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        review_due: Option<NaiveDate>,
    },
}

impl ResidentEvent {
    pub fn occurred_at(&self) -> DateTime<Utc> {
        match self {
            Self::AdjustmentsSet { occurred_at, .. } => *occurred_at,
        }
    }

    pub fn by(&self) -> &Actor {
        match self {
            Self::AdjustmentsSet { by, .. } => by,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::AdjustmentsSet { .. } => "AdjustmentsSet",
        }
    }
}

impl DomainEvent for ResidentEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_string()
    }
}

/// What the resident's rules consult: only the time.
#[derive(Debug, Clone)]
pub struct ResidentServices {
    pub clock: Arc<dyn Clock>,
}

impl Default for ResidentServices {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
        }
    }
}

impl From<&ComplaintServices> for ResidentServices {
    fn from(services: &ComplaintServices) -> Self {
        Self {
            clock: services.clock.clone(),
        }
    }
}

/// The record as it stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resident {
    pub needs: Vec<String>,
    pub adjustments: Vec<Adjustment>,
    pub review_due: Option<NaiveDate>,
    pub last_occurred_at: Option<DateTime<Utc>>,
}

impl Aggregate for Resident {
    const TYPE: &'static str = "Resident";
    type Command = ResidentCommand;
    type Event = ResidentEvent;
    type Error = ComplaintError;
    type Services = ResidentServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let events = self.decide(command, services)?;
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ResidentEvent::AdjustmentsSet {
                occurred_at,
                needs,
                adjustments,
                review_due,
                ..
            } => {
                self.needs = needs;
                self.adjustments = adjustments;
                self.review_due = review_due;
                self.last_occurred_at = Some(occurred_at);
            }
        }
    }
}

impl Resident {
    /// The state after `events`, in order.
    pub fn replay(events: impl IntoIterator<Item = ResidentEvent>) -> Self {
        let mut state = Self::default();
        for event in events {
            state.apply(event);
        }
        state
    }

    /// Decides the events a command produces (none when nothing changes), or the rule it
    /// breaks. Pure: it reads the clock from `services` and changes nothing.
    pub fn decide(
        &self,
        command: ResidentCommand,
        services: &ResidentServices,
    ) -> Result<Vec<ResidentEvent>, ComplaintError> {
        let now = services.clock.now();
        let ResidentCommand { actor: by, action } = command;
        let ResidentAction::SetAdjustments(c) = action;

        let occurred_at = c.occurred_at.unwrap_or(now);
        if occurred_at > now {
            return Err(ComplaintError::OccurredInFuture { occurred_at });
        }
        if let Some(previous) = self.last_occurred_at {
            if occurred_at < previous {
                return Err(ComplaintError::OccurredBeforePreviousEvent {
                    occurred_at,
                    previous,
                });
            }
        }
        let day = uk_date(occurred_at);

        let mut needs = c.needs;
        for need in &needs {
            text("needs", need)?;
        }
        needs.sort();
        if needs.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(invalid("needs", "must not repeat a need"));
        }

        let mut adjustments = Vec::with_capacity(c.adjustments.len());
        for agreed in c.adjustments {
            text("adjustments.need", &agreed.need)?;
            text("adjustments.adjustment", &agreed.adjustment)?;
            if needs.binary_search(&agreed.need).is_err() {
                return Err(invalid("adjustments.need", "must be one of the needs"));
            }
            if agreed.agreed_on > day {
                return Err(invalid(
                    "adjustments.agreed_on",
                    "must not be after the day it is recorded",
                ));
            }
            // One already on record keeps who agreed it.
            let agreed_by = self
                .adjustments
                .iter()
                .find(|held| same_agreement(held, &agreed))
                .map_or_else(|| by.clone(), |held| held.agreed_by.clone());
            adjustments.push(Adjustment {
                need: agreed.need,
                adjustment: agreed.adjustment,
                agreed_on: agreed.agreed_on,
                agreed_by,
            });
        }
        adjustments.sort_by(|a, b| key(a).cmp(&key(b)));
        if adjustments
            .windows(2)
            .any(|pair| key(&pair[0]) == key(&pair[1]))
        {
            return Err(invalid("adjustments", "must not repeat an adjustment"));
        }

        if c.review_due != self.review_due {
            if let Some(review_due) = c.review_due {
                if review_due <= day {
                    return Err(invalid("review_due", "must be after the day it is set"));
                }
            }
        }
        if !needs.is_empty() && c.review_due.is_none() {
            return Err(invalid(
                "review_due",
                "is required while needs are recorded",
            ));
        }

        let unchanged = needs == self.needs
            && adjustments == self.adjustments
            && c.review_due == self.review_due;
        if unchanged {
            return Ok(Vec::new());
        }
        Ok(vec![ResidentEvent::AdjustmentsSet {
            occurred_at,
            by,
            needs,
            adjustments,
            review_due: c.review_due,
        }])
    }

    /// The review falls due on or before `today`.
    pub fn review_is_due(&self, today: NaiveDate) -> bool {
        self.review_due.is_some_and(|due| due <= today)
    }
}

fn key(adjustment: &Adjustment) -> (&str, &str, NaiveDate) {
    (
        &adjustment.need,
        &adjustment.adjustment,
        adjustment.agreed_on,
    )
}

fn same_agreement(held: &Adjustment, agreed: &AgreedAdjustment) -> bool {
    held.need == agreed.need
        && held.adjustment == agreed.adjustment
        && held.agreed_on == agreed.agreed_on
}

fn invalid(field: &'static str, reason: &str) -> ComplaintError {
    ComplaintError::InvalidField {
        field,
        reason: reason.to_string(),
    }
}

fn text(field: &'static str, value: &str) -> Result<(), ComplaintError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.chars().count() > MAX_ITEM {
        return Err(ComplaintError::InvalidField {
            field,
            reason: format!("must be at most {MAX_ITEM} characters"),
        });
    }
    Ok(())
}
