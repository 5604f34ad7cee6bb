//! AWS Fargate rules: the task sizes Fargate sells, ephemeral storage, platform combinations,
//! ECS health checks, secrets by ARN, target-tracking scaling and what ECS can mount
//! (`volumes`).

mod volumes;

use ferry_api::{
    CapacityProvider, CpuArchitecture, FargateSpec, Ingress, OperatingSystemFamily, ScalingMetric,
    SecretRef,
};

use crate::capabilities::{fargate_cpu_sizes, fargate_memory_sizes};
use ferry_core::backend::Parts;
use ferry_core::desired::ScalingModel;
use ferry_core::desired::{ContainerModel, ProbeAction, ProbeModel, SecretSource};
use ferry_core::desired::{resource_total, total_field};
use ferry_core::job::JobParts;

use crate::limits::{
    HEALTH_CHECK_INTERVAL, HEALTH_CHECK_RETRIES, HEALTH_CHECK_START_PERIOD, HEALTH_CHECK_TIMEOUT,
    INCLUDED_EPHEMERAL_GIB, MAX_EPHEMERAL_GIB, TASK_SIZES, TaskSize,
};
use crate::model::FargateModel;
use ferry_core::Findings;
use ferry_core::quantity::{format_bytes, format_cores};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

pub(crate) fn secret(
    f: &mut Findings,
    path: &str,
    secret: &SecretRef,
    section: Option<&FargateSpec>,
) -> Option<SecretSource> {
    let arn = section
        .and_then(|s| s.secrets.as_ref())
        .and_then(|secrets| secrets.iter().find(|s| s.name == secret.name))
        .map(|s| s.arn.as_str());
    let Some(arn) = arn else {
        f.invalid(
            format!("{path}.name"),
            format!(
                "Fargate reads secrets by ARN: add {{name: {}, arn: arn:aws:secretsmanager:...}} \
                 to spec.fargate.secrets",
                secret.name
            ),
        );
        return None;
    };
    let value_from = match (&secret.key, arn.split(':').nth(2)) {
        (None, _) => arn.to_owned(),
        // ECS reads a JSON key of a Secrets Manager secret as ARN:json-key:version-stage:version-id.
        (Some(key), Some("secretsmanager")) => format!("{arn}:{key}::"),
        (Some(_), _) => {
            f.invalid(
                format!("{path}.key"),
                format!(
                    "a key picks a JSON key of a Secrets Manager secret; {} is not one: remove \
                     the key",
                    secret.name
                ),
            );
            return None;
        }
    };
    Some(SecretSource::Store {
        name: value_from,
        version: None,
    })
}

/// The rules over a `ServerlessJob` on Fargate: its tasks are a service's (sizes, platform,
/// secrets, read through the job's workload), and its schedule must be one EventBridge
/// Scheduler can run.
pub(crate) fn check_job(f: &mut Findings, parts: &JobParts<'_>) -> Option<FargateModel> {
    let spec = parts.spec.workload();
    // A job has no scaling; this one passes the service rules' scaling checks unread.
    let scaling = ScalingModel {
        min_instances: 1,
        max_instances: None,
        initial_instances: None,
        metric: ScalingMetric::Cpu,
        target: None,
        scale_down_delay_seconds: None,
    };
    let model = check(
        f,
        &Parts {
            spec: &spec,
            containers: parts.containers,
            scaling: Some(&scaling),
            concurrency: None,
        },
    );
    if let Some(schedule) = parts.schedule {
        for (field, why) in crate::job::build::schedule_problems(schedule) {
            f.unsupported(
                field,
                format!("Fargate runs schedules with EventBridge Scheduler: {why}"),
            );
        }
        if parts.task_count > 1 {
            f.unsupported(
                "spec.taskCount",
                format!(
                    "a scheduled run on Fargate is one task: EventBridge Scheduler starts a \
                     firing's tasks in one RunTask, which cannot give each its index ({}); use \
                     taskCount 1 with a schedule, or leave the schedule out (Ferry then starts \
                     each task itself), or use provider cloudRun or kubernetes; got {}",
                    crate::job::build::TASK_INDEX_ENV,
                    parts.task_count
                ),
            );
        }
    }
    model
}

