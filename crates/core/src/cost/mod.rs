//! Cost estimates: what a `ServerlessService` costs per month on each provider, as a pure
//! function of its spec, a traffic profile and the price table ([`prices`]). This module is the
//! framework (money, the load a traffic profile means, the comparison); each backend crate
//! prices its own provider ([`Rules::estimate`](crate::backend::Rules::estimate)).
//!
//! The models, in short (docs/cost.md says them at length):
//! - Load: `requests x mean duration` is the month's request-seconds; divided by the requests in
//!   flight per busy instance it gives **busy instance-seconds**. Requests in flight per busy
//!   instance is the profile's mean concurrency, or else the month's average load (Little's
//!   law, at least 1), never more than the instance's concurrency limit.
//! - Cloud Run, request-based: busy instance-seconds at the active rates, a fee per request,
//!   minimum instances at the idle rates while they serve nothing, the free tier off.
//!   Instance-based (CPU always allocated): every instance-second of busy and minimum instances
//!   at the instance-based rates, no request fee, its own free tier.
//! - Fargate: tasks run all month; their number is the minimum task count or what the load
//!   needs, within the Application Auto Scaling bounds; on-demand or Spot, x86 or ARM, plus
//!   ephemeral storage above the included 20 GB.
//! - Knative: pods as Cloud Run's instance-based model (busy pods, plus minimum pods all month)
//!   at the node price the user gives; with no price, only a scale-to-zero service at rest can
//!   be priced (at nothing).
//!
//! Money is worked out in `f64` and every line is rounded to whole cents (through whole
//! micro-dollars, so float noise never decides a half cent); totals are sums of rounded lines,
//! so what is shown always adds up. A line is exact to the cent only up to
//! [`MAX_LINE_USD`]: a figure beyond it (or one that overflows) is refused with the reason,
//! never capped, and the inputs a user gives are bounded where they are read ([`bounds`],
//! [`prices::MAX_PRICE`]).
//!
//! Before a provider prices a spec, its own rules check it as it would be moved there
//! ([`sold`]): a size the provider does not sell is not priced.

pub mod model;
pub mod prices;
pub mod sold;
mod yaml;

use std::fmt;
use std::iter::Sum;
use std::ops::Add;

use ferry_api::{CostEstimate, Provider, ProviderConfigSpec, ServerlessServiceSpec};
use serde::{Serialize, Serializer};

use crate::backend::{Catalog, EstimateInput, Rules};
use crate::capabilities::{Feature, Level, volume_feature};

pub use model::{Load, Priced, Shape, thousands};
pub use prices::{PriceError, PriceTable};
pub use sold::Refused;

/// Hours in a month, as AWS and Google price pages count them.
pub const HOURS_PER_MONTH: u32 = 730;
/// Seconds in a month of [`HOURS_PER_MONTH`].
pub const SECONDS_PER_MONTH: f64 = 730.0 * 3600.0;
/// Requests per month when the profile gives none.
pub const DEFAULT_REQUESTS_PER_MONTH: u64 = 10_000_000;
/// Mean request duration, milliseconds, when the profile gives none.
pub const DEFAULT_AVG_DURATION_MS: u32 = 100;

/// The most a line of an estimate may come to, in USD a month: far above what one service or
/// job costs, and well within what `f64` holds to the micro-dollar (2^53 micro-dollars is about
/// 9 billion), so that every line is exact to the cent. A line beyond it is an error.
pub const MAX_LINE_USD: u32 = 1_000_000_000;

/// The bounds of a traffic profile: what `ferry cost` accepts, each with why.
pub mod bounds {
    /// The most requests in a month: about 380 million a second all month, more than any one
    /// service serves, and exact as a float (below 2^53).
    pub const MAX_REQUESTS_PER_MONTH: u64 = 1_000_000_000_000_000;
    /// The longest mean request, milliseconds: an hour, the longest request any of the
    /// providers serves (Cloud Run's largest timeout); longer work is a job.
    pub const MAX_AVG_DURATION_MS: u32 = 3_600_000;
    /// The fewest requests in flight on a busy instance: below it, busy time would be more
    /// than a hundred times the time spent serving.
    pub const MIN_MEAN_CONCURRENCY: f64 = 0.01;
    /// The most requests in flight on a busy instance: above any concurrency a provider
    /// allows (the spec's concurrency caps it anyway).
    pub const MAX_MEAN_CONCURRENCY: f64 = 1_000_000.0;
    /// The longest a job's task is taken to run, seconds: a week, the longest
    /// `timeoutSeconds` a `ServerlessJob` takes.
    pub const MAX_TASK_SECONDS: u32 = 604_800;
}

