//! The calendar against the bank holidays gov.uk published for 2015–2027,
//! known working-day answers, gov.uk file loading and arithmetic properties.

#![allow(clippy::expect_used)] // a failed expectation is a failed test

use casefile_domain::calendar::{Calendar, CalendarError, Division};
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use proptest::prelude::*;

fn date(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

// Written out by hand from the gov.uk bank-holiday pages, not generated.
#[rustfmt::skip]
const ENGLAND_AND_WALES: &[(i32, &[&str])] = &[
    (2015, &["2015-01-01", "2015-04-03", "2015-04-06", "2015-05-04", "2015-05-25", "2015-08-31", "2015-12-25", "2015-12-28"]),
    (2016, &["2016-01-01", "2016-03-25", "2016-03-28", "2016-05-02", "2016-05-30", "2016-08-29", "2016-12-26", "2016-12-27"]),
    (2017, &["2017-01-02", "2017-04-14", "2017-04-17", "2017-05-01", "2017-05-29", "2017-08-28", "2017-12-25", "2017-12-26"]),
    (2018, &["2018-01-01", "2018-03-30", "2018-04-02", "2018-05-07", "2018-05-28", "2018-08-27", "2018-12-25", "2018-12-26"]),
    (2019, &["2019-01-01", "2019-04-19", "2019-04-22", "2019-05-06", "2019-05-27", "2019-08-26", "2019-12-25", "2019-12-26"]),
    (2020, &["2020-01-01", "2020-04-10", "2020-04-13", "2020-05-08", "2020-05-25", "2020-08-31", "2020-12-25", "2020-12-28"]),
    (2021, &["2021-01-01", "2021-04-02", "2021-04-05", "2021-05-03", "2021-05-31", "2021-08-30", "2021-12-27", "2021-12-28"]),
    (2022, &["2022-01-03", "2022-04-15", "2022-04-18", "2022-05-02", "2022-06-02", "2022-06-03", "2022-08-29", "2022-09-19", "2022-12-26", "2022-12-27"]),
    (2023, &["2023-01-02", "2023-04-07", "2023-04-10", "2023-05-01", "2023-05-08", "2023-05-29", "2023-08-28", "2023-12-25", "2023-12-26"]),
    (2024, &["2024-01-01", "2024-03-29", "2024-04-01", "2024-05-06", "2024-05-27", "2024-08-26", "2024-12-25", "2024-12-26"]),
    (2025, &["2025-01-01", "2025-04-18", "2025-04-21", "2025-05-05", "2025-05-26", "2025-08-25", "2025-12-25", "2025-12-26"]),
    (2026, &["2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31", "2026-12-25", "2026-12-28"]),
    (2027, &["2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03", "2027-05-31", "2027-08-30", "2027-12-27", "2027-12-28"]),
];

#[rustfmt::skip]
const SCOTLAND: &[(i32, &[&str])] = &[
    (2015, &["2015-01-01", "2015-01-02", "2015-04-03", "2015-05-04", "2015-05-25", "2015-08-03", "2015-11-30", "2015-12-25", "2015-12-28"]),
    (2016, &["2016-01-01", "2016-01-04", "2016-03-25", "2016-05-02", "2016-05-30", "2016-08-01", "2016-11-30", "2016-12-26", "2016-12-27"]),
    (2017, &["2017-01-02", "2017-01-03", "2017-04-14", "2017-05-01", "2017-05-29", "2017-08-07", "2017-11-30", "2017-12-25", "2017-12-26"]),
    (2018, &["2018-01-01", "2018-01-02", "2018-03-30", "2018-05-07", "2018-05-28", "2018-08-06", "2018-11-30", "2018-12-25", "2018-12-26"]),
    (2019, &["2019-01-01", "2019-01-02", "2019-04-19", "2019-05-06", "2019-05-27", "2019-08-05", "2019-12-02", "2019-12-25", "2019-12-26"]),
    (2020, &["2020-01-01", "2020-01-02", "2020-04-10", "2020-05-08", "2020-05-25", "2020-08-03", "2020-11-30", "2020-12-25", "2020-12-28"]),
    (2021, &["2021-01-01", "2021-01-04", "2021-04-02", "2021-05-03", "2021-05-31", "2021-08-02", "2021-11-30", "2021-12-27", "2021-12-28"]),
    (2022, &["2022-01-03", "2022-01-04", "2022-04-15", "2022-05-02", "2022-06-02", "2022-06-03", "2022-08-01", "2022-09-19", "2022-11-30", "2022-12-26", "2022-12-27"]),
    (2023, &["2023-01-02", "2023-01-03", "2023-04-07", "2023-05-01", "2023-05-08", "2023-05-29", "2023-08-07", "2023-11-30", "2023-12-25", "2023-12-26"]),
    (2024, &["2024-01-01", "2024-01-02", "2024-03-29", "2024-05-06", "2024-05-27", "2024-08-05", "2024-12-02", "2024-12-25", "2024-12-26"]),
    (2025, &["2025-01-01", "2025-01-02", "2025-04-18", "2025-05-05", "2025-05-26", "2025-08-04", "2025-12-01", "2025-12-25", "2025-12-26"]),
    (2026, &["2026-01-01", "2026-01-02", "2026-04-03", "2026-05-04", "2026-05-25", "2026-08-03", "2026-11-30", "2026-12-25", "2026-12-28"]),
    (2027, &["2027-01-01", "2027-01-04", "2027-03-26", "2027-05-03", "2027-05-31", "2027-08-02", "2027-11-30", "2027-12-27", "2027-12-28"]),
];

#[rustfmt::skip]
const NORTHERN_IRELAND: &[(i32, &[&str])] = &[
    (2015, &["2015-01-01", "2015-03-17", "2015-04-03", "2015-04-06", "2015-05-04", "2015-05-25", "2015-07-13", "2015-08-31", "2015-12-25", "2015-12-28"]),
    (2016, &["2016-01-01", "2016-03-17", "2016-03-25", "2016-03-28", "2016-05-02", "2016-05-30", "2016-07-12", "2016-08-29", "2016-12-26", "2016-12-27"]),
    (2017, &["2017-01-02", "2017-03-17", "2017-04-14", "2017-04-17", "2017-05-01", "2017-05-29", "2017-07-12", "2017-08-28", "2017-12-25", "2017-12-26"]),
    (2018, &["2018-01-01", "2018-03-19", "2018-03-30", "2018-04-02", "2018-05-07", "2018-05-28", "2018-07-12", "2018-08-27", "2018-12-25", "2018-12-26"]),
    (2019, &["2019-01-01", "2019-03-18", "2019-04-19", "2019-04-22", "2019-05-06", "2019-05-27", "2019-07-12", "2019-08-26", "2019-12-25", "2019-12-26"]),
    (2020, &["2020-01-01", "2020-03-17", "2020-04-10", "2020-04-13", "2020-05-08", "2020-05-25", "2020-07-13", "2020-08-31", "2020-12-25", "2020-12-28"]),
    (2021, &["2021-01-01", "2021-03-17", "2021-04-02", "2021-04-05", "2021-05-03", "2021-05-31", "2021-07-12", "2021-08-30", "2021-12-27", "2021-12-28"]),
    (2022, &["2022-01-03", "2022-03-17", "2022-04-15", "2022-04-18", "2022-05-02", "2022-06-02", "2022-06-03", "2022-07-12", "2022-08-29", "2022-09-19", "2022-12-26", "2022-12-27"]),
    (2023, &["2023-01-02", "2023-03-17", "2023-04-07", "2023-04-10", "2023-05-01", "2023-05-08", "2023-05-29", "2023-07-12", "2023-08-28", "2023-12-25", "2023-12-26"]),
    (2024, &["2024-01-01", "2024-03-18", "2024-03-29", "2024-04-01", "2024-05-06", "2024-05-27", "2024-07-12", "2024-08-26", "2024-12-25", "2024-12-26"]),
    (2025, &["2025-01-01", "2025-03-17", "2025-04-18", "2025-04-21", "2025-05-05", "2025-05-26", "2025-07-14", "2025-08-25", "2025-12-25", "2025-12-26"]),
    (2026, &["2026-01-01", "2026-03-17", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-07-13", "2026-08-31", "2026-12-25", "2026-12-28"]),
    (2027, &["2027-01-01", "2027-03-17", "2027-03-26", "2027-03-29", "2027-05-03", "2027-05-31", "2027-07-12", "2027-08-30", "2027-12-27", "2027-12-28"]),
];

fn check_published(division: Division, table: &[(i32, &[&str])]) {
    let cal = Calendar::builtin();
    let years: Vec<i32> = table.iter().map(|&(y, _)| y).collect();
    assert_eq!(
        years,
        (2015..=2027).collect::<Vec<_>>(),
        "table covers 2015-2027"
    );
    for &(year, days) in table {
        let expected: Vec<NaiveDate> = days.iter().map(|s| date(s)).collect();
        assert_eq!(
            cal.bank_holidays(division, year),
            expected,
            "{division} {year}"
        );
        for &day in &expected {
            assert!(cal.is_bank_holiday(division, day), "{division} {day}");
            assert!(!cal.is_working_day(division, day), "{division} {day}");
        }
    }
}

#[test]
fn england_and_wales_matches_published_2015_2027() {
    check_published(Division::EnglandAndWales, ENGLAND_AND_WALES);
}

#[test]
fn scotland_matches_published_2015_2027() {
    check_published(Division::Scotland, SCOTLAND);
}

#[test]
fn northern_ireland_matches_published_2015_2027() {
    check_published(Division::NorthernIreland, NORTHERN_IRELAND);
}

#[test]
fn published_lists_have_expected_sizes() {
    // Guards the hand-written tables: 8/9/10 a year plus the one-off years.
    for (table, normal) in [
        (ENGLAND_AND_WALES, 8),
        (SCOTLAND, 9),
        (NORTHERN_IRELAND, 10),
    ] {
        for &(year, days) in table {
            let extra = match year {
                2022 => 2,
                2023 => 1,
                _ => 0,
            };
            assert_eq!(days.len(), normal + extra, "{year}");
            assert!(days.iter().all(|d| {
                let d = date(d);
                d.year() == year && !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
            }));
        }
    }
}

#[test]
fn historic_one_offs() {
    let cal = Calendar::builtin();
    for division in Division::ALL {
        let y2002 = cal.bank_holidays(division, 2002);
        assert!(y2002.contains(&date("2002-06-03")) && y2002.contains(&date("2002-06-04")));
        assert!(!y2002.contains(&date("2002-05-27")));
        assert!(cal.is_bank_holiday(division, date("2011-04-29")));
        let y2012 = cal.bank_holidays(division, 2012);
        assert!(y2012.contains(&date("2012-06-04")) && y2012.contains(&date("2012-06-05")));
        assert!(!y2012.contains(&date("2012-05-28")));
        assert!(!cal.is_bank_holiday(division, date("2020-05-04")));
    }
}

fn add(division: Division, start: &str, n: u32) -> NaiveDate {
    Calendar::builtin().add_working_days(division, date(start), n)
}

#[test]
fn christmas_and_new_year_crossing() {
    // Fri 23 (1), Wed 28 (2), Thu 29 (3), Fri 30 (4), Tue 3 Jan (5):
    // Mon 26 and Tue 27 Dec and Mon 2 Jan are holidays.
    assert_eq!(
        add(Division::EnglandAndWales, "2022-12-22", 5),
        date("2023-01-03")
    );
    // Scotland also has Tue 3 Jan 2023, so day 5 is Wed 4 Jan.
    assert_eq!(add(Division::Scotland, "2022-12-22", 5), date("2023-01-04"));
    let cal = Calendar::builtin();
    assert_eq!(
        cal.working_days_between(
            Division::EnglandAndWales,
            date("2022-12-22"),
            date("2023-01-03")
        ),
        5
    );
}

#[test]
fn saturday_receipt_across_easter() {
    // Received Sat 23 Mar 2024: Mon 25 (1) .. Thu 28 (4); Good Friday 29 and
    // Easter Monday 1 Apr are holidays, so day 5 is Tue 2 Apr.
    assert_eq!(
        add(Division::EnglandAndWales, "2024-03-23", 0),
        date("2024-03-25")
    );
    assert_eq!(
        add(Division::EnglandAndWales, "2024-03-23", 1),
        date("2024-03-25")
    );
    assert_eq!(
        add(Division::EnglandAndWales, "2024-03-23", 5),
        date("2024-04-02")
    );
    // Scotland has no Easter Monday.
    assert_eq!(add(Division::Scotland, "2024-03-23", 5), date("2024-04-01"));
    // A working-day start with n = 0 is itself.
    assert_eq!(
        add(Division::EnglandAndWales, "2024-03-28", 0),
        date("2024-03-28")
    );
    // A holiday start with n = 0 moves to the next working day.
    assert_eq!(
        add(Division::EnglandAndWales, "2024-03-29", 0),
        date("2024-04-02")
    );
}

#[test]
fn easter_crossing_from_thursday() {
    assert_eq!(
        add(Division::EnglandAndWales, "2025-04-17", 1),
        date("2025-04-22")
    );
    assert_eq!(
        add(Division::NorthernIreland, "2025-04-17", 1),
        date("2025-04-22")
    );
    assert_eq!(add(Division::Scotland, "2025-04-17", 1), date("2025-04-21"));
}

#[test]
fn st_andrews_day_crossing() {
    // Thu 30 Nov 2023 is a holiday in Scotland only.
    assert_eq!(add(Division::Scotland, "2023-11-29", 1), date("2023-12-01"));
    assert_eq!(
        add(Division::EnglandAndWales, "2023-11-29", 1),
        date("2023-11-30")
    );
    // Sun 30 Nov 2025 is substituted by Mon 1 Dec.
    assert_eq!(add(Division::Scotland, "2025-11-28", 1), date("2025-12-02"));
    assert_eq!(
        add(Division::EnglandAndWales, "2025-11-28", 1),
        date("2025-12-01")
    );
}

#[test]
fn battle_of_the_boyne_crossing() {
    // Sat 12 Jul 2025 is substituted by Mon 14 Jul in Northern Ireland.
    assert_eq!(
        add(Division::NorthernIreland, "2025-07-11", 1),
        date("2025-07-15")
    );
    assert_eq!(
        add(Division::EnglandAndWales, "2025-07-11", 1),
        date("2025-07-14")
    );
    // Wed 12 Jul 2023.
    assert_eq!(
        add(Division::NorthernIreland, "2023-07-11", 1),
        date("2023-07-13")
    );
    assert_eq!(
        add(Division::NorthernIreland, "2023-07-11", 10),
        date("2023-07-26")
    );
}

#[test]
fn working_days_between_known_answers() {
    let cal = Calendar::builtin();
    let ew = Division::EnglandAndWales;
    // 2024 is a leap year starting on Monday: 262 weekdays, 261 after 1 Jan,
    // less the 7 holidays after 1 Jan.
    assert_eq!(
        cal.working_days_between(ew, date("2024-01-01"), date("2024-12-31")),
        254
    );
    assert_eq!(
        cal.working_days_between(ew, date("2024-03-28"), date("2024-04-02")),
        1
    );
    assert_eq!(
        cal.working_days_between(ew, date("2024-04-02"), date("2024-03-28")),
        0
    );
    assert_eq!(
        cal.working_days_between(ew, date("2024-04-02"), date("2024-04-02")),
        0
    );
}

const GOVUK_EXTRA: &str = r#"{
  "england-and-wales": {"division": "england-and-wales", "events": [
    {"title": "New Year's Day", "date": "2031-01-01", "notes": "", "bunting": true},
    {"title": "Made-up extra day", "date": "2031-06-06", "notes": "", "bunting": true}
  ]},
  "scotland": {"division": "scotland", "events": [
    {"title": "St Andrew's Day", "date": "2031-12-01", "notes": "Substitute day", "bunting": true}
  ]},
  "northern-ireland": {"division": "northern-ireland", "events": []}
}"#;

#[test]
fn govuk_file_adds_days_and_changes_version() {
    let builtin = Calendar::builtin();
    assert_eq!(builtin.version(), "builtin-1");
    let ew = Division::EnglandAndWales;
    let thu = date("2031-06-05");
    assert_eq!(builtin.add_working_days(ew, thu, 1), date("2031-06-06"));

    let loaded = Calendar::builtin()
        .with_govuk_json(GOVUK_EXTRA)
        .expect("valid file");
    assert!(loaded.is_bank_holiday(ew, date("2031-06-06")));
    assert!(!loaded.is_bank_holiday(Division::Scotland, date("2031-06-06")));
    assert_eq!(loaded.add_working_days(ew, thu, 1), date("2031-06-09"));
    assert_eq!(loaded.working_days_between(ew, thu, date("2031-06-09")), 1);
    assert_eq!(
        loaded.add_working_days(Division::Scotland, thu, 1),
        date("2031-06-06")
    );
    assert!(loaded.bank_holidays(ew, 2031).contains(&date("2031-06-06")));
    assert_eq!(loaded.bank_holidays(ew, 2031).len(), 9);

    let version = loaded.version();
    assert_ne!(version, "builtin-1");
    assert!(version.starts_with("builtin-1+"), "{version}");
    let hex = &version["builtin-1+".len()..];
    assert_eq!(hex.len(), 12);
    assert!(hex
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    // Deterministic, and loading the same file again changes nothing.
    let again = loaded
        .clone()
        .with_govuk_json(GOVUK_EXTRA)
        .expect("valid file");
    assert_eq!(again.version(), version);
}

#[test]
fn govuk_file_of_known_days_keeps_builtin_version() {
    let json = r#"{"scotland": {"division": "scotland", "events": [
        {"title": "St Andrew's Day", "date": "2025-12-01", "notes": "Substitute day", "bunting": true},
        {"title": "Coronation", "date": "2023-05-08", "notes": "", "bunting": true}
    ]}}"#;
    let cal = Calendar::builtin()
        .with_govuk_json(json)
        .expect("valid file");
    assert_eq!(cal.version(), "builtin-1");
}

