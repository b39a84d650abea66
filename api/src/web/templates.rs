//! The page templates: minijinja, embedded in the binary so it needs no files to run. An
//! organisation may replace any of them with a file of the same name in the folder named
//! by `CASEFILE_WEB_TEMPLATES`; the files are read and checked once, at start-up.

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use minijinja::value::Serde;
use minijinja::{Environment, Value};
use serde::Serialize;

use super::Layout;

/// Every template, by the name pages render it with and overrides replace it by.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "layout.html",
        include_str!("../../templates/web/layout.html"),
    ),
    (
        "macros.html",
        include_str!("../../templates/web/macros.html"),
    ),
    ("error.html", include_str!("../../templates/web/error.html")),
    (
        "sign_in.html",
        include_str!("../../templates/web/sign_in.html"),
    ),
    (
        "set_password.html",
        include_str!("../../templates/web/set_password.html"),
    ),
    ("home.html", include_str!("../../templates/web/home.html")),
    (
        "admin_emails.html",
        include_str!("../../templates/web/admin_emails.html"),
    ),
    ("queue.html", include_str!("../../templates/web/queue.html")),
    (
        "case_new.html",
        include_str!("../../templates/web/case_new.html"),
    ),
    ("case.html", include_str!("../../templates/web/case.html")),
    (
        "admin_users.html",
        include_str!("../../templates/web/admin_users.html"),
    ),
    (
        "admin_user.html",
        include_str!("../../templates/web/admin_user.html"),
    ),
    ("audit.html", include_str!("../../templates/web/audit.html")),
    ("chain.html", include_str!("../../templates/web/chain.html")),
    (
        "letter.html",
        include_str!("../../templates/web/letter.html"),
    ),
    (
        "reports.html",
        include_str!("../../templates/web/reports.html"),
    ),
    (
        "report_kpi.html",
        include_str!("../../templates/web/report_kpi.html"),
    ),
    (
        "report_tsm.html",
        include_str!("../../templates/web/report_tsm.html"),
    ),
    (
        "report_self_assessment.html",
        include_str!("../../templates/web/report_self_assessment.html"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read the web template {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the web templates folder {0} does not exist")]
    MissingFolder(String),
    #[error("web template {name}: {source}")]
    Syntax {
        name: String,
        source: minijinja::Error,
    },
    #[error("rendering {name}: {source}")]
    Render {
        name: String,
        source: minijinja::Error,
    },
}

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The embedded templates, each replaced by the file of its name in `overrides` if
    /// there is one.
    pub fn load(overrides: Option<&Path>) -> Result<Self, TemplateError> {
        if let Some(dir) = overrides {
            if !dir.is_dir() {
                return Err(TemplateError::MissingFolder(dir.display().to_string()));
            }
        }
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        env.add_filter("date", date);
        env.add_filter("datetime", datetime);
        env.add_filter("label", label);
        env.add_filter("pounds", pounds);
        env.add_filter("percent", percent);
        env.add_filter("decimal", decimal);
        for (name, embedded) in EMBEDDED {
            let source = match overrides.map(|dir| dir.join(name)).filter(|p| p.is_file()) {
                Some(path) => {
                    tracing::info!(template = name, path = %path.display(), "web template overridden");
                    std::fs::read_to_string(&path).map_err(|source| TemplateError::Read {
                        path: path.display().to_string(),
                        source,
                    })?
                }
                None => (*embedded).to_string(),
            };
            env.add_template_owned(*name, source)
                .map_err(|source| TemplateError::Syntax {
                    name: name.to_string(),
                    source,
                })?;
        }
        Ok(Self { env })
    }

    /// Renders `name` with the layout's facts as `layout` and the page's as `page`.
    pub fn render<S: Serialize>(
        &self,
        name: &str,
        layout: &Layout,
        page: &S,
    ) -> Result<String, TemplateError> {
        let failed = |source| TemplateError::Render {
            name: name.to_string(),
            source,
        };
        let template = self.env.get_template(name).map_err(failed)?;
        template
            .render(minijinja::context! {
                layout => Value::from(Serde(layout)),
                page => Value::from(Serde(page)),
            })
            .map_err(failed)
    }
}

/// `2025-03-04` → `4 March 2025`.
fn date(value: String) -> String {
    NaiveDate::parse_from_str(&value, "%Y-%m-%d")
        .map(|d| d.format("%-d %B %Y").to_string())
        .unwrap_or(value)
}

/// An RFC 3339 instant → its UK wall-clock time, `4 March 2025, 09:30`.
fn datetime(value: String) -> String {
    DateTime::parse_from_rfc3339(&value)
        .map(|t| {
            t.with_timezone(&Utc)
                .with_timezone(&chrono_tz::Europe::London)
                .format("%-d %B %Y, %H:%M")
                .to_string()
        })
        .unwrap_or(value)
}

/// Integer pence → `£150.00`.
fn pounds(pence: u64) -> String {
    format!("£{}.{:02}", pence / 100, pence % 100)
}

/// A percentage to two places, `66.67%`; none (nothing to divide by) is "No figure".
fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "No figure".to_string(), |v| format!("{v:.2}%"))
}

