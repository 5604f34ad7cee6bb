//! The Knative backend's I/O: server-side apply of the Service that [`build`](crate::build)
//! describes (field manager `ferry`, strict field validation so an unknown field fails instead of
//! being dropped), reading it back, deleting it, and releasing it on `deletionPolicy: Orphan`.
//! Before applying a Service whose volumes need a Knative feature flag, it reads the cluster's
//! flags ([`crate::features`]) and refuses, naming them, those that are off; the PersistentVolume
//! and claim of each nfs and efs volume are created before the Service and deleted once no
//! longer wanted ([`ferry_provider::cluster_volumes::client`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use ferry_api::ServerlessService;
use ferry_api::conditions::reasons;
use ferry_core::desired::{Desired, ObjectRef};
use ferry_core::kube_object::fingerprint_of;
use ferry_provider::backend::Caches;
use ferry_provider::in_cluster::{self, Subject, is_ours, is_unserved, release_patch, to_value};
use ferry_provider::{Connector, Deletion, ExternalClient, Observation, ProviderError, Started};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use crate::build::{self, FIELD_MANAGER};
use crate::features;
use ferry_provider::cluster_volumes::client::Claims;

/// How long to wait before looking again for Knative's CRDs once they were missing.
pub const KNATIVE_RECHECK: Duration = Duration::from_secs(60);

/// The Knative Service resource.
pub fn api_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("serving.knative.dev", "v1", "Service"),
        "services",
    )
}

/// `v1` ConfigMaps.
fn config_maps() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "ConfigMap"), "configmaps")
}

/// What Ferry knows each Knative Service (by namespace and name) to hold: the fingerprint of
/// the Service it applied and the generation that made, from its own apply's answer or from a
/// read of the API server that found it up to date. A cached copy with both is the Service as
/// Ferry wants it, unless its metadata has changed since; any other copy predates Ferry's last
/// write or was changed by someone else, and the API server is asked.
type Verified = Arc<Mutex<HashMap<(String, String), (String, i64)>>>;

/// What the controller's watch cache keeps of each Knative Service: its metadata and the
/// status fields [`build::readiness`] reads, without the spec (the fingerprint and generation
/// say whether that is Ferry's) or the rest of the status (traffic, revisions' details).
pub fn keep_in_cache(service: &mut DynamicObject) {
    let status = &service.data["status"];
    let mut kept = serde_json::Map::new();
    for field in [
        "observedGeneration",
        "url",
        "address",
        "latestReadyRevisionName",
    ] {
        if let Some(value) = status.get(field) {
            kept.insert(field.to_owned(), value.clone());
        }
    }
    if let Some(conditions) = status.get("conditions").and_then(Value::as_array) {
        let trimmed = conditions
            .iter()
            .map(|c| {
                ["type", "status", "reason", "message"]
                    .into_iter()
                    .filter_map(|f| Some((f.to_owned(), c.get(f)?.clone())))
                    .collect::<serde_json::Map<_, _>>()
            })
            .map(Value::Object)
            .collect();
        kept.insert("conditions".to_owned(), Value::Array(trimmed));
    }
    service.data = json!({ "status": kept });
}

/// Connects every `provider: knative` object to the cluster Ferry runs in.
#[derive(Clone)]
pub struct KnativeConnector {
    client: Client,
    caches: Caches,
    verified: Verified,
}

impl KnativeConnector {
    /// A connector that uses `client` (Knative runs in Ferry's own cluster) and reads Knative
    /// Services from `caches` where the controller keeps them.
    pub fn new(client: Client, caches: Caches) -> Self {
        Self {
            client,
            caches,
            verified: Verified::default(),
        }
    }
}

#[async_trait]
impl Connector for KnativeConnector {
    async fn connect(
        &self,
        _svc: &ServerlessService,
    ) -> Result<Arc<dyn ExternalClient>, ProviderError> {
        Ok(Arc::new(KnativeClient {
            client: self.client.clone(),
            claims: Claims::new(self.client.clone()),
            caches: self.caches.clone(),
            verified: self.verified.clone(),
        }))
    }
}

/// The Knative Services of one cluster.
pub struct KnativeClient {
    client: Client,
    claims: Claims,
    caches: Caches,
    verified: Verified,
}

fn key(object: &ObjectRef) -> (String, String) {
    (object.namespace.clone(), object.name.clone())
}

/// A poisoned lock only means another reconcile panicked holding it; the map stays usable.
fn lock(
    verified: &Verified,
) -> std::sync::MutexGuard<'_, HashMap<(String, String), (String, i64)>> {
    verified.lock().unwrap_or_else(PoisonError::into_inner)
}

fn not_installed() -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::KNATIVE_NOT_INSTALLED,
        message: "the Knative Serving CRDs (serving.knative.dev/v1 Service) are not installed in \
                  this cluster: install Knative Serving (https://knative.dev/docs/install/), or \
                  choose another provider; Ferry looks again every minute"
            .into(),
        recheck: Some(KNATIVE_RECHECK),
    }
}

