//! UK bank-holiday calendar and working-day arithmetic.
//!
//! Bank holidays differ by legal division (England and Wales, Scotland,
//! Northern Ireland). The recurring rules cover any year; one-off changes made
//! by proclamation live in a data table in [`rules`]; dates announced later
//! can be loaded from the official gov.uk `bank-holidays.json` file with
//! [`Calendar::with_govuk_json`]. The caller reads that file: this module does
//! no I/O.

mod govuk;
mod rules;

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// A legal division of the UK with its own bank holidays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Division {
    EnglandAndWales,
    Scotland,
    NorthernIreland,
}

impl Division {
    pub const ALL: [Division; 3] = [
        Division::EnglandAndWales,
        Division::Scotland,
        Division::NorthernIreland,
    ];

    /// The kebab-case id, as used by gov.uk and by serde.
    pub fn as_str(&self) -> &'static str {
        match self {
            Division::EnglandAndWales => "england-and-wales",
            Division::Scotland => "scotland",
            Division::NorthernIreland => "northern-ireland",
        }
    }

    fn index(self) -> usize {
        match self {
            Division::EnglandAndWales => 0,
            Division::Scotland => 1,
            Division::NorthernIreland => 2,
        }
    }
}

impl FromStr for Division {
    type Err = CalendarError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Division::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| CalendarError::UnknownDivision(s.to_owned()))
    }
}

impl fmt::Display for Division {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("unknown division {0:?} (expected england-and-wales, scotland or northern-ireland)")]
    UnknownDivision(String),
    /// The message starts with the path of the offending field.
    #[error("invalid gov.uk bank-holidays file: {0}")]
    InvalidGovUkFile(String),
}

/// Years whose rule-and-one-off holidays are precomputed; others are computed
/// on demand, which costs microseconds.
const CACHED_FIRST_YEAR: i32 = 1990;
const CACHED_LAST_YEAR: i32 = 2100;

/// Built-in holidays per division, per year from `CACHED_FIRST_YEAR`.
type Cache = [Vec<Vec<NaiveDate>>; 3];

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| {
        Division::ALL.map(|division| {
            (CACHED_FIRST_YEAR..=CACHED_LAST_YEAR)
                .map(|year| rules::year_days(division, year))
                .collect()
        })
    })
}

/// Sorted built-in (rules + one-offs) holidays of one division and year.
fn builtin_year(division: Division, year: i32) -> Cow<'static, [NaiveDate]> {
    let cached = usize::try_from(year - CACHED_FIRST_YEAR)
        .ok()
        .and_then(|i| cache()[division.index()].get(i));
    match cached {
        Some(days) => Cow::Borrowed(days.as_slice()),
        None => Cow::Owned(rules::year_days(division, year)),
    }
}

fn is_weekday(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Bank holidays of the three UK divisions. Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// Dates loaded from gov.uk files that the built-in calendar lacks.
    /// Duplicates of built-in days are not stored, so `version` only changes
    /// when the loaded file actually changes the calendar.
    added: BTreeSet<(Division, NaiveDate)>,
    /// Built-in days of 1990–2100 that are not holidays in this calendar. Only a calendar
    /// rebuilt from a stored holiday list has any: one recorded by a build whose rules
    /// lacked a day this build's rules have.
    removed: BTreeSet<(Division, NaiveDate)>,
    /// Fingerprint of every holiday this calendar knows; see [`Calendar::version`].
    version: String,
}

impl Default for Calendar {
    fn default() -> Self {
        Self::builtin()
    }
}

/// The built-in calendar's fingerprint, computed once.
fn builtin_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| fingerprint(&BTreeSet::new(), &BTreeSet::new()))
}

/// `uk-` and the first 12 hex digits of the SHA-256 of the canonical holiday list: for each
/// division in [`Division::ALL`] order, each of its holidays in date order, one line
/// `<division> <YYYY-MM-DD>\n`. It covers 1990–2100 (the years a case can plausibly use)
/// and every loaded day, so any change to the rules, the one-off table or a loaded file
/// that alters which days are holidays alters the version, and nothing else does.
fn fingerprint(
    added: &BTreeSet<(Division, NaiveDate)>,
    removed: &BTreeSet<(Division, NaiveDate)>,
) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for (division, days) in listed_days(added, removed) {
        for day in days {
            hasher.update(format!("{division} {}\n", day.format("%Y-%m-%d")));
        }
    }
    let digest = hex::encode(hasher.finalize());
    format!("uk-{}", &digest[..12])
}

/// Every holiday the fingerprint covers, per division in [`Division::ALL`] order, sorted.
fn listed_days(
    added: &BTreeSet<(Division, NaiveDate)>,
    removed: &BTreeSet<(Division, NaiveDate)>,
) -> Vec<(Division, Vec<NaiveDate>)> {
    Division::ALL
        .into_iter()
        .map(|division| {
            let mut days: Vec<NaiveDate> = (CACHED_FIRST_YEAR..=CACHED_LAST_YEAR)
                .flat_map(|year| builtin_year(division, year).into_owned())
                .filter(|&day| !removed.contains(&(division, day)))
                .collect();
            days.extend(
                added
                    .iter()
                    .filter(|(d, _)| *d == division)
                    .map(|&(_, day)| day),
            );
            days.sort_unstable();
            days.dedup();
            (division, days)
        })
        .collect()
}

