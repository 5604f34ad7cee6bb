//! The pure half of the Cloud Run backend: the Admin API v2 `Service` Ferry creates or updates
//! for a desired model, the IAM binding that makes a public service callable without
//! credentials, whether what Cloud Run holds already matches, and what Cloud Run's description
//! means in Ferry's terms. No I/O: `client.rs` sends what this module builds.
//!
//! The Service is built from the official client's own model types
//! (`google_cloud_run_v2::model`), so the client sends exactly what was built. They serialise
//! to the REST JSON (enums as numbers); [`Requests::rendered`] prints the same request with
//! enums by name, and `tests/proto_validate.py` checks both against Google's protos.
//!
//! Change detection: Cloud Run echoes a Service back with its defaults filled in and some
//! values rewritten (CPU `"1"` comes back as `"1000m"`, a default startup probe appears), so
//! Ferry stamps each Service with a fingerprint of what it built ([`FINGERPRINT_ANNOTATION`])
//! and compares fingerprints, plus the few fields people change with `gcloud` behind Ferry's
//! back (images, ingress, traffic, instance bounds, service account). A change made outside
//! Ferry to any other field is put back at the next spec change.

use std::collections::BTreeMap;

use crate::model::CloudRunModel;
use ferry_api::conditions::reasons;
use ferry_api::{CloudRunProviderConfig, ExecutionEnvironment, Ingress, VpcEgress};
use ferry_core::desired::{
    ContainerModel, Desired, EnvModel, EnvValue, MountModel, ObjectRef, ProbeAction, ProbeModel,
    ResourcesModel, ScalingModel, SecretSource, TrafficModel, VolumeModel, VolumeSource,
};
use ferry_core::names;
use ferry_core::status::{Outputs, Readiness};
use google_cloud_iam_v1::model::{Binding, Policy};
use google_cloud_run_v2::model::{
    self, IngressTraffic, TrafficTargetAllocationType, condition, empty_dir_volume_source,
    vpc_access,
};
use serde_json::{Value, json};

/// Label marking services Ferry manages; kept when an object is orphaned, so a new object of
/// the same name may adopt the service.
pub const LABEL_MANAGED_BY: &str = "managed-by";
/// The value of [`LABEL_MANAGED_BY`].
pub const MANAGED_BY_FERRY: &str = "ferry";
/// Label with the UID of the `ServerlessService` that owns a service.
pub const LABEL_UID: &str = "ferry-uid";
/// Label with the owner's namespace.
pub const LABEL_NAMESPACE: &str = "ferry-namespace";
/// Label with the owner's name.
pub const LABEL_NAME: &str = "ferry-name";
/// Annotation with the fingerprint of the Service Ferry built. An annotation, not a label:
/// labels go to billing, and Kubernetes-style `ferry.dev/` keys are allowed only here.
pub const FINGERPRINT_ANNOTATION: &str = "ferry.dev/fingerprint";
/// `Service.client`: what the console shows as the deploying tool.
pub const CLIENT: &str = "ferry";
/// The role that lets callers invoke a service.
pub const INVOKER_ROLE: &str = "roles/run.invoker";
/// The IAM principal for anyone on the internet.
pub const ALL_USERS: &str = "allUsers";
/// Annotation and label prefixes the Admin API v2 refuses (its `Service.annotations` docs).
pub const RESERVED_KEY_PREFIXES: [&str; 4] = [
    "run.googleapis.com/",
    "cloud.googleapis.com/",
    "serving.knative.dev/",
    "autoscaling.knative.dev/",
];

/// Cloud Run's name for HTTP/1 on a container port. Ferry has no HTTP/2 setting, and Cloud
/// Run's HTTP probes need HTTP/1.
const PORT_NAME: &str = "http1";
/// The resource name of a GPU in `resources.limits`.
const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// The launch stage that allows Cloud Run features in preview.
pub(crate) const PREVIEW: &str = "BETA";
/// Longest label value Google Cloud accepts.
const MAX_LABEL_VALUE: usize = 63;

