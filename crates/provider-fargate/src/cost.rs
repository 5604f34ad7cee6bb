//! What a service costs on AWS Fargate: every task runs all month, sized up to a task size
//! Fargate sells, on-demand or Spot, x86 or ARM, plus ephemeral storage above the included
//! 20 GB. A ServerlessJob's run is the same tasks, each billed per second for as long as it
//! runs, at least a minute. The prices are the `fargate` section of the price table (this
//! crate's `prices.yaml` ships with Ferry).

use ferry_api::{CapacityProvider, CpuArchitecture, ServerlessServiceSpec};
use ferry_core::backend::EstimateInput;
use ferry_core::cost::model::{
    AlwaysOn, Priced, Words, float, plural, region_assumption, short, used,
};
use ferry_core::cost::prices::{self, Chosen, amounts, choose};
use ferry_core::cost::{Breakdown, Figure, HOURS_PER_MONTH, PriceTable, PriceUsed, Shape, Usd};
use ferry_core::job::cost::RunInput;
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

/// Fargate bills a task for at least this long (AWS Fargate pricing: per second, "a minimum
/// charge of 1 minute applies").
pub const MINIMUM_BILLED_SECONDS: u32 = 60;

/// One task as Fargate bills it: the size it sells for the spec's containers, on the spec's
/// platform and capacity. A service's month and a job's run are both priced from it.
struct Task {
    /// `0.5 vCPU, 1Gi`.
    size: String,
    /// vCPU.
    vcpu: f64,
    /// Memory, GB (GiB, as Fargate's prices mean it).
    gb: f64,
    /// Ephemeral storage billed: GiB above the included 20.
    storage_gib: u64,
    /// Which on-demand prices apply.
    option: FargateOption,
    /// Fargate Spot.
    spot: bool,
}

impl Task {
    /// The task of `spec`, sized up to what Fargate sells (saying so in `assumptions`), or why
    /// there is none.
    fn of(
        spec: &ServerlessServiceSpec,
        shape: &Shape,
        assumptions: &mut Vec<String>,
    ) -> Result<Self, String> {
        if shape.gpu() {
            return Err("Fargate has no GPUs".into());
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
            return Err(format!(
                "no Fargate task is that large ({} vCPU, {}): the largest is 16 vCPU, 120 GiB",
                format_cores(cpu.unwrap_or(0)),
                format_bytes(memory.unwrap_or(0))
            ));
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
        let option = match (windows, arm) {
            (true, _) => FargateOption::WindowsX86,
            (false, true) => FargateOption::LinuxArm,
            (false, false) => FargateOption::LinuxX86,
        };
        Ok(Self {
            size,
            vcpu: f64::from(cpu_units) / 1024.0,
            gb: f64::from(memory_mib) / 1024.0,
            storage_gib,
            option,
            spot,
        })
    }

    /// `Linux/x86`, `Linux/ARM64` or `Windows`.
    fn platform(&self) -> &'static str {
        match self.option {
            FargateOption::LinuxArm => "Linux/ARM64",
            FargateOption::WindowsX86 => "Windows",
            _ => "Linux/x86",
        }
    }

    /// ` + 3 GB storage`, or nothing within the included storage.
    fn storage_words(&self) -> String {
        if self.storage_gib > 0 {
            format!(" + {} GB storage", self.storage_gib)
        } else {
            String::new()
        }
    }
}

/// What an hour of a [`Task`] costs, from the price table.
struct Rates {
    /// USD per vCPU-hour, on-demand.
    vcpu_hour: f64,
    /// USD per GB-hour of memory, on-demand.
    gb_hour: f64,
    /// USD per GB-hour of the storage above the included 20 GB (0 when none is billed).
    storage_gb_hour: f64,
    /// What is left of the vCPU and memory price: `1 - discount` on Spot, else 1.
    factor: f64,
    /// `, Spot 70% off (varies)` on Spot, else nothing.
    spot_words: String,
    /// The region the prices are for.
    region: String,
    /// The entries used.
    prices: Vec<PriceUsed>,
}

