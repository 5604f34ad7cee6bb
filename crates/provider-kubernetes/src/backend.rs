//! The plain Kubernetes backend's descriptor: what Ferry knows about the provider, in one value.

use std::sync::Arc;

use ferry_api::{
    DeletionPolicy, Provider, ProviderConfigSpec, SecretRef, ServerlessJobSpec,
    ServerlessServiceSpec,
};
use ferry_core::Findings;
use ferry_core::backend::{BackendModel, EstimateInput, Parts, Rules, ScalingDefaults};
use ferry_core::capabilities::{Feature, JobFeature, Support};
use ferry_core::cost::Priced;
use ferry_core::desired::{Desired, ObjectRef, SecretSource};
use ferry_core::job::cost::RunInput;
use ferry_core::job::{DesiredJob, JobParts};
use ferry_provider::Connector;
use ferry_provider::backend::{Backend, Environment, Owned, Rendered};

use crate::build::{self, Kind, MANAGED_BY};
use crate::client::{self, KubernetesConnector};
use crate::{capabilities, cost, limits, validate};
use ferry_provider::cluster_volumes::build::Claim;

/// A Deployment, Service and autoscaler in this cluster.
#[derive(Clone, Copy, Debug, Default)]
pub struct Kubernetes;

impl Rules for Kubernetes {
    fn provider(&self) -> Provider {
        Provider::Kubernetes
    }

    fn support(&self, feature: Feature) -> Support {
        capabilities::support(feature)
    }

    fn job_support(&self, feature: JobFeature) -> Support {
        capabilities::job_support(feature)
    }

    /// Pods run whether or not requests come, so a service has a fixed count unless it allows
    /// more pods than the least, when a HorizontalPodAutoscaler scales on CPU by default.
    fn scaling_defaults(&self) -> ScalingDefaults {
        ScalingDefaults {
            min_instances: limits::MIN_INSTANCES,
            metric: ferry_api::ScalingMetric::Cpu,
            max_is_min: true,
        }
    }

    fn secret(
        &self,
        findings: &mut Findings,
        path: &str,
        secret: &SecretRef,
        _spec: &ServerlessServiceSpec,
    ) -> Option<SecretSource> {
        validate::secret(findings, path, secret)
    }

    fn check(
        &self,
        findings: &mut Findings,
        object: &ObjectRef,
        parts: &Parts<'_>,
    ) -> Option<BackendModel> {
        Some(BackendModel::new(validate::check(findings, object, parts)))
    }

    fn check_job(
        &self,
        findings: &mut Findings,
        _object: &ObjectRef,
        parts: &JobParts<'_>,
    ) -> Option<BackendModel> {
        Some(BackendModel::new(validate::check_job(findings, parts)))
    }

    fn embedded_prices(&self) -> &'static str {
        cost::EMBEDDED
    }

    fn check_prices(&self, entries: &[serde_json::Value]) -> Vec<String> {
        cost::check_prices(entries)
    }

    fn estimate(&self, input: &EstimateInput<'_>) -> Priced {
        cost::estimate(input)
    }

    fn estimate_run(&self, input: &RunInput<'_>) -> Priced {
        cost::estimate_run(input)
    }
}

/// Whether `volumes` hold an efs volume, which this backend mounts through a PersistentVolume
/// that Ferry must delete itself.
fn has_efs(volumes: Option<&[ferry_api::Volume]>) -> bool {
    volumes.into_iter().flatten().any(|v| v.efs.is_some())
}

/// The YAML documents of `claims`, each PersistentVolume before its claim.
fn claim_documents(claims: &[Claim]) -> Result<Vec<String>, String> {
    claims
        .iter()
        .flat_map(|c| [c.persistent_volume_value(), c.claim_value()])
        .map(|object| serde_saphyr::to_string(&object).map_err(|e| e.to_string()))
        .collect()
}

/// What the job controller's caches keep of a Job or CronJob: its metadata (a change reconciles
/// the ServerlessJob, which lists the Jobs from the API server).
fn keep_metadata(object: &mut kube::api::DynamicObject) {
    object.data = serde_json::Value::Null;
}

