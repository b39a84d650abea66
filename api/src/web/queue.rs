//! The work queue page: the API's queue filters as a GET form, so that a filtered queue is
//! a link anyone can bookmark or share, and every dashboard figure can open one.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use casefile_domain::{uk_date, Division};
use casefile_projections::case_view::CaseSummary;
use casefile_store::queue::{Cursor, Match, QueueFilter, Sla, Sort, Start, SEARCH_MOST_CHARS};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::routes::complaints::READERS;
use crate::startup::AppState;

use super::forms::Problem;
use super::session::Staff;
use super::PageError;

/// Cases on one page of the queue.
const PAGE_SIZE: i64 = 25;

/// How many earlier pages the previous-page trail remembers; further back than this the
/// previous-page link leads to the first page.
const TRAIL: usize = 100;

/// The previous- and next-page links of a page: `href(cursor, back)` writes one. A page
/// reached through a cursor always has a previous page (the first page when the trail is
/// empty); the next page's trail is this page's with this page's cursor added.
fn pager_links(
    href: impl Fn(Option<&str>, &[&str]) -> String,
    current: Option<&str>,
    back: &[&str],
    next: Option<&str>,
) -> (Option<String>, Option<String>) {
    let previous = current.map(|_| match back.split_last() {
        Some((last, rest)) => href(Some(last), rest),
        None => href(None, &[]),
    });
    let next = next.map(|next| {
        let mut trail: Vec<&str> = back.to_vec();
        if let Some(current) = current {
            trail.push(current);
        }
        let skip = trail.len().saturating_sub(TRAIL);
        href(Some(next), &trail[skip..])
    });
    (previous, next)
}

/// The query string of the queue page. Every value is text, since an empty form field
/// arrives as an empty string and means "any".
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct QueueQuery {
    pub status: String,
    pub stage: String,
    /// A user id, `me` for the signed-in user, or `none` for unassigned cases.
    pub owner: String,
    pub theme: String,
    pub root_cause: String,
    pub sla: String,
    pub division: String,
    pub procedure: String,
    pub channel: String,
    pub received_from: String,
    pub received_to: String,
    pub q: String,
    pub sort: String,
    /// Filters the dashboard's links use that the form keeps as hidden fields.
    pub step: String,
    pub due_from: String,
    pub due_before: String,
    pub closed_from: String,
    pub closed_to: String,
    pub cursor: String,
    /// The cursors of the pages before this one, oldest first, joined by `.`: the trail
    /// the previous-page link walks back along (the queue's cursors only run forwards).
    pub back: String,
}

