//! Letters to the resident, rendered from the case as it stands through minijinja templates.
//!
//! Each [`LetterKind`] has an HTML and a plain-text template, `letters/<kind>.html` and
//! `letters/<kind>.txt`. The defaults are built in; an organisation's folder overrides any
//! of them by file name and may add partials (files whose names start with `_`) that its
//! templates include. The text template sets the letter's `subject` with
//! `{% set subject = "…" %}`; the HTML template sees it as `subject`.
//!
//! Every template is rendered against sample cases when the set is loaded, so a template
//! that does not parse, or fails on a case that has every kind of content, stops start-up
//! with the file and line rather than failing the first resident who needs that letter.

mod data;
mod sample;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use casefile_domain::procedure::Procedure;
use casefile_domain::values::Stage;
use casefile_projections::CaseView;
use chrono::NaiveDate;
use minijinja::value::Serde;
use minijinja::{context, Environment, UndefinedBehavior, Value};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::contact::{Organisation, SchemeContact};
use crate::{engine, format};

pub use casefile_domain::values::LetterKind;

fn html_template(kind: LetterKind) -> String {
    format!("{PREFIX}{}.html", kind.as_str())
}

fn text_template(kind: LetterKind) -> String {
    format!("{PREFIX}{}.txt", kind.as_str())
}

/// A letter ready to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RenderedLetter {
    pub kind: LetterKind,
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// What a letter needs besides the case: who writes it, where the resident may go next,
/// and the date it bears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterContext {
    pub organisation: Organisation,
    /// The redress scheme the resident is told about.
    pub scheme: SchemeContact,
    /// The scheme's time limit after the final response, if the procedure states one.
    pub redress_within_months: Option<u32>,
    /// In-house stages of the case's procedure (1 or 2): a Stage 1 response either tells
    /// the resident how to escalate or is the final response.
    pub stages: u8,
    /// The date the letter bears.
    pub date: NaiveDate,
}

impl LetterContext {
    /// The context of a case logged under `procedure`: its first redress scheme, with the
    /// built-in contact details.
    pub fn for_procedure(
        organisation: Organisation,
        procedure: &Procedure,
        date: NaiveDate,
    ) -> Self {
        // A validated procedure names at least one scheme; the fallback is the Code's own.
        let scheme = procedure
            .redress
            .schemes
            .first()
            .copied()
            .unwrap_or(casefile_domain::Scheme::HousingOmbudsman);
        Self {
            organisation,
            scheme: SchemeContact::builtin(scheme),
            redress_within_months: procedure.redress.within_months,
            stages: procedure.stages,
            date,
        }
    }

    fn final_stage(&self) -> Stage {
        if self.stages >= 2 {
            Stage::Stage2
        } else {
            Stage::Stage1
        }
    }
}

/// A letter that cannot be written: a template that fails, or a case not yet in the state
/// the letter reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LetterError {
    #[error("{file}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Template {
        /// The built-in name (`letters/stage1_response.html`) or the overriding file's path.
        file: String,
        line: Option<usize>,
        message: String,
    },
    #[error("{file}: {message}")]
    Unreadable { file: String, message: String },
    #[error("{file}: not a letter template (expected one of {expected}, or a partial named `_…`)")]
    UnknownTemplate { file: String, expected: String },
    #[error("{file}: sets no `subject` (add `{{% set subject = \"…\" %}}`)")]
    NoSubject { file: String },
    #[error("{0} has not been acknowledged")]
    NotAcknowledged(Stage),
    #[error("no deadline of the case has been extended")]
    NoExtension,
    #[error("{0} has no response deadline to state as the new date")]
    NoResponseDeadline(Stage),
    #[error("{0} has not been responded to")]
    NotResponded(Stage),
    #[error("the case has not been deadlocked")]
    NotDeadlocked,
    #[error("the complaint has not been refused")]
    NotRefused,
}

