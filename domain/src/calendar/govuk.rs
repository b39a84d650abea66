//! Parsing of the official gov.uk `bank-holidays.json` file
//! (<https://www.gov.uk/bank-holidays.json>).
//!
//! Parsed through `serde_json::Value` rather than derived structs so every
//! error can name the exact path that is wrong, e.g. `scotland.events[3].date`.

use chrono::NaiveDate;
use serde_json::Value;

use super::{CalendarError, Division};

fn invalid(msg: String) -> CalendarError {
    CalendarError::InvalidGovUkFile(msg)
}

/// Every (division, date) listed in the file, in file order.
pub(crate) fn parse(json: &str) -> Result<Vec<(Division, NaiveDate)>, CalendarError> {
    let root: Value =
        serde_json::from_str(json).map_err(|e| invalid(format!("(root): not valid JSON: {e}")))?;
    let Value::Object(divisions) = root else {
        return Err(invalid(
            "(root): expected an object keyed by division".into(),
        ));
    };

    let mut out = Vec::new();
    for (key, body) in &divisions {
        let division: Division = key
            .parse()
            .map_err(|_| invalid(format!("{key}: unknown division")))?;
        let Value::Object(body) = body else {
            return Err(invalid(format!("{key}: expected an object")));
        };
        // The inner id is redundant; tolerate its absence but not a mismatch,
        // which would mean the file is not what it claims to be.
        match body.get("division") {
            None => {}
            Some(Value::String(inner)) if inner == key => {}
            Some(_) => {
                return Err(invalid(format!(
                    "{key}.division: does not match key {key:?}"
                )));
            }
        }
        let events = match body.get("events") {
            Some(Value::Array(events)) => events,
            Some(_) => return Err(invalid(format!("{key}.events: expected an array"))),
            None => return Err(invalid(format!("{key}.events: missing"))),
        };
        for (i, event) in events.iter().enumerate() {
            let path = format!("{key}.events[{i}].date");
            let date = match event.get("date") {
                Some(Value::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map_err(|e| invalid(format!("{path}: {s:?} is not a YYYY-MM-DD date: {e}")))?,
                Some(_) => return Err(invalid(format!("{path}: expected a string"))),
                None if event.is_object() => return Err(invalid(format!("{path}: missing"))),
                None => {
                    return Err(invalid(format!("{key}.events[{i}]: expected an object")));
                }
            };
            out.push((division, date));
        }
    }
    Ok(out)
}
