//! The I/O half of the Container Instances backend: resolves the ProviderConfig and its
//! credentials, reads the container group with a GET, and starts creates, updates and deletes
//! that ARM finishes on its own: the operation goes into `status.operation`, and the next
//! reconcile polls it once instead of waiting.
//!
//! Idempotency: the group's name is deterministic and the group carries the object's UID as a
//! tag; `create` runs only after a GET said 404, and a PUT is whole and repeatable, so a PUT
//! whose answer was lost and is sent again updates the same group instead of making a second.
//! A PUT replaces the group and restarts its containers, so `observe` reports a change only
//! when what Ferry sets differs (see [`crate::build`]): an idle reconcile writes nothing.
//!
//! Secrets copied with `fromSecret` (and the Azure Files account keys `azureFile.secretRef`
//! names) are read from the service's namespace: `observe` reads only the Secrets' metadata
//! (their `resourceVersion` is part of the fingerprint), `create` and `update` their values,
//! which go to ARM as secure values, account keys and secret files and nowhere else (never a
//! log, an event or a status).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use ferry_api::conditions::reasons;
use ferry_api::{AzureProviderConfig, ProviderConfig, ServerlessService, ServerlessServiceSpec};
use ferry_azure::connect::{self, Connections};
use ferry_azure::secrets::{self, KeyError, missing};
use ferry_azure::{Arm, ArmSettings, Recorded};
use ferry_core::desired::{Desired, ObjectRef};
use ferry_provider::provider_config;
use ferry_provider::{
    Connector, Deletion, ExternalClient, Observation, Outputs, ProviderError, Readiness, Started,
};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use tracing::{debug, info, warn};

use crate::ContainerInstances;
use crate::build::{self, API_VERSION, Ownership, Request, SecretKey, SecretValue};

/// Tunables of the Container Instances backend.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The operator's namespace: the only one credential Secrets are read from.
    pub operator_namespace: String,
    /// The ARM client's retries and timeouts.
    pub arm: ArmSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            operator_namespace: "ferry-system".into(),
            arm: ArmSettings::default(),
        }
    }
}

/// Reads the keys of Secrets in a service's namespace that `fromSecret` copies.
#[async_trait]
pub trait SecretReader: Send + Sync {
    /// The Secret's `resourceVersion`, and the key's value when `value` is asked for. A
    /// missing Secret or key is a `Terminal` error naming it.
    async fn read(
        &self,
        namespace: &str,
        secret: &str,
        key: &str,
        value: bool,
    ) -> Result<SecretValue, ProviderError>;
}

/// [`SecretReader`] through the Kubernetes API.
pub struct KubeSecrets(pub kube::Client);

fn secret_lookup_failed(what: &str, error: &kube::Error) -> ProviderError {
    secrets::read_failed("spec.containerInstances.secrets", what, error)
}

#[async_trait]
impl SecretReader for KubeSecrets {
    async fn read(
        &self,
        namespace: &str,
        secret: &str,
        key: &str,
        value: bool,
    ) -> Result<SecretValue, ProviderError> {
        let what = format!("Secret {namespace}/{secret}");
        let api: Api<Secret> = Api::namespaced(self.0.clone(), namespace);
        let gone = || {
            missing(format!(
                "{what} does not exist: create it, or change what names it \
                 (spec.containerInstances.secrets, spec.volumes[].azureFile.secretRef)"
            ))
        };
        if !value {
            let meta = api
                .get_metadata_opt(secret)
                .await
                .map_err(|e| secret_lookup_failed(&what, &e))?
                .ok_or_else(gone)?;
            return Ok(SecretValue {
                value: None,
                version: meta.resource_version().unwrap_or_default(),
            });
        }
        let found = api
            .get_opt(secret)
            .await
            .map_err(|e| secret_lookup_failed(&what, &e))?
            .ok_or_else(gone)?;
        let text = secrets::key_text(&found, key).map_err(|e| match e {
            KeyError::Missing => missing(format!("{what} has no key {key}")),
            KeyError::NotText => missing(format!(
                "key {key} of {what} is not text: Container Instances takes secure values, \
                 account keys and secret files as strings"
            )),
        })?;
        Ok(SecretValue {
            value: Some(text),
            version: found.resource_version().unwrap_or_default(),
        })
    }
}

/// Connects `provider: containerInstances` objects to the Azure subscription their
/// ProviderConfig names.
pub struct ContainerInstancesConnector {
    kube: kube::Client,
    connections: Connections,
    secrets: Arc<dyn SecretReader>,
}

impl ContainerInstancesConnector {
    /// A connector reading ProviderConfigs and Secrets with `kube`.
    pub fn new(kube: kube::Client, settings: Settings) -> Self {
        let secrets = Arc::new(KubeSecrets(kube.clone()));
        Self::with_secrets(kube, settings, secrets)
    }