/// Why no Service can be built for a desired model.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    /// The desired model is not a Cloud Run one.
    #[error("the object is not for provider cloudRun")]
    NotCloudRun,
    /// A secret that is not a Secret Manager reference (validation resolves every secret of a
    /// Cloud Run service to one, so this is a bug upstream, reported rather than dropped).
    #[error(
        "env {env} of container {container} is not a Secret Manager secret: on Cloud Run, \
         secret.name is a Secret Manager secret and secret.key its version"
    )]
    Secret {
        /// The container.
        container: String,
        /// The variable.
        env: String,
    },
    /// A volume Cloud Run cannot mount (validation refuses it, so this is a bug upstream,
    /// reported rather than dropped).
    #[error("volume {volume} ({kind}) cannot be mounted on Cloud Run: {why}")]
    Volume {
        /// The volume's name.
        volume: String,
        /// Its kind, as `spec.volumes[]` writes it.
        kind: &'static str,
        /// Why not.
        why: &'static str,
    },
    /// The Service could not be turned into JSON for its fingerprint.
    #[error("cannot encode the Cloud Run Service: {0}")]
    Encode(String),
    /// A scheduled job without the service account Cloud Scheduler's requests authenticate as
    /// (validation refuses it, so this is a bug upstream, reported rather than dropped).
    #[error(
        "a scheduled Cloud Run job needs spec.cloudRun.serviceAccount: Cloud Scheduler starts \
         it with an OAuth token of that service account"
    )]
    ScheduleWithoutServiceAccount,
}

/// Where the service runs: the service's own `spec.cloudRun.project` / `region` over its
/// ProviderConfig's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Google Cloud project ID.
    pub project: String,
    /// Region.
    pub region: String,
}

impl Account {
    /// `projects/PROJECT/locations/REGION`, the parent of the project's services there.
    pub fn parent(&self) -> String {
        format!("projects/{}/locations/{}", self.project, self.region)
    }
}

/// Everything Ferry sends for one object.
#[derive(Clone, Debug, PartialEq)]
pub struct Requests {
    /// Where it runs.
    pub account: Account,
    /// `projects/P/locations/R`.
    pub parent: String,
    /// The service ID ([`crate::names::service_name`]).
    pub service_id: String,
    /// `projects/P/locations/R/services/ID`.
    pub name: String,
    /// The Service, as sent to `CreateService` and `UpdateService`.
    pub service: model::Service,
    /// The fingerprint of what Ferry built (also the [`FINGERPRINT_ANNOTATION`]).
    pub fingerprint: String,
    /// `roles/run.invoker` for `allUsers`, when the service is public and unauthenticated
    /// calls are allowed; otherwise Ferry makes sure `allUsers` does not have it.
    pub invoker: Option<Binding>,
}

impl Requests {
    /// The requests as `ferry render` prints them: `CreateService`'s parameters and the IAM
    /// binding, with enums by name (`INGRESS_TRAFFIC_ALL`), as the REST API also accepts them.
    pub fn rendered(&self) -> Value {
        let mut out = json!({
            "createService": {
                "parent": self.parent,
                "serviceId": self.service_id,
                "service": readable(&self.service),
            },
        });
        if let Some(binding) = &self.invoker {
            out["invokerBinding"] = json!({"role": binding.role, "members": binding.members});
        }
        out
    }
}

/// The Cloud Run settings of `want`.
fn cloud_run(want: &Desired) -> Result<&CloudRunModel, BuildError> {
    want.backend
        .get::<CloudRunModel>()
        .ok_or(BuildError::NotCloudRun)
}

/// The project and region `want` runs in under `config`.
pub fn account(want: &Desired, config: &CloudRunProviderConfig) -> Result<Account, BuildError> {
    Ok(account_of(cloud_run(want)?, config))
}

/// The project and region of settings `model` under `config`: the object's own over its
/// ProviderConfig's.
pub(crate) fn account_of(model: &CloudRunModel, config: &CloudRunProviderConfig) -> Account {
    Account {
        project: model
            .project
            .clone()
            .unwrap_or_else(|| config.project.clone()),
        region: model
            .region
            .clone()
            .unwrap_or_else(|| config.region.clone()),
    }
}

/// The Cloud Run service ID of `want`.
pub fn service_id(want: &Desired) -> String {
    crate::names::service_name(&want.object.namespace, &want.object.name)
}

/// Everything Ferry sends for `want`, in the project and region its own `spec.cloudRun` and
/// its ProviderConfig's `spec.cloudRun` give.
pub fn requests(want: &Desired, config: &CloudRunProviderConfig) -> Result<Requests, BuildError> {
    let model = cloud_run(want)?;
    let account = account(want, config)?;
    let parent = account.parent();
    let service_id = service_id(want);
    let name = format!("{parent}/services/{service_id}");
    let mut service = model::Service::new()
        .set_name(name.clone())
        .set_ingress(ingress(want.ingress))
        .set_template(revision_template(want, model)?)
        .set_traffic(traffic(&want.traffic));
    if uses_preview_features(want) {
        // Cloud Run refuses a preview feature unless the request opts into its launch stage.
        service = service.set_launch_stage(PREVIEW);
    }
    // Labels (the owner's identity, compared on their own) and who sent the request are not
    // part of what the service does.
    let fingerprint = fingerprint_of(&service)?;
    let service = service
        .set_labels(labels(&want.object))
        .set_annotations([(FINGERPRINT_ANNOTATION, fingerprint.as_str())])
        .set_client(CLIENT)
        .set_client_version(env!("CARGO_PKG_VERSION"));
    let invoker =
        (want.ingress == Ingress::Public && model.allow_unauthenticated).then(public_invoker);
    Ok(Requests {
        account,
        parent,
        service_id,
        name,
        service,
        fingerprint,
        invoker,
    })
}

