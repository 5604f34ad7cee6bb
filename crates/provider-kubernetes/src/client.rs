//! The plain Kubernetes backend's I/O: server-side apply of the objects that
//! [`build`](crate::build) describes (field manager `ferry`, strict field validation so an
//! unknown field fails instead of being dropped), deleting the ones no longer wanted, reading
//! them back (from the controller's watch caches when Ferry knows the copy there is its own),
//! the pods' troubles while a rollout is stuck, and releasing everything on
//! `deletionPolicy: Orphan`. The PersistentVolume and claim of each efs volume are created
//! before the Deployment that mounts them and deleted once no longer wanted
//! ([`ferry_provider::cluster_volumes::client`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use ferry_api::ServerlessService;
use ferry_api::conditions::reasons;
use ferry_core::desired::{Desired, ObjectRef};
use ferry_core::status::Readiness;
use ferry_provider::backend::Caches;
use ferry_provider::in_cluster::{self, Subject, is_ours, is_unserved, release_patch, to_value};
use ferry_provider::{Connector, Deletion, ExternalClient, Observation, ProviderError, Started};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use crate::build::{self, FIELD_MANAGER, Kind, SELECTOR_LABEL};
use ferry_provider::cluster_volumes::client::Claims;

/// How long to wait before looking again for the VerticalPodAutoscaler CRD once it was missing.
pub const VPA_RECHECK: Duration = Duration::from_secs(60);

/// The field manager that holds a Deployment's replica count between Ferry's last apply of it
/// and the autoscaler's first change ([`KubernetesClient::hand_over_replicas`]).
pub const REPLICAS_MANAGER: &str = "ferry-replicas";

/// Most pods read to find why a rollout (or a job's run) is stuck: they all run one template,
/// so the first few say why.
pub(crate) const POD_LIST_LIMIT: u32 = 50;

/// The resource of `kind`.
pub fn api_resource(kind: Kind) -> ApiResource {
    let (group, version, name, plural) = kind.gvk();
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, name), plural)
}

/// `v1` Pods.
pub(crate) fn pods() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "Pod"), "pods")
}

/// What the controller's watch cache keeps of each object this backend makes: its metadata,
/// and the fields [`build::readiness`] reads of a Deployment and an Ingress (by what the object
/// holds: a listed object need not carry its kind).
pub fn keep_in_cache(object: &mut DynamicObject) {
    const KEPT: [&str; 8] = [
        "/spec/replicas",
        "/spec/rules/0/host",
        "/status/observedGeneration",
        "/status/replicas",
        "/status/updatedReplicas",
        "/status/readyReplicas",
        "/status/availableReplicas",
        "/status/loadBalancer/ingress/0",
    ];
    let mut kept = json!({});
    for pointer in KEPT {
        if let Some(found) = object.data.pointer(pointer) {
            set(&mut kept, pointer, found.clone());
        }
    }
    if let Some(conditions) = object
        .data
        .pointer("/status/conditions")
        .and_then(Value::as_array)
    {
        let trimmed: Vec<Value> = conditions
            .iter()
            .map(|c| {
                ["type", "status", "reason", "message"]
                    .into_iter()
                    .filter_map(|f| Some((f.to_owned(), c.get(f)?.clone())))
                    .collect::<serde_json::Map<_, _>>()
            })
            .map(Value::Object)
            .collect();
        set(&mut kept, "/status/conditions", Value::Array(trimmed));
    }
    object.data = kept;
}

/// Sets `pointer` (object keys, or `0` for a list's first item) in `target`.
fn set(target: &mut Value, pointer: &str, value: Value) {
    let mut at = target;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        let is_last = i + 1 == parts.len();
        if *part == "0" {
            if !at.is_array() {
                *at = Value::Array(Vec::new());
            }
            let Some(list) = at.as_array_mut() else {
                return;
            };
            if list.is_empty() {
                list.push(Value::Null);
            }
            at = &mut list[0];
        } else {
            if !at.is_object() {
                *at = json!({});
            }
            let Some(map) = at.as_object_mut() else {
                return;
            };
            at = map.entry(*part).or_insert(Value::Null);
        }
        if is_last {
            *at = value;
            return;
        }
    }
}

