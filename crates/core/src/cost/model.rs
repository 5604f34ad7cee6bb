//! How each provider bills a spec under a load: pure arithmetic over the spec's sizes and
//! scaling, the traffic profile and the price table.

use ferry_api::{CapacityProvider, CpuArchitecture, ScalingMetric, ServerlessServiceSpec};

use super::prices::{
    Chosen, CloudRunOption, CloudRunPrice, FargateOption, FargatePrice, KnativePrice, PriceTable,
};
use super::{
    Breakdown, FARGATE_ASSUMED_CONCURRENCY, Figure, HOURS_PER_MONTH, KNATIVE_DEFAULT_TARGET,
    PriceUsed, SECONDS_PER_MONTH, Traffic, Usd,
};
use crate::limits::cloud_run::{DEFAULT_CONCURRENCY, DEFAULT_CPU_MILLIS, DEFAULT_MAX_INSTANCES};
use crate::limits::fargate::{INCLUDED_EPHEMERAL_GIB, MIN_INSTANCES, TASK_SIZES};
use crate::quantity::{Amount, format_bytes, format_cores};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
/// Cloud Run's default memory per container, and what a container without a size counts as
/// elsewhere.
const DEFAULT_MEMORY_BYTES: u64 = crate::limits::cloud_run::DEFAULT_MEMORY_MIB * MIB;

/// What one provider's estimate found, before the comparison marks the cheapest.
pub(super) struct Priced {
    pub(super) figure: Figure,
    pub(super) note: String,
    pub(super) assumptions: Vec<String>,
    pub(super) prices: Vec<PriceUsed>,
}

