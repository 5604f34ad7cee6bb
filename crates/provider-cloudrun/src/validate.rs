//! Google Cloud Run rules: CPU and memory pairs, fractional CPU, GPUs, concurrency, timeout,
//! probes, Secret Manager references, volumes and instance limits; and for jobs, tasks,
//! retries, task timeouts and what Cloud Scheduler can do for a schedule.

use ferry_api::{
    ConcurrencyPolicy, ExecutionEnvironment, Ingress, SecretRef, StorageMedium, Volume,
};

use ferry_core::backend::Parts;
use ferry_core::capabilities::list;
use ferry_core::desired::{ContainerModel, ProbeAction, ProbeModel, SecretSource};
use ferry_core::job::JobParts;

use crate::limits::{
    CONCURRENCY, DEFAULT_CPU_MILLIS, DEFAULT_MAX_INSTANCES, DEFAULT_MEMORY_MIB,
    FRACTIONAL_CPU_MAX_MEMORY_MIB, GPU_TYPES, GpuType, HALF_CPU_MILLIS, MAX_CPU_MILLIS,
    MAX_GPU_TASK_TIMEOUT_SECONDS, MAX_MEMORY_MIB, MAX_TASK_COUNT, MAX_TASK_RETRIES,
    MAX_TASK_TIMEOUT_SECONDS, MIN_FRACTIONAL_CPU_MILLIS, MIN_MEMORY_MIB, MIN_MEMORY_MIB_GEN2,
    PROBE_DEFAULT_PERIOD_SECONDS, PROBE_DEFAULT_TIMEOUT_SECONDS, PROBE_MAX_SECONDS,
    QUOTA_INSTANCES_AT_ONE_CPU, SMALL_CPU_MAX_MEMORY_MIB, STARTUP_PROBE_MAX_SECONDS,
    TIMEOUT_SECONDS, WHOLE_CPU_SIZES,
};
use crate::model::CloudRunModel;
use ferry_core::Findings;
use ferry_core::quantity::{Amount, format_bytes, format_cores};

const MIB: u64 = 1 << 20;

pub(crate) fn secret(f: &mut Findings, path: &str, secret: &SecretRef) -> Option<SecretSource> {
    let id = secret
        .name
        .strip_prefix("projects/")
        .and_then(|rest| rest.split_once("/secrets/"))
        .map_or(secret.name.as_str(), |(_, id)| id);
    let id_ok = !id.is_empty()
        && id.len() <= 255
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !id_ok {
        f.invalid(
            format!("{path}.name"),
            format!(
                "a Secret Manager secret is `my-secret` or `projects/PROJECT/secrets/my-secret` \
                 (letters, digits, '_' and '-'); got {:?}",
                secret.name
            ),
        );
        return None;
    }
    let version = secret.key.clone().unwrap_or_else(|| "latest".into());
    let version_ok = version == "latest"
        || (version.bytes().all(|b| b.is_ascii_digit())
            && version.parse::<u64>().is_ok_and(|v| v > 0));
    if !version_ok {
        f.invalid(
            format!("{path}.key"),
            format!(
                "on Cloud Run the key is the secret's version: a number or latest; got {version:?}"
            ),
        );
        return None;
    }
    Some(SecretSource::Store {
        name: secret.name.clone(),
        version: Some(version),
    })
}

