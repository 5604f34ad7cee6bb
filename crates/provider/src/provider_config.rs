//! Which `ProviderConfig` an object uses, whether its namespace may use it, and the Secret its
//! credentials name: the lookups every cloud backend's `Connector` starts with.

use std::collections::BTreeMap;

use ferry_api::conditions::reasons;
use ferry_api::{
    Credentials, CredentialsSource, ProviderConfig, ProviderConfigSpec, SecretKeySelector,
    ServerlessService,
};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::ResourceExt;
use kube::api::Api;
use kube::core::{Selector, SelectorExt};

use crate::ProviderError;

/// The ProviderConfig used when `spec.providerConfigRef` is not set.
pub const DEFAULT_NAME: &str = "default";

/// The name of the ProviderConfig `svc` uses.
pub fn name_for(svc: &ServerlessService) -> &str {
    svc.spec
        .provider_config_ref
        .as_ref()
        .map_or(DEFAULT_NAME, |r| r.name.as_str())
}

/// Whether `namespace` (with its `labels`) may use a ProviderConfig with `spec`: listed in
/// `allowedNamespaces`, or matched by `namespaceSelector`; with neither set, every namespace may.
pub fn allows(
    spec: &ProviderConfigSpec,
    namespace: &str,
    labels: &BTreeMap<String, String>,
) -> Result<bool, String> {
    let listed = spec.allowed_namespaces.as_ref();
    let selector = spec.namespace_selector.as_ref();
    if listed.is_none() && selector.is_none() {
        return Ok(true);
    }
    if listed.is_some_and(|names| names.iter().any(|n| n == namespace)) {
        return Ok(true);
    }
    match selector {
        None => Ok(false),
        Some(selector) => Selector::try_from(selector.clone())
            .map(|s| s.matches(labels))
            .map_err(|e| format!("spec.namespaceSelector: {e}")),
    }
}

fn not_found(name: &str) -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::PROVIDER_CONFIG_NOT_FOUND,
        message: format!(
            "ProviderConfig {name} does not exist: create it, or name another in \
             spec.providerConfigRef (the default is the one named {DEFAULT_NAME})"
        ),
        recheck: None,
    }
}

fn lookup_failed(what: &str, error: &kube::Error) -> ProviderError {
    ProviderError::Transient {
        operation: "read configuration",
        message: format!("cannot read {what}: {error}"),
    }
}

/// The ProviderConfig `svc` uses, after checking that its namespace may use it. Missing:
/// `ProviderConfigNotFound`; not allowed: `ProviderConfigNotAllowed`; both wait for a change
/// (the controller watches ProviderConfigs).
pub async fn resolve(
    client: &kube::Client,
    svc: &ServerlessService,
) -> Result<ProviderConfig, ProviderError> {
    let name = name_for(svc);
    let configs: Api<ProviderConfig> = Api::all(client.clone());
    let config = configs
        .get_opt(name)
        .await
        .map_err(|e| lookup_failed(&format!("ProviderConfig {name}"), &e))?
        .ok_or_else(|| not_found(name))?;
    let namespace = svc.namespace().unwrap_or_default();
    let labels = if config.spec.namespace_selector.is_some() {
        let namespaces: Api<Namespace> = Api::all(client.clone());
        namespaces
            .get_opt(&namespace)
            .await
            .map_err(|e| lookup_failed(&format!("namespace {namespace}"), &e))?
            .map(|n| n.labels().clone())
            .unwrap_or_default()
    } else {
        BTreeMap::new()
    };
    let allowed =
        allows(&config.spec, &namespace, &labels).map_err(|message| ProviderError::Terminal {
            reason: reasons::PROVIDER_CONFIG_NOT_ALLOWED,
            message: format!("ProviderConfig {name}: {message}"),
            recheck: None,
        })?;
    if !allowed {
        return Err(ProviderError::Terminal {
            reason: reasons::PROVIDER_CONFIG_NOT_ALLOWED,
            message: not_allowed(name, &namespace),
            recheck: None,
        });
    }
    Ok(config)
}

/// The message of `ProviderConfigNotAllowed`: the ProviderConfig `name` does not allow
/// `namespace`. `ferry validate` says the same offline.
pub fn not_allowed(name: &str, namespace: &str) -> String {
    format!(
        "ProviderConfig {name} does not allow namespace {namespace} (see its \
         spec.allowedNamespaces and spec.namespaceSelector): ask its owners to allow it, or \
         name another ProviderConfig in spec.providerConfigRef"
    )
}

