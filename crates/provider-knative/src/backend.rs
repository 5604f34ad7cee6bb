//! Knative Serving's descriptor: what Ferry knows about the provider, in one value.

use std::sync::Arc;

use ferry_api::{DeletionPolicy, Provider, ProviderConfigSpec, SecretRef, ServerlessServiceSpec};
use ferry_core::Findings;
use ferry_core::backend::{BackendModel, EstimateInput, Parts, Rules};
use ferry_core::capabilities::{Feature, Support};
use ferry_core::cost::Priced;
use ferry_core::desired::{Desired, ObjectRef, SecretSource};
use ferry_provider::Connector;
use ferry_provider::backend::{Backend, Environment, Owned, Rendered};

use crate::build::{self, MANAGED_BY};
use crate::client::{self, KnativeConnector, api_resource};
use crate::{capabilities, cost, validate};

/// Knative Serving in this cluster.
#[derive(Clone, Copy, Debug, Default)]
pub struct Knative;

impl Rules for Knative {
    fn provider(&self) -> Provider {
        Provider::Knative
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
}

impl Backend for Knative {
    fn connector(&self, env: &Environment) -> Arc<dyn Connector> {
        Arc::new(KnativeConnector::new(
            env.client.clone(),
            env.caches.clone(),
        ))
    }

    /// Knative Services, as metadata, with Ferry's label.
    fn owned(&self) -> Vec<Owned> {
        vec![Owned {
            resource: api_resource(),
            labels: format!("{}={}", MANAGED_BY.0, MANAGED_BY.1),
            missing: "Knative Serving is not installed",
            keep: client::keep_in_cache,
        }]
    }

    fn uses_provider_config(&self) -> bool {
        false
    }

    /// The Knative Service is owned by its object, so the garbage collector deletes it with
    /// the object; `Orphan` needs Ferry, to remove the owner reference first, and so does an
    /// nfs or efs volume, whose PersistentVolume no owner reference can delete.
    fn needs_finalizer(&self, spec: &ServerlessServiceSpec) -> bool {
        spec.deletion_policy.unwrap_or_default() == DeletionPolicy::Orphan
            || spec
                .volumes
                .iter()
                .flatten()
                .any(|v| v.nfs.is_some() || v.efs.is_some())
    }

    fn render(
        &self,
        desired: &Desired,
        _config_name: &str,
        _config: Option<&ProviderConfigSpec>,
    ) -> Result<Rendered, String> {
        // The claims first, as they are applied.
        let mut documents = Vec::new();
        for claim in build::claims(desired) {
            for object in [claim.persistent_volume_value(), claim.claim_value()] {
                documents.push(serde_saphyr::to_string(&object).map_err(|e| e.to_string())?);
            }
        }
        let service = build::knative_service(desired);
        documents.push(serde_saphyr::to_string(&service).map_err(|e| e.to_string())?);
        Ok(Rendered {
            comment: format!(
                "What Ferry applies for ServerlessService {}",
                desired.object.name
            ),
            body: documents.join("---\n"),
        })
    }
}
