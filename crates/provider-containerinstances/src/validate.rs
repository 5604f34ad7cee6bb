//! Azure Container Instances rules: one container group of 1..N containers (one on Windows),
//! CPU and memory requests in ACI's steps and within a group's limits, V100 GPUs, httpGet
//! probes, the command list, how the group is reached (public IP and DNS label, subnets, or
//! nothing for Spot), the secrets of `spec.containerInstances.secrets`, and the volumes a Linux
//! group mounts (an Azure Files share with its key, an emptyDir on the host's disk, a secret as
//! one file).

use ferry_api::{
    AciPriority, ContainerInstancesSpec, Ingress, OsType, SecretRef, ServerlessServiceSpec,
    StorageMedium,
};
use ferry_core::Findings;
use ferry_core::backend::Parts;
use ferry_core::capabilities::list;
use ferry_core::desired::{ContainerModel, ObjectRef, ProbeAction, SecretSource};
use ferry_core::quantity::{format_bytes, format_cores};

use crate::capabilities::tenths;
use crate::limits::{
    CPU_STEP_MILLIS, DEFAULT_CPU_MILLIS, DEFAULT_MEMORY_TENTHS, GB, GPU_SIZES, GPU_TYPE,
    MAX_GROUP_CPU_MILLIS, MAX_GROUP_MEMORY_TENTHS, MAX_WINDOWS_CONTAINERS, MEMORY_STEPS_PER_GB,
    MIN_GROUP_CPU_MILLIS, MIN_GROUP_MEMORY_TENTHS, RETIRED_GPU_TYPES,
};
use crate::model::{Address, ContainerInstancesModel, FileSource, KeyVaultSecret, SecretFile};
use crate::names;

const SECTION: &str = "spec.containerInstances";

/// How `env[].secret` maps: its `name` is an entry of `spec.containerInstances.secrets`.
pub(crate) fn secret(
    f: &mut Findings,
    path: &str,
    secret: &SecretRef,
    spec: &ServerlessServiceSpec,
) -> Option<SecretSource> {
    let entry = spec
        .container_instances
        .as_ref()
        .and_then(|s| s.secrets.as_ref())
        .and_then(|secrets| secrets.iter().find(|s| s.name == secret.name));
    let Some(entry) = entry else {
        f.invalid(
            format!("{path}.name"),
            format!(
                "on Container Instances, secret.name names an entry of {SECTION}.secrets (a Key \
                 Vault secret, or a key of a Secret in the service's namespace); there is none \
                 named {:?}: add it there",
                secret.name
            ),
        );
        return None;
    };
    if secret.key.is_some() {
        f.invalid(
            format!("{path}.key"),
            format!(
                "on Container Instances the key comes from {SECTION}.secrets (fromSecret.key, or \
                 the Key Vault URL): remove secret.key"
            ),
        );
        return None;
    }
    match (&entry.from_secret, &entry.key_vault_url) {
        (Some(from), _) => Some(SecretSource::Kubernetes {
            name: from.name.clone(),
            key: from.key.clone(),
        }),
        (None, Some(_)) => Some(SecretSource::Store {
            name: entry.name.clone(),
            version: None,
        }),
        // The CRD requires exactly one of the two.
        (None, None) => {
            f.invalid(
                format!("{SECTION}.secrets"),
                format!(
                    "secret {:?} sets neither keyVaultUrl nor fromSecret: set exactly one",
                    entry.name
                ),
            );
            None
        }
    }
}

