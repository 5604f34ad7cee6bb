//! A job's schedule: a five-field cron expression read in an IANA time zone, checked the way
//! every provider's scheduler will read it (Kubernetes CronJob, EventBridge Scheduler, Cloud
//! Scheduler and Container Apps all take standard cron; none takes seconds, years or the
//! Quartz extensions), and iterated to count the runs a month brings.

use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// A schedule Ferry accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The cron expression as the user wrote it, fields separated by single spaces.
    pub cron: String,
    /// The IANA time zone it is read in.
    pub time_zone: String,
}

/// Why a schedule was refused, for the field it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleError {
    /// `spec.schedule` or `spec.timeZone`.
    pub field: &'static str,
    /// What is wrong and what would be accepted.
    pub message: String,
}

const NICKNAMES: [&str; 6] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@hourly",
];

impl Schedule {
    /// Parses `cron` in `time_zone` (default `Etc/UTC`).
    pub fn parse(cron: &str, time_zone: Option<&str>) -> Result<Self, ScheduleError> {
        let cron = normalize(cron)?;
        parser().parse(&cron).map_err(|e| ScheduleError {
            field: "spec.schedule",
            message: format!("{cron:?} is not a cron expression Ferry can read: {e}"),
        })?;
        let time_zone = time_zone.unwrap_or(ferry_api::ServerlessJobSpec::DEFAULT_TIME_ZONE);
        TimeZone::get(time_zone).map_err(|_| ScheduleError {
            field: "spec.timeZone",
            message: format!(
                "{time_zone:?} is not a time zone of the IANA database: write one such as \
                 Etc/UTC, Europe/Berlin or America/New_York"
            ),
        })?;
        Ok(Self {
            cron,
            time_zone: time_zone.to_owned(),
        })
    }

    /// The five fields (minute, hour, day of month, month, day of week), a nickname spelt
    /// out.
    pub fn fields(&self) -> [String; 5] {
        let spelt = match self.cron.as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let mut out: [String; 5] = Default::default();
        for (slot, field) in out.iter_mut().zip(spelt.split(' ')) {
            field.clone_into(slot);
        }
        out
    }

    /// The times the schedule fires in `[from, until)`, at most `limit` of them.
    pub fn fires(&self, from: Timestamp, until: Timestamp, limit: usize) -> Vec<Timestamp> {
        let (Ok(cron), Ok(zone)) = (parser().parse(&self.cron), TimeZone::get(&self.time_zone))
        else {
            return Vec::new();
        };
        let start = from.to_zoned(zone);
        let mut out = Vec::new();
        let mut next = cron.find_next_occurrence(&start, true).ok();
        while let Some(at) = next {
            if at.timestamp() >= until || out.len() >= limit {
                break;
            }
            out.push(at.timestamp());
            next = cron.find_next_occurrence(&at, false).ok();
        }
        out
    }

    /// How many runs a month brings: the fires in the 730 hours (Ferry's month, as in every
    /// monthly figure) from 2027-01-01T00:00Z.
    pub fn runs_per_month(&self) -> usize {
        const MONTH_SECONDS: i64 = 730 * 3600;
        let from = Timestamp::from_second(1_798_761_600).unwrap_or(Timestamp::UNIX_EPOCH);
        let until = Timestamp::from_second(1_798_761_600 + MONTH_SECONDS).unwrap_or(from);
        self.fires(from, until, 50_000).len()
    }
}

fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .dom_and_dow(false)
        .build()
}

