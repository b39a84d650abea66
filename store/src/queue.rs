//! Work queues and the dashboard's counts, read from the queue rows (`case_summaries`) and
//! the open deadlines (`case_deadlines`). SLA states are never stored: a filter on them
//! compares stored due dates with thresholds computed for the day of the read.

use casefile_domain::deadline::DUE_SOON_WORKING_DAYS;
use casefile_domain::{unmet_state, Calendar, Division};
use casefile_projections::case_view::CaseSummary;
use casefile_projections::dashboard::{
    month_of, week_of, Dashboard, DashboardInput, DayCount, OpenGroup,
};
use chrono::NaiveDate;
use sqlx::Row;

use crate::on_pool;
use crate::Store;

/// The most cases a queue counts exactly.
pub const COUNT_LIMIT: i64 = 10_000;

/// A text filter that may also ask for cases where the field is unset (`none`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    Is(String),
    Unset,
}

/// The SLA states a queue can filter on: those of a live deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sla {
    Pending,
    DueSoon,
    Breached,
}

/// Filters of the work queue; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub status: Option<String>,
    pub stage: Option<String>,
    pub owner: Option<Match>,
    pub theme: Option<Match>,
    pub root_cause: Option<Match>,
    /// Open cases whose nearest unmet deadline is in this state today.
    pub sla: Option<Sla>,
    /// With `due_from`/`due_before`: only this live step's due date counts.
    pub step: Option<String>,
    /// Open cases with a live step due on or after this day.
    pub due_from: Option<NaiveDate>,
    /// Open cases with a live step due before this day.
    pub due_before: Option<NaiveDate>,
    pub division: Option<String>,
    pub procedure: Option<String>,
    pub channel: Option<String>,
    pub received_from: Option<NaiveDate>,
    pub received_to: Option<NaiveDate>,
    /// Cases that left the open state (closed, withdrawn, refused) in this period.
    pub closed_from: Option<NaiveDate>,
    pub closed_to: Option<NaiveDate>,
    pub resident_id: Option<String>,
    /// Cases with a tracked action still open after its due date.
    pub actions_overdue: bool,
    /// Cases whose resident's reasonable adjustments are due for review.
    pub adjustments_review_due: bool,
    /// Free text over reference, complainant, address/postcode and summary.
    pub q: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Nearest due date first; cases with none last.
    #[default]
    Due,
    /// Most recently received first.
    Received,
}

/// Where a page starts: after a cursor (stable under concurrent writes), or at an offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    After(Cursor),
    Offset(i64),
}

/// The sort key and id of the last case of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub key: String,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        hex::encode(format!("{}|{}", self.key, self.id))
    }

    /// A cursor this store wrote: a date, then a case id. The id is read as the UUID it is
    /// (a hand-made cursor could otherwise carry anything, a NUL that PostgreSQL's text
    /// cannot hold among it).
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = hex::decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (key, id) = text.split_once('|')?;
        let valid_key = key.len() == 10 && NaiveDate::parse_from_str(key, "%Y-%m-%d").is_ok();
        let id = uuid::Uuid::parse_str(id).ok()?;
        valid_key.then(|| Self {
            key: key.to_string(),
            id: id.to_string(),
        })
    }
}

/// One page of a queue.
#[derive(Debug, Clone)]
pub struct QueuePage {
    pub items: Vec<CaseSummary>,
    /// How many cases match, counted up to [`COUNT_LIMIT`].
    pub total: i64,
    /// More than [`COUNT_LIMIT`] cases match.
    pub total_capped: bool,
    pub next_cursor: Option<String>,
}

/// The thresholds of today's SLA states, per division.
#[derive(Debug, Clone)]
pub struct SlaWindow {
    pub today: NaiveDate,
    /// Per division: a due date before this day is `due_soon` (from today on).
    pub soon_before: Vec<(Division, NaiveDate)>,
}

impl SlaWindow {
    pub fn new(calendar: &Calendar, today: NaiveDate) -> Self {
        let soon_before = Division::ALL
            .iter()
            .map(|d| {
                (
                    *d,
                    calendar.add_working_days(*d, today, DUE_SOON_WORKING_DAYS + 1),
                )
            })
            .collect();
        Self { today, soon_before }
    }
}

