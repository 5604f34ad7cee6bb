//! The pure half of the Container Instances backend: the `Microsoft.ContainerInstance/
//! containerGroups` PUT body Ferry sends for a desired model, whether what ARM holds already
//! matches it, and what ARM's description of a group means in Ferry's terms. No I/O:
//! `client.rs` sends what this module builds.
//!
//! A PUT replaces the whole group and restarts its containers, so Ferry sends one only when
//! something it sets differs. Two comparisons decide:
//! - **the fingerprint** ([`TAG_FINGERPRINT`]): a hash of the body Ferry built, with each
//!   secure value replaced by the name, key and `resourceVersion` of the Kubernetes Secret it
//!   came from. A spec change, and a change of a copied Secret, changes it. ARM never returns
//!   secure values, so they cannot be compared with what ARM holds; hashing the values
//!   themselves into a tag would let anyone who may read the group's tags test guesses of a
//!   weak secret, which a `resourceVersion` does not.
//! - **drift**: every field of the built body must be in what ARM returns, with the same value
//!   (numbers as numbers, ARM ids and enum words without regard to case, environment variables
//!   by name). What ARM adds (its defaults, `instanceView`, the IP address, `fqdn`) is not
//!   compared, and secure values are not. A field someone removed or changed behind Ferry's
//!   back is put back.
//!
//! Volumes (`ContainerGroupProperties.volumes[]` and `Container.volumeMounts[]`):
//!
//! | `spec.volumes[]` | `Volume` |
//! |---|---|
//! | `azureFile` | `azureFile {shareName, storageAccountName, storageAccountKey, readOnly}`, the key read from `secretRef` |
//! | `emptyDir` | `emptyDir: {}` |
//! | `secret` of a `fromSecret` entry | `secret: {FILE: base64 of the value}` |
//! | `secret` of a `keyVaultUrl` entry | `secretReference: {FILE: the group's secret reference}` |
//!
//! A mount is `{name, mountPath, readOnly}`. ARM answers neither `storageAccountKey` nor a
//! secret volume's files (`"secret": {}`, ContainerGroupsCreateOrUpdate.json's answer): the
//! fingerprint covers them, as it covers secure values.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ferry_api::conditions::reasons;
use ferry_api::{AciPriority, AzureProviderConfig, ContainerInstancesSpec, OsType};
use ferry_azure::resource;
pub use ferry_azure::resource::{
    MANAGED_BY_FERRY, Ownership, TAG_FINGERPRINT, TAG_MANAGED_BY, TAG_OBJECT, TAG_UID, ownership,
    tag,
};
use ferry_core::desired::{
    ContainerModel, Desired, EnvModel, EnvValue, ProbeAction, ProbeModel, SecretSource,
    VolumeModel, VolumeSource,
};
use ferry_core::status::{Outputs, Readiness};
use serde_json::{Map, Value, json};

use crate::limits::{GPU_SKU, RESTART_POLICY};
use crate::model::{Address, ContainerInstancesModel, FileSource};

/// The Container Instances api-version Ferry speaks.
pub const API_VERSION: &str = "2026-05-01";
/// The resource type, after `providers/` in an ARM id.
pub const RESOURCE_TYPE: &str = "Microsoft.ContainerInstance/containerGroups";
/// Strings compared without regard to case: enum words ARM may spell otherwise.
const CASELESS: [&str; 7] = [
    "osType",
    "restartPolicy",
    "type",
    "protocol",
    "scheme",
    "sku",
    "priority",
];