    /// A connector reading the Secrets `fromSecret` copies with `secrets` (tests).
    pub fn with_secrets(
        kube: kube::Client,
        settings: Settings,
        secrets: Arc<dyn SecretReader>,
    ) -> Self {
        let connections = Connections::new(
            kube.clone(),
            settings.operator_namespace,
            settings.arm,
            "Container Instances",
        );
        Self {
            kube,
            connections,
            secrets,
        }
    }

    /// The client for `svc` under `config` (already resolved and allowed), with `secret` the
    /// service principal's JSON and its Secret's resourceVersion when the ProviderConfig names
    /// one. [`Connector::connect`] reads both from the cluster; tests pass them in.
    pub async fn connect_with(
        &self,
        svc: &ServerlessService,
        config: &ProviderConfig,
        secret: Option<(String, String)>,
    ) -> Result<Arc<dyn ExternalClient>, ProviderError> {
        let section = connect::section(config)?;
        let arm = self.connections.arm(config, secret).await?;
        Ok(Arc::new(ContainerInstancesClient {
            arm,
            config: section.clone(),
            namespace: svc.namespace().unwrap_or_default(),
            spec: svc.spec.clone(),
            secrets: Arc::clone(&self.secrets),
            operation: svc.status.as_ref().and_then(|s| s.operation.clone()),
        }))
    }
}

#[async_trait]
impl Connector for ContainerInstancesConnector {
    async fn connect(
        &self,
        svc: &ServerlessService,
    ) -> Result<Arc<dyn ExternalClient>, ProviderError> {
        let config = provider_config::resolve(&self.kube, svc).await?;
        let secret = self.connections.credentials(&config).await?;
        self.connect_with(svc, &config, secret).await
    }

    async fn check(&self, config: &ProviderConfig) -> Option<Result<String, ProviderError>> {
        self.connections.check(config).await
    }
}

/// The container group of one object.
struct ContainerInstancesClient {
    arm: Arm,
    config: AzureProviderConfig,
    /// The object's namespace, where `fromSecret` Secrets are read.
    namespace: String,
    /// The object's spec as written, so that an object whose spec no longer validates can
    /// still be deleted or released.
    spec: ServerlessServiceSpec,
    secrets: Arc<dyn SecretReader>,
    /// The operation `status.operation` recorded: polled before anything else.
    operation: Option<String>,
}

fn invalid(error: &build::BuildError) -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::INVALID_SPEC,
        message: error.to_string(),
        recheck: None,
    }
}

fn name_taken(name: &str) -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::NAME_TAKEN,
        message: format!(
            "the container group {name} exists and was not created by Ferry for this object \
             (its {} tag differs, or it has no {} tag {}): rename the ServerlessService, or \
             delete the container group",
            build::TAG_UID,
            build::TAG_MANAGED_BY,
            build::MANAGED_BY_FERRY
        ),
        recheck: None,
    }
}

impl ContainerInstancesClient {
    /// The Secret keys `want` copies: their versions, and their values when `values`.
    async fn read_secrets(
        &self,
        want: &Desired,
        values: bool,
    ) -> Result<BTreeMap<SecretKey, SecretValue>, ProviderError> {
        let mut out = BTreeMap::new();
        for (secret, key) in build::kubernetes_secrets(want) {
            let read = self
                .secrets
                .read(&self.namespace, &secret, &key, values)
                .await?;
            out.insert((secret, key), read);
        }
        Ok(out)
    }

    /// The PUT for `want`, with the values of the Secrets it copies.
    async fn request(&self, want: &Desired) -> Result<Request, ProviderError> {
        let secrets = self.read_secrets(want, true).await?;
        build::request(want, &self.config, &secrets).map_err(|e| invalid(&e))
    }

    async fn put(&self, request: &Request, doing: &str) -> Result<Started, ProviderError> {
        let id = request.target.id();
        let accepted = match self.arm.put(&id, API_VERSION, &request.body).await {
            Ok(accepted) => accepted,
            Err(e) => return self.already_under_way(request, e).await,
        };
        let operation = accepted.operation.map(|o| o.encode());
        info!(
            group = %request.target.name,
            operation = operation.as_deref().unwrap_or("none"),
            "{doing} the container group"
        );
        Ok(Started {
            operation,
            state: None,
        })
    }

    /// A PUT refused with 409 because the group is still transitioning is no failure when
    /// the write under way is this very one (an earlier PUT whose answer was lost, and which
    /// the client sent again): the group carries this request's fingerprint and the object's
    /// UID. Then the next reconcile watches it settle; otherwise the error stands (a short
    /// wait: it is `Transient`).
    async fn already_under_way(
        &self,
        request: &Request,
        error: ProviderError,
    ) -> Result<Started, ProviderError> {
        if ferry_azure::arm_error_of(&error).is_none_or(|e| e.status != 409) {
            return Err(error);
        }
        let Some(group) = self.arm.get(&request.target.id(), API_VERSION).await? else {
            return Err(error);
        };
        let fingerprint = build::tag(&group, build::TAG_FINGERPRINT);
        let uid = request.body["tags"][build::TAG_UID].as_str();
        if fingerprint == Some(request.fingerprint.as_str())
            && build::tag(&group, build::TAG_UID) == uid
        {
            debug!(group = %request.target.name, "the PUT is already under way");
            return Ok(Started::default());
        }
        Err(error)
    }

