//! The I/O half of the Fargate backend: resolves the ProviderConfig and its credentials,
//! observes what ECS and Application Auto Scaling hold (in batches, see [`directory`]), and
//! sends the requests [`crate::build`] makes.
//!
//! `ServerlessJob`s have their own client, [`crate::job::client`], on the same accounts.
//!
//! Idempotency: the service and task definition family have deterministic names and carry the
//! object's UID as a tag; `create` looks before it writes, reuses the newest task definition
//! revision when it already is the one wanted, and sends a deterministic `clientToken`, so an
//! interrupted reconcile never leaves a duplicate.

pub(crate) mod aws;
pub(crate) mod directory;
pub(crate) mod requests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::{SortOrder, TaskDefinitionStatus};
use ferry_api::conditions::reasons;
use ferry_api::{
    CredentialsSource, FargateProviderConfig, ProviderConfig, ServerlessJob, ServerlessService,
};
use ferry_core::desired::{Desired, ObjectRef};
use ferry_provider::job::{Jobs, workload_of};
use ferry_provider::provider_config;
use ferry_provider::{Connector, Deletion, ExternalClient, Observation, ProviderError, Started};
use kube::ResourceExt;
use tracing::{debug, info};

pub use aws::CallSettings;
use aws::{Credentials, classify};
use directory::Directory;

use crate::build::{self, Change, Observed, Requests, TAG_UID};

/// Tunables of the Fargate backend.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The operator's namespace: the only one credential Secrets are read from.
    pub operator_namespace: String,
    /// How long a steady service's description is reused for other objects' reconciles; a
    /// quarter of the resync interval lets objects that resync around the same time share one
    /// `DescribeServices`.
    pub snapshot_max_age: Duration,
    /// Retries and timeouts of every AWS call.
    pub calls: CallSettings,
}

/// One AWS account, region and set of credentials (one ProviderConfig version).
pub(crate) struct AwsAccount {
    pub(crate) ecs: aws_sdk_ecs::Client,
    pub(crate) scaling: aws_sdk_applicationautoscaling::Client,
    /// EventBridge Scheduler, for the schedules of ServerlessJobs.
    pub(crate) scheduler: aws_sdk_scheduler::Client,
    pub(crate) directory: Directory,
    /// Cluster ARNs by the name ProviderConfigs and specs give (a schedule's target needs the
    /// ARN), read once.
    pub(crate) cluster_arns: tokio::sync::Mutex<HashMap<String, String>>,
}

/// Which version of a ProviderConfig (and of its credentials Secret) an [`AwsAccount`] was
/// built from: a change to either builds a new one, so new credentials apply without a restart.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Version {
    config: String,
    secret: Option<String>,
}

/// Connects `provider: fargate` objects to the AWS account their ProviderConfig names.
pub struct FargateConnector {
    kube: kube::Client,
    settings: Settings,
    accounts: tokio::sync::Mutex<HashMap<String, (Version, Arc<AwsAccount>)>>,
}

impl FargateConnector {
    /// A connector reading ProviderConfigs and Secrets with `kube`.
    pub fn new(kube: kube::Client, settings: Settings) -> Self {
        Self {
            kube,
            settings,
            accounts: tokio::sync::Mutex::default(),
        }
    }

    async fn account(
        &self,
        name: &str,
        config: &FargateProviderConfig,
        version: Version,
        credentials: Credentials,
    ) -> Arc<AwsAccount> {
        let mut accounts = self.accounts.lock().await;
        if let Some((known, account)) = accounts.get(name)
            && *known == version
        {
            return account.clone();
        }
        info!(provider_config = name, "loading the AWS configuration");
        let sdk = aws::sdk_config(config, credentials, &self.settings.calls).await;
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let scaling = aws_sdk_applicationautoscaling::Client::new(&sdk);
        let account = Arc::new(AwsAccount {
            directory: Directory::new(ecs.clone(), scaling.clone(), self.settings.snapshot_max_age),
            ecs,
            scaling,
            scheduler: aws_sdk_scheduler::Client::new(&sdk),
            cluster_arns: tokio::sync::Mutex::default(),
        });
        accounts.insert(name.to_owned(), (version, account.clone()));
        account
    }
}

