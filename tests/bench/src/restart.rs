//! `--restart`: once the fleet has converged and idled, the operator is stopped as a rollout
//! stops it (SIGTERM, so it releases its Lease) and a new one starts at once. The new one lists
//! everything and reconciles every object again; a restart should cost nothing but reads. The
//! benchmark reports how long until the new operator had reconciled every object and the
//! writes it made meanwhile, to the API server and to the cloud (goal 0 and 0).

use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::cloud::{Cloud, CloudPhase};
use crate::{Error, OPERATOR, PhaseCalls};

/// The figures of a restart.
#[derive(Debug, Serialize)]
pub(crate) struct RestartReport {
    /// From the old operator's SIGTERM until it exited.
    pub(crate) stop_seconds: f64,
    /// From the new operator's start until it had reconciled every object once.
    pub(crate) steady_seconds: f64,
    /// The new operator's API calls until then, and for the settle after.
    pub(crate) operator: PhaseCalls,
    /// Its cloud calls over the same window.
    pub(crate) cloud: Option<CloudPhase>,
}

impl RestartReport {
    /// Writes to objects or to the cloud (goal 0).
    pub(crate) fn writes(&self) -> u64 {
        self.operator.operator.object_writes() + self.cloud.as_ref().map_or(0, |c| c.calls.writes)
    }
}

/// Restarts `operator` (replacing it with the new one) and measures until the new one has
/// reconciled `count` objects and written nothing for a while.
pub(crate) async fn run(
    operator: &mut e2e::Operator,
    start: impl Fn() -> Result<e2e::Operator, Error>,
    audit: &std::path::Path,
    cloud: Option<&Cloud>,
    count: usize,
) -> Result<RestartReport, Error> {
    // What the phases before still had in flight (the last changes' status writes) is not
    // the restart's.
    crate::settle(
        audit,
        cloud,
        Duration::from_secs(2),
        Duration::from_secs(60),
    )
    .await;
    let mark = crate::audit_mark(audit);
    let window_start = SystemTime::now();
    let stopping = Instant::now();
    let stopped = operator
        .terminate(Duration::from_secs(30))
        .await
        .map_err(|e| Error::Other(format!("stopping the operator: {e}")))?;
    if !stopped {
        return Err(Error::Other(
            "the operator did not stop within 30 s of SIGTERM".into(),
        ));
    }
    let stop_seconds = stopping.elapsed().as_secs_f64();
    *operator = start()?;
    let started = Instant::now();
    let limit = Duration::from_secs(600);
    let wanted = f64::from(u32::try_from(count).unwrap_or(u32::MAX));
    loop {
        let done = operator
            .metric("ferry_reconciles_total{result=\"ok\"}")
            .await
            .map_err(|e| Error::Other(format!("the restarted operator's metrics: {e}")))?;
        if done >= wanted {
            break;
        }
        if started.elapsed() > limit {
            return Err(Error::Other(format!(
                "the restarted operator reconciled {done} of {count} objects in {limit:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let steady_seconds = started.elapsed().as_secs_f64();
    // Anything the restart wrote would come with its reconciles; a quiet spell after them
    // catches a late write.
    crate::settle(
        audit,
        cloud,
        Duration::from_secs(2),
        Duration::from_secs(60),
    )
    .await;
    let records =
        kube_standin::audit::read(audit).map_err(|e| Error::Other(format!("audit log: {e}")))?;
    let n = u64::try_from(count).unwrap_or(u64::MAX);
    let calls = crate::stats::calls_of(crate::slice(&records, mark, records.len()), OPERATOR);
    Ok(RestartReport {
        stop_seconds,
        steady_seconds,
        operator: crate::phase(calls, n),
        cloud: cloud.map(|c| c.phase((window_start, SystemTime::now()), n)),
    })
}
