//! What a service costs on the plain Kubernetes backend: on EKS Fargate, each pod as EKS bills
//! it (sized up to a Fargate size, at the `fargate` section's Linux x86 prices, which EKS
//! charges for Fargate pods as ECS does for tasks); on a plain cluster, pods at the node price
//! the user gives in the `kubernetes` section, like Knative. Either way the Deployment's pods
//! run all month: at least `minInstances`, more under load when the HorizontalPodAutoscaler may
//! add them, counted as Fargate's estimate counts tasks.

use ferry_core::backend::EstimateInput;
use ferry_core::cost::model::{
    AlwaysOn, Priced, Words, float, plural, region_assumption, short, used,
};
use ferry_core::cost::prices::{self, choose};
use ferry_core::cost::{
    Breakdown, Figure, HOURS_PER_MONTH, PriceTable, PriceUsed, Shape, Traffic, Usd,
};
use ferry_core::desired::ContainerModel;
use ferry_core::job::cost::RunInput;
use ferry_core::quantity::{format_bytes, format_cores};
use ferry_provider_fargate::cost::{
    ASSUMED_CONCURRENCY, FargateOption, FargatePrice, MINIMUM_BILLED_SECONDS,
};
use ferry_provider_fargate::limits::smallest_task_size;
use serde_json::Value;

use crate::limits::{
    FARGATE_DEFAULT_SIZE, FARGATE_INCLUDED_EPHEMERAL_GIB, FARGATE_MAX_MEMORY_GIB, FARGATE_MAX_VCPU,
    FARGATE_OVERHEAD_MIB, MIN_INSTANCES,
};

/// This provider's section of the price table.
pub const SECTION: &str = "kubernetes";
/// The entries Ferry ships: none (see the file).
pub const EMBEDDED: &str = include_str!("../prices.yaml");
/// What EKS charges per cluster-hour (standard support), shared by everything in the cluster
/// and therefore not counted; the assumptions say so.
const EKS_CLUSTER_FEE_PER_HOUR: &str = "$0.10";

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// What the pod's containers ask for together: millicores and bytes (unset counts as 0).
pub fn pod_requests(containers: &[ContainerModel]) -> (u64, u64) {
    containers.iter().fold((0, 0), |(cpu, memory), c| {
        (
            cpu.saturating_add(c.resources.cpu_millis.unwrap_or(0)),
            memory.saturating_add(c.resources.memory_bytes.unwrap_or(0)),
        )
    })
}

/// The Fargate size EKS runs the pod on, `(millicores, MiB)`: what the containers ask for,
/// plus 256 MiB for Kubernetes' own components, rounded up to the next vCPU and memory
/// combination Fargate sells; the smallest when nothing is asked for. `None` when the pod is
/// larger than the largest Fargate size.
pub fn fargate_pod_size(containers: &[ContainerModel]) -> Option<(u64, u64)> {
    let (cpu, memory) = pod_requests(containers);
    fargate_size(cpu, memory)
}

/// [`fargate_pod_size`] of a pod asking for `cpu_millis` and `memory_bytes` in all.
fn fargate_size(cpu_millis: u64, memory_bytes: u64) -> Option<(u64, u64)> {
    if cpu_millis == 0 && memory_bytes == 0 {
        return Some(FARGATE_DEFAULT_SIZE);
    }
    let memory = memory_bytes.saturating_add(FARGATE_OVERHEAD_MIB * MIB);
    let (units, mib) =
        smallest_task_size((cpu_millis > 0).then_some(cpu_millis), Some(memory), false)?;
    Some((u64::from(units) * 1000 / 1024, u64::from(mib)))
}

/// What is wrong with the figures of `entries` (the price table's `kubernetes` section).
pub(crate) fn check_prices(entries: &[Value]) -> Vec<String> {
    prices::check_node_prices(SECTION, entries)
}

