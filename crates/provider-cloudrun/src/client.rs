//! The I/O half of the Cloud Run backend: resolves the ProviderConfig and its credentials,
//! reads the service with `GetService`, and starts creates, updates and deletes as long-running
//! operations that it never waits for: the operation's name goes into `status.operation`, and
//! the next reconcile polls it with `GetOperation`.
//!
//! Idempotency: the service name is deterministic and the service carries the object's UID as
//! a label; `create` runs only after `GetService` said 404, and a 409 `ALREADY_EXISTS` (an
//! earlier create whose answer was lost) is success. Updates carry the observed `etag`, so
//! Ferry never overwrites a change it has not seen.
//!
//! The connector also makes the clients of `ServerlessJob`s ([`crate::job::client`]): Cloud
//! Run's Jobs and Executions and Cloud Scheduler, with the same credentials and retries.

pub(crate) mod errors;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ferry_api::conditions::reasons;
use ferry_api::{
    CloudRunProviderConfig, CredentialsSource, ProviderConfig, ServerlessJob, ServerlessService,
};
use ferry_core::desired::{Desired, ObjectRef};
use ferry_provider::job::{Jobs, workload_of};
use ferry_provider::provider_config;
use ferry_provider::{
    Connector, Deletion, ExternalClient, Observation, Outputs, ProviderError, Readiness, Started,
};
use google_cloud_auth::credentials::Credentials;
use google_cloud_gax::client_builder::ClientBuilder;
use google_cloud_gax::retry_policy::{Aip194Strict, RetryPolicyExt};
use google_cloud_run_v2::client::{Executions, Jobs as CloudRunJobs, Services};
use google_cloud_run_v2::model;
use google_cloud_scheduler_v1::client::CloudScheduler;
use kube::ResourceExt;
use tracing::{debug, info};

use crate::build::{self, Requests};
use crate::job::client::{CloudRunJobClient, JobClients};
use errors::{classify, code_of};

/// Tunables of the Cloud Run backend.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The operator's namespace: the only one credential Secrets are read from.
    pub operator_namespace: String,
    /// Attempts per idempotent call (reads, deletes), the first included.
    pub attempts: u32,
    /// How long the attempts of one call may take together.
    pub call_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            operator_namespace: "ferry-system".into(),
            attempts: 3,
            call_timeout: Duration::from_secs(30),
        }
    }
}

/// Which version of a ProviderConfig (and of its credentials Secret) a client was built from.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Version {
    config: String,
    secret: Option<String>,
}

/// Connects `provider: cloudRun` objects to the Google Cloud project their ProviderConfig
/// names.
pub struct CloudRunConnector {
    kube: kube::Client,
    settings: Settings,
    clients: tokio::sync::Mutex<HashMap<String, (Version, Services)>>,
    job_clients: tokio::sync::Mutex<HashMap<String, (Version, JobClients)>>,
}

impl CloudRunConnector {
    /// A connector reading ProviderConfigs and Secrets with `kube`.
    pub fn new(kube: kube::Client, settings: Settings) -> Self {
        Self {
            kube,
            settings,
            clients: tokio::sync::Mutex::default(),
            job_clients: tokio::sync::Mutex::default(),
        }
    }

    /// `builder` with the credentials, the retries of [`Settings`] and the ProviderConfig's
    /// endpoint: what every Google client of one ProviderConfig shares.
    fn configure<F>(
        &self,
        builder: ClientBuilder<F, Credentials>,
        config: &CloudRunProviderConfig,
        credentials: Credentials,
    ) -> ClientBuilder<F, Credentials> {
        let builder = builder.with_credentials(credentials).with_retry_policy(
            Aip194Strict
                .with_attempt_limit(self.settings.attempts.max(1))
                .with_time_limit(self.settings.call_timeout),
        );
        match &config.endpoint {
            Some(endpoint) => builder.with_endpoint(endpoint),
            None => builder,
        }
    }

    /// The Cloud Run client for one ProviderConfig version, built once.
    async fn services(
        &self,
        name: &str,
        config: &CloudRunProviderConfig,
        version: Version,
        key: Option<String>,
    ) -> Result<Services, ProviderError> {
        let mut clients = self.clients.lock().await;
        if let Some((known, client)) = clients.get(name)
            && *known == version
        {
            return Ok(client.clone());
        }
        info!(
            provider_config = name,
            "connecting to the Cloud Run Admin API"
        );
        // The Google crates' HTTP client carries no TLS crypto provider of its own; ring is
        // the one kube uses too. Installing fails harmlessly when one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let credentials = credentials(config, key, name)?;
        let client = self
            .configure(Services::builder(), config, credentials)
            .build()
            .await
            .map_err(|e| cannot_set_up(name, "Cloud Run", &e))?;
        clients.insert(name.to_owned(), (version, client.clone()));
        Ok(client)
    }