/// A figure to two places, `3.50`; none is "No figure".
fn decimal(value: Option<f64>) -> String {
    value.map_or_else(|| "No figure".to_string(), |v| format!("{v:.2}"))
}

/// A code (`partly_upheld`, `england-and-wales`, `stage1_response`) in words.
pub fn label(value: String) -> String {
    let known = match value.as_str() {
        "stage1" => Some("Stage 1"),
        "stage2" => Some("Stage 2"),
        "stage1_response" => Some("Stage 1 response"),
        "stage2_response" => Some("Stage 2 response"),
        "stage2_acknowledge" => Some("Stage 2 acknowledgement"),
        "acknowledge" => Some("Acknowledgement"),
        "due_soon" => Some("Due soon"),
        "met_late" => Some("Met late"),
        "pending" => Some("On track"),
        "england-and-wales" => Some("England and Wales"),
        "web_form" => Some("Web form"),
        "in_person" => Some("In person"),
        "anti_social_behaviour" => Some("Anti-social behaviour"),
        _ => None,
    };
    if let Some(known) = known {
        return known.to_string();
    }
    let words = value.replace(['_', '-'], " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => words,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_template_parses() {
        Templates::load(None).unwrap();
    }

    #[test]
    fn a_template_in_the_overrides_folder_replaces_the_embedded_one() {
        let dir = std::env::temp_dir().join(format!("casefile-templates-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("error.html"), "Our own page: {{ page.title }}").unwrap();
        let templates = Templates::load(Some(&dir)).unwrap();
        let layout = Layout {
            user: None,
            csrf: None,
        };
        let html = templates
            .render("error.html", &layout, &serde_json::json!({"title": "Oops"}))
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(html, "Our own page: Oops");
    }

    #[test]
    fn an_override_that_does_not_parse_stops_start_up() {
        let dir = std::env::temp_dir().join(format!("casefile-templates-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("home.html"), "{% if %}").unwrap();
        let result = Templates::load(Some(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            matches!(result, Err(TemplateError::Syntax { ref name, .. }) if name == "home.html"),
            "{:?}",
            result.err()
        );
    }

    #[test]
    fn a_missing_overrides_folder_stops_start_up() {
        let result = Templates::load(Some(Path::new("/nonexistent/casefile-templates")));
        assert!(matches!(result, Err(TemplateError::MissingFolder(_))));
    }

    #[test]
    fn codes_read_as_words() {
        assert_eq!(label("partly_upheld".into()), "Partly upheld");
        assert_eq!(label("england-and-wales".into()), "England and Wales");
        assert_eq!(label("stage2".into()), "Stage 2");
    }

    #[test]
    fn pence_read_as_pounds() {
        assert_eq!(pounds(15000), "£150.00");
        assert_eq!(pounds(5), "£0.05");
    }

    #[test]
    fn figures_read_to_two_places_and_a_missing_one_says_so() {
        assert_eq!(percent(Some(66.67)), "66.67%");
        assert_eq!(percent(Some(50.0)), "50.00%");
        assert_eq!(percent(None), "No figure");
        assert_eq!(decimal(Some(3.5)), "3.50");
    }

    #[test]
    fn dates_read_the_uk_way() {
        assert_eq!(date("2025-03-04".into()), "4 March 2025");
        // 09:30 UTC in summer is 10:30 in London.
        assert_eq!(
            datetime("2025-07-01T09:30:00Z".into()),
            "1 July 2025, 10:30"
        );
    }
}
