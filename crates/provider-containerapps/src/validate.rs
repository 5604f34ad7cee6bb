//! Azure Container Apps rules: the CPU and memory pairs Consumption sells (over the app's
//! containers together), memory in Gi with two decimals, replica bounds, scale rules, probe
//! timings, traffic splits, the app secrets `env[].secret` and secret volumes name, and what
//! its volumes can be (an EmptyDir on disk, an azureFile share through an environment storage,
//! one access mode per share); for a job, the same sizes, secrets and volumes, and what its
//! trigger can hold (a UTC schedule, no pause).

use ferry_api::{
    AzureSecret, ContainerAppsSpec, ContainerAppsTransport, ScalingMetric, SecretRef,
    ServerlessServiceSpec, StorageMedium, Volume,
};
use ferry_core::Findings;
use ferry_core::backend::Parts;
use ferry_core::capabilities::list;
use ferry_core::desired::{
    ContainerModel, EnvValue, ProbeAction, ProbeModel, ScalingModel, SecretSource,
};
use ferry_core::job::JobParts;
use ferry_core::quantity::{format_bytes, format_cores};

use crate::job::build::RESERVED_ENV;
use crate::limits::{
    CENTI_GIB_PER_GIB, CONSUMPTION, DEFAULT_CPU_MILLIS, DEFAULT_UTILIZATION_TARGET,
    ENVIRONMENT_CORES, JOB_PARALLELISM, MAX_REPLICAS, MIN_REPLICAS, PROBE_FAILURE_THRESHOLD,
    PROBE_INITIAL_DELAY, PROBE_PERIOD, PROBE_TIMEOUT, REPLICA_COMPLETION_COUNT,
    REPLICA_RETRY_LIMIT, REPLICA_TIMEOUT_SECONDS, SCHEDULE_TIME_ZONES, cpu_sizes,
    ephemeral_storage_gib, paired_memory_centi_gib,
};
use crate::model::{AppSecret, AppSecretSource, ContainerAppsModel, ScaleRule, Size};

const GIB: u64 = 1 << 30;

/// `env[].secret` on Container Apps: `name` is an entry of `spec.containerApps.secrets`, whose
/// name is also the app secret's; there is no key.
pub(crate) fn secret(
    f: &mut Findings,
    path: &str,
    secret: &SecretRef,
    spec: &ServerlessServiceSpec,
) -> Option<SecretSource> {
    let declared = spec
        .container_apps
        .as_ref()
        .and_then(|s| s.secrets.as_ref())
        .and_then(|secrets| secrets.iter().find(|s| s.name == secret.name));
    let Some(declared) = declared else {
        f.invalid(
            format!("{path}.name"),
            format!(
                "Container Apps reads secrets through spec.containerApps.secrets: add {{name: {0}, \
                 keyVaultUrl: https://VAULT.vault.azure.net/secrets/NAME}} (read with \
                 spec.containerApps.identity) or {{name: {0}, fromSecret: {{name: SECRET, key: \
                 KEY}}}} (a key of a Secret in this namespace, copied into the app)",
                secret.name
            ),
        );
        return None;
    };
    if secret.key.is_some() {
        f.invalid(
            format!("{path}.key"),
            format!(
                "on Container Apps the entry {} of spec.containerApps.secrets says where the value \
                 is: remove the key (a Kubernetes Secret's key goes in its fromSecret.key)",
                secret.name
            ),
        );
        return None;
    }
    Some(SecretSource::Store {
        name: declared.name.clone(),
        version: None,
    })
}

