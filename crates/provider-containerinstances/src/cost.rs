//! What a service costs on Azure Container Instances: one container group, billed per second
//! for the vCPU and memory its containers request, all month (no scale to zero, no fee per
//! request); Windows adds a software charge per vCPU-second; Spot is cheaper. The prices are
//! the `containerInstances` section of the price table (this crate's `prices.yaml` ships with
//! Ferry).

use ferry_api::{AciPriority, OsType};
use ferry_core::backend::EstimateInput;
use ferry_core::cost::model::{Priced, float, region_assumption, used};
use ferry_core::cost::prices::{self, amounts, choose};
use ferry_core::cost::{Breakdown, Figure, HOURS_PER_MONTH, SECONDS_PER_MONTH, Usd};
use ferry_core::quantity::{format_bytes, format_cores};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::limits::{DEFAULT_CPU_MILLIS, DEFAULT_MEMORY_TENTHS, GB};

/// This provider's section of the price table.
pub const SECTION: &str = "containerInstances";
/// The entries Ferry ships.
pub const EMBEDDED: &str = include_str!("../prices.yaml");

/// A Container Instances price option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AciOption {
    /// Linux, Regular priority.
    Linux,
    /// Windows, Regular priority: the Linux rates plus a software charge per vCPU-second.
    Windows,
    /// Spot priority (Linux only).
    Spot,
}

impl AciOption {
    /// The name written in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            AciOption::Linux => "linux",
            AciOption::Windows => "windows",
            AciOption::Spot => "spot",
        }
    }
}

/// One Container Instances entry.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AciPrice {
    /// Azure region, as ARM writes it (`eastus`).
    #[serde(default)]
    pub region: String,
    /// Which option this entry prices.
    pub option: AciOption,
    /// USD per vCPU-second requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu_second: Option<f64>,
    /// USD per GB-second of memory requested (ACI's GB are GiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gb_second: Option<f64>,
    /// USD per vCPU-second of Windows software (`windows` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_vcpu_second: Option<f64>,
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

/// What is wrong with the figures of `entries` (the price table's `containerInstances`
/// section).
pub(crate) fn check_prices(entries: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    for (at, e) in prices::typed::<AciPrice>(SECTION, entries, &mut problems) {
        let fields = [
            ("vcpuSecond", e.vcpu_second),
            ("gbSecond", e.gb_second),
            ("softwareVcpuSecond", e.software_vcpu_second),
        ];
        let (required, allowed): (&[&str], &[&str]) = match e.option {
            AciOption::Windows => (
                &["vcpuSecond", "gbSecond", "softwareVcpuSecond"],
                &["vcpuSecond", "gbSecond", "softwareVcpuSecond"],
            ),
            AciOption::Linux | AciOption::Spot => {
                (&["vcpuSecond", "gbSecond"], &["vcpuSecond", "gbSecond"])
            }
        };
        amounts(
            &mut problems,
            &at,
            e.option.as_str(),
            &fields,
            required,
            allowed,
        );
    }
    problems
}

/// Azure Container Instances: one group, all month.
pub(crate) fn estimate(input: &EstimateInput<'_>) -> Priced {
    let EstimateInput {
        spec,
        shape,
        traffic: _,
        prices,
        region,
    } = *input;
    let mut assumptions = Vec::new();
    if shape.gpu() {
        return Priced::unavailable(
            "the price table has no Container Instances GPU prices, and a GPU is most of the bill",
            assumptions,
        );
    }
    let section = spec.container_instances.clone().unwrap_or_default();
    let windows = section.os_type == Some(OsType::Windows);
    let spot = section.priority == Some(AciPriority::Spot);
    let option = match (windows, spot) {
        (true, _) => AciOption::Windows,
        (false, true) => AciOption::Spot,
        (false, false) => AciOption::Linux,
    };
    let default_memory = DEFAULT_MEMORY_TENTHS * GB / 10;
    let cpu_millis: u64 = shape
        .containers
        .iter()
        .map(|c| c.cpu_millis.unwrap_or(DEFAULT_CPU_MILLIS))
        .fold(0, u64::saturating_add);
    let memory_bytes: u64 = shape
        .containers
        .iter()
        .map(|c| c.memory_bytes.unwrap_or(default_memory))
        .fold(0, u64::saturating_add);
    if shape
        .containers
        .iter()
        .any(|c| c.cpu_millis.is_none() || c.memory_bytes.is_none())
    {
        assumptions.push(format!(
            "a container without cpu or memory requests {} vCPU and {} (Container Instances' \
             defaults)",
            format_cores(DEFAULT_CPU_MILLIS),
            format_bytes(default_memory)
        ));
    }
    if shape.min == Some(0) {
        assumptions
            .push("Container Instances cannot scale to zero: the group runs all month".into());
    }

    let entries: Vec<AciPrice> = prices.entries(SECTION);
    let Some(chosen) = choose(&entries, region, |e| (&e.region, e.option == option)) else {
        return Priced::unavailable(
            format!(
                "the price table has no Container Instances {} prices: add them with --prices",
                option.as_str()
            ),
            assumptions,
        );
    };
    let p = chosen.entry;
    region_assumption(&chosen, &p.region, &mut assumptions);
    let (Some(vcpu_second), Some(gb_second)) = (p.vcpu_second, p.gb_second) else {
        return Priced::unavailable(
            "the price table's Container Instances entry has no vCPU or GB price",
            assumptions,
        );
    };
    let software = if windows {
        p.software_vcpu_second.unwrap_or(0.0)
    } else {
        0.0
    };
    let vcpu = float(cpu_millis) / 1000.0;
    let gb = float(memory_bytes) / float(GB);
    let breakdown = Breakdown {
        compute: Usd::from_dollars(SECONDS_PER_MONTH * vcpu * (vcpu_second + software)),
        memory: Usd::from_dollars(SECONDS_PER_MONTH * gb * gb_second),
        ..Breakdown::default()
    };
    assumptions.push(
        "a container group runs, and is billed, all month whatever the traffic: Container \
         Instances has no scale to zero and no fee per request"
            .into(),
    );
    let platform = match option {
        AciOption::Linux => "Linux",
        AciOption::Windows => "Windows (with its software charge)",
        AciOption::Spot => "Linux, Spot",
    };
    let note = format!(
        "1 container group x {} vCPU, {}, {HOURS_PER_MONTH} h, {platform}, {} prices",
        format_cores(cpu_millis),
        format_bytes(memory_bytes),
        p.region
    );
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