/// Why no request can be built for a desired model.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    /// The desired model is not a Container Instances one.
    #[error("the service is not for provider containerInstances")]
    NotContainerInstances,
    /// A secret of the spec was not read (the client reads every one [`kubernetes_secrets`]
    /// names before building).
    #[error(
        "env {env} of container {container}: the value of key {key} of Secret {secret} was not \
         read"
    )]
    SecretNotRead {
        /// The container.
        container: String,
        /// The variable.
        env: String,
        /// The Secret.
        secret: String,
        /// Its key.
        key: String,
    },
    /// A Secret key a volume copies (an Azure Files account key, a secret file) was not read.
    #[error("volume {volume}: the value of key {key} of Secret {secret} was not read")]
    VolumeSecretNotRead {
        /// The volume.
        volume: String,
        /// The Secret.
        secret: String,
        /// Its key.
        key: String,
    },
    /// A volume Container Instances cannot mount, or one validation did not resolve (a bug
    /// upstream, reported rather than dropped).
    #[error(
        "Container Instances cannot mount volume {volume} ({kind}): it mounts azureFile (with \
         secretRef), emptyDir and secret volumes"
    )]
    UnsupportedVolume {
        /// The volume.
        volume: String,
        /// Its kind.
        kind: &'static str,
    },
    /// A secret reference that is not in the model (validation resolves every secret, so this
    /// is a bug upstream, reported rather than dropped).
    #[error(
        "env {env} of container {container} names secret {secret}, which is not in \
         spec.containerInstances.secrets"
    )]
    UnknownSecret {
        /// The container.
        container: String,
        /// The variable.
        env: String,
        /// The secret's name.
        secret: String,
    },
}

/// Where a group lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Subscription id.
    pub subscription: String,
    /// Resource group.
    pub resource_group: String,
    /// Region.
    pub location: String,
    /// The group's name ([`crate::names::group_name`]).
    pub name: String,
}

impl Target {
    /// The group's ARM id.
    pub fn id(&self) -> String {
        ferry_azure::resource_id(
            &self.subscription,
            &self.resource_group,
            RESOURCE_TYPE,
            &self.name,
        )
    }
}

/// Where the group of `namespace/name` lives, by its raw `spec.containerInstances` over the
/// ProviderConfig's (so that an object whose spec no longer validates can still be deleted).
pub fn target_of(
    namespace: &str,
    name: &str,
    spec: Option<&ContainerInstancesSpec>,
    config: &AzureProviderConfig,
) -> Target {
    Target {
        subscription: config.subscription_id.clone(),
        resource_group: spec
            .and_then(|s| s.resource_group.clone())
            .unwrap_or_else(|| config.resource_group.clone()),
        location: spec
            .and_then(|s| s.location.clone())
            .unwrap_or_else(|| config.location.clone()),
        name: crate::names::group_name(namespace, name),
    }
}

fn model(want: &Desired) -> Result<&ContainerInstancesModel, BuildError> {
    want.backend
        .get::<ContainerInstancesModel>()
        .ok_or(BuildError::NotContainerInstances)
}

/// Where the group of `want` lives under `config`.
pub fn target(want: &Desired, config: &AzureProviderConfig) -> Result<Target, BuildError> {
    let m = model(want)?;
    Ok(Target {
        subscription: config.subscription_id.clone(),
        resource_group: m
            .resource_group
            .clone()
            .unwrap_or_else(|| config.resource_group.clone()),
        location: m
            .location
            .clone()
            .unwrap_or_else(|| config.location.clone()),
        name: crate::names::group_name(&want.object.namespace, &want.object.name),
    })
}

/// A key of a Kubernetes Secret in the service's namespace: `(secret, key)`.
pub type SecretKey = (String, String);

/// What the client read of one Secret key. Its `Debug` leaves the value out.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue {
    /// The value; `None` when only the Secret's metadata was read (enough to compare).
    pub value: Option<String>,
    /// The Secret's `resourceVersion`.
    pub version: String,
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretValue")
            .field("value", &self.value.as_ref().map(|_| "<redacted>"))
            .field("version", &self.version)
            .finish()
    }
}