    /// The Cloud Run Jobs, Executions and Cloud Scheduler clients for one ProviderConfig
    /// version, built once.
    async fn job_clients(
        &self,
        name: &str,
        config: &CloudRunProviderConfig,
        version: Version,
        key: Option<String>,
    ) -> Result<JobClients, ProviderError> {
        let mut clients = self.job_clients.lock().await;
        if let Some((known, client)) = clients.get(name)
            && *known == version
        {
            return Ok(client.clone());
        }
        info!(
            provider_config = name,
            "connecting to the Cloud Run Admin API and Cloud Scheduler for jobs"
        );
        let _ = rustls::crypto::ring::default_provider().install_default();
        let credentials = credentials(config, key, name)?;
        let jobs = self
            .configure(CloudRunJobs::builder(), config, credentials.clone())
            .build()
            .await
            .map_err(|e| cannot_set_up(name, "Cloud Run Jobs", &e))?;
        let executions = self
            .configure(Executions::builder(), config, credentials.clone())
            .build()
            .await
            .map_err(|e| cannot_set_up(name, "Cloud Run Executions", &e))?;
        let scheduler = self
            .configure(CloudScheduler::builder(), config, credentials)
            .build()
            .await
            .map_err(|e| cannot_set_up(name, "Cloud Scheduler", &e))?;
        let client = JobClients {
            jobs,
            executions,
            scheduler,
        };
        clients.insert(name.to_owned(), (version, client.clone()));
        Ok(client)
    }

    /// The job client for `job` in the project of `config` (already resolved and allowed), as
    /// [`CloudRunConnector::connect_with`] makes a service's.
    pub async fn connect_job_with(
        &self,
        job: &ServerlessJob,
        config: &ProviderConfig,
        secret: Option<(String, String)>,
    ) -> Result<Jobs, ProviderError> {
        let name = config.name_any();
        let section = cloud_run_section(config)?;
        let (key, secret_version) = secret.unzip();
        let version = Version {
            config: config.resource_version().unwrap_or_default(),
            secret: secret_version,
        };
        let clients = self.job_clients(&name, section, version, key).await?;
        Ok(Arc::new(CloudRunJobClient::new(
            clients,
            section.clone(),
            location_of(&workload_of(job), section),
        )))
    }

    /// The client for `svc` in the project of `config` (already resolved and allowed), with
    /// `secret` the service-account key and its Secret's resourceVersion when the
    /// ProviderConfig names one. [`Connector::connect`] reads both from the cluster; tests pass
    /// them in.
    pub async fn connect_with(
        &self,
        svc: &ServerlessService,
        config: &ProviderConfig,
        secret: Option<(String, String)>,
    ) -> Result<Arc<dyn ExternalClient>, ProviderError> {
        let name = config.name_any();
        let section = cloud_run_section(config)?;
        let (key, secret_version) = match secret {
            Some((key, version)) => (Some(key), Some(version)),
            None => (None, None),
        };
        let version = Version {
            config: config.resource_version().unwrap_or_default(),
            secret: secret_version,
        };
        let services = self.services(&name, section, version, key).await?;
        Ok(Arc::new(CloudRunClient {
            services,
            config: section.clone(),
            location: location_of(svc, section),
            operation: svc.status.as_ref().and_then(|s| s.operation.clone()),
            last: Mutex::default(),
        }))
    }
}

#[async_trait]
impl Connector for CloudRunConnector {
    async fn connect(
        &self,
        svc: &ServerlessService,
    ) -> Result<Arc<dyn ExternalClient>, ProviderError> {
        let config = provider_config::resolve(&self.kube, svc).await?;
        let secret = self.secret(&config).await?;
        self.connect_with(svc, &config, secret).await
    }

    async fn connect_job(&self, job: &ServerlessJob) -> Result<Jobs, ProviderError> {
        let config = provider_config::resolve(&self.kube, &workload_of(job)).await?;
        let secret = self.secret(&config).await?;
        self.connect_job_with(job, &config, secret).await
    }

