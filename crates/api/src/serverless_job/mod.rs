//! `ServerlessJob`: run-to-completion work that Ferry runs as a Kubernetes Job (or CronJob), an
//! ECS task on Fargate, a Cloud Run Job or an Azure Container Apps job.
//!
//! It shares the containers and the provider sections of [`ServerlessService`]: the same types,
//! read the same way, so a container that runs as a service runs as a job unchanged (without a
//! port and probes, which serve traffic). What only a service has in a section (an Ingress, a
//! load balancer, request-based CPU) is refused by the rules in `rules`.
//!
//! [`ServerlessService`]: crate::ServerlessService

mod rules;
mod status;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use rules::JOB_SPEC_RULES;
pub use status::*;

use crate::serverless_service::list_map_by_name;
use crate::{
    CloudRunSpec, Container, ContainerAppsSpec, DeletionPolicy, FargateSpec, KubernetesSpec,
    Provider, ProviderConfigReference, ServerlessServiceSpec,
};
use rules::job_spec_rules;

/// Desired state of a ServerlessJob: what to run, how many tasks, how often to retry, and when
/// (once per change of the spec, or on a schedule). A field the chosen provider cannot honour is
/// refused, never dropped. Ferry never writes defaults into the spec.
#[derive(CustomResource, Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "ferry.dev",
    version = "v1alpha1",
    kind = "ServerlessJob",
    namespaced,
    status = "ServerlessJobStatus",
    derive = "PartialEq",
    shortname = "sjob",
    category = "ferry",
    doc = "A ServerlessJob runs containers to completion as a Kubernetes Job or CronJob (in this cluster), \
           an ECS task on AWS Fargate, a Google Cloud Run Job or an Azure Container Apps job: once per \
           change of its spec, or on a schedule; and reports each run in status.",
    printcolumn(name = "Provider", type_ = "string", json_path = ".spec.provider"),
    printcolumn(name = "Schedule", type_ = "string", json_path = ".spec.schedule"),
    printcolumn(name = "Last run", type_ = "date", json_path = ".status.lastRun.startTime"),
    printcolumn(
        name = "Succeeded",
        type_ = "integer",
        json_path = ".status.lastRun.succeeded"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        priority = 1
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        priority = 1
    ),
    validation = ::kube::core::Rule::new(
        "self.metadata.name.size() <= 52 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')"
    )
    // No fieldPath: the API server checks a fieldPath against the schema, which has no
    // `metadata`, so the message names the field itself.
    .message(
        "metadata.name must be a DNS-1035 label of at most 52 characters (lower-case letters, \
         digits and '-', starting with a letter): each provider names the job after it and \
         its runs after the job, with a suffix"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = job_spec_rules)]
pub struct ServerlessJobSpec {
    /// Where the job runs: `kubernetes` (a Job or CronJob in this cluster), `fargate` (ECS tasks
    /// on AWS Fargate), `cloudRun` (a Google Cloud Run Job) or `containerApps` (an Azure
    /// Container Apps job).
    pub provider: Provider,

    /// The cluster-scoped ProviderConfig that says which cloud account, region and credentials to
    /// use. Defaults to the ProviderConfig named `default`. `kubernetes` needs none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_config_ref: Option<ProviderConfigReference>,

    /// The containers of one task, 1 to 10, as in a ServerlessService, without `port` and
    /// `probes`: a task serves no traffic. A run succeeds when every task's containers exit 0.
    #[schemars(length(min = 1, max = 10), transform = list_map_by_name)]
    pub containers: Vec<Container>,

    /// Volumes the containers mount, as in a ServerlessService.
    #[schemars(length(max = 10), transform = crate::serverless_service::volumes_list)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<crate::Volume>>,

    /// Tasks per run; the run succeeds when all of them have (Cloud Run `taskCount`, ECS
    /// `count`, Job `completions`). Each task gets its index in `CLOUD_RUN_TASK_INDEX` (Cloud
    /// Run), `JOB_COMPLETION_INDEX` (Kubernetes). Default: 1.
    #[schemars(range(min = 1, max = 10000))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_count: Option<i32>,

    /// Tasks that run at the same time. Default: `taskCount` (all at once, as far as the
    /// provider allows).
    #[schemars(range(min = 1, max = 10000))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i32>,

    /// Times a failed task is tried again before the run fails. Default: 3.
    #[schemars(range(min = 0, max = 10))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i32>,

    /// How long one attempt of a task may run, in seconds, before it is stopped and counts as
    /// failed. Default: 600.
    #[schemars(range(min = 1, max = 604_800))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,