pub(crate) fn check(f: &mut Findings, parts: &Parts<'_>) -> Option<ContainerAppsModel> {
    let spec = parts.spec;
    let section = spec.container_apps.clone().unwrap_or_default();
    let before = f.error_count();
    let consumption = section
        .workload_profile
        .as_deref()
        .is_none_or(|p| p.eq_ignore_ascii_case(CONSUMPTION));
    let sizes = parts
        .containers
        .map(|containers| sizes(f, containers, consumption, "container app"));
    if let Some(containers) = parts.containers {
        for (i, c) in containers.iter().enumerate() {
            probes(f, i, c);
        }
    }
    let multiple_revisions = multiple_revisions(parts);
    if multiple_revisions && section.transport == Some(ContainerAppsTransport::Tcp) {
        f.unsupported(
            "spec.traffic",
            "Container Apps splits traffic between revisions only over HTTP: remove the split \
             (or its tags), or set spec.containerApps.transport to auto, http or http2",
        );
    }
    let rules = parts
        .scaling
        .and_then(|s| scale_rules(f, parts, s, section.transport));
    let cpu = replica_cpu(consumption, sizes.as_ref().and_then(Option::as_deref));
    volumes(f, spec, parts.containers, cpu);
    let secrets = secrets(f, parts, &section);
    if f.error_count() != before {
        return None;
    }
    Some(ContainerAppsModel {
        environment: section.environment,
        resource_group: section.resource_group,
        workload_profile: section.workload_profile,
        identity: section.identity,
        transport: section.transport,
        sizes: sizes.flatten()?,
        rules: rules?,
        multiple_revisions,
        secrets,
    })
}

/// A `ServerlessJob` on Container Apps: the containers' sizes and app secrets as for an app,
/// the job settings within what the API takes, and what its trigger cannot hold: a schedule
/// in another time zone than UTC. `suspend` with a schedule is honoured by making the job
/// Manual while suspended (warned); `concurrencyPolicy` by the client's `advance`.
pub(crate) fn check_job(f: &mut Findings, parts: &JobParts<'_>) -> Option<ContainerAppsModel> {
    let spec = parts.spec;
    let section = spec.container_apps.clone().unwrap_or_default();
    let before = f.error_count();
    let consumption = section
        .workload_profile
        .as_deref()
        .is_none_or(|p| p.eq_ignore_ascii_case(CONSUMPTION));
    let sizes = parts
        .containers
        .map(|containers| sizes(f, containers, consumption, "Container Apps job"));
    if section.transport.is_some() {
        f.unsupported(
            "spec.containerApps.transport",
            "a Container Apps job has no ingress: remove spec.containerApps.transport",
        );
    }
    if let Some(containers) = parts.containers {
        reserved_env(f, containers);
    }
    let parallelism = spec
        .parallelism
        .and_then(|p| u32::try_from(p).ok())
        .unwrap_or(parts.task_count);
    job_settings(f, parts, parallelism);
    if consumption && let Some(Some(sizes)) = &sizes {
        environment_cores(f, sizes, parallelism);
    }
    if parts.task_count > 1 {
        f.warn(
            "spec.taskCount",
            format!(
                "Container Apps runs {} replicas of the same containers and gives them no index \
                 (no CLOUD_RUN_TASK_INDEX or JOB_COMPLETION_INDEX): each must find its share of \
                 the work itself (a queue, a lease)",
                parts.task_count
            ),
        );
    }
    if let Some(schedule) = parts.schedule {
        if !SCHEDULE_TIME_ZONES.contains(&schedule.time_zone.as_str()) {
            f.unsupported(
                "spec.timeZone",
                format!(
                    "Container Apps reads a job's schedule in UTC only (its schedule trigger has \
                     no time zone): remove spec.timeZone or set it to Etc/UTC, and write \
                     spec.schedule in UTC; got {}",
                    schedule.time_zone
                ),
            );
        }
        if spec.suspend == Some(true) {
            f.warn(
                "spec.suspend",
                "Container Apps cannot pause a schedule: while suspended, Ferry makes the \
                 Container Apps job Manual (no schedule; runs under way go on) and gives it its \
                 schedule back when suspend is false",
            );
        }
    }
    let workload = spec.workload();
    let service_parts = Parts {
        spec: &workload,
        containers: parts.containers,
        scaling: None,
        concurrency: None,
    };
    let cpu = replica_cpu(consumption, sizes.as_ref().and_then(Option::as_deref));
    volumes(f, &workload, parts.containers, cpu);
    let secrets = secrets(f, &service_parts, &section);
    if f.error_count() != before {
        return None;
    }
    Some(ContainerAppsModel {
        environment: section.environment,
        resource_group: section.resource_group,
        workload_profile: section.workload_profile,
        identity: section.identity,
        transport: None,
        sizes: sizes.flatten()?,
        rules: Vec::new(),
        multiple_revisions: false,
        secrets,
    })
}