/// What Ferry knows each object it applied (by kind, namespace and name) to hold: the
/// fingerprint it applied and the [`version`] that made. A cached copy with both is the object
/// as Ferry wants it, unless its metadata changed since; any other copy is read again.
type Verified = Arc<Mutex<VerifiedMap>>;
type VerifiedMap = HashMap<(Kind, String, String), (String, String)>;

/// Which version of an object's spec a copy holds: its generation, for the kinds that keep one
/// (a change of spec moves it, a change of status does not); else its resourceVersion (core
/// Services and HorizontalPodAutoscalers keep no generation), which any change moves.
fn version(generation: Option<i64>, resource_version: Option<&str>) -> Option<String> {
    match (generation, resource_version) {
        (Some(generation), _) => Some(format!("generation {generation}")),
        (None, Some(version)) => Some(format!("resourceVersion {version}")),
        (None, None) => None,
    }
}

/// A poisoned lock only means another reconcile panicked holding it; the map stays usable.
fn lock(verified: &Verified) -> std::sync::MutexGuard<'_, VerifiedMap> {
    verified.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Connects every `provider: kubernetes` object to the cluster Ferry runs in.
#[derive(Clone)]
pub struct KubernetesConnector {
    client: Client,
    caches: Caches,
    verified: Verified,
}

impl KubernetesConnector {
    /// A connector that uses `client` and reads what it made from `caches` where the
    /// controller keeps them.
    pub fn new(client: Client, caches: Caches) -> Self {
        Self {
            client,
            caches,
            verified: Verified::default(),
        }
    }
}

#[async_trait]
impl Connector for KubernetesConnector {
    async fn connect(
        &self,
        _svc: &ServerlessService,
    ) -> Result<Arc<dyn ExternalClient>, ProviderError> {
        Ok(Arc::new(KubernetesClient {
            client: self.client.clone(),
            claims: Claims::new(self.client.clone()),
            caches: self.caches.clone(),
            verified: self.verified.clone(),
        }))
    }

    async fn connect_job(
        &self,
        _job: &ferry_api::ServerlessJob,
    ) -> Result<ferry_provider::job::Jobs, ProviderError> {
        Ok(Arc::new(crate::job::client::KubernetesJobs::new(
            self.client.clone(),
        )))
    }
}

/// The Deployments (and the rest) of one cluster.
pub struct KubernetesClient {
    client: Client,
    claims: Claims,
    caches: Caches,
    verified: Verified,
}

fn vpa_not_installed() -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::VPA_NOT_INSTALLED,
        message: "spec.kubernetes.verticalPodAutoscaler is set but this cluster does not serve \
                  autoscaling.k8s.io/v1 VerticalPodAutoscalers: install the Vertical Pod \
                  Autoscaler (https://github.com/kubernetes/autoscaler/tree/master/vertical-pod-autoscaler), \
                  or remove the section; Ferry looks again every minute"
            .into(),
        recheck: Some(VPA_RECHECK),
    }
}

/// Sorts an API error about a `kind` into what the controller should do about it.
fn classify(operation: &'static str, kind: Kind, error: kube::Error) -> ProviderError {
    if kind == Kind::VerticalPodAutoscaler && is_unserved(&error) {
        return vpa_not_installed();
    }
    let what = format!("a {}", kind.name());
    let refused = format!("the API server refused the {}", kind.name());
    let subject = Subject {
        what: &what,
        resource: kind.gvk().3,
        refused: &refused,
    };
    in_cluster::classify(operation, &subject, error)
}

fn name_taken(kind: Kind, object: &ObjectRef) -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::NAME_TAKEN,
        message: format!(
            "a {} {}/{} exists and was not created by Ferry for this object: rename the \
             ServerlessService, or delete the {}",
            kind.name(),
            object.namespace,
            object.name,
            kind.name()
        ),
        recheck: None,
    }
}

/// One child as found: what it holds, and whether it holds what Ferry wants.
struct Found {
    live: Value,
    up_to_date: bool,
}

