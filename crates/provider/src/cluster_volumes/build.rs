//! The pure half: pod volumes, container mounts, and the PersistentVolume and
//! PersistentVolumeClaim pairs of the volumes a pod names through a claim. Built with
//! k8s-openapi's types, so every field has the shape of the Kubernetes schema.
//!
//! A claim pair is named after what it holds (a hash of its owner, the volume and the
//! PersistentVolume's source): a PersistentVolume's source cannot change once made, and a
//! PersistentVolumeClaim's spec hardly can, so a changed volume is a new pair and the old one is
//! deleted. The pair is also never applied twice: once created it already is what its name
//! says. (Server-side apply would also undo the binder's work: a PersistentVolume's `claimRef`
//! is an atomic struct, and applying it without the `uid` the binder wrote would unbind it.)

use std::collections::BTreeMap;

use ferry_api::{Provider, StorageMedium};
use ferry_core::desired::{ContainerModel, MountModel, ObjectRef, VolumeModel, VolumeSource};
use ferry_core::names::{fingerprint, with_hash};
use ferry_core::quantity::kube_bytes;
use k8s_openapi::api::core::v1::{
    CSIPersistentVolumeSource, CSIVolumeSource, EmptyDirVolumeSource, KeyToPath, NFSVolumeSource,
    ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, PersistentVolumeSpec, SecretVolumeSource, Volume,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Map, Value};

pub use crate::in_cluster::MANAGED_BY;

/// The label on every PersistentVolume and PersistentVolumeClaim Ferry makes: a hash of the
/// owner ([`Owner::key`]), by which it lists (and deletes) one owner's claims. A PersistentVolume
/// is cluster-scoped and so cannot be owned by a namespaced object: the label, not an owner
/// reference, leads back to it.
pub const CLAIMS_LABEL: &str = "ferry.dev/claims-of";
/// The annotation that names the owner of a claim pair for people (`ServerlessService
/// shop/hello (kubernetes)`).
pub const OWNER_ANNOTATION: &str = "ferry.dev/owner";
/// The Amazon EFS CSI driver.
pub const EFS_DRIVER: &str = "efs.csi.aws.com";
/// GKE's Cloud Storage FUSE CSI driver.
pub const GCS_FUSE_DRIVER: &str = "gcsfuse.csi.storage.gke.io";
/// The Azure Files CSI driver.
pub const AZURE_FILE_DRIVER: &str = "file.csi.azure.com";
/// The pod annotation that makes GKE inject the Cloud Storage FUSE sidecar, without which a
/// `gcsfuse.csi.storage.gke.io` volume does not mount (GKE's "Mount Cloud Storage buckets as CSI
/// ephemeral volumes").
pub const GCS_FUSE_ANNOTATION: (&str, &str) = ("gke-gcsfuse/volumes", "true");
/// The capacity written on a claim pair. Kubernetes requires one on a PersistentVolume, and a
/// claim must ask for no more; EFS is elastic and NFS exports have their own size, so neither
/// driver reads it (5Gi as the EFS CSI driver's examples write it).
pub const NOMINAL_CAPACITY: &str = "5Gi";

const NAME_LABEL: &str = "app.kubernetes.io/name";
/// Longest claim name: one DNS label, readable in `kubectl get pv`.
const MAX_NAME: usize = 63;

/// How a backend's pods mount an NFS export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nfs {
    /// An `nfs` volume in the pod (a plain pod spec).
    Inline,
    /// Through a PersistentVolume and its claim (a Knative Service admits no `nfs` volume).
    Claim,
}

/// Whose claims these are: one side of one Ferry object (a move between providers has two, each
/// with its own claims).
#[derive(Clone, Copy, Debug)]
pub struct Owner<'a> {
    /// The provider of that side.
    pub provider: Provider,
    /// `ServerlessService` or `ServerlessJob`.
    pub kind: &'a str,
    /// The object.
    pub object: &'a ObjectRef,
}

