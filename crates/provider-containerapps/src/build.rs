//! The pure half of the Container Apps backend: the `Microsoft.App/containerApps` PUT body
//! Ferry sends for a desired model, whether what Azure holds already matches it, what Azure's
//! description means in Ferry's terms, and the body that takes Ferry's UID tag off an app it
//! releases. No I/O: `client.rs` sends what this module builds.
//!
//! The body is plain JSON with only the properties Ferry sets, checked in the tests against
//! Microsoft's own definitions (`AzureFake::check_request`). ARM answers with its defaults
//! filled in and never with secret values, so change detection does not compare whole bodies:
//! Ferry tags each app with a fingerprint of the body it built ([`TAG_FINGERPRINT`], with a
//! copied secret's value replaced by its Secret's version) and compares fingerprints, plus the
//! few fields people change with `az containerapp` behind Ferry's back (images, ingress,
//! revision mode, traffic, replica bounds). A change made outside Ferry to any other field is put
//! back at the next spec change.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use ferry_api::conditions::reasons;
use ferry_api::{AzureFileVolume, AzureProviderConfig, Ingress};
use ferry_azure::resource::{self, Ownership};
pub use ferry_azure::resource::{
    MANAGED_BY_FERRY, TAG_FINGERPRINT, TAG_MANAGED_BY, TAG_OBJECT, TAG_UID,
};
use ferry_core::backend::BackendModel;
use ferry_core::desired::{
    ContainerModel, Desired, EnvValue, ObjectRef, ProbeAction, ProbeModel, SecretSource,
    TrafficModel, VolumeModel, VolumeSource,
};
use ferry_core::status::{Outputs, Readiness};
use serde_json::{Map, Value, json};

use crate::limits::DEFAULT_MAX_REPLICAS;
use crate::model::{AppSecretSource, ContainerAppsModel, ScaleRule, Size};
use crate::validate::format_centi_gib;

/// The Container Apps API version Ferry speaks.
pub const API_VERSION: &str = "2026-01-01";
/// The resource type, as ARM ids spell it.
pub const RESOURCE_TYPE: &str = "Microsoft.App/containerApps";

/// Why no body can be built for a desired model.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    /// The desired model is not a Container Apps one.
    #[error("the service is not for provider containerApps")]
    NotContainerApps,
    /// The desired job is not a Container Apps one.
    #[error("the job is not for provider containerApps")]
    NotContainerAppsJob,
    /// Neither the spec nor the ProviderConfig names an environment.
    #[error(
        "no Container Apps environment: set spec.containerApps.environment, or \
         azure.containerAppsEnvironment in the ProviderConfig"
    )]
    NoEnvironment,
    /// A copied secret whose value was not read (the client reads them before building).
    #[error(
        "the value of app secret {0} (spec.containerApps.secrets, fromSecret) has not been read"
    )]
    SecretNotRead(String),
    /// A volume of a kind Container Apps cannot mount (validation refuses it first).
    #[error(
        "Container Apps cannot mount volume {volume}: {kind} volumes are not supported (use \
         secret, emptyDir or azureFile)"
    )]
    UnsupportedVolume {
        /// The volume's name.
        volume: String,
        /// Its kind (`nfs`, `efs`, `gcs`).
        kind: &'static str,
    },
}

impl BuildError {
    /// The documented reason this error reports.
    pub fn reason(&self) -> &'static str {
        match self {
            BuildError::NotContainerApps
            | BuildError::NotContainerAppsJob
            | BuildError::NoEnvironment => reasons::INVALID_SPEC,
            BuildError::SecretNotRead(_) => reasons::PROVIDER_ERROR,
            BuildError::UnsupportedVolume { .. } => reasons::UNSUPPORTED,
        }
    }
}

/// The value of an app secret copied from a Kubernetes Secret, and that Secret's version (its
/// `resourceVersion`), which stands for the value in the fingerprint: a fingerprint in a tag
/// must not let anyone test guesses of a value.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue {
    /// The value.
    pub value: String,
    /// What changes when the value does.
    pub version: String,
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretValue")
            .field("value", &"<redacted>")
            .field("version", &self.version)
            .finish()
    }
}

/// The values of the copied app secrets, by app secret name.
pub type SecretValues = BTreeMap<String, SecretValue>;

/// What kind of ARM resource a [`Place`] locates: an app ([`App`]) or a job
/// ([`crate::job::build::Job`]).
pub trait Kind {
    /// The resource type, as ARM ids spell it.
    const RESOURCE_TYPE: &'static str;

    /// The resource's name for the object `name` in `namespace`.
    fn name(namespace: &str, name: &str) -> String;
}

/// A container app (`Microsoft.App/containerApps`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct App;

impl Kind for App {
    const RESOURCE_TYPE: &'static str = RESOURCE_TYPE;

