//! What the in-cluster backends (Knative and plain Kubernetes) share in the objects they apply:
//! containers as a pod spec holds them, Ferry's owner reference and fingerprint, and whether a
//! live object as the API server returns it already has what Ferry applied. Pure: the backends'
//! clients send and read.

use serde_json::{Map, Value, json};

use crate::desired::{
    ContainerModel, EnvValue, ObjectRef, ProbeModel, ResourcesModel, SecretSource,
};
use crate::quantity::{kube_bytes, kube_cpu};

/// Fingerprint of what Ferry last applied to an object (see [`stamp_fingerprint`]).
pub const FINGERPRINT_ANNOTATION: &str = "ferry.dev/applied-fingerprint";

/// Which probe of a container [`container`] asks its caller to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// `startupProbe`.
    Startup,
    /// `readinessProbe`.
    Readiness,
    /// `livenessProbe`.
    Liveness,
}

/// One container of a pod spec; `serving_port` is set on the container that takes the traffic,
/// and `probe` writes each probe (Knative and a plain pod differ in what a probe may name).
pub fn container(
    c: &ContainerModel,
    serving_port: Option<u16>,
    probe: &dyn Fn(&ProbeModel, ProbeKind) -> Value,
) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), c.name.clone().into());
    out.insert("image".into(), c.image.clone().into());
    if !c.command.is_empty() {
        out.insert("command".into(), c.command.clone().into());
    }
    if !c.args.is_empty() {
        out.insert("args".into(), c.args.clone().into());
    }
    if let Some(port) = serving_port {
        out.insert("ports".into(), json!([{ "containerPort": port }]));
    }
    if !c.env.is_empty() {
        let env: Vec<Value> = c
            .env
            .iter()
            .map(|e| match &e.value {
                EnvValue::Literal(value) => json!({ "name": e.name, "value": value }),
                EnvValue::Secret(secret) => {
                    json!({ "name": e.name, "valueFrom": value_from(secret) })
                }
            })
            .collect();
        out.insert("env".into(), env.into());
    }
    if let Some(resources) = resources(&c.resources) {
        out.insert("resources".into(), resources);
    }
    let probes = [
        ("startupProbe", &c.probes.startup, ProbeKind::Startup),
        ("readinessProbe", &c.probes.readiness, ProbeKind::Readiness),
        ("livenessProbe", &c.probes.liveness, ProbeKind::Liveness),
    ];
    for (field, model, kind) in probes {
        if let Some(p) = model {
            out.insert(field.into(), probe(p, kind));
        }
    }
    out.into()
}

fn value_from(secret: &SecretSource) -> Value {
    match secret {
        SecretSource::Kubernetes { name, key } => {
            json!({ "secretKeyRef": { "name": name, "key": key } })
        }
        // Validation resolves every secret of an in-cluster backend to a Kubernetes one.
        // Should another kind reach here, an empty source makes the API server refuse the
        // object with a message, where leaving the variable out would start the container
        // without it.
        SecretSource::Store { .. } => json!({}),
    }
}

/// Requests and limits, equal (the pod is then in the Guaranteed class, and EKS sizes a
/// Fargate pod from them); GPUs as limits only, as Kubernetes takes an extended resource.
fn resources(r: &ResourcesModel) -> Option<Value> {
    let mut amounts = Map::new();
    if let Some(millis) = r.cpu_millis {
        amounts.insert("cpu".into(), kube_cpu(millis).into());
    }
    if let Some(bytes) = r.memory_bytes {
        amounts.insert("memory".into(), kube_bytes(bytes).into());
    }
    if let Some(bytes) = r.ephemeral_storage_bytes {
        amounts.insert("ephemeral-storage".into(), kube_bytes(bytes).into());
    }
    let mut limits = amounts.clone();
    if let Some(gpu) = &r.gpu {
        limits.insert("nvidia.com/gpu".into(), gpu.count.to_string().into());
    }
    let mut out = Map::new();
    if !amounts.is_empty() {
        out.insert("requests".into(), amounts.into());
    }
    if !limits.is_empty() {
        out.insert("limits".into(), limits.into());
    }
    (!out.is_empty()).then(|| out.into())
}

/// The owner reference that makes an object `object`'s (the garbage collector deletes it with
/// it), when the object has a UID: offline rendering has none, and a reference without one is
/// invalid.
pub fn owner_references(object: &ObjectRef) -> Option<Value> {
    owner_references_of(object, "ServerlessService")
}

/// [`owner_references`] naming a Ferry object of `kind` (`ServerlessJob`).
pub fn owner_references_of(object: &ObjectRef, kind: &str) -> Option<Value> {
    let uid = object.uid.as_ref()?;
    Some(json!([{
        "apiVersion": ferry_api::API_VERSION,
        "kind": kind,
        "name": object.name,
        "uid": uid,
        "controller": true,
        "blockOwnerDeletion": true,
    }]))
}

