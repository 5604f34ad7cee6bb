//! The claims' I/O: each pair created when missing (a name taken by anything else is refused),
//! checked present, and deleted once its owner no longer wants it (or is deleted). Found by
//! their owner's label ([`Owner::selector`]): a PersistentVolume is cluster-scoped, so no owner
//! reference can make the garbage collector delete it, and Ferry does, keeping a finalizer on
//! every object that has claims.

use crate::ProviderError;
use crate::in_cluster::{self, FIELD_MANAGER, Subject};
use ferry_api::conditions::reasons;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Client, Resource, ResourceExt};

use super::build::{CLAIMS_LABEL, Claim, MANAGED_BY, Owner};

const PERSISTENT_VOLUME: Subject<'static> = Subject {
    what: "a PersistentVolume",
    resource: "persistentvolumes",
    refused: "the API server refused the PersistentVolume",
};

const CLAIM: Subject<'static> = Subject {
    what: "a PersistentVolumeClaim",
    resource: "persistentvolumeclaims",
    refused: "the API server refused the PersistentVolumeClaim",
};

/// Whether `live` is one of `owner`'s claims (or their volume): Ferry's label and the owner's.
fn is_owners<K: Resource>(live: &K, owner: &Owner<'_>) -> bool {
    let labels = live.labels();
    labels.get(MANAGED_BY.0).map(String::as_str) == Some(MANAGED_BY.1)
        && labels.get(CLAIMS_LABEL) == Some(&owner.key())
}

/// Whether `live` is there, `owner`'s, and not going.
fn usable<K: Resource>(live: Option<&K>, owner: &Owner<'_>) -> bool {
    live.is_some_and(|l| l.meta().deletion_timestamp.is_none() && is_owners(l, owner))
}

fn name_taken(kind: &str, name: &str) -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::NAME_TAKEN,
        message: format!(
            "a {kind} {name} exists and was not created by Ferry for this object: delete it, or \
             rename the volume"
        ),
        recheck: None,
    }
}

/// What a backend's claims are reached through.
pub struct Claims {
    client: Client,
}

impl Claims {
    /// Claims through `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    fn volumes(&self) -> Api<PersistentVolume> {
        Api::all(self.client.clone())
    }

    fn claims(&self, namespace: &str) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Creates each pair of `claims` that is missing: the PersistentVolume first, so the claim
    /// finds it. One that exists and is `owner`'s is already what its name says; one still going
    /// (the same volume, removed and added back) is waited for.
    pub async fn ensure(&self, owner: &Owner<'_>, claims: &[Claim]) -> Result<(), ProviderError> {
        let params = PostParams {
            dry_run: false,
            field_manager: Some(FIELD_MANAGER.to_owned()),
        };
        for claim in claims {
            create(
                &self.volumes(),
                &params,
                &claim.persistent_volume,
                owner,
                &PERSISTENT_VOLUME,
                "PersistentVolume",
            )
            .await?;
            create(
                &self.claims(&owner.object.namespace),
                &params,
                &claim.claim,
                owner,
                &CLAIM,
                "PersistentVolumeClaim",
            )
            .await?;
        }
        Ok(())
    }

    /// Whether every pair of `claims` exists, is `owner`'s and is not going.
    pub async fn present(
        &self,
        owner: &Owner<'_>,
        claims: &[Claim],
    ) -> Result<bool, ProviderError> {
        for claim in claims {
            let volume = self
                .volumes()
                .get_opt(&claim.name)
                .await
                .map_err(|e| in_cluster::classify("get", &PERSISTENT_VOLUME, e))?;
            let bound = self
                .claims(&owner.object.namespace)
                .get_opt(&claim.name)
                .await
                .map_err(|e| in_cluster::classify("get", &CLAIM, e))?;
            if !(usable(volume.as_ref(), owner) && usable(bound.as_ref(), owner)) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Deletes `owner`'s pairs other than `keep`'s (all of them for an owner being deleted): the
    /// claim first, then its PersistentVolume, which Kubernetes keeps until the claim has gone
    /// (and the claim until no pod uses it). Whether any of them is still there.
    pub async fn remove_others(
        &self,
        owner: &Owner<'_>,
        keep: &[Claim],
    ) -> Result<bool, ProviderError> {
        let params = ListParams::default().labels(&owner.selector());
        let kept = |name: &str| keep.iter().any(|c| c.name == name);
        let mut remaining = false;
        let claims = self.claims(&owner.object.namespace);
        let listed = claims
            .list(&params)
            .await
            .map_err(|e| in_cluster::classify("list", &CLAIM, e))?;
        for claim in listed.items.iter().filter(|c| is_owners(*c, owner)) {
            let name = claim.name_any();
            if kept(&name) {
                continue;
            }
            remaining = true;
            if claim.meta().deletion_timestamp.is_none() {
                delete(&claims, &name, &CLAIM).await?;
            }
        }
        let volumes = self.volumes();
        let listed = volumes
            .list(&params)
            .await
            .map_err(|e| in_cluster::classify("list", &PERSISTENT_VOLUME, e))?;
        for volume in listed.items.iter().filter(|v| is_owners(*v, owner)) {
            let name = volume.name_any();
            if kept(&name) {
                continue;
            }
            remaining = true;
            if volume.meta().deletion_timestamp.is_none() {
                delete(&volumes, &name, &PERSISTENT_VOLUME).await?;
            }
        }
        Ok(remaining)
    }
}

async fn create<K>(
    api: &Api<K>,
    params: &PostParams,
    object: &K,
    owner: &Owner<'_>,
    subject: &Subject<'_>,
    kind: &str,
) -> Result<(), ProviderError>
where
    K: Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = object.name_any();
    match api.create(params, object).await {
        Ok(_) => return Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => return Err(in_cluster::classify("create", subject, e)),
    }
    let live = api
        .get_opt(&name)
        .await
        .map_err(|e| in_cluster::classify("get", subject, e))?;
    match live {
        Some(live) if !is_owners(&live, owner) => Err(name_taken(kind, &name)),
        Some(live) if live.meta().deletion_timestamp.is_some() => Err(ProviderError::Transient {
            operation: "create",
            message: format!(
                "the {kind} {name} is still being deleted; Ferry creates it again once it \
                     has gone"
            ),
        }),
        // Present, or gone in between (the next reconcile creates it).
        _ => Ok(()),
    }
}

async fn delete<K>(api: &Api<K>, name: &str, subject: &Subject<'_>) -> Result<(), ProviderError>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(in_cluster::classify("delete", subject, e)),
    }
}
