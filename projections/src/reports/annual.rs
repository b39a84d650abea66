//! The annual complaints performance and service improvement report (Code 8.1–8.3, 9.5–9.7):
//! the year's volumes, themes and outcomes by stage, the TSMs, timeliness, the
//! self-assessment, refusals with their reasons, the findings of non-compliance and the
//! learning actions, assembled from the other reports so every figure agrees with them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use casefile_domain::values::RefusalReason;
use casefile_domain::Calendar;
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::csv::{opt, Csv};
use super::kpi::{kpi, OutcomeCounts, Period, StageOutcomes, TopCounts};
use super::self_assessment::{self_assessment, ProvisionRow};
use super::tsm::{tsm, TsmMeasure};
use super::{count, Homes, Ratio, ReportCase, ReportingYear};
use crate::case_view::{LearningRow, LearningStatus};

/// Columns of the annual report's CSV: the section, the figure, its value, and for a ratio
/// the count and base behind it.
pub const ANNUAL_HEADER: [&str; 5] = ["section", "figure", "value", "count", "of"];

/// Complaints received at Stage 1 and escalated to Stage 2 in the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Volumes {
    pub stage1: u64,
    pub stage2: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Timeliness {
    pub acknowledged_on_time: Ratio,
    pub stage1_responded_on_time: Ratio,
    pub stage2_responded_on_time: Ratio,
    pub escalation_rate: Ratio,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RefusalCount {
    pub reason: RefusalReason,
    pub count: u64,
}

/// Complaints refused in the year, by reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Refusals {
    pub total: u64,
    /// Every reason, in a fixed order, zeros included.
    pub by_reason: Vec<RefusalCount>,
}

/// The learning actions of the year's cases and how many are done.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Learning {
    pub open: u64,
    pub done: u64,
    /// Each action with its status and, once done, what changed; by reference then id.
    pub actions: Vec<LearningRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AnnualReport {
    #[schema(value_type = String, example = "2025-26")]
    pub year: ReportingYear,
    pub volumes: Volumes,
    /// The themes (categories) of the Stage 1 complaints received.
    pub themes: TopCounts,
    pub outcomes: StageOutcomes,
    /// CH01 then CH02, as the TSM report gives them.
    pub tsm: Vec<TsmMeasure>,
    pub timeliness: Timeliness,
    pub self_assessment: Vec<ProvisionRow>,
    pub refusals: Refusals,
    /// The self-assessment rows the year's cases do not comply with.
    pub non_compliance: Vec<ProvisionRow>,
    pub learning: Learning,
}

const REASONS: [RefusalReason; 3] = [
    RefusalReason::OlderThanTwelveMonths,
    RefusalReason::LegalProceedings,
    RefusalReason::PreviouslyConsidered,
];

fn reason_name(reason: RefusalReason) -> &'static str {
    match reason {
        RefusalReason::OlderThanTwelveMonths => "older_than_twelve_months",
        RefusalReason::LegalProceedings => "legal_proceedings",
        RefusalReason::PreviouslyConsidered => "previously_considered",
    }
}

/// The annual report for `homes.year` over every case given, judging unmet steps as of
/// `today`.
pub fn annual(
    cases: &[ReportCase],
    calendar: &Calendar,
    homes: &Homes,
    today: NaiveDate,
) -> AnnualReport {
    let year = homes.year;
    let kpi = kpi(cases, calendar, Period::year(year));
    let tsm = tsm(cases, calendar, homes, false);
    let assessment = self_assessment(cases, calendar, year, today);

    let refused: Vec<RefusalReason> = cases
        .iter()
        .filter_map(|case| case.refusal.as_ref())
        .filter(|refusal| year.contains(refusal.on))
        .map(|refusal| refusal.reason)
        .collect();
    let refusals = Refusals {
        total: count(&refused),
        by_reason: REASONS
            .iter()
            .map(|&reason| RefusalCount {
                reason,
                count: count(refused.iter().filter(|&&r| r == reason)),
            })
            .collect(),
    };

    let mut actions: Vec<LearningRow> = cases.iter().flat_map(ReportCase::learning_rows).collect();
    actions.sort_by(|a, b| {
        (&a.reference, &a.learning.learning_id).cmp(&(&b.reference, &b.learning.learning_id))
    });
    let done = count(
        actions
            .iter()
            .filter(|row| row.learning.status == LearningStatus::Done),
    );
    let learning = Learning {
        open: count(&actions).saturating_sub(done),
        done,
        actions,
    };

    AnnualReport {
        year,
        volumes: Volumes {
            stage1: kpi.received.stage1,
            stage2: kpi.received.stage2,
        },
        themes: kpi.themes,
        outcomes: kpi.outcomes,
        tsm: tsm.measures,
        timeliness: Timeliness {
            acknowledged_on_time: kpi.acknowledged_on_time,
            stage1_responded_on_time: kpi.responded_on_time.stage1,
            stage2_responded_on_time: kpi.responded_on_time.stage2,
            escalation_rate: kpi.escalation_rate,
        },
        non_compliance: assessment
            .rows
            .iter()
            .filter(|row| !row.comply)
            .cloned()
            .collect(),
        self_assessment: assessment.rows,
        refusals,
        learning,
    }
}

/// One CSV or HTML row: section, figure, value, count, of.
type Row = [String; 5];

fn plain(section: &str, figure: impl Into<String>, value: impl ToString) -> Row {
    [
        section.to_string(),
        figure.into(),
        value.to_string(),
        String::new(),
        String::new(),
    ]
}