impl KubernetesClient {
    fn api(&self, kind: Kind, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), namespace, &api_resource(kind))
    }

    fn key(kind: Kind, object: &ObjectRef) -> (Kind, String, String) {
        (kind, object.namespace.clone(), object.name.clone())
    }

    /// The child as the controller's watch cache holds it, when that copy has the fingerprint
    /// and generation Ferry knows it to hold; otherwise `None` and the API server is asked.
    fn cached(&self, kind: Kind, object: &ObjectRef) -> Option<Arc<DynamicObject>> {
        let live = self
            .caches
            .get(&api_resource(kind), &object.namespace, &object.name)?;
        let fingerprint = live.annotations().get(build::FINGERPRINT_ANNOTATION)?;
        let version = version(
            live.metadata.generation,
            live.metadata.resource_version.as_deref(),
        )?;
        let known = lock(&self.verified)
            .get(&Self::key(kind, object))
            .cloned()?;
        (known == (fingerprint.clone(), version)).then_some(live)
    }

    /// Remembers that `live` holds what Ferry wants.
    fn verify(&self, kind: Kind, object: &ObjectRef, live: &Value) {
        let fingerprint = build::fingerprint_of(live).map(str::to_owned);
        let version = version(
            live.pointer("/metadata/generation").and_then(Value::as_i64),
            live.pointer("/metadata/resourceVersion")
                .and_then(Value::as_str),
        );
        if let (Some(fingerprint), Some(version)) = (fingerprint, version) {
            lock(&self.verified).insert(Self::key(kind, object), (fingerprint, version));
        }
    }

    fn forget(&self, kind: Kind, object: &ObjectRef) {
        lock(&self.verified).remove(&Self::key(kind, object));
    }

    async fn get(
        &self,
        kind: Kind,
        object: &ObjectRef,
    ) -> Result<Option<DynamicObject>, ProviderError> {
        // Not `get_opt`: it takes every 404 for a missing object, the VPA's when its CRD is
        // not installed included.
        match self.api(kind, &object.namespace).get(&object.name).await {
            Ok(live) => Ok(Some(live)),
            Err(e) if kind == Kind::VerticalPodAutoscaler && is_unserved(&e) => {
                Err(vpa_not_installed())
            }
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
            Err(e) => Err(classify("get", kind, e)),
        }
    }

    /// The child of `kind`, when it exists and is Ferry's; `want` is what Ferry wants of it
    /// (`None`: it should not exist). A kind the cluster does not serve holds nothing, unless
    /// Ferry wants one.
    async fn find(
        &self,
        kind: Kind,
        object: &ObjectRef,
        want: Option<&Value>,
    ) -> Result<Option<Found>, ProviderError> {
        if let Some(live) = self.cached(kind, object) {
            if !is_ours(&live, object) {
                return Err(name_taken(kind, object));
            }
            let live = to_value(&live)?;
            let up_to_date = want.is_some_and(|want| {
                build::fingerprint_of(&live) == build::fingerprint_of(want)
                    && build::metadata_up_to_date(want, &live)
            });
            return Ok(Some(Found { live, up_to_date }));
        }
        // A kind Ferry does not want for this object, and its watch has seen none: nothing to
        // remove, and no read (an idle service would otherwise ask for every kind it lacks).
        // One made a moment ago and not yet seen is removed when its watch event reconciles
        // the object.
        let resource = api_resource(kind);
        if want.is_none()
            && self.caches.watching(&resource)
            && self
                .caches
                .get(&resource, &object.namespace, &object.name)
                .is_none()
        {
            return Ok(None);
        }
        let live = match self.get(kind, object).await {
            Ok(live) => live,
            Err(ProviderError::Terminal { reason, .. })
                if reason == reasons::VPA_NOT_INSTALLED && want.is_none() =>
            {
                None
            }
            Err(e) => return Err(e),
        };
        let Some(live) = live else {
            self.forget(kind, object);
            return Ok(None);
        };
        if !is_ours(&live, object) {
            // Not Ferry's, and not wanted: leave it be.
            return match want {
                Some(_) => Err(name_taken(kind, object)),
                None => Ok(None),
            };
        }
        let live = to_value(&live)?;
        let up_to_date = want.is_some_and(|want| build::is_up_to_date(want, &live));
        if up_to_date {
            self.verify(kind, object, &live);
        }
        Ok(Some(Found { live, up_to_date }))
    }

    /// The troubles of the pods of the rollout of `deployment` (what Ferry applied; read only
    /// while the rollout is not done).
    async fn troubles(
        &self,
        object: &ObjectRef,
        deployment: &Value,
    ) -> Result<Vec<build::PodTrouble>, ProviderError> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &object.namespace, &pods());
        let params = ListParams::default()
            .labels(&format!("{SELECTOR_LABEL}={}", object.name))
            .limit(POD_LIST_LIMIT);
        let list = api
            .list(&params)
            .await
            .map_err(|e| classify("list pods", Kind::Deployment, e))?;
        let items: Vec<Value> = list
            .items
            .iter()
            .filter_map(|p| serde_json::to_value(p).ok())
            .filter(|p| build::is_current_pod(deployment, p))
            .collect();
        Ok(build::pod_troubles(&items))
    }

    /// Applies every child Ferry wants and deletes the ones it no longer does; how the service
    /// stands by the API server's answers.
    async fn apply(&self, want: &Desired) -> Result<Started, ProviderError> {
        let children = build::children(want);
        let object = &want.object;
        let (owner, claims) = (build::owner(object), build::claims(want));
        self.claims.ensure(&owner, &claims).await?;
        if children.contains_key(&Kind::HorizontalPodAutoscaler) {
            self.hand_over_replicas(object).await?;
        }
        let params = PatchParams::apply(FIELD_MANAGER)
            .force()
            .validation_strict();
        let mut applied = BTreeMap::new();
        for (kind, child) in &children {
            let live = self
                .api(*kind, &object.namespace)
                .patch(&object.name, &params, &Patch::Apply(child))
                .await
                .map_err(|e| classify("apply", *kind, e))?;
            let live = serde_json::to_value(&live).unwrap_or(Value::Null);
            self.verify(*kind, object, &live);
            applied.insert(*kind, live);
        }
        self.remove_unwanted(object, &children).await?;
        // Claims of volumes no longer wanted (or changed: a changed one is a new pair): their
        // pods are going, and Kubernetes keeps a claim until none uses it.
        self.claims.remove_others(&owner, &claims).await?;
        let state = applied
            .get(&Kind::Deployment)
            .map(|deployment| build::readiness(want, deployment, applied.get(&Kind::Ingress), &[]));
        Ok(Started {
            operation: None,
            state,
        })
    }

    /// Before Ferry stops applying the Deployment's `replicas` (an autoscaler takes over),
    /// makes another of its field managers co-own the current count: server-side apply would
    /// otherwise remove the field Ferry alone owned, and the Deployment would fall back to one
    /// pod until the autoscaler scaled it up again (the ownership transfer Kubernetes documents
    /// for moving a Deployment to horizontal autoscaling). The autoscaler's first change of the
    /// count takes the field from that manager.
    async fn hand_over_replicas(&self, object: &ObjectRef) -> Result<(), ProviderError> {
        let Some(live) = self.get(Kind::Deployment, object).await? else {
            return Ok(());
        };
        let owns_replicas = live.managed_fields().iter().any(|entry| {
            entry.manager.as_deref() == Some(FIELD_MANAGER)
                && entry.operation.as_deref() == Some("Apply")
                && entry
                    .fields_v1
                    .as_ref()
                    .and_then(|f| f.0.pointer("/f:spec/f:replicas"))
                    .is_some()
        });
        let Some(replicas) = live.data.pointer("/spec/replicas").cloned() else {
            return Ok(());
        };
        if !owns_replicas || !is_ours(&live, object) {
            return Ok(());
        }
        let (_, _, kind, _) = Kind::Deployment.gvk();
        let handover = json!({
            "apiVersion": Kind::Deployment.api_version(),
            "kind": kind,
            "metadata": { "name": object.name, "namespace": object.namespace },
            "spec": { "replicas": replicas },
        });
        self.api(Kind::Deployment, &object.namespace)
            .patch(
                &object.name,
                &PatchParams::apply(REPLICAS_MANAGER).force(),
                &Patch::Apply(&handover),
            )
            .await
            .map(|_| ())
            .map_err(|e| classify("apply", Kind::Deployment, e))
    }

    /// Deletes the children Ferry made that `children` no longer holds (an autoscaler after
    /// the count was fixed, an Ingress after the service went internal).
    async fn remove_unwanted(
        &self,
        object: &ObjectRef,
        children: &BTreeMap<Kind, Value>,
    ) -> Result<(), ProviderError> {
        for kind in Kind::ALL.into_iter().filter(|k| !children.contains_key(k)) {
            if self.find(kind, object, None).await?.is_some() {
                self.delete_one(kind, object).await?;
            }
        }
        Ok(())
    }

    async fn delete_one(&self, kind: Kind, object: &ObjectRef) -> Result<(), ProviderError> {
        self.forget(kind, object);
        match self
            .api(kind, &object.namespace)
            .delete(&object.name, &DeleteParams::background())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(classify("delete", kind, e)),
        }
    }
}