impl Priced {
    fn unavailable(why: impl Into<String>, assumptions: Vec<String>) -> Self {
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
struct Sizes {
    cpu_millis: Option<u64>,
    memory_bytes: Option<u64>,
    storage_bytes: Option<u64>,
    gpu: bool,
}

/// The billing-relevant parts of a spec, parsed.
pub(super) struct Shape {
    containers: Vec<Sizes>,
    min: Option<u32>,
    max: Option<u32>,
    concurrency: Option<u32>,
    metric: Option<ScalingMetric>,
    target: Option<u32>,
}

impl Shape {
    pub(super) fn of(spec: &ServerlessServiceSpec) -> Result<Self, String> {
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

    fn gpu(&self) -> bool {
        self.containers.iter().any(|c| c.gpu)
    }

    /// CPU and memory of an instance, each container counted at Cloud Run's defaults (1 vCPU,
    /// 512Mi) when it sets none; with an assumption saying so.
    fn instance_size(&self, whose: &str, assumptions: &mut Vec<String>) -> (u64, u64) {
        let cpu = self
            .containers
            .iter()
            .map(|c| c.cpu_millis.unwrap_or(DEFAULT_CPU_MILLIS))
            .fold(0, u64::saturating_add);
        let memory = self
            .containers
            .iter()
            .map(|c| c.memory_bytes.unwrap_or(DEFAULT_MEMORY_BYTES))
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

    fn storage_bytes(&self) -> Option<u64> {
        self.containers
            .iter()
            .filter_map(|c| c.storage_bytes)
            .reduce(u64::saturating_add)
    }
}

/// The month's load.
#[derive(Clone, Copy, Debug)]
pub(super) struct Load {
    requests: f64,
    /// Request-seconds: requests x mean duration.
    request_seconds: f64,
    /// Average requests in flight over the month (Little's law).
    pub(super) in_flight: f64,
}

impl Load {
    pub(super) fn of(traffic: &Traffic) -> Self {
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
    fn busy(&self, traffic: &Traffic, limit: u32) -> (f64, f64) {
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

    fn idle(&self) -> bool {
        self.requests <= 0.0 || self.request_seconds <= 0.0
    }
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn float(n: u64) -> f64 {
    n as f64
}

/// `x` rounded up to a whole number of instances.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // clamped to u32's range
fn whole(x: f64) -> u32 {
    if x.is_finite() && x > 0.0 {
        x.ceil().min(f64::from(u32::MAX)) as u32
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
fn short(x: f64) -> String {
    let text = format!("{x:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn plural(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn used(region: &str, option: &str, source: &str, read: &str, note: Option<&String>) -> PriceUsed {
    PriceUsed {
        region: region.to_owned(),
        option: option.to_owned(),
        source: source.to_owned(),
        read: read.to_owned(),
        note: note.cloned(),
    }
}

fn region_assumption<T>(chosen: &Chosen<'_, T>, used_region: &str, assumptions: &mut Vec<String>) {
    if let Some(asked) = chosen.instead_of {
        assumptions.push(format!(
            "the price table has no prices for {asked}: {used_region}'s are used (add the \
             region with --prices)"
        ));
    }
}

/// AWS Fargate: every task runs all month.
pub(super) fn fargate(
    shape: &Shape,
    spec: &ServerlessServiceSpec,
    traffic: &Traffic,
    prices: &PriceTable,
    region: Option<&str>,
) -> Priced {
    let mut assumptions = Vec::new();
    if shape.gpu() {
        return Priced::unavailable("Fargate has no GPUs", assumptions);
    }
    let section = spec.fargate.clone().unwrap_or_default();
    let windows = section
        .operating_system_family
        .is_some_and(ferry_api::OperatingSystemFamily::is_windows);
    let arm = section.cpu_architecture == Some(CpuArchitecture::Arm64);
    let spot = section.capacity_provider == Some(CapacityProvider::FargateSpot);

    // Task size: the containers' sums, rounded up to what Fargate sells.
    let cpu: Option<u64> = shape
        .containers
        .iter()
        .filter_map(|c| c.cpu_millis)
        .reduce(u64::saturating_add);
    let memory: Option<u64> = shape
        .containers
        .iter()
        .filter_map(|c| c.memory_bytes)
        .reduce(u64::saturating_add);
    let Some((cpu_units, memory_mib)) = task_size(cpu, memory, windows) else {
        return Priced::unavailable(
            format!(
                "no Fargate task is that large ({} vCPU, {}): the largest is 16 vCPU, 120 GiB",
                format_cores(cpu.unwrap_or(0)),
                format_bytes(memory.unwrap_or(0))
            ),
            assumptions,
        );
    };
    let size = format!(
        "{} vCPU, {}",
        format_cores(u64::from(cpu_units) * 1000 / 1024),
        format_bytes(u64::from(memory_mib) * MIB)
    );
    let exact_cpu = cpu.is_none_or(|m| u64::from(cpu_units) * 1000 == m.saturating_mul(1024));
    let exact_memory = memory.is_none_or(|b| u64::from(memory_mib) * MIB == b);
    if cpu.is_none() && memory.is_none() {
        assumptions.push(format!(
            "no cpu or memory set: Fargate's smallest task, {size}"
        ));
    } else if !exact_cpu || !exact_memory {
        assumptions.push(format!("rounded up to the Fargate task size {size}"));
    }
    let storage_gib = shape
        .storage_bytes()
        .map_or(0, |b| b.div_ceil(GIB))
        .saturating_sub(u64::from(INCLUDED_EPHEMERAL_GIB));

    // Task count: the minimum, or what the load needs, within the scaling bounds.
    let min = shape.min.unwrap_or(MIN_INSTANCES).max(MIN_INSTANCES);
    if shape.min == Some(0) {
        assumptions.push("Fargate cannot scale to zero: 1 task at least".into());
    }
    // Ferry's default for Fargate: a fixed count unless maxInstances is set.
    let max = shape.max.unwrap_or(min).max(min);
    let load = Load::of(traffic);
    let needed = if load.idle() {
        0
    } else if shape.metric == Some(ScalingMetric::Rps)
        && let Some(target) = shape.target
    {
        whole(load.requests / SECONDS_PER_MONTH / f64::from(target))
    } else {
        let limit = shape.concurrency.unwrap_or(FARGATE_ASSUMED_CONCURRENCY);
        if shape.concurrency.is_none() {
            assumptions.push(format!(
                "Fargate does not limit requests per task: a task is taken to serve up to \
                 {FARGATE_ASSUMED_CONCURRENCY} at once (Cloud Run's default)"
            ));
        }
        if matches!(
            shape.metric,
            None | Some(ScalingMetric::Cpu | ScalingMetric::Memory)
        ) {
            assumptions.push(
                "tasks the load needs are counted from requests in flight; a cpu or memory \
                 scaling target depends on how much CPU a request uses, which is not modelled"
                    .into(),
            );
        }
        whole(load.busy(traffic, limit).0 / SECONDS_PER_MONTH)
    };
    let tasks = needed.clamp(min, max);
    if needed > max {
        assumptions.push(format!(
            "the load needs {needed} tasks; maxInstances caps them at {max} (the rest would queue \
             or fail)"
        ));
    }
    let serving = needed.min(tasks);
    let idle = tasks - serving;

    // Prices.
    let option = match (windows, arm) {
        (true, _) => FargateOption::WindowsX86,
        (false, true) => FargateOption::LinuxArm,
        (false, false) => FargateOption::LinuxX86,
    };
    let Some(chosen) = prices.fargate(region, option) else {
        return Priced::unavailable(
            format!(
                "the price table has no Fargate {} prices: add them with --prices",
                option.as_str()
            ),
            assumptions,
        );
    };
    let base = chosen.entry;
    region_assumption(&chosen, &base.region, &mut assumptions);
    let mut prices_used = vec![entry_used(base)];
    let mut factor = 1.0;
    let mut spot_words = String::new();
    if spot {
        let Some(discount) = prices
            .fargate(Some(&base.region), FargateOption::Spot)
            .filter(|c| c.entry.region == base.region)
        else {
            return Priced::unavailable(
                format!(
                    "the price table has no Fargate Spot discount for {}: add one with --prices",
                    base.region
                ),
                assumptions,
            );
        };
        let d = discount.entry.discount.unwrap_or(0.0);
        factor = 1.0 - d;
        spot_words = format!(", Spot {}% off (varies)", short(d * 100.0));
        prices_used.push(entry_used(discount.entry));
        if storage_gib > 0 {
            assumptions.push("the Spot discount is taken off vCPU and memory, not storage".into());
        }
    }
    let (Some(vcpu_hour), Some(gb_hour)) = (base.vcpu_hour, base.gb_hour) else {
        return Priced::unavailable(
            "the price table's Fargate entry has no vCPU or GB price",
            assumptions,
        );
    };
    let storage_rate = match (storage_gib, base.ephemeral_storage_gb_hour) {
        (0, _) => 0.0,
        (_, Some(rate)) => rate,
        (_, None) => {
            return Priced::unavailable(
                "the price table has no Fargate ephemeral storage price: add \
                 ephemeralStorageGbHour with --prices",
                assumptions,
            );
        }
    };
    let vcpu = f64::from(cpu_units) / 1024.0;
    let gb = f64::from(memory_mib) / 1024.0;
    let per_task_month = |n: u32, rate: f64, amount: f64| {
        Usd::from_dollars(f64::from(n) * amount * f64::from(HOURS_PER_MONTH) * rate * factor)
    };
    let breakdown = Breakdown {
        compute: per_task_month(serving, vcpu_hour, vcpu),
        memory: per_task_month(serving, gb_hour, gb),
        storage: Usd::from_dollars(
            f64::from(tasks) * float(storage_gib) * f64::from(HOURS_PER_MONTH) * storage_rate,
        ),
        requests: Usd::ZERO,
        idle_minimum: Usd::from_dollars(
            f64::from(idle)
                * (vcpu * vcpu_hour + gb * gb_hour)
                * f64::from(HOURS_PER_MONTH)
                * factor,
        ),
        free_tier: Usd::ZERO,
    };
    let platform = match option {
        FargateOption::LinuxArm => "Linux/ARM64",
        FargateOption::WindowsX86 => "Windows",
        _ => "Linux/x86",
    };
    let storage_words = if storage_gib > 0 {
        format!(" + {storage_gib} GB storage")
    } else {
        String::new()
    };
    let why = if needed > max {
        format!("capped at maxInstances {max}")
    } else if load.idle() {
        format!("minInstances {min}; no traffic assumed")
    } else if serving < tasks {
        format!("minInstances {min}")
    } else {
        "what the load needs".to_owned()
    };
    let note = format!(
        "{} x {size}{storage_words}, {HOURS_PER_MONTH} h ({why}), {platform}{spot_words}, \
         {} prices",
        plural(tasks, "task", "tasks"),
        base.region
    );
    Priced {
        figure: Figure::priced(breakdown),
        note,
        assumptions,
        prices: prices_used,
    }
}

fn entry_used(e: &FargatePrice) -> PriceUsed {
    used(
        &e.region,
        e.option.as_str(),
        &e.source,
        &e.read,
        e.note.as_ref(),
    )
}

/// The smallest Fargate task with at least `cpu_millis` and `memory_bytes` (Linux sizes, or
/// the Windows ones): `(cpu units, memory MiB)`.
fn task_size(
    cpu_millis: Option<u64>,
    memory_bytes: Option<u64>,
    windows: bool,
) -> Option<(u32, u32)> {
    let memory_mib = memory_bytes.map(|b| b.div_ceil(MIB));
    TASK_SIZES
        .iter()
        .filter(|s| !windows || s.windows)
        .filter(|s| {
            cpu_millis.is_none_or(|m| u64::from(s.cpu_units) * 1000 >= m.saturating_mul(1024))
        })
        .find_map(|s| {
            let memory = match memory_mib {
                None => s.min_memory_mib(),
                Some(want) => s
                    .memory_options()
                    .into_iter()
                    .find(|&m| u64::from(m) >= want)?,
            };
            Some((s.cpu_units, memory))
        })
}

/// Google Cloud Run: request-based or instance-based billing.
pub(super) fn cloud_run(
    shape: &Shape,
    spec: &ServerlessServiceSpec,
    traffic: &Traffic,
    prices: &PriceTable,
    region: Option<&str>,
) -> Priced {
    let mut assumptions = Vec::new();
    if shape.gpu() {
        return Priced::unavailable(
            "the price table has no Cloud Run GPU prices, and a GPU is most of the bill",
            assumptions,
        );
    }
    let (cpu_millis, memory_bytes) = shape.instance_size("Cloud Run's defaults", &mut assumptions);
    if shape.storage_bytes().is_some() {
        assumptions.push(
            "Cloud Run has no ephemeral storage (files live in memory): the size asked is not \
             priced"
                .into(),
        );
    }
    let request_based = spec
        .cloud_run
        .as_ref()
        .and_then(|c| c.cpu_idle)
        .unwrap_or(true);
    let option = if request_based {
        CloudRunOption::RequestBased
    } else {
        CloudRunOption::InstanceBased
    };
    let min = shape.min.unwrap_or(0);
    let max = shape.max.unwrap_or(DEFAULT_MAX_INSTANCES).max(min).max(1);
    let mut limit = shape.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
    if cpu_millis < 1000 && limit > 1 {
        limit = 1;
        assumptions.push("below 1 vCPU Cloud Run serves one request at a time per instance".into());
    }
    let load = Load::of(traffic);
    let (busy, cap_assumption) = cap(load.busy(traffic, limit).0, Some(max));
    assumptions.extend(cap_assumption);
    let idle_seconds = (f64::from(min) * SECONDS_PER_MONTH - busy).max(0.0);

    let Some(chosen) = prices.cloud_run(region, option) else {
        return Priced::unavailable(
            format!(
                "the price table has no Cloud Run {} prices: add them with --prices",
                option.as_str()
            ),
            assumptions,
        );
    };
    let p: &CloudRunPrice = chosen.entry;
    region_assumption(&chosen, &p.region, &mut assumptions);
    let vcpu = float(cpu_millis) / 1000.0;
    let gib = float(memory_bytes) / float(GIB);
    let rate = |r: Option<f64>| r.unwrap_or(0.0);
    let (v, g) = (rate(p.vcpu_second), rate(p.gib_second));
    let free = p.free_tier.clone().filter(|_| traffic.free_tier);
    let mut breakdown = Breakdown {
        compute: Usd::from_dollars(busy * vcpu * v),
        memory: Usd::from_dollars(busy * gib * g),
        ..Breakdown::default()
    };
    let resources = format!(
        "{} vCPU, {}",
        format_cores(cpu_millis),
        format_bytes(memory_bytes)
    );
    let note = if request_based {
        let per_request = rate(p.per_million_requests) / 1e6;
        breakdown.requests = Usd::from_dollars(load.requests * per_request);
        breakdown.idle_minimum = Usd::from_dollars(
            idle_seconds * (vcpu * rate(p.idle_vcpu_second) + gib * rate(p.idle_gib_second)),
        );
        if let Some(free) = &free {
            let off = (busy * vcpu).min(free.vcpu_seconds) * v
                + (busy * gib).min(free.gib_seconds) * g
                + load.requests.min(free.requests.unwrap_or(0.0)) * per_request;
            breakdown.free_tier = Usd::from_dollars(-off);
        }
        request_based_note(&load, traffic, limit, busy, min, &resources, &p.region)
    } else {
        breakdown.idle_minimum = Usd::from_dollars(idle_seconds * (vcpu * v + gib * g));
        if let Some(free) = &free {
            let instance_seconds = busy + idle_seconds;
            let off = (instance_seconds * vcpu).min(free.vcpu_seconds) * v
                + (instance_seconds * gib).min(free.gib_seconds) * g;
            breakdown.free_tier = Usd::from_dollars(-off);
        }
        assumptions.push(
            "instance-based billing: an instance kept up to 15 minutes after its last request \
             is billed too; that tail is not modelled"
                .into(),
        );
        instance_note(
            busy,
            idle_seconds,
            min,
            &resources,
            "instance",
            Some("CPU always allocated"),
            &format!("{} prices", p.region),
        )
    };
    if free.is_some() {
        assumptions.push(
            "the free tier is per billing account: right only if nothing else in the account \
             uses it"
                .into(),
        );
    }
    if request_based && !load.idle() {
        assumptions
            .push("Cloud Run rounds each instance's busy time up to 100 ms: not modelled".into());
    }
    Priced {
        figure: Figure::priced(breakdown),
        note,
        assumptions,
        prices: vec![used(
            &p.region,
            p.option.as_str(),
            &p.source,
            &p.read,
            p.note.as_ref(),
        )],
    }
}

/// Busy instance-seconds capped by `max` instances all month, and what the cap assumes.
fn cap(busy: f64, max: Option<u32>) -> (f64, Option<String>) {
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

fn request_based_note(
    load: &Load,
    traffic: &Traffic,
    limit: u32,
    busy: f64,
    min: u32,
    resources: &str,
    region: &str,
) -> String {
    let minimum = if min == 0 {
        "scales to zero".to_owned()
    } else {
        format!(
            "{} idle at idle rates",
            plural(min, "min instance", "min instances")
        )
    };
    if load.idle() {
        return if min == 0 {
            "scales to zero: nothing billed while idle; requests extra".to_owned()
        } else {
            format!(
                "{} x {resources}, {HOURS_PER_MONTH} h at idle rates, {region} prices; \
                 requests extra",
                plural(min, "idle instance", "idle instances")
            )
        };
    }
    let (_, per_instance) = load.busy(traffic, limit);
    format!(
        "request-based: {} busy instance-s ({} requests x {} ms / {} in flight) x {resources}; \
         {minimum}; {region} prices",
        thousands(busy),
        thousands(load.requests),
        traffic.avg_duration_ms,
        short(per_instance)
    )
}

fn instance_note(
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

/// Knative: pods on the cluster's nodes, at the user's node price.
pub(super) fn knative(
    shape: &Shape,
    traffic: &Traffic,
    prices: &PriceTable,
    region: Option<&str>,
) -> Priced {
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
        None | Some(ScalingMetric::Concurrency) => shape.target.unwrap_or(KNATIVE_DEFAULT_TARGET),
        _ => KNATIVE_DEFAULT_TARGET,
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
    let Some(chosen) = prices.knative(region) else {
        return Priced::unavailable(
            "no node price given: pass --prices FILE with knative prices",
            assumptions,
        );
    };
    let p: &KnativePrice = chosen.entry;
    region_assumption(&chosen, &p.region, &mut assumptions);
    let (Some(vcpu_hour), Some(gb_hour)) = (p.vcpu_hour, p.gb_hour) else {
        return Priced::unavailable(
            "the price table's Knative entry has no vCPU or GB price",
            assumptions,
        );
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