/// The fingerprint of `service`'s JSON with object keys sorted, so it is the same whatever
/// order the model's hash maps hold their entries in.
fn fingerprint_of(service: &model::Service) -> Result<String, BuildError> {
    let mut json = serde_json::to_value(service).map_err(|e| BuildError::Encode(e.to_string()))?;
    json.sort_all_objects();
    Ok(names::fingerprint(&json.to_string()))
}

/// Readiness probes are in preview on Cloud Run.
fn uses_preview_features(want: &Desired) -> bool {
    want.containers.iter().any(|c| c.probes.readiness.is_some())
}

pub(crate) fn labels(object: &ObjectRef) -> BTreeMap<&'static str, String> {
    let mut labels = BTreeMap::from([
        (LABEL_MANAGED_BY, MANAGED_BY_FERRY.to_owned()),
        (LABEL_NAMESPACE, label_value(&object.namespace)),
        (LABEL_NAME, label_value(&object.name)),
    ]);
    if let Some(uid) = &object.uid {
        labels.insert(LABEL_UID, label_value(uid));
    }
    labels
}

/// `text` as a Google Cloud label value: lower-case letters, digits, `_` and `-`, at most 63
/// characters. Namespaces, names and UIDs already are; anything else is mapped, not refused,
/// since a label only identifies.
pub fn label_value(text: &str) -> String {
    text.chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(MAX_LABEL_VALUE)
        .collect()
}

/// Whether Ferry may manage `observed` for the object with `uid`: labelled with that UID, or
/// released by an earlier object of the same name (Ferry's label, no UID).
pub fn is_ours(observed: &model::Service, uid: Option<&str>) -> bool {
    owns(&observed.labels, uid)
}

/// Whether a resource with `labels` is the object's with `uid` (see [`is_ours`]).
pub fn owns<S: std::hash::BuildHasher>(
    labels: &std::collections::HashMap<String, String, S>,
    uid: Option<&str>,
) -> bool {
    match labels.get(LABEL_UID) {
        Some(label) => uid.map(label_value).as_ref() == Some(label),
        None => labels.get(LABEL_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY_FERRY),
    }
}

fn ingress(ingress: Ingress) -> IngressTraffic {
    match ingress {
        Ingress::Public => IngressTraffic::All,
        Ingress::Internal => IngressTraffic::InternalOnly,
    }
}

fn revision_template(
    want: &Desired,
    model: &CloudRunModel,
) -> Result<model::RevisionTemplate, BuildError> {
    let containers = want
        .containers
        .iter()
        .map(|c| container(c, model))
        .collect::<Result<Vec<_>, _>>()?;
    let accelerator = want
        .containers
        .iter()
        .find_map(|c| c.resources.gpu.as_ref()?.gpu_type.clone());
    Ok(model::RevisionTemplate::new()
        .set_or_clear_scaling(revision_scaling(&want.scaling))
        .set_or_clear_vpc_access(model.vpc_access.as_ref().map(vpc_access))
        .set_or_clear_timeout(want.timeout_seconds.map(seconds))
        .set_service_account(model.service_account.clone().unwrap_or_default())
        .set_containers(containers)
        .set_volumes(volumes(&want.volumes, &want.containers)?)
        .set_execution_environment(execution_environment(model.execution_environment))
        .set_max_instance_request_concurrency(want.concurrency.map_or(0, to_i32))
        .set_or_clear_node_selector(
            accelerator.map(|a| model::NodeSelector::new().set_accelerator(a)),
        ))
}

/// Instance bounds, left out when both are Cloud Run's defaults (0 and its own maximum).
fn revision_scaling(scaling: &ScalingModel) -> Option<model::RevisionScaling> {
    (scaling.min_instances > 0 || scaling.max_instances.is_some()).then(|| {
        model::RevisionScaling::new()
            .set_min_instance_count(to_i32(scaling.min_instances))
            .set_max_instance_count(scaling.max_instances.map_or(0, to_i32))
    })
}