#[async_trait]
impl ExternalClient for KubernetesClient {
    async fn observe(&self, want: &Desired) -> Result<Observation, ProviderError> {
        let children = build::children(want);
        let object = &want.object;
        let mut up_to_date = true;
        let mut found = BTreeMap::new();
        for kind in Kind::ALL {
            let wanted = children.get(&kind);
            let child = self.find(kind, object, wanted).await?;
            up_to_date &= match (&child, wanted) {
                (Some(child), Some(_)) => child.up_to_date,
                (None, None) => true,
                _ => false,
            };
            if let Some(child) = child {
                found.insert(kind, child.live);
            }
        }
        let claims = build::claims(want);
        if !claims.is_empty() {
            up_to_date &= self.claims.present(&build::owner(object), &claims).await?;
        }
        let Some(deployment) = found.get(&Kind::Deployment) else {
            if found.is_empty() {
                return Ok(Observation::Absent);
            }
            return Ok(Observation::Present {
                up_to_date: false,
                readiness: Readiness::Progressing("the Deployment is missing".into()),
                outputs: ferry_core::status::Outputs::default(),
            });
        };
        let ingress = found.get(&Kind::Ingress);
        let (mut readiness, mut outputs) = build::readiness(want, deployment, ingress, &[]);
        // Up to date, the live template is the one wanted, whose pods carry its fingerprint.
        if !matches!(readiness, Readiness::Ready)
            && up_to_date
            && let Some(applied) = children.get(&Kind::Deployment)
        {
            let troubles = self.troubles(object, applied).await?;
            (readiness, outputs) = build::readiness(want, deployment, ingress, &troubles);
        }
        Ok(Observation::Present {
            up_to_date,
            readiness,
            outputs,
        })
    }