pub(crate) fn check(f: &mut Findings, parts: &Parts<'_>) -> Option<FargateModel> {
    let spec = parts.spec;
    let section = spec.fargate.clone().unwrap_or_default();
    let os = section.operating_system_family.unwrap_or_default();
    let arch = section.cpu_architecture.unwrap_or_default();
    let capacity = section
        .capacity_provider
        .unwrap_or(CapacityProvider::Fargate);
    if os.is_windows() && capacity == CapacityProvider::FargateSpot {
        f.invalid(
            "spec.fargate.capacityProvider",
            "Fargate Spot runs Linux tasks only: use FARGATE for Windows",
        );
    }
    if os.is_windows() && arch == CpuArchitecture::Arm64 {
        f.invalid(
            "spec.fargate.cpuArchitecture",
            "Fargate runs ARM64 tasks on Linux only: use X86_64 for Windows",
        );
    }
    check_secrets_used(f, spec, &section);

    let sizes = parts.containers.and_then(|containers| {
        for (i, c) in containers.iter().enumerate() {
            health_check(f, i, c);
        }
        let size = task_size(f, containers, os)?;
        let storage = ephemeral_storage(f, containers, os).ok()?;
        Some((size, storage))
    });
    volumes::check(
        f,
        &volumes::Task {
            spec,
            containers: parts.containers,
            os,
            platform_version: section.platform_version.as_deref(),
            ephemeral_gib: sizes
                .as_ref()
                .map(|(_, storage)| storage.unwrap_or(INCLUDED_EPHEMERAL_GIB)),
        },
    );
    let scaling_ok = parts.scaling.is_some_and(|s| scaling(f, s, &section));
    let ((task_cpu_units, task_memory_mib), ephemeral_storage_gib) = sizes?;
    let load_balancer = section.load_balancer;
    scaling_ok.then(|| FargateModel {
        task_cpu_units,
        task_memory_mib,
        ephemeral_storage_gib,
        assign_public_ip: section
            .assign_public_ip
            .unwrap_or(spec.ingress.unwrap_or_default() == Ingress::Public),
        capacity_provider: capacity,
        cpu_architecture: arch,
        operating_system_family: os,
        platform_version: section.platform_version.unwrap_or_else(|| "LATEST".into()),
        cluster: section.cluster,
        account: section.account,
        target_group_arn: load_balancer.as_ref().map(|lb| lb.target_group_arn.clone()),
        load_balancer_arn: load_balancer.and_then(|lb| lb.load_balancer_arn),
    })
}

fn check_secrets_used(
    f: &mut Findings,
    spec: &ferry_api::ServerlessServiceSpec,
    section: &FargateSpec,
) {
    for (i, s) in section.secrets.iter().flatten().enumerate() {
        let used = spec.containers.iter().any(|c| {
            c.env
                .iter()
                .flatten()
                .any(|e| e.secret.as_ref().is_some_and(|r| r.name == s.name))
        });
        if !used {
            f.warn(
                format!("spec.fargate.secrets[{i}]"),
                format!("no environment variable uses the secret {:?}", s.name),
            );
        }
    }
}

/// The task CPU (ECS units) and memory (MiB): the sums of the containers', which Fargate must
/// sell as a pair.
fn task_size(
    f: &mut Findings,
    containers: &[ContainerModel],
    os: OperatingSystemFamily,
) -> Option<(u32, u32)> {
    let windows = os.is_windows();
    let os_name = if windows { "Windows" } else { "Linux" };
    let (cpu_total, cpu_setters) = resource_total(containers, |r| r.cpu_millis);
    let size = match cpu_total {
        // Nothing asked for: the smallest size the OS can use.
        None => TASK_SIZES.iter().find(|s| !windows || s.windows),
        Some(millis) => {
            let size = TASK_SIZES.iter().find(|s| {
                u64::from(s.cpu_units) * 1000 == millis * 1024 && (!windows || s.windows)
            });
            if size.is_none() {
                let got = format_cores(millis);
                let summed = if cpu_setters.len() > 1 {
                    format!("the containers' CPU adds up to {got}")
                } else {
                    format!("got {got}")
                };
                f.unsupported(
                    total_field(&cpu_setters, "cpu"),
                    format!(
                        "Fargate sells {} vCPU for {os_name} tasks; {summed}",
                        fargate_cpu_sizes(windows)
                    ),
                );
            }
            size
        }
    }?;
    let (memory_total, memory_setters) = resource_total(containers, |r| r.memory_bytes);
    let Some(bytes) = memory_total else {
        return Some((size.cpu_units, size.min_memory_mib()));
    };
    let mib = u32::try_from(bytes / MIB).ok().filter(|_| bytes % MIB == 0);
    match mib {
        Some(mib) if size.allows_memory(mib) => Some((size.cpu_units, mib)),
        _ => {
            f.unsupported(
                total_field(&memory_setters, "memory"),
                memory_message(size, bytes, memory_setters.len() > 1),
            );
            None
        }
    }
}