/// Records what Ferry applied in the object's annotations, so that [`is_up_to_date`] notices
/// a field Ferry *stopped* setting: comparing a subset cannot, and without a fresh apply
/// server-side apply never removes it.
pub fn stamp_fingerprint(object: &mut Value) {
    // serde_json's maps are sorted, so the text (and its fingerprint) is canonical.
    let fingerprint = crate::names::fingerprint(&object.to_string());
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.insert(FINGERPRINT_ANNOTATION.into(), fingerprint.into());
        }
    }
}

/// The fingerprint an object carries.
pub fn fingerprint_of(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(FINGERPRINT_ANNOTATION))
        .and_then(Value::as_str)
}

/// Whether `live` (as read from the API server, with defaults filled in and status) already has
/// everything `want` sets: every field of `want` present in `live` with an equal value; lists
/// compared item by item (same length, each `want` item a subset of the `live` item at the same
/// position). Extra fields in `live` (defaults, status, managedFields, other managers' labels)
/// do not matter. The fingerprint annotation is part of `want`, so an object last applied from
/// a different rendering is never up to date, even when the difference is a field no longer
/// set.
///
/// One exception: `metadata.ownerReferences` is merged by UID under server-side apply, so other
/// owners' references may sit beside Ferry's; each wanted reference must be there, in any
/// position.
pub fn is_up_to_date(want: &Value, live: &Value) -> bool {
    match (want, live) {
        (Value::Object(w), Value::Object(l)) => w.iter().all(|(key, w)| {
            l.get(key).is_some_and(|l| match key.as_str() {
                "metadata" => metadata_contains(w, l),
                _ => contains(w, l),
            })
        }),
        _ => want == live,
    }
}

/// Whether `live`'s metadata has everything `want`'s has: for a copy whose spec is known to be
/// the one wanted (its fingerprint and generation say so), what [`is_up_to_date`] still needs.
pub fn metadata_up_to_date(want: &Value, live: &Value) -> bool {
    match (want.get("metadata"), live.get("metadata")) {
        (Some(want), Some(live)) => metadata_contains(want, live),
        (None, _) => true,
        (Some(_), None) => false,
    }
}

/// [`contains`] for `metadata`, where owner references are a set keyed by UID.
fn metadata_contains(want: &Value, live: &Value) -> bool {
    match (want, live) {
        (Value::Object(w), Value::Object(l)) => w.iter().all(|(key, w)| {
            l.get(key).is_some_and(|l| match (key.as_str(), w, l) {
                ("ownerReferences", Value::Array(w), Value::Array(l)) => {
                    w.iter().all(|w| l.iter().any(|l| contains(w, l)))
                }
                _ => contains(w, l),
            })
        }),
        _ => want == live,
    }
}

/// Whether `live` has everything `want` has (see [`is_up_to_date`]).
fn contains(want: &Value, live: &Value) -> bool {
    match (want, live) {
        (Value::Object(w), Value::Object(l)) => w
            .iter()
            .all(|(key, w)| l.get(key).is_some_and(|l| contains(w, l))),
        (Value::Array(w), Value::Array(l)) => {
            w.len() == l.len() && w.iter().zip(l).all(|(w, l)| contains(w, l))
        }
        _ => want == live,
    }
}

/// How an in-cluster backend reads `env[].secret` at `path`: a key of a Kubernetes Secret in
/// the service's namespace. `reader` names who reads it in messages (`Knative`, `pods`).
pub fn secret_key(
    f: &mut crate::Findings,
    path: &str,
    secret: &ferry_api::SecretRef,
    reader: &str,
) -> Option<SecretSource> {
    let Some(key) = &secret.key else {
        f.invalid(
            format!("{path}.key"),
            format!("{reader} reads a key of a Kubernetes Secret: set the key"),
        );
        return None;
    };
    if !crate::names::is_dns_subdomain(&secret.name) {
        f.invalid(
            format!("{path}.name"),
            format!(
                "{reader} reads a Kubernetes Secret, whose name is a DNS subdomain (lower-case \
                 letters, digits, '-' and '.'); got {:?}",
                secret.name
            ),
        );
        return None;
    }
    Some(SecretSource::Kubernetes {
        name: secret.name.clone(),
        key: key.clone(),
    })
}

/// Records an error for every entry of `labels` (at `path`, e.g. `spec.kubernetes.nodeSelector`)
/// that is not a valid Kubernetes label, as the API server would refuse it when the object is
/// applied.
pub fn check_labels<'a>(
    f: &mut crate::Findings,
    path: &str,
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
) {
    use crate::names::{is_label_key, is_label_value};
    for (key, value) in labels {
        if !is_label_key(key) {
            f.invalid(
                format!("{path}[{key}]"),
                format!(
                    "not a Kubernetes label key: an optional DNS subdomain and '/', then at most \
                     63 letters, digits, '-', '_' and '.', beginning and ending with a letter or \
                     digit; got {key:?}"
                ),
            );
        } else if !is_label_value(value) {
            f.invalid(
                format!("{path}[{key}]"),
                format!(
                    "not a Kubernetes label value: empty, or at most 63 letters, digits, '-', '_' \
                     and '.', beginning and ending with a letter or digit; got {value:?}"
                ),
            );
        }
    }
}