pub(crate) fn check(f: &mut Findings, parts: &Parts<'_>) -> Option<CloudRunModel> {
    let spec = parts.spec;
    let section = spec.cloud_run.clone().unwrap_or_default();
    if let Some(c) = parts.concurrency {
        in_range(
            f,
            "spec.concurrency",
            c,
            CONCURRENCY,
            "maxInstanceRequestConcurrency",
            "",
        );
    }
    if let Some(t) = spec.timeout_seconds.and_then(|t| u32::try_from(t).ok()) {
        in_range(
            f,
            "spec.timeoutSeconds",
            t,
            TIMEOUT_SECONDS,
            "request timeout",
            " seconds",
        );
    }

    let spec_volumes = spec.volumes.as_deref().unwrap_or_default();
    let below_one_cpu = parts
        .containers
        .and_then(|containers| containers.iter().position(|c| effective_cpu(c) < 1000));
    let before = f.error_count();
    volumes(f, spec_volumes, parts.containers, &section, below_one_cpu);
    let containers = parts.containers?;
    let gpu = gpus(f, containers);
    let fractional = below_one_cpu.is_some();
    let environment = environment(section.execution_environment, spec_volumes);
    for (i, c) in containers.iter().enumerate() {
        cpu_and_memory(f, i, c, gpu.map(|(_, g)| g), environment);
        probes(f, i, c);
    }
    totals(f, containers, gpu.is_some());
    if fractional {
        fractional_cpu(f, parts, &section);
    }
    if let Some((index, _)) = gpu
        && section.cpu_idle == Some(true)
    {
        f.unsupported(
            "spec.cloudRun.cpuIdle",
            format!(
                "Cloud Run keeps CPU allocated for instances with a GPU \
                 (spec.containers[{index}].resources.gpu): remove cpuIdle or set it to false"
            ),
        );
    }
    if let Some(vpc) = &section.vpc_access
        && vpc
            .network_interfaces
            .as_ref()
            .is_some_and(|n| !n.is_empty())
        && (fractional || section.execution_environment == Some(ExecutionEnvironment::Gen1))
    {
        f.unsupported(
            "spec.cloudRun.vpcAccess.networkInterfaces",
            "Direct VPC egress needs the gen2 execution environment, which needs 1 vCPU or more \
             per container: use a connector, or give every container 1 vCPU and gen2",
        );
    }
    if section.allow_unauthenticated == Some(true)
        && parts.spec.ingress.unwrap_or_default() != Ingress::Public
    {
        // Granting allUsers on a service only the VPC can reach would be silently moot.
        f.unsupported(
            "spec.cloudRun.allowUnauthenticated",
            "unauthenticated calls are granted only to a public service: set spec.ingress to \
             public, or remove allowUnauthenticated",
        );
    }
    instances(f, parts, containers);
    if f.error_count() != before {
        return None;
    }
    let execution_environment = environment.or(fractional.then_some(ExecutionEnvironment::Gen1));
    Some(CloudRunModel {
        project: section.project,
        region: section.region,
        service_account: section.service_account,
        vpc_access: section.vpc_access,
        execution_environment,
        cpu_idle: section.cpu_idle.unwrap_or(gpu.is_none()),
        startup_cpu_boost: section.startup_cpu_boost.unwrap_or(false),
        allow_unauthenticated: section.allow_unauthenticated.unwrap_or(false),
    })
}

