//! What a service costs on Google Cloud Run: request-based billing (CPU only while serving,
//! a fee per request, minimum instances at idle rates) or instance-based (CPU always
//! allocated), each with its free tier. The prices are the `cloudRun` section of the price
//! table (this crate's `prices.yaml` ships with Ferry).
//!
//! A job's run ([`estimate_run`]) is its tasks at the instance-based rates for as long as each
//! runs: "Unlike Cloud Run services, all Cloud Run jobs have instance-based billing" (Billing
//! settings, cloud.google.com/run/docs/configuring/billing-settings), and Cloud Run pricing
//! (cloud.google.com/run/pricing) lists Jobs in the same row as services with CPU always
//! allocated, at the same per vCPU-second and GiB-second rates and the same free tier, "rounded
//! up to the nearest 100 millisecond".

use ferry_core::backend::EstimateInput;
use ferry_core::cost::model::{
    Load, Priced, cap, float, instance_note, plural, region_assumption, short, thousands, used,
};
use ferry_core::cost::prices::{self, amounts, choose};
use ferry_core::cost::{
    Breakdown, Figure, HOURS_PER_MONTH, PriceTable, SECONDS_PER_MONTH, Shape, Traffic, Usd,
};
use ferry_core::job::cost::RunInput;
use ferry_core::quantity::{format_bytes, format_cores};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::limits::{DEFAULT_CONCURRENCY, DEFAULT_MAX_INSTANCES};

/// This provider's section of the price table.
pub const SECTION: &str = "cloudRun";
/// The entries Ferry ships.
pub const EMBEDDED: &str = include_str!("../prices.yaml");

const GIB: u64 = 1 << 30;

/// A Cloud Run billing option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloudRunOption {
    /// CPU only while serving requests (`cpuIdle: true`), plus a fee per request.
    RequestBased,
    /// CPU always allocated (`cpuIdle: false`): every instance's whole life, no request fee.
    InstanceBased,
}

impl CloudRunOption {
    /// The name written in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            CloudRunOption::RequestBased => "request-based",
            CloudRunOption::InstanceBased => "instance-based",
        }
    }
}

/// A monthly free tier, per billing account.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FreeTier {
    /// Free vCPU-seconds per month.
    #[serde(default)]
    pub vcpu_seconds: f64,
    /// Free GiB-seconds per month.
    #[serde(default)]
    pub gib_seconds: f64,
    /// Free requests per month (request-based billing only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<f64>,
}

/// One Cloud Run entry.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudRunPrice {
    /// Google Cloud region, e.g. `us-central1`.
    #[serde(default)]
    pub region: String,
    /// Which billing this entry prices.
    pub option: CloudRunOption,
    /// USD per vCPU-second while billed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu_second: Option<f64>,
    /// USD per GiB-second while billed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gib_second: Option<f64>,
    /// USD per million requests (request-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_million_requests: Option<f64>,
    /// USD per vCPU-second of an idle minimum instance (request-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_vcpu_second: Option<f64>,
    /// USD per GiB-second of an idle minimum instance (request-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_gib_second: Option<f64>,
    /// The monthly free tier of this billing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_tier: Option<FreeTier>,
    /// The page (or invoice, or reasoning) the figures come from.
    #[serde(default)]
    pub source: String,
    /// When they were read from it, `YYYY-MM-DD`.
    #[serde(default)]
    pub read: String,
    /// Anything a reader of an estimate should know about these figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What is wrong with the figures of `entries` (the price table's `cloudRun` section).
pub(crate) fn check_prices(entries: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    for (at, e) in prices::typed::<CloudRunPrice>(SECTION, entries, &mut problems) {
        let fields = [
            ("vcpuSecond", e.vcpu_second),
            ("gibSecond", e.gib_second),
            ("perMillionRequests", e.per_million_requests),
            ("idleVcpuSecond", e.idle_vcpu_second),
            ("idleGibSecond", e.idle_gib_second),
        ];
        let request_based: &[&str] = &[
            "vcpuSecond",
            "gibSecond",
            "perMillionRequests",
            "idleVcpuSecond",
            "idleGibSecond",
        ];
        let instance_based: &[&str] = &["vcpuSecond", "gibSecond"];
        let listed = match e.option {
            CloudRunOption::RequestBased => request_based,
            CloudRunOption::InstanceBased => instance_based,
        };
        amounts(
            &mut problems,
            &at,
            e.option.as_str(),
            &fields,
            listed,
            listed,
        );
        if let Some(free) = &e.free_tier {
            let at = format!("{at}.freeTier");
            let fields = [
                ("vcpuSeconds", Some(free.vcpu_seconds)),
                ("gibSeconds", Some(free.gib_seconds)),
                ("requests", free.requests),
            ];
            let allowed: &[&str] = match e.option {
                CloudRunOption::RequestBased => &["vcpuSeconds", "gibSeconds", "requests"],
                CloudRunOption::InstanceBased => &["vcpuSeconds", "gibSeconds"],
            };
            prices::amounts_up_to(
                &mut problems,
                &at,
                e.option.as_str(),
                &fields,
                &[],
                allowed,
                prices::FREE_AMOUNT,
            );
        }
    }
    problems
}

