//! The I/O half of the Container Apps backend: resolves the ProviderConfig's `azure` section and
//! its credentials (for services, and for jobs, whose client is [`crate::job::client`]), reads the copied app secrets from the service's namespace, reads the app
//! (and its latest revision when that tells how it stands) with GET, and starts creates,
//! updates and deletes as ARM long-running operations that it never waits for: the operation
//! goes into `status.operation`, and the next reconcile polls it once.
//!
//! Idempotency: the app name is deterministic and the app carries the object's UID as a tag;
//! a PUT creates or replaces the app of that name, so a PUT whose answer was lost and is sent
//! again makes no second app, and the next GET finds the first. An app of the name with another
//! UID is `NameTaken`; one Ferry released (its `managed-by` tag without a UID) is adopted.
//! Ferry writes only when the fingerprint of what it builds, or a field people change behind its
//! back, differs: an idle reconcile is reads only.
//!
//! Before it writes an app (or a job) that mounts azureFile volumes, Ferry reads the managed
//! environment's storages they name (`ManagedEnvironmentsStorages_Get`): the storage is the
//! environment owner's, and a missing one, another share, or an access mode the mounts
//! contradict is reported on the object (`InvalidSpec`, looked at again a minute later)
//! instead of failing inside Container Apps.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ferry_api::conditions::reasons;
use ferry_api::{AzureProviderConfig, ProviderConfig, ServerlessJob, ServerlessService};
use ferry_azure::connect::{self, Connections};
use ferry_azure::resource::{self, Ownership};
use ferry_azure::secrets;
use ferry_azure::{Arm, ArmSettings, Recorded, arm_error_of};
use ferry_core::desired::{Desired, ObjectRef};
use ferry_provider::job::{Jobs, workload_of};
use ferry_provider::provider_config;
use ferry_provider::{
    Connector, Deletion, ExternalClient, Observation, Outputs, ProviderError, Readiness, Started,
};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use serde_json::Value;
use tracing::{debug, info};

use crate::build::{
    self, API_VERSION, BuildError, Place, Requests, SecretValue, SecretValues, StorageUse,
};
use crate::job::client::{ContainerAppsJobs, Stops};

/// Tunables of the Container Apps backend.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The operator's namespace: the only one credential Secrets are read from.
    pub operator_namespace: String,
    /// Attempts per ARM call, the first included.
    pub attempts: u32,
    /// How long the attempts of one call may take together.
    pub call_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        let arm = ArmSettings::default();
        Self {
            operator_namespace: "ferry-system".into(),
            attempts: arm.attempts,
            call_timeout: arm.call_timeout,
        }
    }
}

impl Settings {
    fn arm(&self) -> ArmSettings {
        ArmSettings {
            attempts: self.attempts,
            call_timeout: self.call_timeout,
            ..ArmSettings::default()
        }
    }
}

/// Connects `provider: containerApps` objects to the subscription their ProviderConfig names.
pub struct ContainerAppsConnector {
    kube: kube::Client,
    connections: Connections,
    /// The job executions Ferry asked to stop lately, for every job client it makes.
    stops: Stops,
}

impl ContainerAppsConnector {
    /// A connector reading ProviderConfigs and Secrets with `kube`.
    pub fn new(kube: kube::Client, settings: Settings) -> Self {
        let arm = settings.arm();
        let connections = Connections::new(
            kube.clone(),
            settings.operator_namespace,
            arm,
            "Container Apps",
        );
        Self {
            kube,
            connections,
            stops: Stops::default(),
        }
    }