    fn name(namespace: &str, name: &str) -> String {
        crate::names::app_name(namespace, name)
    }
}

/// Where a resource of kind `K` lives: its ARM coordinates. An app's by default.
#[derive(Clone, PartialEq, Eq)]
pub struct Place<K = App> {
    /// Subscription id.
    pub subscription: String,
    /// Resource group.
    pub resource_group: String,
    /// The resource's name ([`crate::names::app_name`], [`crate::names::job_name`]).
    pub name: String,
    kind: PhantomData<K>,
}

impl<K: Kind> std::fmt::Debug for Place<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Place")
            .field("subscription", &self.subscription)
            .field("resource_group", &self.resource_group)
            .field("name", &self.name)
            .field("type", &K::RESOURCE_TYPE)
            .finish()
    }
}

impl<K: Kind> Place<K> {
    /// The place of `object`'s resource under `config`, in the resource group `own` (the spec's
    /// `containerApps.resourceGroup`) or the ProviderConfig's.
    pub fn of(object: &ObjectRef, config: &AzureProviderConfig, own: Option<&str>) -> Self {
        Self {
            subscription: config.subscription_id.clone(),
            resource_group: own.map_or_else(|| config.resource_group.clone(), str::to_owned),
            name: K::name(&object.namespace, &object.name),
            kind: PhantomData,
        }
    }

    /// The place of `object`'s resource with the settings `model` under `config`.
    pub fn of_model(
        object: &ObjectRef,
        config: &AzureProviderConfig,
        model: &ContainerAppsModel,
    ) -> Self {
        Self::of(object, config, model.resource_group.as_deref())
    }

    /// The resource's ARM id.
    pub fn id(&self) -> String {
        ferry_azure::resource_id(
            &self.subscription,
            &self.resource_group,
            K::RESOURCE_TYPE,
            &self.name,
        )
    }
}

impl Place<App> {
    /// The id of one of its revisions.
    pub fn revision_id(&self, revision: &str) -> String {
        format!("{}/revisions/{revision}", self.id())
    }
}

/// The PUT Ferry sends for one object's resource of kind `K`.
#[derive(Clone, PartialEq)]
pub struct Put<K = App> {
    /// Where the resource lives.
    pub place: Place<K>,
    /// The PUT body (copied secrets with their values).
    pub body: Value,
    /// The fingerprint of the body, without tags and with copied secrets' versions for their
    /// values (also [`TAG_FINGERPRINT`]).
    pub fingerprint: String,
}

/// Everything Ferry sends for one object's app.
pub type Requests = Put<App>;

impl<K: Kind> std::fmt::Debug for Put<K> {
    /// Without the body, which may carry secret values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Put")
            .field("place", &self.place)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl<K: Kind> Put<K> {
    /// The PUT's path and query.
    pub fn path(&self) -> String {
        format!("{}?api-version={API_VERSION}", self.place.id())
    }

    /// The request as `ferry render` prints it.
    pub fn rendered(&self) -> Value {
        json!({"method": "PUT", "path": self.path(), "body": self.body})
    }
}

/// The Container Apps settings in `backend`, or `missing` when it holds none.
pub(crate) fn model_in(
    backend: &BackendModel,
    missing: BuildError,
) -> Result<&ContainerAppsModel, BuildError> {
    backend.get::<ContainerAppsModel>().ok_or(missing)
}

/// The Container Apps settings of `want`.
pub fn model(want: &Desired) -> Result<&ContainerAppsModel, BuildError> {
    model_in(&want.backend, BuildError::NotContainerApps)
}

/// Where `want`'s app lives under `config`.
pub fn place(want: &Desired, config: &AzureProviderConfig) -> Result<Place, BuildError> {
    Ok(Place::of_model(&want.object, config, model(want)?))
}

/// Everything Ferry sends for `want` under `config`, with the copied secrets' `values`.
pub fn requests(
    want: &Desired,
    config: &AzureProviderConfig,
    values: &SecretValues,
) -> Result<Requests, BuildError> {
    let model = model(want)?;
    check_volumes(&want.volumes)?;
    put(&want.object, model, config, values, |environment, value| {
        body(want, model, config, environment, value)
    })
}

/// Refuses the volumes no `Volume` can carry (validation refuses them first: a builder never
/// drops one).
pub(crate) fn check_volumes(volumes: &[VolumeModel]) -> Result<(), BuildError> {
    match volumes.iter().find(|v| volume(v).is_none()) {
        Some(v) => Err(BuildError::UnsupportedVolume {
            volume: v.name.clone(),
            kind: v.source.kind(),
        }),
        None => Ok(()),
    }
}

/// `template.volumes` of an app or a job: each volume as a `Volume`.
pub(crate) fn volumes(volumes: &[VolumeModel]) -> Vec<Value> {
    volumes.iter().filter_map(volume).collect()
}

/// One `Volume`; `None` for a kind Container Apps cannot mount.
fn volume(v: &VolumeModel) -> Option<Value> {
    Some(match &v.source {
        // An app secret projected as one file (`SecretVolumeItem`); validation checked that
        // `name` is one of configuration.secrets and `key` a file name.
        VolumeSource::Secret(s) => json!({
            "name": v.name,
            "storageType": "Secret",
            "secrets": [{"secretRef": s.name, "path": s.key.as_deref().unwrap_or(&s.name)}],
        }),
        VolumeSource::EmptyDir { .. } => json!({"name": v.name, "storageType": "EmptyDir"}),
        VolumeSource::AzureFile(a) => json!({
            "name": v.name,
            "storageType": "AzureFile",
            "storageName": storage_name(a),
        }),
        VolumeSource::Nfs(_) | VolumeSource::Efs(_) | VolumeSource::Gcs(_) => return None,
    })
}

/// The environment storage an azureFile volume mounts: `environmentStorage`, else the share's
/// name.
pub fn storage_name(a: &AzureFileVolume) -> &str {
    a.environment_storage.as_deref().unwrap_or(&a.share_name)
}

/// The managed environment's storage an azureFile volume mounts, and how its mounts use it:
/// what Ferry checks before it writes an app or a job ([`storage_problem`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageUse {
    /// The volume's index in `spec.volumes`.
    pub index: usize,
    /// The volume.
    pub volume: AzureFileVolume,
    /// Whether its mounts are read-only (validation made them agree); `None` when nothing
    /// mounts it.
    pub read_only: Option<bool>,
}

