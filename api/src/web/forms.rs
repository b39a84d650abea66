//! Form bodies (`application/x-www-form-urlencoded`) and the fields pages render, each with
//! its error so the template can tie the two together (`aria-describedby`).

use std::collections::BTreeMap;

use axum::body::Bytes;
use chrono::NaiveDate;
use serde::Serialize;

/// The fields of a submitted form, in order; a name may repeat (checkboxes).
#[derive(Debug, Clone, Default)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    pub fn parse(body: &Bytes) -> Self {
        Self(
            form_urlencoded::parse(body)
                .map(|(key, value)| {
                    (
                        without_nul(key.into_owned()),
                        without_nul(value.into_owned()),
                    )
                })
                .collect(),
        )
    }

    /// The first value of a field, if sent.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The value trimmed, `None` when blank or missing.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// Every value of a field.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// The values as entered, to put back into the form when it is shown again.
    pub fn values(&self) -> BTreeMap<String, String> {
        let mut values = BTreeMap::new();
        for (key, value) in &self.0 {
            values.entry(key.clone()).or_insert_with(|| value.clone());
        }
        values
    }
}

/// The text without NUL characters. A browser's field cannot hold one, and PostgreSQL text
/// cannot store one: one in a hand-made body is dropped rather than refused.
pub fn without_nul(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "")
    } else {
        text
    }
}

/// One line of the summary at the top of a page whose form came back: a link to the field
/// or message it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub href: String,
    pub text: String,
}

/// Problems with the fields of one form, by field name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_insert_with(|| message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The summary's lines; `id` gives the element id of each field.
    pub fn problems(&self, id: impl Fn(&str) -> String) -> Vec<Problem> {
        self.0
            .iter()
            .map(|(field, text)| Problem {
                href: format!("#{}", id(field)),
                text: text.clone(),
            })
            .collect()
    }

    /// A required text field: its trimmed value, or an error naming it.
    pub fn required(&mut self, form: &FormData, field: &str, label: &str) -> String {
        match form.text(field) {
            Some(value) => value,
            None => {
                self.add(field, format!("Enter {label}"));
                String::new()
            }
        }
    }

    /// An optional date in `YYYY-MM-DD` (what a date input sends).
    pub fn date(&mut self, form: &FormData, field: &str) -> Option<NaiveDate> {
        let text = form.text(field)?;
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(date) => Some(date),
            Err(_) => {
                self.add(field, "Enter a real date, for example 2025-03-27");
                None
            }
        }
    }

    /// A value that must be one of `options`' codes.
    pub fn choice<T: serde::de::DeserializeOwned>(
        &mut self,
        form: &FormData,
        field: &str,
        label: &str,
    ) -> Option<T> {
        let Some(text) = form.text(field) else {
            self.add(field, format!("Select {label}"));
            return None;
        };
        match serde_json::from_value(serde_json::Value::String(text)) {
            Ok(value) => Some(value),
            Err(_) => {
                self.add(field, format!("Select {label} from the list"));
                None
            }
        }
    }

    /// A sum of money in pounds (`150`, `150.5`, `£1,250.00`) as integer pence.
    pub fn pence(&mut self, form: &FormData, field: &str) -> u64 {
        let Some(text) = form.text(field) else {
            return 0;
        };
        match parse_pence(&text) {
            Some(pence) => pence,
            None => {
                self.add(field, "Enter an amount in pounds, like 150 or 150.50");
                0
            }
        }
    }
}

/// Pounds and pence as written by people, in exact integer pence.
pub fn parse_pence(text: &str) -> Option<u64> {
    let text: String = text
        .trim()
        .trim_start_matches('£')
        .chars()
        .filter(|c| *c != ',')
        .collect();
    let (pounds, pence) = match text.split_once('.') {
        Some((pounds, pence)) => (pounds, pence),
        None => (text.as_str(), ""),
    };
    if pounds.is_empty() && pence.is_empty() {
        return None;
    }
    if !pounds.chars().all(|c| c.is_ascii_digit()) || !pence.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let pounds: u64 = if pounds.is_empty() {
        0
    } else {
        pounds.parse().ok()?
    };
    let pence: u64 = match pence.len() {
        0 => 0,
        1 => pence.parse::<u64>().ok()? * 10,
        2 => pence.parse().ok()?,
        _ => return None,
    };
    pounds.checked_mul(100)?.checked_add(pence)
}

/// Lines of a text area, trimmed, blank lines dropped: one item per line.
pub fn lines(form: &FormData, field: &str) -> Vec<String> {
    form.get(field)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_pounds_become_exact_pence() {
        let cases = [
            ("150", Some(15000)),
            ("150.5", Some(15050)),
            ("£1,250.00", Some(125000)),
            (".75", Some(75)),
            ("0.07", Some(7)),
            ("1.005", None),
            ("-3", None),
            ("ten", None),
            (".", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_pence(text), expected, "{text}");
        }
    }

    #[test]
    fn a_form_body_decodes_plus_and_percent_escapes() {
        let form = FormData::parse(&Bytes::from_static(
            b"name=Sam+Patel&roles=officer&roles=admin&x=%C2%A3",
        ));
        assert_eq!(form.text("name"), Some("Sam Patel".to_string()));
        assert_eq!(form.all("roles"), vec!["officer", "admin"]);
        assert_eq!(form.get("x"), Some("£"));
    }

    #[test]
    fn a_nul_in_a_hand_made_body_is_dropped() {
        let form = FormData::parse(&Bytes::from_static(b"text=Damp%00+again&re%00ason=x"));
        assert_eq!(form.get("text"), Some("Damp again"));
        assert_eq!(form.get("reason"), Some("x"));
    }

    #[test]
    fn a_blank_required_field_is_an_error_naming_it() {
        let form = FormData::parse(&Bytes::from_static(b"reason=+++"));
        let mut errors = FieldErrors::default();
        errors.required(&form, "reason", "the reason");
        assert_eq!(
            errors.0.get("reason").map(String::as_str),
            Some("Enter the reason")
        );
    }
}
