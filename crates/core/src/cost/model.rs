//! What every provider's cost model shares: the spec's sizes and scaling parsed for billing
//! ([`Shape`]), the load a traffic profile means ([`Load`]), and the wording of notes and
//! assumptions. Each backend crate's model is pure arithmetic over these and its prices.

use ferry_api::{ScalingMetric, ServerlessServiceSpec};

use super::prices::Chosen;
use super::{Figure, HOURS_PER_MONTH, PriceUsed, SECONDS_PER_MONTH, Traffic};
use crate::quantity::Amount;

/// CPU a container that sets none counts as, where a model needs a size (Cloud Run's default).
pub const ASSUMED_CPU_MILLIS: u64 = 1000;
/// Memory a container that sets none counts as, where a model needs a size (Cloud Run's
/// default).
pub const ASSUMED_MEMORY_BYTES: u64 = 512 << 20;

/// What one provider's estimate found, before the comparison marks the cheapest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Priced {
    /// The figure, or why there is none.
    pub figure: Figure,
    /// One line: what drives the figure.
    pub note: String,
    /// What the figure assumes beyond the traffic profile.
    pub assumptions: Vec<String>,
    /// The price-table entries it used.
    pub prices: Vec<PriceUsed>,
}

impl Priced {
    /// No figure: `why` (also the note), with what was assumed on the way.
    pub fn unavailable(why: impl Into<String>, assumptions: Vec<String>) -> Self {
        let why = why.into();
        Self {
            note: why.clone(),
            figure: Figure::Unavailable { unavailable: why },
            assumptions,
            prices: Vec::new(),
        }
    }
}

/// One container's sizes, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// CPU, millicores.
    pub cpu_millis: Option<u64>,
    /// Memory, bytes.
    pub memory_bytes: Option<u64>,
    /// Ephemeral storage, bytes.
    pub storage_bytes: Option<u64>,
    /// Whether it asks for a GPU.
    pub gpu: bool,
}

/// The billing-relevant parts of a spec, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Each container's sizes.
    pub containers: Vec<Sizes>,
    /// `spec.scaling.minInstances`.
    pub min: Option<u32>,
    /// `spec.scaling.maxInstances`.
    pub max: Option<u32>,
    /// `spec.concurrency`, when above zero.
    pub concurrency: Option<u32>,
    /// `spec.scaling.metric`.
    pub metric: Option<ScalingMetric>,
    /// `spec.scaling.target`, when above zero.
    pub target: Option<u32>,
}

impl Shape {
    /// The shape of `spec`, or which size cannot be priced.
    pub fn of(spec: &ServerlessServiceSpec) -> Result<Self, String> {
        let mut containers = Vec::with_capacity(spec.containers.len());
        for (i, c) in spec.containers.iter().enumerate() {
            let r = c.resources.clone().unwrap_or_default();
            let path = format!("spec.containers[{i}].resources");
            let parse = |q: Option<&ferry_api::Quantity>,
                         leaf: &str,
                         unit: fn(Amount) -> Option<u64>| {
                q.map(|q| {
                    Amount::parse(q.as_str())
                        .ok()
                        .and_then(unit)
                        .ok_or_else(|| format!("{path}.{leaf}: {q} is not a size Ferry can price"))
                })
                .transpose()
            };
            containers.push(Sizes {
                cpu_millis: parse(r.cpu.as_ref(), "cpu", Amount::millis_ceil)?,
                memory_bytes: parse(r.memory.as_ref(), "memory", Amount::units_ceil)?,
                storage_bytes: parse(
                    r.ephemeral_storage.as_ref(),
                    "ephemeralStorage",
                    Amount::units_ceil,
                )?,
                gpu: r.gpu.is_some(),
            });
        }
        let scaling = spec.scaling.clone().unwrap_or_default();
        let count = |v: Option<i32>, field: &str| {
            v.map(|v| u32::try_from(v).map_err(|_| format!("{field}: must not be negative")))
                .transpose()
        };
        Ok(Self {
            containers,
            min: count(scaling.min_instances, "spec.scaling.minInstances")?,
            max: count(scaling.max_instances, "spec.scaling.maxInstances")?,
            concurrency: count(spec.concurrency, "spec.concurrency")?.filter(|c| *c > 0),
            metric: scaling.metric,
            target: count(scaling.target, "spec.scaling.target")?.filter(|t| *t > 0),
        })
    }

    /// Whether any container asks for a GPU.
    pub fn gpu(&self) -> bool {
        self.containers.iter().any(|c| c.gpu)
    }