#[test]
fn govuk_versions_differ_by_content() {
    let one = r#"{"scotland": {"division": "scotland", "events": [{"title": "x", "date": "2031-06-06"}]}}"#;
    let two = r#"{"scotland": {"division": "scotland", "events": [{"title": "x", "date": "2031-06-13"}]}}"#;
    let a = Calendar::builtin()
        .with_govuk_json(one)
        .expect("valid")
        .version();
    let b = Calendar::builtin()
        .with_govuk_json(two)
        .expect("valid")
        .version();
    assert_ne!(a, b);
}

fn load_err(json: &str) -> String {
    match Calendar::builtin().with_govuk_json(json) {
        Err(CalendarError::InvalidGovUkFile(msg)) => msg,
        other => panic!("expected InvalidGovUkFile, got {other:?}"),
    }
}

#[test]
fn govuk_file_errors_name_the_path() {
    let bad_date = r#"{"scotland": {"division": "scotland", "events": [
        {"title": "a", "date": "2031-01-01"},
        {"title": "b", "date": "2031-01-02"},
        {"title": "c", "date": "2031-01-05"},
        {"title": "d", "date": "2031-02-30"}
    ]}}"#;
    assert!(
        load_err(bad_date).starts_with("scotland.events[3].date"),
        "{}",
        load_err(bad_date)
    );

    let not_iso = r#"{"england-and-wales": {"events": [{"date": "06/06/2031"}]}}"#;
    assert!(load_err(not_iso).starts_with("england-and-wales.events[0].date"));

    let unknown = r#"{"wales": {"division": "wales", "events": []}}"#;
    assert!(
        load_err(unknown).starts_with("wales"),
        "{}",
        load_err(unknown)
    );

    let missing = r#"{"northern-ireland": {"division": "northern-ireland"}}"#;
    assert!(
        load_err(missing).starts_with("northern-ireland.events"),
        "{}",
        load_err(missing)
    );

    let mismatch = r#"{"scotland": {"division": "england-and-wales", "events": []}}"#;
    assert!(load_err(mismatch).starts_with("scotland.division"));

    assert!(load_err("[1, 2]").starts_with("(root)"));
    assert!(load_err("{").starts_with("(root)"));
}