    async fn create(&self, want: &Desired) -> Result<Started, ProviderError> {
        self.apply(want).await
    }

    async fn update(&self, want: &Desired) -> Result<Started, ProviderError> {
        self.apply(want).await
    }

    async fn delete(&self, object: &ObjectRef) -> Result<Deletion, ProviderError> {
        let mut remaining = false;
        for kind in Kind::ALL.into_iter().rev() {
            let Some(live) = self.get_if_served(kind, object).await? else {
                self.forget(kind, object);
                continue;
            };
            if !is_ours(&live, object) {
                continue;
            }
            remaining = true;
            if live.metadata.deletion_timestamp.is_none() {
                self.delete_one(kind, object).await?;
            }
        }
        remaining |= self
            .claims
            .remove_others(&build::owner(object), &[])
            .await?;
        Ok(if remaining {
            Deletion::InProgress
        } else {
            Deletion::Gone
        })
    }

    async fn release(&self, object: &ObjectRef) -> Result<(), ProviderError> {
        let Some(uid) = object.uid.as_deref() else {
            return Ok(());
        };
        for kind in Kind::ALL {
            let Some(live) = self.get_if_served(kind, object).await? else {
                continue;
            };
            let Some(patch) = release_patch(&live, uid) else {
                continue;
            };
            self.forget(kind, object);
            self.api(kind, &object.namespace)
                .patch(&object.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|e| classify("release", kind, e))?;
        }
        Ok(())
    }
}

impl KubernetesClient {
    /// The child of `kind`, or `None` when it does not exist or the kind is not served.
    async fn get_if_served(
        &self,
        kind: Kind,
        object: &ObjectRef,
    ) -> Result<Option<DynamicObject>, ProviderError> {
        match self.get(kind, object).await {
            Err(ProviderError::Terminal { reason, .. }) if reason == reasons::VPA_NOT_INSTALLED => {
                Ok(None)
            }
            other => other,
        }
    }
}
