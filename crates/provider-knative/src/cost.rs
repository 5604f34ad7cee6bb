//! What a service costs on Knative: pods on the cluster's own nodes, billed like Cloud Run's
//! instance-based model (busy pods, plus minimum pods all month) at the node price the user
//! gives in the `knative` section of the price table. Ferry ships no Knative price: only the
//! user knows what their nodes cost.

use ferry_api::ScalingMetric;
use ferry_core::backend::EstimateInput;
use ferry_core::cost::model::{Load, Priced, cap, float, instance_note, used};
use ferry_core::cost::prices;
use ferry_core::cost::{Breakdown, Figure, SECONDS_PER_MONTH, Usd};
use ferry_core::quantity::{format_bytes, format_cores};
use serde_json::Value;

/// This provider's section of the price table.
pub const SECTION: &str = "knative";
/// The entries Ferry ships: none (see the file).
pub const EMBEDDED: &str = include_str!("../prices.yaml");
/// Knative's default concurrency target per pod (`container-concurrency-target-default`).
pub const DEFAULT_TARGET: u32 = 100;

const GIB: u64 = 1 << 30;

/// What is wrong with the figures of `entries` (the price table's `knative` section).
pub(crate) fn check_prices(entries: &[Value]) -> Vec<String> {
    prices::check_node_prices(SECTION, entries)
}

/// Knative: pods on the cluster's nodes, at the user's node price.
pub(crate) fn estimate(input: &EstimateInput<'_>) -> Priced {
    let EstimateInput {
        shape,
        traffic,
        prices,
        region,
        ..
    } = *input;
    let mut assumptions = Vec::new();
    if shape.gpu() {
        return Priced::unavailable(
            "GPU nodes are not priced: the price table has no Knative GPU price",
            assumptions,
        );
    }
    let (cpu_millis, memory_bytes) =
        shape.instance_size("Ferry cannot know the cluster's defaults", &mut assumptions);
    let min = shape.min.unwrap_or(0);
    let limit = shape.concurrency.unwrap_or_else(|| match shape.metric {
        None | Some(ScalingMetric::Concurrency) => shape.target.unwrap_or(DEFAULT_TARGET),
        _ => DEFAULT_TARGET,
    });
    let load = Load::of(traffic);
    let uncapped = if shape.metric == Some(ScalingMetric::Rps)
        && let Some(target) = shape.target
    {
        // Pods the autoscaler keeps: requests per second over the target per pod.
        load.requests / f64::from(target)
    } else {
        load.busy(traffic, limit).0
    };
    let (busy, cap_assumption) = cap(uncapped, shape.max);
    assumptions.extend(cap_assumption);
    let idle_seconds = (f64::from(min) * SECONDS_PER_MONTH - busy).max(0.0);
    let resources = format!(
        "{} vCPU, {}",
        format_cores(cpu_millis),
        format_bytes(memory_bytes)
    );
    if busy <= 0.0 && idle_seconds <= 0.0 {
        // Nothing runs, whatever the nodes cost.
        return Priced {
            figure: Figure::priced(Breakdown::default()),
            note: instance_note(0.0, 0.0, 0, &resources, "pod", None, ""),
            assumptions,
            prices: Vec::new(),
        };
    }
    let (p, vcpu_hour, gb_hour) =
        match prices::node_price(prices, SECTION, region, "Knative", &mut assumptions) {
            Ok(found) => found,
            Err(why) => return Priced::unavailable(why, assumptions),
        };
    let vcpu = float(cpu_millis) / 1000.0;
    let gb = float(memory_bytes) / float(GIB);
    let per_second = |rate: f64| rate / 3600.0;
    let breakdown = Breakdown {
        compute: Usd::from_dollars(busy * vcpu * per_second(vcpu_hour)),
        memory: Usd::from_dollars(busy * gb * per_second(gb_hour)),
        idle_minimum: Usd::from_dollars(
            idle_seconds * (vcpu * per_second(vcpu_hour) + gb * per_second(gb_hour)),
        ),
        ..Breakdown::default()
    };
    assumptions.push(
        "pods are billed for what they request; the queue-proxy sidecar, Knative's own \
         components and idle node capacity are not counted"
            .into(),
    );
    Priced {
        figure: Figure::priced(breakdown),
        note: instance_note(
            busy,
            idle_seconds,
            min,
            &resources,
            "pod",
            None,
            &format!("{} node prices", p.region),
        ),
        assumptions,
        prices: vec![used(
            &p.region,
            "nodes",
            &p.source,
            &p.read,
            p.note.as_ref(),
        )],
    }
}
