//! What ECS on Fargate cannot do with the volumes the capability table lets through (`emptyDir`,
//! `efs` and `subPath`), refused naming the field. The kinds it never mounts (secret, nfs, gcs,
//! azureFile) are refused by core from the table; EFS's own rules (access point and IAM need
//! transit encryption, an access point sets the directory) by core's portable validation.

use ferry_api::{OperatingSystemFamily, ServerlessServiceSpec, StorageMedium, Volume};
use ferry_core::Findings;
use ferry_core::desired::ContainerModel;
use ferry_core::quantity::{Amount, format_bytes};

use crate::limits::{INCLUDED_EPHEMERAL_GIB, LEGACY_VOLUME_GIB, MAX_EPHEMERAL_GIB};

const GIB: u64 = 1 << 30;

/// The Fargate platform version from which Linux tasks mount EFS and get ephemeral storage for
/// bind mounts (ECS developer guide, "Fargate task ephemeral storage" and "Use Amazon EFS
/// volumes with Amazon ECS").
const EFS_PLATFORM: (u32, u32, u32) = (1, 4, 0);

/// What the volume rules need to know about the task.
pub(crate) struct Task<'a> {
    /// The spec.
    pub spec: &'a ServerlessServiceSpec,
    /// The containers, parsed (their mounts), when every one parsed.
    pub containers: Option<&'a [ContainerModel]>,
    /// Its operating system.
    pub os: OperatingSystemFamily,
    /// `spec.fargate.platformVersion`, when set (default `LATEST`).
    pub platform_version: Option<&'a str>,
    /// The task's ephemeral storage in GiB, when the containers' sizes are known.
    pub ephemeral_gib: Option<u32>,
}

/// `x.y.z` as numbers; `None` for `LATEST` (or anything else, which the CRD refuses).
fn version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split('.').map(|p| p.parse::<u32>().ok());
    let v = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(v)
}

/// Whether the platform version is one before 1.4.0 (`LATEST` is not).
fn before_efs(platform_version: Option<&str>) -> bool {
    platform_version
        .and_then(version)
        .is_some_and(|v| v < EFS_PLATFORM)
}

/// Refuses what ECS on Fargate cannot do with the spec's volumes and mounts.
pub(crate) fn check(f: &mut Findings, task: &Task<'_>) {
    let volumes = task.spec.volumes.as_deref().unwrap_or_default();
    let legacy = before_efs(task.platform_version);
    for (i, v) in volumes.iter().enumerate() {
        let path = format!("spec.volumes[{i}]");
        if task.os.is_windows() && (v.efs.is_some() || v.empty_dir.is_some()) {
            windows(f, &path, v, task.os);
            continue;
        }
        if v.efs.is_some() && legacy {
            f.unsupported(
                "spec.fargate.platformVersion",
                format!(
                    "{path} is an efs volume, which Fargate mounts from platform version 1.4.0: \
                     use LATEST or 1.4.0; got {}",
                    task.platform_version.unwrap_or_default()
                ),
            );
        }
        if let Some(e) = &v.empty_dir
            && e.medium == Some(StorageMedium::Memory)
        {
            f.unsupported(
                format!("{path}.emptyDir.medium"),
                "Fargate has no in-memory volumes (ECS does not support linuxParameters.tmpfs \
                 on Fargate): remove medium or set it to Disk (a bind mount on the task's \
                 ephemeral storage), or use provider kubernetes or cloudRun",
            );
        }
    }
    if !task.os.is_windows() {
        size_limits(f, volumes, task, legacy);
    }
    // On Windows the volumes themselves are refused above.
    let containers = task.containers.filter(|_| !task.os.is_windows());
    for (i, c) in containers.into_iter().flatten().enumerate() {
        for (k, m) in c.mounts.iter().enumerate() {
            let Some(sub) = &m.sub_path else { continue };
            let field = format!("spec.containers[{i}].volumeMounts[{k}].subPath");
            let Some(v) = volumes.iter().find(|v| v.name == m.volume) else {
                continue;
            };
            sub_path(f, &field, v, sub);
        }
    }
}

