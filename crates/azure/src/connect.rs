//! From a ProviderConfig to an [`Arm`]: its `azure` section, the credentials Secret it names,
//! and one client per ProviderConfig, built again only when the ProviderConfig or that Secret
//! changes. Both Azure backends' connectors start here.

use std::collections::HashMap;

use ferry_api::conditions::reasons;
use ferry_api::{AzureProviderConfig, ProviderConfig, ProviderConfigSpec, SecretKeySelector};
use ferry_provider::ProviderError;
use ferry_provider::backend::{placeholder, placeholder_note};
use ferry_provider::provider_config;
use kube::ResourceExt;
use tracing::info;

use crate::{Arm, ArmSettings};

/// The ProviderConfig's `azure` section; a ProviderConfig without one is
/// `ProviderConfigNotFound` (it is another cloud's).
pub fn section(config: &ProviderConfig) -> Result<&AzureProviderConfig, ProviderError> {
    config
        .spec
        .azure
        .as_ref()
        .ok_or_else(|| ProviderError::Terminal {
            reason: reasons::PROVIDER_CONFIG_NOT_FOUND,
            message: format!(
                "ProviderConfig {} has no spec.azure: add one, or name a ProviderConfig for Azure \
                 in spec.providerConfigRef",
                config.name_any()
            ),
            recheck: None,
        })
}

/// The credential Secrets of `config`'s `azure` section (for `Backend::secret_refs`).
pub fn credential_secret_refs(config: &ProviderConfigSpec) -> Vec<&SecretKeySelector> {
    config
        .azure
        .iter()
        .filter_map(|c| c.credentials.as_ref()?.secret_ref.as_ref())
        .collect()
}

/// The `azure` section `ferry render` builds with: `config`'s, or placeholders naming
/// `config_name` when its file was not given, with the note saying so (empty otherwise).
pub fn render_section(
    config_name: &str,
    config: Option<&ProviderConfigSpec>,
) -> (AzureProviderConfig, String) {
    match config.and_then(|c| c.azure.clone()) {
        Some(section) => (section, String::new()),
        None => (
            AzureProviderConfig {
                subscription_id: placeholder("subscriptionId", config_name),
                resource_group: placeholder("resourceGroup", config_name),
                location: placeholder("location", config_name),
                container_apps_environment: Some(placeholder(
                    "containerAppsEnvironment",
                    config_name,
                )),
                credentials: None,
                endpoint: None,
            },
            placeholder_note(config_name),
        ),
    }
}

/// Which version of a ProviderConfig (and of its credentials Secret) a client was built from.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Version {
    config: String,
    secret: Option<String>,
}

/// The ARM clients of one backend, one per ProviderConfig name, each built once per version of
/// the ProviderConfig and its credentials Secret (a new token cache only when they change).
pub struct Connections {
    kube: kube::Client,
    operator_namespace: String,
    settings: ArmSettings,
    service: &'static str,
    clients: tokio::sync::Mutex<HashMap<String, (Version, Arm)>>,
}

impl Connections {
    /// Clients with `settings` for the backend of `service` (as logs name it: `Container
    /// Apps`), reading credential Secrets with `kube` from `operator_namespace` only.
    pub fn new(
        kube: kube::Client,
        operator_namespace: impl Into<String>,
        settings: ArmSettings,
        service: &'static str,
    ) -> Self {
        Self {
            kube,
            operator_namespace: operator_namespace.into(),
            settings,
            service,
            clients: tokio::sync::Mutex::default(),
        }
    }

    /// The credentials Secret's key and resourceVersion, when the ProviderConfig's
    /// `azure.credentials` name one (source `Secret`).
    pub async fn credentials(
        &self,
        config: &ProviderConfig,
    ) -> Result<Option<(String, String)>, ProviderError> {
        provider_config::credentials_secret(
            &self.kube,
            &self.operator_namespace,
            &config.name_any(),
            section(config)?.credentials.as_ref(),
            "spec.azure",
        )
        .await
    }

    /// The client for `config` with `credentials` (what [`credentials`](Self::credentials)
    /// read), built when this version of both has not been seen.
    pub async fn arm(
        &self,
        config: &ProviderConfig,
        credentials: Option<(String, String)>,
    ) -> Result<Arm, ProviderError> {
        let name = config.name_any();
        let section = section(config)?;
        let (key, secret) = credentials.unzip();
        let version = Version {
            config: config.resource_version().unwrap_or_default(),
            secret,
        };
        let mut clients = self.clients.lock().await;
        if let Some((known, arm)) = clients.get(&name)
            && *known == version
        {
            return Ok(arm.clone());
        }
        info!(
            provider_config = name,
            "connecting to Azure Resource Manager for {}", self.service
        );
        let arm = Arm::new(section, key.as_deref().map(str::as_bytes), &self.settings)?;
        clients.insert(name, (version, arm.clone()));
        Ok(arm)
    }

    /// `Connector::check`: `None` for a ProviderConfig without an `azure` section, else
    /// whether its credentials and endpoint work ([`Arm::check`]).
    pub async fn check(&self, config: &ProviderConfig) -> Option<Result<String, ProviderError>> {
        config.spec.azure.as_ref()?;
        Some(self.check_config(config).await)
    }

    async fn check_config(&self, config: &ProviderConfig) -> Result<String, ProviderError> {
        let credentials = self.credentials(config).await?;
        self.arm(config, credentials).await?.check().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_api::{Credentials, CredentialsSource};

    fn config(azure: Option<&AzureProviderConfig>) -> ProviderConfig {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "ProviderConfig",
            "metadata": {"name": "azure-prod"},
            "spec": {"azure": azure},
        }))
        .unwrap()
    }

    fn azure() -> AzureProviderConfig {
        AzureProviderConfig {
            subscription_id: "sub".into(),
            resource_group: "rg".into(),
            location: "westeurope".into(),
            container_apps_environment: None,
            credentials: Some(Credentials {
                source: CredentialsSource::Secret,
                secret_ref: Some(SecretKeySelector {
                    name: "azure".into(),
                    namespace: "ferry-system".into(),
                    key: "principal.json".into(),
                }),
            }),
            endpoint: None,
        }
    }

    #[test]
    fn a_provider_config_of_another_cloud_is_not_found() {
        let error = section(&config(None)).unwrap_err();
        assert_eq!(error.reason(), reasons::PROVIDER_CONFIG_NOT_FOUND);
        assert!(error.to_string().contains("azure-prod has no spec.azure"));
        assert_eq!(section(&config(Some(&azure()))).unwrap(), &azure());
    }

    #[test]
    fn the_credentials_secret_is_a_secret_ref() {
        let config = config(Some(&azure()));
        let refs = credential_secret_refs(&config.spec);
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].name, "azure");
        assert!(credential_secret_refs(&self::config(None).spec).is_empty());
    }

    #[test]
    fn render_uses_the_section_or_placeholders() {
        let spec = config(Some(&azure())).spec;
        assert_eq!(
            render_section("azure-prod", Some(&spec)),
            (azure(), String::new())
        );
        let (section, note) = render_section("azure-prod", None);
        assert_eq!(
            section.subscription_id,
            "<subscriptionId of ProviderConfig azure-prod>"
        );
        assert_eq!(
            section.container_apps_environment.as_deref(),
            Some("<containerAppsEnvironment of ProviderConfig azure-prod>")
        );
        assert_eq!(note, placeholder_note("azure-prod"));
    }
}