impl Backend for Kubernetes {
    fn connector(&self, env: &Environment) -> Arc<dyn Connector> {
        Arc::new(KubernetesConnector::new(
            env.client.clone(),
            env.caches.clone(),
        ))
    }

    /// Everything it makes, as metadata (with the status fields readiness reads), with
    /// Ferry's label.
    fn owned(&self) -> Vec<Owned> {
        Kind::ALL
            .into_iter()
            .map(|kind| Owned {
                resource: client::api_resource(kind),
                labels: format!("{}={}", MANAGED_BY.0, MANAGED_BY.1),
                missing: match kind {
                    Kind::VerticalPodAutoscaler => "the Vertical Pod Autoscaler is not installed",
                    _ => "the cluster does not serve this kind",
                },
                keep: client::keep_in_cache,
            })
            .collect()
    }

    fn uses_provider_config(&self) -> bool {
        false
    }

    /// Everything it makes in the namespace is owned by its object, so the garbage collector
    /// deletes it with the object; `Orphan` needs Ferry, to remove the owner references first,
    /// and so does an efs volume, whose PersistentVolume no owner reference can delete.
    fn needs_finalizer(&self, spec: &ServerlessServiceSpec) -> bool {
        spec.deletion_policy.unwrap_or_default() == DeletionPolicy::Orphan
            || has_efs(spec.volumes.as_deref())
    }

    /// Jobs and CronJobs, labelled with their ServerlessJob's name (a CronJob's Jobs are owned
    /// by the CronJob, so the label, not the owner, leads back to the ServerlessJob).
    fn job_owned(&self) -> Vec<Owned> {
        [crate::job::client::jobs(), crate::job::client::cron_jobs()]
            .into_iter()
            .map(|resource| Owned {
                resource,
                labels: format!(
                    "{}={},{}",
                    MANAGED_BY.0,
                    MANAGED_BY.1,
                    crate::job::build::JOB_LABEL
                ),
                missing: "the cluster does not serve this kind",
                keep: keep_metadata,
            })
            .collect()
    }

    /// As for services: the garbage collector deletes what the object owns; Ferry deletes an
    /// efs volume's PersistentVolume.
    fn needs_job_finalizer(&self, spec: &ServerlessJobSpec) -> bool {
        spec.deletion_policy.unwrap_or_default() == DeletionPolicy::Orphan
            || has_efs(spec.volumes.as_deref())
    }

    fn render_job(
        &self,
        desired: &DesiredJob,
        _config_name: &str,
        _config: Option<&ProviderConfigSpec>,
    ) -> Result<Rendered, String> {
        let generation = desired.object.generation.unwrap_or(1);
        let (object, what) = match crate::job::build::cron_job(desired) {
            Some(cron_job) => (
                cron_job,
                "the CronJob that runs it on its schedule".to_owned(),
            ),
            None => (
                crate::job::build::job(desired, generation),
                format!("the Job of its run for generation {generation}"),
            ),
        };
        let claims = crate::job::build::claims(desired);
        let mut documents = claim_documents(&claims)?;
        documents.push(serde_saphyr::to_string(&object).map_err(|e| e.to_string())?);
        let with_claims = if claims.is_empty() {
            ""
        } else {
            ", after the PersistentVolume and claim of each efs volume"
        };
        Ok(Rendered {
            comment: format!(
                "What Ferry applies for ServerlessJob {}: {what}{with_claims}",
                desired.object.name
            ),
            body: documents.join("---\n"),
        })
    }

    fn render(
        &self,
        desired: &Desired,
        _config_name: &str,
        _config: Option<&ProviderConfigSpec>,
    ) -> Result<Rendered, String> {
        // The claims first, as they are applied.
        let mut documents = claim_documents(&build::claims(desired))?;
        for child in build::children(desired).values() {
            documents.push(serde_saphyr::to_string(child).map_err(|e| e.to_string())?);
        }
        let body = documents.join("---\n");
        Ok(Rendered {
            comment: format!(
                "What Ferry applies for ServerlessService {}",
                desired.object.name
            ),
            body,
        })
    }
}
