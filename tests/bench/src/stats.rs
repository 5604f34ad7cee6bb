//! The arithmetic of the figures, kept pure: percentiles, a process's memory and CPU from
//! `/proc`, and API calls counted from the stand-in's audit records.

use std::collections::BTreeMap;
use std::time::Duration;

use kube_standin::audit::Record;
use serde::Serialize;

/// The `p`-th percentile (0-100) of `samples` by the nearest-rank method; `None` when empty.
pub(crate) fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    // Nearest rank: the smallest value with at least p% of samples at or below it.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Resident and peak resident memory, in KiB, from the text of `/proc/PID/status`.
pub(crate) fn memory_kib(status: &str) -> Option<(u64, u64)> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// User plus system CPU time from the text of `/proc/PID/stat` (clock ticks of 1/100 s, the
/// `USER_HZ` Linux reports on every architecture Ferry runs on).
pub(crate) fn cpu_time(stat: &str) -> Option<Duration> {
    // The command name (field 2) may hold spaces; fields are counted after its closing ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// One timed change: the object, and when the benchmark sent it and saw it at the backend
/// (microseconds since the Unix epoch; the stand-in's audit records use the same clock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Timed {
    pub(crate) name: String,
    pub(crate) sent_us: u64,
    pub(crate) seen_us: Option<u64>,
}

/// Where one timed change's time went, from the API server's audit records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Split {
    /// From the benchmark sending the change to the server having stored it: the benchmark's
    /// client and the write itself.
    pub(crate) send: Duration,
    /// From the change's write being done to the operator's write of the backend object
    /// arriving: the watch event's way to the operator, its wait in the controller's queue and
    /// the reconcile.
    pub(crate) to_write: Duration,
    /// From the change's write being done to the operator's read of the backend object from
    /// the server, when it read it there at all (its watch cache usually answers).
    pub(crate) read: Option<Duration>,
    /// The backend write at the server.
    pub(crate) write: Duration,
    /// From that write being stored to the benchmark's watch seeing it.
    pub(crate) delivery: Duration,
}

/// The split of each change in `changes` (in the order `user` made them) into [`Split`]s,
/// reading how `operator` wrote (and perhaps first read) the backend object of the same name in
/// `backend` (`group`, `resource`). A change not seen, or whose records are missing, is left
/// out.
pub(crate) fn splits(
    records: &[Record],
    changes: &[Timed],
    user: &str,
    operator: &str,
    backend: (&str, &str),
) -> Vec<Split> {
    let end = |r: &Record| r.at_us + r.took_us;
    let first = |after: u64, pick: &dyn Fn(&Record) -> bool| {
        records
            .iter()
            .filter(|r| r.at_us >= after && !r.implied && pick(r))
            .min_by_key(|r| r.at_us)
    };
    let mut cursor = 0;
    let mut out = Vec::new();
    for Timed {
        name,
        sent_us,
        seen_us,
    } in changes
    {
        let of = |r: &Record, who: &str, resource: (&str, &str), verb: &str| {
            let a = &r.attributes;
            a.user == who
                && (a.api_group.as_str(), a.resource.as_str()) == resource
                && a.subresource.is_empty()
                && a.name == *name
                && a.verb == verb
        };
        let ssvs = ("ferry.dev", "serverlessservices");
        let Some(change) = first(cursor, &|r| of(r, user, ssvs, "patch")) else {
            continue;
        };
        cursor = change.at_us + 1;
        let Some(write) = first(end(change), &|r| of(r, operator, backend, "patch")) else {
            continue;
        };
        let read = first(end(change), &|r| of(r, operator, backend, "get"))
            .filter(|read| read.at_us < write.at_us);
        let Some(seen_us) = seen_us else { continue };
        let since_stored = |at_us: u64| Duration::from_micros(at_us.saturating_sub(end(change)));
        out.push(Split {
            send: Duration::from_micros(end(change).saturating_sub(*sent_us)),
            delivery: Duration::from_micros(seen_us.saturating_sub(end(write))),
            to_write: since_stored(write.at_us),
            read: read.map(|r| since_stored(r.at_us)),
            write: Duration::from_micros(write.took_us),
        });
    }
    out
}

/// API calls of one caller in one phase, by kind of call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Calls {
    /// create, update, patch, delete, deletecollection (an apply that creates counts once).
    pub(crate) writes: u64,
    /// get and list.
    pub(crate) reads: u64,
    /// Watch requests (each opens or resumes a stream).
    pub(crate) watches: u64,
    /// Writes by resource (`leases`, `serverlessservices/status`, ...).
    pub(crate) writes_by_resource: BTreeMap<String, u64>,
}

impl Calls {
    /// Writes other than Lease renewals: what objects cost (leader election renews its Lease
    /// every few seconds whatever the objects do).
    pub(crate) fn object_writes(&self) -> u64 {
        self.writes - self.writes_by_resource.get("leases").copied().unwrap_or(0)
    }
}

/// The calls `user` made among `records`.
pub(crate) fn calls_of(records: &[Record], user: &str) -> Calls {
    let mut calls = Calls::default();
    for r in records
        .iter()
        .filter(|r| r.attributes.user == user && r.attributes.resource_request && !r.implied)
    {
        let a = &r.attributes;
        match a.verb.as_str() {
            "get" | "list" => calls.reads += 1,
            "watch" => calls.watches += 1,
            "create" | "update" | "patch" | "delete" | "deletecollection" => {
                calls.writes += 1;
                let resource = if a.subresource.is_empty() {
                    a.resource.clone()
                } else {
                    format!("{}/{}", a.resource, a.subresource)
                };
                *calls.writes_by_resource.entry(resource).or_default() += 1;
            }
            _ => {}
        }
    }
    calls
}