impl Owner<'_> {
    /// The value of [`CLAIMS_LABEL`] on its claims: a hash of provider, kind, namespace and name.
    pub fn key(&self) -> String {
        fingerprint(&format!(
            "{}/{}/{}/{}",
            self.provider.as_str(),
            self.kind,
            self.object.namespace,
            self.object.name
        ))
    }

    /// The label selector of its claims.
    pub fn selector(&self) -> String {
        format!(
            "{}={},{CLAIMS_LABEL}={}",
            MANAGED_BY.0,
            MANAGED_BY.1,
            self.key()
        )
    }

    fn describe(&self) -> String {
        format!(
            "{} {}/{} ({})",
            self.kind,
            self.object.namespace,
            self.object.name,
            self.provider.as_str()
        )
    }
}

/// The PersistentVolume and PersistentVolumeClaim of one volume, both named [`Claim::name`].
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    /// The volume of `spec.volumes` it is for.
    pub volume: String,
    /// The name of both objects.
    pub name: String,
    /// The cluster-scoped PersistentVolume, pre-bound to the claim.
    pub persistent_volume: PersistentVolume,
    /// The claim, in the owner's namespace, pre-bound to the PersistentVolume.
    pub claim: PersistentVolumeClaim,
}

/// Whether a pod mounts `source` through a claim.
pub fn needs_claim(source: &VolumeSource, nfs: Nfs) -> bool {
    match source {
        VolumeSource::Efs(_) => true,
        VolumeSource::Nfs(_) => nfs == Nfs::Claim,
        VolumeSource::Secret(_)
        | VolumeSource::EmptyDir { .. }
        | VolumeSource::Gcs(_)
        | VolumeSource::AzureFile(_) => false,
    }
}

/// The claim pairs of `volumes` that need one, in spec order.
pub fn claims(owner: &Owner<'_>, volumes: &[VolumeModel], nfs: Nfs) -> Vec<Claim> {
    volumes
        .iter()
        .filter(|v| needs_claim(&v.source, nfs))
        .filter_map(|v| claim(owner, v))
        .collect()
}

/// The PersistentVolume's source for `source` (EFS through its CSI driver, NFS as itself).
fn persistent_volume_spec(source: &VolumeSource) -> Option<PersistentVolumeSpec> {
    let mut spec = PersistentVolumeSpec {
        access_modes: Some(vec!["ReadWriteMany".into()]),
        capacity: Some(BTreeMap::from([(
            "storage".to_owned(),
            Quantity(NOMINAL_CAPACITY.into()),
        )])),
        // Ferry deletes the PersistentVolume, never the data: `Delete` would ask the driver to
        // delete the file system (or the access point) behind it.
        persistent_volume_reclaim_policy: Some("Retain".into()),
        // Empty: no StorageClass, so no provisioner takes the claim and it binds only to this
        // PersistentVolume.
        storage_class_name: Some(String::new()),
        volume_mode: Some("Filesystem".into()),
        ..PersistentVolumeSpec::default()
    };
    match source {
        VolumeSource::Efs(efs) => {
            // The driver's volume handle: `[FileSystemId]:[Subpath]:[AccessPointId]`, trailing
            // parts left out ("Static provisioning", aws-efs-csi-driver's README and its
            // access_points and volume_path examples).
            let handle = match (&efs.root_directory, &efs.access_point_id) {
                (None, None) => efs.file_system_id.clone(),
                (Some(dir), None) => format!("{}:{dir}", efs.file_system_id),
                (None, Some(ap)) => format!("{}::{ap}", efs.file_system_id),
                (Some(dir), Some(ap)) => format!("{}:{dir}:{ap}", efs.file_system_id),
            };
            // `encryptInTransit` defaults to "true" in the driver; Ferry's transitEncryption
            // defaults to false on every provider, so it is always written.
            let tls = efs.transit_encryption == Some(true);
            spec.csi = Some(CSIPersistentVolumeSource {
                driver: EFS_DRIVER.into(),
                volume_handle: handle,
                volume_attributes: Some(BTreeMap::from([(
                    "encryptInTransit".to_owned(),
                    tls.to_string(),
                )])),
                ..CSIPersistentVolumeSource::default()
            });
            // `iam`: efs-utils authorizes the mount with the node's IAM identity (the driver's
            // "mountOptions" in docs/parameters.md).
            if efs.iam == Some(true) {
                spec.mount_options = Some(vec!["iam".into()]);
            }
        }
        VolumeSource::Nfs(nfs) => {
            spec.nfs = Some(NFSVolumeSource {
                server: nfs.server.clone(),
                path: nfs.path.clone(),
                read_only: nfs.read_only.filter(|r| *r),
            });
        }
        VolumeSource::Secret(_)
        | VolumeSource::EmptyDir { .. }
        | VolumeSource::Gcs(_)
        | VolumeSource::AzureFile(_) => return None,
    }
    Some(spec)
}