/// SQL conditions and their bound values, numbered as they are added.
#[derive(Default)]
struct Conditions {
    sql: Vec<String>,
    binds: Vec<String>,
}

impl Conditions {
    /// Adds a condition whose `?` is replaced by the next placeholder bound to `value`.
    fn add(&mut self, condition: &str, value: impl Into<String>) {
        self.binds.push(value.into());
        let placeholder = format!("${}", self.binds.len());
        self.sql.push(condition.replace('?', &placeholder));
    }

    fn placeholder(&mut self, value: impl Into<String>) -> String {
        self.binds.push(value.into());
        format!("${}", self.binds.len())
    }

    fn raw(&mut self, condition: &str) {
        self.sql.push(condition.to_string());
    }

    fn matching(&mut self, column: &str, value: &Option<Match>) {
        match value {
            Some(Match::Is(v)) => self.add(&format!("{column} = ?"), v.clone()),
            Some(Match::Unset) => self.raw(&format!("{column} IS NULL")),
            None => {}
        }
    }

    fn clause(&self) -> String {
        if self.sql.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.sql.join(" AND "))
        }
    }
}

/// The longest free-text search the queue takes, in characters: a search box's worth. A
/// search is looked up trigram by trigram and matched as a `LIKE` pattern, so its cost
/// grows with its length (and SQLite refuses patterns over 50,000 bytes).
pub const SEARCH_MOST_CHARS: usize = 200;

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// How the store's index finds free text.
enum TextIndex<'a> {
    /// SQLite's FTS5 trigram table, which narrows a search before the exact `LIKE`.
    TrigramTable,
    /// PostgreSQL's trigram index on the column, which answers `LIKE` itself; with the words
    /// most cases contain, which it then need not look up.
    TrigramColumn { common_words: &'a [String] },
}

/// An FTS5 query for the rows holding every trigram of `q`, each quoted as a string of its
/// own: the trigram index keeps no positions (migration 0022), so it cannot answer the
/// phrase, and the `LIKE` beside it checks the order. `None` under three characters, which
/// make no trigram.
fn every_trigram(q: &str) -> Option<String> {
    let chars: Vec<char> = q.chars().collect();
    let mut trigrams: Vec<String> = Vec::new();
    for window in chars.windows(3) {
        let quoted = format!("\"{}\"", String::from_iter(window).replace('"', "\"\""));
        if !trigrams.contains(&quoted) {
            trigrams.push(quoted);
        }
    }
    (!trigrams.is_empty()).then(|| trigrams.join(" AND "))
}

/// The words of a search, as the store's word statistics split the search text.
fn words(q: &str) -> impl Iterator<Item = &str> {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// The words of `q` worth looking up in a trigram index: those of three characters or more
/// (a shorter one yields no trigram a `LIKE` can use) that are not among `common_words`.
/// `None` when looking up `q` whole is as good: no common word to leave out, or no other.
fn rare_words<'q>(q: &'q str, common_words: &[String]) -> Option<Vec<&'q str>> {
    let (common, rare): (Vec<&str>, Vec<&str>) =
        words(q).partition(|w| common_words.iter().any(|c| c == w));
    let rare: Vec<&str> = rare
        .into_iter()
        .filter(|w| w.chars().count() >= 3)
        .collect();
    (!common.is_empty() && !rare.is_empty()).then_some(rare)
}