/// The Secret keys `want` copies, each once: into secure values, Azure Files account keys and
/// secret files.
pub fn kubernetes_secrets(want: &Desired) -> BTreeSet<SecretKey> {
    let env = want
        .containers
        .iter()
        .flat_map(|c| &c.env)
        .filter_map(|e| match &e.value {
            EnvValue::Secret(SecretSource::Kubernetes { name, key }) => {
                Some((name.clone(), key.clone()))
            }
            _ => None,
        });
    let account_keys = want.volumes.iter().filter_map(|v| match &v.source {
        VolumeSource::AzureFile(a) => a
            .secret_ref
            .as_ref()
            .map(|r| (r.name.clone(), r.key.clone())),
        _ => None,
    });
    let files = model(want)
        .map(|m| m.secret_files.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|f| match &f.source {
            FileSource::Kubernetes { secret, key } => Some((secret.clone(), key.clone())),
            FileSource::KeyVault { .. } => None,
        });
    env.chain(account_keys).chain(files).collect()
}

/// One PUT of a container group. Its `Debug` leaves the body out: it carries secure values,
/// storage account keys and secret files.
#[derive(Clone, PartialEq)]
pub struct Request {
    /// Where.
    pub target: Target,
    /// The body.
    pub body: Value,
    /// The fingerprint of what the body does (also its [`TAG_FINGERPRINT`] tag).
    pub fingerprint: String,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("target", &self.target)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl Request {
    /// The request as `ferry render` prints it: method, ARM path with its api-version, body.
    pub fn rendered(&self) -> Value {
        json!({
            "method": "PUT",
            "path": format!("{}?api-version={API_VERSION}", self.target.id()),
            "body": self.body,
        })
    }
}

/// How a secure value is written: the value (sent), or what identifies it (fingerprinted).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Secure {
    Value,
    Version,
}

/// The PUT for `want` under `config`, with the Secret keys it copies from `secrets`.
pub fn request(
    want: &Desired,
    config: &AzureProviderConfig,
    secrets: &BTreeMap<SecretKey, SecretValue>,
) -> Result<Request, BuildError> {
    let m = model(want)?;
    let target = target(want, config)?;
    let mut what = Map::new();
    what.insert("location".into(), Value::String(target.location.clone()));
    if let Some(identity) = &m.identity {
        what.insert(
            "identity".into(),
            json!({"type": "UserAssigned", "userAssignedIdentities": {identity.as_str(): {}}}),
        );
    }
    let mut fingerprinted = what.clone();
    fingerprinted.insert(
        "properties".into(),
        properties(want, m, secrets, Secure::Version)?,
    );
    let fingerprint = resource::fingerprint(Value::Object(fingerprinted));

    let mut body = Map::new();
    body.insert("location".into(), what["location"].clone());
    body.insert(
        "tags".into(),
        Value::Object(resource::tags(&want.object, &fingerprint)),
    );
    if let Some(identity) = what.get("identity") {
        body.insert("identity".into(), identity.clone());
    }
    body.insert(
        "properties".into(),
        properties(want, m, secrets, Secure::Value)?,
    );
    Ok(Request {
        target,
        body: Value::Object(body),
        fingerprint,
    })
}

/// The placeholder `ferry render` shows for a value copied from a Secret.
pub fn secret_placeholder(namespace: &str, (secret, key): &SecretKey) -> String {
    format!("<value of key {key} of Secret {namespace}/{secret}>")
}

