//! What a service costs on Azure Container Apps' Consumption plan: replicas billed per second at
//! the active rates while they serve, minimum replicas at the idle rates while they do not, a fee
//! per request, and the monthly free grant per subscription taken off. The prices are the
//! `containerApps` section of the price table (this crate's `prices.yaml` ships with Ferry).
//!
//! The load is Cloud Run's request-based model: busy replica-seconds are the month's
//! request-seconds over the requests in flight per busy replica (at most the HTTP scale rule's
//! threshold).
//!
//! A job's run ([`estimate_run`]) is its replicas at the active rates for as long as they run:
//! "resources consumed by Azure Container Apps jobs are charged the active rate. Idle charges
//! don't apply to jobs", and "request charges don't apply to Azure Container Apps jobs because
//! they don't support ingress" (Billing in Azure Container Apps, Consumption plan, Jobs and
//! Request charges: learn.microsoft.com/azure/container-apps/billing).

use ferry_api::{ContainerAppsSpec, ScalingMetric};
use ferry_core::backend::EstimateInput;
use ferry_core::cost::model::{
    Load, Priced, cap, float, plural, region_assumption, short, thousands, used,
};
use ferry_core::cost::prices::{self, amounts, choose};
use ferry_core::cost::{
    Breakdown, Figure, HOURS_PER_MONTH, PriceTable, SECONDS_PER_MONTH, Shape, Usd,
};
use ferry_core::job::cost::RunInput;
use ferry_core::quantity::format_cores;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::limits::{
    CONSUMPTION, DEFAULT_CONCURRENT_REQUESTS, DEFAULT_CPU_MILLIS, DEFAULT_MAX_REPLICAS, GIB_PER_CPU,
};

/// This provider's section of the price table.
pub const SECTION: &str = "containerApps";
/// The entries Ferry ships.
pub const EMBEDDED: &str = include_str!("../prices.yaml");

const GIB: f64 = 1_073_741_824.0;

/// A Container Apps billing option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContainerAppsOption {
    /// The Consumption plan (or workload profile): per replica-second, active or idle, plus
    /// requests.
    Consumption,
}

impl ContainerAppsOption {
    /// The name written in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerAppsOption::Consumption => "consumption",
        }
    }
}

/// The monthly free grant, per subscription.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FreeGrant {
    /// Free vCPU-seconds per month.
    #[serde(default)]
    pub vcpu_seconds: f64,
    /// Free GiB-seconds per month.
    #[serde(default)]
    pub gib_seconds: f64,
    /// Free requests per month.
    #[serde(default)]
    pub requests: f64,
}

/// One Container Apps entry.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerAppsPrice {
    /// Azure region, as ARM writes it (`eastus`).
    #[serde(default)]
    pub region: String,
    /// Which billing this entry prices.
    pub option: ContainerAppsOption,
    /// USD per vCPU-second of an active replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu_second: Option<f64>,
    /// USD per GiB-second of an active replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gib_second: Option<f64>,
    /// USD per vCPU-second of an idle replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_vcpu_second: Option<f64>,
    /// USD per GiB-second of an idle replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_gib_second: Option<f64>,
    /// USD per million requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_million_requests: Option<f64>,
    /// The monthly free grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_grant: Option<FreeGrant>,
    /// The page the figures come from.
    #[serde(default)]
    pub source: String,
    /// When they were read from it, `YYYY-MM-DD`.
    #[serde(default)]
    pub read: String,
    /// Anything a reader of an estimate should know about these figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What is wrong with the figures of `entries` (the price table's `containerApps` section).
pub(crate) fn check_prices(entries: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    for (at, e) in prices::typed::<ContainerAppsPrice>(SECTION, entries, &mut problems) {
        let fields = [
            ("vcpuSecond", e.vcpu_second),
            ("gibSecond", e.gib_second),
            ("idleVcpuSecond", e.idle_vcpu_second),
            ("idleGibSecond", e.idle_gib_second),
            ("perMillionRequests", e.per_million_requests),
        ];
        let names = fields.map(|(name, _)| name);
        amounts(
            &mut problems,
            &at,
            e.option.as_str(),
            &fields,
            &names,
            &names,
        );
        if let Some(free) = &e.free_grant {
            let fields = [
                ("vcpuSeconds", Some(free.vcpu_seconds)),
                ("gibSeconds", Some(free.gib_seconds)),
                ("requests", Some(free.requests)),
            ];
            let names = fields.map(|(name, _)| name);
            prices::amounts_up_to(
                &mut problems,
                &format!("{at}.freeGrant"),
                e.option.as_str(),
                &fields,
                &[],
                &names,
                prices::FREE_AMOUNT,
            );
        }
    }
    problems
}

