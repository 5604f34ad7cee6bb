//! Stopping the operator in bounded time. A stop can arrive at any moment: before the
//! operator leads, while its watches list, during reconciles. Every wait of the start-up races
//! the stop signal ([`unless_stopped`]); reconciles in flight are counted ([`InFlight`]) so a
//! shutdown waits for them only while there are some, and never longer than the grace.

use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::watch;

/// How long releasing the leader Lease may take before the process exits without it (the Lease
/// then expires on its own).
pub const LEASE_RELEASE_TIMEOUT: Duration = Duration::from_secs(3);

/// The longest a stop may take once signalled: the grace for reconciles in flight, releasing
/// the Lease, and a margin for the runtime's own shutdown. Past it the process exits anyway, so
/// a pod's `terminationGracePeriodSeconds` must be at least this.
pub fn bound(grace: Duration) -> Duration {
    grace + LEASE_RELEASE_TIMEOUT + Duration::from_secs(2)
}

/// Resolves once `stop` reads true; a dropped sender counts as a stop.
pub async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// `work`'s output, or `None` when the stop came first (`work` is dropped then).
pub async fn unless_stopped<T>(
    stop: &watch::Receiver<bool>,
    work: impl Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        biased;
        () = stopped(stop.clone()) => None,
        out = work => Some(out),
    }
}

/// Reconciles running now, as a count a shutdown can wait on and as the `in_flight` gauge.
#[derive(Debug)]
pub struct InFlight {
    count: watch::Sender<usize>,
    gauge: Gauge,
}

impl InFlight {
    /// Counts into `gauge` as well.
    pub fn new(gauge: Gauge) -> Self {
        Self {
            count: watch::Sender::new(0),
            gauge,
        }
    }

    /// Counts one reconcile until the guard drops, which it also does when the reconcile is
    /// cancelled at a forced shutdown.
    pub fn enter(&self) -> InFlightGuard<'_> {
        self.count.send_modify(|n| *n += 1);
        self.gauge.inc();
        InFlightGuard(self)
    }

    /// How many run now.
    pub fn count(&self) -> usize {
        *self.count.borrow()
    }

    /// Resolves when none runs.
    pub async fn idle(&self) {
        let mut count = self.count.subscribe();
        let _ = count.wait_for(|n| *n == 0).await;
    }

    /// Resolves when none runs, or after `grace`; says whether reconciles were still running.
    pub async fn drain(&self, grace: Duration) -> bool {
        tokio::time::timeout(grace, self.idle()).await.is_err()
    }
}

/// One reconcile in flight (see [`InFlight::enter`]).
#[derive(Debug)]
pub struct InFlightGuard<'a>(&'a InFlight);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.count.send_modify(|n| *n = n.saturating_sub(1));
        self.0.gauge.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn draining_waits_for_reconciles_in_flight_but_no_longer_than_the_grace() {
        let in_flight = InFlight::new(Gauge::default());
        assert!(!in_flight.drain(Duration::from_secs(5)).await, "none runs");

        let guard = in_flight.enter();
        let started = tokio::time::Instant::now();
        assert!(
            in_flight.drain(Duration::from_secs(5)).await,
            "one still runs"
        );
        assert_eq!(started.elapsed(), Duration::from_secs(5));

        let (done, wait) = tokio::join!(
            async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                drop(guard);
            },
            in_flight.drain(Duration::from_secs(5)),
        );
        let () = done;
        assert!(!wait, "the reconcile ended within the grace");
        assert_eq!(in_flight.count(), 0);
    }

    #[tokio::test]
    async fn a_cancelled_reconcile_is_no_longer_counted() {
        let gauge = Gauge::default();
        let in_flight = std::sync::Arc::new(InFlight::new(gauge.clone()));
        let counted = in_flight.clone();
        let task = tokio::spawn(async move {
            let _guard = counted.enter();
            std::future::pending::<()>().await;
        });
        while in_flight.count() == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(gauge.get(), 1);
        task.abort();
        let _ = task.await;
        assert_eq!(in_flight.count(), 0);
        assert_eq!(gauge.get(), 0);
    }

    #[tokio::test]
    async fn work_gives_way_to_a_stop_that_came_before_or_during_it() {
        let (tx, rx) = watch::channel(false);
        assert_eq!(unless_stopped(&rx, async { 7 }).await, Some(7));
        let pending = unless_stopped(&rx, std::future::pending::<u8>());
        let (out, ()) = tokio::join!(pending, async {
            tx.send_replace(true);
        });
        assert_eq!(out, None);
        assert_eq!(
            unless_stopped(&rx, async { 7 }).await,
            None,
            "stop came first"
        );
    }
}
