//! Azure Container Apps' columns of the capability tables: a ServerlessService's ([`support`])
//! and a ServerlessJob's ([`job_support`]).

use ferry_core::capabilities::{Feature, JobFeature, Support, no, not_applicable, partial, yes};
use ferry_core::quantity::format_cores;

use crate::limits;
use crate::validate::format_centi_gib;

/// This provider's cell of the capability table's row for `feature`.
pub(crate) fn support(feature: Feature) -> Support {
    match feature {
        Feature::VolumeSecret => partial(
            "a Secret volume projecting one app secret as a file: name is an entry of \
             spec.containerApps.secrets (Key Vault or fromSecret, added to the app even when \
             only a volume reads it), key the file's name (default: the secret's name)",
        ),
        Feature::VolumeEmptyDir => partial(
            "an EmptyDir volume on the replica's ephemeral storage (1 to 8 GiB by its vCPU on \
             Consumption, shared with the containers): medium Memory and read-only mounts are \
             refused; a sizeLimit within that storage is accepted but not enforced",
        ),
        Feature::VolumeNfs => no(
            "Container Apps mounts Azure Files through the environment's storages; use an azureFile volume",
        ),
        Feature::VolumeEfs => {
            no("Container Apps mounts Azure Files, not an AWS file system; use an azureFile volume")
        }
        Feature::VolumeGcs => no(
            "Container Apps mounts Azure Files, not a Cloud Storage bucket; use an azureFile volume",
        ),
        Feature::VolumeAzureFile => partial(
            "an AzureFile volume of the managed environment's storage azureFile.environmentStorage \
             (default: the share's name), which the environment's owner creates; before writing, \
             Ferry checks that it exists, holds that share of that account, and that its \
             accessMode matches the mounts' readOnly (a mount has no readOnly of its own)",
        ),
        Feature::VolumeSubPath => yes("the volume mount's subPath"),
        Feature::Sidecars => yes(
            "containers of one replica, sharing its CPU and memory; the one with a port takes \
             the ingress traffic",
        ),
        Feature::Port => yes("ingress.targetPort"),
        Feature::EnvSecret => partial(
            "name is an entry of spec.containerApps.secrets (a Key Vault secret read with \
             spec.containerApps.identity, or a key of a Kubernetes Secret copied as an app \
             secret); no key",
        ),
        Feature::Cpu => partial(format!(
            "per container; on the Consumption profile the app's containers together take {} to \
             {} vCPU in steps of {}; default {} per container",
            format_cores(limits::MIN_CPU_MILLIS),
            format_cores(limits::MAX_CPU_MILLIS),
            format_cores(limits::CPU_STEP_MILLIS),
            format_cores(limits::DEFAULT_CPU_MILLIS),
        )),
        Feature::Memory => partial(format!(
            "in Gi with at most two decimals; on the Consumption profile {} GiB per vCPU over \
             the app's containers ({} to {}); default twice the CPU",
            limits::GIB_PER_CPU,
            format_centi_gib(limits::paired_memory_centi_gib(limits::MIN_CPU_MILLIS)),
            format_centi_gib(limits::paired_memory_centi_gib(limits::MAX_CPU_MILLIS)),
        )),
        Feature::EphemeralStorage => no(
            "the platform sizes a replica's ephemeral storage from its CPU (2 GiB per 0.5 vCPU \
             on Consumption); remove it",
        ),
        Feature::Gpu => no(
            "its GPUs come with GPU workload profiles (serverless or dedicated), which Ferry \
             does not manage yet; use provider cloudRun or knative",
        ),
        Feature::GpuType => not_applicable("no GPUs yet"),
        Feature::StartupProbe | Feature::ReadinessProbe | Feature::LivenessProbe => {
            partial(format!(
                "httpGet or tcpSocket; initialDelaySeconds {}-{}, periodSeconds {}-{}, \
                 timeoutSeconds {}-{}, failureThreshold {}-{}",
                limits::PROBE_INITIAL_DELAY.0,
                limits::PROBE_INITIAL_DELAY.1,
                limits::PROBE_PERIOD.0,
                limits::PROBE_PERIOD.1,
                limits::PROBE_TIMEOUT.0,
                limits::PROBE_TIMEOUT.1,
                limits::PROBE_FAILURE_THRESHOLD.0,
                limits::PROBE_FAILURE_THRESHOLD.1,
            ))
        }
        Feature::Concurrency => partial(format!(
            "the HTTP scale rule's concurrentRequests (concurrentConnections over tcp): a \
             replica is added per that many requests in flight, none is refused; default {}",
            limits::DEFAULT_CONCURRENT_REQUESTS
        )),
        Feature::TimeoutSeconds => no(format!(
            "its ingress ends a request after {} seconds and has no setting; remove it",
            limits::REQUEST_TIMEOUT_SECONDS
        )),
        Feature::ScaleToZero => {
            partial("the default (minReplicas 0); not with metric cpu or memory")
        }
        Feature::MaxInstances => partial(format!(
            "maxReplicas {}-{}; default {}",
            limits::MAX_REPLICAS.0,
            limits::MAX_REPLICAS.1,
            limits::DEFAULT_MAX_REPLICAS
        )),
        Feature::InitialInstances => {
            no("Container Apps has no initial scale; minInstances keeps replicas warm")
        }
        Feature::MetricConcurrency => yes("an HTTP scale rule (a tcp one with transport tcp)"),
        Feature::MetricRps => no(
            "Container Apps scales on concurrent requests, cpu or memory; use metric concurrency",
        ),
        Feature::MetricCpu | Feature::MetricMemory => partial(format!(
            "a custom scale rule on utilization (default target {} %); cannot scale to zero, so \
             minInstances must be 1 or more",
            limits::DEFAULT_UTILIZATION_TARGET
        )),
        Feature::ScalingTarget => partial(
            "concurrentRequests with metric concurrency (the same as spec.concurrency when both \
             are set); the utilization percent with cpu or memory",
        ),
        Feature::ScaleDownDelay => partial(format!(
            "the scale rules' cooldownPeriod: how long after the last event replicas scale in \
             to zero; default {} s",
            limits::DEFAULT_COOLDOWN_SECONDS
        )),
        Feature::Ingress => yes(
            "ingress external (public) or not (internal: reachable inside the Container Apps \
             environment and its virtual network)",
        ),
        Feature::TrafficSplit => {
            partial("activeRevisionsMode Multiple with revision weights; not with transport tcp")
        }
        Feature::TrafficTags => partial(
            "revision labels, each with its own URL (APP---LABEL...); not with transport tcp",
        ),
        Feature::DeletionPolicy => yes("Orphan leaves the container app, untagged"),
        Feature::ProviderConfigRef => yes(
            "the ProviderConfig's azure section: subscription, resource group, location and \
             Container Apps environment",
        ),
        Feature::Migration => yes(
            "the container app is created beside the old side; status.url names its ingress \
             FQDN once it is Ready; moving away deletes it after drainSeconds",
        ),
    }
}

