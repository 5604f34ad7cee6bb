//! What a service costs on AWS Fargate: every task runs all month, sized up to a task size
//! Fargate sells, on-demand or Spot, x86 or ARM, plus ephemeral storage above the included
//! 20 GB. The prices are the `fargate` section of the price table (this crate's
//! `prices.yaml` ships with Ferry).

use ferry_api::{CapacityProvider, CpuArchitecture};
use ferry_core::backend::EstimateInput;
use ferry_core::cost::model::{
    AlwaysOn, Priced, Words, float, plural, region_assumption, short, used,
};
use ferry_core::cost::prices::{self, Chosen, amounts, choose};
use ferry_core::cost::{Breakdown, Figure, HOURS_PER_MONTH, PriceUsed, Usd};
use ferry_core::quantity::{format_bytes, format_cores};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::limits::{INCLUDED_EPHEMERAL_GIB, MIN_INSTANCES, smallest_task_size};

/// This provider's section of the price table.
pub const SECTION: &str = "fargate";
/// The entries Ferry ships.
pub const EMBEDDED: &str = include_str!("../prices.yaml");
/// Requests a Fargate task is taken to serve at once when the spec sets no `concurrency`
/// (Fargate itself has no such limit): Cloud Run's default.
pub const ASSUMED_CONCURRENCY: u32 = 80;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// A Fargate price option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FargateOption {
    /// Linux on x86_64, on-demand.
    LinuxX86,
    /// Linux on ARM64 (Graviton), on-demand.
    LinuxArm,
    /// Windows on x86_64, on-demand (vCPU price including the OS licence).
    WindowsX86,
    /// Fargate Spot: a discount on the on-demand price.
    Spot,
}

impl FargateOption {
    /// The name written in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            FargateOption::LinuxX86 => "linux-x86",
            FargateOption::LinuxArm => "linux-arm",
            FargateOption::WindowsX86 => "windows-x86",
            FargateOption::Spot => "spot",
        }
    }
}

/// One Fargate entry.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FargatePrice {
    /// AWS region, e.g. `us-east-1`.
    #[serde(default)]
    pub region: String,
    /// Which option this entry prices.
    pub option: FargateOption,
    /// USD per vCPU-hour (on-demand options).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu_hour: Option<f64>,
    /// USD per GB-hour of memory (on-demand options).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gb_hour: Option<f64>,
    /// USD per GB-hour of ephemeral storage above the included 20 GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage_gb_hour: Option<f64>,
    /// Fraction off the on-demand vCPU and memory price (`spot`), 0 to below 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<f64>,
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

/// What is wrong with the figures of `entries` (the price table's `fargate` section).
pub(crate) fn check_prices(entries: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    for (at, e) in prices::typed::<FargatePrice>(SECTION, entries, &mut problems) {
        let fields = [
            ("vcpuHour", e.vcpu_hour),
            ("gbHour", e.gb_hour),
            ("ephemeralStorageGbHour", e.ephemeral_storage_gb_hour),
            ("discount", e.discount),
        ];
        let (required, allowed): (&[&str], &[&str]) = match e.option {
            FargateOption::Spot => (&["discount"], &["discount"]),
            _ => (
                &["vcpuHour", "gbHour"],
                &["vcpuHour", "gbHour", "ephemeralStorageGbHour"],
            ),
        };
        amounts(
            &mut problems,
            &at,
            e.option.as_str(),
            &fields,
            required,
            allowed,
        );
        if let Some(d) = e.discount
            && d.is_finite()
            && d >= 1.0
        {
            problems.push(format!(
                "{at}.discount: a fraction off the on-demand price, below 1 (0.7 is 70 % \
                     off); got {d}"
            ));
        }
    }
    problems
}

/// AWS Fargate: every task runs all month.
pub(crate) fn estimate(input: &EstimateInput<'_>) -> Priced {
    let EstimateInput {
        spec,
        shape,
        traffic,
        prices,
        region,
    } = *input;
    let entries: Vec<FargatePrice> = prices.entries(SECTION);
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
    let Some((cpu_units, memory_mib)) = smallest_task_size(cpu, memory, windows) else {
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

    // Task count: the minimum, or what the load needs, within the scaling bounds (Ferry's
    // default for Fargate: a fixed count unless maxInstances is set).
    let count = AlwaysOn::of(
        shape,
        traffic,
        MIN_INSTANCES,
        ASSUMED_CONCURRENCY,
        Words {
            one: "task",
            many: "tasks",
            who: "Fargate",
            not_to_zero: "Fargate cannot scale to zero: 1 task at least",
        },
        &mut assumptions,
    );
    let AlwaysOn {
        count: tasks,
        serving,
        idle,
        ..
    } = count;

    // Prices.
    let option = match (windows, arm) {
        (true, _) => FargateOption::WindowsX86,
        (false, true) => FargateOption::LinuxArm,
        (false, false) => FargateOption::LinuxX86,
    };
    let Some(chosen) = price(&entries, region, option) else {
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
        let Some(discount) = price(&entries, Some(&base.region), FargateOption::Spot)
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
    let why = count.why();
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

/// The entry for `option` in `region`, or in the table's first region when it has none there.
fn price<'a>(
    entries: &'a [FargatePrice],
    region: Option<&'a str>,
    option: FargateOption,
) -> Option<Chosen<'a, FargatePrice>> {
    choose(entries, region, |e| (&e.region, e.option == option))
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
