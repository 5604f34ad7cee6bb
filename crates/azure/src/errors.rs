//! Azure Resource Manager's errors in Ferry's terms: what to retry soon, what to back off from
//! (honouring `Retry-After`), and what needs a person.
//!
//! Every error built from an ARM answer carries the answer's status and code in a fixed marker,
//! `[ARM 400 InvalidRequestContent target=properties.template]`, so a backend can map the codes
//! of its own service on top ([`arm_error_of`]) without a second error type.

use std::time::Duration;

use ferry_api::conditions::reasons;
use ferry_provider::ProviderError;
use serde_json::Value;

/// How long to wait before looking again at an error that needs someone to change something
/// in the subscription (a quota, a resource group, a provider registration, a policy).
pub const ACCOUNT_RECHECK: Duration = Duration::from_secs(300);

/// ARM's error body `{"error": {"code", "message", "target", "details"}}`, with the HTTP status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArmError {
    /// The HTTP status of the answer.
    pub status: u16,
    /// ARM's error code (`InvalidRequestContent`, `ResourceNotFound`...); `Http{status}` when the
    /// answer had no ARM error body.
    pub code: String,
    /// ARM's message.
    pub message: String,
    /// The property the error is about, when ARM names one.
    pub target: Option<String>,
}

impl ArmError {
    /// Reads an ARM error body. Takes `{"error": {..}}` and the bare `{"code", "message"}` some
    /// resource providers answer; anything else keeps its first 300 characters as the message.
    pub fn from_body(status: u16, body: &[u8]) -> ArmError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let error = parsed
            .as_ref()
            .map(|value| value.get("error").unwrap_or(value))
            .filter(|error| error.get("code").is_some_and(Value::is_string));
        if let Some(error) = error {
            let text = |name: &str| error.get(name).and_then(Value::as_str).map(str::to_owned);
            return ArmError {
                status,
                code: text("code").unwrap_or_default(),
                message: text("message").unwrap_or_default(),
                target: text("target").filter(|t| !t.is_empty()),
            };
        }
        let text = String::from_utf8_lossy(body);
        ArmError {
            status,
            code: format!("Http{status}"),
            message: text.trim().chars().take(300).collect(),
            target: None,
        }
    }

    /// The error as Ferry writes it in messages: the marker [`arm_error_of`] reads back, then
    /// ARM's message.
    pub fn describe(&self) -> String {
        let target = self
            .target
            .as_deref()
            .filter(|t| !t.contains(' ') && !t.contains("] "))
            .map(|t| format!(" target={t}"))
            .unwrap_or_default();
        format!(
            "[ARM {} {}{target}] {}",
            self.status, self.code, self.message
        )
    }
}

/// The ARM error a [`ProviderError`] was built from, when it was built from one: its status,
/// code, target and message, read back from the marker in the error's message.
pub fn arm_error_of(error: &ProviderError) -> Option<ArmError> {
    let text = match error {
        ProviderError::Transient { message, .. }
        | ProviderError::Terminal { message, .. }
        | ProviderError::Throttled { message, .. }
        | ProviderError::Auth(message) => message,
    };
    let start = text.find("[ARM ")?;
    let rest = &text[start + 5..];
    // The marker ends at the first "] " (a target may hold brackets: `containers[0]`).
    let end = rest
        .find("] ")
        .or_else(|| rest.strip_suffix(']').map(str::len))?;
    let mut words = rest[..end].split(' ');
    let status = words.next()?.parse().ok()?;
    let code = words.next()?.to_owned();
    let target = words
        .next()
        .and_then(|w| w.strip_prefix("target="))
        .map(str::to_owned);
    let message = rest[end + 1..].trim_start().to_owned();
    Some(ArmError {
        status,
        code,
        message,
        target,
    })
}

/// Codes that say a quota or limit of the subscription or region is used up.
fn is_quota(code: &str) -> bool {
    let lower = code.to_ascii_lowercase();
    (lower.contains("quota") || lower.contains("exceeded") || lower.contains("limitreached"))
        && !lower.contains("throttl")
        && !lower.contains("toomanyrequests")
}