fn properties(
    want: &Desired,
    m: &ContainerInstancesModel,
    secrets: &BTreeMap<SecretKey, SecretValue>,
    secure: Secure,
) -> Result<Value, BuildError> {
    let containers = want
        .containers
        .iter()
        .zip(&m.sizes)
        .map(|(c, size)| container(c, *size, m, secrets, secure))
        .collect::<Result<Vec<_>, _>>()?;
    let mut p = Map::new();
    p.insert("containers".into(), Value::Array(containers));
    p.insert(
        "osType".into(),
        match m.os_type {
            OsType::Linux => "Linux",
            OsType::Windows => "Windows",
        }
        .into(),
    );
    p.insert("restartPolicy".into(), RESTART_POLICY.into());
    let port = want.serving().port;
    match &m.address {
        Address::Public { dns_name_label } => {
            p.insert(
                "ipAddress".into(),
                json!({
                    "type": "Public",
                    "ports": group_ports(port),
                    "dnsNameLabel": dns_name_label,
                }),
            );
        }
        Address::Private { subnet_ids } => {
            p.insert(
                "ipAddress".into(),
                json!({"type": "Private", "ports": group_ports(port)}),
            );
            p.insert(
                "subnetIds".into(),
                subnet_ids.iter().map(|id| json!({"id": id})).collect(),
            );
        }
        Address::None => {}
    }
    p.insert(
        "priority".into(),
        match m.priority {
            AciPriority::Regular => "Regular",
            AciPriority::Spot => "Spot",
        }
        .into(),
    );
    p.insert("sku".into(), "Standard".into());
    if !want.volumes.is_empty() {
        let volumes = want
            .volumes
            .iter()
            .map(|v| volume(v, m, secrets, secure))
            .collect::<Result<Vec<_>, _>>()?;
        p.insert("volumes".into(), Value::Array(volumes));
    }
    if let Some(identity) = &m.identity
        && !m.key_vault.is_empty()
    {
        p.insert(
            "secretReferences".into(),
            m.key_vault
                .iter()
                .map(|s| json!({"name": s.name, "identity": identity, "secretReferenceUri": s.url}))
                .collect(),
        );
    }
    Ok(Value::Object(p))
}

/// One `Volume`, with the Secret values it copies (or, fingerprinted, their versions).
fn volume(
    v: &VolumeModel,
    m: &ContainerInstancesModel,
    secrets: &BTreeMap<SecretKey, SecretValue>,
    secure: Secure,
) -> Result<Value, BuildError> {
    let copied = |secret: &str, key: &str| -> Result<String, BuildError> {
        match (secure, secrets.get(&(secret.to_owned(), key.to_owned()))) {
            (Secure::Version, Some(read)) => Ok(format!("secret:{secret}/{key}@{}", read.version)),
            (Secure::Value, Some(read)) => Ok(read.value.clone().unwrap_or_default()),
            (_, None) => Err(BuildError::VolumeSecretNotRead {
                volume: v.name.clone(),
                secret: secret.to_owned(),
                key: key.to_owned(),
            }),
        }
    };
    let unsupported = || BuildError::UnsupportedVolume {
        volume: v.name.clone(),
        kind: v.source.kind(),
    };
    let mut out = Map::new();
    out.insert("name".into(), v.name.clone().into());
    match &v.source {
        VolumeSource::AzureFile(a) => {
            let r = a.secret_ref.as_ref().ok_or_else(unsupported)?;
            let mut file = Map::new();
            file.insert("shareName".into(), a.share_name.clone().into());
            file.insert(
                "storageAccountName".into(),
                a.storage_account.clone().into(),
            );
            file.insert("storageAccountKey".into(), copied(&r.name, &r.key)?.into());
            // Sent only when true: what ARM answers for an unset flag is not Ferry's.
            if a.read_only == Some(true) {
                file.insert("readOnly".into(), true.into());
            }
            out.insert("azureFile".into(), Value::Object(file));
        }
        // `Volume.emptyDir` has no type in the definitions; ACI's own example sends `{}`.
        VolumeSource::EmptyDir { .. } => {
            out.insert("emptyDir".into(), json!({}));
        }
        VolumeSource::Secret(_) => {
            let file = m
                .secret_files
                .iter()
                .find(|f| f.volume == v.name)
                .ok_or_else(unsupported)?;
            match &file.source {
                FileSource::Kubernetes { secret, key } => {
                    let value = copied(secret, key)?;
                    let content = match secure {
                        Secure::Value => BASE64.encode(value),
                        Secure::Version => value,
                    };
                    out.insert("secret".into(), json!({ file.file.as_str(): content }));
                }
                FileSource::KeyVault { reference } => {
                    out.insert(
                        "secretReference".into(),
                        json!({ file.file.as_str(): reference }),
                    );
                }
            }
        }
        VolumeSource::Nfs(_) | VolumeSource::Efs(_) | VolumeSource::Gcs(_) => {
            return Err(unsupported());
        }
    }
    Ok(Value::Object(out))
}