impl Rates {
    /// The rates of `task` in `region` (the table's first when it has none there; saying so
    /// in `assumptions`), or why the table cannot price it.
    fn of(
        task: &Task,
        prices: &PriceTable,
        region: Option<&str>,
        assumptions: &mut Vec<String>,
    ) -> Result<Self, String> {
        let entries: Vec<FargatePrice> = prices.entries(SECTION);
        let option = task.option;
        let Some(chosen) = price(&entries, region, option) else {
            return Err(format!(
                "the price table has no Fargate {} prices: add them with --prices",
                option.as_str()
            ));
        };
        let base = chosen.entry;
        region_assumption(&chosen, &base.region, assumptions);
        let mut prices_used = vec![entry_used(base)];
        let mut factor = 1.0;
        let mut spot_words = String::new();
        if task.spot {
            let Some(discount) = price(&entries, Some(&base.region), FargateOption::Spot)
                .filter(|c| c.entry.region == base.region)
            else {
                return Err(format!(
                    "the price table has no Fargate Spot discount for {}: add one with --prices",
                    base.region
                ));
            };
            let d = discount.entry.discount.unwrap_or(0.0);
            factor = 1.0 - d;
            spot_words = format!(", Spot {}% off (varies)", short(d * 100.0));
            prices_used.push(entry_used(discount.entry));
            if task.storage_gib > 0 {
                assumptions
                    .push("the Spot discount is taken off vCPU and memory, not storage".into());
            }
        }
        let (Some(vcpu_hour), Some(gb_hour)) = (base.vcpu_hour, base.gb_hour) else {
            return Err("the price table's Fargate entry has no vCPU or GB price".into());
        };
        let storage_gb_hour = match (task.storage_gib, base.ephemeral_storage_gb_hour) {
            (0, _) => 0.0,
            (_, Some(rate)) => rate,
            (_, None) => {
                return Err(
                    "the price table has no Fargate ephemeral storage price: add \
                     ephemeralStorageGbHour with --prices"
                        .into(),
                );
            }
        };
        Ok(Self {
            vcpu_hour,
            gb_hour,
            storage_gb_hour,
            factor,
            spot_words,
            region: base.region.clone(),
            prices: prices_used,
        })
    }
}

/// `spec`, moved here from another provider, sized as [`estimate`] sizes it, so that
/// Fargate's own rules check the task that is billed: the CPU and memory the task size adds go
/// to the first container that sets each (the first container when none does), and ephemeral
/// storage above the included 20 GiB is rounded up to whole GiB. A spec no task size fits is
/// left as it is, for the rules to refuse.
pub(crate) fn as_priced(mut spec: ServerlessServiceSpec) -> ServerlessServiceSpec {
    let Ok(shape) = Shape::of(&spec) else {
        return spec;
    };
    let total = |pick: fn(&ferry_core::cost::model::Sizes) -> Option<u64>| {
        shape
            .containers
            .iter()
            .filter_map(pick)
            .reduce(u64::saturating_add)
    };
    let (cpu, memory, storage) = (
        total(|c| c.cpu_millis),
        total(|c| c.memory_bytes),
        total(|c| c.storage_bytes),
    );
    let Some((units, mib)) = smallest_task_size(cpu, memory, false) else {
        return spec;
    };
    let task_cpu = u64::from(units) * 1000 / 1024;
    let task_memory = u64::from(mib) * MIB;
    grow(&mut spec, &shape, Leaf::Cpu, task_cpu - cpu.unwrap_or(0));
    grow(
        &mut spec,
        &shape,
        Leaf::Memory,
        task_memory - memory.unwrap_or(0),
    );
    if let Some(bytes) = storage.filter(|b| *b > u64::from(INCLUDED_EPHEMERAL_GIB) * GIB) {
        grow(
            &mut spec,
            &shape,
            Leaf::Storage,
            bytes.div_ceil(GIB) * GIB - bytes,
        );
    }
    spec
}

/// A resource [`as_priced`] sizes up.
#[derive(Clone, Copy)]
enum Leaf {
    Cpu,
    Memory,
    Storage,
}

