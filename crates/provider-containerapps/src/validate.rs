//! Azure Container Apps rules: the CPU and memory pairs Consumption sells (over the app's
//! containers together), memory in Gi with two decimals, replica bounds, scale rules, probe
//! timings, traffic splits and the app secrets `env[].secret` names.

use ferry_api::{
    AzureSecret, ContainerAppsSpec, ContainerAppsTransport, ScalingMetric, SecretRef,
    ServerlessServiceSpec,
};
use ferry_core::Findings;
use ferry_core::backend::Parts;
use ferry_core::capabilities::list;
use ferry_core::desired::{
    ContainerModel, EnvValue, ProbeAction, ProbeModel, ScalingModel, SecretSource,
};
use ferry_core::quantity::{format_bytes, format_cores};

use crate::limits::{
    CENTI_GIB_PER_GIB, CONSUMPTION, DEFAULT_CPU_MILLIS, DEFAULT_UTILIZATION_TARGET, MAX_REPLICAS,
    MIN_REPLICAS, PROBE_FAILURE_THRESHOLD, PROBE_INITIAL_DELAY, PROBE_PERIOD, PROBE_TIMEOUT,
    cpu_sizes, paired_memory_centi_gib,
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
        .map(|containers| sizes(f, containers, consumption));
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
/// default; on Consumption the totals must be a pair it sells.
fn sizes(f: &mut Findings, containers: &[ContainerModel], consumption: bool) -> Option<Vec<Size>> {
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
        let cpu: u64 = out.iter().map(|s| s.cpu_millis).sum();
        let memory: u64 = out.iter().map(|s| s.memory_centi_gib).sum();
        let sold = cpu_sizes().any(|c| c == cpu) && paired_memory_centi_gib(cpu) == memory;
        if !sold {
            let (field, what) = if containers.len() == 1 {
                (
                    "spec.containers[0].resources".to_owned(),
                    "a container app's CPU and memory",
                )
            } else {
                (
                    "spec.containers".to_owned(),
                    "the CPU and memory of a container app's containers together",
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
                    "no env[].secret reads {name}: it is not sent to Container Apps; remove it or \
                     use it"
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