fn given(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

fn matching(value: &str) -> Option<Match> {
    given(value).map(|v| {
        if v == "none" {
            Match::Unset
        } else {
            Match::Is(v)
        }
    })
}

/// The search field: empty is no filter; a search longer than the queue takes is none.
fn search(value: &str, problems: &mut Vec<Problem>) -> Option<String> {
    let value = given(value)?;
    if value.chars().count() > SEARCH_MOST_CHARS {
        problems.push(Problem {
            href: "#queue-q".to_string(),
            text: format!("Enter a search of {SEARCH_MOST_CHARS} characters or fewer"),
        });
        return None;
    }
    Some(value)
}

/// A date field: empty is no filter, anything else must be a date.
fn date(value: &str, id: &str, what: &str, problems: &mut Vec<Problem>) -> Option<NaiveDate> {
    let value = given(value)?;
    match NaiveDate::parse_from_str(&value, "%Y-%m-%d") {
        Ok(day) => Some(day),
        Err(_) => {
            problems.push(Problem {
                href: format!("#{id}"),
                text: format!("Enter {what} as a date, like 2026-03-31"),
            });
            None
        }
    }
}

impl QueueQuery {
    /// The store's filter, with "me" as the signed-in user, and what could not be read.
    fn filter(&self, me: &str) -> (QueueFilter, Vec<Problem>) {
        let mut problems = Vec::new();
        let owner = if self.owner == "me" {
            Some(Match::Is(me.to_string()))
        } else {
            matching(&self.owner)
        };
        let sla = match self.sla.as_str() {
            "pending" => Some(Sla::Pending),
            "due_soon" => Some(Sla::DueSoon),
            "breached" => Some(Sla::Breached),
            _ => None,
        };
        let filter = QueueFilter {
            actions_overdue: false,
            adjustments_review_due: false,
            status: given(&self.status),
            stage: given(&self.stage),
            owner,
            theme: matching(&self.theme),
            root_cause: matching(&self.root_cause),
            sla,
            step: given(&self.step),
            due_from: date(
                &self.due_from,
                "queue-filters",
                "the first due date",
                &mut problems,
            ),
            due_before: date(
                &self.due_before,
                "queue-filters",
                "the due date",
                &mut problems,
            ),
            division: given(&self.division),
            procedure: given(&self.procedure),
            channel: given(&self.channel),
            received_from: date(
                &self.received_from,
                "queue-received_from",
                "received from",
                &mut problems,
            ),
            received_to: date(
                &self.received_to,
                "queue-received_to",
                "received to",
                &mut problems,
            ),
            closed_from: date(
                &self.closed_from,
                "queue-filters",
                "closed from",
                &mut problems,
            ),
            closed_to: date(&self.closed_to, "queue-filters", "closed to", &mut problems),
            resident_id: None,
            q: search(&self.q, &mut problems),
        };
        (filter, problems)
    }

    fn sort(&self) -> Sort {
        if self.sort == "received" {
            Sort::Received
        } else {
            Sort::Due
        }
    }

    /// This query as a query string, without its cursor.
    fn query_string(&self) -> String {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        let fields: [(&str, &str); 18] = [
            ("status", &self.status),
            ("stage", &self.stage),
            ("owner", &self.owner),
            ("theme", &self.theme),
            ("root_cause", &self.root_cause),
            ("sla", &self.sla),
            ("division", &self.division),
            ("procedure", &self.procedure),
            ("channel", &self.channel),
            ("received_from", &self.received_from),
            ("received_to", &self.received_to),
            ("q", &self.q),
            ("sort", &self.sort),
            ("step", &self.step),
            ("due_from", &self.due_from),
            ("due_before", &self.due_before),
            ("closed_from", &self.closed_from),
            ("closed_to", &self.closed_to),
        ];
        for (name, value) in fields {
            if !value.is_empty() {
                pairs.append_pair(name, value);
            }
        }
        pairs.finish()
    }
}

/// A value and its words, for a select.
#[derive(Debug, Serialize)]
struct Choice {
    id: String,
    name: String,
}

fn choices(values: &[(&str, &str)]) -> Vec<Choice> {
    values
        .iter()
        .map(|(id, name)| Choice {
            id: id.to_string(),
            name: name.to_string(),
        })
        .collect()
}

#[derive(Debug, Serialize)]
struct QueuePageView {
    query: QueueQuery,
    problems: Vec<Problem>,
    statuses: Vec<Choice>,
    stages: Vec<Choice>,
    owners: Vec<Choice>,
    slas: Vec<Choice>,
    divisions: Vec<Choice>,
    procedures: Vec<Choice>,
    channels: Vec<Choice>,
    sorts: Vec<Choice>,
    items: Vec<CaseSummary>,
    total: i64,
    /// Whether this page starts after a cursor (so a link back to the first is useful).
    paged: bool,
    first_href: String,
    previous_href: Option<String>,
    next_href: Option<String>,
}

/// A resident's cases, most recent first: what an advisor checks before logging another.
pub async fn resident_cases(
    state: &AppState,
    resident_id: &str,
) -> Result<Vec<CaseSummary>, PageError> {
    let filter = QueueFilter {
        resident_id: Some(resident_id.to_string()),
        ..QueueFilter::default()
    };
    let page = state
        .store
        .queue(
            &filter,
            Sort::Received,
            &Start::Offset(0),
            100,
            &state.web.calendar,
            uk_date(Utc::now()),
        )
        .await?;
    Ok(page.items)
}

pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    query: Result<Query<QueueQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    staff.principal.require(READERS)?;
    // A query string this page did not write shows the whole queue rather than an error.
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let (filter, problems) = query.filter(&staff.principal.id);
    let start = Cursor::decode(&query.cursor)
        .map(Start::After)
        .unwrap_or(Start::Offset(0));
    let paged = matches!(start, Start::After(_));
    let found = state
        .store
        .queue(
            &filter,
            query.sort(),
            &start,
            PAGE_SIZE,
            &state.web.calendar,
            uk_date(Utc::now()),
        )
        .await?;
    let base = query.query_string();
    let with = |extra: &str| {
        let joined = [base.as_str(), extra]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("&");
        if joined.is_empty() {
            "/cases".to_string()
        } else {
            format!("/cases?{joined}")
        }
    };
    let current = paged.then_some(query.cursor.as_str());
    let back: Vec<&str> = query
        .back
        .split('.')
        .filter(|c| Cursor::decode(c).is_some())
        .collect();
    let (previous_href, next_href) = pager_links(
        |cursor, back| {
            let mut extra = form_urlencoded::Serializer::new(String::new());
            if let Some(cursor) = cursor {
                extra.append_pair("cursor", cursor);
            }
            if !back.is_empty() {
                extra.append_pair("back", &back.join("."));
            }
            with(&extra.finish())
        },
        current,
        &back,
        found.next_cursor.as_deref(),
    );
    let mut owners = vec![
        Choice {
            id: "me".to_string(),
            name: "My cases".to_string(),
        },
        Choice {
            id: "none".to_string(),
            name: "Nobody yet".to_string(),
        },
    ];
    owners.extend(state.store.users().await?.into_iter().map(|u| Choice {
        id: u.id,
        name: u.name,
    }));
    let divisions = Division::ALL
        .iter()
        .map(|d| Choice {
            id: d.as_str().to_string(),
            name: super::templates::label(d.as_str().to_string()),
        })
        .collect();
    let view = QueuePageView {
        problems,
        statuses: choices(&[
            ("open", "Open"),
            ("closed", "Closed"),
            ("withdrawn", "Withdrawn"),
            ("refused", "Refused"),
        ]),
        stages: choices(&[("stage1", "Stage 1"), ("stage2", "Stage 2")]),
        owners,
        slas: choices(&[
            ("breached", "Breached"),
            ("due_soon", "Due soon"),
            ("pending", "On track"),
        ]),
        divisions,
        procedures: state
            .web
            .procedures
            .iter()
            .map(|p| Choice {
                id: p.id.clone(),
                name: p.name.clone(),
            })
            .collect(),
        channels: choices(&[
            ("phone", "Phone"),
            ("email", "Email"),
            ("web_form", "Web form"),
            ("portal", "Portal"),
            ("letter", "Letter"),
            ("in_person", "In person"),
        ]),
        sorts: choices(&[
            ("due", "Nearest deadline first"),
            ("received", "Most recently received first"),
        ]),
        items: found.items,
        total: found.total,
        paged,
        first_href: with(""),
        previous_href,
        next_href,
        query,
    };
    state.web.page("queue.html", Some(&staff), view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_filter_nothing_and_me_is_the_signed_in_user() {
        let query = QueueQuery {
            owner: "me".to_string(),
            status: String::new(),
            ..QueueQuery::default()
        };
        let (filter, problems) = query.filter("user-7");
        assert_eq!(filter.owner, Some(Match::Is("user-7".to_string())));
        assert_eq!(filter.status, None);
        assert!(problems.is_empty());
    }

    #[test]
    fn a_date_that_is_not_one_is_a_problem_tied_to_its_field() {
        let query = QueueQuery {
            received_from: "last week".to_string(),
            ..QueueQuery::default()
        };
        let (filter, problems) = query.filter("user-7");
        assert_eq!(filter.received_from, None);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].href, "#queue-received_from");
    }

    fn href(cursor: Option<&str>, back: &[&str]) -> String {
        format!("cursor={}&back={}", cursor.unwrap_or("-"), back.join("."))
    }

    #[test]
    fn the_pager_walks_back_along_the_trail_of_cursors() {
        // The first page: no previous page; the next one has an empty trail.
        assert_eq!(
            pager_links(href, None, &[], Some("c2")),
            (None, Some("cursor=c2&back=".to_string()))
        );
        // The second page: back to the first; on to the third, remembering the second.
        assert_eq!(
            pager_links(href, Some("c2"), &[], Some("c3")),
            (
                Some("cursor=-&back=".to_string()),
                Some("cursor=c3&back=c2".to_string())
            )
        );
        // The fourth and last page: back to the third, whose trail is the second.
        assert_eq!(
            pager_links(href, Some("c4"), &["c2", "c3"], None),
            (Some("cursor=c3&back=c2".to_string()), None)
        );
    }

    #[test]
    fn the_trail_keeps_only_the_latest_pages() {
        let trail: Vec<String> = (0..TRAIL).map(|i| format!("c{i}")).collect();
        let trail: Vec<&str> = trail.iter().map(String::as_str).collect();
        let (_, next) = pager_links(
            |_, back| back.len().to_string(),
            Some("now"),
            &trail,
            Some("n"),
        );
        assert_eq!(next, Some(TRAIL.to_string()));
    }

    #[test]
    fn the_paging_query_keeps_the_filters_and_drops_the_cursor() {
        let query = QueueQuery {
            theme: "Damp & mould".to_string(),
            cursor: "abc".to_string(),
            ..QueueQuery::default()
        };
        assert_eq!(query.query_string(), "theme=Damp+%26+mould");
    }
}