    /// The client for `svc` under `config` (already resolved and allowed), with `credentials`
    /// the credentials Secret's key and resourceVersion when the ProviderConfig names one, and
    /// `values` the copied app secrets (or why they could not be read). [`Connector::connect`]
    /// reads them from the cluster; tests pass them in.
    pub async fn connect_with(
        &self,
        svc: &ServerlessService,
        config: &ProviderConfig,
        credentials: Option<(String, String)>,
        values: Result<SecretValues, ProviderError>,
    ) -> Result<Arc<dyn ExternalClient>, ProviderError> {
        let section = connect::section(config)?;
        let arm = self.connections.arm(config, credentials).await?;
        Ok(Arc::new(ContainerAppsClient {
            arm,
            config: section.clone(),
            resource_group: svc
                .spec
                .container_apps
                .as_ref()
                .and_then(|c| c.resource_group.clone()),
            operation: svc.status.as_ref().and_then(|s| s.operation.clone()),
            values,
        }))
    }

    /// The client for the runs of `job` under `config`, as [`connect_with`](Self::connect_with)
    /// for a service: [`Connector::connect_job`] reads what it is given from the cluster.
    pub async fn connect_job_with(
        &self,
        job: &ServerlessJob,
        config: &ProviderConfig,
        credentials: Option<(String, String)>,
        values: Result<SecretValues, ProviderError>,
    ) -> Result<Jobs, ProviderError> {
        let section = connect::section(config)?;
        let arm = self.connections.arm(config, credentials).await?;
        Ok(Arc::new(ContainerAppsJobs {
            arm,
            config: section.clone(),
            resource_group: job
                .spec
                .container_apps
                .as_ref()
                .and_then(|c| c.resource_group.clone()),
            values,
            seen: Mutex::default(),
            stops: self.stops.clone(),
        }))
    }

    /// The values of the app secrets `svc` copies from Kubernetes Secrets in its namespace
    /// (only the entries some `env[].secret` reads), with each Secret's resourceVersion.
    async fn secret_values(&self, svc: &ServerlessService) -> Result<SecretValues, ProviderError> {
        let namespace = svc.namespace().unwrap_or_default();
        let wanted = copied_secrets(svc);
        let mut values = BTreeMap::new();
        if wanted.is_empty() {
            return Ok(values);
        }
        let secrets: Api<Secret> = Api::namespaced(self.kube.clone(), &namespace);
        let mut read: HashMap<&str, Option<Secret>> = HashMap::new();
        for (app_secret, secret, key) in &wanted {
            if !read.contains_key(secret.as_str()) {
                let found = secrets.get_opt(secret).await.map_err(|e| {
                    secrets::read_failed(
                        "spec.containerApps.secrets",
                        &format!("Secret {namespace}/{secret}"),
                        &e,
                    )
                })?;
                read.insert(secret.as_str(), found);
            }
            let found = read.get(secret.as_str()).and_then(Option::as_ref);
            let value = found.map(|s| secrets::key_text(s, key));
            let Some(Ok(value)) = value else {
                // A key whose bytes are not text cannot be copied either: no key to copy.
                let what = if found.is_some() {
                    format!("Secret {namespace}/{secret} has no key {key}")
                } else {
                    format!("Secret {namespace}/{secret} does not exist")
                };
                return Err(secrets::missing(format!(
                    "spec.containerApps.secrets {app_secret}: {what} (fromSecret): create it, or \
                     change the entry"
                )));
            };
            let version = found
                .and_then(ResourceExt::resource_version)
                .unwrap_or_default();
            values.insert(
                app_secret.clone(),
                SecretValue {
                    value,
                    version: format!("{secret}/{key}@{version}"),
                },
            );
        }
        Ok(values)
    }
}

/// `(app secret, Kubernetes Secret, key)` of every `fromSecret` entry some env or secret volume
/// reads.
fn copied_secrets(svc: &ServerlessService) -> Vec<(String, String, String)> {
    let read: Vec<&str> = svc
        .spec
        .containers
        .iter()
        .flat_map(|c| c.env.iter().flatten())
        .filter_map(|e| e.secret.as_ref().map(|s| s.name.as_str()))
        .chain(crate::validate::volume_secrets(&svc.spec))
        .collect();
    svc.spec
        .container_apps
        .iter()
        .flat_map(|c| c.secrets.iter().flatten())
        .filter(|s| read.contains(&s.name.as_str()))
        .filter_map(|s| {
            let from = s.from_secret.as_ref()?;
            Some((s.name.clone(), from.name.clone(), from.key.clone()))
        })
        .collect()
}