/// Ferry sets these in every replica to find its runs: a container may not set them too.
fn reserved_env(f: &mut Findings, containers: &[ContainerModel]) {
    for (i, c) in containers.iter().enumerate() {
        for (j, e) in c.env.iter().enumerate() {
            if RESERVED_ENV.contains(&e.name.as_str()) {
                f.invalid(
                    format!("spec.containers[{i}].env[{j}].name"),
                    format!(
                        "{} is set by Ferry in every Container Apps job replica (it is how Ferry \
                         finds its runs): rename the variable",
                        e.name
                    ),
                );
            }
        }
    }
}

/// The job settings within what the API takes ([`crate::limits`] says where the bounds come
/// from).
fn job_settings(f: &mut Findings, parts: &JobParts<'_>, parallelism: u32) {
    for (field, setting, value, (min, max)) in [
        (
            "spec.timeoutSeconds",
            "replicaTimeout",
            parts.timeout_seconds,
            REPLICA_TIMEOUT_SECONDS,
        ),
        (
            "spec.maxRetries",
            "replicaRetryLimit",
            parts.max_retries,
            REPLICA_RETRY_LIMIT,
        ),
        (
            "spec.parallelism",
            "parallelism",
            parallelism,
            JOB_PARALLELISM,
        ),
        (
            "spec.taskCount",
            "replicaCompletionCount",
            parts.task_count,
            REPLICA_COMPLETION_COUNT,
        ),
    ] {
        if !(min..=max).contains(&value) {
            f.unsupported(
                field,
                format!("Container Apps takes a job's {setting} from {min} to {max}; got {value}"),
            );
        }
    }
}

/// Warns when the replicas a run starts at once ask for more cores than an environment's
/// Consumption profile has by default.
fn environment_cores(f: &mut Findings, sizes: &[Size], parallelism: u32) {
    let per_replica: u64 = sizes
        .iter()
        .map(|s| s.cpu_millis)
        .fold(0, u64::saturating_add);
    let total = per_replica * u64::from(parallelism);
    if total > ENVIRONMENT_CORES * 1000 {
        f.warn(
            "spec.parallelism",
            format!(
                "{parallelism} replicas of {} vCPU ask for {} vCPU at once, more than the {} \
                 cores an environment's Consumption profile has by default: replicas beyond them \
                 wait, unless the environment's quota is raised",
                format_cores(per_replica),
                format_cores(total),
                ENVIRONMENT_CORES
            ),
        );
    }
}

/// Whether `spec.traffic` needs more than one active revision: several targets, a named
/// revision or a tag (labels exist only in Multiple mode).
fn multiple_revisions(parts: &Parts<'_>) -> bool {
    let traffic = parts.spec.traffic.as_deref().unwrap_or_default();
    traffic.len() > 1
        || traffic
            .iter()
            .any(|t| t.revision_name.is_some() || t.tag.is_some())
}

/// Memory in hundredths of a GiB, when `bytes` is a value Container Apps can be told (`Gi` with
/// at most two decimals, which is how `1.25Gi`, `512Mi` and `0.1Gi` parse).
pub(crate) fn centi_gib(bytes: u64) -> Option<u64> {
    let centi =
        (u128::from(bytes) * u128::from(CENTI_GIB_PER_GIB) + u128::from(GIB / 2)) / u128::from(GIB);
    let back = (centi * u128::from(GIB)).div_ceil(u128::from(CENTI_GIB_PER_GIB));
    (back == u128::from(bytes))
        .then(|| u64::try_from(centi).ok())
        .flatten()
}