    async fn check(&self, config: &ProviderConfig) -> Option<Result<String, ProviderError>> {
        let section = config.spec.cloud_run.as_ref()?;
        Some(self.check_location(config, section).await)
    }
}

impl CloudRunConnector {
    /// The service-account key `config` names and its Secret's resourceVersion, when it names
    /// one.
    async fn secret(
        &self,
        config: &ProviderConfig,
    ) -> Result<Option<(String, String)>, ProviderError> {
        provider_config::credentials_secret(
            &self.kube,
            &self.settings.operator_namespace,
            &config.name_any(),
            cloud_run_section(config)?.credentials.as_ref(),
            "spec.cloudRun",
        )
        .await
    }

    /// Whether the Admin API answers for the ProviderConfig's project and region with its
    /// credentials: one `ListServices` of at most one service.
    async fn check_location(
        &self,
        config: &ProviderConfig,
        section: &CloudRunProviderConfig,
    ) -> Result<String, ProviderError> {
        let (key, version) = self.secret(config).await?.unzip();
        let version = Version {
            config: config.resource_version().unwrap_or_default(),
            secret: version,
        };
        let services = self
            .services(&config.name_any(), section, version, key)
            .await?;
        let parent = format!("projects/{}/locations/{}", section.project, section.region);
        services
            .list_services()
            .set_parent(&parent)
            .set_page_size(1)
            .send()
            .await
            .map_err(|e| classify("ListServices", &e))?;
        Ok(format!("Cloud Run answers for {parent}"))
    }
}

fn cannot_set_up(name: &str, what: &str, e: &impl std::fmt::Display) -> ProviderError {
    ProviderError::Auth(format!(
        "ProviderConfig {name}: cannot set up the {what} client: {e}"
    ))
}

fn source(config: &CloudRunProviderConfig) -> CredentialsSource {
    config
        .credentials
        .as_ref()
        .map_or(CredentialsSource::InjectedIdentity, |c| c.source)
}

/// The credentials `config` names: Application Default Credentials (GKE Workload Identity,
/// the metadata server, `GOOGLE_APPLICATION_CREDENTIALS`), a service-account key, or none.
fn credentials(
    config: &CloudRunProviderConfig,
    key: Option<String>,
    name: &str,
) -> Result<Credentials, ProviderError> {
    let invalid = |message: String| ProviderError::Terminal {
        reason: reasons::CREDENTIALS_INVALID,
        message,
        recheck: None,
    };
    match source(config) {
        CredentialsSource::Anonymous => {
            Ok(google_cloud_auth::credentials::anonymous::Builder::new().build())
        }
        CredentialsSource::InjectedIdentity => google_cloud_auth::credentials::Builder::default()
            .build()
            .map_err(|e| {
                ProviderError::Auth(format!(
                    "ProviderConfig {name}: no Application Default Credentials: {e}"
                ))
            }),
        CredentialsSource::Secret => {
            let key = key.ok_or_else(|| {
                invalid(format!(
                    "ProviderConfig {name}: its credentials Secret was not read"
                ))
            })?;
            let json: serde_json::Value = serde_json::from_str(&key).map_err(|e| {
                invalid(format!(
                    "ProviderConfig {name}: the credentials Secret does not hold a service \
                     account key (JSON): {e}"
                ))
            })?;
            google_cloud_auth::credentials::service_account::Builder::new(json)
                .build()
                .map_err(|e| {
                    invalid(format!(
                        "ProviderConfig {name}: the service account key is not usable: {e}"
                    ))
                })
        }
    }
}

fn cloud_run_section(config: &ProviderConfig) -> Result<&CloudRunProviderConfig, ProviderError> {
    config
        .spec
        .cloud_run
        .as_ref()
        .ok_or_else(|| ProviderError::Terminal {
            reason: reasons::PROVIDER_CONFIG_NOT_FOUND,
            message: format!(
                "ProviderConfig {} has no spec.cloudRun: add one, or name a ProviderConfig for \
                 Google Cloud in spec.providerConfigRef",
                config.name_any()
            ),
            recheck: None,
        })
}