impl StorageUse {
    /// The storage's name in the environment.
    pub fn storage(&self) -> &str {
        storage_name(&self.volume)
    }

    /// The storage's ARM id in `environment` (an environment's ARM id).
    pub fn id(&self, environment: &str) -> String {
        format!("{environment}/storages/{}", self.storage())
    }

    /// The field that names the storage.
    fn field(&self) -> String {
        let leaf = if self.volume.environment_storage.is_some() {
            "environmentStorage"
        } else {
            "shareName"
        };
        format!("spec.volumes[{}].azureFile.{leaf}", self.index)
    }
}

/// The environment storages the azureFile volumes of `volumes` mount in `containers`.
pub fn storage_uses(volumes: &[VolumeModel], containers: &[ContainerModel]) -> Vec<StorageUse> {
    volumes
        .iter()
        .enumerate()
        .filter_map(|(index, v)| match &v.source {
            VolumeSource::AzureFile(a) => Some(StorageUse {
                index,
                volume: a.clone(),
                read_only: containers
                    .iter()
                    .flat_map(|c| &c.mounts)
                    .find(|m| m.volume == v.name)
                    .map(|m| m.read_only),
            }),
            _ => None,
        })
        .collect()
}

/// Why the environment storage `held` (what ARM describes at [`StorageUse::id`], `None` when
/// it does not exist) cannot serve `used` in `environment`; `None` when it can. The storage is
/// the environment owner's: Ferry reads it, never writes it.
pub fn storage_problem(
    used: &StorageUse,
    environment: &str,
    held: Option<&Value>,
) -> Option<String> {
    let storage = used.storage();
    let env = environment.rsplit('/').next().unwrap_or(environment);
    let a = &used.volume;
    let mode = if used.read_only == Some(true) {
        "ReadOnly"
    } else {
        "ReadWrite"
    };
    let Some(held) = held else {
        return Some(format!(
            "the Container Apps environment {env} has no storage {storage} ({}): its owner adds \
             it with `az containerapp env storage set --name {env} --storage-name {storage} \
             --storage-type AzureFile --azure-file-account-name {} --azure-file-share-name {} \
             --azure-file-account-key KEY --access-mode {mode}`, or name an existing one in \
             spec.volumes[{}].azureFile.environmentStorage",
            used.field(),
            a.storage_account,
            a.share_name,
            used.index
        ));
    };
    let file = &held["properties"]["azureFile"];
    if !file.is_object() {
        return Some(format!(
            "the storage {storage} of Container Apps environment {env} ({}) is not an SMB Azure \
             Files storage (azureFile), as an azureFile volume needs: name another in \
             spec.volumes[{}].azureFile.environmentStorage",
            used.field(),
            used.index
        ));
    }
    let account = file["accountName"].as_str().unwrap_or_default();
    let share = file["shareName"].as_str().unwrap_or_default();
    if !account.eq_ignore_ascii_case(&a.storage_account) || share != a.share_name {
        return Some(format!(
            "the storage {storage} of Container Apps environment {env} ({}) holds share {share} \
             of storage account {account}, not {} of {} as spec.volumes[{}].azureFile says: \
             correct the volume, or name the storage that holds that share",
            used.field(),
            a.share_name,
            a.storage_account,
            used.index
        ));
    }
    // accessMode has no default in the definitions; az and the portal write ReadWrite.
    let read_only = file["accessMode"].as_str() == Some("ReadOnly");
    match used.read_only {
        Some(true) if !read_only => Some(format!(
            "volume spec.volumes[{}] is mounted read-only, but the storage {storage} of Container Apps \
             environment {env} is ReadWrite, and Container Apps takes a mount's access from its \
             storage (a volume mount has no readOnly): set the storage's accessMode to ReadOnly, \
             or mount the volume read-write",
            used.index
        )),
        Some(false) if read_only => Some(format!(
            "the storage {storage} of Container Apps environment {env} is ReadOnly, and volume \
             spec.volumes[{}] is mounted read-write: set azureFile.readOnly (or the mounts' \
             readOnly) to true, or use a ReadWrite storage",
            used.index
        )),
        _ => None,
    }
}

