//! API errors as the real API server reports them: an HTTP code and a `Status` body whose
//! `reason` kube-rs and controllers branch on (`NotFound`, `AlreadyExists`, `Conflict`,
//! `Invalid`...).

use serde_json::{Value, json};

use crate::registry::ResourceType;

/// The optimistic-lock message (`OptimisticLockErrorMsg` in the apiserver's
/// `registry/generic/registry/store.go`).
pub const OPTIMISTIC_LOCK: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

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

    fn with_details(self, rt: &ResourceType, name: &str) -> Self {
        self.with_resource_details(&rt.group, &rt.plural, name)
    }

    /// `StatusDetails` naming an object: `group` is `omitempty` in Go, so the core group's is
    /// left out.
    fn with_resource_details(mut self, group: &str, resource: &str, name: &str) -> Self {
        let mut details = json!({"name": name, "kind": resource});
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        self.details = Some(details);
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
        Self::conflict_on(&rt.group, &rt.plural, name, why)
    }

    /// 409 `Conflict` for `resource` of `group` (the core group: empty), as apimachinery's
    /// `NewConflict` words it.
    pub fn conflict_on(group: &str, resource: &str, name: &str, why: &str) -> Self {
        let group_resource = if group.is_empty() {
            resource.to_owned()
        } else {
            format!("{resource}.{group}")
        };
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {group_resource} \"{name}\": {why}"),
        )
        .with_resource_details(group, resource, name)
    }

    /// 409 when the object changed since the client read it.
    pub fn stale(rt: &ResourceType, name: &str) -> Self {
        Self::conflict(rt, name, OPTIMISTIC_LOCK)
    }

    /// 409 when the object changed since the client read it, for a resource named by its group
    /// and plural.
    pub fn stale_on(group: &str, resource: &str, name: &str) -> Self {
        Self::conflict_on(group, resource, name, OPTIMISTIC_LOCK)
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

    /// 410: the `resourceVersion` a watch asked for is older than the history kept, in the
    /// watch cache's words (`too old resource version: %d (%d)`, with the requested version and
    /// the one before the oldest event kept: `cacher/watch_cache.go`).
    pub fn expired(requested: u64, oldest_kept_minus_one: u64) -> Self {
        Self::new(
            410,
            "Expired",
            format!("too old resource version: {requested} ({oldest_kept_minus_one})"),
        )
    }

    /// 410 sent to an open watch whose history was compacted under it, in etcd3's watcher's
    /// words (`interpretWatchError` for `ErrCompacted`).
    pub fn watch_compacted() -> Self {
        Self::new(
            410,
            "Expired",
            "The resourceVersion for the provided watch is too old.",
        )
    }

    /// 429 `TooManyRequests` with `details.retryAfterSeconds` (apimachinery's
    /// `NewTooManyRequests`); the answer also carries a `Retry-After` header.
    pub fn too_many_requests(message: impl Into<String>, retry_after_seconds: u32) -> Self {
        let mut e = Self::new(429, "TooManyRequests", message);
        e.details = Some(json!({"retryAfterSeconds": retry_after_seconds}));
        e
    }

    /// 500 `InternalError` (apimachinery's `NewInternalError`): `Internal error occurred: ERR`,
    /// with the error as the one cause.
    pub fn internal(error: &str) -> Self {
        let mut e = Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {error}"),
        );
        e.details = Some(json!({"causes": [{"message": error}]}));
        e
    }

    /// 503 `ServiceUnavailable` (apimachinery's `NewServiceUnavailable`).
    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message)
    }

    /// `details.retryAfterSeconds`, which the real server also sends as a `Retry-After` header
    /// (`responsewriters.ErrorNegotiated`).
    pub fn retry_after_seconds(&self) -> Option<u64> {
        self.details
            .as_ref()
            .and_then(|d| d["retryAfterSeconds"].as_u64())
            .filter(|s| *s > 0)
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