/// Every Container Instances rule that can be known offline; the settings for the builders.
pub(crate) fn check(
    f: &mut Findings,
    object: &ObjectRef,
    parts: &Parts<'_>,
) -> Option<ContainerInstancesModel> {
    let spec = parts.spec;
    let section = spec.container_instances.clone().unwrap_or_default();
    let os_type = section.os_type.unwrap_or_default();
    let priority = section.priority.unwrap_or_default();
    let before = f.error_count();

    // The CEL rules refuse these at admission; `ferry validate` and older CRDs get here.
    if spec.traffic.is_some() {
        f.unsupported(
            "spec.traffic",
            "Container Instances does not support spec.traffic: a container group has no \
             revisions; remove it, or use provider containerApps",
        );
    }
    if let Some(scaling) = parts.scaling
        && (scaling.min_instances != 1 || scaling.max_instances.is_some_and(|m| m != 1))
    {
        f.unsupported(
            "spec.scaling",
            "Container Instances runs exactly one container group: no autoscaling and no scale \
             to zero; set minInstances and maxInstances to 1 or remove them, or use provider \
             containerApps",
        );
    }

    let containers = parts.containers?;
    if os_type == OsType::Windows && containers.len() > MAX_WINDOWS_CONTAINERS {
        f.unsupported(
            "spec.containers",
            format!(
                "a Windows container group has {MAX_WINDOWS_CONTAINERS} container (multi-container \
                 groups are Linux only); got {}",
                containers.len()
            ),
        );
    }
    let mut sizes = Vec::with_capacity(containers.len());
    for (i, c) in containers.iter().enumerate() {
        sizes.push(resources(f, i, c));
        command(f, i, c);
        probes(f, i, c);
    }
    let gpus = gpus(f, containers, os_type, priority, spec.ingress);
    if f.error_count() == before {
        totals(f, &sizes, gpus);
    }
    let address = address(f, object, spec, &section, priority, os_type);
    let key_vault = key_vault(f, &section);
    let secret_files = volumes(f, spec, &section, os_type);
    if f.error_count() != before {
        return None;
    }
    Some(ContainerInstancesModel {
        resource_group: section.resource_group,
        location: section.location,
        os_type,
        priority,
        address,
        identity: section.identity,
        key_vault,
        sizes,
        secret_files,
    })
}

/// The most a Linux emptyDir volume holds ("Mount an emptyDir volume in Azure Container
/// Instances": 50 GB, read here as GiB so that a `50Gi` is not refused for rounding).
const MAX_EMPTY_DIR_BYTES: u64 = 50 << 30;

/// What Container Instances cannot do with the volumes of `spec` (`ContainerGroupProperties.
/// volumes[]`, containerInstance.json 2026-05-01), and the file of each secret volume: every
/// volume is Linux-only; an azureFile share needs its account key (`secretRef`); an emptyDir
/// lives on the host's disk (no memory medium, at most 50 GB, no limit of its own); a secret
/// volume is one entry of `spec.containerInstances.secrets` as one file. The kinds it cannot
/// mount at all, and `subPath`, are the capability table's `no` cells, which core refuses.
fn volumes(
    f: &mut Findings,
    spec: &ServerlessServiceSpec,
    section: &ContainerInstancesSpec,
    os_type: OsType,
) -> Vec<SecretFile> {
    let mut files = Vec::new();
    for (i, v) in spec.volumes.iter().flatten().enumerate() {
        let path = format!("spec.volumes[{i}]");
        if os_type == OsType::Windows
            && let Some(kind) = v.kind()
        {
            f.unsupported(
                format!("{path}.{kind}"),
                format!(
                    "Container Instances mounts volumes in Linux container groups only: remove \
                     the volume, or set {SECTION}.osType to Linux"
                ),
            );
        }
        if let Some(a) = &v.azure_file {
            if a.secret_ref.is_none() {
                f.invalid(
                    format!("{path}.azureFile.secretRef"),
                    format!(
                        "Container Instances mounts an Azure Files share with its storage \
                         account's key: name the key of a Secret in this namespace that holds \
                         the key of {} (secretRef: {{name: SECRET, key: KEY}})",
                        a.storage_account
                    ),
                );
            }
            if a.environment_storage.is_some() {
                f.warn(
                    format!("{path}.azureFile.environmentStorage"),
                    "names a Container Apps environment storage: Container Instances mounts the \
                     share itself (shareName, storageAccount, secretRef), and does not read it",
                );
            }
        }
        if let Some(e) = &v.empty_dir {
            if e.medium == Some(StorageMedium::Memory) {
                f.unsupported(
                    format!("{path}.emptyDir.medium"),
                    "Container Instances keeps an emptyDir volume on the host's disk, never in \
                     memory (its emptyDir has no medium): remove medium, or set it to Disk",
                );
            }
            if let Some(limit) = e
                .size_limit
                .as_ref()
                .and_then(|q| ferry_core::quantity::Amount::parse(q.as_str()).ok())
                .and_then(ferry_core::quantity::Amount::units_ceil)
            {
                if limit > MAX_EMPTY_DIR_BYTES {
                    f.unsupported(
                        format!("{path}.emptyDir.sizeLimit"),
                        format!(
                            "a Linux emptyDir volume of Container Instances holds at most 50 GB; \
                             got {}",
                            format_bytes(limit)
                        ),
                    );
                } else {
                    f.warn(
                        format!("{path}.emptyDir.sizeLimit"),
                        "Container Instances has no size limit per emptyDir volume (it holds up \
                         to 50 GB): sizeLimit is not enforced",
                    );
                }
            }
        }
        if let Some(s) = &v.secret
            && let Some(file) = secret_file(f, &path, &v.name, s, section)
        {
            files.push(file);
        }
    }
    files
}