    /// CPU and memory of an instance, each container counted at Cloud Run's defaults (1 vCPU,
    /// 512Mi) when it sets none; with an assumption saying so.
    pub fn instance_size(&self, whose: &str, assumptions: &mut Vec<String>) -> (u64, u64) {
        let cpu = self
            .containers
            .iter()
            .map(|c| c.cpu_millis.unwrap_or(ASSUMED_CPU_MILLIS))
            .fold(0, u64::saturating_add);
        let memory = self
            .containers
            .iter()
            .map(|c| c.memory_bytes.unwrap_or(ASSUMED_MEMORY_BYTES))
            .fold(0, u64::saturating_add);
        if self
            .containers
            .iter()
            .any(|c| c.cpu_millis.is_none() || c.memory_bytes.is_none())
        {
            assumptions.push(format!(
                "a container without cpu or memory counts as 1 vCPU and 512Mi ({whose})"
            ));
        }
        (cpu, memory)
    }

    /// Ephemeral storage of an instance, when any container sets it.
    pub fn storage_bytes(&self) -> Option<u64> {
        self.containers
            .iter()
            .filter_map(|c| c.storage_bytes)
            .reduce(u64::saturating_add)
    }
}

/// The month's load.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// Requests in the month.
    pub requests: f64,
    /// Request-seconds: requests x mean duration.
    pub request_seconds: f64,
    /// Average requests in flight over the month (Little's law).
    pub in_flight: f64,
}

impl Load {
    /// The load `traffic` means.
    pub fn of(traffic: &Traffic) -> Self {
        let requests = float(traffic.requests_per_month);
        let request_seconds = requests * f64::from(traffic.avg_duration_ms) / 1000.0;
        Self {
            requests,
            request_seconds,
            in_flight: request_seconds / SECONDS_PER_MONTH,
        }
    }

    /// Busy instance-seconds when an instance serves at most `limit` requests at once, and the
    /// requests in flight per busy instance that gives.
    pub fn busy(&self, traffic: &Traffic, limit: u32) -> (f64, f64) {
        let limit = f64::from(limit.max(1));
        let per_instance = traffic
            .mean_concurrency
            .filter(|c| c.is_finite() && *c > 0.0)
            .unwrap_or_else(|| self.in_flight.max(1.0))
            .min(limit);
        if self.requests <= 0.0 {
            return (0.0, per_instance);
        }
        (self.request_seconds / per_instance, per_instance)
    }

    /// Whether no request comes (or none takes time).
    pub fn idle(&self) -> bool {
        self.requests <= 0.0 || self.request_seconds <= 0.0
    }
}

/// Instances that run all month whether or not requests come (ECS tasks, Deployment pods),
/// counted for a month's load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlwaysOn {
    /// What the load needs (more than `max` when `maxInstances` caps it).
    pub needed: u64,
    /// What runs: `needed` within `minInstances` and `maxInstances`.
    pub count: u32,
    /// Of them, those the load keeps busy.
    pub serving: u32,
    /// Of them, those kept only by `minInstances`.
    pub idle: u32,
    /// The least that runs.
    pub min: u32,
    /// The most that runs.
    pub max: u32,
    /// Whether `maxInstances` leaves no room above `minInstances` (a fixed count).
    pub fixed: bool,
    /// Whether no request comes.
    pub no_load: bool,
}

/// How a provider's instances are named in the assumptions [`AlwaysOn::of`] writes.
#[derive(Clone, Copy, Debug)]
pub struct Words<'a> {
    /// One instance: `task`, `pod`.
    pub one: &'a str,
    /// Several: `tasks`, `pods`.
    pub many: &'a str,
    /// The provider, in "PROVIDER does not limit requests per INSTANCE".
    pub who: &'a str,
    /// The assumption when `minInstances: 0` was asked: why it cannot be.
    pub not_to_zero: &'a str,
}

impl AlwaysOn {
    /// Instances for `traffic` when they run all month and `floor` is the fewest the provider
    /// runs: what the load needs (requests in flight over `assumed_concurrency` unless the spec
    /// sets one; with `metric: rps` and a target, requests per second over the target), never
    /// fewer than `minInstances` (at least `floor`) and never more than `maxInstances`, which
    /// defaults to `minInstances` (a fixed count).
    pub fn of(
        shape: &Shape,
        traffic: &Traffic,
        floor: u32,
        assumed_concurrency: u32,
        words: Words<'_>,
        assumptions: &mut Vec<String>,
    ) -> Self {
        let min = shape.min.unwrap_or(floor).max(floor);
        if shape.min == Some(0) {
            assumptions.push(words.not_to_zero.to_owned());
        }
        let max = shape.max.unwrap_or(min).max(min);
        let load = Load::of(traffic);
        let needed = if load.idle() {
            0
        } else if shape.metric == Some(ScalingMetric::Rps)
            && let Some(target) = shape.target
        {
            whole(load.requests / SECONDS_PER_MONTH / f64::from(target))
        } else {
            let limit = shape.concurrency.unwrap_or(assumed_concurrency);
            if shape.concurrency.is_none() {
                assumptions.push(format!(
                    "{} does not limit requests per {}: a {} is taken to serve up to \
                     {assumed_concurrency} at once (Cloud Run's default)",
                    words.who, words.one, words.one
                ));
            }
            if matches!(
                shape.metric,
                None | Some(ScalingMetric::Cpu | ScalingMetric::Memory)
            ) {
                assumptions.push(format!(
                    "{} the load needs are counted from requests in flight; a cpu or memory \
                     scaling target depends on how much CPU a request uses, which is not \
                     modelled",
                    words.many
                ));
            }
            whole(load.busy(traffic, limit).0 / SECONDS_PER_MONTH)
        };
        let count = u32::try_from(needed.clamp(u64::from(min), u64::from(max))).unwrap_or(max);
        if needed > u64::from(max) {
            assumptions.push(format!(
                "the load needs {needed} {}; maxInstances caps them at {max} (the rest would \
                 queue or fail)",
                words.many
            ));
        }
        let serving = u32::try_from(needed).map_or(count, |n| n.min(count));
        Self {
            needed,
            count,
            serving,
            idle: count - serving,
            min,
            max,
            fixed: shape.max.is_none_or(|m| m <= min),
            no_load: load.idle(),
        }
    }