/// `count / per`, or 0 when `per` is 0.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn ratio(count: u64, per: u64) -> f64 {
    if per == 0 {
        0.0
    } else {
        count as f64 / per as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;
    use kube_standin::audit::attributes;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&samples, 50.0), Some(ms(50)));
        assert_eq!(percentile(&samples, 99.0), Some(ms(99)));
        assert_eq!(percentile(&samples, 100.0), Some(ms(100)));
        assert_eq!(percentile(&[ms(7), ms(3), ms(5)], 50.0), Some(ms(5)));
        assert_eq!(percentile(&[ms(7)], 99.0), Some(ms(7)));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn memory_and_cpu_from_proc() {
        let status = "Name:\tferry\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t5\n";
        assert_eq!(memory_kib(status), Some((40960, 51200)));
        assert_eq!(memory_kib("Name:\tferry\n"), None);
        // pid (comm with a space) state ppid ... utime=250 stime=50
        let stat = "4242 (ferry ctl) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 8 0";
        assert_eq!(cpu_time(stat), Some(ms(3000)));
        assert_eq!(cpu_time("garbage"), None);
    }

    #[test]
    fn a_change_is_split_at_the_operators_write_of_the_backend_and_any_read_before() {
        let ssv = "/apis/ferry.dev/v1alpha1/namespaces/b/serverlessservices";
        let ksvc = "/apis/serving.knative.dev/v1/namespaces/b/services";
        let record = |user: &str, method: Method, path: String, at_us: u64, took_us: u64| Record {
            attributes: attributes(user.to_owned(), &method, &path, false),
            code: 200,
            implied: false,
            at_us,
            took_us,
        };
        let records = [
            // Before the change: not counted.
            record("op", Method::GET, format!("{ksvc}/a"), 500, 10),
            record("user", Method::PATCH, format!("{ssv}/a"), 1_000, 200),
            record("op", Method::GET, format!("{ksvc}/other"), 1_500, 10),
            record("op", Method::PATCH, format!("{ksvc}/a"), 9_000, 700),
            record("op", Method::GET, format!("{ksvc}/a"), 5_200, 300),
            // The second change of the same object: its own split.
            record("user", Method::PATCH, format!("{ssv}/a"), 20_000, 100),
            record("op", Method::GET, format!("{ksvc}/a"), 20_400, 100),
            record("op", Method::PATCH, format!("{ksvc}/a"), 20_600, 50),
            // A change the operator never acted on.
            record("user", Method::PATCH, format!("{ssv}/z"), 30_000, 100),
            // One the operator wrote without reading the object from the server.
            record("user", Method::PATCH, format!("{ssv}/c"), 40_000, 100),
            record("op", Method::PATCH, format!("{ksvc}/c"), 40_500, 50),
            record("op", Method::GET, format!("{ksvc}/c"), 41_000, 10),
        ];
        let timed = |name: &str, sent_us, seen_us| Timed {
            name: name.to_owned(),
            sent_us,
            seen_us,
        };
        let changes = [
            timed("a", 900, Some(9_800)),
            timed("a", 19_990, Some(20_700)),
            timed("z", 29_000, Some(31_000)),
            timed("c", 39_990, Some(40_600)),
        ];
        let us = Duration::from_micros;
        assert_eq!(
            splits(
                &records,
                &changes,
                "user",
                "op",
                ("serving.knative.dev", "services")
            ),
            [
                Split {
                    send: us(300),
                    to_write: us(7_800),
                    read: Some(us(4_000)),
                    write: us(700),
                    delivery: us(100),
                },
                Split {
                    send: us(110),
                    to_write: us(500),
                    read: Some(us(300)),
                    write: us(50),
                    delivery: us(50),
                },
                Split {
                    send: us(110),
                    to_write: us(400),
                    read: None,
                    write: us(50),
                    delivery: us(50),
                },
            ]
        );
    }

    #[test]
    fn calls_are_counted_per_user_without_implied_creates() {
        let record = |user: &str, method: Method, path: &str, implied: bool| Record {
            attributes: attributes(user.to_owned(), &method, path, false),
            code: 200,
            implied,
            at_us: 0,
            took_us: 0,
        };
        let ssv = "/apis/ferry.dev/v1alpha1/namespaces/b/serverlessservices/a";
        let ksvc = "/apis/serving.knative.dev/v1/namespaces/b/services/a";
        let lease = "/apis/coordination.k8s.io/v1/namespaces/b/leases/ferry";
        let records = [
            record("op", Method::PATCH, &format!("{ssv}/status"), false),
            record("op", Method::PATCH, ksvc, false),
            record("op", Method::PATCH, ksvc, true),
            record("op", Method::PATCH, lease, false),
            record("op", Method::GET, ksvc, false),
            record(
                "op",
                Method::GET,
                "/apis/serving.knative.dev/v1/services",
                false,
            ),
            record("op", Method::GET, "/apis", false),
            record(
                "user",
                Method::POST,
                "/apis/ferry.dev/v1alpha1/namespaces/b/serverlessservices",
                false,
            ),
        ];
        let op = calls_of(&records, "op");
        assert_eq!((op.writes, op.reads, op.watches), (3, 2, 0));
        assert_eq!(op.object_writes(), 2);
        assert_eq!(op.writes_by_resource["serverlessservices/status"], 1);
        assert_eq!(calls_of(&records, "user").writes, 1);
        assert!((ratio(3, 2) - 1.5).abs() < f64::EPSILON);
        assert!(ratio(3, 0).abs() < f64::EPSILON);
    }
}