/// The file of the secret volume `volume` (at `path`): `secret.name` names an entry of
/// `spec.containerInstances.secrets`, `secret.key` the file (default: the entry's name).
fn secret_file(
    f: &mut Findings,
    path: &str,
    volume: &str,
    s: &SecretRef,
    section: &ContainerInstancesSpec,
) -> Option<SecretFile> {
    let entry = section.secrets.iter().flatten().find(|e| e.name == s.name);
    let Some(entry) = entry else {
        f.invalid(
            format!("{path}.secret.name"),
            format!(
                "a secret volume on Container Instances holds an entry of {SECTION}.secrets (a \
                 key of a Secret in the service's namespace, or a Key Vault secret); there is \
                 none named {:?}: add it there",
                s.name
            ),
        );
        return None;
    };
    let file = s.key.clone().unwrap_or_else(|| s.name.clone());
    if !ferry_azure::secrets::is_file_name(&file) {
        f.invalid(
            format!("{path}.secret.key"),
            format!(
                "is the name of the file the secret becomes in the volume: letters, digits, '-', \
                 '_' and '.', not . or ..; got {file:?}"
            ),
        );
        return None;
    }
    let source = match (&entry.from_secret, &entry.key_vault_url) {
        (Some(from), _) => FileSource::Kubernetes {
            secret: from.name.clone(),
            key: from.key.clone(),
        },
        // A secretReference volume: ACI reads the vault with the group's identity (key_vault
        // refuses the entry without one).
        (None, Some(_)) => FileSource::KeyVault {
            reference: entry.name.clone(),
        },
        // The CRD requires exactly one of the two; `secret` reports it for env.
        (None, None) => {
            f.invalid(
                format!("{SECTION}.secrets"),
                format!(
                    "secret {:?} sets neither keyVaultUrl nor fromSecret: set exactly one",
                    entry.name
                ),
            );
            return None;
        }
    };
    Some(SecretFile {
        volume: volume.to_owned(),
        file,
        source,
    })
}

/// A container's CPU (millicores) and memory (tenths of a GB), with ACI's defaults; errors for
/// sizes ACI does not sell.
fn resources(f: &mut Findings, index: usize, c: &ContainerModel) -> (u64, u64) {
    let path = format!("spec.containers[{index}].resources");
    let cpu = c.resources.cpu_millis.unwrap_or(DEFAULT_CPU_MILLIS);
    if cpu == 0 || !cpu.is_multiple_of(CPU_STEP_MILLIS) {
        f.unsupported(
            format!("{path}.cpu"),
            format!(
                "Container Instances sells CPU in steps of {} vCPU; got {}",
                format_cores(CPU_STEP_MILLIS),
                format_cores(cpu)
            ),
        );
    }
    let memory = match c.resources.memory_bytes {
        None => DEFAULT_MEMORY_TENTHS,
        Some(bytes) => memory_tenths(bytes).unwrap_or_else(|| {
            f.unsupported(
                format!("{path}.memory"),
                format!(
                    "Container Instances sells memory in steps of 0.1 GiB (e.g. 1536Mi is 1.5); \
                     got {}",
                    format_bytes(bytes)
                ),
            );
            0
        }),
    };
    (cpu, memory)
}

/// `bytes` in tenths of a GB, when they are a whole number of tenths (within a MiB) above zero.
pub(crate) fn memory_tenths(bytes: u64) -> Option<u64> {
    const MIB: u128 = 1 << 20;
    let scaled = u128::from(bytes) * u128::from(MEMORY_STEPS_PER_GB);
    let step = u128::from(GB);
    let tenths = (scaled + step / 2) / step;
    let off = scaled.abs_diff(tenths * step);
    (tenths > 0 && off <= MIB * u128::from(MEMORY_STEPS_PER_GB))
        .then(|| u64::try_from(tenths).ok())
        .flatten()
}