/// The traffic an estimate assumes.
#[derive(Clone, Debug, PartialEq)]
pub struct Traffic {
    /// Requests in a month.
    pub requests_per_month: u64,
    /// Mean time to serve one request, milliseconds.
    pub avg_duration_ms: u32,
    /// Mean requests in flight on a busy instance; `None`: the month's average load, at least 1.
    /// Never more than the instance's concurrency limit.
    pub mean_concurrency: Option<f64>,
    /// Whether to take off the provider's monthly free tier (per billing account: right only
    /// when nothing else in the account uses it).
    pub free_tier: bool,
}

impl Default for Traffic {
    fn default() -> Self {
        Self {
            requests_per_month: DEFAULT_REQUESTS_PER_MONTH,
            avg_duration_ms: DEFAULT_AVG_DURATION_MS,
            mean_concurrency: None,
            free_tier: true,
        }
    }
}

impl Traffic {
    /// No requests at all, no free tier: what the spec itself costs at rest (the status
    /// estimate's basis; a free tier shared by a billing account is not one service's).
    pub fn none() -> Self {
        Self {
            requests_per_month: 0,
            avg_duration_ms: 0,
            mean_concurrency: None,
            free_tier: false,
        }
    }
}

/// US dollars, in whole cents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Usd(i64);

impl Usd {
    /// Nothing.
    pub const ZERO: Usd = Usd(0);

    /// An amount of cents.
    pub const fn from_cents(cents: i64) -> Self {
        Self(cents)
    }

    /// The amount in cents.
    pub const fn cents(self) -> i64 {
        self.0
    }

    /// A line too large to be exact to the cent (or no number at all): [`Usd::from_dollars`]
    /// gives it beyond [`MAX_LINE_USD`], sums keep it, and the comparison turns an estimate
    /// holding one into an error ([`Usd::is_exact`]), so it is never shown.
    pub const OUT_OF_RANGE: Usd = Usd(i64::MAX);

    /// Rounds dollars to cents, half away from zero, after snapping to whole micro-dollars so
    /// that `14.774999999999` (float noise for 14.775) rounds like 14.775. Beyond
    /// [`MAX_LINE_USD`] either way, or not a number: [`Usd::OUT_OF_RANGE`].
    #[allow(clippy::cast_possible_truncation)] // within MAX_LINE_USD: far inside i64
    pub fn from_dollars(dollars: f64) -> Self {
        if !dollars.is_finite() || dollars.abs() > f64::from(MAX_LINE_USD) {
            return Self::OUT_OF_RANGE;
        }
        let micros = (dollars * 1e6).round();
        Self((micros / 1e4).round() as i64)
    }

    /// Whether this is an amount Ferry shows: not [`Usd::OUT_OF_RANGE`] (nor its negation, a
    /// free tier taken off a line out of range).
    pub fn is_exact(self) -> bool {
        self.0.unsigned_abs() < i64::MAX.unsigned_abs()
    }
}

impl Add for Usd {
    type Output = Usd;
    /// A sum with a line out of range is out of range.
    fn add(self, other: Usd) -> Usd {
        if !self.is_exact() || !other.is_exact() {
            return Usd::OUT_OF_RANGE;
        }
        self.0
            .checked_add(other.0)
            .map(Usd)
            .filter(|sum| sum.is_exact())
            .unwrap_or(Usd::OUT_OF_RANGE)
    }
}

impl Sum for Usd {
    fn sum<I: Iterator<Item = Usd>>(iter: I) -> Usd {
        iter.fold(Usd::ZERO, Add::add)
    }
}

impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let cents = self.0.unsigned_abs();
        let text = format!("{sign}{}.{:02}", cents / 100, cents % 100);
        f.pad(&text)
    }
}

impl Serialize for Usd {
    /// A decimal string with two places, as status carries it: JSON numbers would bring float
    /// rounding back.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What a monthly figure is made of, each line rounded to cents.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Breakdown {
    /// vCPU while serving (Fargate: tasks the load needs).
    pub compute: Usd,
    /// Memory while serving.
    pub memory: Usd,
    /// Ephemeral storage (Fargate, above the included 20 GB).
    pub storage: Usd,
    /// Fees per request (Cloud Run, request-based).
    pub requests: Usd,
    /// Minimum instances while they serve nothing (Fargate: tasks kept beyond what the load
    /// needs).
    pub idle_minimum: Usd,
    /// The free tier, taken off (zero or negative).
    pub free_tier: Usd,
}

impl Breakdown {
    /// Takes a free tier worth `dollars` off, never more than `covered`, the rounded lines it
    /// pays for: each line is rounded to cents on its own, so a free tier that covers the whole
    /// usage could otherwise round one cent above it and make the month negative.
    pub fn take_free_tier(&mut self, dollars: f64, covered: Usd) {
        let off = Usd::from_dollars(dollars)
            .cents()
            .clamp(0, covered.cents().max(0));
        self.free_tier = Usd::from_cents(-off);
    }

    /// The first line too large to be exact ([`Usd::is_exact`]), by the name the output gives
    /// it.
    pub fn out_of_range(&self) -> Option<&'static str> {
        [
            ("compute", self.compute),
            ("memory", self.memory),
            ("storage", self.storage),
            ("requests", self.requests),
            ("idle minimum", self.idle_minimum),
            ("free tier", self.free_tier),
        ]
        .into_iter()
        .find(|(_, line)| !line.is_exact())
        .map(|(name, _)| name)
    }

    /// The monthly figure: the sum of the rounded lines.
    pub fn total(&self) -> Usd {
        [
            self.compute,
            self.memory,
            self.storage,
            self.requests,
            self.idle_minimum,
            self.free_tier,
        ]
        .into_iter()
        .sum()
    }
}

/// A figure, or why there is none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
pub enum Figure {
    /// Priced.
    Priced {
        /// The monthly total.
        monthly_usd: Usd,
        /// Its lines.
        breakdown: Breakdown,
    },
    /// Not priced: the reason, and what would make it possible.
    Unavailable {
        /// Why.
        unavailable: String,
    },
}

impl Figure {
    /// The monthly total, when priced.
    pub fn monthly(&self) -> Option<Usd> {
        match self {
            Figure::Priced { monthly_usd, .. } => Some(*monthly_usd),
            Figure::Unavailable { .. } => None,
        }
    }

    /// Priced at `breakdown`'s total.
    pub fn priced(breakdown: Breakdown) -> Self {
        Figure::Priced {
            monthly_usd: breakdown.total(),
            breakdown,
        }
    }
}

/// A price-table entry an estimate used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceUsed {
    /// Region (for Knative, the cluster's label).
    pub region: String,
    /// The entry's option.
    pub option: String,
    /// Where its figures come from.
    pub source: String,
    /// When they were read.
    pub read: String,
    /// The entry's note, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The monthly estimate for one provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Estimate {
    /// The provider.
    pub provider: Provider,
    /// The figure and its breakdown, or why there is none.
    #[serde(flatten)]
    pub figure: Figure,
    /// Whether no provider of the comparison is cheaper.
    pub cheapest: bool,
    /// One line: what drives the figure.
    pub note: String,
    /// What the figure assumes beyond the traffic profile.
    pub assumptions: Vec<String>,
    /// The price-table entries it used.
    pub prices: Vec<PriceUsed>,
    /// When the provider does not sell what the spec asks for: each refusal of its rules, as
    /// `ferry validate` words it ([`sold`]); the figure is unavailable.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Refused>,
    /// Whether the figure could not be worked out exactly (a line beyond [`MAX_LINE_USD`]):
    /// an error, not an answer; the figure is unavailable and says why.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub error: bool,
}

