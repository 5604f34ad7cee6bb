//! A job's five-field cron schedule as the `cron(...)` expression EventBridge Scheduler reads.
//!
//! EventBridge's cron (its "Cron expressions reference") differs from Unix cron in ways a
//! plain copy would get wrong: six fields (a year last), `?` in exactly one of day-of-month and
//! day-of-week, day-of-week numbered 1-7 from Sunday (Unix: 0-7, 0 and 7 Sunday), and no `/`
//! in day-of-week. So each field is expanded into the set of values it names and written back
//! in EventBridge's terms: `*`, `start/step`, ranges and lists, and day names for the day of
//! week, which both read alike. A schedule restricting both days (Unix: either matches) has no
//! EventBridge form; validation refuses it before it gets here.

use std::collections::BTreeSet;

use ferry_core::job::Schedule;

/// The longest `ScheduleExpression` (botocore's scheduler model: 1-256 characters).
pub const MAX_EXPRESSION: usize = 256;

const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// One field's range and the names it takes.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// The value of the first name (JAN is 1, SUN is 0).
    first_name: u32,
    /// Where `*` ends: the day of week's 7 is only another name of Sunday.
    last: u32,
}

const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    first_name: 0,
    last: 59,
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    first_name: 0,
    last: 23,
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    first_name: 0,
    last: 31,
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &MONTHS,
    first_name: 1,
    last: 12,
};
/// Unix day of week: 0-7, Sunday both 0 and 7.
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &DAYS,
    first_name: 0,
    last: 6,
};

/// The `cron(...)` expression EventBridge Scheduler fires `schedule` by (read in the
/// schedule's time zone, which the schedule's `ScheduleExpressionTimezone` carries), or why
/// it has none.
pub fn expression(schedule: &Schedule) -> Result<String, String> {
    let [minute, hour, day_of_month, month, day_of_week] = schedule.fields();
    if day_of_month != "*" && day_of_week != "*" {
        return Err(format!(
            "'{}' restricts both the day of month and the day of week, which Unix cron reads \
             as either; EventBridge Scheduler takes one of them only (the other must be '?')",
            schedule.cron
        ));
    }
    let minute = numeric(&expand(&minute, &MINUTE)?, &MINUTE);
    let hour = numeric(&expand(&hour, &HOUR)?, &HOUR);
    let month = numeric(&expand(&month, &MONTH)?, &MONTH);
    let (day_of_month, day_of_week) = if day_of_week == "*" {
        (
            numeric(&expand(&day_of_month, &DAY_OF_MONTH)?, &DAY_OF_MONTH),
            "?".to_owned(),
        )
    } else {
        let days: BTreeSet<u32> = expand(&day_of_week, &DAY_OF_WEEK)?
            .into_iter()
            .map(|d| d % 7)
            .collect();
        ("?".to_owned(), day_names(&days))
    };
    let expression = format!("cron({minute} {hour} {day_of_month} {month} {day_of_week} *)");
    if expression.len() > MAX_EXPRESSION {
        return Err(format!(
            "'{}' becomes {expression}, longer than EventBridge Scheduler's \
             {MAX_EXPRESSION} characters",
            schedule.cron
        ));
    }
    Ok(expression)
}

/// The values `text` names in `field`: a comma list of `*`, `N`, `N-M`, each with an optional
/// `/STEP` (a lone `N/STEP`, which validation's parser refuses, would be N alone).
fn expand(text: &str, field: &Field) -> Result<BTreeSet<u32>, String> {
    let mut out = BTreeSet::new();
    for item in text.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => {
                let step: u32 =
                    step.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        format!("the {} step {step:?} is not a number", field.name)
                    })?;
                (base, step)
            }
            None => (item, 1),
        };
        let (from, to) = if base == "*" {
            (field.min, field.last)
        } else if let Some((a, b)) = base.split_once('-') {
            (value(a, field)?, value(b, field)?)
        } else {
            let start = value(base, field)?;
            (start, start)
        };
        if from > to {
            return Err(format!(
                "the {} range {base:?} runs backwards, which EventBridge Scheduler cannot \
                 express",
                field.name
            ));
        }
        out.extend((from..=to).step_by(step as usize));
    }
    Ok(out)
}

/// One value of `field`, a number or a name.
fn value(text: &str, field: &Field) -> Result<u32, String> {
    let named = field
        .names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(text))
        .and_then(|i| u32::try_from(i).ok())
        .map(|i| i + field.first_name);
    named
        .or_else(|| text.parse().ok())
        .filter(|v| (field.min..=field.max).contains(v))
        .ok_or_else(|| {
            format!(
                "{text:?} is not a {} ({}-{})",
                field.name, field.min, field.max
            )
        })
}