pub(crate) fn vpc_access(vpc: &ferry_api::VpcAccess) -> model::VpcAccess {
    let egress = match vpc.egress {
        Some(VpcEgress::AllTraffic) => vpc_access::VpcEgress::AllTraffic,
        Some(VpcEgress::PrivateRangesOnly) => vpc_access::VpcEgress::PrivateRangesOnly,
        None => vpc_access::VpcEgress::Unspecified,
    };
    let interfaces = vpc.network_interfaces.iter().flatten().map(|n| {
        vpc_access::NetworkInterface::new()
            .set_network(n.network.clone().unwrap_or_default())
            .set_subnetwork(n.subnetwork.clone().unwrap_or_default())
            .set_tags(n.tags.clone().unwrap_or_default())
    });
    model::VpcAccess::new()
        .set_connector(vpc.connector.clone().unwrap_or_default())
        .set_egress(egress)
        .set_network_interfaces(interfaces)
}

pub(crate) fn execution_environment(
    environment: Option<ExecutionEnvironment>,
) -> model::ExecutionEnvironment {
    match environment {
        Some(ExecutionEnvironment::Gen1) => model::ExecutionEnvironment::Gen1,
        Some(ExecutionEnvironment::Gen2) => model::ExecutionEnvironment::Gen2,
        None => model::ExecutionEnvironment::Unspecified,
    }
}

pub(crate) fn container(
    c: &ContainerModel,
    model: &CloudRunModel,
) -> Result<model::Container, BuildError> {
    let env = c
        .env
        .iter()
        .map(|e| env_var(&c.name, e))
        .collect::<Result<Vec<_>, _>>()?;
    // Only the serving container has a port; Cloud Run tells it in PORT.
    let ports = c.port.map(|port| {
        model::ContainerPort::new()
            .set_name(PORT_NAME)
            .set_container_port(i32::from(port))
    });
    Ok(model::Container::new()
        .set_name(c.name.clone())
        .set_image(c.image.clone())
        .set_command(c.command.clone())
        .set_args(c.args.clone())
        .set_env(env)
        .set_resources(resources(&c.resources, model))
        .set_ports(ports)
        .set_volume_mounts(c.mounts.iter().map(volume_mount))
        .set_or_clear_startup_probe(c.probes.startup.as_ref().map(probe))
        .set_or_clear_liveness_probe(c.probes.liveness.as_ref().map(probe))
        .set_or_clear_readiness_probe(c.probes.readiness.as_ref().map(probe)))
}

/// The template's volumes (`RevisionTemplate.volumes`, `TaskTemplate.volumes`), in spec order.
pub(crate) fn volumes(
    volumes: &[VolumeModel],
    containers: &[ContainerModel],
) -> Result<Vec<model::Volume>, BuildError> {
    volumes.iter().map(|v| volume(v, containers)).collect()
}

fn volume(v: &VolumeModel, containers: &[ContainerModel]) -> Result<model::Volume, BuildError> {
    let built = model::Volume::new().set_name(v.name.clone());
    let unsupported = |why| BuildError::Volume {
        volume: v.name.clone(),
        kind: v.source.kind(),
        why,
    };
    // Cloud Run's VolumeMount has no readOnly; a gcs or nfs source has one, "read only for all
    // mounts". Validation refuses a volume mounted read-only by one container and read-write by
    // another, so a volume every mount reads only is a read-only source.
    let mounts: Vec<&MountModel> = containers
        .iter()
        .flat_map(|c| &c.mounts)
        .filter(|m| m.volume == v.name)
        .collect();
    let read_only =
        v.source.read_only() || (!mounts.is_empty() && mounts.iter().all(|m| m.read_only));
    Ok(match &v.source {
        VolumeSource::Secret(secret) => built.set_secret(secret_volume(secret)),
        VolumeSource::EmptyDir {
            medium,
            size_limit_bytes,
        } => {
            if *medium == Some(ferry_api::StorageMedium::Disk) {
                return Err(unsupported("Cloud Run keeps an emptyDir in memory only"));
            }
            built.set_empty_dir(
                model::EmptyDirVolumeSource::new()
                    // Written out: unset is memory today, "but could change over time".
                    .set_medium(empty_dir_volume_source::Medium::Memory)
                    .set_size_limit(size_limit_bytes.map(byte_quantity).unwrap_or_default()),
            )
        }
        VolumeSource::Gcs(gcs) => built.set_gcs(
            model::GCSVolumeSource::new()
                .set_bucket(gcs.bucket.clone())
                .set_read_only(read_only),
        ),
        VolumeSource::Nfs(nfs) => built.set_nfs(
            model::NFSVolumeSource::new()
                .set_server(nfs.server.clone())
                .set_path(nfs.path.clone())
                .set_read_only(read_only),
        ),
        VolumeSource::Efs(_) | VolumeSource::AzureFile(_) => {
            return Err(unsupported(
                "Cloud Run mounts Cloud Storage (gcs) and NFS, not this kind",
            ));
        }
    })
}