fn group_ports(port: Option<u16>) -> Value {
    port.map_or_else(|| json!([]), |p| json!([{"protocol": "TCP", "port": p}]))
}

fn container(
    c: &ContainerModel,
    (cpu_millis, memory_tenths): (u64, u64),
    m: &ContainerInstancesModel,
    secrets: &BTreeMap<SecretKey, SecretValue>,
    secure: Secure,
) -> Result<Value, BuildError> {
    let mut p = Map::new();
    p.insert("image".into(), c.image.clone().into());
    if !c.command.is_empty() {
        // ACI has one list: the entrypoint and its arguments (validation refuses args alone).
        let command: Vec<&String> = c.command.iter().chain(&c.args).collect();
        p.insert("command".into(), json!(command));
    }
    if let Some(port) = c.port {
        p.insert("ports".into(), json!([{"protocol": "TCP", "port": port}]));
    }
    if !c.env.is_empty() {
        let env = c
            .env
            .iter()
            .map(|e| env_var(c, e, m, secrets, secure))
            .collect::<Result<Vec<_>, _>>()?;
        p.insert("environmentVariables".into(), Value::Array(env));
    }
    let mut requests = Map::new();
    requests.insert("memoryInGB".into(), json!(tenths_f64(memory_tenths)));
    requests.insert("cpu".into(), json!(tenths_f64(cpu_millis / 100)));
    if let Some(gpu) = &c.resources.gpu {
        requests.insert("gpu".into(), json!({"count": gpu.count, "sku": GPU_SKU}));
    }
    p.insert("resources".into(), json!({"requests": requests}));
    if !c.mounts.is_empty() {
        let mounts = c
            .mounts
            .iter()
            .map(|mount| {
                let mut out = json!({"name": mount.volume, "mountPath": mount.mount_path});
                // Sent only when true, as azureFile.readOnly.
                if mount.read_only {
                    out["readOnly"] = true.into();
                }
                out
            })
            .collect();
        p.insert("volumeMounts".into(), Value::Array(mounts));
    }
    if let Some(probe) = &c.probes.liveness {
        p.insert("livenessProbe".into(), self::probe(probe));
    }
    if let Some(probe) = &c.probes.readiness {
        p.insert("readinessProbe".into(), self::probe(probe));
    }
    Ok(json!({"name": c.name, "properties": p}))
}

/// Tenths as a number: `15` is `1.5`. Exact for what validation accepts.
#[allow(clippy::cast_precision_loss)] // a few thousand tenths at most
fn tenths_f64(t: u64) -> f64 {
    t as f64 / 10.0
}