/// What Knative's API errors are about.
const SUBJECT: Subject<'static> = Subject {
    what: "a Knative Service",
    resource: "services.serving.knative.dev",
    refused: "Knative refused the Service",
};

/// Sorts an API error into what the controller should do about it.
fn classify(operation: &'static str, error: kube::Error) -> ProviderError {
    if is_unserved(&error) {
        return not_installed();
    }
    in_cluster::classify(operation, &SUBJECT, error)
}

impl KnativeClient {
    fn api(&self, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), namespace, &api_resource())
    }

    /// The Service as the controller's watch cache holds it (metadata and status), when that
    /// copy has the fingerprint and generation Ferry knows it to hold ([`Verified`]);
    /// otherwise, or without a cache, `None` and the API server is asked.
    fn cached(&self, object: &ObjectRef) -> Option<Arc<DynamicObject>> {
        let live = self
            .caches
            .get(&api_resource(), &object.namespace, &object.name)?;
        let fingerprint = live.annotations().get(build::FINGERPRINT_ANNOTATION)?;
        let generation = live.metadata.generation?;
        let known = lock(&self.verified).get(&key(object)).cloned()?;
        (known == (fingerprint.clone(), generation)).then_some(live)
    }

    /// Remembers that `live` holds what Ferry wants (its fingerprint, at its generation).
    fn verify(&self, object: &ObjectRef, live: &Value) {
        let fingerprint = fingerprint_of(live).map(str::to_owned);
        let generation = live.pointer("/metadata/generation").and_then(Value::as_i64);
        if let (Some(fingerprint), Some(generation)) = (fingerprint, generation) {
            lock(&self.verified).insert(key(object), (fingerprint, generation));
        }
    }

    async fn get(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<DynamicObject>, ProviderError> {
        self.api(namespace)
            .get_opt(name)
            .await
            .map_err(|e| classify("get", e))
    }

    /// The data of Knative's `config-features` ConfigMap; `None` when there is none (every flag
    /// has its default).
    async fn feature_flags(&self) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        let (namespace, name) = features::CONFIG_MAP;
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &config_maps());
        let live = api.get_opt(name).await.map_err(|e| {
            in_cluster::classify(
                "get",
                &Subject {
                    what: "Knative's feature flags (ConfigMap knative-serving/config-features)",
                    resource: "configmaps named config-features",
                    refused: "the API server refused to read Knative's feature flags",
                },
                e,
            )
        })?;
        Ok(live.map(|cm| {
            cm.data["data"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        }))
    }

    /// Refuses, naming them, the feature flags `want`'s volumes need that the cluster has off:
    /// Knative would refuse the Service, saying less.
    async fn check_flags(&self, want: &Desired) -> Result<(), ProviderError> {
        let needed = features::needed(want);
        if needed.is_empty() {
            return Ok(());
        }
        let data = self.feature_flags().await?;
        let missing = features::missing(&needed, data.as_ref());
        if missing.is_empty() {
            return Ok(());
        }
        Err(ProviderError::Terminal {
            reason: reasons::UNSUPPORTED,
            message: features::refusal(&missing),
            recheck: Some(KNATIVE_RECHECK),
        })
    }

    /// Applies the Service `want` describes; how it stands by the API server's answer (the
    /// applied object), as the next observation would read it.
    async fn apply(&self, want: &Desired) -> Result<Started, ProviderError> {
        self.check_flags(want).await?;
        let (owner, claims) = (build::owner(&want.object), build::claims(want));
        self.claims.ensure(&owner, &claims).await?;
        let service = build::knative_service(want);
        let params = PatchParams::apply(FIELD_MANAGER)
            .force()
            .validation_strict();
        let applied = self
            .api(&want.object.namespace)
            .patch(&want.object.name, &params, &Patch::Apply(&service))
            .await
            .map_err(|e| classify("apply", e))?;
        let applied = serde_json::to_value(&applied).ok();
        if let Some(live) = &applied {
            self.verify(&want.object, live);
        }
        // Claims of volumes no longer wanted (or changed: a changed one is a new pair): the
        // revisions still using one keep it until their pods go.
        self.claims.remove_others(&owner, &claims).await?;
        Ok(Started {
            operation: None,
            state: applied.map(|live| build::readiness(&live)),
        })
    }

    /// Deletes the Knative Service of `object` when it is Ferry's; whether it is gone.
    async fn delete_service(&self, object: &ObjectRef) -> Result<Deletion, ProviderError> {
        let live = match self.get(&object.namespace, &object.name).await {
            Ok(live) => live,
            // Nothing can exist where the kind is not served.
            Err(ProviderError::Terminal { reason, .. })
                if reason == reasons::KNATIVE_NOT_INSTALLED =>
            {
                None
            }
            Err(e) => return Err(e),
        };
        let Some(live) = live else {
            lock(&self.verified).remove(&key(object));
            return Ok(Deletion::Gone);
        };
        if !is_ours(&live, object) {
            // Not Ferry's to delete.
            return Ok(Deletion::Gone);
        }
        if live.metadata.deletion_timestamp.is_none() {
            self.api(&object.namespace)
                .delete(&object.name, &DeleteParams::background())
                .await
                .map_err(|e| classify("delete", e))?;
        }
        Ok(match self.get(&object.namespace, &object.name).await? {
            Some(_) => Deletion::InProgress,
            None => Deletion::Gone,
        })
    }
}