impl Estimate {
    /// No figure from `provider`: `why` (also the note).
    fn unavailable(provider: Provider, why: String) -> Self {
        Self {
            provider,
            note: why.clone(),
            figure: Figure::Unavailable { unavailable: why },
            cheapest: false,
            assumptions: Vec::new(),
            prices: Vec::new(),
            refused: Vec::new(),
            error: false,
        }
    }
}

/// Why `breakdown`'s figure cannot be shown, if it cannot: a line beyond what Ferry works out
/// to the cent. `who` names the provider, `what` what is priced (`a month`, `one run`).
pub fn out_of_range(breakdown: &Breakdown, who: &str, what: &str) -> Option<String> {
    let line = breakdown.out_of_range()?;
    Some(format!(
        "not priced: the {line} line of {who} for {what} would come to more than {} USD, the \
         most Ferry works out to the cent: check the sizes (spec.containers[].resources), the \
         traffic (--requests-per-month, --avg-duration-ms, --mean-concurrency, \
         --task-seconds) and the prices (--prices)",
        thousands(f64::from(MAX_LINE_USD))
    ))
}

/// The traffic an estimate used, as the output states it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficReport {
    /// Requests per month.
    pub requests_per_month: u64,
    /// Mean request duration, milliseconds.
    pub avg_duration_ms: u32,
    /// The mean concurrency given, if any (otherwise each provider derives it from the load).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_concurrency: Option<f64>,
    /// The month's average requests in flight (requests x duration / seconds in a month),
    /// rounded to hundredths.
    pub average_in_flight: f64,
    /// Whether free tiers were taken off.
    pub free_tier: bool,
    /// Hours in the month.
    pub hours_per_month: u32,
}

/// Every provider's estimate for one spec.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    /// The traffic assumed.
    pub traffic: TrafficReport,
    /// Knative, Fargate, Cloud Run.
    pub estimates: Vec<Estimate>,
}

/// What `spec` would cost per month on every provider of `catalog`, whatever its own, with the
/// cheapest marked. `config` is the ProviderConfig the spec names, when known (its regions are
/// priced). Fields of another provider's section do not apply; each provider gets its own
/// defaults and sizes (the assumptions say which).
pub fn compare(
    spec: &ServerlessServiceSpec,
    traffic: &Traffic,
    prices: &PriceTable,
    config: Option<&ProviderConfigSpec>,
    catalog: &Catalog,
) -> Comparison {
    let mut estimates: Vec<Estimate> = catalog
        .iter()
        .map(|rules| estimate(rules, spec, traffic, prices, config))
        .collect();
    let cheapest = estimates.iter().filter_map(|e| e.figure.monthly()).min();
    for e in &mut estimates {
        e.cheapest = cheapest.is_some() && e.figure.monthly() == cheapest;
    }
    let load = Load::of(traffic);
    Comparison {
        traffic: TrafficReport {
            requests_per_month: traffic.requests_per_month,
            avg_duration_ms: traffic.avg_duration_ms,
            mean_concurrency: traffic.mean_concurrency,
            average_in_flight: (load.in_flight * 100.0).round() / 100.0,
            free_tier: traffic.free_tier,
            hours_per_month: HOURS_PER_MONTH,
        },
        estimates,
    }
}