/// `1.25Gi`, `0.5Gi`, `2Gi`.
pub(crate) fn format_centi_gib(centi: u64) -> String {
    let whole = centi / CENTI_GIB_PER_GIB;
    let frac = centi % CENTI_GIB_PER_GIB;
    if frac == 0 {
        format!("{whole}Gi")
    } else {
        let frac = format!("{frac:02}");
        format!("{whole}.{}Gi", frac.trim_end_matches('0'))
    }
}

/// Each container's size, unset halves taken from the other (2 GiB per vCPU) or the platform's
/// default; on Consumption the totals must be a pair it sells. `kind` names what the containers
/// make (`container app`, `Container Apps job`) in messages.
fn sizes(
    f: &mut Findings,
    containers: &[ContainerModel],
    consumption: bool,
    kind: &str,
) -> Option<Vec<Size>> {
    let before = f.error_count();
    let mut out = Vec::with_capacity(containers.len());
    for (i, c) in containers.iter().enumerate() {
        let path = format!("spec.containers[{i}].resources");
        let memory = c.resources.memory_bytes.map(|b| (b, centi_gib(b)));
        if let Some((bytes, None)) = memory {
            f.unsupported(
                format!("{path}.memory"),
                format!(
                    "Container Apps takes memory in Gi with at most two decimals (0.5Gi, \
                     1.25Gi, 512Mi); got {}",
                    format_bytes(bytes)
                ),
            );
            continue;
        }
        let memory = memory.and_then(|(_, centi)| centi);
        let cpu_millis = c
            .resources
            .cpu_millis
            .or_else(|| memory.map(|m| m * 1000 / (CENTI_GIB_PER_GIB * 2)))
            .unwrap_or(DEFAULT_CPU_MILLIS);
        out.push(Size {
            cpu_millis,
            memory_centi_gib: memory.unwrap_or_else(|| paired_memory_centi_gib(cpu_millis)),
        });
    }
    if f.error_count() != before {
        return None;
    }
    if consumption {
        let cpu: u64 = out
            .iter()
            .map(|s| s.cpu_millis)
            .fold(0, u64::saturating_add);
        let memory: u64 = out
            .iter()
            .map(|s| s.memory_centi_gib)
            .fold(0, u64::saturating_add);
        let sold = cpu_sizes().any(|c| c == cpu) && paired_memory_centi_gib(cpu) == memory;
        if !sold {
            let (field, what) = if containers.len() == 1 {
                (
                    "spec.containers[0].resources".to_owned(),
                    format!("a {kind}'s CPU and memory"),
                )
            } else {
                (
                    "spec.containers".to_owned(),
                    format!("the CPU and memory of a {kind}'s containers together"),
                )
            };
            let unset = if containers
                .iter()
                .any(|c| c.resources.cpu_millis.is_none() && c.resources.memory_bytes.is_none())
            {
                format!(
                    " (a container that sets neither counts as {} vCPU and {})",
                    format_cores(DEFAULT_CPU_MILLIS),
                    format_centi_gib(paired_memory_centi_gib(DEFAULT_CPU_MILLIS))
                )
            } else {
                String::new()
            };
            f.unsupported(
                field,
                format!(
                    "on the Consumption profile {what} must be one of {}; got {} vCPU and \
                     {}{unset}",
                    sold_pairs(),
                    format_cores(cpu),
                    format_centi_gib(memory)
                ),
            );
            return None;
        }
    }
    Some(out)
}

/// `0.25 vCPU/0.5Gi, 0.5 vCPU/1Gi, ... or 4 vCPU/8Gi`.
pub(crate) fn sold_pairs() -> String {
    list(cpu_sizes().map(|c| {
        format!(
            "{} vCPU/{}",
            format_cores(c),
            format_centi_gib(paired_memory_centi_gib(c))
        )
    }))
}