fn env_var(
    c: &ContainerModel,
    e: &EnvModel,
    m: &ContainerInstancesModel,
    secrets: &BTreeMap<SecretKey, SecretValue>,
    secure: Secure,
) -> Result<Value, BuildError> {
    match &e.value {
        EnvValue::Literal(value) => Ok(json!({"name": e.name, "value": value})),
        EnvValue::Secret(SecretSource::Kubernetes { name, key }) => {
            let read = secrets.get(&(name.clone(), key.clone()));
            let value = match (secure, read) {
                (Secure::Version, Some(read)) => format!("secret:{name}/{key}@{}", read.version),
                (Secure::Value, Some(SecretValue { value: Some(v), .. })) => v.clone(),
                // Only the metadata was read: the body is compared, never sent.
                (Secure::Value, Some(SecretValue { value: None, .. })) => String::new(),
                (_, None) => {
                    return Err(BuildError::SecretNotRead {
                        container: c.name.clone(),
                        env: e.name.clone(),
                        secret: name.clone(),
                        key: key.clone(),
                    });
                }
            };
            Ok(json!({"name": e.name, "secureValue": value}))
        }
        EnvValue::Secret(SecretSource::Store { name, .. }) => {
            if !m.key_vault.iter().any(|s| &s.name == name) {
                return Err(BuildError::UnknownSecret {
                    container: c.name.clone(),
                    env: e.name.clone(),
                    secret: name.clone(),
                });
            }
            Ok(json!({"name": e.name, "secureValueReference": name}))
        }
    }
}

fn probe(p: &ProbeModel) -> Value {
    let mut out = Map::new();
    if let ProbeAction::HttpGet {
        path,
        port,
        headers,
    } = &p.action
    {
        let mut get = Map::new();
        get.insert("path".into(), path.clone().into());
        get.insert("port".into(), (*port).into());
        get.insert("scheme".into(), "http".into());
        if !headers.is_empty() {
            get.insert(
                "httpHeaders".into(),
                headers
                    .iter()
                    .map(|(name, value)| json!({"name": name, "value": value}))
                    .collect(),
            );
        }
        out.insert("httpGet".into(), Value::Object(get));
    }
    for (field, value) in [
        ("initialDelaySeconds", p.initial_delay_seconds),
        ("periodSeconds", p.period_seconds),
        ("timeoutSeconds", p.timeout_seconds),
        ("failureThreshold", p.failure_threshold),
    ] {
        if let Some(v) = value {
            out.insert(field.into(), v.into());
        }
    }
    Value::Object(out)
}

/// One reason ARM's group differs from the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Ferry builds something else than the group was last written from (its fingerprint tag
    /// differs or is missing).
    Spec,
    /// A field Ferry sets has another value at ARM (or is gone), by its JSON path.
    Drift(String),
    /// Ferry's identity tags differ: the group is adopted, or lost a tag.
    Tags,
}

/// What differs between ARM's `group` and `request`; empty when nothing. Any change is made
/// with one PUT of `request.body`.
pub fn diff(request: &Request, group: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    if tag(group, TAG_FINGERPRINT) != Some(request.fingerprint.as_str()) {
        changes.push(Change::Spec);
    }
    let want = &request.body;
    if normal_location(want["location"].as_str()) != normal_location(group["location"].as_str()) {
        changes.push(Change::Drift("location".into()));
    }
    let mut drift = Vec::new();
    for field in ["identity", "properties"] {
        if let Some(w) = want.get(field) {
            covers(w, field_of(group, field), field, &mut drift);
        }
    }
    changes.extend(drift.into_iter().map(Change::Drift));
    if resource::tags_differ(want, group) {
        changes.push(Change::Tags);
    }
    changes
}

/// `West Europe` and `westeurope` are one region.
fn normal_location(location: Option<&str>) -> Option<String> {
    location.map(|l| {
        l.chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_lowercase())
            .collect()
    })
}