fn claim(owner: &Owner<'_>, volume: &VolumeModel) -> Option<Claim> {
    let mut spec = persistent_volume_spec(&volume.source)?;
    let object = owner.object;
    // The name holds the owner, the volume and what the PersistentVolume mounts (without the
    // claim reference, which holds the name).
    let content = serde_json::to_string(&spec).unwrap_or_default();
    let name = with_hash(
        &format!("{}-{}-{}", object.namespace, object.name, volume.name),
        MAX_NAME,
        &owner.key(),
        &format!("{}/{}", volume.name, fingerprint(&content)),
    );
    // Pre-bound both ways: the claim names the volume, and the volume is reserved for the claim
    // (Kubernetes' "Reserving a PersistentVolume"), so no other claim can take it first.
    spec.claim_ref = Some(ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("PersistentVolumeClaim".into()),
        namespace: Some(object.namespace.clone()),
        name: Some(name.clone()),
        ..ObjectReference::default()
    });
    let capacity = spec.capacity.clone();
    let persistent_volume = PersistentVolume {
        metadata: metadata(owner, &name, None),
        spec: Some(spec),
        status: None,
    };
    let claim = PersistentVolumeClaim {
        metadata: metadata(owner, &name, Some(&object.namespace)),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteMany".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: capacity,
                limits: None,
            }),
            storage_class_name: Some(String::new()),
            volume_mode: Some("Filesystem".into()),
            volume_name: Some(name.clone()),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    };
    Some(Claim {
        volume: volume.name.clone(),
        name,
        persistent_volume,
        claim,
    })
}

fn metadata(owner: &Owner<'_>, name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(BTreeMap::from([
            (MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned()),
            (NAME_LABEL.to_owned(), owner.object.name.clone()),
            (CLAIMS_LABEL.to_owned(), owner.key()),
        ])),
        annotations: Some(BTreeMap::from([(
            OWNER_ANNOTATION.to_owned(),
            owner.describe(),
        )])),
        ..ObjectMeta::default()
    }
}

impl Claim {
    /// The PersistentVolume as JSON, complete for a create (`apiVersion` and `kind` included).
    pub fn persistent_volume_value(&self) -> Value {
        with_type(&self.persistent_volume, "PersistentVolume")
    }

    /// The claim as JSON, complete for a create.
    pub fn claim_value(&self) -> Value {
        with_type(&self.claim, "PersistentVolumeClaim")
    }
}

fn with_type(object: &impl serde::Serialize, kind: &str) -> Value {
    let mut out = Map::new();
    out.insert("apiVersion".into(), "v1".into());
    out.insert("kind".into(), kind.into());
    if let Ok(Value::Object(fields)) = serde_json::to_value(object) {
        out.extend(fields);
    }
    Value::Object(out)
}

/// Whether `volume` is mounted read-only by every container that mounts it (and by at least one):
/// its claim can then be read-only too, which is what Knative asks of a claim unless the cluster
/// allows writes.
fn mounted_read_only(volume: &str, containers: &[ContainerModel]) -> bool {
    let mut mounts = containers
        .iter()
        .flat_map(|c| &c.mounts)
        .filter(|m| m.volume == volume)
        .peekable();
    mounts.peek().is_some() && mounts.all(|m| m.read_only)
}

/// Whether the claim of `volume` is mounted read-only: the volume is, or every mount of it is.
pub fn claim_read_only(volume: &VolumeModel, containers: &[ContainerModel]) -> bool {
    volume.source.read_only() || mounted_read_only(&volume.name, containers)
}

/// The pod volumes for `volumes`, in spec order; a volume mounted through a claim names the claim
/// of `claims` made for it.
pub fn pod_volumes(
    volumes: &[VolumeModel],
    containers: &[ContainerModel],
    claims: &[Claim],
    nfs: Nfs,
) -> Vec<Value> {
    volumes
        .iter()
        .map(|v| {
            let claim = claims.iter().find(|c| c.volume == v.name);
            let volume = pod_volume(v, containers, claim, nfs);
            serde_json::to_value(volume).unwrap_or_default()
        })
        .collect()
}

