//! The reports pages: KPI over a period, the Tenant Satisfaction Measures and the
//! self-assessment for a reporting year, each as tables, bar charts drawn as inline SVG
//! (with a text alternative; the numbers are in the tables) and a CSV download. They are
//! built by the same functions as `/api/v1/reports/*`, so a page, its CSV and the API's
//! answer agree, and they are open to the roles the API allows.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use casefile_domain::uk_date;
use casefile_projections::reports::{
    KpiReport, Period, Ratio, ReportingYear, SelfAssessment, TsmReport,
};
use chrono::{Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::routes::reports::{kpi_report, self_assessment_report, tsm_report, REPORTERS};
use crate::startup::AppState;

use super::forms::{FieldErrors, Problem};
use super::session::Staff;
use super::templates::label;
use super::PageError;

/// How many reporting years the year list offers, the current one first.
const YEARS_OFFERED: i32 = 6;

/// One bar of a chart, placed on the chart's grid.
#[derive(Debug, Serialize)]
pub struct Bar {
    label: String,
    /// The figure as the table shows it.
    value: String,
    /// Top of the bar's row.
    y: u32,
    /// The bar's length in chart units, 0 to [`Chart::BAR_SPACE`].
    width: u32,
}

/// A horizontal bar chart, drawn by the `bar_chart` macro as an SVG image whose title
/// reads out every figure.
#[derive(Debug, Serialize)]
pub struct Chart {
    id: String,
    title: String,
    /// Every bar as `label: value`, the chart's text alternative.
    summary: String,
    height: u32,
    bars: Vec<Bar>,
}

impl Chart {
    const ROW: u32 = 30;
    const BAR_SPACE: f64 = 210.0;

    /// Bars scaled to `scale` (100 for percentages, the largest value for counts); a bar
    /// with no value has none, and says so.
    fn new(id: &str, title: &str, rows: Vec<(String, Option<f64>, String)>, scale: f64) -> Self {
        let summary = rows
            .iter()
            .map(|(label, _, value)| format!("{label}: {value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let bars = rows
            .into_iter()
            .zip(0u32..)
            .map(|((label, value, text), i)| Bar {
                label,
                value: text,
                y: i * Self::ROW,
                width: match value {
                    Some(v) if scale > 0.0 => {
                        // Rounded to whole chart units; the exact figure is in the table.
                        (v.clamp(0.0, scale) / scale * Self::BAR_SPACE).round() as u32
                    }
                    _ => 0,
                },
            })
            .collect::<Vec<Bar>>();
        Self {
            id: id.to_string(),
            title: title.to_string(),
            summary,
            height: u32::try_from(bars.len()).unwrap_or(0) * Self::ROW,
            bars,
        }
    }

    fn percentages(id: &str, title: &str, rows: Vec<(String, Option<f64>)>) -> Self {
        let rows = rows
            .into_iter()
            .map(|(label, value)| {
                let text = percent_text(value);
                (label, value, text)
            })
            .collect();
        Self::new(id, title, rows, 100.0)
    }

    fn counts(id: &str, title: &str, rows: Vec<(String, u64)>) -> Self {
        let largest = rows.iter().map(|(_, c)| *c).max().unwrap_or(0);
        let rows = rows
            .into_iter()
            .map(|(label, count)| (label, Some(count as f64), count.to_string()))
            .collect();
        Self::new(id, title, rows, largest as f64)
    }
}

fn percent_text(value: Option<f64>) -> String {
    match value {
        Some(v) => format!("{v:.2}%"),
        None => "No figure".to_string(),
    }
}

/// A CSV file to download, named after the report and its period.
fn csv_download(filename: &str, body: String) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

fn wants_csv(format: &str) -> bool {
    format.trim().eq_ignore_ascii_case("csv")
}

/// A year of the year list.
#[derive(Debug, Serialize)]
struct YearOption {
    id: String,
    name: String,
}

/// The current reporting year and the ones before it, with the one shown selected (added
/// to the list if it is older).
fn year_options(today: NaiveDate, shown: Option<ReportingYear>) -> Vec<YearOption> {
    let current = ReportingYear::containing(today);
    let first = current.first_day().year();
    let mut years: Vec<ReportingYear> = (0..YEARS_OFFERED)
        .filter_map(|back| ReportingYear::starting(first - back))
        .collect();
    if let Some(shown) = shown {
        if !years.contains(&shown) {
            years.push(shown);
        }
    }
    years
        .into_iter()
        .map(|y| YearOption {
            id: y.to_string(),
            name: format!(
                "{y} (1 April {} to 31 March {})",
                y.first_day().format("%Y"),
                y.last_day().format("%Y")
            ),
        })
        .collect()
}

/// Who may read reports: compliance, managers and administrators, as in the API.
fn require_reporter(staff: &Staff) -> Result<(), PageError> {
    staff.principal.require(REPORTERS)?;
    Ok(())
}

#[derive(Debug, Serialize)]
struct IndexPage {
    year: String,
    from: String,
    to: String,
}

/// `/reports`: the three reports, each a link with sensible defaults.
pub async fn index(staff: Staff, State(state): State<AppState>) -> Result<Response, PageError> {
    require_reporter(&staff)?;
    let today = uk_date(Utc::now());
    let year = ReportingYear::containing(today);
    state.web.page(
        "reports.html",
        Some(&staff),
        IndexPage {
            year: year.to_string(),
            from: year.first_day().to_string(),
            to: today.to_string(),
        },
    )
}

/// The query of the KPI page; every field is text, as a form sends it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct KpiQuery {
    from: String,
    to: String,
    format: String,
}

#[derive(Debug, Serialize)]
struct KpiPage {
    from: String,
    to: String,
    errors: FieldErrors,
    problems: Vec<Problem>,
    report: Option<KpiReport>,
    csv_href: String,
    charts: Vec<Chart>,
}

fn ratio_row(label: &str, ratio: &Ratio) -> (String, Option<f64>) {
    (label.to_string(), ratio.percent)
}

fn kpi_charts(report: &KpiReport) -> Vec<Chart> {
    let timeliness = Chart::percentages(
        "timeliness-chart",
        "Done within the Code's timescales, per cent",
        vec![
            ratio_row("Acknowledged", &report.acknowledged_on_time),
            ratio_row("Stage 1 responses", &report.responded_on_time.stage1),
            ratio_row("Stage 2 responses", &report.responded_on_time.stage2),
            ratio_row("Escalated after Stage 1", &report.escalation_rate),
        ],
    );
    let channels = Chart::counts(
        "channel-chart",
        "Complaints received by channel",
        report
            .received
            .by_channel
            .iter()
            .map(|c| (label(c.channel.as_str().to_string()), c.count))
            .collect(),
    );
    let o = &report.outcomes;
    let outcomes = Chart::counts(
        "outcome-chart",
        "Outcomes of the responses sent",
        vec![
            ("Stage 1 upheld".to_string(), o.stage1.upheld),
            ("Stage 1 partly upheld".to_string(), o.stage1.partly_upheld),
            ("Stage 1 not upheld".to_string(), o.stage1.not_upheld),
            ("Stage 2 upheld".to_string(), o.stage2.upheld),
            ("Stage 2 partly upheld".to_string(), o.stage2.partly_upheld),
            ("Stage 2 not upheld".to_string(), o.stage2.not_upheld),
        ],
    );
    vec![timeliness, channels, outcomes]
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        query.append_pair(name, value);
    }
    query.finish()
}

/// A date field of a report form: blank takes `default`.
fn report_date(
    errors: &mut FieldErrors,
    field: &str,
    raw: &str,
    default: NaiveDate,
) -> Option<NaiveDate> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Some(default);
    }
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(day) => Some(day),
        Err(_) => {
            errors.add(field, "Enter a real date, for example 2025-04-01");
            None
        }
    }
}

