//! Volumes: files and persistence a container mounts (`spec.volumes[]` and
//! `containers[].volumeMounts[]`). One portable way to say "mount this there"; each provider
//! takes the kinds it can mount and refuses the others by name (`ferry capabilities`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rules::{atomic_list, volume_mount_rules, volume_mounts_rules, volume_rules};
use super::{SecretKeyInNamespace, SecretRef};
use crate::Quantity;
use crate::schema::DNS_LABEL;

/// The most volumes one spec declares.
pub const MAX_VOLUMES: usize = 10;

/// The most mounts one container has.
pub const MAX_VOLUME_MOUNTS: usize = 10;

/// A volume the containers can mount: a name and exactly one source.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = volume_rules)]
pub struct Volume {
    /// Name of the volume, unique within the spec (a DNS label); `volumeMounts[].name` refers
    /// to it.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL))]
    pub name: String,

    /// A secret's values as files, by the provider's native reference (as `env[].secret`):
    /// a Kubernetes Secret (every key a file, or only `key`), a Secret Manager secret on Cloud
    /// Run (a file named after the secret; `key` is the version, default `latest`), a secret of
    /// `spec.containerApps.secrets` / `spec.containerInstances.secrets` on Azure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretRef>,

    /// An empty directory that lives as long as the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDirVolume>,

    /// An NFS export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfs: Option<NfsVolume>,

    /// An Amazon EFS file system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub efs: Option<EfsVolume>,

    /// A Google Cloud Storage bucket, through Cloud Storage FUSE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<GcsVolume>,

    /// An Azure Files share (SMB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_file: Option<AzureFileVolume>,
}

/// Where an empty directory is kept.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
pub enum StorageMedium {
    /// The instance's local disk (its ephemeral storage).
    #[default]
    Disk,
    /// Memory (tmpfs): fast, and counted against the container's memory.
    Memory,
}

/// An empty directory.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EmptyDirVolume {
    /// `Disk` or `Memory`. Default: `Disk` where the platform has a disk, else memory (Cloud Run,
    /// whose instances have no disk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<StorageMedium>,

    /// The most the directory may hold, e.g. `512Mi`. Default: the provider's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_limit: Option<Quantity>,
}

/// An NFS export.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NfsVolume {
    /// The server: a host name or an IP address.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[^\s/:]+$"))]
    pub server: String,

    /// The exported path, e.g. `/exports/shared`.
    #[schemars(length(min = 1, max = 1024), regex(pattern = "^/"))]
    pub path: String,

    /// Mount the export read-only for every container. Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// An Amazon EFS file system.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EfsVolume {
    /// The file system, e.g. `fs-0123456789abcdef0`.
    #[schemars(regex(pattern = "^fs-[0-9a-f]{8,40}$"))]
    pub file_system_id: String,

    /// An access point of the file system, e.g. `fsap-0123456789abcdef0`: the directory and
    /// the POSIX user the mount gets. Needs `transitEncryption`.
    #[schemars(regex(pattern = "^fsap-[0-9a-f]{8,40}$"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_point_id: Option<String>,

    /// The directory of the file system to mount. Default: `/`. Not with `accessPointId`
    /// (the access point sets it).
    #[schemars(length(min = 1, max = 255), regex(pattern = "^/"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_directory: Option<String>,

    /// Encrypt the traffic to EFS (TLS). Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transit_encryption: Option<bool>,

    /// Authorize the mount with the task's IAM role (EFS IAM authorization). Needs
    /// `transitEncryption`. Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam: Option<bool>,
}

/// A Cloud Storage bucket mounted through Cloud Storage FUSE.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GcsVolume {
    /// The bucket's name.
    #[schemars(
        length(min = 3, max = 222),
        regex(pattern = r"^[a-z0-9][-_.a-z0-9]*[a-z0-9]$")
    )]
    pub bucket: String,

    /// Mount the bucket read-only for every container. Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// An Azure Files share.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AzureFileVolume {
    /// The file share's name.
    #[schemars(
        length(min = 3, max = 63),
        regex(pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub share_name: String,

    /// The storage account that holds the share.
    #[schemars(length(min = 3, max = 24), regex(pattern = "^[a-z0-9]+$"))]
    pub storage_account: String,

    /// The Kubernetes Secret key (in the object's namespace) that holds the storage account's
    /// key. Container Instances and the kubernetes provider need it; Container Apps reads the
    /// share through `environmentStorage` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyInNamespace>,

    /// Container Apps: the storage of the managed environment that holds this share (an
    /// environment's `storages`, created by whoever owns the environment). Default: the share's
    /// name.
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_storage: Option<String>,

    /// Mount the share read-only for every container. Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// Where a container mounts a volume.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = volume_mount_rules)]
pub struct VolumeMount {
    /// The volume, by its name in `spec.volumes`.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL))]
    pub name: String,

    /// Where it appears in the container: an absolute path, e.g. `/etc/app`.
    #[schemars(length(min = 2, max = 1024), regex(pattern = "^/[^:]*$"))]
    pub mount_path: String,

    /// Mount read-only. Default: false (secrets are always read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,

    /// A path within the volume to mount instead of its root, e.g. `logs` (relative, no `..`).
    #[schemars(length(min = 1, max = 1024), regex(pattern = r"^[^/]"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
}

/// The schema of `containers[].volumeMounts`: at most [`MAX_VOLUME_MOUNTS`], no two on one path.
pub(crate) fn volume_mounts_schema(schema: &mut schemars::Schema) {
    atomic_list(schema);
    volume_mounts_rules(schema);
}

impl Volume {
    /// The kind of source it names (`secret`, `emptyDir` ...), when exactly one is set.
    pub fn kind(&self) -> Option<&'static str> {
        let set: Vec<&'static str> = [
            ("secret", self.secret.is_some()),
            ("emptyDir", self.empty_dir.is_some()),
            ("nfs", self.nfs.is_some()),
            ("efs", self.efs.is_some()),
            ("gcs", self.gcs.is_some()),
            ("azureFile", self.azure_file.is_some()),
        ]
        .into_iter()
        .filter_map(|(kind, set)| set.then_some(kind))
        .collect();
        match set.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }
}

/// The volume kinds, as written in `spec.volumes[]`.
pub const VOLUME_KINDS: [&str; 6] = ["secret", "emptyDir", "nfs", "efs", "gcs", "azureFile"];
