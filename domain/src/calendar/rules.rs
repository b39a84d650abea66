//! The statutory and proclaimed rules that produce each year's bank holidays,
//! plus the table of one-off changes made by royal proclamation.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

use super::Division;

/// Whether a one-off entry adds a holiday or removes a rule-produced one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Add,
    Remove,
}

const ALL: &[Division] = &Division::ALL;
const SCOTLAND: &[Division] = &[Division::Scotland];

/// One line of the one-off table: which divisions, what to do, the date and
/// why. Dates are plain numbers so the table can be a `const` without
/// fallible constructors; a unit test checks every one is a real date.
pub(crate) type OneOff = (&'static [Division], Action, (i32, u32, u32), &'static str);

/// One-off changes by proclamation. A moved holiday is a `Remove` of the rule
/// day followed by an `Add` of the new day. Adding one is one line.
pub(crate) const ONE_OFFS: &[OneOff] = &[
    (
        ALL,
        Action::Remove,
        (1995, 5, 1),
        "Early May bank holiday (moved for VE Day 50)",
    ),
    (
        ALL,
        Action::Add,
        (1995, 5, 8),
        "Early May bank holiday (VE Day 50)",
    ),
    (ALL, Action::Add, (1999, 12, 31), "Millennium celebrations"),
    (
        ALL,
        Action::Remove,
        (2002, 5, 27),
        "Spring bank holiday (moved for Golden Jubilee)",
    ),
    (
        ALL,
        Action::Add,
        (2002, 6, 3),
        "Golden Jubilee bank holiday",
    ),
    (
        ALL,
        Action::Add,
        (2002, 6, 4),
        "Spring bank holiday (Golden Jubilee)",
    ),
    (ALL, Action::Add, (2011, 4, 29), "Royal wedding"),
    (
        ALL,
        Action::Remove,
        (2012, 5, 28),
        "Spring bank holiday (moved for Diamond Jubilee)",
    ),
    (
        ALL,
        Action::Add,
        (2012, 6, 4),
        "Spring bank holiday (Diamond Jubilee)",
    ),
    (ALL, Action::Add, (2012, 6, 5), "Queen's Diamond Jubilee"),
    (
        ALL,
        Action::Remove,
        (2020, 5, 4),
        "Early May bank holiday (moved for VE Day)",
    ),
    (
        ALL,
        Action::Add,
        (2020, 5, 8),
        "Early May bank holiday (VE Day)",
    ),
    (
        ALL,
        Action::Remove,
        (2022, 5, 30),
        "Spring bank holiday (moved for Platinum Jubilee)",
    ),
    (ALL, Action::Add, (2022, 6, 2), "Spring bank holiday"),
    (
        ALL,
        Action::Add,
        (2022, 6, 3),
        "Platinum Jubilee bank holiday",
    ),
    (
        ALL,
        Action::Add,
        (2022, 9, 19),
        "State Funeral of Queen Elizabeth II",
    ),
    (
        ALL,
        Action::Add,
        (2023, 5, 8),
        "Bank holiday for the coronation of King Charles III",
    ),
    (
        SCOTLAND,
        Action::Add,
        (2026, 6, 15),
        "Bank holiday for Scotland's part in the 2026 FIFA World Cup",
    ),
];

/// St Andrew's Day became a Scottish bank holiday under the St Andrew's Day
/// Bank Holiday (Scotland) Act 2007.
const ST_ANDREWS_FROM: i32 = 2007;

/// Easter Sunday by the anonymous Gregorian (Meeus/Jones/Butcher) algorithm.
/// `None` only outside chrono's date range.
pub(crate) fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The `n`th (1-based) given weekday of a month.
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
}

fn last_weekday(year: i32, month: u32, weekday: Weekday) -> Option<NaiveDate> {
    // The 5th occurrence exists in some months only; fall back to the 4th.
    nth_weekday(year, month, weekday, 5).or_else(|| nth_weekday(year, month, weekday, 4))
}