/// `values` of `field` as EventBridge writes them: `*` for all, `START/STEP` for a step that
/// runs to the field's end, else ranges (three values or more) and single values.
fn numeric(values: &BTreeSet<u32>, field: &Field) -> String {
    let all = field.max - field.min + 1;
    if values.len() == all as usize {
        return "*".into();
    }
    let list: Vec<u32> = values.iter().copied().collect();
    if let [first, second, third, ..] = list[..] {
        let step = second - first;
        let progression = step > 1
            && third - second == step
            && list.windows(2).all(|w| w[1] - w[0] == step)
            && list.last().is_some_and(|last| last + step > field.max);
        if progression {
            return format!("{first}/{step}");
        }
    }
    runs(&list)
        .into_iter()
        .map(|(a, b)| match b - a {
            0 => a.to_string(),
            1 => format!("{a},{b}"),
            _ => format!("{a}-{b}"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Days of the week (0 Sunday to 6 Saturday) by name: `*` for all, ranges of three days or
/// more (`MON-FRI`), single days.
fn day_names(days: &BTreeSet<u32>) -> String {
    if days.len() == DAYS.len() {
        return "*".into();
    }
    let list: Vec<u32> = days.iter().copied().collect();
    let name = |d: u32| DAYS[d as usize % DAYS.len()];
    runs(&list)
        .into_iter()
        .map(|(a, b)| match b - a {
            0 => name(a).to_owned(),
            1 => format!("{},{}", name(a), name(b)),
            _ => format!("{}-{}", name(a), name(b)),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The runs of consecutive values in sorted `values`, as (first, last).
fn runs(values: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &v in values {
        match out.last_mut() {
            Some((_, last)) if *last + 1 == v => *last = v,
            _ => out.push((v, v)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eventbridge(cron: &str) -> Result<String, String> {
        expression(&Schedule::parse(cron, None).unwrap())
    }

    #[test]
    fn unix_cron_becomes_eventbridge_cron() {
        let cases = [
            ("0 3 * * *", "cron(0 3 * * ? *)"),
            ("*/15 * * * *", "cron(0/15 * * * ? *)"),
            ("5-59/20 * * * *", "cron(5/20 * * * ? *)"),
            ("0 9-17 * * MON-FRI", "cron(0 9-17 ? * MON-FRI *)"),
            // Unix numbers the days from Sunday 0; EventBridge from Sunday 1: names say both.
            ("0 9 * * 1-5", "cron(0 9 ? * MON-FRI *)"),
            ("0 9 * * 0", "cron(0 9 ? * SUN *)"),
            ("0 9 * * 7", "cron(0 9 ? * SUN *)"),
            ("0 9 * * 5-7", "cron(0 9 ? * SUN,FRI,SAT *)"),
            // A step over days has no EventBridge form: the days are listed.
            ("0 9 * * 1-6/2", "cron(0 9 ? * MON,WED,FRI *)"),
            ("0 9 * * */2", "cron(0 9 ? * SUN,TUE,THU,SAT *)"),
            ("0 0 1 * *", "cron(0 0 1 * ? *)"),
            ("0 0 */2 * *", "cron(0 0 1/2 * ? *)"),
            ("0 0 1,15 JAN,JUL *", "cron(0 0 1,15 1,7 ? *)"),
            ("30 2 * 3-5 *", "cron(30 2 * 3-5 ? *)"),
            ("0,30 8,9 * * *", "cron(0,30 8,9 * * ? *)"),
            ("0 0-23/6 * * *", "cron(0 0/6 * * ? *)"),
            ("0 1-10/3 * * *", "cron(0 1,4,7,10 * * ? *)"),
            ("@daily", "cron(0 0 * * ? *)"),
            ("@hourly", "cron(0 * * * ? *)"),
            ("@weekly", "cron(0 0 ? * SUN *)"),
            ("@monthly", "cron(0 0 1 * ? *)"),
            ("@yearly", "cron(0 0 1 1 ? *)"),
        ];
        for (cron, want) in cases {
            assert_eq!(eventbridge(cron).as_deref(), Ok(want), "{cron}");
        }
    }

    #[test]
    fn both_days_restricted_has_no_eventbridge_form() {
        let e = eventbridge("0 3 1 * MON").unwrap_err();
        assert!(
            e.contains("both the day of month and the day of week"),
            "{e}"
        );
    }

    #[test]
    fn every_expression_has_six_fields_and_one_question_mark_in_the_day_fields() {
        for cron in [
            "* * * * *",
            "59 23 31 12 *",
            "0 0 * * SAT",
            "1-59/2 */3 * */4 *",
        ] {
            let e = eventbridge(cron).unwrap();
            let inner = e.trim_start_matches("cron(").trim_end_matches(')');
            let fields: Vec<&str> = inner.split(' ').collect();
            assert_eq!(fields.len(), 6, "{e}");
            assert!((fields[2] == "?") != (fields[4] == "?"), "{e}");
            assert!(!fields[4].contains('/'), "{e}");
        }
    }
}