/// What `spec` would cost per month on the provider of `rules` under `traffic`, priced in the
/// region the spec or `config` gives (or the table's first region for the provider).
pub fn estimate(
    rules: &dyn Rules,
    spec: &ServerlessServiceSpec,
    traffic: &Traffic,
    prices: &PriceTable,
    config: Option<&ProviderConfigSpec>,
) -> Estimate {
    let provider = rules.provider();
    let refused = sold::refusals(spec, rules);
    if !refused.is_empty() {
        let why = sold::not_sold(rules, &refused);
        return Estimate {
            refused,
            ..Estimate::unavailable(provider, why)
        };
    }
    let shape = match Shape::of(spec) {
        Ok(shape) => shape,
        Err(problem) => return Estimate::unavailable(provider, problem),
    };
    let region = rules.region(spec, config);
    let mut out = rules.estimate(&EstimateInput {
        spec,
        shape: &shape,
        traffic,
        prices,
        region: region.as_deref(),
    });
    if let Figure::Priced { breakdown, .. } = &out.figure
        && let Some(why) = out_of_range(breakdown, provider.display_name(), "a month")
    {
        return Estimate {
            error: true,
            ..Estimate::unavailable(provider, why)
        };
    }
    out.assumptions.extend(volume_assumptions(spec, rules));
    if provider != spec.provider {
        out.assumptions.insert(
            0,
            format!(
                "the spec is for {}: {} gets its own defaults for what the spec leaves out",
                spec.provider.display_name(),
                provider.display_name()
            ),
        );
    }
    Estimate {
        provider,
        figure: out.figure,
        cheapest: false,
        note: out.note,
        assumptions: out.assumptions,
        prices: out.prices,
        refused: Vec::new(),
        error: false,
    }
}

/// What an estimate leaves out of `spec`'s volumes: storage mounted from a storage service is
/// billed by that service (its capacity, requests and throughput depend on use, not on the
/// spec), and a volume the provider cannot mount is not priced at all.
pub(crate) fn volume_assumptions(spec: &ServerlessServiceSpec, rules: &dyn Rules) -> Vec<String> {
    let mut out = Vec::new();
    let mut billed_elsewhere: Vec<&str> = Vec::new();
    for (i, volume) in spec.volumes.iter().flatten().enumerate() {
        let Some(feature) = volume_feature(volume) else {
            continue;
        };
        let support = rules.support(feature);
        if support.level == Level::No {
            out.push(format!(
                "spec.volumes[{i}] ({}): {} cannot mount it ({}); not priced",
                volume.kind().unwrap_or_default(),
                rules.provider().display_name(),
                support.note
            ));
            continue;
        }
        let service = match feature {
            Feature::VolumeNfs => "the NFS server (e.g. Filestore)",
            Feature::VolumeEfs => "Amazon EFS",
            Feature::VolumeGcs => "Cloud Storage",
            Feature::VolumeAzureFile => "Azure Files",
            _ => continue,
        };
        if !billed_elsewhere.contains(&service) {
            billed_elsewhere.push(service);
        }
    }
    if !billed_elsewhere.is_empty() {
        out.push(format!(
            "mounted storage is billed by its own service and is not in this estimate: {}",
            billed_elsewhere.join(", ")
        ));
    }
    out
}

/// `status.estimatedMonthlyCost`: what the spec itself costs per month on its own provider
/// (whose `rules` these are) with no traffic (minimum instances or tasks all month; a service
/// that scales to zero costs nothing at rest). `None` when it cannot be priced (a GPU, Knative
/// without a node price).
pub fn baseline(
    rules: &dyn Rules,
    spec: &ServerlessServiceSpec,
    prices: &PriceTable,
    config: Option<&ProviderConfigSpec>,
) -> Option<CostEstimate> {
    let e = estimate(rules, spec, &Traffic::none(), prices, config);
    let usd = e.figure.monthly()?;
    Some(CostEstimate {
        usd: usd.to_string(),
        basis: e.note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing the price table (docs/reliability.md): 0.094 of compute rounded to 0.09,
    /// the free tier covering it and 0.004 of memory to 0.10, and the month came out at -0.01.
    #[test]
    fn a_free_tier_never_takes_off_more_than_the_rounded_lines_it_covers() {
        let mut b = Breakdown {
            compute: Usd::from_dollars(0.094),
            memory: Usd::from_dollars(0.004),
            ..Breakdown::default()
        };
        b.take_free_tier(0.098, b.compute + b.memory);
        assert_eq!(b.free_tier, Usd::from_cents(-9));
        assert_eq!(b.total(), Usd::ZERO);
        b.take_free_tier(0.03, b.compute + b.memory);
        assert_eq!(b.total(), Usd::from_cents(6));
        b.take_free_tier(-1.0, b.compute);
        assert_eq!(b.free_tier, Usd::ZERO);
    }
}