/// The PUT of `object`'s resource with the settings `model` under `config`, with the copied
/// secrets' `values`: `body` makes the body without tags for an environment id, `value` giving
/// a copied secret's value. The fingerprint is that of the body made with the secrets'
/// versions for their values.
pub(crate) fn put<K: Kind>(
    object: &ObjectRef,
    model: &ContainerAppsModel,
    config: &AzureProviderConfig,
    values: &SecretValues,
    body: impl Fn(&str, &dyn Fn(&str) -> Option<String>) -> Value,
) -> Result<Put<K>, BuildError> {
    let environment = model
        .environment
        .clone()
        .or_else(|| config.container_apps_environment.clone())
        .ok_or(BuildError::NoEnvironment)?;
    for secret in &model.secrets {
        if matches!(secret.source, AppSecretSource::Kubernetes { .. })
            && !values.contains_key(&secret.name)
        {
            return Err(BuildError::SecretNotRead(secret.name.clone()));
        }
    }
    let versions = |name: &str| values.get(name).map(|v| v.version.clone());
    let fingerprint = resource::fingerprint(body(&environment, &versions));
    let values_of = |name: &str| values.get(name).map(|v| v.value.clone());
    let mut body = body(&environment, &values_of);
    body["tags"] = Value::Object(resource::tags(object, &fingerprint));
    Ok(Put {
        place: Place::of_model(object, config, model),
        body,
        fingerprint,
    })
}

/// The PUT body without tags; `value` gives a copied secret's value.
fn body(
    want: &Desired,
    model: &ContainerAppsModel,
    config: &AzureProviderConfig,
    environment: &str,
    value: &dyn Fn(&str) -> Option<String>,
) -> Value {
    resource_body(
        model,
        config,
        environment,
        configuration(want, model, value),
        template(want, model),
    )
}

/// The PUT body without tags of an app or a job with the settings `model`: its `configuration`
/// and `template` in `environment` (and the model's workload profile), at the ProviderConfig's
/// location, with the model's identity.
pub(crate) fn resource_body(
    model: &ContainerAppsModel,
    config: &AzureProviderConfig,
    environment: &str,
    configuration: Value,
    template: Value,
) -> Value {
    let mut properties = Map::new();
    properties.insert("environmentId".into(), environment.into());
    if let Some(profile) = &model.workload_profile {
        properties.insert("workloadProfileName".into(), profile.as_str().into());
    }
    properties.insert("configuration".into(), configuration);
    properties.insert("template".into(), template);
    let mut body = json!({"location": config.location, "properties": properties});
    if let Some(id) = &model.identity {
        body["identity"] = identity(id);
    }
    body
}

fn configuration(
    want: &Desired,
    model: &ContainerAppsModel,
    value: &dyn Fn(&str) -> Option<String>,
) -> Value {
    let mut ingress = json!({
        "external": want.ingress == Ingress::Public,
        "targetPort": want.serving().port,
    });
    if let Some(transport) = model.transport {
        ingress["transport"] = transport.as_str().into();
    }
    let mode = if model.multiple_revisions {
        ingress["traffic"] = want.traffic.iter().map(traffic_weight).collect();
        "Multiple"
    } else {
        "Single"
    };
    let mut configuration = json!({"activeRevisionsMode": mode, "ingress": ingress});
    if !model.secrets.is_empty() {
        configuration["secrets"] = secrets(model, value);
    }
    let registries = registries(&want.containers, model);
    if !registries.is_empty() {
        configuration["registries"] = registries.into();
    }
    configuration
}

/// `configuration.secrets`: Key Vault references, and copied values (`value` gives them).
pub(crate) fn secrets(model: &ContainerAppsModel, value: &dyn Fn(&str) -> Option<String>) -> Value {
    model
        .secrets
        .iter()
        .map(|s| match &s.source {
            AppSecretSource::KeyVault { url, identity } => {
                json!({"name": s.name, "keyVaultUrl": url, "identity": identity})
            }
            AppSecretSource::Kubernetes { .. } => {
                json!({"name": s.name, "value": value(&s.name).unwrap_or_default()})
            }
        })
        .collect()
}