/// Google Cloud Run: request-based or instance-based billing.
pub(crate) fn estimate(input: &EstimateInput<'_>) -> Priced {
    let EstimateInput {
        spec,
        shape,
        traffic,
        prices,
        region,
    } = *input;
    let mut assumptions = Vec::new();
    let (cpu_millis, memory_bytes) = match instance(shape, &mut assumptions) {
        Ok(size) => size,
        Err(why) => return Priced::unavailable(why, assumptions),
    };
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

    let p = match price(prices, region, option, &mut assumptions) {
        Ok(p) => p,
        Err(why) => return Priced::unavailable(why, assumptions),
    };
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
            let covered = breakdown.compute + breakdown.memory + breakdown.requests;
            breakdown.take_free_tier(off, covered);
        }
        request_based_note(&load, traffic, limit, busy, min, &resources, &p.region)
    } else {
        breakdown.idle_minimum = Usd::from_dollars(idle_seconds * (vcpu * v + gib * g));
        if let Some(free) = &free {
            let instance_seconds = busy + idle_seconds;
            let off = (instance_seconds * vcpu).min(free.vcpu_seconds) * v
                + (instance_seconds * gib).min(free.gib_seconds) * g;
            let covered = breakdown.compute + breakdown.memory + breakdown.idle_minimum;
            breakdown.take_free_tier(off, covered);
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

/// An instance's CPU (millicores) and memory (bytes), every container counted at Cloud Run's
/// defaults when it sets none (1 vCPU and 512 MiB, for services and jobs alike: "By default,
/// each instance is limited to 1 vCPU" and "By default, the memory allocated to each job is
/// 512 MiB", cloud.google.com/run/docs/configuring/jobs/cpu and .../jobs/memory-limits); or why
/// it cannot be priced.
fn instance(shape: &Shape, assumptions: &mut Vec<String>) -> Result<(u64, u64), &'static str> {
    if shape.gpu() {
        return Err("the price table has no Cloud Run GPU prices, and a GPU is most of the bill");
    }
    let size = shape.instance_size("Cloud Run's defaults", assumptions);
    if shape.storage_bytes().is_some() {
        assumptions.push(
            "Cloud Run has no ephemeral storage (files live in memory): the size asked is not \
             priced"
                .into(),
        );
    }
    Ok(size)
}

/// The entry of `option` for `region` (the table's first region's when it has none for it,
/// with an assumption saying so).
fn price(
    prices: &PriceTable,
    region: Option<&str>,
    option: CloudRunOption,
    assumptions: &mut Vec<String>,
) -> Result<CloudRunPrice, String> {
    let entries: Vec<CloudRunPrice> = prices.entries(SECTION);
    let chosen =
        choose(&entries, region, |e| (&e.region, e.option == option)).ok_or_else(|| {
            format!(
                "the price table has no Cloud Run {} prices: add them with --prices",
                option.as_str()
            )
        })?;
    region_assumption(&chosen, &chosen.entry.region, assumptions);
    Ok(chosen.entry.clone())
}

/// One run of a job: `tasks` task instances of `task_seconds` each, every instance-second at
/// the instance-based rates (a job has no other billing, no request fee and no idle rate).
/// Linear in the tasks, so a month of a schedule is one call with every run's tasks.
pub(crate) fn estimate_run(input: &RunInput<'_>) -> Priced {
    let mut assumptions = Vec::new();
    let (cpu_millis, memory_bytes) = match instance(input.shape, &mut assumptions) {
        Ok(size) => size,
        // Cloud Run prices a job's GPU per GPU-second for the instance's whole life
        // (cloud.google.com/run/docs/configuring/jobs/gpu, "Pricing impact"); the price table
        // has no such rate.
        Err(why) => {
            return Priced::unavailable(
                format!("{why} (a job's GPU is billed for its task instance's whole life)"),
                assumptions,
            );
        }
    };
    let p = match price(
        input.prices,
        input.region,
        CloudRunOption::InstanceBased,
        &mut assumptions,
    ) {
        Ok(p) => p,
        Err(why) => {
            return Priced::unavailable(
                format!("{why}; Cloud Run bills every job at them"),
                assumptions,
            );
        }
    };
    assumptions.push(
        "Cloud Run jobs are always billed instance-based: each task's instance at the \
         instance-based rates for its whole life (its start-up, not modelled, included), rounded \
         up to 100 ms (whole seconds already are); no request fee, no idle rate \
         (cloud.google.com/run/pricing, cloud.google.com/run/docs/configuring/billing-settings)"
            .into(),
    );
    assumptions.push(
        "a failed task that is retried runs, and is billed, again: retries are not counted".into(),
    );
    // The service estimate takes the free tier off only under a traffic profile that says the
    // account has it to spare (`Traffic::free_tier`); a run has no traffic profile.
    if let Some(free) = &p.free_tier {
        assumptions.push(format!(
            "the instance-based free tier ({} vCPU-s and {} GiB-s a month per billing account, \
             shared by every job and instance-based service of it) is not taken off: Ferry \
             cannot know how much of it the rest of the account uses",
            thousands(free.vcpu_seconds),
            thousands(free.gib_seconds)
        ));
    }
    let instance_seconds = f64::from(input.tasks) * f64::from(input.task_seconds);
    let vcpu = float(cpu_millis) / 1000.0;
    let gib = float(memory_bytes) / float(GIB);
    let rate = |r: Option<f64>| r.unwrap_or(0.0);
    let breakdown = Breakdown {
        compute: Usd::from_dollars(instance_seconds * vcpu * rate(p.vcpu_second)),
        memory: Usd::from_dollars(instance_seconds * gib * rate(p.gib_second)),
        ..Breakdown::default()
    };
    Priced {
        figure: Figure::priced(breakdown),
        note: format!(
            "{} x {} vCPU, {}, {} s each at the instance-based rates; {} prices",
            plural(input.tasks, "task", "tasks"),
            format_cores(cpu_millis),
            format_bytes(memory_bytes),
            input.task_seconds,
            p.region
        ),
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