impl LetterError {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Template { .. } => "template_failed",
            Self::Unreadable { .. } => "template_unreadable",
            Self::UnknownTemplate { .. } => "unknown_template",
            Self::NoSubject { .. } => "template_without_subject",
            Self::NotAcknowledged(_) => "not_acknowledged",
            Self::NoExtension => "no_extension",
            Self::NoResponseDeadline(_) => "no_response_deadline",
            Self::NotResponded(_) => "not_responded",
            Self::NotDeadlocked => "not_deadlocked",
            Self::NotRefused => "not_refused",
        }
    }

    /// The case's state does not allow the letter yet (as opposed to a broken template).
    pub fn is_state(&self) -> bool {
        matches!(
            self,
            Self::NotAcknowledged(_)
                | Self::NoExtension
                | Self::NoResponseDeadline(_)
                | Self::NotResponded(_)
                | Self::NotDeadlocked
                | Self::NotRefused
        )
    }
}

/// Templates are named as in the built-in folder whatever file they came from.
const PREFIX: &str = "letters/";

/// The built-in templates, by file name.
const BUILTIN: &[(&str, &str)] = &[
    (
        "_header.txt",
        include_str!("../templates/letters/_header.txt"),
    ),
    (
        "_layout.html",
        include_str!("../templates/letters/_layout.html"),
    ),
    (
        "_ombudsman.html",
        include_str!("../templates/letters/_ombudsman.html"),
    ),
    (
        "_ombudsman.txt",
        include_str!("../templates/letters/_ombudsman.txt"),
    ),
    (
        "_response.html",
        include_str!("../templates/letters/_response.html"),
    ),
    (
        "_response.txt",
        include_str!("../templates/letters/_response.txt"),
    ),
    (
        "_signature.txt",
        include_str!("../templates/letters/_signature.txt"),
    ),
    (
        "acknowledgement.html",
        include_str!("../templates/letters/acknowledgement.html"),
    ),
    (
        "acknowledgement.txt",
        include_str!("../templates/letters/acknowledgement.txt"),
    ),
    (
        "deadlock.html",
        include_str!("../templates/letters/deadlock.html"),
    ),
    (
        "deadlock.txt",
        include_str!("../templates/letters/deadlock.txt"),
    ),
    (
        "extension.html",
        include_str!("../templates/letters/extension.html"),
    ),
    (
        "extension.txt",
        include_str!("../templates/letters/extension.txt"),
    ),
    (
        "refusal.html",
        include_str!("../templates/letters/refusal.html"),
    ),
    (
        "refusal.txt",
        include_str!("../templates/letters/refusal.txt"),
    ),
    (
        "stage1_response.html",
        include_str!("../templates/letters/stage1_response.html"),
    ),
    (
        "stage1_response.txt",
        include_str!("../templates/letters/stage1_response.txt"),
    ),
    (
        "stage2_response.html",
        include_str!("../templates/letters/stage2_response.html"),
    ),
    (
        "stage2_response.txt",
        include_str!("../templates/letters/stage2_response.txt"),
    ),
];

/// The loaded letter templates. Cheap to share: render takes `&self`.
#[derive(Debug)]
pub struct Letters {
    env: Environment<'static>,
    /// Where each template came from, by its name, for error messages.
    origins: BTreeMap<String, String>,
}