/// A replica's CPU (millicores) and memory (GiB), each container counted as validation sizes it
/// (an unset half from the other, 2 GiB per vCPU; neither set: 0.5 vCPU and 1 GiB).
fn replica_size(shape: &Shape, assumptions: &mut Vec<String>) -> (u64, f64) {
    let mut cpu = 0;
    let mut gib = 0.0;
    let mut defaulted = false;
    for c in &shape.containers {
        let memory = c.memory_bytes.map(|b| float(b) / GIB);
        let millis = c.cpu_millis.unwrap_or_else(|| {
            defaulted = true;
            memory.map_or(DEFAULT_CPU_MILLIS, |m| {
                whole_millis(m * 1000.0 / float(GIB_PER_CPU))
            })
        });
        cpu = millis.saturating_add(cpu);
        gib += memory.unwrap_or_else(|| {
            defaulted = true;
            float(millis) / 1000.0 * float(GIB_PER_CPU)
        });
    }
    if defaulted {
        assumptions.push(format!(
            "a container without cpu or memory counts as {} GiB per vCPU, {} vCPU without either \
             (Container Apps' defaults)",
            GIB_PER_CPU,
            format_cores(DEFAULT_CPU_MILLIS)
        ));
    }
    (cpu, gib)
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // a few thousand millicores
fn whole_millis(x: f64) -> u64 {
    if x.is_finite() && x > 0.0 {
        x.round() as u64
    } else {
        0
    }
}

/// Why a replica of this size or workload profile cannot be priced, if it cannot.
fn unpriced(shape: &Shape, section: Option<&ContainerAppsSpec>) -> Option<String> {
    if shape.gpu() {
        return Some(
            "Ferry does not run GPUs on Container Apps, and the price table has no GPU prices"
                .to_owned(),
        );
    }
    section
        .and_then(|c| c.workload_profile.as_deref())
        .filter(|p| !p.eq_ignore_ascii_case(CONSUMPTION))
        .map(|profile| {
            format!(
                "workload profile {profile} is a Dedicated one, billed per profile instance and \
                 shared by what runs on it: the price table prices the Consumption profile only"
            )
        })
}

/// The Consumption entry for `region` (the table's first region's when it has none for it,
/// with an assumption saying so).
fn consumption_price(
    prices: &PriceTable,
    region: Option<&str>,
    assumptions: &mut Vec<String>,
) -> Result<ContainerAppsPrice, String> {
    let entries: Vec<ContainerAppsPrice> = prices.entries(SECTION);
    let option = ContainerAppsOption::Consumption;
    let chosen =
        choose(&entries, region, |e| (&e.region, e.option == option)).ok_or_else(|| {
            "the price table has no Container Apps consumption prices: add them with --prices"
                .to_owned()
        })?;
    region_assumption(&chosen, &chosen.entry.region, assumptions);
    Ok(chosen.entry.clone())
}

/// One run of a job on the Consumption plan: `tasks` replicas of `task_seconds` each, every
/// replica-second at the active rates (jobs have no idle rate and no requests). Linear in the
/// tasks, so a month of a schedule is one call with every run's tasks.
pub(crate) fn estimate_run(input: &RunInput<'_>) -> Priced {
    let mut assumptions = Vec::new();
    if let Some(why) = unpriced(input.shape, input.spec.container_apps.as_ref()) {
        return Priced::unavailable(why, assumptions);
    }
    let (cpu_millis, gib) = replica_size(input.shape, &mut assumptions);
    let p = match consumption_price(input.prices, input.region, &mut assumptions) {
        Ok(p) => p,
        Err(why) => return Priced::unavailable(why, assumptions),
    };
    assumptions.push(
        "a job's replicas are billed per second at the active rates while they run; jobs have \
         no idle rate and no request charge"
            .into(),
    );
    assumptions.push(
        "a failed replica that is retried runs, and is billed, again: retries are not counted"
            .into(),
    );
    // The service estimate takes the grant off only under a traffic profile that says the
    // subscription has it to spare (`Traffic::free_tier`); a run has no traffic profile.
    if let Some(free) = &p.free_grant {
        assumptions.push(format!(
            "the monthly free grant ({} vCPU-s and {} GiB-s per subscription, shared by every \
             app and job of it) is not taken off: Ferry cannot know how much of it the rest of \
             the subscription uses",
            thousands(free.vcpu_seconds),
            thousands(free.gib_seconds)
        ));
    }
    let replica_seconds = f64::from(input.tasks) * f64::from(input.task_seconds);
    let vcpu = float(cpu_millis) / 1000.0;
    let rate = |r: Option<f64>| r.unwrap_or(0.0);
    let breakdown = Breakdown {
        compute: Usd::from_dollars(replica_seconds * vcpu * rate(p.vcpu_second)),
        memory: Usd::from_dollars(replica_seconds * gib * rate(p.gib_second)),
        ..Breakdown::default()
    };
    Priced {
        figure: Figure::priced(breakdown),
        note: format!(
            "{} x {} vCPU, {} GiB, {} s each at the active rates; {} prices",
            plural(input.tasks, "replica", "replicas"),
            format_cores(cpu_millis),
            short(gib),
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

/// Azure Container Apps on the Consumption plan.
pub(crate) fn estimate(input: &EstimateInput<'_>) -> Priced {
    let EstimateInput {
        spec,
        shape,
        traffic,
        prices,
        region,
    } = *input;
    let mut assumptions = Vec::new();
    if let Some(why) = unpriced(shape, spec.container_apps.as_ref()) {
        return Priced::unavailable(why, assumptions);
    }
    let (cpu_millis, gib) = replica_size(shape, &mut assumptions);
    let min = shape.min.unwrap_or(0);
    let max = shape.max.unwrap_or(DEFAULT_MAX_REPLICAS).max(min).max(1);
    let threshold = match shape.metric {
        None | Some(ScalingMetric::Concurrency | ScalingMetric::Rps) => {
            shape.target.or(shape.concurrency)
        }
        Some(ScalingMetric::Cpu | ScalingMetric::Memory) => shape.concurrency,
    };
    let limit = threshold.unwrap_or(DEFAULT_CONCURRENT_REQUESTS);
    if matches!(
        shape.metric,
        Some(ScalingMetric::Cpu | ScalingMetric::Memory)
    ) {
        assumptions.push(format!(
            "scaling on utilization is modelled as {limit} requests in flight per replica"
        ));
    }
    let load = Load::of(traffic);
    let (busy, cap_assumption) = cap(load.busy(traffic, limit).0, Some(max));
    assumptions.extend(cap_assumption);
    let idle_seconds = (f64::from(min) * SECONDS_PER_MONTH - busy).max(0.0);

    let p = match consumption_price(prices, region, &mut assumptions) {
        Ok(p) => p,
        Err(why) => return Priced::unavailable(why, assumptions),
    };
    let vcpu = float(cpu_millis) / 1000.0;
    let rate = |r: Option<f64>| r.unwrap_or(0.0);
    let (v, g) = (rate(p.vcpu_second), rate(p.gib_second));
    let (idle_v, idle_g) = (rate(p.idle_vcpu_second), rate(p.idle_gib_second));
    let per_request = rate(p.per_million_requests) / 1e6;
    let mut breakdown = Breakdown {
        compute: Usd::from_dollars(busy * vcpu * v),
        memory: Usd::from_dollars(busy * gib * g),
        requests: Usd::from_dollars(load.requests * per_request),
        idle_minimum: Usd::from_dollars(idle_seconds * (vcpu * idle_v + gib * idle_g)),
        ..Breakdown::default()
    };
    let free = p.free_grant.clone().filter(|_| traffic.free_tier);
    if let Some(free) = &free {
        // The grant covers active usage first, then what is left of it idle usage.
        let free_active_v = (busy * vcpu).min(free.vcpu_seconds);
        let free_active_g = (busy * gib).min(free.gib_seconds);
        let free_idle_v = (idle_seconds * vcpu).min(free.vcpu_seconds - free_active_v);
        let free_idle_g = (idle_seconds * gib).min(free.gib_seconds - free_active_g);
        let off = free_active_v * v
            + free_active_g * g
            + free_idle_v * idle_v
            + free_idle_g * idle_g
            + load.requests.min(free.requests) * per_request;
        let covered =
            breakdown.compute + breakdown.memory + breakdown.idle_minimum + breakdown.requests;
        breakdown.take_free_tier(off, covered);
        assumptions.push(
            "the free grant is per subscription: right only if no other app of the subscription \
             uses it"
                .into(),
        );
    }
    if min > 0 && !load.idle() {
        assumptions.push(
            "a minimum replica counts as idle whenever no request is modelled on it; Azure bills \
             it active while it uses more than 0.01 vCPU or 1,000 bytes/s"
                .into(),
        );
    }
    let resources = format!("{} vCPU, {} GiB", format_cores(cpu_millis), short(gib));
    Priced {
        figure: Figure::priced(breakdown),
        note: note(&load, traffic, limit, busy, min, &resources, &p.region),
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

fn note(
    load: &Load,
    traffic: &ferry_core::cost::Traffic,
    limit: u32,
    busy: f64,
    min: u32,
    resources: &str,
    region: &str,
) -> String {
    if load.idle() {
        return if min == 0 {
            "scales to zero: nothing billed while idle; requests extra".to_owned()
        } else {
            format!(
                "{} x {resources}, {HOURS_PER_MONTH} h at idle rates, {region} prices; requests \
                 extra",
                plural(min, "idle replica", "idle replicas")
            )
        };
    }
    let minimum = if min == 0 {
        "scales to zero".to_owned()
    } else {
        format!(
            "{} idle at idle rates",
            plural(min, "min replica", "min replicas")
        )
    };
    let (_, per_replica) = load.busy(traffic, limit);
    format!(
        "consumption: {} busy replica-s ({} requests x {} ms / {} in flight) x {resources}; \
         {minimum}; {region} prices",
        thousands(busy),
        thousands(load.requests),
        traffic.avg_duration_ms,
        short(per_replica)
    )
}