/// ACI has one command list: Ferry's command followed by its args. The image's entrypoint
/// cannot be kept with other arguments.
fn command(f: &mut Findings, index: usize, c: &ContainerModel) {
    if c.command.is_empty() && !c.args.is_empty() {
        f.unsupported(
            format!("spec.containers[{index}].args"),
            "Container Instances has one command list, which replaces the image's entrypoint \
             and arguments together: it cannot keep the entrypoint and change only the \
             arguments; set command too (the image's entrypoint), and Ferry sends command \
             followed by args",
        );
    }
}

fn probes(f: &mut Findings, index: usize, c: &ContainerModel) {
    let path = format!("spec.containers[{index}].probes");
    for (kind, probe) in [
        ("liveness", c.probes.liveness.as_ref()),
        ("readiness", c.probes.readiness.as_ref()),
    ] {
        let Some(p) = probe else { continue };
        let leaf = match p.action {
            ProbeAction::HttpGet { .. } => continue,
            ProbeAction::TcpSocket { .. } => "tcpSocket",
            ProbeAction::Grpc { .. } => "grpc",
        };
        f.unsupported(
            format!("{path}.{kind}.{leaf}"),
            "Container Instances probes are httpGet only (no tcpSocket or grpc)",
        );
    }
}

/// The group's GPU count, when any container asks for GPUs; errors for what ACI cannot attach.
fn gpus(
    f: &mut Findings,
    containers: &[ContainerModel],
    os_type: OsType,
    priority: AciPriority,
    ingress: Option<Ingress>,
) -> Option<u32> {
    let mut total: Option<u32> = None;
    for (i, c) in containers.iter().enumerate() {
        let Some(gpu) = &c.resources.gpu else {
            continue;
        };
        let path = format!("spec.containers[{i}].resources.gpu");
        total = Some(total.unwrap_or(0).saturating_add(gpu.count));
        match gpu.gpu_type.as_deref() {
            None | Some(GPU_TYPE) => {}
            Some(retired) if RETIRED_GPU_TYPES.contains(&retired) => f.unsupported(
                format!("{path}.type"),
                format!(
                    "Azure retired {retired} GPUs in Container Instances on 2023-08-31: use \
                     {GPU_TYPE}"
                ),
            ),
            Some(other) => f.unsupported(
                format!("{path}.type"),
                format!("Container Instances offers {GPU_TYPE} GPUs only; got {other}"),
            ),
        }
        let why = if os_type == OsType::Windows {
            Some("GPUs are for Linux container groups only")
        } else if priority == AciPriority::Spot {
            Some("Spot container groups have no GPUs: use priority Regular")
        } else if ingress == Some(Ingress::Internal) {
            Some("a container group with GPUs cannot join a virtual network: use ingress public")
        } else {
            None
        };
        if let Some(why) = why {
            f.unsupported(path, format!("Container Instances: {why}"));
        }
    }
    let total = total?;
    if !GPU_SIZES.iter().any(|g| g.count == total) {
        f.unsupported(
            "spec.containers",
            format!(
                "a container group has {} V100 GPUs in all; the containers ask for {total}",
                list(GPU_SIZES.iter().map(|g| g.count))
            ),
        );
    }
    Some(total)
}

/// The group's CPU and memory: what its containers request together.
fn totals(f: &mut Findings, sizes: &[(u64, u64)], gpus: Option<u32>) {
    let cpu: u64 = sizes.iter().map(|s| s.0).fold(0, u64::saturating_add);
    let memory: u64 = sizes.iter().map(|s| s.1).fold(0, u64::saturating_add);
    let (max_cpu, max_memory, with) =
        match gpus.and_then(|n| GPU_SIZES.iter().find(|g| g.count == n)) {
            Some(g) => (
                g.max_cpu_millis,
                g.max_memory_tenths,
                format!(
                    " with {} V100 GPU{}",
                    g.count,
                    if g.count == 1 { "" } else { "s" }
                ),
            ),
            None => (MAX_GROUP_CPU_MILLIS, MAX_GROUP_MEMORY_TENTHS, String::new()),
        };
    if cpu > max_cpu {
        f.unsupported(
            "spec.containers",
            format!(
                "a container group{with} has at most {} vCPU across its containers; they ask for \
                 {} ({} each unless set)",
                format_cores(max_cpu),
                format_cores(cpu),
                format_cores(DEFAULT_CPU_MILLIS)
            ),
        );
    }
    if memory > max_memory {
        f.unsupported(
            "spec.containers",
            format!(
                "a container group{with} has at most {} GiB of memory across its containers; \
                 they ask for {} GiB ({} GiB each unless set)",
                tenths(max_memory),
                tenths(memory),
                tenths(DEFAULT_MEMORY_TENTHS)
            ),
        );
    }
    if cpu < MIN_GROUP_CPU_MILLIS || memory < MIN_GROUP_MEMORY_TENTHS {
        f.warn(
            "spec.containers",
            format!(
                "Container Instances allocates at least {} vCPU and {} GiB to a container group; \
                 its containers ask for {} vCPU and {} GiB together",
                format_cores(MIN_GROUP_CPU_MILLIS),
                tenths(MIN_GROUP_MEMORY_TENTHS),
                format_cores(cpu),
                tenths(memory)
            ),
        );
    }
}