#[async_trait]
impl Connector for ContainerAppsConnector {
    async fn connect(
        &self,
        svc: &ServerlessService,
    ) -> Result<Arc<dyn ExternalClient>, ProviderError> {
        let config = provider_config::resolve(&self.kube, svc).await?;
        let credentials = self.connections.credentials(&config).await?;
        // Deleting needs no secret, and a namespace being deleted loses its Secrets first.
        let values = if svc.metadata.deletion_timestamp.is_some() {
            Ok(SecretValues::new())
        } else {
            self.secret_values(svc).await
        };
        self.connect_with(svc, &config, credentials, values).await
    }

    /// Jobs resolve their ProviderConfig, credentials and copied secrets as a service with the
    /// same containers and section does ([`workload_of`]).
    async fn connect_job(&self, job: &ServerlessJob) -> Result<Jobs, ProviderError> {
        let svc = workload_of(job);
        let config = provider_config::resolve(&self.kube, &svc).await?;
        let credentials = self.connections.credentials(&config).await?;
        let values = if job.metadata.deletion_timestamp.is_some() {
            Ok(SecretValues::new())
        } else {
            self.secret_values(&svc).await
        };
        self.connect_job_with(job, &config, credentials, values)
            .await
    }

    async fn check(&self, config: &ProviderConfig) -> Option<Result<String, ProviderError>> {
        self.connections.check(config).await
    }
}

/// The container app of one object.
struct ContainerAppsClient {
    arm: Arm,
    config: AzureProviderConfig,
    /// The raw spec's `containerApps.resourceGroup`, so that an object whose spec no longer
    /// validates can still be deleted.
    resource_group: Option<String>,
    /// The operation `status.operation` recorded: polled before anything else.
    operation: Option<String>,
    /// The copied app secrets, or why they could not be read (which only a write needs).
    values: Result<SecretValues, ProviderError>,
}

fn name_taken(place: &Place) -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::NAME_TAKEN,
        message: format!(
            "the container app {} in resource group {} exists and was not created by Ferry for \
             this object (its {} tag differs): rename the ServerlessService, or delete the app",
            place.name,
            place.resource_group,
            build::TAG_UID
        ),
        recheck: None,
    }
}

/// Whether `error` is ARM refusing a write because another operation on the app (or job) is
/// running.
pub(crate) fn operation_in_progress(error: &ProviderError) -> bool {
    arm_error_of(error).is_some_and(|e| {
        e.status == 409
            && (e.code.contains("InProgress")
                || e.code.contains("Transitioning")
                || e.code == "Conflict")
    })
}

/// Checks, before a write of `body` (an app's or a job's PUT), that the environment storages
/// `uses` exist in its environment and can serve the volumes ([`build::storage_problem`]).
pub(crate) async fn check_storages(
    arm: &Arm,
    body: &Value,
    uses: &[StorageUse],
) -> Result<(), ProviderError> {
    let Some(environment) = body["properties"]["environmentId"].as_str() else {
        return Ok(());
    };
    for used in uses {
        let held = arm.get(&used.id(environment), API_VERSION).await?;
        if let Some(message) = build::storage_problem(used, environment, held.as_ref()) {
            return Err(ProviderError::Terminal {
                reason: reasons::INVALID_SPEC,
                message,
                recheck: Some(secrets::SECRET_RECHECK),
            });
        }
    }
    Ok(())
}

/// A desired service or job this backend cannot build for (never after validation).
pub(crate) fn unbuildable(error: &BuildError) -> ProviderError {
    ProviderError::Terminal {
        reason: error.reason(),
        message: error.to_string(),
        recheck: None,
    }
}