fn probes(f: &mut Findings, index: usize, c: &ContainerModel) {
    let path = format!("spec.containers[{index}].probes");
    for (kind, probe) in [
        ("startup", c.probes.startup.as_ref()),
        ("readiness", c.probes.readiness.as_ref()),
        ("liveness", c.probes.liveness.as_ref()),
    ] {
        let Some(p) = probe else { continue };
        let probe_path = format!("{path}.{kind}");
        if matches!(p.action, ProbeAction::Grpc { .. }) {
            f.unsupported(
                format!("{probe_path}.grpc"),
                "Container Apps does not support grpc probes: use httpGet or tcpSocket",
            );
        }
        let ProbeModel {
            initial_delay_seconds,
            period_seconds,
            timeout_seconds,
            failure_threshold,
            ..
        } = *p;
        for (field, value, (min, max)) in [
            (
                "initialDelaySeconds",
                initial_delay_seconds,
                PROBE_INITIAL_DELAY,
            ),
            ("periodSeconds", period_seconds, PROBE_PERIOD),
            ("timeoutSeconds", timeout_seconds, PROBE_TIMEOUT),
            (
                "failureThreshold",
                failure_threshold,
                PROBE_FAILURE_THRESHOLD,
            ),
        ] {
            if let Some(value) = value
                && !(min..=max).contains(&value)
            {
                f.unsupported(
                    format!("{probe_path}.{field}"),
                    format!(
                        "Container Apps takes a probe's {field} from {min} to {max}; got {value}"
                    ),
                );
            }
        }
    }
}

/// The scale rules `spec.scaling` and `spec.concurrency` mean, or `None` after an error.
fn scale_rules(
    f: &mut Findings,
    parts: &Parts<'_>,
    scaling: &ScalingModel,
    transport: Option<ContainerAppsTransport>,
) -> Option<Vec<ScaleRule>> {
    let before = f.error_count();
    let (min_lo, min_hi) = MIN_REPLICAS;
    if !(min_lo..=min_hi).contains(&scaling.min_instances) {
        f.unsupported(
            "spec.scaling.minInstances",
            format!(
                "Container Apps keeps {min_lo} to {min_hi} replicas at least; got {}",
                scaling.min_instances
            ),
        );
    }
    let (max_lo, max_hi) = MAX_REPLICAS;
    if let Some(max) = scaling.max_instances
        && !(max_lo..=max_hi).contains(&max)
    {
        f.unsupported(
            "spec.scaling.maxInstances",
            format!("Container Apps runs {max_lo} to {max_hi} replicas at most; got {max}"),
        );
    }
    if scaling.max_instances.is_none()
        && scaling.min_instances > crate::limits::DEFAULT_MAX_REPLICAS
    {
        f.invalid(
            "spec.scaling.minInstances",
            format!(
                "is above Container Apps' default maxReplicas ({}): set spec.scaling.maxInstances \
                 too",
                crate::limits::DEFAULT_MAX_REPLICAS
            ),
        );
    }
    let concurrency = parts.concurrency;
    let mut rules = Vec::new();
    let requests_rule = |threshold: u32| {
        if transport == Some(ContainerAppsTransport::Tcp) {
            ScaleRule::Tcp {
                concurrent_connections: threshold,
            }
        } else {
            ScaleRule::Http {
                concurrent_requests: threshold,
            }
        }
    };
    match scaling.metric {
        ScalingMetric::Concurrency | ScalingMetric::Rps => {
            if let (Some(c), Some(t)) = (concurrency, scaling.target)
                && c != t
            {
                f.unsupported(
                    "spec.scaling.target",
                    format!(
                        "Container Apps has one threshold for requests in flight (the HTTP scale \
                         rule's concurrentRequests, which adds a replica; no per-replica limit): \
                         spec.concurrency ({c}) and spec.scaling.target ({t}) differ; remove one \
                         or give both the same value"
                    ),
                );
            }
            if let Some(threshold) = scaling.target.or(concurrency) {
                rules.push(requests_rule(threshold));
            }
        }
        ScalingMetric::Cpu | ScalingMetric::Memory => {
            if scaling.min_instances == 0 {
                let default = if parts
                    .spec
                    .scaling
                    .as_ref()
                    .and_then(|s| s.min_instances)
                    .is_none()
                {
                    " (the default is 0)"
                } else {
                    ""
                };
                f.unsupported(
                    "spec.scaling.minInstances",
                    format!(
                        "Container Apps cannot scale to zero on {} utilization: nothing would \
                         start a replica again; set spec.scaling.minInstances to 1 or more{default}, \
                         or scale on concurrency",
                        scaling.metric.as_str()
                    ),
                );
            }
            let utilization = scaling.target.unwrap_or(DEFAULT_UTILIZATION_TARGET);
            rules.push(if scaling.metric == ScalingMetric::Cpu {
                ScaleRule::Cpu { utilization }
            } else {
                ScaleRule::Memory { utilization }
            });
            // spec.concurrency still means requests in flight: its own rule beside.
            if let Some(threshold) = concurrency {
                rules.push(requests_rule(threshold));
            }
        }
    }
    (f.error_count() == before).then_some(rules)
}