#[async_trait]
impl Connector for FargateConnector {
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
        let fargate = config.spec.fargate.as_ref()?;
        Some(self.check_cluster(config, fargate).await)
    }
}

fn fargate_section(config: &ProviderConfig) -> Result<&FargateProviderConfig, ProviderError> {
    config
        .spec
        .fargate
        .as_ref()
        .ok_or_else(|| ProviderError::Terminal {
            reason: reasons::PROVIDER_CONFIG_NOT_FOUND,
            message: format!(
                "ProviderConfig {} has no spec.fargate: add one, or name a ProviderConfig for \
                 AWS in spec.providerConfigRef",
                config.name_any()
            ),
            recheck: None,
        })
}

impl FargateConnector {
    /// The client for `svc` in the account of `config` (already resolved and allowed), with
    /// `secret` the credentials file and its Secret's resourceVersion when the ProviderConfig
    /// names one. [`Connector::connect`] reads both from the cluster; tests pass them in.
    pub async fn connect_with(
        &self,
        svc: &ServerlessService,
        config: &ProviderConfig,
        secret: Option<(String, String)>,
    ) -> Result<Arc<dyn ExternalClient>, ProviderError> {
        let fargate = fargate_section(config)?;
        let account = self.account_for(config, secret).await?;
        // Deletion must work for a spec that no longer validates, so the cluster is read
        // from the raw spec here rather than from the desired model.
        let cluster = svc
            .spec
            .fargate
            .as_ref()
            .and_then(|f| f.cluster.clone())
            .unwrap_or_else(|| fargate.cluster.clone());
        Ok(Arc::new(FargateClient {
            aws: account,
            config: fargate.clone(),
            config_name: config.name_any(),
            cluster,
            last: Mutex::default(),
        }))
    }

    /// The job client for `job` in the account of `config` (already resolved and allowed), as
    /// [`FargateConnector::connect_with`] for services. The role EventBridge Scheduler starts
    /// scheduled runs as is `config`'s `fargate.schedulerRoleArn`.
    pub async fn connect_job_with(
        &self,
        job: &ServerlessJob,
        config: &ProviderConfig,
        secret: Option<(String, String)>,
    ) -> Result<Jobs, ProviderError> {
        let fargate = fargate_section(config)?;
        let account = self.account_for(config, secret).await?;
        let cluster = job
            .spec
            .fargate
            .as_ref()
            .and_then(|f| f.cluster.clone())
            .unwrap_or_else(|| fargate.cluster.clone());
        let scheduler_role = fargate.scheduler_role_arn.clone();
        Ok(Arc::new(crate::job::client::FargateJobs {
            aws: account,
            config: fargate.clone(),
            config_name: config.name_any(),
            cluster,
            scheduler_role,
            seen: Mutex::default(),
        }))
    }

    /// The credentials file `config` names and its Secret's resourceVersion, when it names one.
    async fn secret(
        &self,
        config: &ProviderConfig,
    ) -> Result<Option<(String, String)>, ProviderError> {
        provider_config::credentials_secret(
            &self.kube,
            &self.settings.operator_namespace,
            &config.name_any(),
            fargate_section(config)?.credentials.as_ref(),
            "spec.fargate",
        )
        .await
    }

    /// Whether the ProviderConfig's default cluster answers with its credentials: one
    /// `DescribeClusters`.
    async fn check_cluster(
        &self,
        config: &ProviderConfig,
        fargate: &FargateProviderConfig,
    ) -> Result<String, ProviderError> {
        let secret = self.secret(config).await?;
        let account = self.account_for(config, secret).await?;
        let answer = account
            .ecs
            .describe_clusters()
            .clusters(&fargate.cluster)
            .send()
            .await
            .map_err(|e| classify("DescribeClusters", &e))?;
        let (cluster, region) = (&fargate.cluster, &fargate.region);
        let status = answer
            .clusters()
            .iter()
            .find(|c| c.cluster_name() == Some(cluster.as_str()))
            .and_then(|c| c.status());
        match status {
            Some("ACTIVE") => Ok(format!("ECS cluster {cluster} in {region} is ACTIVE")),
            other => Err(ProviderError::Terminal {
                reason: reasons::PROVIDER_ERROR,
                message: format!(
                    "ECS cluster {cluster} in {region} is {}: create it, or name another in \
                     spec.fargate.cluster",
                    other.map_or_else(|| "missing".to_owned(), str::to_lowercase)
                ),
                recheck: None,
            }),
        }
    }