/// Deletes the resource at `id` (an app or a job) when Ferry may manage it for the object with
/// `uid` ([`build::is_ours`]); `started` logs a delete it starts. Another's resource, or none,
/// is `Gone` for this object; one ARM is deleting or busy with is `InProgress`.
pub(crate) async fn delete_ours(
    arm: &Arm,
    id: &str,
    uid: Option<&str>,
    started: impl FnOnce(),
) -> Result<Deletion, ProviderError> {
    let Some(held) = arm.get(id, API_VERSION).await? else {
        return Ok(Deletion::Gone);
    };
    if !build::is_ours(&held, uid) {
        return Ok(Deletion::Gone);
    }
    if held["properties"]["provisioningState"] == "Deleting" {
        return Ok(Deletion::InProgress);
    }
    let accepted = match arm.delete(id, API_VERSION).await {
        Ok(accepted) => accepted,
        Err(e) if operation_in_progress(&e) => return Ok(Deletion::InProgress),
        Err(e) => return Err(e),
    };
    if accepted.gone {
        return Ok(Deletion::Gone);
    }
    started();
    Ok(Deletion::InProgress)
}

/// The resource at `id` (an app or a job) when it carries the UID tag `uid`, which a release
/// takes off; `None` when there is none, or it is released already or another's.
pub(crate) async fn tagged_with(
    arm: &Arm,
    id: &str,
    uid: Option<&str>,
) -> Result<Option<Value>, ProviderError> {
    let held = arm.get(id, API_VERSION).await?;
    Ok(held.filter(|held| resource::ownership(held, uid) == Ownership::Ours))
}

impl ContainerAppsClient {
    fn requests(&self, want: &Desired) -> Result<Requests, ProviderError> {
        let values = self.values.clone()?;
        build::requests(want, &self.config, &values).map_err(|e| unbuildable(&e))
    }

    fn place_of(&self, object: &ObjectRef) -> Place {
        Place::of(object, &self.config, self.resource_group.as_deref())
    }