fn name_taken(object: &ObjectRef) -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::NAME_TAKEN,
        message: format!(
            "a Knative Service {}/{} exists and was not created by Ferry for this object: rename \
             the ServerlessService, or delete the Knative Service",
            object.namespace, object.name
        ),
        recheck: None,
    }
}

#[async_trait]
impl ExternalClient for KnativeClient {
    async fn observe(&self, want: &Desired) -> Result<Observation, ProviderError> {
        let service = build::knative_service(want);
        // A claim that went missing is made again by an update.
        let claims = build::claims(want);
        let claims_present = claims.is_empty()
            || self
                .claims
                .present(&build::owner(&want.object), &claims)
                .await?;
        if let Some(live) = self.cached(&want.object) {
            // Ferry's own spec at the generation it made: up to date when it is the spec
            // wanted now and the metadata still carries what Ferry set.
            if !is_ours(&live, &want.object) {
                return Err(name_taken(&want.object));
            }
            let live = to_value(&live)?;
            let (readiness, outputs) = build::readiness(&live);
            return Ok(Observation::Present {
                up_to_date: claims_present
                    && fingerprint_of(&live) == fingerprint_of(&service)
                    && build::metadata_up_to_date(&service, &live),
                readiness,
                outputs,
            });
        }
        let Some(live) = self.get(&want.object.namespace, &want.object.name).await? else {
            return Ok(Observation::Absent);
        };
        if !is_ours(&live, &want.object) {
            return Err(name_taken(&want.object));
        }
        let live = to_value(&live)?;
        let (readiness, outputs) = build::readiness(&live);
        let up_to_date = build::is_up_to_date(&service, &live);
        if up_to_date {
            self.verify(&want.object, &live);
        }
        Ok(Observation::Present {
            up_to_date: up_to_date && claims_present,
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
        let service = self.delete_service(object).await?;
        // The claims go with the Service (each stays until no pod of it uses it).
        let claims_left = self
            .claims
            .remove_others(&build::owner(object), &[])
            .await?;
        Ok(if claims_left {
            Deletion::InProgress
        } else {
            service
        })
    }

    async fn release(&self, object: &ObjectRef) -> Result<(), ProviderError> {
        let Some(live) = self.get(&object.namespace, &object.name).await? else {
            return Ok(());
        };
        let Some(uid) = object.uid.as_deref() else {
            return Ok(());
        };
        let Some(patch) = release_patch(&live, uid) else {
            return Ok(());
        };
        self.api(&object.namespace)
            .patch(&object.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|e| classify("release", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16, name: &str, retry_after: u32) -> kube::Error {
        let status: kube::core::Status = serde_json::from_value(json!({
            "status": "Failure",
            "code": code,
            "message": "refused",
            "details": {"name": name, "retryAfterSeconds": retry_after},
        }))
        .unwrap();
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn api_errors_are_classified_by_what_the_controller_should_do() {
        let reason = |e: ProviderError| (e.category(), e.reason());
        let cases = [
            (404, "", "terminal", reasons::KNATIVE_NOT_INSTALLED),
            (404, "hello", "transient", reasons::PROVIDER_ERROR),
            (429, "", "throttled", reasons::THROTTLED),
            (401, "", "auth", reasons::CREDENTIALS_INVALID),
            (403, "", "auth", reasons::CREDENTIALS_INVALID),
            (400, "", "terminal", reasons::UNSUPPORTED),
            (422, "hello", "terminal", reasons::UNSUPPORTED),
            (500, "", "transient", reasons::PROVIDER_ERROR),
            (503, "", "transient", reasons::PROVIDER_ERROR),
        ];
        for (code, name, category, expected) in cases {
            assert_eq!(
                reason(classify("apply", api_error(code, name, 0))),
                (category, expected),
                "{code} {name:?}"
            );
        }
    }

    #[test]
    fn throttling_keeps_the_servers_hint_and_knative_missing_is_rechecked() {
        match classify("apply", api_error(429, "", 7)) {
            ProviderError::Throttled { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(7)));
            }
            other => panic!("{other:?}"),
        }
        match classify("get", api_error(404, "", 0)) {
            ProviderError::Terminal {
                recheck, message, ..
            } => {
                assert_eq!(recheck, Some(KNATIVE_RECHECK));
                assert!(
                    message.contains("https://knative.dev/docs/install/"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