/// The user-assigned `identity` block.
pub(crate) fn identity(identity: &str) -> Value {
    json!({
        "type": "UserAssigned",
        "userAssignedIdentities": {identity: {}},
    })
}

fn traffic_weight(t: &TrafficModel) -> Value {
    let mut weight = match &t.revision_name {
        Some(revision) => json!({"revisionName": revision, "weight": t.percent}),
        None => json!({"latestRevision": true, "weight": t.percent}),
    };
    if let Some(tag) = &t.tag {
        weight["label"] = tag.as_str().into();
    }
    weight
}

/// With an identity, the Azure Container Registries of the images of `containers`, pulled with
/// it.
pub(crate) fn registries(containers: &[ContainerModel], model: &ContainerAppsModel) -> Vec<Value> {
    let Some(identity) = &model.identity else {
        return Vec::new();
    };
    let mut servers: Vec<&str> = containers
        .iter()
        .filter_map(|c| c.image.split_once('/').map(|(host, _)| host))
        .filter(|host| host.ends_with(".azurecr.io"))
        .collect();
    servers.sort_unstable();
    servers.dedup();
    servers
        .into_iter()
        .map(|server| json!({"server": server, "identity": identity}))
        .collect()
}

fn template(want: &Desired, model: &ContainerAppsModel) -> Value {
    let containers: Vec<Value> = want
        .containers
        .iter()
        .zip(&model.sizes)
        .map(|(c, size)| container(c, *size))
        .collect();
    let mut scale = json!({"minReplicas": want.scaling.min_instances});
    if let Some(max) = want.scaling.max_instances {
        scale["maxReplicas"] = max.into();
    }
    if let Some(delay) = want.scaling.scale_down_delay_seconds {
        scale["cooldownPeriod"] = delay.into();
    }
    if !model.rules.is_empty() {
        scale["rules"] = model.rules.iter().map(|r| scale_rule(*r)).collect();
    }
    let mut template = json!({"containers": containers, "scale": scale});
    let volumes = volumes(&want.volumes);
    if !volumes.is_empty() {
        template["volumes"] = volumes.into();
    }
    template
}

/// One container of a template: its image, size, command, env, volume mounts and probes (a
/// job's containers have none).
pub(crate) fn container(c: &ContainerModel, size: Size) -> Value {
    let mut out = json!({
        "name": c.name,
        "image": c.image,
        "resources": resources(size),
    });
    if !c.command.is_empty() {
        out["command"] = json!(c.command);
    }
    if !c.args.is_empty() {
        out["args"] = json!(c.args);
    }
    if !c.env.is_empty() {
        out["env"] = c
            .env
            .iter()
            .map(|e| match &e.value {
                EnvValue::Literal(value) => json!({"name": e.name, "value": value}),
                // Validation maps every secret to an app secret, by its name.
                EnvValue::Secret(
                    SecretSource::Store { name, .. } | SecretSource::Kubernetes { name, .. },
                ) => json!({"name": e.name, "secretRef": name}),
            })
            .collect();
    }
    if !c.mounts.is_empty() {
        out["volumeMounts"] = c
            .mounts
            .iter()
            .map(|m| {
                let mut mount = json!({"volumeName": m.volume, "mountPath": m.mount_path});
                if let Some(sub) = &m.sub_path {
                    mount["subPath"] = sub.as_str().into();
                }
                mount
            })
            .collect();
    }
    let probes: Vec<Value> = [
        ("Startup", c.probes.startup.as_ref()),
        ("Readiness", c.probes.readiness.as_ref()),
        ("Liveness", c.probes.liveness.as_ref()),
    ]
    .into_iter()
    .filter_map(|(kind, p)| p.map(|p| probe(kind, p)))
    .collect();
    if !probes.is_empty() {
        out["probes"] = probes.into();
    }
    out
}

/// CPU as a number of cores (`0.5`), memory in Gi (`1Gi`).
#[allow(clippy::cast_precision_loss)] // millicores far below 2^52
fn resources(size: Size) -> Value {
    json!({
        "cpu": size.cpu_millis as f64 / 1000.0,
        "memory": format_centi_gib(size.memory_centi_gib),
    })
}

fn probe(kind: &str, p: &ProbeModel) -> Value {
    let mut out = json!({"type": kind});
    match &p.action {
        ProbeAction::HttpGet {
            path,
            port,
            headers,
        } => {
            let mut get = json!({"path": path, "port": port});
            if !headers.is_empty() {
                get["httpHeaders"] = headers
                    .iter()
                    .map(|(name, value)| json!({"name": name, "value": value}))
                    .collect();
            }
            out["httpGet"] = get;
        }
        // Validation refuses grpc probes; a TCP check of the port is the nearest.
        ProbeAction::TcpSocket { port } | ProbeAction::Grpc { port, .. } => {
            out["tcpSocket"] = json!({"port": port});
        }
    }
    for (field, value) in [
        ("initialDelaySeconds", p.initial_delay_seconds),
        ("periodSeconds", p.period_seconds),
        ("timeoutSeconds", p.timeout_seconds),
        ("failureThreshold", p.failure_threshold),
    ] {
        if let Some(value) = value {
            out[field] = value.into();
        }
    }
    out
}

