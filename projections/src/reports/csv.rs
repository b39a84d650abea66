//! The CSV form of each report: UTF-8, a header row, one row per figure, `\n` line ends,
//! fields quoted only when they hold a comma, a quote or a line break (RFC 4180). A ratio's
//! count and base have their own columns; an absent value is an empty field.

use std::fmt::Display;

use super::kpi::{KpiReport, OutcomeCounts, ResponseTimes, TopCounts};
use super::self_assessment::SelfAssessment;
use super::tsm::TsmReport;
use super::Ratio;

/// Columns of the TSM CSV, a contract clients rely on.
pub const TSM_HEADER: [&str; 6] = [
    "code",
    "stage",
    "tenure",
    "value",
    "numerator",
    "denominator",
];
/// Columns of the KPI CSV: the figure, what it is broken down by, its value, and for a ratio
/// the count and base behind the percentage in `value`.
pub const KPI_HEADER: [&str; 5] = ["figure", "breakdown", "value", "count", "of"];
/// Columns of the self-assessment CSV; `falling_short` lists references separated by spaces.
pub const SELF_ASSESSMENT_HEADER: [&str; 7] = [
    "provision",
    "requirement",
    "comply",
    "percent",
    "count",
    "of",
    "falling_short",
];

/// Builds one CSV document.
pub(super) struct Csv {
    out: String,
}

impl Csv {
    pub(super) fn new(header: &[&str]) -> Self {
        let mut csv = Self { out: String::new() };
        csv.row(header.iter().map(|h| h.to_string()));
        csv
    }

    pub(super) fn row(&mut self, fields: impl IntoIterator<Item = String>) {
        let mut first = true;
        for field in fields {
            if !first {
                self.out.push(',');
            }
            first = false;
            if field.contains([',', '"', '\n', '\r']) {
                self.out.push('"');
                self.out.push_str(&field.replace('"', "\"\""));
                self.out.push('"');
            } else {
                self.out.push_str(&field);
            }
        }
        self.out.push('\n');
    }

    pub(super) fn finish(self) -> String {
        self.out
    }
}

pub(super) fn opt<T: Display>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

impl TsmReport {
    /// `code,stage,tenure,value,numerator,denominator`, one row per measure.
    pub fn to_csv(&self) -> String {
        let mut csv = Csv::new(&TSM_HEADER);
        for m in &self.measures {
            csv.row([
                m.code.as_str().to_string(),
                m.stage.to_string(),
                m.tenure.to_string(),
                opt(m.value),
                m.numerator.to_string(),
                m.denominator.to_string(),
            ]);
        }
        csv.finish()
    }
}

/// KPI rows in report order.
struct KpiRows(Vec<[String; 5]>);

impl KpiRows {
    fn plain(&mut self, figure: &str, breakdown: &str, value: impl Display) {
        self.0.push([
            figure.to_string(),
            breakdown.to_string(),
            value.to_string(),
            String::new(),
            String::new(),
        ]);
    }

    fn ratio(&mut self, figure: &str, breakdown: &str, ratio: &Ratio) {
        self.0.push([
            figure.to_string(),
            breakdown.to_string(),
            opt(ratio.percent),
            ratio.count.to_string(),
            ratio.of.to_string(),
        ]);
    }

    fn outcomes(&mut self, stage: &str, o: &OutcomeCounts) {
        let figure = format!("outcomes_{stage}");
        self.plain(&figure, "upheld", o.upheld);
        self.plain(&figure, "partly_upheld", o.partly_upheld);
        self.plain(&figure, "not_upheld", o.not_upheld);
    }

    fn top(&mut self, figure: &str, top: &TopCounts) {
        for n in &top.top {
            self.plain(figure, &n.name, n.count);
        }
        self.plain(&format!("{figure}_unrecorded"), "", top.unrecorded);
    }

    fn times(&mut self, stage: &str, t: &ResponseTimes) {
        let figure = format!("working_days_to_respond_{stage}");
        self.plain(&figure, "responses", t.responses);
        self.plain(&figure, "average", opt(t.average));
        self.plain(&figure, "p90", opt(t.p90));
    }
}

impl KpiReport {
    /// `figure,breakdown,value,count,of`, one row per figure, in the JSON's order.
    pub fn to_csv(&self) -> String {
        let mut rows = KpiRows(Vec::new());
        let r = &self.received;
        rows.plain("received", "stage1", r.stage1);
        rows.plain("received", "stage2", r.stage2);
        for c in &r.by_channel {
            rows.plain("received_by_channel", c.channel.as_str(), c.count);
        }
        for p in &r.by_procedure {
            rows.plain("received_by_procedure", &p.procedure, p.count);
        }
        rows.ratio("acknowledged_on_time", "", &self.acknowledged_on_time);
        rows.ratio(
            "responded_on_time",
            "stage1",
            &self.responded_on_time.stage1,
        );
        rows.ratio(
            "responded_on_time",
            "stage2",
            &self.responded_on_time.stage2,
        );
        let e = &self.extensions;
        rows.plain("extensions", "count", e.count);
        rows.plain("extensions", "working_days", e.working_days);
        rows.plain("extensions", "stage1", e.stage1);
        rows.plain("extensions", "stage2", e.stage2);
        for reason in &e.reasons {
            rows.plain("extension_reasons", &reason.reason, reason.count);
        }
        rows.ratio("escalation_rate", "", &self.escalation_rate);
        rows.outcomes("stage1", &self.outcomes.stage1);
        rows.outcomes("stage2", &self.outcomes.stage2);
        let pence = &self.remedies.compensation_pence;
        rows.plain("remedy_actions", "", self.remedies.actions);
        rows.plain("compensation_pence", "stage1", pence.stage1);
        rows.plain("compensation_pence", "stage2", pence.stage2);
        rows.plain("compensation_pence", "closure", pence.closure);
        rows.plain("compensation_pence", "total", pence.total);
        rows.top("themes", &self.themes);
        rows.top("root_causes", &self.root_causes);
        rows.times("stage1", &self.working_days_to_respond.stage1);
        rows.times("stage2", &self.working_days_to_respond.stage2);

        let mut csv = Csv::new(&KPI_HEADER);
        for row in rows.0 {
            csv.row(row);
        }
        csv.finish()
    }
}

impl SelfAssessment {
    /// One row per provision.
    pub fn to_csv(&self) -> String {
        let mut csv = Csv::new(&SELF_ASSESSMENT_HEADER);
        for row in &self.rows {
            csv.row([
                row.provision.clone(),
                row.requirement.clone(),
                if row.comply { "yes" } else { "no" }.to_string(),
                opt(row.measured.percent),
                row.measured.count.to_string(),
                row.measured.of.to_string(),
                row.falling_short.join(" "),
            ]);
        }
        csv.finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_quotes_or_line_breaks_are_quoted() {
        let mut csv = Csv::new(&["a", "b"]);
        csv.row(["plain".to_string(), "has, comma".to_string()]);
        csv.row(["say \"hi\"".to_string(), "two\nlines".to_string()]);
        assert_eq!(
            csv.finish(),
            "a,b\nplain,\"has, comma\"\n\"say \"\"hi\"\"\",\"two\nlines\"\n"
        );
    }
}