/// ECS mounts EFS in Linux tasks only, and a Windows container's mount path is a Windows path.
fn windows(f: &mut Findings, path: &str, v: &Volume, os: OperatingSystemFamily) {
    let os = crate::build::enum_text(&os);
    if v.efs.is_some() {
        f.unsupported(
            format!("{path}.efs"),
            format!(
                "ECS mounts EFS in Linux tasks only (Amazon ECS developer guide, \"Storage \
                 options for Amazon ECS tasks\"); spec.fargate.operatingSystemFamily is {os}: \
                 use LINUX"
            ),
        );
    } else {
        f.unsupported(
            format!("{path}.emptyDir"),
            format!(
                "Ferry mounts volumes in Linux tasks only: a Windows container mounts at a \
                 drive-letter path (C:\\...), which volumeMounts[].mountPath cannot express; \
                 spec.fargate.operatingSystemFamily is {os}: use LINUX"
            ),
        );
    }
}

/// ECS cannot cap a bind mount: every emptyDir is a directory on the task's ephemeral storage
/// (which also holds the container images), so their sizeLimits must fit in it together.
fn size_limits(f: &mut Findings, volumes: &[Volume], task: &Task<'_>, legacy: bool) {
    let limits: Vec<(usize, u64)> = volumes
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let q = v.empty_dir.as_ref()?.size_limit.as_ref()?;
            // Core's portable validation reports a quantity that does not parse.
            let bytes = Amount::parse(q.as_str()).ok()?.units_ceil()?;
            Some((i, bytes))
        })
        .collect();
    if limits.is_empty() {
        return;
    }
    let Some(total) = limits
        .iter()
        .try_fold(0u64, |sum, (_, b)| sum.checked_add(*b))
    else {
        return;
    };
    let field = match limits.as_slice() {
        [(i, _)] => format!("spec.volumes[{i}].emptyDir.sizeLimit"),
        _ => "spec.volumes".to_owned(),
    };
    // (what must fit, what it is, what to lower)
    let (subject, is, them) = if limits.len() > 1 {
        ("the emptyDir sizeLimits", "add up to", "them")
    } else {
        ("sizeLimit", "is", "it")
    };
    let got = format_bytes(total);
    if legacy {
        // Platform versions before 1.4.0 give volume mounts a fixed 4 GiB beside the image
        // layers' storage, and take no ephemeralStorage.
        let room = u64::from(LEGACY_VOLUME_GIB) * GIB;
        if total > room {
            f.unsupported(
                field,
                format!(
                    "Fargate platform version {} gives bind mounts {LEGACY_VOLUME_GIB} GiB, and \
                     {subject} {is} {got}: lower {them}, or use platform version LATEST (1.4.0 \
                     and later: {INCLUDED_EPHEMERAL_GIB}-{MAX_EPHEMERAL_GIB} GiB of ephemeral \
                     storage)",
                    task.platform_version.unwrap_or_default()
                ),
            );
        }
        return;
    }
    let Some(gib) = task.ephemeral_gib else {
        return;
    };
    if total > u64::from(gib) * GIB {
        let raise = if total <= u64::from(MAX_EPHEMERAL_GIB) * GIB {
            format!(
                "lower {them}, or raise the containers' resources.ephemeralStorage to add up to \
                 at least {} (at most {MAX_EPHEMERAL_GIB} GiB)",
                format_bytes(total.div_ceil(GIB) * GIB)
            )
        } else {
            format!("lower {them}: a task has at most {MAX_EPHEMERAL_GIB} GiB")
        };
        f.unsupported(
            field,
            format!(
                "an emptyDir on Fargate is a bind mount on the task's ephemeral storage, which \
                 ECS does not cap per volume: {subject} must fit in the task's {gib} GiB \
                 ({INCLUDED_EPHEMERAL_GIB} GiB included; the containers' \
                 resources.ephemeralStorage adds more), and {is} {got}: {raise}"
            ),
        );
    }
}

/// ECS mount points have no sub path: only an efs volume without an access point can mount a
/// directory of itself (as its EFS root directory).
fn sub_path(f: &mut Findings, field: &str, v: &Volume, sub: &str) {
    if v.empty_dir.is_some() {
        f.unsupported(
            field,
            format!(
                "ECS mount points have no sub path, and an emptyDir (a bind mount) has no root \
                 directory to set: remove subPath {sub:?} and mount the volume's root, or mount \
                 a separate emptyDir volume"
            ),
        );
    } else if let Some(efs) = &v.efs
        && efs.access_point_id.is_some()
    {
        f.unsupported(
            field,
            format!(
                "ECS mount points have no sub path; Ferry mounts an efs subPath as the EFS root \
                 directory, which an access point fixes (ECS takes rootDirectory / with an \
                 accessPointId): remove subPath {sub:?}, or use an access point whose root is \
                 that directory"
            ),
        );
    }
}