/// The credentials file a ProviderConfig's `credentials` name, with its Secret's
/// `resourceVersion`, when their source is `Secret`; `None` for the other sources. `field` is
/// the ProviderConfig's section for the provider (`spec.<provider>`), for messages.
pub async fn credentials_secret(
    client: &kube::Client,
    operator_namespace: &str,
    config_name: &str,
    credentials: Option<&Credentials>,
    field: &str,
) -> Result<Option<(String, String)>, ProviderError> {
    let Some(credentials) = credentials.filter(|c| c.source == CredentialsSource::Secret) else {
        return Ok(None);
    };
    let selector = credentials
        .secret_ref
        .as_ref()
        .ok_or_else(|| ProviderError::Terminal {
            reason: reasons::CREDENTIALS_INVALID,
            message: format!(
                "ProviderConfig {config_name}: {field}.credentials.secretRef is required with \
                 source Secret"
            ),
            recheck: None,
        })?;
    let field = format!("{field}.credentials.secretRef");
    read_secret(client, operator_namespace, selector, &field)
        .await
        .map(Some)
}

/// The contents of a Secret key with credentials, and the Secret's `resourceVersion` (which
/// changes when the credentials do). Ferry reads Secrets only from its own namespace.
pub async fn read_secret(
    client: &kube::Client,
    operator_namespace: &str,
    selector: &SecretKeySelector,
    field: &str,
) -> Result<(String, String), ProviderError> {
    let invalid = |message: String| ProviderError::Terminal {
        reason: reasons::CREDENTIALS_INVALID,
        message: format!("{field}: {message}"),
        recheck: None,
    };
    if selector.namespace != operator_namespace {
        return Err(invalid(format!(
            "Ferry reads credential Secrets only from its own namespace, {operator_namespace}; \
             {} is another: move the Secret to {operator_namespace}",
            selector.namespace
        )));
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), operator_namespace);
    let secret = secrets
        .get_opt(&selector.name)
        .await
        .map_err(|e| {
            lookup_failed(
                &format!("Secret {operator_namespace}/{}", selector.name),
                &e,
            )
        })?
        .ok_or_else(|| {
            invalid(format!(
                "Secret {operator_namespace}/{} does not exist",
                selector.name
            ))
        })?;
    let version = secret.resource_version().unwrap_or_default();
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&selector.key))
        .map(|b| b.0.clone())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(&selector.key))
                .map(|s| s.clone().into_bytes())
        })
        .ok_or_else(|| {
            invalid(format!(
                "Secret {operator_namespace}/{} has no key {}",
                selector.name, selector.key
            ))
        })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        invalid(format!(
            "key {} of Secret {operator_namespace}/{} is not UTF-8 text",
            selector.key, selector.name
        ))
    })?;
    Ok((text, version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(extra: serde_json::Value) -> ProviderConfigSpec {
        let mut value = json!({"fargate": {"region": "us-east-1", "cluster": "prod"}});
        if let (Some(v), serde_json::Value::Object(extra)) = (value.as_object_mut(), extra) {
            v.extend(extra);
        }
        serde_json::from_value(value).unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn namespaces_are_allowed_by_list_or_selector_or_by_default() {
        let open = spec(json!({}));
        assert_eq!(allows(&open, "shop", &labels(&[])), Ok(true));

        let listed = spec(json!({"allowedNamespaces": ["shop", "payments"]}));
        assert_eq!(allows(&listed, "shop", &labels(&[])), Ok(true));
        assert_eq!(allows(&listed, "web", &labels(&[])), Ok(false));

        let selected = spec(json!({"namespaceSelector": {
            "matchLabels": {"team": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["prod", "staging"]}],
        }}));
        let web_prod = labels(&[("team", "web"), ("tier", "prod")]);
        assert_eq!(allows(&selected, "web", &web_prod), Ok(true));
        assert_eq!(
            allows(
                &selected,
                "web",
                &labels(&[("team", "web"), ("tier", "dev")])
            ),
            Ok(false)
        );
        assert_eq!(allows(&selected, "web", &labels(&[])), Ok(false));

        let either = spec(json!({
            "allowedNamespaces": ["shop"],
            "namespaceSelector": {"matchLabels": {"team": "web"}},
        }));
        assert_eq!(allows(&either, "shop", &labels(&[])), Ok(true));
        assert_eq!(
            allows(&either, "other", &labels(&[("team", "web")])),
            Ok(true)
        );
        assert_eq!(allows(&either, "other", &labels(&[])), Ok(false));
    }

    #[test]
    fn a_selector_kubernetes_would_refuse_is_an_error_not_a_match() {
        let broken = spec(json!({"namespaceSelector": {
            "matchExpressions": [{"key": "tier", "operator": "Sometimes", "values": ["x"]}],
        }}));
        let error = allows(&broken, "web", &labels(&[])).unwrap_err();
        assert!(error.contains("spec.namespaceSelector"), "{error}");
    }

    #[test]
    fn the_default_config_is_named_default() {
        let svc: ServerlessService = serde_json::from_value(json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "ServerlessService",
            "metadata": {"name": "a", "namespace": "shop"},
            "spec": {"provider": "fargate", "containers": [{"name": "app", "image": "x", "port": 80}]},
        }))
        .unwrap();
        assert_eq!(name_for(&svc), "default");
    }
}
