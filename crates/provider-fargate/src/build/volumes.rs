//! The task definition's `volumes` and each container definition's `mountPoints`, from
//! `spec.volumes` and `containers[].volumeMounts` (validation has refused what ECS on Fargate
//! cannot mount: see `crate::validate::volumes`).
//!
//! Shapes as botocore's ECS model (`ecs/2014-11-13/service-2.json`) writes them: `Volume`
//! {name, efsVolumeConfiguration}, `EFSVolumeConfiguration` {fileSystemId, rootDirectory,
//! transitEncryption, authorizationConfig}, `EFSAuthorizationConfig` {accessPointId, iam},
//! `MountPoint` {sourceVolume, containerPath, readOnly}; the two enums take `ENABLED` or
//! `DISABLED`.
//!
//! - `emptyDir` is a volume with a name only: on Fargate a bind mount on the task's ephemeral
//!   storage, which lives as long as the task (ECS developer guide, "Use bind mounts with
//!   Amazon ECS"; `host.sourcePath` is not supported on Fargate, and an empty configuration
//!   is a host volume).
//! - `efs` is an `efsVolumeConfiguration`.
//! - A mount point has no sub path. A `subPath` of an efs volume (without an access point;
//!   validation refuses the rest) becomes a volume of its own whose EFS root directory is the
//!   sub path under the volume's: the first ECS volume made from a spec volume takes its name,
//!   the next ones `NAME_2`, `NAME_3`... (an underscore, which a spec volume's name, a DNS
//!   label, cannot hold; ECS volume names take letters, digits, `-` and `_`).

use ferry_core::desired::{ContainerModel, MountModel, VolumeModel, VolumeSource};
use serde::Serialize;

/// `ENABLED`, as ECS's EFS enums write it.
const ENABLED: &str = "ENABLED";
/// `DISABLED`.
const DISABLED: &str = "DISABLED";

/// One `volumes` entry of a task definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// What `mountPoints[].sourceVolume` names.
    pub name: String,
    /// An EFS file system; none for an emptyDir (a bind mount on ephemeral storage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub efs_volume_configuration: Option<EfsVolumeConfiguration>,
}

/// `efsVolumeConfiguration`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EfsVolumeConfiguration {
    /// `fs-...`.
    pub file_system_id: String,
    /// The directory of the file system mounted; left out for its root, and always with an
    /// access point (ECS: it must then be omitted or `/`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_directory: Option<String>,
    /// `ENABLED` or `DISABLED` (ECS's default).
    pub transit_encryption: String,
    /// The access point and IAM authorization, when either is asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_config: Option<EfsAuthorizationConfig>,
}

/// `authorizationConfig`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EfsAuthorizationConfig {
    /// `fsap-...`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_point_id: Option<String>,
    /// `ENABLED` (mount as the task role) or `DISABLED`.
    pub iam: String,
}

/// One `mountPoints` entry of a container definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MountPoint {
    /// The task volume's name.
    pub source_volume: String,
    /// Where it appears in the container.
    pub container_path: String,
    /// Read-only.
    pub read_only: bool,
}

fn enabled(on: bool) -> String {
    if on { ENABLED } else { DISABLED }.to_owned()
}

/// `sub` as a path relative to the volume's root, without empty or `.` segments; `None` when
/// that leaves nothing (the root itself). Validation refused `..` and absolute paths.
fn sub_dir(sub: Option<&str>) -> Option<String> {
    let parts: Vec<&str> = sub?
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The ECS volume for `volume` with its root at `sub` (a normalised sub path).
fn task_volume(name: String, volume: &VolumeModel, sub: Option<&str>) -> Volume {
    let efs_volume_configuration = match &volume.source {
        VolumeSource::Efs(efs) => {
            let root_directory = match (efs.root_directory.as_deref(), sub) {
                (root, Some(sub)) => Some(format!(
                    "{}/{sub}",
                    root.unwrap_or("/").trim_end_matches('/')
                )),
                // `/` is the default; leaving it out keeps the request minimal.
                (Some("/") | None, None) => None,
                (Some(root), None) => Some(root.to_owned()),
            };
            let iam = efs.iam == Some(true);
            Some(EfsVolumeConfiguration {
                file_system_id: efs.file_system_id.clone(),
                root_directory,
                transit_encryption: enabled(efs.transit_encryption == Some(true)),
                authorization_config: (efs.access_point_id.is_some() || iam).then(|| {
                    EfsAuthorizationConfig {
                        access_point_id: efs.access_point_id.clone(),
                        iam: enabled(iam),
                    }
                }),
            })
        }
        // An emptyDir, and (refused by validation, never built) every other kind.
        _ => None,
    };
    Volume {
        name,
        efs_volume_configuration,
    }
}

/// The task's volumes and, per container (in `containers`' order), its mount points.
pub(crate) fn volumes_and_mounts(
    volumes: &[VolumeModel],
    containers: &[ContainerModel],
) -> (Vec<Volume>, Vec<Vec<MountPoint>>) {
    let all_mounts: Vec<&MountModel> = containers.iter().flat_map(|c| &c.mounts).collect();
    // (spec volume, normalised sub path) -> ECS volume name.
    let mut names: Vec<(&str, Option<String>, String)> = Vec::new();
    let mut out = Vec::new();
    for volume in volumes {
        // The roots it is mounted at, in order of first use; an unmounted volume is still
        // declared (validation warned), at its root.
        let mut roots: Vec<Option<String>> = Vec::new();
        for m in all_mounts.iter().filter(|m| m.volume == volume.name) {
            let sub = sub_dir(m.sub_path.as_deref());
            if !roots.contains(&sub) {
                roots.push(sub);
            }
        }
        if roots.is_empty() {
            roots.push(None);
        }
        for (n, sub) in roots.into_iter().enumerate() {
            let name = if n == 0 {
                volume.name.clone()
            } else {
                format!("{}_{}", volume.name, n + 1)
            };
            out.push(task_volume(name.clone(), volume, sub.as_deref()));
            names.push((volume.name.as_str(), sub, name));
        }
    }
    let mount_point = |m: &MountModel| {
        let sub = sub_dir(m.sub_path.as_deref());
        let source_volume = names
            .iter()
            .find(|(volume, s, _)| *volume == m.volume && *s == sub)
            .map_or_else(|| m.volume.clone(), |(_, _, name)| name.clone());
        MountPoint {
            source_volume,
            container_path: m.mount_path.clone(),
            read_only: m.read_only,
        }
    };
    let mounts = containers
        .iter()
        .map(|c| c.mounts.iter().map(mount_point).collect())
        .collect();
    (out, mounts)
}