/// A job's rules: its tasks, retries and timeout within Cloud Run's limits, its containers
/// sized as a service's are (and at least one vCPU in all), and a schedule Cloud Scheduler can
/// run.
pub(crate) fn check_job(f: &mut Findings, parts: &JobParts<'_>) -> Option<CloudRunModel> {
    let spec = parts.spec;
    let section = spec.cloud_run.clone().unwrap_or_default();
    let before = f.error_count();
    // The API server's CEL rules refuse these too; `ferry validate` has no API server.
    for (field, set) in [
        ("cpuIdle", section.cpu_idle.is_some()),
        ("startupCpuBoost", section.startup_cpu_boost.is_some()),
        (
            "allowUnauthenticated",
            section.allow_unauthenticated.is_some(),
        ),
    ] {
        if set {
            f.unsupported(
                format!("spec.cloudRun.{field}"),
                "a Cloud Run job serves no requests, so this service setting has no meaning \
                 for it: remove it",
            );
        }
    }
    let parallelism = spec.parallelism.and_then(|p| u32::try_from(p).ok());
    for (field, value, max, what) in [
        (
            "spec.taskCount",
            Some(parts.task_count),
            MAX_TASK_COUNT,
            "tasks in one execution",
        ),
        (
            "spec.parallelism",
            parallelism,
            MAX_TASK_COUNT,
            "tasks in one execution",
        ),
        (
            "spec.maxRetries",
            Some(parts.max_retries),
            MAX_TASK_RETRIES,
            "retries of a task",
        ),
        (
            "spec.timeoutSeconds",
            Some(parts.timeout_seconds),
            MAX_TASK_TIMEOUT_SECONDS,
            "seconds of one task attempt (168 hours)",
        ),
    ] {
        if let Some(value) = value
            && value > max
        {
            f.unsupported(
                field,
                format!("Cloud Run jobs allow at most {max} {what}; got {value}"),
            );
        }
    }
    let spec_volumes = spec.volumes.as_deref().unwrap_or_default();
    // A job's containers may be below 1 vCPU beside others, and still "Cloud Run jobs only
    // use the second generation execution environment" ("About execution environments"): no
    // container keeps a job from mounting gcs or nfs.
    volumes(f, spec_volumes, parts.containers, &section, None);
    let environment = environment(section.execution_environment, spec_volumes);
    if let Some(containers) = parts.containers {
        job_containers(f, parts, containers, environment);
    }
    if let Some(vpc) = &section.vpc_access
        && vpc
            .network_interfaces
            .as_ref()
            .is_some_and(|n| !n.is_empty())
        && section.execution_environment == Some(ExecutionEnvironment::Gen1)
    {
        f.unsupported(
            "spec.cloudRun.vpcAccess.networkInterfaces",
            "Direct VPC egress needs the gen2 execution environment: use a connector, or \
             remove executionEnvironment or set it to gen2",
        );
    }
    if parts.schedule.is_some() {
        schedule(f, spec.concurrency_policy.unwrap_or_default(), &section);
    }
    if f.error_count() != before {
        return None;
    }
    Some(CloudRunModel {
        project: section.project,
        region: section.region,
        service_account: section.service_account,
        vpc_access: section.vpc_access,
        execution_environment: environment,
        cpu_idle: false,
        startup_cpu_boost: false,
        allow_unauthenticated: false,
    })
}

/// A task's containers: sized as a service's, and (from "Configure CPU limits for jobs",
/// cloud.google.com/run/docs/configuring/jobs/cpu) below 1 vCPU only as one of several
/// containers ("you must deploy multiple containers (sidecars)"): a job's instance has at least
/// 1 vCPU. A task with a GPU runs at most an hour ("Set task timeout for jobs").
fn job_containers(
    f: &mut Findings,
    parts: &JobParts<'_>,
    containers: &[ContainerModel],
    environment: Option<ExecutionEnvironment>,
) {
    let gpu = gpus(f, containers);
    for (i, c) in containers.iter().enumerate() {
        cpu_and_memory(f, i, c, gpu.map(|(_, g)| g), environment);
    }
    totals(f, containers, gpu.is_some());
    let total: u64 = containers
        .iter()
        .map(effective_cpu)
        .fold(0, u64::saturating_add);
    if total < 1000 {
        let field = if containers.len() == 1 {
            "spec.containers[0].resources.cpu".to_owned()
        } else {
            "spec.containers".to_owned()
        };
        f.unsupported(
            field,
            format!(
                "a Cloud Run job's instance has at least 1 vCPU (a container below 1 vCPU \
                 only beside others); the containers ask for {} in all",
                format_cores(total)
            ),
        );
    }
    if let Some((index, _)) = gpu
        && parts.timeout_seconds > MAX_GPU_TASK_TIMEOUT_SECONDS
    {
        f.unsupported(
            "spec.timeoutSeconds",
            format!(
                "a Cloud Run task with a GPU (spec.containers[{index}].resources.gpu) runs at \
                 most {MAX_GPU_TASK_TIMEOUT_SECONDS} seconds; got {}",
                parts.timeout_seconds
            ),
        );
    }
}