    /// When to run, as a cron expression of five fields (minute hour day-of-month month
    /// day-of-week, e.g. `0 3 * * *`) or one of `@hourly`, `@daily`, `@weekly`, `@monthly`,
    /// `@yearly`. The provider's scheduler starts the runs (a CronJob, EventBridge Scheduler,
    /// Cloud Scheduler, a Container Apps schedule trigger). Without a schedule, the job runs
    /// once for each change of its spec.
    #[schemars(length(min = 1, max = 100))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,

    /// The IANA time zone `schedule` is read in, e.g. `Europe/Berlin`. Default: `Etc/UTC`.
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,

    /// What happens when a run is due (the schedule fires, or the spec changed) while an
    /// earlier one still runs: `Forbid` (the new one waits: a scheduled run is skipped, a run
    /// for a new spec starts when the old one ends), `Allow` (both run) or `Replace` (the old
    /// one is stopped). Default: `Forbid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_policy: Option<ConcurrencyPolicy>,

    /// `true` starts no new runs (a schedule is paused; runs under way go on). Default: `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,

    /// What happens to the provider's resources (the job definition, its schedule and its
    /// runs) when this object is deleted: `Delete` them (runs under way are stopped), or
    /// `Orphan` them. Default: `Delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// Settings of the Kubernetes backend (service account, node selector, EKS Fargate
    /// profile); allowed only with `provider: kubernetes`. Its Ingress and autoscaler settings
    /// are a service's and are refused here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesSpec>,

    /// Fargate-only settings; allowed only with `provider: fargate`. Fields left out come from
    /// the ProviderConfig's `fargate.defaults`. `loadBalancer` is a service's and is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fargate: Option<FargateSpec>,

    /// Cloud Run-only settings; allowed only with `provider: cloudRun`. `cpuIdle`,
    /// `startupCpuBoost` and `allowUnauthenticated` are a service's and are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_run: Option<CloudRunSpec>,

    /// Azure Container Apps-only settings; allowed only with `provider: containerApps`.
    /// `transport` is a service's and is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_apps: Option<ContainerAppsSpec>,
}

/// What happens when a run is due while an earlier one still runs.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
pub enum ConcurrencyPolicy {
    /// The new run waits (a scheduled one is skipped).
    #[default]
    Forbid,
    /// Both run.
    Allow,
    /// The earlier run is stopped.
    Replace,
}

impl ConcurrencyPolicy {
    /// The value written in `spec.concurrencyPolicy` (and in a CronJob's).
    pub fn as_str(self) -> &'static str {
        match self {
            ConcurrencyPolicy::Forbid => "Forbid",
            ConcurrencyPolicy::Allow => "Allow",
            ConcurrencyPolicy::Replace => "Replace",
        }
    }
}

impl ServerlessJobSpec {
    /// The providers that run jobs.
    pub const PROVIDERS: [Provider; 4] = [
        Provider::Kubernetes,
        Provider::Fargate,
        Provider::CloudRun,
        Provider::ContainerApps,
    ];

    /// [`Self::PROVIDERS`] as a message lists them: `kubernetes, fargate, cloudRun or
    /// containerApps`. The CEL rule spells the list out itself (a CRD holds no code).
    pub fn providers_listed() -> String {
        let names: Vec<&str> = Self::PROVIDERS.iter().map(|p| p.as_str()).collect();
        match names.split_last() {
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    /// Default of `taskCount`.
    pub const DEFAULT_TASK_COUNT: i32 = 1;
    /// Default of `maxRetries`.
    pub const DEFAULT_MAX_RETRIES: i32 = 3;
    /// Default of `timeoutSeconds`.
    pub const DEFAULT_TIMEOUT_SECONDS: i32 = 600;
    /// Default of `timeZone`.
    pub const DEFAULT_TIME_ZONE: &'static str = "Etc/UTC";

    /// The job's containers and provider section as a ServerlessService spec holds them, with
    /// nothing else set: the provider rules that read containers and sections (secrets above
    /// all) read a job's through it, so the two kinds cannot drift apart.
    pub fn workload(&self) -> ServerlessServiceSpec {
        ServerlessServiceSpec {
            provider: self.provider,
            provider_config_ref: self.provider_config_ref.clone(),
            containers: self.containers.clone(),
            volumes: self.volumes.clone(),
            concurrency: None,
            timeout_seconds: None,
            scaling: None,
            ingress: None,
            traffic: None,
            deletion_policy: self.deletion_policy,
            migration: None,
            knative: None,
            fargate: self.fargate.clone(),
            cloud_run: self.cloud_run.clone(),
            container_apps: self.container_apps.clone(),
            container_instances: None,
            kubernetes: self.kubernetes.clone(),
        }
    }
}