/// `/reports/kpi?from=&to=`: the KPI report; `&format=csv` downloads its CSV.
pub async fn kpi(
    staff: Staff,
    State(state): State<AppState>,
    query: Result<Query<KpiQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    require_reporter(&staff)?;
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let today = uk_date(Utc::now());
    let mut errors = FieldErrors::default();
    let year_start = ReportingYear::containing(today).first_day();
    let from = report_date(&mut errors, "from", &query.from, year_start);
    let to = report_date(&mut errors, "to", &query.to, today);
    let period = match (from, to) {
        (Some(from), Some(to)) => match Period::new(from, to) {
            Ok(period) => Some(period),
            Err(_) => {
                errors.add(
                    "to",
                    "The last day must be the same as or after the first day",
                );
                None
            }
        },
        _ => None,
    };
    let report = match period {
        Some(period) => Some(kpi_report(&state, period).await?),
        None => None,
    };
    let shown_from = from.map_or(query.from.trim().to_string(), |d| d.to_string());
    let shown_to = to.map_or(query.to.trim().to_string(), |d| d.to_string());
    if let (Some(report), true) = (&report, wants_csv(&query.format)) {
        return Ok(csv_download(
            &format!("kpi-{}-to-{}.csv", report.from, report.to),
            report.to_csv(),
        ));
    }
    let problems = errors.problems(|field| format!("kpi-{field}"));
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let charts = report.as_ref().map(kpi_charts).unwrap_or_default();
    let csv_href = format!(
        "/reports/kpi?{}",
        query_string(&[("from", &shown_from), ("to", &shown_to), ("format", "csv")])
    );
    state.web.page_with_status(
        status,
        "report_kpi.html",
        Some(&staff),
        KpiPage {
            from: shown_from,
            to: shown_to,
            errors,
            problems,
            report,
            csv_href,
            charts,
        },
    )
}