/// What Cloud Scheduler can do for a schedule. It starts a run with an HTTP request to the
/// Admin API's `jobs.run`, authenticated with an OAuth token of a service account
/// (cloud.google.com/run/docs/execute/jobs-on-schedule), and a request that succeeded ends its
/// attempt at once: it neither waits for the execution nor knows about earlier ones, so it can
/// neither skip a run (`Forbid`) nor stop an earlier one (`Replace`, which Ferry does instead,
/// once it sees the newer execution).
fn schedule(f: &mut Findings, policy: ConcurrencyPolicy, section: &ferry_api::CloudRunSpec) {
    if section.service_account.is_none() {
        f.unsupported(
            "spec.cloudRun.serviceAccount",
            "Cloud Scheduler starts a scheduled Cloud Run job with an OAuth token of a service \
             account: name one in spec.cloudRun.serviceAccount (the tasks run as it too) that \
             may run the job (roles/run.invoker) and that Cloud Scheduler may act as",
        );
    }
    if policy == ConcurrencyPolicy::Forbid {
        f.unsupported(
            "spec.concurrencyPolicy",
            "Cloud Scheduler starts a Cloud Run execution whenever the schedule fires, even \
             while an earlier one runs, so a run cannot be skipped (Forbid, the default): set \
             concurrencyPolicy to Allow, or to Replace (Ferry cancels the earlier execution \
             when it sees the newer one)",
        );
    }
}

fn in_range(
    f: &mut Findings,
    field: &str,
    value: u32,
    (min, max): (u32, u32),
    what: &str,
    unit: &str,
) {
    if !(min..=max).contains(&value) {
        f.unsupported(
            field,
            format!("Cloud Run's {what} is {min} to {max}{unit}; got {value}"),
        );
    }
}

fn effective_cpu(c: &ContainerModel) -> u64 {
    c.resources.cpu_millis.unwrap_or(DEFAULT_CPU_MILLIS)
}

fn effective_memory(c: &ContainerModel) -> u64 {
    c.resources.memory_bytes.unwrap_or(DEFAULT_MEMORY_MIB * MIB)
}

/// The container with the GPU and its model; errors for anything Cloud Run cannot attach.
fn gpus(f: &mut Findings, containers: &[ContainerModel]) -> Option<(usize, &'static GpuType)> {
    let mut found = None;
    for (i, c) in containers.iter().enumerate() {
        let Some(gpu) = &c.resources.gpu else {
            continue;
        };
        let path = format!("spec.containers[{i}].resources.gpu");
        if found.is_some() {
            f.unsupported(
                path.clone(),
                "Cloud Run attaches a GPU to one container only",
            );
        }
        if gpu.count != 1 {
            f.unsupported(
                format!("{path}.count"),
                format!(
                    "Cloud Run attaches exactly one GPU per instance; got {}",
                    gpu.count
                ),
            );
        }
        let names = GPU_TYPES.map(|g| g.name).join(", ");
        match gpu.gpu_type.as_deref() {
            None => f.invalid(
                format!("{path}.type"),
                format!("Cloud Run needs the GPU model: one of {names}"),
            ),
            Some(name) => match GPU_TYPES.iter().find(|g| g.name == name) {
                Some(model) => found = found.or(Some((i, model))),
                None => f.unsupported(
                    format!("{path}.type"),
                    format!("Cloud Run offers {names}; got {name}"),
                ),
            },
        }
    }
    found
}