/// Applies the substitute-day rule to a group of fixed-date holidays that may
/// collide (Christmas and Boxing Day; 1 and 2 January): each day falling on a
/// weekend, or on a weekday already taken by an earlier day of the group,
/// moves to the next free weekday. The resulting set of dates is what the
/// proclamations give, whichever holiday is deemed to be the substitute.
pub(crate) fn with_substitutes(days: &[NaiveDate]) -> Vec<NaiveDate> {
    let mut taken: Vec<NaiveDate> = Vec::with_capacity(days.len());
    for &day in days {
        let mut d = day;
        while is_weekend(d) || taken.contains(&d) {
            // Only fails at the very end of chrono's range; keep the day.
            match d.succ_opt() {
                Some(next) => d = next,
                None => break,
            }
        }
        taken.push(d);
    }
    taken
}

fn ymd(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day)
}

/// The holidays the recurring rules give for one division and year, before
/// one-offs. Unsorted; may be empty only at the edges of chrono's range.
pub(crate) fn rule_days(division: Division, year: i32) -> Vec<NaiveDate> {
    let mut out = Vec::with_capacity(12);
    let fixed = |out: &mut Vec<NaiveDate>, days: &[Option<NaiveDate>]| {
        let days: Vec<NaiveDate> = days.iter().flatten().copied().collect();
        out.extend(with_substitutes(&days));
    };

    match division {
        Division::Scotland => fixed(&mut out, &[ymd(year, 1, 1), ymd(year, 1, 2)]),
        Division::EnglandAndWales | Division::NorthernIreland => {
            fixed(&mut out, &[ymd(year, 1, 1)]);
        }
    }
    if division == Division::NorthernIreland {
        fixed(&mut out, &[ymd(year, 3, 17)]);
        fixed(&mut out, &[ymd(year, 7, 12)]);
    }

    if let Some(easter) = easter_sunday(year) {
        out.push(easter - Duration::days(2));
        if division != Division::Scotland {
            out.push(easter + Duration::days(1));
        }
    }

    out.extend(nth_weekday(year, 5, Weekday::Mon, 1));
    out.extend(last_weekday(year, 5, Weekday::Mon));
    out.extend(match division {
        Division::Scotland => nth_weekday(year, 8, Weekday::Mon, 1),
        Division::EnglandAndWales | Division::NorthernIreland => {
            last_weekday(year, 8, Weekday::Mon)
        }
    });

    if division == Division::Scotland && year >= ST_ANDREWS_FROM {
        fixed(&mut out, &[ymd(year, 11, 30)]);
    }
    fixed(&mut out, &[ymd(year, 12, 25), ymd(year, 12, 26)]);
    out
}

/// Rules plus one-offs for one division and year, sorted and deduplicated.
pub(crate) fn year_days(division: Division, year: i32) -> Vec<NaiveDate> {
    let mut days = rule_days(division, year);
    for &(divisions, action, (y, m, d), _title) in ONE_OFFS {
        if y != year || !divisions.contains(&division) {
            continue;
        }
        let Some(date) = ymd(y, m, d) else { continue };
        match action {
            Action::Add => days.push(date),
            Action::Remove => days.retain(|&x| x != date),
        }
    }
    days.sort_unstable();
    days.dedup();
    days
}