/// A calendar written down as its holidays: what a store keeps so that a calendar no
/// longer loaded can be rebuilt exactly. Serialises as
/// `{"england-and-wales": ["1990-01-01", …], "scotland": […], "northern-ireland": […]}`.
pub type HolidayList = std::collections::BTreeMap<Division, Vec<NaiveDate>>;

impl Calendar {
    /// Rules for any year plus the built-in one-off days.
    pub fn builtin() -> Self {
        Calendar {
            added: BTreeSet::new(),
            removed: BTreeSet::new(),
            version: builtin_version().to_owned(),
        }
    }

    /// Every holiday of 1990–2100 and every loaded day outside those years: exactly what
    /// [`Calendar::version`] fingerprints, so [`Calendar::from_holidays`] rebuilds this
    /// calendar, version included.
    pub fn holidays(&self) -> HolidayList {
        listed_days(&self.added, &self.removed)
            .into_iter()
            .collect()
    }

    /// The calendar whose holidays are `list` in 1990–2100 (and outside those years, the
    /// rules plus any listed day). A list written by [`Calendar::holidays`] gives back a
    /// calendar with the same version, even when this build's rules differ from the ones
    /// that wrote it.
    pub fn from_holidays(list: &HolidayList) -> Self {
        let listed: BTreeSet<(Division, NaiveDate)> = list
            .iter()
            .flat_map(|(&division, days)| days.iter().map(move |&day| (division, day)))
            .collect();
        let added: BTreeSet<(Division, NaiveDate)> = listed
            .iter()
            .copied()
            .filter(|&(division, day)| !builtin_year(division, day.year()).contains(&day))
            .collect();
        let removed: BTreeSet<(Division, NaiveDate)> = Division::ALL
            .into_iter()
            .flat_map(|division| {
                (CACHED_FIRST_YEAR..=CACHED_LAST_YEAR).flat_map(move |year| {
                    builtin_year(division, year)
                        .into_owned()
                        .into_iter()
                        .map(move |day| (division, day))
                })
            })
            .filter(|entry| !listed.contains(entry))
            .collect();
        let version = if added.is_empty() && removed.is_empty() {
            builtin_version().to_owned()
        } else {
            fingerprint(&added, &removed)
        };
        Calendar {
            added,
            removed,
            version,
        }
    }

    /// Adds the one-off days of an official gov.uk `bank-holidays.json` file.
    /// Every listed date becomes a bank holiday of its division. Unknown
    /// division keys, a missing `events` array or a malformed date are errors
    /// naming the path, e.g. `scotland.events[3].date`. The file cannot remove
    /// a day.
    pub fn with_govuk_json(mut self, json: &str) -> Result<Self, CalendarError> {
        let before = self.added.len();
        for (division, date) in govuk::parse(json)? {
            if !self.is_bank_holiday(division, date) {
                self.added.insert((division, date));
            }
        }
        if self.added.len() != before {
            self.version = fingerprint(&self.added, &self.removed);
        }
        Ok(self)
    }

    /// A short fingerprint of which days are holidays, e.g. `uk-9ab0ee27226f`: the same
    /// for two calendars exactly when they agree on every holiday of 1990–2100 (and on any
    /// loaded day outside those years), whether a day is built in or loaded. A case
    /// records it when logged, so its deadlines can be traced to the calendar that made
    /// them.
    pub fn version(&self) -> String {
        self.version.clone()
    }

    pub fn is_bank_holiday(&self, division: Division, date: NaiveDate) -> bool {
        (builtin_year(division, date.year()).contains(&date)
            && !self.removed.contains(&(division, date)))
            || self.added.contains(&(division, date))
    }

    /// Sorted bank holidays of one division in one calendar year (rules +
    /// one-offs + loaded).
    pub fn bank_holidays(&self, division: Division, year: i32) -> Vec<NaiveDate> {
        let mut days = builtin_year(division, year).into_owned();
        if !self.removed.is_empty() {
            days.retain(|&day| !self.removed.contains(&(division, day)));
        }
        let (Some(first), Some(last)) = (
            NaiveDate::from_ymd_opt(year, 1, 1),
            NaiveDate::from_ymd_opt(year, 12, 31),
        ) else {
            return days;
        };
        days.extend(
            self.added
                .range((division, first)..=(division, last))
                .map(|&(_, date)| date),
        );
        days.sort_unstable();
        days.dedup();
        days
    }

    /// Monday–Friday and not a bank holiday of the division.
    pub fn is_working_day(&self, division: Division, date: NaiveDate) -> bool {
        is_weekday(date) && !self.is_bank_holiday(division, date)
    }