fn cpu_and_memory(
    f: &mut Findings,
    index: usize,
    c: &ContainerModel,
    gpu: Option<&GpuType>,
    environment: Option<ExecutionEnvironment>,
) {
    let path = format!("spec.containers[{index}].resources");
    let cpu = effective_cpu(c);
    let memory = effective_memory(c);
    let has_gpu = c.resources.gpu.is_some();
    let gpu = gpu.filter(|_| has_gpu);
    let big_gpu_cpu =
        gpu.is_some_and(|g| cpu >= g.min_cpu_millis && g.min_cpu_millis > MAX_CPU_MILLIS);
    let cpu_ok = (MIN_FRACTIONAL_CPU_MILLIS..1000).contains(&cpu)
        || WHOLE_CPU_SIZES.iter().any(|s| s.millis == cpu)
        || (big_gpu_cpu && cpu.is_multiple_of(1000));
    if !cpu_ok {
        f.unsupported(
            format!("{path}.cpu"),
            format!(
                "Cloud Run sells {} to 1 vCPU in steps of 0.001, or {} vCPU; got {}",
                format_cores(MIN_FRACTIONAL_CPU_MILLIS),
                list(WHOLE_CPU_SIZES.iter().map(|s| format_cores(s.millis))),
                format_cores(cpu)
            ),
        );
        return;
    }
    if let Some(g) = gpu
        && (cpu < g.min_cpu_millis || memory < g.min_memory_mib * MIB)
    {
        f.unsupported(
            path.clone(),
            format!(
                "an {} GPU needs at least {} vCPU and {}; got {} vCPU and {}",
                g.name,
                format_cores(g.min_cpu_millis),
                format_bytes(g.min_memory_mib * MIB),
                format_cores(cpu),
                format_bytes(memory)
            ),
        );
        return;
    }
    let (mut min_mib, max_mib) = if big_gpu_cpu {
        (0, u64::MAX)
    } else if cpu < HALF_CPU_MILLIS {
        (MIN_MEMORY_MIB, SMALL_CPU_MAX_MEMORY_MIB)
    } else if cpu < 1000 {
        (MIN_MEMORY_MIB, FRACTIONAL_CPU_MAX_MEMORY_MIB)
    } else {
        WHOLE_CPU_SIZES
            .iter()
            .find(|s| s.millis == cpu)
            .map_or((MIN_MEMORY_MIB, MAX_MEMORY_MIB), |s| {
                (s.min_memory_mib, s.max_memory_mib)
            })
    };
    if environment == Some(ExecutionEnvironment::Gen2) {
        min_mib = min_mib.max(MIN_MEMORY_MIB_GEN2);
    }
    if memory < min_mib * MIB || memory > max_mib.saturating_mul(MIB) {
        let range = if max_mib == u64::MAX {
            format!("at least {}", format_bytes(min_mib * MIB))
        } else {
            format!(
                "{} to {}",
                format_bytes(min_mib * MIB),
                format_bytes(max_mib * MIB)
            )
        };
        let env = if environment == Some(ExecutionEnvironment::Gen2) {
            " on gen2"
        } else {
            ""
        };
        f.unsupported(
            format!("{path}.memory"),
            format!(
                "Cloud Run pairs {} vCPU with {range} of memory{env}; got {}",
                format_cores(cpu),
                format_bytes(memory)
            ),
        );
    }
}

/// An instance's containers share its limits.
fn totals(f: &mut Findings, containers: &[ContainerModel], gpu: bool) {
    if gpu || containers.len() < 2 {
        return;
    }
    let cpu: u64 = containers
        .iter()
        .map(effective_cpu)
        .fold(0, u64::saturating_add);
    let memory: u64 = containers
        .iter()
        .map(effective_memory)
        .fold(0, u64::saturating_add);
    if cpu > MAX_CPU_MILLIS {
        f.unsupported(
            "spec.containers",
            format!(
                "a Cloud Run instance has at most {} vCPU across its containers; they ask for {} \
                 (1 each unless set)",
                format_cores(MAX_CPU_MILLIS),
                format_cores(cpu)
            ),
        );
    }
    if memory > MAX_MEMORY_MIB * MIB {
        f.unsupported(
            "spec.containers",
            format!(
                "a Cloud Run instance has at most {} of memory across its containers; they ask \
                 for {} (512Mi each unless set)",
                format_bytes(MAX_MEMORY_MIB * MIB),
                format_bytes(memory)
            ),
        );
    }
}

/// Below one vCPU Cloud Run needs concurrency 1, request-based CPU and gen1.
fn fractional_cpu(f: &mut Findings, parts: &Parts<'_>, section: &ferry_api::CloudRunSpec) {
    let why = "below 1 vCPU Cloud Run";
    if parts.concurrency.is_some_and(|c| c != 1) {
        f.unsupported(
            "spec.concurrency",
            format!("{why} serves one request at a time per instance: set concurrency to 1"),
        );
    }
    if section.cpu_idle == Some(false) {
        f.unsupported(
            "spec.cloudRun.cpuIdle",
            format!("{why} allocates CPU only during requests: remove cpuIdle or set it to true"),
        );
    }
    if section.execution_environment == Some(ExecutionEnvironment::Gen2) {
        f.unsupported(
            "spec.cloudRun.executionEnvironment",
            format!("{why} runs on gen1 only: remove executionEnvironment or set it to gen1"),
        );
    }
}