#[cfg(test)]
#[allow(clippy::expect_used)] // a failed expectation is a failed test
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    #[test]
    fn easter_known_dates() {
        for (year, expected) in [
            (1990, "1990-04-15"),
            (2000, "2000-04-23"),
            (2008, "2008-03-23"),
            (2011, "2011-04-24"),
            (2019, "2019-04-21"),
            (2020, "2020-04-12"),
            (2024, "2024-03-31"),
            (2025, "2025-04-20"),
            (2038, "2038-04-25"),
            (2285, "2285-03-22"),
        ] {
            assert_eq!(easter_sunday(year), Some(date(expected)), "Easter {year}");
        }
    }

    #[test]
    fn one_off_table_dates_are_valid() {
        for &(_, _, (y, m, d), title) in ONE_OFFS {
            assert!(ymd(y, m, d).is_some(), "{title}: {y}-{m}-{d}");
        }
    }

    #[test]
    fn one_off_removals_hit_a_rule_day() {
        // A removal that matches no rule day would silently do nothing.
        for &(divisions, action, (y, m, d), title) in ONE_OFFS {
            if action == Action::Remove {
                let day = ymd(y, m, d).expect("valid");
                for &div in divisions {
                    assert!(rule_days(div, y).contains(&day), "{title} for {div}");
                }
            }
        }
    }

    fn subs(days: &[&str]) -> Vec<NaiveDate> {
        let days: Vec<NaiveDate> = days.iter().map(|s| date(s)).collect();
        with_substitutes(&days)
    }

    #[test]
    fn christmas_substitutes() {
        // Sat 25 → Mon 27, Sun 26 → Tue 28.
        assert_eq!(
            subs(&["2021-12-25", "2021-12-26"]),
            [date("2021-12-27"), date("2021-12-28")]
        );
        // Sun 25: Boxing Day Mon 26, Christmas substitute Tue 27.
        assert_eq!(
            subs(&["2022-12-25", "2022-12-26"]),
            [date("2022-12-26"), date("2022-12-27")]
        );
        // Fri 25: Boxing Day Sat 26 → Mon 28.
        assert_eq!(
            subs(&["2020-12-25", "2020-12-26"]),
            [date("2020-12-25"), date("2020-12-28")]
        );
        // Weekdays stay put.
        assert_eq!(
            subs(&["2024-12-25", "2024-12-26"]),
            [date("2024-12-25"), date("2024-12-26")]
        );
    }

    #[test]
    fn scottish_new_year_substitutes() {
        // Sat 1 Jan → Mon 3, Sun 2 Jan → Tue 4.
        assert_eq!(
            subs(&["2022-01-01", "2022-01-02"]),
            [date("2022-01-03"), date("2022-01-04")]
        );
        // Sun 1 Jan: Mon 2 and Tue 3 (gov.uk calls Tue 3 the New Year
        // substitute; only the set of dates matters here).
        assert_eq!(
            subs(&["2023-01-01", "2023-01-02"]),
            [date("2023-01-02"), date("2023-01-03")]
        );
        // Fri 1 Jan: Sat 2 → Mon 4.
        assert_eq!(
            subs(&["2021-01-01", "2021-01-02"]),
            [date("2021-01-01"), date("2021-01-04")]
        );
    }

    #[test]
    fn single_day_substitutes_go_to_monday() {
        assert_eq!(subs(&["2022-01-01"]), [date("2022-01-03")]); // Sat
        assert_eq!(subs(&["2023-01-01"]), [date("2023-01-02")]); // Sun
        assert_eq!(subs(&["2025-11-30"]), [date("2025-12-01")]); // St Andrew's, Sun
        assert_eq!(subs(&["2024-11-30"]), [date("2024-12-02")]); // St Andrew's, Sat
        assert_eq!(subs(&["2025-07-12"]), [date("2025-07-14")]); // Boyne, Sat
        assert_eq!(subs(&["2024-03-17"]), [date("2024-03-18")]); // St Patrick's, Sun
        assert_eq!(subs(&["2025-03-17"]), [date("2025-03-17")]); // Mon
    }

    #[test]
    fn division_specific_rules() {
        // Scotland: first Monday in August, no Easter Monday, St Andrew's Day.
        let scot = year_days(Division::Scotland, 2025);
        assert!(scot.contains(&date("2025-08-04")));
        assert!(!scot.contains(&date("2025-08-25")));
        assert!(!scot.contains(&date("2025-04-21")));
        assert!(scot.contains(&date("2025-12-01")));
        // St Andrew's Day only from 2007.
        assert!(!year_days(Division::Scotland, 2005).contains(&date("2005-11-30")));
        assert!(year_days(Division::Scotland, 2007).contains(&date("2007-11-30")));
        // Northern Ireland adds St Patrick's and the Boyne to England's list.
        let ni = year_days(Division::NorthernIreland, 2025);
        let ew = year_days(Division::EnglandAndWales, 2025);
        assert_eq!(ni.len(), ew.len() + 2);
        assert!(ni.contains(&date("2025-03-17")) && ni.contains(&date("2025-07-14")));
    }

    #[test]
    fn one_offs_move_and_add() {
        let ew = year_days(Division::EnglandAndWales, 2002);
        assert!(!ew.contains(&date("2002-05-27")));
        assert!(ew.contains(&date("2002-06-03")) && ew.contains(&date("2002-06-04")));
        let scot = year_days(Division::Scotland, 2020);
        assert!(scot.contains(&date("2020-05-08")) && !scot.contains(&date("2020-05-04")));
    }
}
