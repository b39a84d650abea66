//! The home page: open cases by stage and the latest open cases. A placeholder for the
//! dashboard, built from the work-queue projection until the dashboard read model exists.

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use crate::routes::complaints::READERS;
use crate::startup::AppState;
use crate::store::summaries::SummaryFilter;

use super::session::Staff;
use super::PageError;

/// How many of the latest open cases the home page lists.
const LATEST: i64 = 20;

#[derive(Debug, Serialize)]
struct StageCount {
    stage: &'static str,
    open: i64,
}

#[derive(Debug, Serialize)]
struct HomePage {
    can_read: bool,
    stages: Vec<StageCount>,
    total_open: i64,
    latest: Vec<serde_json::Value>,
}

pub async fn home(State(state): State<AppState>, staff: Staff) -> Result<Response, PageError> {
    let can_read = staff.principal.require(READERS).is_ok();
    let mut stages = Vec::new();
    let mut latest = Vec::new();
    if can_read {
        for stage in ["stage1", "stage2"] {
            let filter = SummaryFilter {
                status: Some("open".to_string()),
                stage: Some(stage.to_string()),
                limit: 1,
                ..SummaryFilter::default()
            };
            let (_, open) = state.store.list_summaries(&filter).await?;
            stages.push(StageCount { stage, open });
        }
        let filter = SummaryFilter {
            status: Some("open".to_string()),
            limit: LATEST,
            ..SummaryFilter::default()
        };
        latest = state.store.list_summaries(&filter).await?.0;
    }
    let total_open = stages.iter().map(|s| s.open).sum();
    state.web.page(
        "home.html",
        Some(&staff),
        HomePage {
            can_read,
            stages,
            total_open,
            latest,
        },
    )
}