fn scale_rule(rule: ScaleRule) -> Value {
    let name = rule.name();
    match rule {
        ScaleRule::Http {
            concurrent_requests,
        } => json!({"name": name, "http": {"metadata": {
            "concurrentRequests": concurrent_requests.to_string()}}}),
        ScaleRule::Tcp {
            concurrent_connections,
        } => json!({"name": name, "tcp": {"metadata": {
            "concurrentConnections": concurrent_connections.to_string()}}}),
        ScaleRule::Cpu { utilization } | ScaleRule::Memory { utilization } => json!({
            "name": name,
            "custom": {"type": name, "metadata": {
                "type": "Utilization", "value": utilization.to_string()}},
        }),
    }
}

/// Whether Ferry may manage `app` for the object with `uid`: tagged with that UID, or released
/// by an earlier object of the same name (Ferry's `managed-by` tag, no UID); see
/// [`ferry_azure::resource::ownership`].
pub fn is_ours(app: &Value, uid: Option<&str>) -> bool {
    resource::ownership(app, uid) != Ownership::Foreign
}

/// One reason Azure's app differs from the requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Ferry builds another body than the app was last written from (its fingerprint tag
    /// differs or is missing).
    Spec,
    /// Someone changed this field behind Ferry's back.
    Drift(&'static str),
    /// Ferry's other tags differ: the app is adopted from an earlier object of this name, or
    /// lost its tags.
    Tags,
    /// The app is in another environment than the one Ferry would create it in, which no write
    /// can change (`environmentId` is set at creation only).
    Environment,
}

impl Change {
    /// Whether a PUT can make the change.
    pub fn writable(self) -> bool {
        self != Change::Environment
    }
}

/// What differs between the app Azure describes and `requests`; empty when nothing. Any change
/// is made with one PUT of `requests.body`.
pub fn diff(requests: &Requests, app: &Value) -> Vec<Change> {
    changes(
        requests,
        app,
        &["environmentId", "managedEnvironmentId"],
        drift(&requests.body, app),
    )
}

/// What differs between the resource Azure describes (`have`) and `requests`, given the
/// fields `drifted` behind Ferry's back: the environment (the first of `environment_fields`
/// that `have` sets), the fingerprint, the drifted fields and Ferry's other tags, in this order.
pub(crate) fn changes<K>(
    requests: &Put<K>,
    have: &Value,
    environment_fields: &[&str],
    drifted: Vec<&'static str>,
) -> Vec<Change> {
    let mut changes = Vec::new();
    let environment = |v: &Value| {
        let p = &v["properties"];
        environment_fields
            .iter()
            .find_map(|field| p[*field].as_str())
            .map(str::to_ascii_lowercase)
    };
    if let (Some(want), Some(have)) = (environment(&requests.body), environment(have))
        && want != have
    {
        changes.push(Change::Environment);
    }
    if resource::tag(have, TAG_FINGERPRINT) != Some(requests.fingerprint.as_str()) {
        changes.push(Change::Spec);
    }
    changes.extend(drifted.into_iter().map(Change::Drift));
    if resource::tags_differ(&requests.body, have) {
        changes.push(Change::Tags);
    }
    changes
}

/// The fields Ferry sets that differ in `have`, among those `az containerapp update`,
/// `ingress update`, `revision set-mode` and `ingress traffic set` change. Defaults Azure fills
/// in count as what Ferry leaves out.
fn drift(want: &Value, have: &Value) -> Vec<&'static str> {
    let mut fields = Vec::new();
    let (want_p, have_p) = (&want["properties"], &have["properties"]);
    if images(want_p) != images(have_p) {
        fields.push("template.containers[].image");
    }
    let (want_i, have_i) = (
        &want_p["configuration"]["ingress"],
        &have_p["configuration"]["ingress"],
    );
    if want_i["external"] != have_i["external"] || want_i["targetPort"] != have_i["targetPort"] {
        fields.push("configuration.ingress");
    }
    let mode = |p: &Value| {
        p["configuration"]["activeRevisionsMode"]
            .as_str()
            .unwrap_or("Single")
            .to_ascii_lowercase()
    };
    if mode(want_p) != mode(have_p) {
        fields.push("configuration.activeRevisionsMode");
    }
    if mode(want_p) == "multiple" && traffic(want_i) != traffic(have_i) {
        fields.push("configuration.ingress.traffic");
    }
    let bounds = |p: &Value| {
        let scale = &p["template"]["scale"];
        (
            scale["minReplicas"].as_u64().unwrap_or(0),
            scale["maxReplicas"]
                .as_u64()
                .unwrap_or(u64::from(DEFAULT_MAX_REPLICAS)),
        )
    };
    if bounds(want_p) != bounds(have_p) {
        fields.push("template.scale");
    }
    fields
}