/// The plain Kubernetes backend's estimate: EKS Fargate prices when the pods match a Fargate
/// profile, the user's node prices otherwise.
pub(crate) fn estimate(input: &EstimateInput<'_>) -> Priced {
    let on_fargate = input
        .spec
        .kubernetes
        .as_ref()
        .and_then(|k| k.fargate_profile.as_ref())
        .is_some();
    if on_fargate {
        on_eks_fargate(input)
    } else {
        on_nodes(input)
    }
}

/// The pods a Deployment behind a HorizontalPodAutoscaler runs all month, counted as
/// Fargate counts an ECS service's tasks under target tracking.
fn pods(shape: &Shape, traffic: &Traffic, assumptions: &mut Vec<String>) -> AlwaysOn {
    AlwaysOn::of(
        shape,
        traffic,
        MIN_INSTANCES,
        ASSUMED_CONCURRENCY,
        Words {
            one: "pod",
            many: "pods",
            who: "a Service",
            not_to_zero: "the HorizontalPodAutoscaler cannot scale to zero: 1 pod at least",
        },
        assumptions,
    )
}

/// Serving pods' vCPU and memory, idle pods' both, for 730 h at these hourly rates.
fn breakdown(pods: &AlwaysOn, vcpu: f64, gb: f64, vcpu_hour: f64, gb_hour: f64) -> Breakdown {
    let month = |n: u32, dollars_per_hour: f64| {
        Usd::from_dollars(f64::from(n) * dollars_per_hour * f64::from(HOURS_PER_MONTH))
    };
    Breakdown {
        compute: month(pods.serving, vcpu * vcpu_hour),
        memory: month(pods.serving, gb * gb_hour),
        idle_minimum: month(pods.idle, vcpu * vcpu_hour + gb * gb_hour),
        ..Breakdown::default()
    }
}

/// One EKS Fargate pod: the Fargate size EKS runs it on, and the Fargate prices it is billed at.
struct EksPod {
    /// vCPU, millicores.
    millis: u64,
    /// Memory, MiB.
    mib: u64,
    /// `1 vCPU, 2 GB`.
    size: String,
    /// Ephemeral storage billed, GiB (above what every pod gets).
    storage_gib: u64,
    vcpu_hour: f64,
    gb_hour: f64,
    storage_gb_hour: f64,
    /// The region of the prices.
    region: String,
    price: PriceUsed,
}

impl EksPod {
    /// Dollars per pod-hour.
    fn hourly(&self) -> (f64, f64, f64) {
        (
            float(self.millis) / 1000.0 * self.vcpu_hour,
            float(self.mib) / 1024.0 * self.gb_hour,
            float(self.storage_gib) * self.storage_gb_hour,
        )
    }
}

