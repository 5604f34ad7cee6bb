//! Values copied with `fromSecret` from Kubernetes Secrets in the service's namespace: the text
//! of a key, and the error for a Secret or key the spec names that is not there. Each backend
//! reads the Secrets itself (which fields it needs, and when, differ) and words its messages
//! after its own `spec` section.

use std::time::Duration;

use ferry_api::conditions::reasons;
use ferry_provider::ProviderError;
use k8s_openapi::api::core::v1::Secret;

/// How long to wait before looking again for a Secret (or key) the spec names that is missing:
/// nothing watches the Secrets `fromSecret` names.
pub const SECRET_RECHECK: Duration = Duration::from_secs(60);

/// Whether `name` can be a file name in a secret volume (both Azure providers name a secret's
/// file after its `key`): letters, digits, `-`, `_` and `.`, at most 253, not `.` or `..`.
pub fn is_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Why a key of a Secret has no text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The Secret has no such key.
    Missing,
    /// The key's bytes are not UTF-8 (Azure takes secret values as strings).
    NotText,
}

/// The text of `key` in `secret`: from `data`, else from `stringData`.
pub fn key_text(secret: &Secret, key: &str) -> Result<String, KeyError> {
    if let Some(bytes) = secret.data.as_ref().and_then(|d| d.get(key)) {
        return String::from_utf8(bytes.0.clone()).map_err(|_| KeyError::NotText);
    }
    secret
        .string_data
        .as_ref()
        .and_then(|d| d.get(key))
        .cloned()
        .ok_or(KeyError::Missing)
}

/// How long to wait before looking again when Ferry may not read a Secret.
pub const FORBIDDEN_RECHECK: Duration = Duration::from_secs(300);

/// A failed read of `what` (`Secret NAMESPACE/NAME`), which `section`
/// (`spec.containerApps.secrets` ...) copies from: a 403 will not pass by retrying, so it is
/// `Terminal` and says which grant is missing; anything else is `Transient`.
pub fn read_failed(section: &str, what: &str, error: &kube::Error) -> ProviderError {
    match error {
        kube::Error::Api(status) if status.code == 403 => ProviderError::Terminal {
            reason: reasons::PROVIDER_ERROR,
            message: format!(
                "Ferry may not read {what}, which {section} copies: grant the operator get on                  secrets in this namespace (the chart's rbac.serviceSecrets, on by default)"
            ),
            recheck: Some(FORBIDDEN_RECHECK),
        },
        _ => ProviderError::Transient {
            operation: "read Secret",
            message: format!("{what}: {error}"),
        },
    }
}

/// A Secret or key the spec copies from that is not there (or not usable): `Terminal`
/// `InvalidSpec` with `message`, looked at again after [`SECRET_RECHECK`].
pub fn missing(message: String) -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::INVALID_SPEC,
        message,
        recheck: Some(SECRET_RECHECK),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forbidden_read_says_which_grant_is_missing_and_other_failures_are_retried() {
        let forbidden = kube::Error::Api(Box::new(
            kube::core::Status::failure("secrets \"db\" is forbidden", "Forbidden").with_code(403),
        ));
        let e = read_failed("spec.containerApps.secrets", "Secret shop/db", &forbidden);
        assert!(e.is_terminal(), "{e:?}");
        assert!(e.to_string().contains("rbac.serviceSecrets"), "{e}");
        let unavailable = kube::Error::Api(Box::new(
            kube::core::Status::failure("etcdserver: leader changed", "ServiceUnavailable")
                .with_code(503),
        ));
        let e = read_failed("spec.containerApps.secrets", "Secret shop/db", &unavailable);
        assert!(matches!(e, ProviderError::Transient { .. }), "{e:?}");
    }

    #[test]
    fn a_secret_key_is_read_from_data_or_string_data() {
        let secret: Secret = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "hello-api"},
            "data": {"key": "czNjcmV0", "binary": "/w=="},
            "stringData": {"other": "plain"},
        }))
        .unwrap();
        assert_eq!(key_text(&secret, "key").as_deref(), Ok("s3cret"));
        assert_eq!(key_text(&secret, "other").as_deref(), Ok("plain"));
        assert_eq!(key_text(&secret, "none"), Err(KeyError::Missing));
        assert_eq!(key_text(&secret, "binary"), Err(KeyError::NotText));
    }

    #[test]
    fn a_missing_secret_is_an_invalid_spec_looked_at_again() {
        let error = missing("Secret shop/api does not exist".into());
        assert_eq!(error.reason(), reasons::INVALID_SPEC);
        assert!(matches!(
            error,
            ProviderError::Terminal {
                recheck: Some(SECRET_RECHECK),
                ..
            }
        ));
    }
}