fn ratio(section: &str, figure: impl Into<String>, ratio: &Ratio) -> Row {
    [
        section.to_string(),
        figure.into(),
        opt(ratio.percent),
        ratio.count.to_string(),
        ratio.of.to_string(),
    ]
}

fn outcome_rows(rows: &mut Vec<Row>, stage: &str, counts: &OutcomeCounts) {
    rows.push(plain("outcomes", format!("{stage}_upheld"), counts.upheld));
    rows.push(plain(
        "outcomes",
        format!("{stage}_partly_upheld"),
        counts.partly_upheld,
    ));
    rows.push(plain(
        "outcomes",
        format!("{stage}_not_upheld"),
        counts.not_upheld,
    ));
}

impl AnnualReport {
    /// Every figure of the report, in report order.
    fn rows(&self) -> Vec<Row> {
        let mut rows = vec![
            plain("volumes", "received_stage1", self.volumes.stage1),
            plain("volumes", "escalated_stage2", self.volumes.stage2),
        ];
        for theme in &self.themes.top {
            rows.push(plain("themes", theme.name.clone(), theme.count));
        }
        rows.push(plain("themes", "unrecorded", self.themes.unrecorded));
        outcome_rows(&mut rows, "stage1", &self.outcomes.stage1);
        outcome_rows(&mut rows, "stage2", &self.outcomes.stage2);
        for m in &self.tsm {
            rows.push([
                "tsm".to_string(),
                format!("{}_stage{}_{}", m.code.as_str(), m.stage, m.tenure),
                opt(m.value),
                m.numerator.to_string(),
                m.denominator.to_string(),
            ]);
        }
        let t = &self.timeliness;
        rows.push(ratio(
            "timeliness",
            "acknowledged_on_time",
            &t.acknowledged_on_time,
        ));
        rows.push(ratio(
            "timeliness",
            "stage1_responded_on_time",
            &t.stage1_responded_on_time,
        ));
        rows.push(ratio(
            "timeliness",
            "stage2_responded_on_time",
            &t.stage2_responded_on_time,
        ));
        rows.push(ratio("timeliness", "escalation_rate", &t.escalation_rate));
        for row in &self.self_assessment {
            let mut r = ratio("self_assessment", row.provision.clone(), &row.measured);
            r[2] = row.comply.to_string();
            rows.push(r);
        }
        rows.push(plain("refusals", "total", self.refusals.total));
        for r in &self.refusals.by_reason {
            rows.push(plain("refusals", reason_name(r.reason), r.count));
        }
        for row in &self.non_compliance {
            rows.push(ratio(
                "non_compliance",
                row.provision.clone(),
                &row.measured,
            ));
        }
        rows.push(plain("learning", "open", self.learning.open));
        rows.push(plain("learning", "done", self.learning.done));
        for row in &self.learning.actions {
            let status = match row.learning.status {
                LearningStatus::Open => "open".to_string(),
                LearningStatus::Done => match &row.learning.completed {
                    Some(completed) => format!("done: {}", completed.text),
                    None => "done".to_string(),
                },
            };
            rows.push(plain(
                "learning_action",
                format!(
                    "{} {} ({}): {}",
                    row.reference,
                    row.learning.learning_id,
                    row.learning.theme,
                    row.learning.learning
                ),
                status,
            ));
        }
        rows
    }

    /// `section,figure,value,count,of`, one row per figure; a ratio's value is its
    /// percentage, a self-assessment row's its `comply`, a learning action's its status and
    /// what changed.
    pub fn to_csv(&self) -> String {
        let mut csv = Csv::new(&ANNUAL_HEADER);
        for row in self.rows() {
            csv.row(row);
        }
        csv.finish()
    }

    /// A printable page with the same figures as the CSV, one table per section.
    pub fn to_html(&self) -> String {
        let mut html = String::new();
        let title = format!("Annual complaints performance report {}", self.year);
        let _ = write!(
            html,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>{title}</title>\n<style>body{{font-family:sans-serif;margin:2em}}\
             table{{border-collapse:collapse;margin-bottom:1.5em}}\
             th,td{{border:1px solid #999;padding:.25em .5em;text-align:left}}\
             @media print{{section{{break-inside:avoid}}}}</style>\n</head>\n<body>\n\
             <h1>{title}</h1>\n",
            title = escape(&title)
        );
        let rows = self.rows();
        let mut sections: BTreeMap<usize, (&str, Vec<&Row>)> = BTreeMap::new();
        let mut order: Vec<&str> = Vec::new();
        for row in &rows {
            let position = match order.iter().position(|s| *s == row[0]) {
                Some(position) => position,
                None => {
                    order.push(&row[0]);
                    order.len() - 1
                }
            };
            sections
                .entry(position)
                .or_insert_with(|| (&row[0], Vec::new()))
                .1
                .push(row);
        }
        for (section, rows) in sections.values() {
            let _ = write!(
                html,
                "<section>\n<h2>{}</h2>\n<table>\n<tr><th>Figure</th><th>Value</th>\
                 <th>Count</th><th>Of</th></tr>\n",
                escape(&section.replace('_', " "))
            );
            for row in rows {
                let _ = writeln!(
                    html,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&row[1]),
                    escape(&row[2]),
                    escape(&row[3]),
                    escape(&row[4])
                );
            }
            html.push_str("</table>\n</section>\n");
        }
        html.push_str("</body>\n</html>\n");
        html
    }
}

/// Text made safe to place in HTML content or a quoted attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_neutralises_markup_in_recorded_text() {
        assert_eq!(
            escape("<b>\"Tom\" & 'Jerry'</b>"),
            "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;"
        );
    }
}
