//! A resident's disclosed needs and agreed adjustments, as staff see them on every case of
//! that resident. Special-category data: it is left out of work-queue rows.

use casefile_domain::resident::Adjustment;
use casefile_domain::{Actor, ResidentEvent};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResidentView {
    pub resident_id: String,
    pub needs: Vec<String>,
    pub adjustments: Vec<Adjustment>,
    pub review_due: Option<NaiveDate>,
    /// The number of changes recorded: the version a write was checked against.
    pub version: u64,
    /// When and by whom the record last changed; `None` while nothing is recorded.
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<Actor>,
}

impl ResidentView {
    /// Folds a resident's events, oldest first; with none, an empty record.
    pub fn build(resident_id: &str, events: &[ResidentEvent]) -> Self {
        let mut view = Self {
            resident_id: resident_id.to_string(),
            needs: Vec::new(),
            adjustments: Vec::new(),
            review_due: None,
            version: 0,
            updated_at: None,
            updated_by: None,
        };
        for event in events {
            view.version += 1;
            view.updated_at = Some(event.occurred_at());
            view.updated_by = Some(event.by().clone());
            match event.clone() {
                ResidentEvent::AdjustmentsSet {
                    needs,
                    adjustments,
                    review_due,
                    ..
                } => {
                    view.needs = needs;
                    view.adjustments = adjustments;
                    view.review_due = review_due;
                }
            }
        }
        view
    }

    /// The review falls due on or before `today`.
    pub fn review_is_due(&self, today: NaiveDate) -> bool {
        self.review_due.is_some_and(|due| due <= today)
    }
}
