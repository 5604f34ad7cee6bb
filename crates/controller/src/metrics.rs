//! Prometheus metrics: reconciles by result, reconcile duration, provider calls by backend,
//! operation and outcome, status writes, reconciles in flight and leadership. Labels come from
//! fixed categories, never from messages.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// `result` of a reconcile: `ok`, or an error category.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    /// `ok`, `kube`, `transient`, `terminal`, `auth`, `throttled`.
    pub result: &'static str,
}

/// One provider call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// `knative`, `fargate`, `cloudRun`.
    pub backend: &'static str,
    /// `connect`, `observe`, `create`, `update`, `delete`, `release`.
    pub operation: &'static str,
    /// `ok` or an error category.
    pub outcome: &'static str,
}

/// Every metric Ferry exports.
pub struct Metrics {
    registry: Registry,
    /// Reconciles by result.
    pub reconciles: Family<ReconcileLabels, Counter>,
    /// Reconcile duration, seconds.
    pub reconcile_duration: Histogram,
    /// Provider calls.
    pub provider_calls: Family<CallLabels, Counter>,
    /// Status writes to the API server.
    pub status_writes: Counter,
    /// Reconciles running now.
    pub in_flight: Gauge,
    /// 1 while this replica holds the leader lease.
    pub leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ferry");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        let reconcile_duration = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let provider_calls = Family::<CallLabels, Counter>::default();
        let status_writes = Counter::default();
        let in_flight = Gauge::default();
        let leader = Gauge::default();
        registry.register("reconciles", "Reconciles by result", reconciles.clone());
        registry.register(
            "reconcile_duration_seconds",
            "How long a reconcile took",
            reconcile_duration.clone(),
        );
        registry.register(
            "provider_calls",
            "Calls to provider backends by backend, operation and outcome",
            provider_calls.clone(),
        );
        registry.register(
            "status_writes",
            "Status writes to the API server",
            status_writes.clone(),
        );
        registry.register(
            "reconciles_in_flight",
            "Reconciles running now",
            in_flight.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader lease",
            leader.clone(),
        );
        Self {
            registry,
            reconciles,
            reconcile_duration,
            provider_calls,
            status_writes,
            in_flight,
            leader,
        }
    }
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_exported_with_the_ferry_prefix() {
        let m = Metrics::default();
        m.reconciles
            .get_or_create(&ReconcileLabels { result: "ok" })
            .inc();
        m.provider_calls
            .get_or_create(&CallLabels {
                backend: "knative",
                operation: "observe",
                outcome: "ok",
            })
            .inc();
        let text = m.encode();
        assert!(
            text.contains("ferry_reconciles_total{result=\"ok\"} 1"),
            "{text}"
        );
        assert!(text.contains("ferry_provider_calls_total{backend=\"knative\",operation=\"observe\",outcome=\"ok\"} 1"), "{text}");
        assert!(
            text.contains("ferry_reconcile_duration_seconds_bucket"),
            "{text}"
        );
    }
}