/// `projects/P/locations/R` of `svc`, from its raw spec over the ProviderConfig's, so that an
/// object whose spec no longer validates can still be deleted.
fn location_of(svc: &ServerlessService, config: &CloudRunProviderConfig) -> String {
    let own = svc.spec.cloud_run.as_ref();
    let project = own
        .and_then(|c| c.project.clone())
        .unwrap_or_else(|| config.project.clone());
    let region = own
        .and_then(|c| c.region.clone())
        .unwrap_or_else(|| config.region.clone());
    format!("projects/{project}/locations/{region}")
}

/// The Cloud Run service of one object.
struct CloudRunClient {
    services: Services,
    config: CloudRunProviderConfig,
    location: String,
    /// The operation `status.operation` recorded: polled before anything else.
    operation: Option<String>,
    /// What the last `observe` found, so that `update` sends its etag.
    last: Mutex<Option<model::Service>>,
}

/// The requests for `want`, or why there can be none.
fn requests_for(
    want: &Desired,
    config: &CloudRunProviderConfig,
) -> Result<Requests, ProviderError> {
    build::requests(want, config).map_err(|e| ProviderError::Terminal {
        reason: reasons::INVALID_SPEC,
        message: e.to_string(),
        recheck: None,
    })
}

fn name_taken(name: &str) -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::NAME_TAKEN,
        message: format!(
            "the Cloud Run service {name} exists and was not created by Ferry for this object \
             (its {} label differs): rename the ServerlessService, or delete the Cloud Run \
             service",
            build::LABEL_UID
        ),
        recheck: None,
    }
}

/// Where an operation stands.
enum Polled {
    Running,
    Done,
    Failed(String),
}

impl CloudRunClient {
    fn remember(&self, observed: Option<model::Service>) {
        *self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = observed;
    }

    fn recall(&self) -> Option<model::Service> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    async fn get(&self, name: &str) -> Result<Option<model::Service>, ProviderError> {
        match self.services.get_service().set_name(name).send().await {
            Ok(service) => Ok(Some(service)),
            Err(e) if code_of(&e) == Some(google_cloud_gax::error::rpc::Code::NotFound) => Ok(None),
            Err(e) => Err(classify("GetService", &e)),
        }
    }

    async fn poll(&self, operation: &str) -> Result<Polled, ProviderError> {
        let op = match self
            .services
            .get_operation()
            .set_name(operation)
            .send()
            .await
        {
            Ok(op) => op,
            // Operations expire; the service tells the rest.
            Err(e) if code_of(&e) == Some(google_cloud_gax::error::rpc::Code::NotFound) => {
                return Ok(Polled::Done);
            }
            Err(e) => return Err(classify("GetOperation", &e)),
        };
        if !op.done {
            return Ok(Polled::Running);
        }
        Ok(match op.result {
            Some(google_cloud_longrunning::model::operation::Result::Error(status)) => {
                Polled::Failed(status.message)
            }
            _ => Polled::Done,
        })
    }

    /// Grants or revokes `allUsers` the invoker role as `requests.invoker` says.
    async fn sync_invoker(&self, requests: &Requests) -> Result<(), ProviderError> {
        let policy = self
            .services
            .get_iam_policy()
            .set_resource(&requests.name)
            .send()
            .await
            .map_err(|e| classify("GetIamPolicy", &e))?;
        if let Some(policy) = build::invoker_policy(requests, &policy) {
            self.services
                .set_iam_policy()
                .set_resource(&requests.name)
                .set_policy(policy)
                .send()
                .await
                .map_err(|e| classify("SetIamPolicy", &e))?;
            info!(
                service = %requests.name,
                public = requests.invoker.is_some(),
                "set the invoker policy"
            );
        }
        Ok(())
    }
}