    /// The day of `start` is day 0; returns the date `n` working days later.
    /// Never returns a non-working day: with `n = 0` it returns `start` if
    /// that is a working day, else the next working day. Saturates at the end
    /// of chrono's date range rather than panicking.
    pub fn add_working_days(&self, division: Division, start: NaiveDate, n: u32) -> NaiveDate {
        let mut date = start;
        if n == 0 {
            while !self.is_working_day(division, date) {
                match date.succ_opt() {
                    Some(next) => date = next,
                    None => return date,
                }
            }
            return date;
        }
        let mut remaining = n;
        while let Some(next) = date.succ_opt() {
            date = next;
            if self.is_working_day(division, date) {
                remaining -= 1;
                if remaining == 0 {
                    break;
                }
            }
        }
        date
    }

    /// Number of working days `d` with `from < d <= to` (0 if `to <= from`),
    /// so `add_working_days(from, n)` is the first `t` with
    /// `working_days_between(from, t) == n` for `n > 0`.
    pub fn working_days_between(&self, division: Division, from: NaiveDate, to: NaiveDate) -> u32 {
        if to <= from {
            return 0;
        }
        // Count weekdays arithmetically, then subtract weekday holidays, so
        // long spans cost per year rather than per day.
        let days = (to - from).num_days();
        let full_weeks = days / 7;
        let mut weekdays = full_weeks * 5;
        let mut date = from + chrono::Duration::days(full_weeks * 7);
        while date < to {
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
            if is_weekday(date) {
                weekdays += 1;
            }
        }
        let holidays = (from.year()..=to.year())
            .flat_map(|year| self.bank_holidays(division, year))
            .filter(|&d| from < d && d <= to && is_weekday(d))
            .count();
        let working = weekdays - i64::try_from(holidays).unwrap_or(i64::MAX);
        u32::try_from(working.max(0)).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)] // a failed expectation is a failed test
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    #[test]
    fn calendar_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Calendar>();
    }

    #[test]
    fn division_ids_round_trip() {
        for division in Division::ALL {
            assert_eq!(division.as_str().parse::<Division>(), Ok(division));
            assert_eq!(division.to_string(), division.as_str());
            let json = serde_json::to_string(&division).expect("serialise");
            assert_eq!(json, format!("\"{}\"", division.as_str()));
            let back: Division = serde_json::from_str(&json).expect("deserialise");
            assert_eq!(back, division);
        }
        assert_eq!(
            "wales".parse::<Division>(),
            Err(CalendarError::UnknownDivision("wales".into()))
        );
    }

    #[test]
    fn uncached_years_use_the_rules() {
        let cal = Calendar::builtin();
        // 2101-2200 is outside the precomputed range.
        assert!(cal.is_bank_holiday(Division::EnglandAndWales, date("2101-12-26")));
        assert_eq!(cal.bank_holidays(Division::Scotland, 2150).len(), 9);
        assert_eq!(cal.bank_holidays(Division::NorthernIreland, 1980).len(), 10);
    }

    #[test]
    fn working_days_between_matches_day_by_day_count() {
        let cal = Calendar::builtin();
        let from = date("2019-12-20");
        let mut count = 0;
        let mut to = from;
        for _ in 0..800 {
            to = to.succ_opt().expect("in range");
            if cal.is_working_day(Division::Scotland, to) {
                count += 1;
            }
            assert_eq!(
                cal.working_days_between(Division::Scotland, from, to),
                count
            );
        }
    }

    #[test]
    fn a_calendar_rebuilt_from_its_holiday_list_is_the_same_calendar() {
        let loaded = Calendar::builtin()
            .with_govuk_json(
                r#"{"england-and-wales": {"events": [{"date": "2025-03-05"}, {"date": "2150-06-02"}]},
                    "scotland": {"events": []}, "northern-ireland": {"events": []}}"#,
            )
            .expect("a valid file");
        for calendar in [Calendar::builtin(), loaded] {
            let list = calendar.holidays();
            let json = serde_json::to_string(&list).expect("serialise");
            let back: HolidayList = serde_json::from_str(&json).expect("deserialise");
            let rebuilt = Calendar::from_holidays(&back);
            assert_eq!(rebuilt.version(), calendar.version());
            assert_eq!(rebuilt, calendar);
        }
    }

    #[test]
    fn a_list_lacking_a_builtin_day_rebuilds_a_calendar_without_it() {
        let christmas = date("2030-12-25");
        let mut list = Calendar::builtin().holidays();
        list.entry(Division::Scotland)
            .or_default()
            .retain(|&day| day != christmas);
        let rebuilt = Calendar::from_holidays(&list);
        assert!(!rebuilt.is_bank_holiday(Division::Scotland, christmas));
        assert!(rebuilt.is_working_day(Division::Scotland, christmas));
        assert!(!rebuilt
            .bank_holidays(Division::Scotland, 2030)
            .contains(&christmas));
        assert!(rebuilt.is_bank_holiday(Division::EnglandAndWales, christmas));
        assert_ne!(rebuilt.version(), Calendar::builtin().version());
        assert_eq!(Calendar::from_holidays(&rebuilt.holidays()), rebuilt);
    }

    #[test]
    fn saturates_at_end_of_range() {
        let cal = Calendar::builtin();
        let max = NaiveDate::MAX;
        assert_eq!(cal.add_working_days(Division::Scotland, max, 5), max);
    }
}