/// `object[key]`, by exact key first, then without regard to case (ARM ids as map keys).
fn field_of<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    let map = object.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Records in `out` the paths where `have` lacks or contradicts what `want` says.
fn covers(want: &Value, have: Option<&Value>, path: &str, out: &mut Vec<String>) {
    let Some(have) = have else {
        out.push(path.to_owned());
        return;
    };
    let key = path.rsplit(['.', ']']).next().unwrap_or_default();
    match want {
        Value::Object(fields) => {
            if !have.is_object() {
                out.push(path.to_owned());
                return;
            }
            for (k, w) in fields {
                // ARM never returns secure values, account keys or secret files (it answers
                // `"secret": {}`): the fingerprint covers them.
                if k == "secureValue"
                    || k == "storageAccountKey"
                    || (k == "secret" && path.starts_with("properties.volumes["))
                {
                    continue;
                }
                covers(w, field_of(have, k), &format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) => {
            let Some(got) = have.as_array() else {
                out.push(path.to_owned());
                return;
            };
            if items.len() != got.len() {
                out.push(path.to_owned());
                return;
            }
            if key == "environmentVariables" {
                for w in items {
                    let name = &w["name"];
                    let h = got.iter().find(|h| &h["name"] == name);
                    covers(
                        w,
                        h,
                        &format!("{path}[{}]", name.as_str().unwrap_or("?")),
                        out,
                    );
                }
            } else {
                for (i, (w, h)) in items.iter().zip(got).enumerate() {
                    covers(w, Some(h), &format!("{path}[{i}]"), out);
                }
            }
        }
        Value::String(w) => {
            let same = have.as_str().is_some_and(|h| {
                h == w
                    || ((CASELESS.contains(&key) || w.starts_with("/subscriptions/"))
                        && h.eq_ignore_ascii_case(w))
            });
            if !same {
                out.push(path.to_owned());
            }
        }
        Value::Number(w) => {
            let same = match (w.as_f64(), have.as_f64()) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-9,
                _ => false,
            };
            if !same {
                out.push(path.to_owned());
            }
        }
        Value::Bool(_) | Value::Null => {
            if want != have {
                out.push(path.to_owned());
            }
        }
    }
}

/// What ARM's `group` means in Ferry's terms, and what goes into status.
pub fn readiness(group: &Value) -> (Readiness, Outputs) {
    let properties = &group["properties"];
    let readiness = group_readiness(properties);
    let ready = readiness == Readiness::Ready;
    let url = url(&properties["ipAddress"]);
    let outputs = Outputs {
        address_url: url.clone(),
        url,
        resource_id: group["id"].as_str().map(str::to_owned),
        instances: Some((1, i32::from(ready))),
        ..Outputs::default()
    };
    (readiness, outputs)
}

/// `http://FQDN:PORT` for a public group with a DNS label, `http://IP:PORT` otherwise; none
/// before ARM assigned an address.
fn url(ip: &Value) -> Option<String> {
    let port = ip["ports"].get(0).and_then(|p| p["port"].as_u64())?;
    let host = ip["fqdn"]
        .as_str()
        .filter(|f| !f.is_empty() && ip["type"].as_str() != Some("Private"))
        .or_else(|| ip["ip"].as_str().filter(|i| !i.is_empty()))?;
    Some(format!("http://{host}:{port}"))
}

fn group_readiness(properties: &Value) -> Readiness {
    let provisioning = properties["provisioningState"].as_str().unwrap_or_default();
    let state = properties["instanceView"]["state"]
        .as_str()
        .unwrap_or_default();
    let containers = properties["containers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let trouble = containers.iter().find_map(container_trouble);
    if let Some(failed) = trouble.clone() {
        // A pull that fails or a crash loop does not go away by waiting.
        if provisioning.eq_ignore_ascii_case("Failed") || failed.0 == reasons::IMAGE_NOT_FOUND {
            return Readiness::Failed {
                reason: failed.0,
                message: failed.1,
            };
        }
        if !provisioning.eq_ignore_ascii_case("Succeeded") {
            return Readiness::Progressing(failed.1);
        }
        return Readiness::Failed {
            reason: failed.0,
            message: failed.1,
        };
    }
    if provisioning.eq_ignore_ascii_case("Failed") {
        let message = group_event(properties).unwrap_or_else(|| {
            "Container Instances reports that deploying the container group failed, without a \
             message"
                .to_owned()
        });
        return Readiness::Failed {
            reason: failure_reason_in(&message).unwrap_or(reasons::REVISION_FAILED),
            message,
        };
    }
    if provisioning.eq_ignore_ascii_case("Succeeded") {
        if state.eq_ignore_ascii_case("Stopped") {
            return Readiness::Failed {
                reason: reasons::REVISION_FAILED,
                message: "the container group is stopped (someone ran `az container stop`): \
                          start it with `az container start`"
                    .into(),
            };
        }
        let running = |c: &Value| {
            c["properties"]["instanceView"]["currentState"]["state"].as_str() == Some("Running")
        };
        if state.eq_ignore_ascii_case("Running") && containers.iter().all(running) {
            return Readiness::Ready;
        }
    }
    let provisioning = if provisioning.is_empty() {
        "unknown"
    } else {
        provisioning
    };
    let state = if state.is_empty() { "none yet" } else { state };
    Readiness::Progressing(format!(
        "Container Instances is deploying the container group (provisioningState {provisioning}, \
         state {state})"
    ))
}

/// The reason and message of a container that cannot run: an image that cannot be pulled, or
/// a container that keeps exiting.
fn container_trouble(container: &Value) -> Option<(&'static str, String)> {
    let name = container["name"].as_str().unwrap_or("?");
    let view = &container["properties"]["instanceView"];
    let current = &view["currentState"];
    let detail = current["detailStatus"].as_str().unwrap_or_default();
    let events = view["events"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let pull_failure = events.iter().rev().find(|e| {
        e["name"].as_str() == Some("Failed")
            && e["message"]
                .as_str()
                .is_some_and(|m| m.to_ascii_lowercase().contains("pull"))
    });
    if ["ErrImagePull", "ImagePullBackOff", "InvalidImageName"]
        .iter()
        .any(|d| detail.contains(d))
        || pull_failure.is_some()
    {
        let message = pull_failure
            .and_then(|e| e["message"].as_str())
            .map_or_else(
                || format!("container {name} cannot pull its image ({detail})"),
                |m| format!("container {name}: {m}"),
            );
        return Some((reasons::IMAGE_NOT_FOUND, message));
    }
    let restarts = view["restartCount"].as_u64().unwrap_or(0);
    let state = current["state"].as_str().unwrap_or_default();
    if detail.contains("CrashLoopBackOff") || state == "Terminated" {
        let previous = &view["previousState"];
        let exit = previous["exitCode"]
            .as_i64()
            .or_else(|| current["exitCode"].as_i64())
            .map(|c| format!(" with exit code {c}"))
            .unwrap_or_default();
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" ({detail})")
        };
        return Some((
            reasons::CONTAINER_FAILED,
            format!(
                "container {name} exited{exit} and was restarted {restarts} times{detail}: read \
                 its logs with `az container logs --container-name {name}`"
            ),
        ));
    }
    None
}

/// The group's latest warning event, as a message.
fn group_event(properties: &Value) -> Option<String> {
    properties["instanceView"]["events"]
        .as_array()?
        .iter()
        .rev()
        .find(|e| e["type"].as_str() == Some("Warning"))
        .and_then(|e| e["message"].as_str())
        .map(str::to_owned)
}

/// The documented reason an ARM error code or message points to, when it names one.
pub fn failure_reason_in(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("inaccessibleimage")
        || (lower.contains("image")
            && ["not accessible", "not found", "pull", "denied"]
                .iter()
                .any(|w| lower.contains(w)))
    {
        Some(reasons::IMAGE_NOT_FOUND)
    } else if ["crashloop", "exited", "back-off restarting"]
        .iter()
        .any(|w| lower.contains(w))
    {
        Some(reasons::CONTAINER_FAILED)
    } else {
        None
    }
}

/// What a failed operation means, by its ARM error.
pub fn operation_failure(code: &str, message: &str) -> Readiness {
    Readiness::Failed {
        reason: failure_reason_in(code)
            .or_else(|| failure_reason_in(message))
            .unwrap_or(reasons::REVISION_FAILED),
        message: format!("{code}: {message}"),
    }
}