/// The app secrets the secret volumes of `spec` read (by their names in
/// `spec.containerApps.secrets`).
pub(crate) fn volume_secrets(spec: &ServerlessServiceSpec) -> impl Iterator<Item = &str> {
    spec.volumes
        .iter()
        .flatten()
        .filter_map(|v| v.secret.as_ref().map(|s| s.name.as_str()))
}

/// The vCPU of a replica (its containers together) on the Consumption profile, whose ephemeral
/// storage Ferry knows; `None` on another profile or when the sizes did not validate.
fn replica_cpu(consumption: bool, sizes: Option<&[Size]>) -> Option<u64> {
    let sizes = sizes?;
    consumption.then(|| {
        sizes
            .iter()
            .map(|s| s.cpu_millis)
            .fold(0, u64::saturating_add)
    })
}

/// What Container Apps cannot do with the volumes of `spec` and the mounts of `containers`
/// (`Template.volumes[]` and `Container.volumeMounts[]`, CommonDefinitions.json 2026-01-01):
/// a secret volume names an app secret and at most a file name; an EmptyDir lives on the
/// replica's ephemeral storage (no memory medium; a sizeLimit within that storage, not
/// enforced per volume); a `VolumeMount` has no `readOnly`, so an EmptyDir is mounted
/// read-write and an azureFile share as its environment storage's `accessMode` says, the same
/// for every mount (the client checks the storage before it writes). The kinds it cannot mount
/// at all are the capability table's `no` cells, which core refuses.
fn volumes(
    f: &mut Findings,
    spec: &ServerlessServiceSpec,
    containers: Option<&[ContainerModel]>,
    replica_cpu: Option<u64>,
) {
    let declared = spec.volumes.as_deref().unwrap_or_default();
    for (i, v) in declared.iter().enumerate() {
        let path = format!("spec.volumes[{i}]");
        if let Some(s) = &v.secret {
            secret_volume(f, &path, s, spec);
        }
        if let Some(e) = &v.empty_dir {
            if e.medium == Some(StorageMedium::Memory) {
                f.unsupported(
                    format!("{path}.emptyDir.medium"),
                    "Container Apps keeps an EmptyDir volume on the replica's ephemeral storage \
                     (disk), never in memory: remove medium, or set it to Disk",
                );
            }
            if e.size_limit.is_some() {
                empty_dir_size(f, &format!("{path}.emptyDir.sizeLimit"), v, replica_cpu);
            }
        }
        if let Some(a) = &v.azure_file
            && a.secret_ref.is_some()
        {
            f.warn(
                format!("{path}.azureFile.secretRef"),
                format!(
                    "Container Apps mounts the share through the environment storage {}, which \
                     holds the storage account's key: secretRef is not read (it is for \
                     containerInstances and kubernetes)",
                    a.environment_storage.as_deref().unwrap_or(&a.share_name)
                ),
            );
        }
    }
    for (i, c) in containers.into_iter().flatten().enumerate() {
        for (k, m) in c.mounts.iter().enumerate() {
            let Some(v) = declared.iter().find(|v| v.name == m.volume) else {
                continue;
            };
            if v.empty_dir.is_some() && m.read_only {
                f.unsupported(
                    format!("spec.containers[{i}].volumeMounts[{k}].readOnly"),
                    "Container Apps mounts an EmptyDir volume read-write (a volume mount has no \
                     readOnly): remove readOnly",
                );
            }
        }
    }
    azure_file_modes(f, declared, containers.unwrap_or_default());
}