/// The `WHERE` conditions of `filter`.
fn conditions(filter: &QueueFilter, window: &SlaWindow, index: &TextIndex) -> Conditions {
    let mut c = Conditions::default();
    let text = |c: &mut Conditions, column: &str, value: &Option<String>| {
        if let Some(v) = value {
            c.add(&format!("{column} = ?"), v.clone());
        }
    };
    match filter.status.as_deref() {
        // A literal, so that the planner may use the partial indexes of open cases.
        Some("open") => c.raw("status = 'open'"),
        Some(status) => c.add("status = ?", status),
        None => {}
    }
    text(&mut c, "stage", &filter.stage);
    c.matching("owner_id", &filter.owner);
    c.matching("theme", &filter.theme);
    c.matching("root_cause", &filter.root_cause);
    text(&mut c, "division", &filter.division);
    text(&mut c, "procedure", &filter.procedure);
    text(&mut c, "channel", &filter.channel);
    text(&mut c, "resident_id", &filter.resident_id);
    if let Some(from) = filter.received_from {
        c.add("received_on >= ?", from.to_string());
    }
    if let Some(to) = filter.received_to {
        c.add("received_on <= ?", to.to_string());
    }
    if let Some(from) = filter.closed_from {
        c.add("ended_on >= ?", from.to_string());
    }
    if let Some(to) = filter.closed_to {
        c.add("ended_on <= ?", to.to_string());
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let q = q.to_lowercase();
        let like = format!("%{}%", escape_like(&q));
        match index {
            // SQLite's LIKE cannot use an index, so the FTS5 trigram table finds the
            // candidate rows (it needs three characters); the LIKE keeps the exact meaning.
            TextIndex::TrigramTable => {
                c.add("search LIKE ? ESCAPE '\\'", like);
                if let Some(trigrams) = every_trigram(&q) {
                    c.add(
                        "rowid IN (SELECT rowid FROM case_search WHERE case_search MATCH ?)",
                        trigrams,
                    );
                }
            }
            TextIndex::TrigramColumn { common_words } => match rare_words(&q, common_words) {
                // The index looks up the rarer words only (words are letters and digits,
                // so nothing in them needs escaping); `strpos`, which no index answers,
                // keeps the exact meaning row by row.
                Some(rare) => {
                    for word in rare {
                        c.add("search LIKE ?", format!("%{word}%"));
                    }
                    c.add("strpos(search, ?) > 0", q);
                }
                None => c.add("search LIKE ? ESCAPE '\\'", like),
            },
        }
    }
    if filter.actions_overdue {
        c.add("action_due < ?", window.today.to_string());
    }
    if filter.adjustments_review_due {
        c.add(
            "resident_id IN (SELECT resident_id FROM resident_records WHERE review_due <= ?)",
            window.today.to_string(),
        );
    }
    if let Some(sla) = filter.sla {
        c.raw("status = 'open' AND next_due IS NOT NULL");
        if sla != Sla::Pending {
            let today = c.placeholder(window.today.to_string());
            let op = if sla == Sla::Breached { "<" } else { ">=" };
            c.raw(&format!("next_due {op} {today}"));
        }
        if sla != Sla::Breached {
            // Due soon: before the division's threshold; pending: on or after it.
            let op = if sla == Sla::DueSoon { "<" } else { ">=" };
            let per_division: Vec<String> = window
                .soon_before
                .iter()
                .map(|(division, before)| {
                    let d = c.placeholder(division.as_str());
                    let b = c.placeholder(before.to_string());
                    format!("(division = {d} AND next_due {op} {b})")
                })
                .collect();
            c.raw(&format!("({})", per_division.join(" OR ")));
        }
    }
    if filter.step.is_some() || filter.due_from.is_some() || filter.due_before.is_some() {
        let mut inner = vec!["d.case_id = case_summaries.id".to_string()];
        if let Some(step) = &filter.step {
            inner.push(format!("d.step = {}", c.placeholder(step.clone())));
        }
        if let Some(from) = filter.due_from {
            inner.push(format!("d.due >= {}", c.placeholder(from.to_string())));
        }
        if let Some(before) = filter.due_before {
            inner.push(format!("d.due < {}", c.placeholder(before.to_string())));
        }
        c.raw(&format!(
            "EXISTS (SELECT 1 FROM case_deadlines d WHERE {})",
            inner.join(" AND ")
        ));
    }
    c
}