/// The query of the yearly reports.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct YearQuery {
    year: String,
    format: String,
}

/// The year asked for (the current one when none is), or an error on the field.
fn chosen_year(errors: &mut FieldErrors, raw: &str, today: NaiveDate) -> Option<ReportingYear> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Some(ReportingYear::containing(today));
    }
    match raw.parse::<ReportingYear>() {
        Ok(year) => Some(year),
        Err(_) => {
            errors.add(
                "year",
                "Select a reporting year from the list, such as 2025-26",
            );
            None
        }
    }
}

#[derive(Debug, Serialize)]
struct TsmRow {
    code: &'static str,
    measure: &'static str,
    stage: u8,
    tenure: String,
    value: String,
    numerator: u64,
    denominator: u64,
}

#[derive(Debug, Serialize)]
struct TsmPage {
    year: String,
    years: Vec<YearOption>,
    errors: FieldErrors,
    problems: Vec<Problem>,
    report: Option<TsmReport>,
    rows: Vec<TsmRow>,
    csv_href: String,
    charts: Vec<Chart>,
}

fn tenure_words(tenure: &str) -> String {
    match tenure {
        "lcra" => "Low-cost rental".to_string(),
        "lcho" => "Low-cost home ownership".to_string(),
        other => label(other.to_string()),
    }
}

fn tsm_view(report: &TsmReport) -> (Vec<TsmRow>, Vec<Chart>) {
    let mut ch01 = Vec::new();
    let mut ch02 = Vec::new();
    let rows = report
        .measures
        .iter()
        .map(|m| {
            let code = m.code.as_str();
            let tenure = tenure_words(&m.tenure.to_string());
            let bar = format!(
                "Stage {} {}",
                m.stage,
                tenure.to_lowercase().replace("home ownership", "ownership")
            );
            let (measure, value) = if code == "CH01" {
                ch01.push((bar, m.value));
                (
                    "Complaints received per 1,000 homes",
                    m.value
                        .map_or("No figure".to_string(), |v| format!("{v:.2}")),
                )
            } else {
                ch02.push((bar, m.value));
                (
                    "Complaints responded to within the Code's timescales",
                    percent_text(m.value),
                )
            };
            TsmRow {
                code,
                measure,
                stage: m.stage,
                tenure,
                value,
                numerator: m.numerator,
                denominator: m.denominator,
            }
        })
        .collect();
    let largest = ch01.iter().filter_map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let ch01_chart = Chart::new(
        "ch01-chart",
        "CH01: complaints received per 1,000 homes",
        ch01.into_iter()
            .map(|(label, value)| {
                let text = value.map_or("No figure".to_string(), |v| format!("{v:.2}"));
                (label, value, text)
            })
            .collect(),
        largest,
    );
    let ch02_chart = Chart::percentages(
        "ch02-chart",
        "CH02: responded to within the Code's timescales, per cent",
        ch02,
    );
    (rows, vec![ch01_chart, ch02_chart])
}

/// `/reports/tsm?year=`: CH01 and CH02; `&format=csv` downloads its CSV.
pub async fn tsm(
    staff: Staff,
    State(state): State<AppState>,
    query: Result<Query<YearQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    require_reporter(&staff)?;
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let today = uk_date(Utc::now());
    let mut errors = FieldErrors::default();
    let year = chosen_year(&mut errors, &query.year, today);
    let report = match year {
        Some(year) => Some(tsm_report(&state, year, false).await?),
        None => None,
    };
    if let (Some(report), true) = (&report, wants_csv(&query.format)) {
        return Ok(csv_download(
            &format!("tsm-{}.csv", report.year),
            report.to_csv(),
        ));
    }
    let (rows, charts) = report.as_ref().map(tsm_view).unwrap_or_default();
    let shown = year.map_or(query.year.trim().to_string(), |y| y.to_string());
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    state.web.page_with_status(
        status,
        "report_tsm.html",
        Some(&staff),
        TsmPage {
            years: year_options(today, year),
            csv_href: format!(
                "/reports/tsm?{}",
                query_string(&[("year", &shown), ("format", "csv")])
            ),
            year: shown,
            problems: errors.problems(|field| format!("tsm-{field}")),
            errors,
            report,
            rows,
            charts,
        },
    )
}