/// A secret volume: `name` is an entry of `spec.containerApps.secrets` (the app secret it
/// projects), `key` the file's name in the volume (default: the secret's name).
fn secret_volume(f: &mut Findings, path: &str, s: &SecretRef, spec: &ServerlessServiceSpec) {
    let declared = spec
        .container_apps
        .as_ref()
        .and_then(|c| c.secrets.as_ref())
        .is_some_and(|secrets| secrets.iter().any(|d| d.name == s.name));
    if !declared {
        f.invalid(
            format!("{path}.secret.name"),
            format!(
                "a secret volume on Container Apps projects an app secret: add {{name: {0}, \
                 keyVaultUrl: https://VAULT.vault.azure.net/secrets/NAME}} (read with \
                 spec.containerApps.identity) or {{name: {0}, fromSecret: {{name: SECRET, key: \
                 KEY}}}} to spec.containerApps.secrets",
                s.name
            ),
        );
    }
    if let Some(key) = &s.key
        && !ferry_azure::secrets::is_file_name(key)
    {
        f.invalid(
            format!("{path}.secret.key"),
            format!(
                "is the name of the file the secret becomes in the volume (Container Apps' \
                 secret volume path): letters, digits, '-', '_' and '.', not . or ..; got {key:?}"
            ),
        );
    }
}

/// `emptyDir.sizeLimit` at `field`: Container Apps has no per-volume limit. Within the replica's
/// ephemeral storage it is accepted and warned (the storage bounds it); beyond it, refused:
/// the directory could never hold that much.
fn empty_dir_size(f: &mut Findings, field: &str, v: &Volume, replica_cpu: Option<u64>) {
    let limit = v
        .empty_dir
        .as_ref()
        .and_then(|e| e.size_limit.as_ref())
        .and_then(|q| ferry_core::quantity::Amount::parse(q.as_str()).ok())
        .and_then(ferry_core::quantity::Amount::units_ceil);
    let Some(limit) = limit else {
        return; // core reports a quantity it cannot read
    };
    let Some(cpu) = replica_cpu else {
        f.warn(
            field,
            "Container Apps has no size limit per EmptyDir volume: the directory shares the \
             replica's ephemeral storage with its containers, and sizeLimit is not enforced",
        );
        return;
    };
    let budget = ephemeral_storage_gib(cpu);
    if limit > budget * GIB {
        f.unsupported(
            field,
            format!(
                "a replica of {} vCPU has {budget} GiB of ephemeral storage on the Consumption \
                 profile, which its containers and EmptyDir volumes share: ask for at most \
                 {budget}Gi, or give the containers more CPU (up to 8 GiB above 1 vCPU); got {}",
                format_cores(cpu),
                format_bytes(limit)
            ),
        );
    } else {
        f.warn(
            field,
            format!(
                "Container Apps has no size limit per EmptyDir volume: the directory shares the \
                 replica's {budget} GiB of ephemeral storage with its containers, and sizeLimit \
                 is not enforced"
            ),
        );
    }
}