#[async_trait]
impl ExternalClient for CloudRunClient {
    async fn observe(&self, want: &Desired) -> Result<Observation, ProviderError> {
        let requests = requests_for(want, &self.config)?;
        let mut failed_operation = None;
        if let Some(operation) = &self.operation {
            match self.poll(operation).await? {
                Polled::Running => {
                    return Ok(Observation::Present {
                        up_to_date: true,
                        readiness: Readiness::Progressing(format!(
                            "Cloud Run is working on the service (operation {operation})"
                        )),
                        outputs: Outputs {
                            operation: Some(operation.clone()),
                            ..Outputs::default()
                        },
                    });
                }
                Polled::Failed(message) => failed_operation = Some(message),
                Polled::Done => {}
            }
        }
        let Some(service) = self.get(&requests.name).await? else {
            self.remember(None);
            if let Some(message) = failed_operation {
                // The create itself failed: retrying it unchanged would fail the same way.
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
        if !build::is_ours(&service, want.object.uid.as_deref()) {
            return Err(name_taken(&requests.name));
        }
        let changes = build::diff(&requests, &service);
        let up_to_date = changes.is_empty();
        // A public service's invoker binding is checked at every look (one read); a private
        // one's is revoked when the spec changes (see `update`), not polled.
        if up_to_date && requests.invoker.is_some() {
            self.sync_invoker(&requests).await?;
        }
        let (readiness, outputs) = build::readiness(&service);
        if !up_to_date {
            debug!(service = %requests.name, ?changes, "Cloud Run differs from the spec");
        }
        self.remember(Some(service));
        Ok(Observation::Present {
            up_to_date,
            readiness,
            outputs,
        })
    }

    async fn create(&self, want: &Desired) -> Result<Started, ProviderError> {
        let requests = requests_for(want, &self.config)?;
        let started = self
            .services
            .create_service()
            .set_parent(&requests.parent)
            .set_service_id(&requests.service_id)
            .set_service(requests.service.clone())
            .send()
            .await;
        match started {
            Ok(op) => {
                info!(
                    service = %requests.name,
                    operation = %op.name,
                    "creating the Cloud Run service"
                );
                Ok(Started {
                    operation: Some(op.name),
                    state: None,
                })
            }
            // An earlier create whose answer was lost: observe finds it next time.
            Err(e) if code_of(&e) == Some(google_cloud_gax::error::rpc::Code::AlreadyExists) => {
                Ok(Started::default())
            }
            Err(e) => Err(classify("CreateService", &e)),
        }
    }

    async fn update(&self, want: &Desired) -> Result<Started, ProviderError> {
        let requests = requests_for(want, &self.config)?;
        let Some(observed) = self.recall() else {
            return Ok(Started::default());
        };
        let mut service = requests.service.clone();
        service.name.clone_from(&requests.name);
        // Only a change to what Ferry last saw goes through; another writer's change makes
        // this fail with ABORTED, and the next reconcile looks again.
        service.etag.clone_from(&observed.etag);
        let op = self
            .services
            .update_service()
            .set_service(service)
            .send()
            .await
            .map_err(|e| classify("UpdateService", &e))?;
        info!(service = %requests.name, operation = %op.name, "updating the Cloud Run service");
        self.sync_invoker(&requests).await?;
        Ok(Started {
            operation: Some(op.name),
            state: None,
        })
    }

    async fn delete(&self, object: &ObjectRef) -> Result<Deletion, ProviderError> {
        let name = format!(
            "{}/services/{}",
            self.location,
            crate::names::service_name(&object.namespace, &object.name)
        );
        let Some(service) = self.get(&name).await? else {
            return Ok(Deletion::Gone);
        };
        if !build::is_ours(&service, object.uid.as_deref()) {
            return Ok(Deletion::Gone);
        }
        if service.reconciling && service.delete_time.is_some() {
            return Ok(Deletion::InProgress);
        }
        match self
            .services
            .delete_service()
            .set_name(&name)
            .set_etag(&service.etag)
            .send()
            .await
        {
            Ok(op) => {
                info!(service = %name, operation = %op.name, "deleting the Cloud Run service");
                Ok(Deletion::InProgress)
            }
            Err(e) if code_of(&e) == Some(google_cloud_gax::error::rpc::Code::NotFound) => {
                Ok(Deletion::Gone)
            }
            Err(e) => Err(classify("DeleteService", &e)),
        }
    }

    async fn release(&self, object: &ObjectRef) -> Result<(), ProviderError> {
        let name = format!(
            "{}/services/{}",
            self.location,
            crate::names::service_name(&object.namespace, &object.name)
        );
        let Some(mut service) = self.get(&name).await? else {
            return Ok(());
        };
        let uid = object.uid.as_deref().map(build::label_value);
        if service.labels.get(build::LABEL_UID) != uid.as_ref() {
            return Ok(());
        }
        // Without the UID label the service is adoptable by the next object of this name.
        service.labels.remove(build::LABEL_UID);
        self.services
            .update_service()
            .set_service(service)
            .set_update_mask(google_cloud_wkt::FieldMask::default().set_paths(["labels"]))
            .send()
            .await
            .map_err(|e| classify("UpdateService", &e))?;
        Ok(())
    }
}
