//! Azure Container Apps' descriptor: what Ferry knows about the provider, in one value.

use std::sync::Arc;

use ferry_api::{
    Provider, ProviderConfigSpec, SecretKeySelector, SecretRef, ServerlessServiceSpec,
};
use ferry_azure::connect;
use ferry_core::Findings;
use ferry_core::backend::{BackendModel, EstimateInput, Parts, Rules};
use ferry_core::capabilities::{Feature, JobFeature, Support};
use ferry_core::cost::Priced;
use ferry_core::cost::prices::PriceRegions;
use ferry_core::desired::{Desired, ObjectRef, SecretSource};
use ferry_core::job::cost::RunInput;
use ferry_core::job::{DesiredJob, JobParts};
use ferry_provider::Connector;
use ferry_provider::backend::{Backend, Environment, Rendered};

use crate::build::{self, SecretValue, SecretValues};
use crate::job::build as job_build;
use crate::model::{AppSecretSource, ContainerAppsModel};
use crate::{ContainerAppsConnector, Settings, capabilities, cost, validate};

/// Azure Container Apps (`Microsoft.App/containerApps`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ContainerApps;

impl Rules for ContainerApps {
    fn provider(&self) -> Provider {
        Provider::ContainerApps
    }

    fn support(&self, feature: Feature) -> Support {
        capabilities::support(feature)
    }

    fn job_support(&self, feature: JobFeature) -> Support {
        capabilities::job_support(feature)
    }

    fn secret(
        &self,
        findings: &mut Findings,
        path: &str,
        secret: &SecretRef,
        spec: &ServerlessServiceSpec,
    ) -> Option<SecretSource> {
        validate::secret(findings, path, secret, spec)
    }

    fn check(
        &self,
        findings: &mut Findings,
        _object: &ObjectRef,
        parts: &Parts<'_>,
    ) -> Option<BackendModel> {
        validate::check(findings, parts).map(BackendModel::new)
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
            pattern: ferry_api::AZURE_LOCATION,
            example: "westeurope",
            field: "a ProviderConfig's spec.azure.location",
        }
    }

    fn estimate_run(&self, input: &RunInput<'_>) -> Priced {
        cost::estimate_run(input)
    }

    /// The subscription, resource group and endpoint: the app one object's name maps to (an
    /// ARM id). The environment is not part of it: an app cannot change environment, and a
    /// ProviderConfig that names another one for the same resource group is refused at the
    /// next look (see `build::Change::Environment`).
    fn location(&self, config: &ProviderConfigSpec) -> Option<String> {
        let c = config.azure.as_ref()?;
        Some(format!(
            "{}/{}/{}",
            c.subscription_id.to_ascii_lowercase(),
            c.resource_group.to_ascii_lowercase(),
            c.endpoint.as_deref().unwrap_or_default()
        ))
    }

    /// The ProviderConfig's `azure.location` (an app runs in its environment's region).
    fn region(
        &self,
        _spec: &ServerlessServiceSpec,
        config: Option<&ProviderConfigSpec>,
    ) -> Option<String> {
        Some(config?.azure.as_ref()?.location.clone())
    }
}

impl Backend for ContainerApps {
    fn connector(&self, env: &Environment) -> Arc<dyn Connector> {
        Arc::new(ContainerAppsConnector::new(
            env.client.clone(),
            Settings {
                operator_namespace: env.operator_namespace.clone(),
                ..Settings::default()
            },
        ))
    }