/// Every mount of one azureFile volume must agree on `readOnly`: Container Apps takes it from
/// the environment storage's `accessMode`, one value for every mount.
fn azure_file_modes(f: &mut Findings, declared: &[Volume], containers: &[ContainerModel]) {
    for v in declared.iter().filter(|v| v.azure_file.is_some()) {
        let mut first: Option<bool> = None;
        for (i, c) in containers.iter().enumerate() {
            for (k, m) in c.mounts.iter().enumerate() {
                if m.volume != v.name {
                    continue;
                }
                match first {
                    None => first = Some(m.read_only),
                    Some(mode) if mode != m.read_only => f.unsupported(
                        format!("spec.containers[{i}].volumeMounts[{k}].readOnly"),
                        format!(
                            "Container Apps has no readOnly per mount: an azureFile volume is \
                             read-only or read-write for every mount, as its environment \
                             storage's accessMode says; mount volume {} read-only everywhere \
                             or nowhere, or declare a second volume over a ReadOnly storage",
                            v.name
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
    }
}

/// The app secrets `env` reads, in the order `spec.containerApps.secrets` lists them; refuses a
/// Key Vault secret without the identity to read it, warns of entries nothing reads (they are
/// not sent: a copied value should not live in Azure for nothing).
fn secrets(f: &mut Findings, parts: &Parts<'_>, section: &ContainerAppsSpec) -> Vec<AppSecret> {
    let used: Vec<&str> = parts
        .containers
        .into_iter()
        .flatten()
        .flat_map(|c| &c.env)
        .filter_map(|e| match &e.value {
            EnvValue::Secret(SecretSource::Store { name, .. }) => Some(name.as_str()),
            _ => None,
        })
        .chain(volume_secrets(parts.spec))
        .collect();
    let mut out = Vec::new();
    for (i, s) in section.secrets.iter().flatten().enumerate() {
        let path = format!("spec.containerApps.secrets[{i}]");
        let AzureSecret {
            name,
            key_vault_url,
            from_secret,
        } = s;
        let source = match (key_vault_url, from_secret) {
            (Some(url), None) => {
                let Some(identity) = &section.identity else {
                    f.unsupported(
                        format!("{path}.keyVaultUrl"),
                        "Container Apps reads a Key Vault secret with a managed identity: set \
                         spec.containerApps.identity to a user-assigned identity that may read \
                         it, or copy the value from a Kubernetes Secret with fromSecret",
                    );
                    continue;
                };
                AppSecretSource::KeyVault {
                    url: url.clone(),
                    identity: identity.clone(),
                }
            }
            (None, Some(from)) => AppSecretSource::Kubernetes {
                secret: from.name.clone(),
                key: from.key.clone(),
            },
            _ => {
                f.invalid(path, "set exactly one of keyVaultUrl or fromSecret");
                continue;
            }
        };
        if !used.contains(&name.as_str()) {
            f.warn(
                format!("{path}.name"),
                format!(
                    "no env[].secret or secret volume reads {name}: it is not sent to Container \
                     Apps; remove it or use it"
                ),
            );
            continue;
        }
        out.push(AppSecret {
            name: name.clone(),
            source,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_taken_in_gi_with_two_decimals() {
        let mib = |m: u64| m << 20;
        assert_eq!(centi_gib(mib(512)), Some(50));
        assert_eq!(centi_gib(mib(768)), Some(75));
        assert_eq!(centi_gib(3 * GIB / 2), Some(150));
        assert_eq!(centi_gib(8 * GIB), Some(800));
        // 0.1Gi parses (rounded up) to 107374183 bytes.
        assert_eq!(centi_gib(107_374_183), Some(10));
        assert_eq!(centi_gib(mib(100)), None);
        assert_eq!(centi_gib(1_000_000_000), None);
        assert_eq!(format_centi_gib(50), "0.5Gi");
        assert_eq!(format_centi_gib(125), "1.25Gi");
        assert_eq!(format_centi_gib(800), "8Gi");
        assert_eq!(format_centi_gib(10), "0.1Gi");
    }

    #[test]
    fn the_sold_pairs_are_listed_smallest_first() {
        let pairs = sold_pairs();
        assert!(pairs.starts_with("0.25 vCPU/0.5Gi, 0.5 vCPU/1Gi, 0.75 vCPU/1.5Gi"));
        assert!(pairs.ends_with("3.75 vCPU/7.5Gi or 4 vCPU/8Gi"), "{pairs}");
    }
}