/// How the group is reached: `spec.ingress` with the section's DNS label or subnets.
fn address(
    f: &mut Findings,
    object: &ObjectRef,
    spec: &ServerlessServiceSpec,
    section: &ContainerInstancesSpec,
    priority: AciPriority,
    os_type: OsType,
) -> Address {
    let subnets = section.subnet_ids.clone().unwrap_or_default();
    if priority == AciPriority::Spot {
        if os_type == OsType::Windows {
            f.unsupported(
                format!("{SECTION}.priority"),
                "Container Instances runs Spot container groups on Linux only: use priority \
                 Regular for Windows",
            );
        }
        let spot = "a Spot container group gets no IP address, neither public nor in a virtual \
                    network";
        if let Some(ingress) = spec.ingress {
            f.unsupported(
                "spec.ingress",
                format!(
                    "{spot}: remove spec.ingress ({}) to run the group without an address, or \
                     use priority Regular",
                    ingress_name(ingress)
                ),
            );
        }
        for (field, set) in [
            ("subnetIds", section.subnet_ids.is_some()),
            ("dnsNameLabel", section.dns_name_label.is_some()),
        ] {
            if set {
                f.unsupported(
                    format!("{SECTION}.{field}"),
                    format!("{spot}: remove {field}, or use priority Regular"),
                );
            }
        }
        f.warn(
            format!("{SECTION}.priority"),
            format!(
                "{spot}: the service has no URL, and only work it pulls (a queue, a schedule) \
                 reaches it"
            ),
        );
        return Address::None;
    }
    match spec.ingress.unwrap_or_default() {
        Ingress::Public => {
            if section.subnet_ids.is_some() {
                f.unsupported(
                    format!("{SECTION}.subnetIds"),
                    "a container group in subnets has a private IP address only: set \
                     spec.ingress to internal, or remove subnetIds",
                );
            }
            Address::Public {
                dns_name_label: section
                    .dns_name_label
                    .clone()
                    .unwrap_or_else(|| names::group_name(&object.namespace, &object.name)),
            }
        }
        Ingress::Internal => {
            if subnets.is_empty() {
                f.invalid(
                    format!("{SECTION}.subnetIds"),
                    "required with ingress internal: the subnets (ARM ids of a virtual network's \
                     subnets delegated to Microsoft.ContainerInstance/containerGroups) the group \
                     gets its private IP address in",
                );
            }
            if section.dns_name_label.is_some() {
                f.unsupported(
                    format!("{SECTION}.dnsNameLabel"),
                    "a DNS label names a public IP address: remove dnsNameLabel, or set \
                     spec.ingress to public",
                );
            }
            Address::Private {
                subnet_ids: subnets,
            }
        }
    }
}

fn ingress_name(ingress: Ingress) -> &'static str {
    match ingress {
        Ingress::Public => "public",
        Ingress::Internal => "internal",
    }
}

/// The Key Vault secrets of the section; each needs the group's identity.
fn key_vault(f: &mut Findings, section: &ContainerInstancesSpec) -> Vec<KeyVaultSecret> {
    let mut out = Vec::new();
    for (i, s) in section.secrets.iter().flatten().enumerate() {
        let Some(url) = &s.key_vault_url else {
            continue;
        };
        if section.identity.is_none() {
            f.unsupported(
                format!("{SECTION}.secrets[{i}].keyVaultUrl"),
                format!(
                    "Container Instances reads a Key Vault secret with the group's managed \
                     identity: set {SECTION}.identity (a user-assigned identity allowed to get \
                     the vault's secrets), or copy the value from a Secret with fromSecret"
                ),
            );
        }
        out.push(KeyVaultSecret {
            name: s.name.clone(),
            url: url.clone(),
        });
    }
    out
}