/// Adds `more` of `leaf` to the first container that sets it (the first container when none
/// does), written back as a quantity validation reads exactly.
fn grow(spec: &mut ServerlessServiceSpec, shape: &Shape, leaf: Leaf, more: u64) {
    let set = |i: usize| {
        let c = &shape.containers[i];
        match leaf {
            Leaf::Cpu => c.cpu_millis,
            Leaf::Memory => c.memory_bytes,
            Leaf::Storage => c.storage_bytes,
        }
    };
    let first = (0..shape.containers.len()).find(|&i| set(i).is_some());
    if more == 0 && first.is_some() {
        return;
    }
    let index = first.unwrap_or(0);
    let Some(container) = spec.containers.get_mut(index) else {
        return;
    };
    let now = set(index).unwrap_or(0).saturating_add(more);
    let resources = container.resources.get_or_insert_with(Default::default);
    let quantity = match leaf {
        Leaf::Cpu => format!("{now}m"),
        _ if now % MIB == 0 => format!("{}Mi", now / MIB),
        _ => now.to_string(),
    };
    let slot = match leaf {
        Leaf::Cpu => &mut resources.cpu,
        Leaf::Memory => &mut resources.memory,
        Leaf::Storage => &mut resources.ephemeral_storage,
    };
    *slot = Some(quantity.as_str().into());
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
    let mut assumptions = Vec::new();
    let task = match Task::of(spec, shape, &mut assumptions) {
        Ok(task) => task,
        Err(why) => return Priced::unavailable(why, assumptions),
    };

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

    let rates = match Rates::of(&task, prices, region, &mut assumptions) {
        Ok(rates) => rates,
        Err(why) => return Priced::unavailable(why, assumptions),
    };
    let Rates {
        vcpu_hour,
        gb_hour,
        storage_gb_hour,
        factor,
        ..
    } = rates;
    let (vcpu, gb) = (task.vcpu, task.gb);
    let per_task_month = |n: u32, rate: f64, amount: f64| {
        Usd::from_dollars(f64::from(n) * amount * f64::from(HOURS_PER_MONTH) * rate * factor)
    };
    let breakdown = Breakdown {
        compute: per_task_month(serving, vcpu_hour, vcpu),
        memory: per_task_month(serving, gb_hour, gb),
        storage: Usd::from_dollars(
            f64::from(tasks)
                * float(task.storage_gib)
                * f64::from(HOURS_PER_MONTH)
                * storage_gb_hour,
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
    let why = count.why();
    let note = format!(
        "{} x {}{}, {HOURS_PER_MONTH} h ({why}), {}{}, {} prices",
        plural(tasks, "task", "tasks"),
        task.size,
        task.storage_words(),
        task.platform(),
        rates.spot_words,
        rates.region
    );
    Priced {
        figure: Figure::priced(breakdown),
        note,
        assumptions,
        prices: rates.prices,
    }
}

/// One run of a ServerlessJob on Fargate: `input.tasks` tasks of the job's task size, each
/// billed per second for `input.task_seconds`, at least [`MINIMUM_BILLED_SECONDS`]. Linear in
/// the tasks, so a month of a schedule is the same model over every run's tasks.
pub(crate) fn estimate_run(input: &RunInput<'_>) -> Priced {
    let mut assumptions = Vec::new();
    let spec = input.spec.workload();
    let task = match Task::of(&spec, input.shape, &mut assumptions) {
        Ok(task) => task,
        Err(why) => return Priced::unavailable(why, assumptions),
    };
    let rates = match Rates::of(&task, input.prices, input.region, &mut assumptions) {
        Ok(rates) => rates,
        Err(why) => return Priced::unavailable(why, assumptions),
    };
    let billed = input.task_seconds.max(MINIMUM_BILLED_SECONDS);
    if billed > input.task_seconds {
        assumptions.push(format!(
            "Fargate bills each task at least {MINIMUM_BILLED_SECONDS} s: {} s counts as \
             {billed}",
            input.task_seconds
        ));
    }
    // AWS Fargate pricing (aws.amazon.com/fargate/pricing): "from the time you start to
    // download your container image until the Amazon ECS Task ... terminates, rounded up to
    // the nearest second", with a one-minute minimum.
    assumptions.push(
        "Fargate bills each task per second from the start of its image pull until it stops, \
         at least a minute (aws.amazon.com/fargate/pricing): the pull and start-up are billed \
         too; Ferry counts timeoutSeconds from the task's creation, so an attempt it stops \
         there is billed about timeoutSeconds"
            .into(),
    );
    if task.option == FargateOption::WindowsX86 {
        assumptions.push(
            "the one-minute minimum is the one the pricing page gives for Linux tasks; check \
             it for Windows tasks"
                .into(),
        );
    }
    assumptions.push(
        "a failed task that is retried (Spot interruptions included) runs, and is billed, \
         again: retries are not counted"
            .into(),
    );
    let hours = f64::from(input.tasks) * f64::from(billed) / 3600.0;
    let breakdown = Breakdown {
        compute: Usd::from_dollars(task.vcpu * rates.vcpu_hour * rates.factor * hours),
        memory: Usd::from_dollars(task.gb * rates.gb_hour * rates.factor * hours),
        storage: Usd::from_dollars(float(task.storage_gib) * rates.storage_gb_hour * hours),
        ..Breakdown::default()
    };
    Priced {
        figure: Figure::priced(breakdown),
        note: format!(
            "{} x {}{}, {billed} s each, {}{}, {} prices",
            plural(input.tasks, "task", "tasks"),
            task.size,
            task.storage_words(),
            task.platform(),
            rates.spot_words,
            rates.region
        ),
        assumptions,
        prices: rates.prices,
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