    /// The group of `object`, by its raw spec.
    fn target_of(&self, object: &ObjectRef) -> build::Target {
        build::target_of(
            &object.namespace,
            &object.name,
            self.spec.container_instances.as_ref(),
            &self.config,
        )
    }
}

#[async_trait]
impl ExternalClient for ContainerInstancesClient {
    async fn observe(&self, want: &Desired) -> Result<Observation, ProviderError> {
        let target = build::target(want, &self.config).map_err(|e| invalid(&e))?;
        let id = target.id();
        let failed = match self.arm.poll_recorded(self.operation.as_deref()).await? {
            Recorded::Running => {
                return Ok(Observation::Present {
                    up_to_date: true,
                    readiness: Readiness::Progressing(format!(
                        "Container Instances is working on container group {}",
                        target.name
                    )),
                    outputs: Outputs {
                        operation: self.operation.clone(),
                        resource_id: Some(id),
                        ..Outputs::default()
                    },
                });
            }
            Recorded::Failed { code, message } => Some(build::operation_failure(&code, &message)),
            Recorded::Done => None,
        };
        let Some(group) = self.arm.get(&id, API_VERSION).await? else {
            if let Some(readiness) = failed {
                // The create itself failed: retrying it unchanged would fail the same way.
                return Ok(Observation::Present {
                    up_to_date: true,
                    readiness,
                    outputs: Outputs::default(),
                });
            }
            return Ok(Observation::Absent);
        };
        if build::ownership(&group, want.object.uid.as_deref()) == Ownership::Foreign {
            return Err(name_taken(&target.name));
        }
        let secrets = self.read_secrets(want, false).await?;
        let request = build::request(want, &self.config, &secrets).map_err(|e| invalid(&e))?;
        let changes = build::diff(&request, &group);
        let (mut readiness, outputs) = build::readiness(&group);
        if let Some(failure) = failed
            && matches!(readiness, Readiness::Progressing(_))
        {
            readiness = failure;
        }
        if !changes.is_empty() {
            debug!(group = %target.name, ?changes, "the container group differs from the spec");
        }
        Ok(Observation::Present {
            up_to_date: changes.is_empty(),
            readiness,
            outputs,
        })
    }

    async fn create(&self, want: &Desired) -> Result<Started, ProviderError> {
        let request = self.request(want).await?;
        self.put(&request, "creating").await
    }

    async fn update(&self, want: &Desired) -> Result<Started, ProviderError> {
        let request = self.request(want).await?;
        self.put(&request, "replacing").await
    }

    async fn delete(&self, object: &ObjectRef) -> Result<Deletion, ProviderError> {
        let target = self.target_of(object);
        let id = target.id();
        let Some(group) = self.arm.get(&id, API_VERSION).await? else {
            return Ok(Deletion::Gone);
        };
        if build::ownership(&group, object.uid.as_deref()) != Ownership::Ours {
            // Someone else's, or released: not Ferry's to delete.
            return Ok(Deletion::Gone);
        }
        if group["properties"]["provisioningState"].as_str() == Some("Deleting") {
            return Ok(Deletion::InProgress);
        }
        let accepted = self.arm.delete(&id, API_VERSION).await?;
        if accepted.gone {
            return Ok(Deletion::Gone);
        }
        info!(group = %target.name, "deleting the container group");
        Ok(Deletion::InProgress)
    }

    /// Writes the group once more without its UID tag, so that a new object of the same name
    /// adopts it. ARM has no other way for Ferry to change tags than a PUT of the whole group
    /// (which restarts its containers), so the group is rebuilt from the spec; a spec that no
    /// longer validates leaves the group tagged (a later object of the name then finds it
    /// taken, and the message says why).
    async fn release(&self, object: &ObjectRef) -> Result<(), ProviderError> {
        let target = self.target_of(object);
        let Some(group) = self.arm.get(&target.id(), API_VERSION).await? else {
            return Ok(());
        };
        if build::ownership(&group, object.uid.as_deref()) != Ownership::Ours {
            return Ok(());
        }
        let mut want =
            match ferry_core::validate_spec(object.clone(), &self.spec, &ContainerInstances) {
                Ok(valid) => valid.desired,
                Err(invalid) => {
                    warn!(
                        group = %target.name,
                        %invalid,
                        "the spec no longer validates: the container group is left with its {} tag",
                        build::TAG_UID
                    );
                    return Ok(());
                }
            };
        want.object.uid = None;
        let request = self.request(&want).await?;
        self.put(&request, "releasing").await.map(|_| ())
    }
}
