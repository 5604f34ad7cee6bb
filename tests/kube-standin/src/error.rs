//! API errors as the real API server reports them: an HTTP code and a `Status` body whose
//! `reason` kube-rs and controllers branch on (`NotFound`, `AlreadyExists`, `Conflict`,
//! `Invalid`...).

use serde_json::{Value, json};

use crate::registry::ResourceType;

/// A refused request.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `Status.reason`.
    pub reason: &'static str,
    /// `Status.message`.
    pub message: String,
    /// `Status.details`, when the real server gives them.
    pub details: Option<Value>,
}

/// One cause of an `Invalid` error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`...
    pub reason: &'static str,
    /// The field, e.g. `spec.containers[0].image`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, rt: &ResourceType, name: &str) -> Self {
        self.details = Some(json!({"name": name, "group": rt.group, "kind": rt.plural}));
        self
    }

    /// 404: `serverlessservices.ferry.dev "hello" not found`.
    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", rt.group_resource()),
        )
        .with_details(rt, name)
    }

    /// 404 for a namespace that does not exist.
    pub fn namespace_not_found(namespace: &str) -> Self {
        let mut e = Self::new(
            404,
            "NotFound",
            format!("namespaces \"{namespace}\" not found"),
        );
        e.details = Some(json!({"name": namespace, "kind": "namespaces"}));
        e
    }

    /// 404 for a path that names no resource.
    pub fn no_route(path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    /// 409 on create when the name is taken.
    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", rt.group_resource()),
        )
        .with_details(rt, name)
    }

    /// 409 on a stale `resourceVersion` or a failed precondition.
    pub fn conflict(rt: &ResourceType, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                rt.group_resource()
            ),
        )
        .with_details(rt, name)
    }

    /// 409 when the object changed since the client read it.
    pub fn stale(rt: &ResourceType, name: &str) -> Self {
        Self::conflict(
            rt,
            name,
            "the object has been modified; please apply your changes to the latest version and \
             try again",
        )
    }

    /// 409 for server-side apply conflicts, with one cause per field.
    pub fn apply_conflict(rt: &ResourceType, name: &str, conflicts: &[(String, String)]) -> Self {
        let lines: Vec<String> = conflicts
            .iter()
            .map(|(manager, field)| format!("conflict with \"{manager}\": {field}"))
            .collect();
        let mut e = Self::new(
            409,
            "Conflict",
            format!(
                "Apply failed with {} conflict{}: {}",
                conflicts.len(),
                if conflicts.len() == 1 { "" } else { "s" },
                lines.join("\n")
            ),
        );
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|(manager, field)| {
                json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{manager}\""), "field": field})
            })
            .collect();
        e.details =
            Some(json!({"name": name, "group": rt.group, "kind": rt.plural, "causes": causes}));
        e
    }

    /// 422 with field causes: `ServerlessService.ferry.dev "hello" is invalid: [...]`.
    pub fn invalid(rt: &ResourceType, name: &str, causes: &[Cause]) -> Self {
        let summary: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        let kind = if rt.group.is_empty() {
            rt.kind.clone()
        } else {
            format!("{}.{}", rt.kind, rt.group)
        };
        let message = match summary.as_slice() {
            [one] => format!("{kind} \"{name}\" is invalid: {one}"),
            many => format!("{kind} \"{name}\" is invalid: [{}]", many.join(", ")),
        };
        let causes: Vec<Value> = causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        let mut e = Self::new(422, "Invalid", message);
        e.details =
            Some(json!({"name": name, "group": rt.group, "kind": rt.kind, "causes": causes}));
        e
    }

    /// 500, no `reason` and no details: what the apiserver answers when structured-merge-diff
    /// cannot type an applied configuration. `structuredMergeManager.Apply`
    /// (`k8s.io/apimachinery/pkg/util/managedfields/internal/structuredmerge.go`) wraps the
    /// errors as `failed to create typed patch object (NAMESPACE/NAME; GROUP/VERSION,
    /// Kind=KIND): ...` with the namespace, name, apiVersion and kind the configuration itself
    /// carries; the error is no `Status`, so `responsewriters.ErrorToAPIStatus` makes it a 500
    /// with `StatusReasonUnknown` (`""`). Several errors read `errors:\n  PATH: MESSAGE\n  ...`
    /// (structured-merge-diff's `ValidationErrors.Error`).
    pub fn typed_patch_object(
        rt: &ResourceType,
        config: &Value,
        errors: &[crate::apply::ValidationError],
    ) -> Self {
        let text = |pointer: &str| config.pointer(pointer).and_then(Value::as_str);
        let namespace = text("/metadata/namespace").unwrap_or("");
        let name = text("/metadata/name").unwrap_or("");
        let api_version = text("/apiVersion").map_or_else(|| rt.api_version(), str::to_owned);
        let kind = text("/kind").unwrap_or(&rt.kind);
        // Go's `GroupVersionKind.String()`: `/v1, Kind=Secret` for the core group.
        let (group, version) = api_version
            .split_once('/')
            .unwrap_or(("", api_version.as_str()));
        let detail = match errors {
            [one] => one.to_string(),
            many => std::iter::once("errors:".to_owned())
                .chain(many.iter().map(|e| format!("  {e}")))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        Self::new(
            500,
            "",
            format!(
                "failed to create typed patch object ({namespace}/{name}; {group}/{version}, Kind={kind}): {detail}"
            ),
        )
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// 405.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// 410: the `resourceVersion` a watch asked for is older than the history kept.
    pub fn expired(requested: u64, oldest: u64) -> Self {
        Self::new(
            410,
            "Expired",
            format!("too old resource version: {requested} ({oldest})"),
        )
    }

    /// 415: a patch type the resource does not take.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type})"
            ),
        )
    }

    /// The `Status` body.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "code": self.code,
        });
        if let Some(obj) = status.as_object_mut() {
            // `reason` is `omitempty`: an unknown reason is left out.
            if !self.reason.is_empty() {
                obj.insert("reason".into(), self.reason.into());
            }
            if let Some(details) = &self.details {
                obj.insert("details".into(), details.clone());
            }
        }
        status
    }
}

/// The `Invalid` cause reason for one of the schema checker's messages.
pub fn cause_reason(message: &str) -> &'static str {
    if message.starts_with("Required value") {
        "FieldValueRequired"
    } else if message.starts_with("Unsupported value") {
        "FieldValueNotSupported"
    } else if message.starts_with("Duplicate value") {
        "FieldValueDuplicate"
    } else if message.starts_with("Too many") {
        "FieldValueTooMany"
    } else if message.starts_with("Too long") {
        "FieldValueTooLong"
    } else if message.contains("must be of type") {
        "FieldValueTypeInvalid"
    } else {
        "FieldValueInvalid"
    }
}
