//! Azure Container Instances' descriptor: what Ferry knows about the provider, in one value.

use std::collections::BTreeMap;

use ferry_api::{
    AzureProviderConfig, Provider, ProviderConfigSpec, ScalingMetric, SecretKeySelector, SecretRef,
    ServerlessServiceSpec,
};
use ferry_core::Findings;
use ferry_core::backend::{BackendModel, EstimateInput, Parts, Rules, ScalingDefaults};
use ferry_core::capabilities::{Feature, Support};
use ferry_core::cost::Priced;
use ferry_core::cost::prices::PriceRegions;
use ferry_core::desired::{Desired, ObjectRef, SecretSource};

use std::sync::Arc;

use ferry_provider::Connector;
use ferry_provider::backend::{Backend, Environment, Rendered};

use serde_json::Value;

use crate::build::{self, SecretValue};
use crate::client::{ContainerInstancesConnector, Settings};
use crate::{capabilities, cost, limits, validate};

/// Azure Container Instances (`Microsoft.ContainerInstance/containerGroups`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ContainerInstances;

impl Rules for ContainerInstances {
    fn provider(&self) -> Provider {
        Provider::ContainerInstances
    }

    fn support(&self, feature: Feature) -> Support {
        capabilities::support(feature)
    }

    /// One container group, always.
    fn scaling_defaults(&self) -> ScalingDefaults {
        ScalingDefaults {
            min_instances: limits::INSTANCES,
            metric: ScalingMetric::Cpu,
            max_is_min: true,
        }
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
        object: &ObjectRef,
        parts: &Parts<'_>,
    ) -> Option<BackendModel> {
        validate::check(findings, object, parts).map(BackendModel::new)
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
            field: "spec.containerInstances.location, or a ProviderConfig's spec.azure.location",
        }
    }

    /// The subscription, resource group, region and endpoint: where one object's group goes.
    fn location(&self, config: &ProviderConfigSpec) -> Option<String> {
        let c = config.azure.as_ref()?;
        Some(format!(
            "{}/{}/{}/{}",
            c.subscription_id,
            c.resource_group,
            c.location,
            c.endpoint.as_deref().unwrap_or_default()
        ))
    }

    /// The spec's own `containerInstances.location`, else the ProviderConfig's.
    fn region(
        &self,
        spec: &ServerlessServiceSpec,
        config: Option<&ProviderConfigSpec>,
    ) -> Option<String> {
        spec.container_instances
            .as_ref()
            .and_then(|c| c.location.clone())
            .or_else(|| Some(config?.azure.as_ref()?.location.clone()))
    }
}

impl Backend for ContainerInstances {
    fn connector(&self, env: &Environment) -> Arc<dyn Connector> {
        Arc::new(ContainerInstancesConnector::new(
            env.client.clone(),
            Settings {
                operator_namespace: env.operator_namespace.clone(),
                ..Settings::default()
            },
        ))
    }

    fn secret_refs<'a>(&self, config: &'a ProviderConfigSpec) -> Vec<&'a SecretKeySelector> {
        ferry_azure::connect::credential_secret_refs(config)
    }

    fn render(
        &self,
        desired: &Desired,
        config_name: &str,
        config: Option<&ProviderConfigSpec>,
    ) -> Result<Rendered, String> {
        let (section, note) = ferry_azure::connect::render_section(config_name, config);
        let request = render_request(desired, &section).map_err(|e| e.to_string())?;
        Ok(Rendered {
            comment: format!(
                "The container group Ferry creates for ServerlessService {} (values copied \
                 from Secrets are shown as placeholders){note}",
                desired.object.name
            ),
            body: serde_json::to_string_pretty(&request.rendered()).map_err(|e| e.to_string())?,
        })
    }
}

/// The PUT Ferry would send for `desired`, offline: values copied from Secrets are shown as
/// placeholders (a secret file's as the placeholder itself, where Ferry sends base64).
pub(crate) fn render_request(
    desired: &Desired,
    section: &AzureProviderConfig,
) -> Result<build::Request, build::BuildError> {
    let mut request = placeholder_request(desired, section)?;
    let files = desired
        .backend
        .get::<crate::model::ContainerInstancesModel>()
        .map(|m| m.secret_files.clone())
        .unwrap_or_default();
    // `get_mut`, not indexing: indexing would add `volumes: null` to a group without any.
    for volume in request
        .body
        .get_mut("properties")
        .and_then(|p| p.get_mut("volumes"))
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let name = volume["name"].as_str().unwrap_or_default().to_owned();
        let Some(contents) = volume.get_mut("secret").and_then(|s| s.as_object_mut()) else {
            continue;
        };
        for (file, content) in contents.iter_mut() {
            let source = files.iter().find_map(|f| match &f.source {
                crate::model::FileSource::Kubernetes { secret, key }
                    if f.volume == name && &f.file == file =>
                {
                    Some((secret.clone(), key.clone()))
                }
                _ => None,
            });
            if let Some(key) = source {
                *content = format!(
                    "<base64 of {}>",
                    build::secret_placeholder(&desired.object.namespace, &key)
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                )
                .into();
            }
        }
    }
    Ok(request)
}

/// [`render_request`] before its secret files are shown as placeholders.
fn placeholder_request(
    desired: &Desired,
    section: &AzureProviderConfig,
) -> Result<build::Request, build::BuildError> {
    let secrets: BTreeMap<_, _> = build::kubernetes_secrets(desired)
        .into_iter()
        .map(|key| {
            let value = build::secret_placeholder(&desired.object.namespace, &key);
            (
                key,
                SecretValue {
                    value: Some(value),
                    version: "render".into(),
                },
            )
        })
        .collect();
    build::request(desired, section, &secrets)
}