fn probes(f: &mut Findings, index: usize, c: &ContainerModel) {
    let path = format!("spec.containers[{index}].probes");
    let checks = [
        (
            "startup",
            c.probes.startup.as_ref(),
            STARTUP_PROBE_MAX_SECONDS,
            true,
        ),
        (
            "liveness",
            c.probes.liveness.as_ref(),
            PROBE_MAX_SECONDS,
            false,
        ),
        (
            "readiness",
            c.probes.readiness.as_ref(),
            PROBE_MAX_SECONDS,
            false,
        ),
    ];
    for (kind, probe, max, tcp_ok) in checks {
        let Some(p) = probe else { continue };
        let probe_path = format!("{path}.{kind}");
        if !tcp_ok && matches!(p.action, ProbeAction::TcpSocket { .. }) {
            f.unsupported(
                format!("{probe_path}.tcpSocket"),
                format!("Cloud Run {kind} probes are httpGet or grpc"),
            );
        }
        let ProbeModel {
            initial_delay_seconds,
            period_seconds,
            timeout_seconds,
            ..
        } = *p;
        for (field, value) in [
            ("periodSeconds", period_seconds),
            ("initialDelaySeconds", initial_delay_seconds),
        ] {
            if let Some(value) = value
                && value > max
            {
                f.unsupported(
                    format!("{probe_path}.{field}"),
                    format!("Cloud Run allows at most {max} s for a {kind} probe; got {value}"),
                );
            }
        }
        let (timeout_seconds, period_seconds) = (
            timeout_seconds.unwrap_or(PROBE_DEFAULT_TIMEOUT_SECONDS),
            period_seconds.unwrap_or(PROBE_DEFAULT_PERIOD_SECONDS),
        );
        if timeout_seconds > period_seconds {
            f.unsupported(
                format!("{probe_path}.timeoutSeconds"),
                format!(
                    "Cloud Run needs timeoutSeconds ({timeout_seconds}) no longer than \
                     periodSeconds ({period_seconds})"
                ),
            );
        }
    }
}

fn instances(f: &mut Findings, parts: &Parts<'_>, containers: &[ContainerModel]) {
    let Some(scaling) = parts.scaling else { return };
    if scaling.max_instances.is_none() && scaling.min_instances > DEFAULT_MAX_INSTANCES {
        f.invalid(
            "spec.scaling.minInstances",
            format!(
                "is above Cloud Run's default maxInstances ({DEFAULT_MAX_INSTANCES}): set \
                 spec.scaling.maxInstances too"
            ),
        );
    }
    let cpu_millis: u64 = containers
        .iter()
        .map(effective_cpu)
        .fold(0, u64::saturating_add);
    let quota_instances = QUOTA_INSTANCES_AT_ONE_CPU * 1000 / cpu_millis.max(1000);
    let biggest = scaling
        .max_instances
        .unwrap_or(0)
        .max(scaling.min_instances);
    if u64::from(biggest) > quota_instances {
        f.warn(
            "spec.scaling.maxInstances",
            format!(
                "Cloud Run's default regional quota allows about {quota_instances} instances of \
                 {} vCPU; more needs a quota increase, or Cloud Run refuses the revision",
                format_cores(cpu_millis)
            ),
        );
    }
}

/// The execution environment the spec runs on when it must be a given one: the one asked for,
/// else gen2 when a volume needs it (gcs and nfs; see [`network_volume`]).
fn environment(
    asked: Option<ExecutionEnvironment>,
    volumes: &[Volume],
) -> Option<ExecutionEnvironment> {
    asked.or(volumes
        .iter()
        .any(|v| network_volume(v).is_some())
        .then_some(ExecutionEnvironment::Gen2))
}

/// A volume Cloud Run mounts over the network, which it does only in the second generation
/// execution environment ("network file system support" is one of gen2's features, in "About
/// execution environments"): its kind as `spec.volumes[]` writes it, and what it is.
fn network_volume(v: &Volume) -> Option<(&'static str, &'static str)> {
    if v.gcs.is_some() {
        Some(("gcs", "a Cloud Storage volume"))
    } else if v.nfs.is_some() {
        Some(("nfs", "an NFS volume"))
    } else {
        None
    }
}