impl Letters {
    /// The built-in templates, overridden by the files of `folder` if given (the
    /// organisation's `CASEFILE_TEMPLATES` folder, holding files named as the built-in ones).
    pub fn load(folder: Option<&Path>) -> Result<Self, LetterError> {
        // name → (origin, source)
        let mut sources: BTreeMap<String, (String, String)> = BUILTIN
            .iter()
            .map(|(file, text)| {
                let name = format!("{PREFIX}{file}");
                (name.clone(), (name, (*text).to_string()))
            })
            .collect();
        if let Some(folder) = folder {
            for (file, path) in folder_files(folder)? {
                let known = BUILTIN.iter().any(|(builtin, _)| *builtin == file);
                if !known && !file.starts_with('_') {
                    return Err(LetterError::UnknownTemplate {
                        file: path.display().to_string(),
                        expected: BUILTIN
                            .iter()
                            .map(|(f, _)| *f)
                            .filter(|f| !f.starts_with('_'))
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
                let text =
                    std::fs::read_to_string(&path).map_err(|err| LetterError::Unreadable {
                        file: path.display().to_string(),
                        message: err.to_string(),
                    })?;
                sources.insert(
                    format!("{PREFIX}{file}"),
                    (path.display().to_string(), text),
                );
            }
        }

        // Printing a value the case does not have is an error, testing for it is not: a
        // template says `{% if resident.email %}` and never prints a blank.
        let mut env = engine::environment(UndefinedBehavior::SemiStrict).map_err(|err| {
            LetterError::Template {
                file: PREFIX.into(),
                line: None,
                message: err.to_string(),
            }
        })?;
        env.add_filter("long_date", filter_long_date);
        env.add_filter("pounds", filter_pounds);
        let mut origins = BTreeMap::new();
        for (name, (origin, text)) in sources {
            env.add_template_owned(name.clone(), text)
                .map_err(|err| template_error(&err, &origin, &origins))?;
            origins.insert(name, origin);
        }
        let letters = Self { env, origins };
        for (view, context) in sample::cases() {
            for kind in LetterKind::ALL {
                letters.render(kind, &view, &context)?;
            }
        }
        Ok(letters)
    }

    /// Renders `kind` for the case as it stands. A kind the case's state does not allow
    /// yet (a Stage 2 response before it was given, say) is an error naming the rule.
    pub fn render(
        &self,
        kind: LetterKind,
        case: &CaseView,
        context: &LetterContext,
    ) -> Result<RenderedLetter, LetterError> {
        let data = Value::from(Serde(data::LetterData::build(kind, case, context)?));

        let text_name = text_template(kind);
        let template = self
            .env
            .get_template(&text_name)
            .map_err(|err| self.error(&err, &text_name))?;
        let captured = template
            .render_captured(data.clone())
            .map_err(|err| self.error(&err, &text_name))?;
        let subject = captured
            .state()
            .lookup("subject")
            .and_then(|v| v.as_str().map(|s| s.trim().to_string()))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| LetterError::NoSubject {
                file: self.origin(&text_name),
            })?;
        let text = captured.into_output();

        let html_name = html_template(kind);
        let html = self
            .env
            .get_template(&html_name)
            .and_then(|t| t.render(context! { subject => subject.clone(), ..data }))
            .map_err(|err| self.error(&err, &html_name))?;

        Ok(RenderedLetter {
            kind,
            subject,
            html,
            text,
        })
    }

    fn origin(&self, name: &str) -> String {
        self.origins
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    fn error(&self, err: &minijinja::Error, rendering: &str) -> LetterError {
        template_error(err, &self.origin(rendering), &self.origins)
    }
}

/// Names the file the error is in and its line: the innermost error of the chain, so a
/// failure inside an included partial names the partial rather than the letter.
fn template_error(
    err: &minijinja::Error,
    fallback: &str,
    origins: &BTreeMap<String, String>,
) -> LetterError {
    let mut innermost = err;
    let mut source = std::error::Error::source(err);
    while let Some(next) = source {
        if let Some(inner) = next.downcast_ref::<minijinja::Error>() {
            innermost = inner;
        }
        source = next.source();
    }
    let file = innermost
        .name()
        .and_then(|name| origins.get(name).cloned())
        .unwrap_or_else(|| fallback.to_string());
    let message = match innermost.detail() {
        Some(detail) => format!("{}: {detail}", innermost.kind()),
        None => innermost.kind().to_string(),
    };
    LetterError::Template {
        file,
        line: innermost.line(),
        message,
    }
}

/// The regular files of the folder, sorted by name; dot-files (editor and OS litter) are
/// skipped.
fn folder_files(folder: &Path) -> Result<Vec<(String, PathBuf)>, LetterError> {
    let unreadable = |err: std::io::Error| LetterError::Unreadable {
        file: folder.display().to_string(),
        message: err.to_string(),
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let Some(file) = entry.file_name().to_str().map(str::to_string) else {
            return Err(LetterError::Unreadable {
                file: path.display().to_string(),
                message: "the file name is not UTF-8".into(),
            });
        };
        if file.starts_with('.') {
            continue;
        }
        files.push((file, path));
    }
    files.sort();
    Ok(files)
}

/// `{{ "2025-03-03" | long_date }}` → `3 March 2025`, for organisations' own templates
/// that print dates straight from `view`.
fn filter_long_date(value: String) -> Result<String, minijinja::Error> {
    let date = NaiveDate::parse_from_str(&value, "%Y-%m-%d").map_err(|err| {
        minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("`{value}` is not a date: {err}"),
        )
    })?;
    Ok(format::long_date(date))
}

/// `{{ 15000 | pounds }}` → `£150.00`.
fn filter_pounds(pence: u64) -> String {
    format::pounds(pence)
}