/// The EKS Fargate pod of `shape`, priced from the `fargate` section (Linux x86: EKS runs
/// Fargate pods on neither ARM nor Spot); why not, instead, when it cannot be priced.
fn eks_pod(
    shape: &Shape,
    prices: &PriceTable,
    region: Option<&str>,
    assumptions: &mut Vec<String>,
) -> Result<EksPod, String> {
    if shape.gpu() {
        return Err(
            "EKS on Fargate has no GPUs: drop spec.kubernetes.fargateProfile and run on GPU nodes"
                .into(),
        );
    }
    let cpu = shape
        .containers
        .iter()
        .filter_map(|c| c.cpu_millis)
        .fold(0, u64::saturating_add);
    let memory = shape
        .containers
        .iter()
        .filter_map(|c| c.memory_bytes)
        .fold(0, u64::saturating_add);
    let Some((millis, mib)) = fargate_size(cpu, memory) else {
        return Err(format!(
            "no EKS Fargate pod is that large ({} vCPU, {} plus the {FARGATE_OVERHEAD_MIB} MiB \
             EKS adds): the largest is {FARGATE_MAX_VCPU} vCPU, {FARGATE_MAX_MEMORY_GIB} GB",
            format_cores(cpu),
            format_bytes(memory)
        ));
    };
    let size = format!(
        "{} vCPU, {} GB",
        format_cores(millis),
        short(float(mib) / 1024.0)
    );
    if cpu == 0 && memory == 0 {
        assumptions.push(format!(
            "no cpu or memory requested: EKS runs each pod on Fargate's smallest size, {size}"
        ));
    } else {
        let requested = match (cpu, memory) {
            (0, m) => format!("no cpu, {}", format_bytes(m)),
            (c, 0) => format!("{} vCPU, no memory", format_cores(c)),
            (c, m) => format!("{} vCPU, {}", format_cores(c), format_bytes(m)),
        };
        assumptions.push(format!(
            "each pod is sized up to the Fargate size {size}: its containers' requests \
             ({requested}) plus the {FARGATE_OVERHEAD_MIB} MiB EKS adds for Kubernetes' \
             components (kubelet, kube-proxy, containerd), rounded up to the next vCPU and \
             memory combination Fargate sells"
        ));
    }
    let storage_gib = shape
        .storage_bytes()
        .map_or(0, |b| b.div_ceil(GIB))
        .saturating_sub(FARGATE_INCLUDED_EPHEMERAL_GIB);
    if storage_gib > 0 {
        assumptions.push(format!(
            "ephemeral storage is billed on what the containers request above the \
             {FARGATE_INCLUDED_EPHEMERAL_GIB} GiB every pod gets; the 10 % and 5 GiB Fargate \
             provisions on top for the file system are not counted"
        ));
    }
    let entries: Vec<FargatePrice> = prices.entries(ferry_provider_fargate::cost::SECTION);
    let option = FargateOption::LinuxX86;
    let Some(chosen) = choose(&entries, region, |e| (&e.region, e.option == option)) else {
        return Err(format!(
            "the price table has no Fargate {} prices: add them with --prices",
            option.as_str()
        ));
    };
    let p = chosen.entry;
    if region.is_none() {
        assumptions.push(format!(
            "the cluster's AWS region is not known: {}'s Fargate prices are used",
            p.region
        ));
    }
    region_assumption(&chosen, &p.region, assumptions);
    let (Some(vcpu_hour), Some(gb_hour)) = (p.vcpu_hour, p.gb_hour) else {
        return Err("the price table's Fargate entry has no vCPU or GB price".into());
    };
    let storage_gb_hour = match (storage_gib, p.ephemeral_storage_gb_hour) {
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
    assumptions.push(format!(
        "the EKS cluster fee ({EKS_CLUSTER_FEE_PER_HOUR} per hour per cluster, shared by \
         everything in it) is not counted"
    ));
    Ok(EksPod {
        millis,
        mib,
        size,
        storage_gib,
        vcpu_hour,
        gb_hour,
        storage_gb_hour,
        region: p.region.clone(),
        price: used(
            &p.region,
            p.option.as_str(),
            &p.source,
            &p.read,
            p.note.as_ref(),
        ),
    })
}

/// EKS on Fargate: each pod on its own Fargate size, at Fargate's Linux x86 prices.
fn on_eks_fargate(input: &EstimateInput<'_>) -> Priced {
    let mut assumptions = Vec::new();
    let pod = match eks_pod(input.shape, input.prices, input.region, &mut assumptions) {
        Ok(pod) => pod,
        Err(why) => return Priced::unavailable(why, assumptions),
    };
    assumptions.push("the load balancer in front of the pods is not counted".into());
    let pods = pods(input.shape, input.traffic, &mut assumptions);
    let mut breakdown = breakdown(
        &pods,
        float(pod.millis) / 1000.0,
        float(pod.mib) / 1024.0,
        pod.vcpu_hour,
        pod.gb_hour,
    );
    breakdown.storage =
        Usd::from_dollars(f64::from(pods.count) * pod.hourly().2 * f64::from(HOURS_PER_MONTH));
    let note = format!(
        "{} x {}{}, {HOURS_PER_MONTH} h ({}), EKS on Fargate, Linux/x86, {} prices",
        plural(pods.count, "pod", "pods"),
        pod.size,
        storage_words(pod.storage_gib),
        pods.why(),
        pod.region
    );
    Priced {
        figure: Figure::priced(breakdown),
        note,
        assumptions,
        prices: vec![pod.price],
    }
}

fn storage_words(gib: u64) -> String {
    if gib > 0 {
        format!(" + {gib} GB storage")
    } else {
        String::new()
    }
}

/// One run of a job: `tasks` pods of `task_seconds` each, on EKS Fargate (billed per second,
/// with Fargate's one-minute minimum) or on the cluster's nodes.
pub(crate) fn estimate_run(input: &RunInput<'_>) -> Priced {
    let mut assumptions = Vec::new();
    let on_fargate = input
        .spec
        .kubernetes
        .as_ref()
        .and_then(|k| k.fargate_profile.as_ref())
        .is_some();
    let tasks = f64::from(input.tasks);
    if on_fargate {
        let pod = match eks_pod(input.shape, input.prices, input.region, &mut assumptions) {
            Ok(pod) => pod,
            Err(why) => return Priced::unavailable(why, assumptions),
        };
        let billed = input.task_seconds.max(MINIMUM_BILLED_SECONDS);
        if billed > input.task_seconds {
            assumptions.push(format!(
                "Fargate bills each pod at least {MINIMUM_BILLED_SECONDS} s"
            ));
        }
        let hours = tasks * f64::from(billed) / 3600.0;
        let (vcpu, gb, storage) = pod.hourly();
        let breakdown = Breakdown {
            compute: Usd::from_dollars(vcpu * hours),
            memory: Usd::from_dollars(gb * hours),
            storage: Usd::from_dollars(storage * hours),
            ..Breakdown::default()
        };
        return Priced {
            figure: Figure::priced(breakdown),
            note: format!(
                "{} x {}{}, {billed} s each, EKS on Fargate, Linux/x86, {} prices",
                plural(input.tasks, "pod", "pods"),
                pod.size,
                storage_words(pod.storage_gib),
                pod.region
            ),
            assumptions,
            prices: vec![pod.price],
        };
    }
    if input.shape.gpu() {
        return Priced::unavailable(
            "GPU nodes are not priced: the price table has no Kubernetes GPU price",
            assumptions,
        );
    }
    let (cpu_millis, memory_bytes) = input
        .shape
        .instance_size("Ferry cannot know the cluster's defaults", &mut assumptions);
    let (p, vcpu_hour, gb_hour) = match prices::node_price(
        input.prices,
        SECTION,
        input.region,
        "Kubernetes",
        &mut assumptions,
    ) {
        Ok(found) => found,
        Err(why) => return Priced::unavailable(why, assumptions),
    };
    assumptions.push(
        "pods are billed for what they request, for as long as they run; the control plane and \
         idle node capacity are not counted"
            .into(),
    );
    let hours = tasks * f64::from(input.task_seconds) / 3600.0;
    let (vcpu, gb) = (float(cpu_millis) / 1000.0, float(memory_bytes) / float(GIB));
    let breakdown = Breakdown {
        compute: Usd::from_dollars(vcpu * vcpu_hour * hours),
        memory: Usd::from_dollars(gb * gb_hour * hours),
        ..Breakdown::default()
    };
    Priced {
        figure: Figure::priced(breakdown),
        note: format!(
            "{} x {} vCPU, {}, {} s each, at the {} node price",
            plural(input.tasks, "pod", "pods"),
            format_cores(cpu_millis),
            format_bytes(memory_bytes),
            input.task_seconds,
            p.region
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

/// A plain cluster: pods at the node price the user gives.
fn on_nodes(input: &EstimateInput<'_>) -> Priced {
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
            "GPU nodes are not priced: the price table has no Kubernetes GPU price",
            assumptions,
        );
    }
    let (cpu_millis, memory_bytes) =
        shape.instance_size("Ferry cannot know the cluster's defaults", &mut assumptions);
    let pods = pods(shape, traffic, &mut assumptions);
    let (p, vcpu_hour, gb_hour) =
        match prices::node_price(prices, SECTION, region, "Kubernetes", &mut assumptions) {
            Ok(found) => found,
            Err(why) => return Priced::unavailable(why, assumptions),
        };
    assumptions.push(
        "pods are billed for what they request; Kubernetes' own components, the control plane \
         and idle node capacity are not counted"
            .into(),
    );
    let breakdown = breakdown(
        &pods,
        float(cpu_millis) / 1000.0,
        float(memory_bytes) / float(GIB),
        vcpu_hour,
        gb_hour,
    );
    let note = format!(
        "{} x {} vCPU, {}, {HOURS_PER_MONTH} h ({}), {} node prices",
        plural(pods.count, "pod", "pods"),
        format_cores(cpu_millis),
        format_bytes(memory_bytes),
        pods.why(),
        p.region
    );
    Priced {
        figure: Figure::priced(breakdown),
        note,
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

#[cfg(test)]
mod tests {
    use ferry_core::desired::{ProbesModel, ResourcesModel};

    use super::*;

    fn container(cpu_millis: Option<u64>, memory_bytes: Option<u64>) -> ContainerModel {
        ContainerModel {
            name: "app".into(),
            image: "ghcr.io/acme/hello:1".into(),
            command: Vec::new(),
            args: Vec::new(),
            port: Some(8080),
            env: Vec::new(),
            resources: ResourcesModel {
                cpu_millis,
                memory_bytes,
                ..ResourcesModel::default()
            },
            probes: ProbesModel::default(),
            mounts: Vec::new(),
        }
    }

    #[test]
    fn a_fargate_pod_is_its_requests_plus_256_mib_rounded_up_to_a_fargate_size() {
        // Nothing asked for: Fargate's smallest, 0.25 vCPU and 0.5 GB.
        assert_eq!(fargate_pod_size(&[container(None, None)]), Some((250, 512)));
        assert_eq!(fargate_pod_size(&[]), Some((250, 512)));
        // 0.25 vCPU, 256Mi: 256 + 256 = 512 MiB, exactly 0.25 vCPU's smallest memory.
        assert_eq!(
            fargate_pod_size(&[container(Some(250), Some(256 * MIB))]),
            Some((250, 512))
        );
        // One MiB more (257 + 256 = 513 MiB) takes the next memory, 1 GB.
        assert_eq!(
            fargate_pod_size(&[container(Some(250), Some(257 * MIB))]),
            Some((250, 1024))
        );
        // 0.5 vCPU, 1Gi: 1024 + 256 = 1280 MiB, so 0.5 vCPU's 2 GB.
        assert_eq!(
            fargate_pod_size(&[container(Some(500), Some(GIB))]),
            Some((500, 2048))
        );
        // 1 vCPU, 2Gi: 2304 MiB, so 1 vCPU's 3 GB; summed over two containers the same.
        assert_eq!(
            fargate_pod_size(&[container(Some(1000), Some(2 * GIB))]),
            Some((1000, 3072))
        );
        assert_eq!(
            fargate_pod_size(&[
                container(Some(750), Some(GIB)),
                container(Some(250), Some(GIB))
            ]),
            Some((1000, 3072))
        );
        // Memory alone still gets the 256 MiB: 2Gi + 256Mi is more than 0.25 vCPU's 2 GB,
        // so 0.5 vCPU, 3 GB. CPU alone gets the smallest memory that holds 256 MiB.
        assert_eq!(
            fargate_pod_size(&[container(None, Some(2 * GIB))]),
            Some((500, 3072))
        );
        assert_eq!(
            fargate_pod_size(&[container(Some(2000), None)]),
            Some((2000, 4096))
        );
        // The largest: 16 vCPU and 120 GB. 119.9 GiB + 256 MiB is above 120 GiB: none.
        assert_eq!(
            fargate_pod_size(&[container(Some(16_000), Some(119 * GIB))]),
            Some((16_000, 120 * 1024))
        );
        assert_eq!(
            fargate_pod_size(&[container(Some(16_000), Some(1199 * GIB / 10))]),
            None
        );
        assert_eq!(
            fargate_pod_size(&[container(Some(16_001), Some(GIB))]),
            None
        );
    }

    #[test]
    fn pod_requests_sum_what_is_set() {
        assert_eq!(
            pod_requests(&[container(Some(500), None), container(Some(250), Some(GIB))]),
            (750, GIB)
        );
    }
}