fn memory_message(size: &TaskSize, bytes: u64, summed: bool) -> String {
    let got = format_bytes(bytes);
    let got = if summed {
        format!("the containers' memory adds up to {got}")
    } else {
        format!("got {got}")
    };
    format!(
        "Fargate pairs {} vCPU with {}; {got}",
        format_cores(u64::from(size.cpu_units) * 1000 / 1024),
        fargate_memory_sizes(size)
    )
}

/// The task's ephemeral storage in GiB when more than the included amount.
fn ephemeral_storage(
    f: &mut Findings,
    containers: &[ContainerModel],
    os: OperatingSystemFamily,
) -> Result<Option<u32>, ()> {
    let (total, setters) = resource_total(containers, |r| r.ephemeral_storage_bytes);
    let Some(bytes) = total else { return Ok(None) };
    let field = total_field(&setters, "ephemeralStorage");
    let included = u64::from(INCLUDED_EPHEMERAL_GIB) * GIB;
    if bytes <= included {
        return Ok(None);
    }
    if os.is_windows() {
        f.unsupported(
            field,
            format!(
                "Fargate gives Windows tasks {INCLUDED_EPHEMERAL_GIB} GiB of ephemeral storage \
                 and cannot give more; got {}",
                format_bytes(bytes)
            ),
        );
        return Err(());
    }
    let gib = u32::try_from(bytes / GIB).ok().filter(|_| bytes % GIB == 0);
    match gib {
        Some(gib) if gib <= MAX_EPHEMERAL_GIB => Ok(Some(gib)),
        _ => {
            f.unsupported(
                field,
                format!(
                    "Fargate gives a task {}-{MAX_EPHEMERAL_GIB} GiB of ephemeral storage in whole \
                     GiB ({INCLUDED_EPHEMERAL_GIB} GiB is included); got {}",
                    INCLUDED_EPHEMERAL_GIB + 1,
                    format_bytes(bytes)
                ),
            );
            Err(())
        }
    }
}

/// The liveness probe becomes the ECS container health check, which runs a command in the
/// container and has its own limits.
fn health_check(f: &mut Findings, index: usize, c: &ContainerModel) {
    let Some(probe) = &c.probes.liveness else {
        return;
    };
    let path = format!("spec.containers[{index}].probes.liveness");
    if !matches!(probe.action, ProbeAction::HttpGet { .. }) {
        f.unsupported(
            path.clone(),
            "Fargate's container health check runs a command in the container; Ferry runs an \
             httpGet probe as curl, and has no command for tcpSocket or grpc: use httpGet",
        );
    }
    let ProbeModel {
        initial_delay_seconds,
        period_seconds,
        timeout_seconds,
        failure_threshold,
        ..
    } = *probe;
    let limits = [
        ("periodSeconds", period_seconds, HEALTH_CHECK_INTERVAL),
        ("timeoutSeconds", timeout_seconds, HEALTH_CHECK_TIMEOUT),
        ("failureThreshold", failure_threshold, HEALTH_CHECK_RETRIES),
        (
            "initialDelaySeconds",
            initial_delay_seconds,
            HEALTH_CHECK_START_PERIOD,
        ),
    ];
    for (field, value, (min, max)) in limits {
        if let Some(value) = value
            && !(min..=max).contains(&value)
        {
            f.unsupported(
                format!("{path}.{field}"),
                format!("the ECS health check takes {min} to {max}; got {value}"),
            );
        }
    }
}

/// Target tracking needs room to move and a signal ECS can measure.
fn scaling(f: &mut Findings, s: &ferry_core::desired::ScalingModel, section: &FargateSpec) -> bool {
    let before = f.error_count();
    let autoscaled = s.max_instances.is_some_and(|max| max > s.min_instances);
    if s.metric == ScalingMetric::Rps {
        let has_lb = section
            .load_balancer
            .as_ref()
            .is_some_and(|lb| lb.load_balancer_arn.is_some());
        if !has_lb {
            f.invalid(
                "spec.scaling.metric",
                "scaling on rps on Fargate tracks ALBRequestCountPerTarget: set \
                 spec.fargate.loadBalancer with targetGroupArn and loadBalancerArn",
            );
        }
        if autoscaled && s.target.is_none() {
            f.invalid(
                "spec.scaling.target",
                "required with metric rps on Fargate: the requests per second each task should \
                 serve",
            );
        }
    }
    if !autoscaled && (s.target.is_some() || s.scale_down_delay_seconds.is_some()) {
        f.warn(
            "spec.scaling.maxInstances",
            "equals minInstances, so Fargate runs a fixed number of tasks and the target is not \
             used: set maxInstances above minInstances to autoscale",
        );
    }
    f.error_count() == before
}