impl Store {
    /// One page of the queue, and how many cases match in all.
    pub async fn queue(
        &self,
        filter: &QueueFilter,
        sort: Sort,
        start: &Start,
        limit: i64,
        calendar: &Calendar,
        today: NaiveDate,
    ) -> Result<QueuePage, sqlx::Error> {
        let window = SlaWindow::new(calendar, today);
        let common_words = match (self, &filter.q) {
            (Store::Postgres(pool), Some(q)) => common_search_words(pool, q).await?,
            _ => Vec::new(),
        };
        let index = match self {
            Store::Postgres(_) => TextIndex::TrigramColumn {
                common_words: &common_words,
            },
            Store::Sqlite(_) => TextIndex::TrigramTable,
        };
        let mut c = conditions(filter, &window, &index);
        // Counting stops at COUNT_LIMIT: an exact count of a million rows would cost more
        // than the page it goes with.
        let count_sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM case_summaries {} LIMIT {}) counted",
            c.clause(),
            COUNT_LIMIT + 1
        );
        let count_binds = c.binds.clone();
        let (key, order, after) = match sort {
            Sort::Due => ("due_key", "due_key, id", "(due_key, id) > "),
            Sort::Received => (
                "received_on",
                "received_on DESC, id DESC",
                "(received_on, id) < ",
            ),
        };
        let mut tail = String::new();
        match start {
            Start::After(cursor) => {
                let k = c.placeholder(cursor.key.clone());
                let i = c.placeholder(cursor.id.clone());
                c.raw(&format!("{after}({k}, {i})"));
            }
            Start::Offset(offset) if *offset > 0 => {
                tail = format!(" OFFSET {offset}");
            }
            Start::Offset(_) => {}
        }
        let page_sql = format!(
            "SELECT {key} AS sort_key, id, body FROM case_summaries {} ORDER BY {order} LIMIT {}{tail}",
            c.clause(),
            limit + 1
        );
        // Planned for each request's values, not prepared once and cached: the plan
        // PostgreSQL reuses for any values (a generic plan) cannot know how selective each
        // filter is. One owner's open cases in a million took 127 ms that way, and 6 ms
        // planned for the values, before the partial indexes of open cases.
        let (rows, total) = on_pool!(self, |pool| {
            let mut page = sqlx::query(&page_sql).persistent(false);
            for value in &c.binds {
                page = page.bind(value);
            }
            let rows = page.fetch_all(pool).await?;
            let rows = rows
                .iter()
                .map(|row| -> Result<(String, String, String), sqlx::Error> {
                    Ok((
                        row.try_get("sort_key")?,
                        row.try_get("id")?,
                        row.try_get("body")?,
                    ))
                })
                .collect::<Result<Vec<_>, _>>()?;
            // A page that starts at the first match and holds them all has counted them:
            // a search that finds a few cases costs one statement, not two.
            let total = match start {
                Start::Offset(offset)
                    if rows.len() as i64 <= limit && (*offset == 0 || !rows.is_empty()) =>
                {
                    offset + rows.len() as i64
                }
                _ => {
                    let mut count = sqlx::query_scalar::<_, i64>(&count_sql).persistent(false);
                    for value in &count_binds {
                        count = count.bind(value);
                    }
                    count.fetch_one(pool).await?
                }
            };
            (rows, total)
        });
        let more = rows.len() as i64 > limit;
        let mut items = Vec::with_capacity(rows.len());
        let mut next_cursor = None;
        for (index, (sort_key, id, body)) in rows.into_iter().enumerate() {
            if index as i64 == limit {
                break;
            }
            let mut summary: CaseSummary =
                serde_json::from_str(&body).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            refresh(&mut summary, calendar, today);
            if more && index as i64 == limit - 1 {
                next_cursor = Some(Cursor { key: sort_key, id }.encode());
            }
            items.push(summary);
        }
        Ok(QueuePage {
            items,
            total: total.min(COUNT_LIMIT),
            total_capped: total > COUNT_LIMIT,
            next_cursor,
        })
    }

    /// Open cases counted by the columns the dashboard breaks them down by: by stage, theme,
    /// root cause, owner and division together; by division and next due date; by division
    /// and day received. Grouped in the store over the partial index of open cases, so a
    /// read returns one row per distinct value, not one per open case.
    pub async fn open_case_groups(
        &self,
    ) -> Result<(Vec<OpenGroup>, Vec<DayCount>, Vec<DayCount>), sqlx::Error> {
        let sql = match self {
            // One pass over the index, a hash table per grouping.
            Store::Postgres(_) => {
                "SELECT CASE WHEN GROUPING(next_due) = 0 THEN 'due' \
                        WHEN GROUPING(received_on) = 0 THEN 'received' ELSE 'case' END AS kind, \
                 stage, theme, root_cause, owner_id, division, \
                 COALESCE(next_due, received_on) AS day, COUNT(*) AS n \
                 FROM case_summaries WHERE status = 'open' \
                 GROUP BY GROUPING SETS ((stage, theme, root_cause, owner_id, division), \
                 (division, next_due), (division, received_on))"
            }
            // SQLite has no GROUPING SETS.
            Store::Sqlite(_) => {
                "SELECT 'case' AS kind, stage, theme, root_cause, owner_id, division, \
                 NULL AS day, COUNT(*) AS n FROM case_summaries WHERE status = 'open' \
                 GROUP BY stage, theme, root_cause, owner_id, division \
                 UNION ALL SELECT 'due', NULL, NULL, NULL, NULL, division, next_due, COUNT(*) \
                 FROM case_summaries WHERE status = 'open' GROUP BY division, next_due \
                 UNION ALL SELECT 'received', NULL, NULL, NULL, NULL, division, received_on, \
                 COUNT(*) FROM case_summaries WHERE status = 'open' GROUP BY division, received_on"
            }
        };
        let rows = on_pool!(self, |pool| {
            let rows = sqlx::query(sql).fetch_all(pool).await?;
            rows.iter()
                .map(|row| -> Result<_, sqlx::Error> {
                    Ok((
                        row.try_get::<String, _>("kind")?,
                        row.try_get::<Option<String>, _>("stage")?,
                        row.try_get::<Option<String>, _>("theme")?,
                        row.try_get::<Option<String>, _>("root_cause")?,
                        row.try_get::<Option<String>, _>("owner_id")?,
                        row.try_get::<String, _>("division")?,
                        row.try_get::<Option<String>, _>("day")?,
                        row.try_get::<i64, _>("n")?,
                    ))
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        let mut groups = Vec::new();
        let mut by_next_due = Vec::new();
        let mut by_received = Vec::new();
        for (kind, stage, theme, root_cause, owner_id, division, day, n) in rows {
            let count = u64::try_from(n).unwrap_or_default();
            match kind.as_str() {
                "case" => groups.push(OpenGroup {
                    stage: stage.unwrap_or_default(),
                    theme,
                    root_cause,
                    owner_id,
                    division,
                    count,
                }),
                "due" => by_next_due.push(DayCount {
                    division,
                    day,
                    count,
                }),
                _ => by_received.push(DayCount {
                    division,
                    day,
                    count,
                }),
            }
        }
        Ok((groups, by_next_due, by_received))
    }

    /// Open deadlines due in `[from, before)`, counted: `(step, due, count)`.
    pub async fn deadlines_between(
        &self,
        from: NaiveDate,
        before: NaiveDate,
    ) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
        let sql = "SELECT step, due, COUNT(*) FROM case_deadlines WHERE due >= $1 AND due < $2 \
                   GROUP BY step, due";
        on_pool!(self, |pool| sqlx::query_as::<_, (String, String, i64)>(sql)
            .bind(from.to_string())
            .bind(before.to_string())
            .fetch_all(pool)
            .await)
    }

    /// How many cases were received, and how many left the open state, this week
    /// (`[monday, sunday]`) and this month (`[first, last]`); cases with a tracked action
    /// open after its due date, and open cases whose resident's adjustments are due for
    /// review on `today` (the same conditions as the queue's `actions=overdue` and
    /// `adjustments=review_due`). One statement, so one round trip.
    async fn period_counts(
        &self,
        week: (NaiveDate, NaiveDate),
        month: (NaiveDate, NaiveDate),
        today: NaiveDate,
    ) -> Result<PeriodCounts, sqlx::Error> {
        let sql = "SELECT \
            (SELECT COUNT(*) FROM case_summaries WHERE received_on >= $1 AND received_on <= $2), \
            (SELECT COUNT(*) FROM case_summaries WHERE received_on >= $3 AND received_on <= $4), \
            (SELECT COUNT(*) FROM case_summaries WHERE ended_on >= $1 AND ended_on <= $2), \
            (SELECT COUNT(*) FROM case_summaries WHERE ended_on >= $3 AND ended_on <= $4), \
            (SELECT COUNT(*) FROM case_summaries WHERE action_due < $5), \
            (SELECT COUNT(*) FROM case_summaries WHERE status = 'open' AND resident_id IN \
                (SELECT resident_id FROM resident_records WHERE review_due <= $5))";
        let row = on_pool!(self, |pool| sqlx::query_as::<
            _,
            (i64, i64, i64, i64, i64, i64),
        >(sql)
        .bind(week.0.to_string())
        .bind(week.1.to_string())
        .bind(month.0.to_string())
        .bind(month.1.to_string())
        .bind(today.to_string())
        .fetch_one(pool)
        .await)?;
        let count = |n: i64| u64::try_from(n).unwrap_or_default();
        Ok(PeriodCounts {
            received_this_week: count(row.0),
            received_this_month: count(row.1),
            closed_this_week: count(row.2),
            closed_this_month: count(row.3),
            actions_overdue: count(row.4),
            adjustments_review_due: count(row.5),
        })
    }
}

/// The words of `q` that at least one case in twenty contains, from the statistics that
/// ANALYZE keeps of the search text's words (migration 0018); none when it has kept none.
async fn common_search_words(pool: &sqlx::PgPool, q: &str) -> Result<Vec<String>, sqlx::Error> {
    let q = q.to_lowercase();
    let words: Vec<&str> = words(&q).collect();
    if words.len() < 2 {
        return Ok(Vec::new());
    }
    sqlx::query_scalar(
        "SELECT word FROM pg_stats_ext_exprs s, \
         unnest(s.most_common_elems::text::text[]) WITH ORDINALITY AS w(word, i) \
         WHERE s.statistics_schemaname = current_schema() \
         AND s.statistics_name = 'case_summaries_search_words' \
         AND s.most_common_elem_freqs[w.i] >= 0.05 AND word = ANY($1)",
    )
    .bind(&words)
    .fetch_all(pool)
    .await
}

struct PeriodCounts {
    received_this_week: u64,
    received_this_month: u64,
    closed_this_week: u64,
    closed_this_month: u64,
    actions_overdue: u64,
    adjustments_review_due: u64,
}

/// Recomputes the stored next deadline's state for `today`.
pub fn refresh(summary: &mut CaseSummary, calendar: &Calendar, today: NaiveDate) {
    if let Some(next) = summary.next_due.as_mut() {
        next.state = unmet_state(calendar, summary.division, next.due, today);
    }
}

impl Store {
    /// The dashboard for `today`.
    pub async fn dashboard(
        &self,
        calendar: &Calendar,
        today: NaiveDate,
    ) -> Result<Dashboard, sqlx::Error> {
        let (monday, next_monday) = week_of(today);
        let (first, next_first) = month_of(today);
        let last = |d: NaiveDate| d.pred_opt().unwrap_or(d);
        let (open, open_by_next_due, open_by_received) = self.open_case_groups().await?;
        let due_this_week = self
            .deadlines_between(monday, next_monday)
            .await?
            .into_iter()
            .filter_map(|(step, due, n)| {
                NaiveDate::parse_from_str(&due, "%Y-%m-%d")
                    .ok()
                    .map(|d| (step, d, u64::try_from(n).unwrap_or_default()))
            })
            .collect();
        let counts = self
            .period_counts(
                (monday, last(next_monday)),
                (first, last(next_first)),
                today,
            )
            .await?;
        let input = DashboardInput {
            open,
            open_by_next_due,
            open_by_received,
            due_this_week,
            received_this_week: counts.received_this_week,
            received_this_month: counts.received_this_month,
            closed_this_week: counts.closed_this_week,
            closed_this_month: counts.closed_this_month,
            actions_overdue: counts.actions_overdue,
            adjustments_review_due: counts.adjustments_review_due,
        };
        Ok(Dashboard::build(&input, calendar, today))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_decodes_only_with_a_date_and_a_case_id() {
        let written = Cursor {
            key: "2026-01-01".to_string(),
            id: "01a21c16-22bb-770d-8696-d2d9816add82".to_string(),
        };
        assert_eq!(Cursor::decode(&written.encode()), Some(written));
        for made in [
            "2026-01-01|a\0b",
            "2026-01-01|",
            "2026-13-01|01a21c16-22bb-770d-8696-d2d9816add82",
        ] {
            assert_eq!(Cursor::decode(&hex::encode(made)), None, "{made}");
        }
    }

    fn common(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn a_search_looks_up_its_rarer_words_only_when_it_leaves_a_common_one_out() {
        let c = common(&["resident", "flat", "2026"]);
        assert_eq!(rare_words("resident 123456", &c), Some(vec!["123456"]));
        // Split as the statistics split the text; `cf` is too short for a trigram.
        assert_eq!(
            rare_words("cf-2026-000123 smith", &c),
            Some(vec!["000123", "smith"])
        );
        // Nothing common to leave out: the whole search is looked up.
        assert_eq!(rare_words("acacia avenue", &c), None);
        // Only words too short for a trigram besides the common one: likewise.
        assert_eq!(rare_words("flat 12", &c), None);
        assert_eq!(rare_words("resident", &c), None);
        assert_eq!(rare_words("flat 12b", &[]), None);
    }

    #[test]
    fn sqlite_looks_up_every_trigram_and_checks_the_phrase_row_by_row() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap_or_default();
        let window = SlaWindow::new(&Calendar::builtin(), today);
        let filter = QueueFilter {
            q: Some(" Say \"Aaaa\" ".to_string()),
            ..QueueFilter::default()
        };
        let c = conditions(&filter, &window, &TextIndex::TrigramTable);
        assert_eq!(
            c.sql,
            [
                "search LIKE $1 ESCAPE '\\'",
                "rowid IN (SELECT rowid FROM case_search WHERE case_search MATCH $2)"
            ]
        );
        // Lowercased, each quote doubled, the repeated trigram `aaa` asked for once.
        assert_eq!(
            c.binds,
            [
                "%say \"aaaa\"%",
                r#""say" AND "ay " AND "y """ AND " ""a" AND """aa" AND "aaa" AND "aa""""#
            ]
        );
        // Under three characters: no trigram, the LIKE alone.
        let filter = QueueFilter {
            q: Some("12".to_string()),
            ..QueueFilter::default()
        };
        let c = conditions(&filter, &window, &TextIndex::TrigramTable);
        assert_eq!(c.sql, ["search LIKE $1 ESCAPE '\\'"]);
    }

    #[test]
    fn postgresql_looks_up_the_rarer_words_and_checks_the_phrase_row_by_row() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap_or_default();
        let window = SlaWindow::new(&Calendar::builtin(), today);
        let filter = QueueFilter {
            q: Some(" Boiler 120 ".to_string()),
            ..QueueFilter::default()
        };
        let boiler = common(&["boiler"]);
        let index = TextIndex::TrigramColumn {
            common_words: &boiler,
        };
        let c = conditions(&filter, &window, &index);
        assert_eq!(c.sql, ["search LIKE $1", "strpos(search, $2) > 0"]);
        assert_eq!(c.binds, ["%120%", "boiler 120"]);
        // Without statistics, the whole phrase, escaped, as before.
        let index = TextIndex::TrigramColumn { common_words: &[] };
        let c = conditions(&filter, &window, &index);
        assert_eq!(c.sql, ["search LIKE $1 ESCAPE '\\'"]);
        assert_eq!(c.binds, ["%boiler 120%"]);
    }
}