/// This provider's cell of the job table's row for `feature`. `partial` where the mapping has
/// limits (a refused value, or a meaning Container Apps only approximates), as
/// `validate::check_job` and the job client enforce them.
pub(crate) fn job_support(feature: JobFeature) -> Support {
    match feature {
        JobFeature::Run => yes(format!(
            "a Container Apps job (Microsoft.App/jobs) named after the object, Manual without a \
             schedule: one execution per generation, started with Jobs_Start and found again by \
             {}=<uid>-<generation> in its containers",
            crate::job::build::RUN_ENV
        )),
        JobFeature::TaskCount => partial(
            "the trigger's replicaCompletionCount: replicas of the same containers, with no task \
             index (no JOB_COMPLETION_INDEX or CLOUD_RUN_TASK_INDEX): each replica must find its \
             share of the work itself",
        ),
        JobFeature::Parallelism => yes(format!(
            "the trigger's parallelism; replicas beyond the {} cores an environment's \
             Consumption profile has by default wait for cores",
            limits::ENVIRONMENT_CORES
        )),
        JobFeature::MaxRetries => yes("replicaRetryLimit: how often a failed replica is retried"),
        // "The maximum time in seconds to wait for a replica to complete" (Jobs in Azure
        // Container Apps, job settings); an execution past it fails with the Kubernetes Job
        // deadline's reason and message (microsoft/azure-container-apps#986), a deadline over
        // the execution rather than over one attempt.
        JobFeature::TimeoutSeconds => partial(
            "replicaTimeout, documented as the most Azure waits for a replica to complete; it \
             ends a run as the execution's deadline (\"Job was active longer than specified \
             deadline\"), so a retried replica may not get its full time",
        ),
        JobFeature::Schedule => yes(
            "a Schedule trigger's cronExpression; Container Apps reads it in UTC (see \
             spec.timeZone)",
        ),
        JobFeature::TimeZone => partial(
            "UTC only (Etc/UTC or UTC): a schedule trigger has no time zone; write spec.schedule \
             in UTC",
        ),
        JobFeature::ConcurrencyPolicy => partial(
            "Container Apps starts every scheduled execution whatever runs: Ferry stops the \
             overlapping one after Azure starts it (Forbid: the new one, listed as Stopped; \
             Replace: the old one); it runs, and is billed, until Ferry's next look (every few \
             seconds while a run is under way)",
        ),
        JobFeature::Suspend => partial(
            "Container Apps cannot pause a schedule: while suspended the job is made Manual (no \
             schedule; executions under way go on) and gets its schedule back after; without a \
             schedule Ferry starts no execution",
        ),
        JobFeature::DeletionPolicy => yes(
            "Delete: the Container Apps job is deleted, its executions (running ones too) with \
             it; Orphan: Ferry removes its UID tag and leaves it, schedule included",
        ),
    }
}