fn any_division() -> impl Strategy<Value = Division> {
    prop_oneof![
        Just(Division::EnglandAndWales),
        Just(Division::Scotland),
        Just(Division::NorthernIreland),
    ]
}

fn any_date() -> impl Strategy<Value = NaiveDate> {
    let first = date("2000-01-01");
    let days = (date("2040-01-01") - first).num_days();
    (0..days).prop_map(move |d| first + Duration::days(d))
}

proptest! {
    #[test]
    fn add_working_days_properties(division in any_division(), start in any_date(), n in 0u32..60) {
        let cal = Calendar::builtin();
        let result = cal.add_working_days(division, start, n);
        prop_assert!(cal.is_working_day(division, result));
        prop_assert!(result >= start);
        if n > 0 {
            prop_assert!(result > start);
            prop_assert_eq!(cal.working_days_between(division, start, result), n);
            // First such date: the day before has one working day fewer.
            let before = result.pred_opt().expect("in range");
            prop_assert_eq!(cal.working_days_between(division, start, before), n - 1);
        } else {
            // n = 0: no working day is skipped between start and the result.
            prop_assert_eq!(cal.working_days_between(division, start, result),
                u32::from(result != start));
        }
        // Monotone in n; strictly from n = 1 (from a non-working start,
        // n = 0 and n = 1 both give the next working day).
        let next = cal.add_working_days(division, start, n + 1);
        prop_assert!(next >= result);
        if n > 0 || cal.is_working_day(division, start) {
            prop_assert!(next > result);
        }
    }

    #[test]
    fn add_working_days_composes(division in any_division(), start in any_date(), a in 1u32..30, b in 0u32..30) {
        let cal = Calendar::builtin();
        let stepwise = cal.add_working_days(division, cal.add_working_days(division, start, a), b);
        prop_assert_eq!(stepwise, cal.add_working_days(division, start, a + b));
    }
}