/// Where Cloud Run mounts no volume ("Disallowed paths" in its volume mount pages: `/dev`,
/// `/proc`, `/sys` and their subdirectories).
const DISALLOWED_MOUNT_PATHS: [&str; 3] = ["/dev", "/proc", "/sys"];

/// Cloud Run's rules for `spec.volumes` and the containers' mounts, beyond the portable ones
/// (core) and the kinds it never mounts (the capability table refuses efs and azureFile).
/// `below_one_cpu`: a service's first container below 1 vCPU, which keeps it on gen1.
fn volumes(
    f: &mut Findings,
    volumes: &[Volume],
    containers: Option<&[ContainerModel]>,
    section: &ferry_api::CloudRunSpec,
    below_one_cpu: Option<usize>,
) {
    for (i, v) in volumes.iter().enumerate() {
        let path = format!("spec.volumes[{i}]");
        if let Some(s) = &v.secret {
            // The same reference as env[].secret: a Secret Manager secret and its version.
            secret(f, &format!("{path}.secret"), s);
        }
        if let Some(e) = &v.empty_dir {
            empty_dir(f, &format!("{path}.emptyDir"), e);
        }
        if let Some((kind, what)) = network_volume(v) {
            second_generation(f, &format!("{path}.{kind}"), what, section, below_one_cpu);
        }
        if v.nfs.is_some() && section.vpc_access.is_none() {
            f.warn(
                format!("{path}.nfs"),
                "Cloud Run reaches an NFS server (Filestore too) through the VPC network it \
                 runs in: without spec.cloudRun.vpcAccess (Direct VPC egress or a connector) \
                 only a server with a public address answers",
            );
        }
    }
    if let Some(containers) = containers {
        in_memory_total(f, volumes, containers);
        mounts(f, volumes, containers);
    }
}

/// Cloud Run's `EmptyDirVolumeSource` is in memory: its medium is `MEMORY` or unset ("the
/// default will currently be backed by memory"), and nothing else.
fn empty_dir(f: &mut Findings, path: &str, e: &ferry_api::EmptyDirVolume) {
    if e.medium == Some(StorageMedium::Disk) {
        f.unsupported(
            format!("{path}.medium"),
            "Cloud Run keeps an emptyDir in memory (its only medium, MEMORY), counted against \
             the instance's memory: remove medium or set it to Memory",
        );
    }
    if e.size_limit.is_none() {
        f.warn(
            format!("{path}.sizeLimit"),
            "without a sizeLimit an in-memory volume can grow until the instance runs out of \
             memory and Cloud Run stops it; with one, a write to a full volume fails instead: \
             set sizeLimit, e.g. 256Mi",
        );
    }
}

/// gcs and nfs volumes need the second generation execution environment, which Cloud Run
/// runs only with 1 vCPU or more per container.
fn second_generation(
    f: &mut Findings,
    path: &str,
    what: &str,
    section: &ferry_api::CloudRunSpec,
    below_one_cpu: Option<usize>,
) {
    let why = format!("{what} needs Cloud Run's second generation execution environment");
    if section.execution_environment == Some(ExecutionEnvironment::Gen1) {
        f.unsupported(
            path,
            format!(
                "{why}, and spec.cloudRun.executionEnvironment is gen1: remove \
                 executionEnvironment (Ferry then sets gen2) or set it to gen2"
            ),
        );
    } else if let Some(index) = below_one_cpu {
        f.unsupported(
            path,
            format!(
                "{why}, which needs 1 vCPU or more per container; \
                 spec.containers[{index}].resources.cpu is below 1 (which runs on gen1): \
                 give every container 1 vCPU or more"
            ),
        );
    }
}