/// A Secret Manager secret as one file named after the secret (its ID, also for a secret of
/// another project), holding the version `key` names (default `latest`). The item is written
/// out: without items Cloud Run "will expose a file whose name is the secret" but takes no
/// version from the request; with one, "the key will be used as the version to fetch from
/// Cloud Secret Manager and the path will be the name of the file" (`SecretVolumeSource`).
fn secret_volume(secret: &ferry_api::SecretRef) -> model::SecretVolumeSource {
    let id = secret
        .name
        .rsplit_once("/secrets/")
        .map_or(secret.name.as_str(), |(_, id)| id);
    model::SecretVolumeSource::new()
        .set_secret(secret.name.clone())
        .set_items([model::VersionToPath::new()
            .set_path(id)
            .set_version(secret.key.clone().unwrap_or_else(|| "latest".to_owned()))])
}

/// A mount: Cloud Run's `VolumeMount` is name, path and subPath; whether it is read-only is
/// the volume's (see [`volumes`]).
fn volume_mount(m: &MountModel) -> model::VolumeMount {
    model::VolumeMount::new()
        .set_name(m.volume.clone())
        .set_mount_path(m.mount_path.clone())
        .set_sub_path(m.sub_path.clone().unwrap_or_default())
}

fn env_var(container: &str, env: &EnvModel) -> Result<model::EnvVar, BuildError> {
    let var = model::EnvVar::new().set_name(env.name.clone());
    match &env.value {
        EnvValue::Literal(value) => Ok(var.set_value(value.clone())),
        EnvValue::Secret(SecretSource::Store { name, version }) => Ok(var.set_value_source(
            model::EnvVarSource::new().set_secret_key_ref(
                model::SecretKeySelector::new()
                    .set_secret(name.clone())
                    .set_version(version.clone().unwrap_or_else(|| "latest".to_owned())),
            ),
        )),
        EnvValue::Secret(SecretSource::Kubernetes { .. }) => Err(BuildError::Secret {
            container: container.to_owned(),
            env: env.name.clone(),
        }),
    }
}

/// Limits Cloud Run takes as Kubernetes quantities. Left out, CPU and memory are Cloud Run's
/// defaults (1 and 512Mi), as the capability table says. `cpuIdle` is always written: once
/// `resources` is set, Cloud Run reads a missing `cpuIdle` as `false`.
fn resources(r: &ResourcesModel, model: &CloudRunModel) -> model::ResourceRequirements {
    let mut limits = BTreeMap::new();
    if let Some(millis) = r.cpu_millis {
        limits.insert("cpu", cpu_quantity(millis));
    }
    if let Some(bytes) = r.memory_bytes {
        limits.insert("memory", byte_quantity(bytes));
    }
    if let Some(gpu) = &r.gpu {
        limits.insert(GPU_RESOURCE, gpu.count.to_string());
    }
    model::ResourceRequirements::new()
        .set_limits(limits)
        .set_cpu_idle(model.cpu_idle)
        .set_startup_cpu_boost(model.startup_cpu_boost)
}