fn pod_volume(
    v: &VolumeModel,
    containers: &[ContainerModel],
    claim: Option<&Claim>,
    nfs: Nfs,
) -> Volume {
    let mut out = Volume {
        name: v.name.clone(),
        ..Volume::default()
    };
    let read_only = v.source.read_only().then_some(true);
    if let Some(claim) = claim.filter(|_| needs_claim(&v.source, nfs)) {
        out.persistent_volume_claim = Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim.name.clone(),
            read_only: claim_read_only(v, containers).then_some(true),
        });
        return out;
    }
    match &v.source {
        VolumeSource::Secret(secret) => {
            out.secret = Some(SecretVolumeSource {
                secret_name: Some(secret.name.clone()),
                // With a key, only that key, as a file of its name; else every key a file.
                items: secret.key.as_ref().map(|key| {
                    vec![KeyToPath {
                        key: key.clone(),
                        path: key.clone(),
                        mode: None,
                    }]
                }),
                ..SecretVolumeSource::default()
            });
        }
        VolumeSource::EmptyDir {
            medium,
            size_limit_bytes,
        } => {
            out.empty_dir = Some(EmptyDirVolumeSource {
                medium: (*medium == Some(StorageMedium::Memory)).then(|| "Memory".to_owned()),
                size_limit: size_limit_bytes.map(|b| Quantity(kube_bytes(b))),
            });
        }
        VolumeSource::Nfs(n) => {
            out.nfs = Some(NFSVolumeSource {
                server: n.server.clone(),
                path: n.path.clone(),
                read_only,
            });
        }
        VolumeSource::Gcs(g) => {
            // GKE's CSI ephemeral volume: the bucket in `volumeAttributes.bucketName`
            // ("Mount Cloud Storage buckets as CSI ephemeral volumes").
            out.csi = Some(CSIVolumeSource {
                driver: GCS_FUSE_DRIVER.into(),
                read_only,
                volume_attributes: Some(BTreeMap::from([(
                    "bucketName".to_owned(),
                    g.bucket.clone(),
                )])),
                ..CSIVolumeSource::default()
            });
        }
        VolumeSource::AzureFile(a) => {
            // The driver's inline volume: `shareName` and `secretName`, the Secret holding
            // `azurestorageaccountname` and `azurestorageaccountkey` (AKS's "Mount file share
            // as an inline volume").
            let mut attributes = BTreeMap::from([("shareName".to_owned(), a.share_name.clone())]);
            if let Some(secret) = &a.secret_ref {
                attributes.insert("secretName".to_owned(), secret.name.clone());
            }
            out.csi = Some(CSIVolumeSource {
                driver: AZURE_FILE_DRIVER.into(),
                read_only,
                volume_attributes: Some(attributes),
                ..CSIVolumeSource::default()
            });
        }
        // Without its claim (a builder called without it): an empty source, which the API
        // server refuses naming the volume, rather than a pod that starts without it.
        VolumeSource::Efs(_) => {}
    }
    out
}

/// `container` (a container of a pod spec, as JSON) with `mounts` as its `volumeMounts`.
pub fn add_mounts(container: &mut Value, mounts: &[MountModel]) {
    if mounts.is_empty() {
        return;
    }
    let mounts: Vec<Value> = mounts
        .iter()
        .map(|m| {
            serde_json::to_value(VolumeMount {
                name: m.volume.clone(),
                mount_path: m.mount_path.clone(),
                read_only: m.read_only.then_some(true),
                sub_path: m.sub_path.clone(),
                ..VolumeMount::default()
            })
            .unwrap_or_default()
        })
        .collect();
    if let Some(fields) = container.as_object_mut() {
        fields.insert("volumeMounts".into(), mounts.into());
    }
}

/// Whether a pod with `volumes` needs [`GCS_FUSE_ANNOTATION`].
pub fn needs_gcs_fuse(volumes: &[VolumeModel]) -> bool {
    volumes
        .iter()
        .any(|v| matches!(v.source, VolumeSource::Gcs(_)))
}