#[derive(Debug, Serialize)]
struct SelfAssessmentPage {
    year: String,
    years: Vec<YearOption>,
    errors: FieldErrors,
    problems: Vec<Problem>,
    report: Option<SelfAssessment>,
    csv_href: String,
    charts: Vec<Chart>,
    /// Provisions every case measured meets.
    complying: usize,
}

/// `/reports/self-assessment?year=`: the Code provisions case data can evidence;
/// `&format=csv` downloads its CSV.
pub async fn self_assessment(
    staff: Staff,
    State(state): State<AppState>,
    query: Result<Query<YearQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    require_reporter(&staff)?;
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let today = uk_date(Utc::now());
    let mut errors = FieldErrors::default();
    let year = chosen_year(&mut errors, &query.year, today);
    let report = match year {
        Some(year) => Some(self_assessment_report(&state, year).await?),
        None => None,
    };
    if let (Some(report), true) = (&report, wants_csv(&query.format)) {
        return Ok(csv_download(
            &format!("self-assessment-{}.csv", report.year),
            report.to_csv(),
        ));
    }
    let charts = report
        .as_ref()
        .map(|r| {
            vec![Chart::percentages(
                "provision-chart",
                "Cases meeting each provision, per cent",
                r.rows
                    .iter()
                    .map(|row| (format!("Provision {}", row.provision), row.measured.percent))
                    .collect(),
            )]
        })
        .unwrap_or_default();
    let complying = report
        .as_ref()
        .map_or(0, |r| r.rows.iter().filter(|row| row.comply).count());
    let shown = year.map_or(query.year.trim().to_string(), |y| y.to_string());
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    state.web.page_with_status(
        status,
        "report_self_assessment.html",
        Some(&staff),
        SelfAssessmentPage {
            years: year_options(today, year),
            csv_href: format!(
                "/reports/self-assessment?{}",
                query_string(&[("year", &shown), ("format", "csv")])
            ),
            year: shown,
            problems: errors.problems(|field| format!("self-assessment-{field}")),
            errors,
            report,
            charts,
            complying,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentage_bars_are_scaled_to_a_hundred_and_a_missing_one_has_no_length() {
        let chart = Chart::percentages(
            "c",
            "t",
            vec![
                ("Half".to_string(), Some(50.0)),
                ("None".to_string(), None),
                ("All".to_string(), Some(100.0)),
            ],
        );
        let widths: Vec<u32> = chart.bars.iter().map(|b| b.width).collect();
        assert_eq!(widths, vec![105, 0, 210]);
        assert_eq!(chart.summary, "Half: 50.00%; None: No figure; All: 100.00%");
        assert_eq!(chart.height, 90);
        assert_eq!(chart.bars[2].y, 60);
    }

    #[test]
    fn count_bars_are_scaled_to_the_largest_and_all_zero_draws_nothing() {
        let chart = Chart::counts("c", "t", vec![("a".into(), 3), ("b".into(), 12)]);
        let widths: Vec<u32> = chart.bars.iter().map(|b| b.width).collect();
        // 3 / 12 × 210 = 52.5, rounded half away from zero.
        assert_eq!(widths, vec![53, 210]);
        let empty = Chart::counts("c", "t", vec![("a".into(), 0)]);
        assert_eq!(empty.bars[0].width, 0);
    }

    #[test]
    fn the_year_list_starts_with_the_current_year_and_keeps_an_older_one_asked_for() {
        let today = NaiveDate::from_ymd_opt(2026, 2, 10).unwrap_or_default();
        let older: ReportingYear = "2012-13"
            .parse()
            .ok()
            .unwrap_or(ReportingYear::containing(today));
        let years = year_options(today, Some(older));
        let ids: Vec<&str> = years.iter().map(|y| y.id.as_str()).collect();
        assert_eq!(
            ids,
            vec!["2025-26", "2024-25", "2023-24", "2022-23", "2021-22", "2020-21", "2012-13"]
        );
        assert_eq!(years[0].name, "2025-26 (1 April 2025 to 31 March 2026)");
    }

    #[test]
    fn a_date_left_blank_takes_the_default_and_a_bad_one_is_tied_to_its_field() {
        let mut errors = FieldErrors::default();
        let default = NaiveDate::from_ymd_opt(2025, 4, 1).unwrap_or_default();
        assert_eq!(
            report_date(&mut errors, "from", " ", default),
            Some(default)
        );
        assert_eq!(report_date(&mut errors, "to", "31/03/2026", default), None);
        assert_eq!(
            errors.problems(|f| format!("kpi-{f}")),
            vec![Problem {
                href: "#kpi-to".to_string(),
                text: "Enter a real date, for example 2025-04-01".to_string()
            }]
        );
    }
}