/// Codes that say the subscription or resource group must change first.
fn is_account(code: &str) -> bool {
    matches!(
        code,
        "ResourceGroupNotFound"
            | "SubscriptionNotFound"
            | "ParentResourceNotFound"
            | "ManagedEnvironmentNotFound"
            | "MissingSubscriptionRegistration"
            | "SubscriptionNotRegistered"
            | "RequestDisallowedByPolicy"
            | "ScopeLocked"
            | "ReadOnlyDisabledSubscription"
            | "SubscriptionNotEnabled"
            | "DisallowedLocation"
            | "LocationNotAvailableForResourceType"
            | "NoRegisteredProviderFound"
            | "SkuNotAvailable"
    ) || (code.ends_with("NotFound") && code.contains("Environment"))
}

/// Codes that say another operation on the resource is still running.
fn is_in_progress(status: u16, code: &str) -> bool {
    code.contains("InProgress")
        || code.contains("Transitioning")
        || code == "AnotherOperationInProgress"
        || (status == 409 && code == "Conflict")
}

/// Sorts an ARM error answered to `operation` (`ARM PUT /subscriptions/...`).
pub fn classify(
    operation: &'static str,
    what: &str,
    error: &ArmError,
    retry_after: Option<Duration>,
) -> ProviderError {
    let code = error.code.as_str();
    let described = error.describe();
    if is_quota(code) {
        return ProviderError::Terminal {
            reason: reasons::PROVIDER_ERROR,
            message: format!(
                "{operation} {what}: an Azure quota or limit is reached (raise it, or free \
                 capacity in the subscription or region): {described}"
            ),
            recheck: Some(ACCOUNT_RECHECK),
        };
    }
    if is_account(code) {
        return ProviderError::Terminal {
            reason: reasons::PROVIDER_ERROR,
            message: format!(
                "{operation} {what}: the Azure subscription, resource group or environment \
                 must change first: {described}"
            ),
            recheck: Some(ACCOUNT_RECHECK),
        };
    }
    if is_in_progress(error.status, code) {
        return ProviderError::Transient {
            operation,
            message: format!("{what}: another operation is still running: {described}"),
        };
    }
    match error.status {
        401 | 403 => ProviderError::Auth(format!(
            "{operation} {what}: Azure refused the credentials: {described}"
        )),
        429 => ProviderError::Throttled {
            retry_after,
            message: format!("{operation} {what}: {described}"),
        },
        408 | 500..=599 => ProviderError::Transient {
            operation,
            message: format!("{what}: {described}"),
        },
        400 | 422 => ProviderError::Terminal {
            reason: reasons::INVALID_SPEC,
            message: format!("{operation} {what}: Azure refused the request: {described}"),
            recheck: None,
        },
        _ => ProviderError::Terminal {
            reason: reasons::PROVIDER_ERROR,
            message: format!("{operation} {what}: {described}"),
            recheck: Some(ACCOUNT_RECHECK),
        },
    }
}