/// Whole vCPUs plainly (`"2"`, as Cloud Run's documentation writes them), fractions in
/// millicores (`"500m"`).
fn cpu_quantity(millis: u64) -> String {
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

/// Bytes in the largest binary unit that holds them exactly (`"512Mi"`), else the largest
/// decimal one (`"1G"`), else a plain count.
fn byte_quantity(bytes: u64) -> String {
    const UNITS: [(&str, u64); 6] = [
        ("Ti", 1 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
        ("G", 1_000_000_000),
        ("M", 1_000_000),
    ];
    UNITS
        .iter()
        .find(|(_, size)| bytes >= *size && bytes.is_multiple_of(*size))
        .map_or_else(
            || bytes.to_string(),
            |(unit, size)| format!("{}{unit}", bytes / size),
        )
}

/// A probe; timing left unset (0 on the wire) takes Cloud Run's defaults, which are the ones
/// Ferry documents.
fn probe(p: &ProbeModel) -> model::Probe {
    let seconds = |v: Option<u32>| v.map_or(0, to_i32);
    let probe = model::Probe::new()
        .set_initial_delay_seconds(seconds(p.initial_delay_seconds))
        .set_timeout_seconds(seconds(p.timeout_seconds))
        .set_period_seconds(seconds(p.period_seconds))
        .set_failure_threshold(seconds(p.failure_threshold));
    match &p.action {
        ProbeAction::HttpGet {
            path,
            port,
            headers,
        } => probe.set_http_get(
            model::HTTPGetAction::new()
                .set_path(path.clone())
                .set_port(i32::from(*port))
                .set_http_headers(headers.iter().map(|(name, value)| {
                    model::HTTPHeader::new()
                        .set_name(name.clone())
                        .set_value(value.clone())
                })),
        ),
        ProbeAction::TcpSocket { port } => {
            probe.set_tcp_socket(model::TCPSocketAction::new().set_port(i32::from(*port)))
        }
        ProbeAction::Grpc { port, service } => probe.set_grpc(
            model::GRPCAction::new()
                .set_port(i32::from(*port))
                .set_service(service.clone()),
        ),
    }
}

/// The traffic split, always written out: with none, Cloud Run would keep the split an earlier
/// update set instead of going back to all traffic on the latest revision.
fn traffic(targets: &[TrafficModel]) -> Vec<model::TrafficTarget> {
    if targets.is_empty() {
        return vec![
            model::TrafficTarget::new()
                .set_type(TrafficTargetAllocationType::Latest)
                .set_percent(100),
        ];
    }
    targets
        .iter()
        .map(|t| {
            let target = model::TrafficTarget::new()
                .set_percent(to_i32(t.percent))
                .set_tag(t.tag.clone().unwrap_or_default());
            match &t.revision_name {
                Some(revision) => target
                    .set_type(TrafficTargetAllocationType::Revision)
                    .set_revision(revision.clone()),
                None => target.set_type(TrafficTargetAllocationType::Latest),
            }
        })
        .collect()
}

pub(crate) fn seconds(s: u32) -> google_cloud_wkt::Duration {
    google_cloud_wkt::Duration::clamp(i64::from(s), 0)
}

pub(crate) fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// `service` as JSON with its enums by name instead of number. Both are proto3 JSON for the
/// same message; names are what people read (and what `gcloud` prints).
fn readable(service: &model::Service) -> Value {
    // Cannot fail: `requests` serialised the same Service for its fingerprint.
    let mut json = serde_json::to_value(service).unwrap_or(Value::Null);
    let mut name = |pointer: String, text: Option<&str>| {
        if let (Some(slot), Some(text)) = (json.pointer_mut(&pointer), text) {
            *slot = text.into();
        }
    };
    name("/ingress".into(), service.ingress.name());
    name("/launchStage".into(), service.launch_stage.name());
    for (i, target) in service.traffic.iter().enumerate() {
        name(format!("/traffic/{i}/type"), target.r#type.name());
    }
    if let Some(template) = &service.template {
        name(
            "/template/executionEnvironment".into(),
            template.execution_environment.name(),
        );
        if let Some(vpc) = &template.vpc_access {
            name("/template/vpcAccess/egress".into(), vpc.egress.name());
        }
        for (pointer, medium) in volume_media("/template", &template.volumes) {
            name(pointer, medium);
        }
    }
    json
}

/// The JSON pointers of the emptyDir media among `volumes` (under `at`) and their names.
pub(crate) fn volume_media<'a>(
    at: &str,
    volumes: &'a [model::Volume],
) -> Vec<(String, Option<&'a str>)> {
    volumes
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let medium = v.empty_dir()?.medium.name();
            Some((format!("{at}/volumes/{i}/emptyDir/medium"), medium))
        })
        .collect()
}

/// One reason Cloud Run's Service differs from the requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Ferry builds something else than the Service was last written from (its fingerprint
    /// annotation differs or is missing).
    Spec,
    /// Someone changed this field behind Ferry's back.
    Drift(&'static str),
    /// The identity labels differ: the Service is adopted from an earlier object of this name,
    /// or lost its labels.
    Labels,
}

/// What differs between Cloud Run's Service and `requests`; empty when nothing. Any change is
/// made with one `UpdateService` of `requests.service`.
pub fn diff(requests: &Requests, observed: &model::Service) -> Vec<Change> {
    let mut changes = Vec::new();
    if observed.annotations.get(FINGERPRINT_ANNOTATION) != Some(&requests.fingerprint) {
        changes.push(Change::Spec);
    }
    changes.extend(
        drift(&requests.service, observed)
            .into_iter()
            .map(Change::Drift),
    );
    if requests
        .service
        .labels
        .iter()
        .any(|(key, value)| observed.labels.get(key) != Some(value))
    {
        changes.push(Change::Labels);
    }
    changes
}