/// The in-memory volumes live in the instance's memory, which is the containers' memory
/// together: their size limits must fit in it. (Cloud Run would cap a larger limit at the
/// instance's memory, so the limit would not be the one asked for.)
fn in_memory_total(f: &mut Findings, volumes: &[Volume], containers: &[ContainerModel]) {
    let limits: Vec<(usize, u64)> = volumes
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let size = v.empty_dir.as_ref()?.size_limit.as_ref()?;
            Some((i, Amount::parse(size.as_str()).ok()?.units_ceil()?))
        })
        .collect();
    let asked = limits
        .iter()
        .map(|(_, bytes)| *bytes)
        .fold(0, u64::saturating_add);
    let memory = containers
        .iter()
        .map(effective_memory)
        .fold(0, u64::saturating_add);
    if asked <= memory {
        return;
    }
    let field = match limits.as_slice() {
        [(i, _)] => format!("spec.volumes[{i}].emptyDir.sizeLimit"),
        _ => "spec.volumes".to_owned(),
    };
    f.unsupported(
        field,
        format!(
            "Cloud Run keeps in-memory volumes in the instance's memory, {} across its \
             containers (512Mi each unless set); the in-memory volumes' sizeLimits ask for {}: \
             lower them, or raise the containers' resources.memory",
            format_bytes(memory),
            readable_bytes(asked)
        ),
    );
}

/// `bytes` in a binary unit: exactly when it is one, else to the nearest MiB.
fn readable_bytes(bytes: u64) -> String {
    if bytes.is_multiple_of(1 << 10) {
        format_bytes(bytes)
    } else {
        format!("about {}Mi", (bytes + MIB / 2) / MIB)
    }
}

/// What Cloud Run's mounts cannot say: its `VolumeMount` has no `readOnly` (only a gcs or nfs
/// source does, "read only for all mounts"), and no volume goes under /dev, /proc or /sys.
fn mounts(f: &mut Findings, volumes: &[Volume], containers: &[ContainerModel]) {
    for (i, c) in containers.iter().enumerate() {
        for (k, m) in c.mounts.iter().enumerate() {
            let at = format!("spec.containers[{i}].volumeMounts[{k}]");
            if DISALLOWED_MOUNT_PATHS.iter().any(|d| {
                m.mount_path == *d
                    || m.mount_path
                        .strip_prefix(d)
                        .is_some_and(|rest| rest.starts_with('/'))
            }) {
                f.unsupported(
                    format!("{at}.mountPath"),
                    format!(
                        "Cloud Run mounts no volume at /dev, /proc or /sys, nor below them; got \
                         {}",
                        m.mount_path
                    ),
                );
            }
            let Some(v) = volumes.iter().find(|v| v.name == m.volume) else {
                continue;
            };
            if !m.read_only {
                continue;
            }
            if v.empty_dir.is_some() {
                f.unsupported(
                    format!("{at}.readOnly"),
                    "Cloud Run mounts an in-memory volume read-write in every container that \
                     mounts it (its volume mounts have no readOnly): remove readOnly",
                );
            } else if let Some((kind, _)) = network_volume(v) {
                read_only_everywhere(f, &at, kind, v, volumes, containers);
            }
        }
    }
}

/// A read-only mount of a gcs or nfs volume: Cloud Run mounts the volume read-only for all of
/// its mounts or none (`GCSVolumeSource.readOnly`, `NFSVolumeSource.readOnly`), so every
/// container must mount it read-only (the builder then sets the source's `readOnly`).
fn read_only_everywhere(
    f: &mut Findings,
    at: &str,
    kind: &str,
    v: &Volume,
    volumes: &[Volume],
    containers: &[ContainerModel],
) {
    let writer = containers.iter().enumerate().find_map(|(j, c)| {
        let n = c
            .mounts
            .iter()
            .position(|m| m.volume == v.name && !m.read_only)?;
        Some(format!("spec.containers[{j}].volumeMounts[{n}]"))
    });
    if let Some(writer) = writer {
        let index = volumes.iter().position(|w| w.name == v.name).unwrap_or(0);
        f.unsupported(
            format!("{at}.readOnly"),
            format!(
                "Cloud Run's volume mounts have no readOnly: a {kind} volume is read-only for \
                 all of its mounts or for none, and {writer} mounts {:?} read-write. Set \
                 spec.volumes[{index}].{kind}.readOnly: true, or mount it read-write everywhere",
                v.name
            ),
        );
    }
}
