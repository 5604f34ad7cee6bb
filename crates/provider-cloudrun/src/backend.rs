//! Google Cloud Run's descriptor: what Ferry knows about the provider, in one value.

use std::sync::Arc;

use ferry_api::{
    CloudRunProviderConfig, Provider, ProviderConfigSpec, SecretKeySelector, SecretRef,
    ServerlessServiceSpec,
};
use ferry_core::Findings;
use ferry_core::backend::{BackendModel, EstimateInput, Parts, Rules};
use ferry_core::capabilities::{Feature, JobFeature, Support};
use ferry_core::cost::Priced;
use ferry_core::cost::prices::PriceRegions;
use ferry_core::desired::{Desired, ObjectRef, SecretSource};
use ferry_core::job::cost::RunInput;
use ferry_core::job::{DesiredJob, JobParts};
use ferry_provider::Connector;
use ferry_provider::backend::{Backend, Environment, Rendered, placeholder, placeholder_note};

use crate::{CloudRunConnector, Settings, build, capabilities, cost, validate};

/// Google Cloud Run (Admin API v2).
#[derive(Clone, Copy, Debug, Default)]
pub struct CloudRun;

impl Rules for CloudRun {
    fn provider(&self) -> Provider {
        Provider::CloudRun
    }

    fn support(&self, feature: Feature) -> Support {
        capabilities::support(feature)
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
        _object: &ObjectRef,
        parts: &Parts<'_>,
    ) -> Option<BackendModel> {
        validate::check(findings, parts).map(BackendModel::new)
    }

    fn job_support(&self, feature: JobFeature) -> Support {
        capabilities::job_support(feature)
    }

    fn check_job(
        &self,
        findings: &mut Findings,
        _object: &ObjectRef,
        parts: &JobParts<'_>,
    ) -> Option<BackendModel> {
        validate::check_job(findings, parts).map(BackendModel::new)
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

    fn price_regions(&self) -> PriceRegions {
        PriceRegions::Named {
            pattern: ferry_api::GCP_REGION,
            example: "europe-west1",
            field: "spec.cloudRun.region, or a ProviderConfig's spec.cloudRun.region",
        }
    }

    /// One run of a job's tasks at the instance-based rates, the only billing of Cloud Run jobs.
    fn estimate_run(&self, input: &RunInput<'_>) -> Priced {
        cost::estimate_run(input)
    }

    /// The project, region and endpoint: the Cloud Run services one object's name maps to.
    fn location(&self, config: &ProviderConfigSpec) -> Option<String> {
        let c = config.cloud_run.as_ref()?;
        Some(format!(
            "{}/{}/{}",
            c.project,
            c.region,
            c.endpoint.as_deref().unwrap_or_default()
        ))
    }

    /// The spec's own `cloudRun.region`, else the ProviderConfig's.
    fn region(
        &self,
        spec: &ServerlessServiceSpec,
        config: Option<&ProviderConfigSpec>,
    ) -> Option<String> {
        spec.cloud_run
            .as_ref()
            .and_then(|c| c.region.clone())
            .or_else(|| Some(config?.cloud_run.as_ref()?.region.clone()))
    }
}

impl Backend for CloudRun {
    fn connector(&self, env: &Environment) -> Arc<dyn Connector> {
        Arc::new(CloudRunConnector::new(
            env.client.clone(),
            Settings {
                operator_namespace: env.operator_namespace.clone(),
                ..Settings::default()
            },
        ))
    }

    fn secret_refs<'a>(&self, config: &'a ProviderConfigSpec) -> Vec<&'a SecretKeySelector> {
        config
            .cloud_run
            .iter()
            .filter_map(|c| c.credentials.as_ref()?.secret_ref.as_ref())
            .collect()
    }

    /// The Cloud Run job, and its Cloud Scheduler job or the start of the run of the object's
    /// generation, as the client sends them.
    fn render_job(
        &self,
        desired: &DesiredJob,
        config_name: &str,
        config: Option<&ProviderConfigSpec>,
    ) -> Result<Rendered, String> {
        let (section, note) = section_or_placeholder(config_name, config);
        let requests = crate::job::build::requests(desired, &section).map_err(|e| e.to_string())?;
        let what = if requests.scheduler.is_some() {
            "and the Cloud Scheduler job that starts it on its schedule"
        } else {
            "and how the run of its generation starts"
        };
        Ok(Rendered {
            comment: format!(
                "The Cloud Run job Ferry creates for ServerlessJob {}, {what}{note}",
                desired.object.name
            ),
            body: serde_json::to_string_pretty(
                &requests.rendered(&desired.object, desired.object.generation),
            )
            .map_err(|e| e.to_string())?,
        })
    }

    fn render(
        &self,
        desired: &Desired,
        config_name: &str,
        config: Option<&ProviderConfigSpec>,
    ) -> Result<Rendered, String> {
        let (section, note) = section_or_placeholder(config_name, config);
        let requests = build::requests(desired, &section).map_err(|e| e.to_string())?;
        Ok(Rendered {
            comment: format!(
                "The Cloud Run service Ferry creates for ServerlessService {}{note}",
                desired.object.name
            ),
            body: serde_json::to_string_pretty(&requests.rendered()).map_err(|e| e.to_string())?,
        })
    }
}

/// The ProviderConfig's `cloudRun` section, or placeholders (and a note saying so) when the
/// ProviderConfig is not known offline.
fn section_or_placeholder(
    config_name: &str,
    config: Option<&ProviderConfigSpec>,
) -> (CloudRunProviderConfig, String) {
    match config.and_then(|c| c.cloud_run.clone()) {
        Some(section) => (section, String::new()),
        None => (
            CloudRunProviderConfig {
                project: placeholder("project", config_name),
                region: placeholder("region", config_name),
                credentials: None,
                endpoint: None,
            },
            placeholder_note(config_name),
        ),
    }
}