/// The fields Ferry sets that differ in `have`, among those `gcloud run deploy` and
/// `gcloud run services update(-traffic)` change. Fields Ferry leaves to Cloud Run are not
/// compared: Cloud Run fills in its defaults.
fn drift(want: &model::Service, have: &model::Service) -> Vec<&'static str> {
    let none = model::RevisionTemplate::default();
    let want_template = want.template.as_ref().unwrap_or(&none);
    let have_template = have.template.as_ref().unwrap_or(&none);
    let mut fields = Vec::new();
    if images(want_template) != images(have_template) {
        fields.push("template.containers[].image");
    }
    // Cloud Run reports no ingress while no revision is active (a service whose first
    // revision failed): that is not a change to put back.
    if have.ingress != IngressTraffic::Unspecified && want.ingress != have.ingress {
        fields.push("ingress");
    }
    if traffic_split(&want.traffic) != traffic_split(&have.traffic) {
        fields.push("traffic");
    }
    let (want_min, want_max) = bounds(want_template);
    let (have_min, have_max) = bounds(have_template);
    if want_min != have_min || (want_max != 0 && want_max != have_max) {
        fields.push("template.scaling");
    }
    if !want_template.service_account.is_empty()
        && want_template.service_account != have_template.service_account
    {
        fields.push("template.serviceAccount");
    }
    fields
}

fn images(template: &model::RevisionTemplate) -> Vec<(&str, &str)> {
    template
        .containers
        .iter()
        .map(|c| (c.name.as_str(), c.image.as_str()))
        .collect()
}

fn traffic_split(targets: &[model::TrafficTarget]) -> Vec<(Option<i32>, &str, i32, &str)> {
    let mut split: Vec<_> = targets
        .iter()
        .map(|t| {
            (
                t.r#type.value(),
                t.revision.as_str(),
                t.percent,
                t.tag.as_str(),
            )
        })
        .collect();
    split.sort_unstable();
    split
}

fn bounds(template: &model::RevisionTemplate) -> (i32, i32) {
    template
        .scaling
        .as_ref()
        .map_or((0, 0), |s| (s.min_instance_count, s.max_instance_count))
}

/// What Cloud Run's Service means in Ferry's terms, and what goes into status.
pub fn readiness(observed: &model::Service) -> (Readiness, Outputs) {
    let uri = Some(observed.uri.clone()).filter(|u| !u.is_empty());
    let outputs = Outputs {
        address_url: uri.clone(),
        url: uri,
        latest_ready_revision: short_name(&observed.latest_ready_revision),
        resource_id: Some(observed.name.clone()).filter(|n| !n.is_empty()),
        ..Outputs::default()
    };
    (service_readiness(observed), outputs)
}