    /// Sends `requests`: the operation ARM started, or nothing when ARM is busy with the app.
    async fn put(&self, requests: &Requests, what: &str) -> Result<Started, ProviderError> {
        match self
            .arm
            .put(&requests.place.id(), API_VERSION, &requests.body)
            .await
        {
            Ok(accepted) => {
                info!(
                    app = %requests.place.name,
                    resource_group = %requests.place.resource_group,
                    status = accepted.status,
                    "{what} the container app"
                );
                Ok(Started {
                    operation: accepted.operation.map(|o| o.encode()),
                    state: None,
                })
            }
            // Another operation on the app is running: the next look sees it done and writes.
            Err(e) if operation_in_progress(&e) => {
                debug!(app = %requests.place.name, error = %e, "the app is busy; writing later");
                Ok(Started::default())
            }
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl ExternalClient for ContainerAppsClient {
    async fn observe(&self, want: &Desired) -> Result<Observation, ProviderError> {
        let requests = self.requests(want)?;
        let failed_operation = match self.arm.poll_recorded(self.operation.as_deref()).await? {
            Recorded::Running => {
                return Ok(Observation::Present {
                    up_to_date: true,
                    readiness: Readiness::Progressing(
                        "Container Apps is working on the app".into(),
                    ),
                    outputs: Outputs {
                        operation: self.operation.clone(),
                        ..Outputs::default()
                    },
                });
            }
            Recorded::Failed { code, message } => Some(format!("{code}: {message}")),
            Recorded::Done => None,
        };
        let place = &requests.place;
        let Some(app) = self.arm.get(&place.id(), API_VERSION).await? else {
            if let Some(message) = failed_operation {
                // The create itself failed: sending it again unchanged would fail the same way.
                return Ok(Observation::Present {
                    up_to_date: true,
                    readiness: Readiness::Failed {
                        reason: reasons::REVISION_FAILED,
                        message,
                    },
                    outputs: Outputs::default(),
                });
            }
            return Ok(Observation::Absent);
        };
        if !build::is_ours(&app, want.object.uid.as_deref()) {
            return Err(name_taken(place));
        }
        let revision = match build::revision_to_read(&app) {
            Some(revision) => {
                self.arm
                    .get(&place.revision_id(revision), API_VERSION)
                    .await?
            }
            None => None,
        };
        let (readiness, outputs) =
            build::readiness(&app, revision.as_ref(), failed_operation.as_deref());
        let changes = build::diff(&requests, &app);
        if changes.iter().any(|c| !c.writable()) {
            return Err(ProviderError::Terminal {
                reason: reasons::UNSUPPORTED,
                message: format!(
                    "the container app {} runs in environment {}, and an app cannot move to \
                     another environment ({}): delete the app (or the ServerlessService) to \
                     recreate it there, or set spec.containerApps.resourceGroup to another \
                     resource group to move it as a new app",
                    place.name,
                    app["properties"]["environmentId"].as_str().unwrap_or("?"),
                    requests.body["properties"]["environmentId"]
                        .as_str()
                        .unwrap_or("?"),
                ),
                recheck: None,
            });
        }
        let canceled = app["properties"]["provisioningState"] == "Canceled";
        // A write while ARM works on the app would be refused: look again when it is done.
        let up_to_date = build::in_progress(&app) || (changes.is_empty() && !canceled);
        if !up_to_date {
            debug!(app = %place.name, ?changes, "the container app differs from the spec");
        }
        Ok(Observation::Present {
            up_to_date,
            readiness,
            outputs,
        })
    }

    async fn create(&self, want: &Desired) -> Result<Started, ProviderError> {
        let requests = self.requests(want)?;
        let uses = build::storage_uses(&want.volumes, &want.containers);
        check_storages(&self.arm, &requests.body, &uses).await?;
        self.put(&requests, "creating").await
    }

    async fn update(&self, want: &Desired) -> Result<Started, ProviderError> {
        let requests = self.requests(want)?;
        let uses = build::storage_uses(&want.volumes, &want.containers);
        check_storages(&self.arm, &requests.body, &uses).await?;
        self.put(&requests, "updating").await
    }

    async fn delete(&self, object: &ObjectRef) -> Result<Deletion, ProviderError> {
        let place = self.place_of(object);
        delete_ours(&self.arm, &place.id(), object.uid.as_deref(), || {
            info!(app = %place.name, resource_group = %place.resource_group, "deleting the container app");
        })
        .await
    }

    async fn release(&self, object: &ObjectRef) -> Result<(), ProviderError> {
        let place = self.place_of(object);
        let id = place.id();
        let Some(app) = tagged_with(&self.arm, &id, object.uid.as_deref()).await? else {
            return Ok(());
        };
        let values = self.values.clone().unwrap_or_default();
        // Without the UID tag the app is adoptable by the next object of this name.
        let body = build::released(&app, &values).ok_or_else(|| ProviderError::Terminal {
            reason: reasons::PROVIDER_ERROR,
            message: format!(
                "cannot untag the container app {}: it holds an app secret whose value Ferry \
                 could not read again (ARM never describes secret values); remove the {} tag \
                 by hand",
                place.name,
                build::TAG_UID
            ),
            recheck: None,
        })?;
        self.arm.put(&id, API_VERSION, &body).await?;
        info!(app = %place.name, "released the container app (its UID tag removed)");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_copied_secrets_some_env_reads_are_read() {
        let svc: ServerlessService = serde_json::from_value(serde_json::json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "ServerlessService",
            "metadata": {"name": "hello", "namespace": "shop"},
            "spec": {
                "provider": "containerApps",
                "containers": [{"name": "app", "image": "x", "port": 8080,
                                "env": [{"name": "A", "secret": {"name": "api"}},
                                        {"name": "B", "secret": {"name": "vault"}}]}],
                "containerApps": {"secrets": [
                    {"name": "api", "fromSecret": {"name": "hello-api", "key": "key"}},
                    {"name": "vault", "keyVaultUrl": "https://v.vault.azure.net/secrets/s"},
                    {"name": "spare", "fromSecret": {"name": "spare", "key": "k"}},
                ]},
            },
        }))
        .unwrap();
        assert_eq!(
            copied_secrets(&svc),
            [("api".to_owned(), "hello-api".to_owned(), "key".to_owned())]
        );
    }
}