/// The `(name, image)` of each container of the template in `properties`.
pub(crate) fn images(properties: &Value) -> Vec<(&str, &str)> {
    properties["template"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default(),
                c["image"].as_str().unwrap_or_default(),
            )
        })
        .collect()
}

fn traffic(ingress: &Value) -> Vec<(String, u64, bool, String)> {
    let mut split: Vec<_> = ingress["traffic"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["revisionName"].as_str().unwrap_or_default().to_owned(),
                t["weight"].as_u64().unwrap_or(0),
                t["latestRevision"].as_bool().unwrap_or(false),
                t["label"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    split.sort();
    split
}

/// What Ferry needs to read besides the app to tell how it stands: its latest revision, when
/// that is not the latest ready one (a revision rolling out, failing or crash-looping).
pub fn revision_to_read(app: &Value) -> Option<&str> {
    let p = &app["properties"];
    let latest = p["latestRevisionName"].as_str().filter(|r| !r.is_empty())?;
    let state = p["provisioningState"].as_str().unwrap_or_default();
    let ready = p["latestReadyRevisionName"].as_str();
    (state != "InProgress" && state != "Deleting" && ready != Some(latest)).then_some(latest)
}

/// Whether ARM is still working on the app (a PUT now would be refused).
pub fn in_progress(app: &Value) -> bool {
    matches!(
        app["properties"]["provisioningState"].as_str(),
        Some("InProgress" | "Deleting")
    )
}

/// What Azure's app (and its latest revision, when [`revision_to_read`] asked for it) means in
/// Ferry's terms, and what goes into status. `failed_operation` is the error of the operation
/// Ferry last started, when it failed.
pub fn readiness(
    app: &Value,
    revision: Option<&Value>,
    failed_operation: Option<&str>,
) -> (Readiness, Outputs) {
    let p = &app["properties"];
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let url = text(&p["configuration"]["ingress"]["fqdn"]).map(|fqdn| format!("https://{fqdn}"));
    let outputs = Outputs {
        address_url: url.clone(),
        url,
        latest_ready_revision: text(&p["latestReadyRevisionName"]),
        resource_id: text(&app["id"]),
        instances: revision.and_then(replicas),
        ..Outputs::default()
    };
    (app_readiness(app, revision, failed_operation), outputs)
}

fn replicas(revision: &Value) -> Option<(i32, i32)> {
    let running = i32::try_from(revision["properties"]["replicas"].as_i64()?).ok()?;
    Some((running, running))
}

fn app_readiness(
    app: &Value,
    revision: Option<&Value>,
    failed_operation: Option<&str>,
) -> Readiness {
    let p = &app["properties"];
    let latest = p["latestRevisionName"].as_str().unwrap_or_default();
    match p["provisioningState"].as_str().unwrap_or_default() {
        "InProgress" => {
            return Readiness::Progressing(format!(
                "Container Apps is provisioning the app{}",
                revision_note(latest)
            ));
        }
        "Deleting" => return Readiness::Progressing("Container Apps is deleting the app".into()),
        "Canceled" => {
            return Readiness::Progressing(
                "Container Apps canceled the last change to the app: Ferry sends it again".into(),
            );
        }
        "Failed" => return failed(revision, failed_operation),
        _ => {}
    }
    if let Some(revision) = revision
        && let Some(failure) = revision_failure(revision)
    {
        return failure;
    }
    match p["runningStatus"].as_str() {
        Some("Stopped") => Readiness::Failed {
            reason: reasons::REVISION_FAILED,
            message: "the container app is stopped (runningStatus Stopped): start it with `az \
                      containerapp start`"
                .into(),
        },
        Some("Progressing") => Readiness::Progressing(format!(
            "Container Apps is starting the app{}",
            revision_note(latest)
        )),
        _ if revision.is_some() || p["latestReadyRevisionName"].as_str().is_none() => {
            Readiness::Progressing(format!(
                "Container Apps is rolling out{}",
                revision_note(latest)
            ))
        }
        _ => Readiness::Ready,
    }
}

fn revision_note(latest: &str) -> String {
    if latest.is_empty() {
        String::new()
    } else {
        format!(" (revision {latest})")
    }
}

/// A failure of the app: its latest revision's when it says one, else the operation's.
fn failed(revision: Option<&Value>, failed_operation: Option<&str>) -> Readiness {
    if let Some(failure) = revision.and_then(revision_failure) {
        return failure;
    }
    let message = failed_operation.map_or_else(
        || "Container Apps reports that provisioning the app failed, without a message".to_owned(),
        str::to_owned,
    );
    Readiness::Failed {
        reason: failure_reason_in(&message).unwrap_or(reasons::REVISION_FAILED),
        message,
    }
}

/// Whether a revision failed, and how, in one of Ferry's documented reasons.
fn revision_failure(revision: &Value) -> Option<Readiness> {
    let p = &revision["properties"];
    let provisioning = p["provisioningState"].as_str().unwrap_or_default();
    let running = p["runningState"].as_str().unwrap_or_default();
    let health = p["healthState"].as_str().unwrap_or_default();
    let failed = provisioning == "Failed"
        || matches!(running, "Failed" | "Degraded")
        || (health == "Unhealthy" && running != "Processing");
    if !failed {
        return None;
    }
    let name = revision["name"].as_str().unwrap_or("the latest revision");
    let detail = p["provisioningError"]
        .as_str()
        .filter(|m| !m.is_empty())
        .map_or_else(
            || {
                format!(
                    "revision {name} is {running} and {health} (provisioning {provisioning}), \
                     without a message"
                )
            },
            str::to_owned,
        );
    let reason = failure_reason_in(&detail).unwrap_or(if provisioning == "Failed" {
        reasons::REVISION_FAILED
    } else {
        reasons::CONTAINER_FAILED
    });
    Some(Readiness::Failed {
        reason,
        message: detail,
    })
}

/// The documented reason a Container Apps message points to, when it names one.
fn failure_reason_in(message: &str) -> Option<&'static str> {
    let message = message.to_ascii_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| message.contains(w));
    if any(&[
        "manifest_unknown",
        "manifest unknown",
        "imagepull",
        "image pull",
    ]) || (message.contains("image")
        && any(&["not found", "invalid", "denied", "unauthorized", "pull"]))
    {
        Some(reasons::IMAGE_NOT_FOUND)
    } else if any(&[
        "exit code",
        "crashloopbackoff",
        "terminated",
        "probe",
        "failed to start",
        "restarting",
    ]) {
        Some(reasons::CONTAINER_FAILED)
    } else {
        None
    }
}