/// The text of an error and its sources, without repeats.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        let text = current.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = current.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(status: u16, code: &str) -> ArmError {
        ArmError {
            status,
            code: code.into(),
            message: "m".into(),
            target: None,
        }
    }

    fn category(status: u16, code: &str) -> (&'static str, &'static str) {
        let error = classify("ARM PUT", "/x", &arm(status, code), None);
        (error.category(), error.reason())
    }

    #[test]
    fn statuses_and_codes_say_what_to_do() {
        use reasons::{CREDENTIALS_INVALID, INVALID_SPEC, PROVIDER_ERROR, THROTTLED};
        assert_eq!(
            category(401, "InvalidAuthenticationToken"),
            ("auth", CREDENTIALS_INVALID)
        );
        assert_eq!(
            category(403, "AuthorizationFailed"),
            ("auth", CREDENTIALS_INVALID)
        );
        assert_eq!(
            category(429, "SubscriptionRequestsThrottled"),
            ("throttled", THROTTLED)
        );
        assert_eq!(
            category(500, "InternalServerError"),
            ("transient", PROVIDER_ERROR)
        );
        assert_eq!(
            category(503, "ServiceUnavailable"),
            ("transient", PROVIDER_ERROR)
        );
        assert_eq!(
            category(504, "GatewayTimeout"),
            ("transient", PROVIDER_ERROR)
        );
        assert_eq!(
            category(409, "ContainerAppOperationInProgress"),
            ("transient", PROVIDER_ERROR)
        );
        assert_eq!(
            category(409, "ContainerGroupTransitioning"),
            ("transient", PROVIDER_ERROR)
        );
        assert_eq!(
            category(409, "AnotherOperationInProgress"),
            ("transient", PROVIDER_ERROR)
        );
        assert_eq!(category(409, "Conflict"), ("transient", PROVIDER_ERROR));
        assert_eq!(
            category(400, "InvalidRequestContent"),
            ("terminal", INVALID_SPEC)
        );
        assert_eq!(
            category(400, "ContainerAppInvalidSchema"),
            ("terminal", INVALID_SPEC)
        );
        assert_eq!(
            category(400, "LocationRequired"),
            ("terminal", INVALID_SPEC)
        );
        assert_eq!(
            category(409, "InvalidResourceLocation"),
            ("terminal", PROVIDER_ERROR)
        );
        assert_eq!(
            category(404, "ResourceGroupNotFound"),
            ("terminal", PROVIDER_ERROR)
        );
        assert_eq!(
            category(404, "ManagedEnvironmentNotFound"),
            ("terminal", PROVIDER_ERROR)
        );
        assert_eq!(
            category(409, "MissingSubscriptionRegistration"),
            ("terminal", PROVIDER_ERROR)
        );
        assert_eq!(
            category(403, "RequestDisallowedByPolicy"),
            ("terminal", PROVIDER_ERROR)
        );
        assert_eq!(
            category(501, "NotImplemented"),
            ("transient", PROVIDER_ERROR)
        );
    }

    #[test]
    fn quotas_are_terminal_and_looked_at_again_later() {
        for code in [
            "MaxNumberOfRegionalEnvironmentsInSubExceeded",
            "QuotaExceeded",
            "ContainerGroupQuotaReached",
            "InsufficientQuota",
        ] {
            for status in [400, 403, 409] {
                match classify("ARM PUT", "/x", &arm(status, code), None) {
                    ProviderError::Terminal {
                        reason,
                        message,
                        recheck,
                    } => {
                        assert_eq!(reason, reasons::PROVIDER_ERROR);
                        assert!(message.contains("quota"), "{message}");
                        assert!(message.contains(code), "{message}");
                        assert_eq!(recheck, Some(ACCOUNT_RECHECK));
                    }
                    other => panic!("{code}: {other:?}"),
                }
            }
        }
        assert_eq!(
            category(429, "TooManyRequestsReceivedExceeded").0,
            "throttled",
            "throttling is not a quota"
        );
    }

    #[test]
    fn throttling_keeps_the_hint() {
        let error = classify(
            "ARM GET",
            "/x",
            &arm(429, "SubscriptionRequestsThrottled"),
            Some(Duration::from_secs(7)),
        );
        assert_eq!(
            error,
            ProviderError::Throttled {
                retry_after: Some(Duration::from_secs(7)),
                message: "ARM GET /x: [ARM 429 SubscriptionRequestsThrottled] m".into()
            }
        );
    }

    #[test]
    fn the_arm_error_is_read_back_from_every_kind_of_error() {
        let original = ArmError {
            status: 400,
            code: "InvalidRequestContent".into(),
            message: "Could not find member 'imagee'. Path 'a.b'.".into(),
            target: Some("properties.template.containers[0].imagee".into()),
        };
        for status in [400, 401, 409, 429, 500, 404] {
            let mut sent = original.clone();
            sent.status = status;
            let error = classify("ARM PUT", "/subscriptions/s/x", &sent, None);
            assert_eq!(arm_error_of(&error), Some(sent), "{error:?}");
        }
        let transient = ProviderError::Transient {
            operation: "x",
            message: "no answer".into(),
        };
        assert_eq!(arm_error_of(&transient), None);
    }

    #[test]
    fn error_bodies_are_read_in_every_shape() {
        let wrapped =
            br#"{"error": {"code": "ResourceNotFound", "message": "gone", "target": "name"}}"#;
        assert_eq!(
            ArmError::from_body(404, wrapped),
            ArmError {
                status: 404,
                code: "ResourceNotFound".into(),
                message: "gone".into(),
                target: Some("name".into()),
            }
        );
        let bare = br#"{"code": "BadRequest", "message": "no"}"#;
        assert_eq!(ArmError::from_body(400, bare).code, "BadRequest");
        let html = b"<html>Bad Gateway</html>";
        let error = ArmError::from_body(502, html);
        assert_eq!(error.code, "Http502");
        assert_eq!(error.message, "<html>Bad Gateway</html>");
    }
}
