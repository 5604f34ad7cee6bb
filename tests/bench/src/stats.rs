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
    fn calls_are_counted_per_user_without_implied_creates() {
        let record = |user: &str, method: Method, path: &str, implied: bool| Record {
            attributes: attributes(user.to_owned(), &method, path, false),
            code: 200,
            implied,
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