/// Checks what every provider's scheduler reads alike, and joins the fields with single
/// spaces.
fn normalize(cron: &str) -> Result<String, ScheduleError> {
    let refuse = |message: String| ScheduleError {
        field: "spec.schedule",
        message,
    };
    let trimmed = cron.trim();
    if trimmed.starts_with('@') {
        return if NICKNAMES.contains(&trimmed) {
            Ok(trimmed.to_owned())
        } else {
            Err(refuse(format!(
                "{trimmed:?} is not a schedule nickname: use @hourly, @daily, @weekly, \
                 @monthly or @yearly, or five cron fields"
            )))
        };
    }
    let fields: Vec<&str> = trimmed.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(refuse(format!(
            "needs five cron fields (minute hour day-of-month month day-of-week, e.g. \
             '0 3 * * *'); got {} in {trimmed:?}",
            fields.len()
        )));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '*' | ',' | '-' | '/');
    if let Some(bad) = trimmed.chars().find(|&c| !allowed(c) && !c.is_whitespace()) {
        return Err(refuse(format!(
            "{bad:?} is not portable cron: a field takes numbers, names (JAN, MON), '*', \
             ',', '-' and '/' only (not the Quartz '?', 'L', 'W' or '#')"
        )));
    }
    for (field, name) in fields
        .iter()
        .zip(["minute", "hour", "day-of-month", "month"])
    {
        if field.chars().any(|c| c.is_ascii_alphabetic()) && name != "month" {
            return Err(refuse(format!(
                "the {name} field {field:?} takes numbers only (the Quartz 'L' and 'W' are \
                 not portable)"
            )));
        }
    }
    let ranges = [
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day-of-month", 1, 31),
        ("month", 1, 12),
        ("day-of-week", 0, 7),
    ];
    for (field, (name, low, high)) in fields.iter().zip(ranges) {
        // Steps (`*/15`) are counts, not values of the field.
        let values = field
            .split(',')
            .map(|part| part.split('/').next().unwrap_or_default())
            .flat_map(|range| range.split('-'))
            .filter_map(|value| value.parse::<u32>().ok());
        if let Some(bad) = values.into_iter().find(|v| !(low..=high).contains(v)) {
            return Err(refuse(format!(
                "the {name} field takes {low} to {high}; got {bad} in {field:?}"
            )));
        }
    }
    Ok(fields.join(" "))
}

/// Whether `cron` (already accepted) restricts both the day of month and the day of week,
/// which standard cron reads as "either", and some schedulers (EventBridge) cannot express.
pub fn restricts_both_days(schedule: &Schedule) -> bool {
    let fields = schedule.fields();
    fields[2] != "*" && fields[4] != "*"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_fields_and_nicknames_are_accepted() {
        for cron in [
            "0 3 * * *",
            "*/15 9-17 * * MON-FRI",
            "0 0 1 JAN *",
            "@daily",
        ] {
            assert!(Schedule::parse(cron, None).is_ok(), "{cron}");
        }
        let s = Schedule::parse("  0   3 * *  * ", Some("Europe/Berlin")).unwrap();
        assert_eq!(s.cron, "0 3 * * *");
        assert_eq!(s.time_zone, "Europe/Berlin");
    }

    #[test]
    fn what_a_provider_cannot_read_is_refused_naming_the_field() {
        let cases = [
            ("0 3 * *", "spec.schedule", "five cron fields"),
            ("0 0 3 * * *", "spec.schedule", "got 6"),
            ("0 3 ? * *", "spec.schedule", "Quartz"),
            ("0 3 L * *", "spec.schedule", "numbers only"),
            ("0 3 * * 5#2", "spec.schedule", "Quartz"),
            (
                "61 3 * * *",
                "spec.schedule",
                "the minute field takes 0 to 59; got 61",
            ),
            (
                "0 3 0 * *",
                "spec.schedule",
                "the day-of-month field takes 1 to 31; got 0",
            ),
            (
                "0 3 * 1-13 *",
                "spec.schedule",
                "the month field takes 1 to 12; got 13",
            ),
            ("@every 5m", "spec.schedule", "nickname"),
        ];
        for (cron, field, fragment) in cases {
            let e = Schedule::parse(cron, None).unwrap_err();
            assert_eq!(e.field, field, "{cron}");
            assert!(e.message.contains(fragment), "{cron}: {}", e.message);
        }
        let e = Schedule::parse("0 3 * * *", Some("Mars/Olympus")).unwrap_err();
        assert_eq!(e.field, "spec.timeZone");
        assert!(e.message.contains("IANA"), "{}", e.message);
    }

    #[test]
    fn runs_per_month_counts_fires_in_730_hours() {
        let count = |cron: &str| Schedule::parse(cron, None).unwrap().runs_per_month();
        assert_eq!(count("0 3 * * *"), 31); // 30 days and 10 hours from midnight: 31 at 03:00
        assert_eq!(count("@hourly"), 730);
        assert_eq!(count("*/15 * * * *"), 2920);
        assert_eq!(count("0 0 1 * *"), 1);
    }

    #[test]
    fn fires_are_read_in_the_time_zone() {
        let s = Schedule::parse("0 3 * * *", Some("Europe/Berlin")).unwrap();
        let from: Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
        let until: Timestamp = "2027-01-03T00:00:00Z".parse().unwrap();
        let fires: Vec<String> = s
            .fires(from, until, 10)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(fires, ["2027-01-01T02:00:00Z", "2027-01-02T02:00:00Z"]);
    }

    #[test]
    fn both_days_restricted_is_told_apart() {
        let both = Schedule::parse("0 3 1 * MON", None).unwrap();
        let one = Schedule::parse("0 3 * * MON", None).unwrap();
        assert!(restricts_both_days(&both));
        assert!(!restricts_both_days(&one));
    }
}