/// The body that gives `app` (a container app, or a Container Apps job: their read-only
/// properties are among the app's) back to ARM without Ferry's UID tag (`deletionPolicy:
/// Orphan`): what ARM describes with the read-only properties left out, and the copied secrets'
/// `values` put back (ARM never describes a secret's value). `None` when a value secret's value
/// is not among `values`: sending it without one would empty it.
pub fn released(app: &Value, values: &SecretValues) -> Option<Value> {
    let mut body = app.clone();
    let object = body.as_object_mut()?;
    for field in ["id", "name", "type", "systemData"] {
        object.remove(field);
    }
    if let Some(tags) = object.get_mut("tags").and_then(Value::as_object_mut) {
        tags.remove(TAG_UID);
    }
    if let Some(identity) = object.get_mut("identity").and_then(Value::as_object_mut) {
        identity.remove("principalId");
        identity.remove("tenantId");
        for (_, assigned) in identity
            .get_mut("userAssignedIdentities")
            .and_then(Value::as_object_mut)
            .into_iter()
            .flatten()
        {
            if let Some(assigned) = assigned.as_object_mut() {
                assigned.remove("principalId");
                assigned.remove("clientId");
            }
        }
    }
    let properties = object.get_mut("properties")?.as_object_mut()?;
    for field in [
        "provisioningState",
        "runningStatus",
        "latestRevisionName",
        "latestReadyRevisionName",
        "latestRevisionFqdn",
        "customDomainVerificationId",
        "outboundIpAddresses",
        "eventStreamEndpoint",
    ] {
        properties.remove(field);
    }
    // ARM describes both; only environmentId is current.
    if properties.contains_key("environmentId") {
        properties.remove("managedEnvironmentId");
    }
    if let Some(ingress) = properties
        .get_mut("configuration")
        .and_then(|c| c.get_mut("ingress"))
        .and_then(Value::as_object_mut)
    {
        ingress.remove("fqdn");
    }
    for list in ["containers", "initContainers"] {
        for c in properties
            .get_mut("template")
            .and_then(|t| t.get_mut(list))
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(resources) = c.get_mut("resources").and_then(Value::as_object_mut) {
                resources.remove("ephemeralStorage");
            }
        }
    }
    for secret in properties
        .get_mut("configuration")
        .and_then(|c| c.get_mut("secrets"))
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let Some(secret) = secret.as_object_mut() else {
            continue;
        };
        if secret.contains_key("keyVaultUrl") || secret.contains_key("value") {
            continue;
        }
        let name = secret.get("name").and_then(Value::as_str)?;
        let value = values.get(name)?;
        secret.insert("value".into(), value.value.clone().into());
    }
    Some(body)
}