    /// The AWS clients for `config` with `secret`, built once per version of both.
    async fn account_for(
        &self,
        config: &ProviderConfig,
        secret: Option<(String, String)>,
    ) -> Result<Arc<AwsAccount>, ProviderError> {
        let name = config.name_any();
        let fargate = fargate_section(config)?;
        let (credentials, secret_version) = match (Credentials::source(fargate), secret) {
            (CredentialsSource::Anonymous, _) => (Credentials::Anonymous, None),
            (CredentialsSource::Secret, Some((contents, version))) => {
                (Credentials::SharedFile(contents), Some(version))
            }
            (CredentialsSource::Secret, None) => {
                return Err(ProviderError::Terminal {
                    reason: reasons::CREDENTIALS_INVALID,
                    message: format!("ProviderConfig {name}: its credentials Secret was not read"),
                    recheck: None,
                });
            }
            (CredentialsSource::InjectedIdentity, _) => (Credentials::DefaultChain, None),
        };
        let version = Version {
            config: config.resource_version().unwrap_or_default(),
            secret: secret_version,
        };
        Ok(self.account(&name, fargate, version, credentials).await)
    }
}

/// The AWS resources of one object.
struct FargateClient {
    aws: Arc<AwsAccount>,
    config: FargateProviderConfig,
    config_name: String,
    cluster: String,
    /// What the last `observe` found, so that `update` writes only what differs.
    last: Mutex<Option<Observed>>,
}

/// The requests for `want`, or why there can be none.
fn requests_for(
    want: &Desired,
    config: &FargateProviderConfig,
    config_name: &str,
) -> Result<Requests, ProviderError> {
    build::requests(want, config, config_name).map_err(|e| ProviderError::Terminal {
        reason: reasons::INVALID_SPEC,
        message: e.to_string(),
        recheck: None,
    })
}

fn name_taken(service: &str, cluster: &str) -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::NAME_TAKEN,
        message: format!(
            "the ECS service {service} in cluster {cluster} exists and was not created by \
             Ferry for this object (its {TAG_UID} tag differs): rename the ServerlessService, \
             or delete the ECS service"
        ),
        recheck: None,
    }
}

/// Whether Ferry may manage a service with these tags for `uid`: tagged with the UID, or
/// released by an earlier object (Ferry's label, no UID).
fn is_ours(tags: &std::collections::BTreeMap<String, String>, uid: Option<&str>) -> bool {
    match tags.get(TAG_UID) {
        Some(tagged) => Some(tagged.as_str()) == uid,
        None => tags.get(build::TAG_MANAGED_BY).map(String::as_str) == Some("ferry"),
    }
}

impl FargateClient {
    fn remember(&self, observed: Option<Observed>) {
        *self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = observed;
    }