    /// Why this many, for an estimate's note.
    pub fn why(&self) -> String {
        let min = self.min;
        if self.needed > u64::from(self.max) && self.fixed {
            format!("a fixed count, minInstances {min}")
        } else if self.needed > u64::from(self.max) {
            format!("capped at maxInstances {}", self.max)
        } else if self.no_load {
            format!("minInstances {min}; no traffic assumed")
        } else if self.serving < self.count {
            format!("minInstances {min}")
        } else {
            "what the load needs".to_owned()
        }
    }
}

/// `n` as a float, for counts far below 2^52.
#[allow(clippy::cast_precision_loss)] // counts far below 2^52
pub fn float(n: u64) -> f64 {
    n as f64
}

/// The most instances a load is counted in exactly: 2^53, where floats stop holding whole
/// numbers. Traffic within its bounds needs far fewer.
const MAX_WHOLE: f64 = 9_007_199_254_740_992.0;

/// `x` rounded up to a whole number of instances (at most [`MAX_WHOLE`], past which a count is
/// no longer exact and is only ever compared with `maxInstances`).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // clamped to 0..=2^53
fn whole(x: f64) -> u64 {
    if x.is_finite() && x > 0.0 {
        x.ceil().min(MAX_WHOLE) as u64
    } else if x > 0.0 {
        MAX_WHOLE as u64
    } else {
        0
    }
}

/// `1,234,567`: a whole number with thousands separators.
pub fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1`, `2.5`, `0.38`.
pub fn short(x: f64) -> String {
    let text = format!("{x:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `1 task`, `2 tasks`.
pub fn plural(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The record of a price-table entry an estimate used.
pub fn used(
    region: &str,
    option: &str,
    source: &str,
    read: &str,
    note: Option<&String>,
) -> PriceUsed {
    PriceUsed {
        region: region.to_owned(),
        option: option.to_owned(),
        source: source.to_owned(),
        read: read.to_owned(),
        note: note.cloned(),
    }
}

/// Says so when `chosen` is another region's entry, standing in for one the table lacks.
pub fn region_assumption<T>(
    chosen: &Chosen<'_, T>,
    used_region: &str,
    assumptions: &mut Vec<String>,
) {
    if let Some(asked) = chosen.instead_of {
        assumptions.push(format!(
            "the price table has no prices for {asked}: {used_region}'s are used (add the \
             region with --prices)"
        ));
    }
}

/// Busy instance-seconds capped by `max` instances all month, and what the cap assumes.
pub fn cap(busy: f64, max: Option<u32>) -> (f64, Option<String>) {
    match max {
        Some(max) if busy > f64::from(max) * SECONDS_PER_MONTH => (
            f64::from(max) * SECONDS_PER_MONTH,
            Some(format!(
                "the load needs {} instances on average; maxInstances caps them at {max} (the \
                 rest would queue or fail)",
                short(busy / SECONDS_PER_MONTH)
            )),
        ),
        _ => (busy, None),
    }
}

/// The note of a model that bills instances (or pods) for their whole life: how many
/// instance-hours of what size, at least how many, and at which prices.
pub fn instance_note(
    busy: f64,
    idle_seconds: f64,
    min: u32,
    resources: &str,
    noun: &str,
    billing: Option<&str>,
    priced_at: &str,
) -> String {
    let nouns = format!("{noun}s");
    if busy <= 0.0 {
        if min == 0 {
            return "scales to zero: nothing billed while idle; traffic extra".to_owned();
        }
        let billing = billing.map(|b| format!(" ({b})")).unwrap_or_default();
        return format!(
            "{} x {resources}, {HOURS_PER_MONTH} h{billing}, {priced_at}; traffic extra",
            plural(min, noun, &nouns)
        );
    }
    let hours = (busy + idle_seconds) / 3600.0;
    let minimum = if min == 0 {
        "scales to zero".to_owned()
    } else {
        format!("at least {}", plural(min, noun, &nouns))
    };
    let detail = billing.map_or(minimum.clone(), |b| format!("{b}; {minimum}"));
    format!(
        "{} {noun}-hours x {resources} ({detail}), {priced_at}",
        thousands(hours)
    )
}