    fn secret_refs<'a>(&self, config: &'a ProviderConfigSpec) -> Vec<&'a SecretKeySelector> {
        connect::credential_secret_refs(config)
    }

    /// The job's PUT and, for a job without a schedule, the start of the run of the object's
    /// generation (its containers carry the run's key, `FERRY_RUN`; a job whose containers
    /// mount volumes is started without a body).
    fn render_job(
        &self,
        desired: &DesiredJob,
        config_name: &str,
        config: Option<&ProviderConfigSpec>,
    ) -> Result<Rendered, String> {
        let (section, note) = connect::render_section(config_name, config);
        let model = job_build::model(desired).map_err(|e| e.to_string())?;
        let values = placeholder_values(model, &desired.object.namespace);
        let requests =
            job_build::requests(desired, &section, &values).map_err(|e| e.to_string())?;
        let name = &desired.object.name;
        let mut calls = vec![requests.rendered()];
        let what = match (&desired.schedule, desired.suspend) {
            (Some(_), false) => {
                "the Container Apps job, whose schedule (read in UTC) starts its runs".to_owned()
            }
            (Some(_), true) => "the Container Apps job, Manual while spec.suspend is true \
                                (Container Apps cannot pause a schedule), so nothing starts"
                .to_owned(),
            (None, true) => {
                "the Container Apps job; no run starts while spec.suspend is true".to_owned()
            }
            (None, false) => {
                let generation = desired.object.generation.unwrap_or(1);
                let uid = desired.object.uid.as_deref().unwrap_or("UID");
                let key = job_build::run_key(uid, generation);
                let body = job_build::start_body(desired, &key).map_err(|e| e.to_string())?;
                let mut start = serde_json::json!({
                    "method": "POST",
                    "path": format!("{}?api-version={}", requests.place.start_id(), build::API_VERSION),
                });
                let keyed = match body {
                    Some(body) => {
                        start["body"] = body;
                        format!("keyed {}={key}", job_build::RUN_ENV)
                    }
                    // A start's containers would lose the volume mounts: see job::build.
                    None => format!(
                        "with the job's own template (its containers mount volumes, which a \
                         start's containers cannot), found by {}={generation}",
                        job_build::GENERATION_ENV
                    ),
                };
                calls.push(start);
                format!(
                    "the Container Apps job, and the start of its run for generation \
                     {generation}, {keyed}"
                )
            }
        };
        let copied = copied_note(&values);
        Ok(Rendered {
            comment: format!(
                "The requests Ferry sends for ServerlessJob {name}: {what}{copied}{note}"
            ),
            body: serde_json::to_string_pretty(&calls).map_err(|e| e.to_string())?,
        })
    }

    fn render(
        &self,
        desired: &Desired,
        config_name: &str,
        config: Option<&ProviderConfigSpec>,
    ) -> Result<Rendered, String> {
        let (section, note) = connect::render_section(config_name, config);
        let values = rendered_secret_values(desired)?;
        let requests = build::requests(desired, &section, &values).map_err(|e| e.to_string())?;
        let copied = copied_note(&values);
        Ok(Rendered {
            comment: format!(
                "The request Ferry sends to create or update the container app of \
                 ServerlessService {}{copied}{note}",
                desired.object.name
            ),
            body: serde_json::to_string_pretty(&requests.rendered()).map_err(|e| e.to_string())?,
        })
    }
}

/// The note `ferry render` adds when the requests hold placeholders for copied secrets.
fn copied_note(values: &SecretValues) -> &'static str {
    if values.is_empty() {
        ""
    } else {
        ";\n# app secrets copied from Kubernetes Secrets show where their values come from"
    }
}

/// Placeholders for the values of copied secrets, which `ferry render` does not read.
fn rendered_secret_values(desired: &Desired) -> Result<SecretValues, String> {
    let model = build::model(desired).map_err(|e| e.to_string())?;
    Ok(placeholder_values(model, &desired.object.namespace))
}

/// Placeholders for the values of `model`'s copied secrets, read from `namespace`.
fn placeholder_values(model: &ContainerAppsModel, namespace: &str) -> SecretValues {
    model
        .secrets
        .iter()
        .filter_map(|s| match &s.source {
            AppSecretSource::Kubernetes { secret, key } => Some((
                s.name.clone(),
                SecretValue {
                    value: format!(
                        "<key {key} of Secret {namespace}/{secret}, copied when Ferry sends it>"
                    ),
                    version: String::new(),
                },
            )),
            AppSecretSource::KeyVault { .. } => None,
        })
        .collect()
}