    fn recall(&self) -> Option<Observed> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The task definition `arn` names, when it names one.
    async fn described(
        &self,
        arn: &str,
    ) -> Result<Option<build::ObservedTaskDefinition>, ProviderError> {
        if arn.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.aws.directory.task_definition(arn).await?))
    }

    /// The newest revision of the family when it already is the task definition of `outgoing`,
    /// so an interrupted create or update does not register it twice.
    async fn existing_revision(
        &self,
        outgoing: &Requests,
    ) -> Result<Option<String>, ProviderError> {
        let family = &outgoing.task_definition.family;
        let listed = self
            .aws
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(TaskDefinitionStatus::Active)
            .sort(SortOrder::Desc)
            .max_results(1)
            .send()
            .await
            .map_err(|e| classify("ListTaskDefinitions", &e))?;
        let Some(arn) = listed.task_definition_arns().first() else {
            return Ok(None);
        };
        let newest = self.aws.directory.task_definition(arn).await?;
        let requested = newest.is_requested(outgoing);
        Ok(requested.then_some(newest.arn))
    }

    /// The ARN of the task definition of `outgoing`, registering it unless it is already the
    /// newest.
    async fn task_definition(&self, outgoing: &Requests) -> Result<String, ProviderError> {
        if let Some(arn) = self.existing_revision(outgoing).await? {
            debug!(%arn, "the task definition is registered already");
            return Ok(arn);
        }
        let arn =
            requests::register_task_definition(&self.aws.ecs, &outgoing.task_definition).await?;
        info!(%arn, "registered a task definition");
        Ok(arn)
    }

    /// Deregisters the revisions of `family` that Ferry registered (tagged by it), newest
    /// first, so an interrupted delete picks up where it stopped.
    async fn deregister_revisions(&self, family: &str) -> Result<(), ProviderError> {
        let mut arns = requests::active_revisions(&self.aws.ecs, family).await?;
        arns.reverse();
        for arn in arns {
            let revision = self.aws.directory.task_definition(&arn).await?;
            if revision.tags.get(build::TAG_MANAGED_BY).map(String::as_str) == Some("ferry") {
                requests::deregister_task_definition(&self.aws.ecs, &arn).await?;
                debug!(%arn, "deregistered a task definition");
            }
        }
        Ok(())
    }

    async fn apply_scaling(
        &self,
        outgoing: &Requests,
        changes: &[Change],
    ) -> Result<(), ProviderError> {
        if changes.contains(&Change::ScalableTarget) {
            requests::register_scalable_target(&self.aws.scaling, &outgoing.scalable_target)
                .await?;
        }
        if changes.contains(&Change::ScalingPolicy)
            && let Some(policy) = &outgoing.scaling_policy
        {
            requests::put_scaling_policy(&self.aws.scaling, policy).await?;
        }
        if changes.contains(&Change::RemoveScalingPolicy) {
            let id = &outgoing.scalable_target.resource_id;
            requests::delete_scaling_policy(
                &self.aws.scaling,
                &build::policy_name(&outgoing.service.service_name),
                id,
            )
            .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl ExternalClient for FargateClient {
    async fn observe(&self, want: &Desired) -> Result<Observation, ProviderError> {
        let outgoing = requests_for(want, &self.config, &self.config_name)?;
        let account = &outgoing.account;
        let name = build::service_name(want);
        let snapshot = self.aws.directory.service(&account.cluster, &name).await?;
        let Some(service) = snapshot.service else {
            self.remember(None);
            return Ok(Observation::Absent);
        };
        if !is_ours(&service.tags, want.object.uid.as_deref()) {
            return Err(name_taken(&name, &account.cluster));
        }
        if service.status == "DRAINING" {
            // A deleted service of the same name is still draining: a new one cannot be
            // created until ECS has removed it.
            self.remember(None);
            return Ok(Observation::Present {
                up_to_date: true,
                readiness: ferry_provider::Readiness::Progressing(format!(
                    "waiting for ECS to finish deleting an earlier service {name}"
                )),
                outputs: ferry_provider::Outputs::default(),
            });
        }
        let task_definition = self.described(&service.task_definition).await?;
        let failed_task_definition = match &service.failed_rollout {
            Some(failed) => self.described(&failed.task_definition).await?,
            None => None,
        };
        let observed = Observed {
            service,
            task_definition,
            failed_task_definition,
            scaling: snapshot.scaling,
        };
        let changes = build::diff(&outgoing, &observed);
        let (readiness, outputs) = build::readiness(&outgoing, &observed);
        if !changes.is_empty() {
            debug!(?changes, "AWS differs from the spec");
        }
        self.remember(Some(observed));
        Ok(Observation::Present {
            up_to_date: changes.is_empty(),
            readiness,
            outputs,
        })
    }

    async fn create(&self, want: &Desired) -> Result<Started, ProviderError> {
        let outgoing = requests_for(want, &self.config, &self.config_name)?;
        let account = &outgoing.account;
        let arn = self.task_definition(&outgoing).await?;
        let token = build::client_token(want, &outgoing);
        let created =
            requests::create_service(&self.aws.ecs, &outgoing.service, &arn, &token).await;
        self.aws
            .directory
            .invalidate(&account.cluster, &outgoing.service.service_name)
            .await;
        created?;
        info!(
            service = %outgoing.service.service_name,
            cluster = %account.cluster,
            "created the ECS service"
        );
        let all = [Change::ScalableTarget, Change::ScalingPolicy];
        self.apply_scaling(&outgoing, &all).await?;
        // ECS deployments are observed through DescribeServices: nothing else to poll.
        Ok(Started::default())
    }

    async fn update(&self, want: &Desired) -> Result<Started, ProviderError> {
        let outgoing = requests_for(want, &self.config, &self.config_name)?;
        let account = &outgoing.account;
        let Some(observed) = self.recall() else {
            // Nothing observed to compare with: observe decides next time.
            return Ok(Started::default());
        };
        let changes = build::diff(&outgoing, &observed);
        let service = &outgoing.service.service_name;
        if changes.contains(&Change::TaskDefinition) || changes.contains(&Change::Service) {
            let arn = if changes.contains(&Change::TaskDefinition) {
                self.task_definition(&outgoing).await?
            } else {
                observed.service.task_definition.clone()
            };
            let request = build::update_service(&outgoing, &observed.service, &arn);
            let updated = requests::update_service(&self.aws.ecs, &request).await;
            self.aws
                .directory
                .invalidate(&account.cluster, service)
                .await;
            updated?;
            if changes.contains(&Change::Service) {
                // The new fingerprint tag records what the service now is.
                requests::tag(&self.aws.ecs, &observed.service.arn, &outgoing.service.tags).await?;
            }
            info!(%service, task_definition = %arn, "updated the ECS service");
        }
        if changes.contains(&Change::Tags) {
            requests::tag(&self.aws.ecs, &observed.service.arn, &outgoing.service.tags).await?;
            info!(%service, "adopted the ECS service");
        }
        self.apply_scaling(&outgoing, &changes).await?;
        self.aws
            .directory
            .invalidate(&account.cluster, service)
            .await;
        Ok(Started::default())
    }

    async fn delete(&self, object: &ObjectRef) -> Result<Deletion, ProviderError> {
        let name = crate::names::service_name(&object.namespace, &object.name);
        self.aws.directory.invalidate(&self.cluster, &name).await;
        let snapshot = self.aws.directory.service(&self.cluster, &name).await?;
        let resource_id = build::scaling_resource_id(&self.cluster, &name);
        match snapshot.service {
            Some(service) if !is_ours(&service.tags, object.uid.as_deref()) => {
                // Someone else's: nothing of Ferry's to delete.
                Ok(Deletion::Gone)
            }
            Some(service) if service.status == "ACTIVE" => {
                if snapshot.scaling.is_some() {
                    requests::deregister_scalable_target(&self.aws.scaling, &resource_id).await?;
                }
                // Scaling to zero first stops new tasks while ECS drains the old ones.
                requests::scale_to_zero_and_delete(&self.aws.ecs, &self.cluster, &name).await?;
                self.aws.directory.invalidate(&self.cluster, &name).await;
                info!(service = %name, cluster = %self.cluster, "deleting the ECS service");
                Ok(Deletion::InProgress)
            }
            Some(_) => Ok(Deletion::InProgress),
            None => {
                if snapshot.scaling.is_some() {
                    requests::deregister_scalable_target(&self.aws.scaling, &resource_id).await?;
                }
                self.deregister_revisions(&name).await?;
                self.aws.directory.forget(&self.cluster, &name).await;
                Ok(Deletion::Gone)
            }
        }
    }

    async fn release(&self, object: &ObjectRef) -> Result<(), ProviderError> {
        let name = crate::names::service_name(&object.namespace, &object.name);
        self.aws.directory.invalidate(&self.cluster, &name).await;
        let snapshot = self.aws.directory.service(&self.cluster, &name).await?;
        if let Some(service) = snapshot.service
            && service.tags.get(TAG_UID).map(String::as_str) == object.uid.as_deref()
        {
            // Without the UID the service is adoptable by the next object of this name.
            requests::untag(&self.aws.ecs, &service.arn, &[TAG_UID]).await?;
        }
        self.aws.directory.forget(&self.cluster, &name).await;
        Ok(())
    }
}