/// The last segment of a resource name: the revision ID of
/// `projects/P/locations/R/services/S/revisions/REV`, as traffic targets name revisions.
pub(crate) fn short_name(name: &str) -> Option<String> {
    name.rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn service_readiness(s: &model::Service) -> Readiness {
    use condition::State;
    if s.reconciling {
        return Readiness::Progressing(progress(s));
    }
    let Some(terminal) = &s.terminal_condition else {
        return Readiness::Progressing(
            "waiting for Cloud Run to report the service's state".into(),
        );
    };
    // A failed reconciliation leaves observedGeneration at the last generation that served,
    // so the failure is read before the generations are compared.
    if terminal.state == State::ConditionFailed {
        return failed(s, terminal);
    }
    if s.observed_generation < s.generation {
        return Readiness::Progressing(progress(s));
    }
    match terminal.state {
        State::ConditionSucceeded => Readiness::Ready,
        _ if !terminal.message.is_empty() => Readiness::Progressing(terminal.message.clone()),
        _ => Readiness::Progressing(progress(s)),
    }
}

fn progress(s: &model::Service) -> String {
    let revision = short_name(&s.latest_created_revision)
        .map(|r| format!(" (revision {r})"))
        .unwrap_or_default();
    let detail = s
        .terminal_condition
        .as_ref()
        .filter(|c| {
            matches!(
                c.state,
                condition::State::ConditionPending | condition::State::ConditionReconciling
            )
        })
        .map(|c| c.message.as_str())
        .filter(|m| !m.is_empty())
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    format!(
        "Cloud Run is rolling out generation {}{revision}{detail}",
        s.generation
    )
}

/// A failure in one of Ferry's documented reasons, with Cloud Run's own message. The terminal
/// condition often says only that the revision is not ready, while a sub-condition names the
/// cause.
fn failed(s: &model::Service, terminal: &model::Condition) -> Readiness {
    let failed: Vec<&model::Condition> = std::iter::once(terminal)
        .chain(
            s.conditions
                .iter()
                .filter(|c| c.state == condition::State::ConditionFailed),
        )
        .collect();
    let reason = failed
        .iter()
        .find_map(|c| failure_reason(c))
        .unwrap_or(reasons::REVISION_FAILED);
    let message = failed
        .iter()
        .map(|c| c.message.as_str())
        .find(|m| !m.is_empty())
        .map_or_else(
            || "Cloud Run reports that the service failed, without a message".to_owned(),
            str::to_owned,
        );
    Readiness::Failed { reason, message }
}

/// The documented reason one condition points to, when it names a specific one: by Cloud Run's
/// reason code, else by its message.
fn failure_reason(c: &model::Condition) -> Option<&'static str> {
    use condition::{CommonReason, Reasons, RevisionReason};
    match &c.reasons {
        Some(Reasons::Reason(
            CommonReason::ContainerMissing | CommonReason::ContainerPermissionDenied,
        )) => Some(reasons::IMAGE_NOT_FOUND),
        Some(Reasons::Reason(CommonReason::ProgressDeadlineExceeded)) => {
            Some(reasons::ROLLOUT_TIMEOUT)
        }
        Some(Reasons::RevisionReason(RevisionReason::HealthCheckContainerError)) => {
            Some(reasons::CONTAINER_FAILED)
        }
        _ => failure_reason_in(&c.message),
    }
}

fn failure_reason_in(message: &str) -> Option<&'static str> {
    let message = message.to_ascii_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| message.contains(w));
    if message.contains("image") && any(&["not found", "permission", "denied", "pull"]) {
        Some(reasons::IMAGE_NOT_FOUND)
    } else if any(&[
        "failed to start",
        "probe",
        "health check",
        "exit(",
        "exited",
        "crash",
    ]) {
        Some(reasons::CONTAINER_FAILED)
    } else {
        None
    }
}

/// `roles/run.invoker` for `allUsers`.
pub fn public_invoker() -> Binding {
    Binding::new()
        .set_role(INVOKER_ROLE)
        .set_members([ALL_USERS])
}

/// The policy to set on the service so that `allUsers` may invoke it exactly when
/// `requests.invoker` says; `None` when `observed` already agrees. Other bindings, other
/// members and conditional bindings are kept, and so is the etag, so a concurrent change makes
/// `SetIamPolicy` fail instead of being overwritten.
pub fn invoker_policy(requests: &Requests, observed: &Policy) -> Option<Policy> {
    match &requests.invoker {
        Some(binding) if !grants(observed, binding) => Some(with_binding(observed, binding)),
        None if grants(observed, &public_invoker()) => {
            Some(without_binding(observed, &public_invoker()))
        }
        _ => None,
    }
}

/// Whether `policy` grants `binding`'s role to all of its members, unconditionally.
pub fn grants(policy: &Policy, binding: &Binding) -> bool {
    binding.members.iter().all(|member| {
        policy
            .bindings
            .iter()
            .any(|b| b.role == binding.role && b.condition.is_none() && b.members.contains(member))
    })
}

/// `policy` with `binding`'s members added to the unconditional binding of its role.
pub fn with_binding(policy: &Policy, binding: &Binding) -> Policy {
    let mut policy = policy.clone();
    let existing = policy
        .bindings
        .iter_mut()
        .find(|b| b.role == binding.role && b.condition.is_none());
    match existing {
        Some(b) => {
            for member in &binding.members {
                if !b.members.contains(member) {
                    b.members.push(member.clone());
                }
            }
        }
        None => policy.bindings.push(binding.clone()),
    }
    policy
}

/// `policy` with `binding`'s members removed from the unconditional bindings of its role, and
/// bindings left without members dropped (IAM refuses them).
pub fn without_binding(policy: &Policy, binding: &Binding) -> Policy {
    let mut policy = policy.clone();
    for b in &mut policy.bindings {
        if b.role == binding.role && b.condition.is_none() {
            b.members.retain(|m| !binding.members.contains(m));
        }
    }
    policy.bindings.retain(|b| !b.members.is_empty());
    policy
}
