//! What the backends that make objects in Ferry's own cluster (Knative, plain Kubernetes) share
//! at the edge: which objects are Ferry's to manage, how the API server's errors map to
//! Ferry's, and the patch that lets go of an object on `deletionPolicy: Orphan`.

use std::time::Duration;

use ferry_api::conditions::reasons;
use ferry_core::desired::ObjectRef;
use kube::ResourceExt;
use kube::api::DynamicObject;
use serde_json::{Value, json};

use crate::ProviderError;

/// Label on everything Ferry creates in the cluster.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "ferry");
/// The field manager Ferry applies with.
pub const FIELD_MANAGER: &str = "ferry";

/// Whether Ferry may manage `live` for `object`: owned by it, or labelled as Ferry's and owned
/// by nothing (left behind by an earlier object of the same name, or released).
pub fn is_ours(live: &DynamicObject, object: &ObjectRef) -> bool {
    let owners = live.owner_references();
    let owned_by_us = object
        .uid
        .as_deref()
        .is_some_and(|uid| owners.iter().any(|o| o.uid == uid));
    let labelled = live.labels().get(MANAGED_BY.0).map(String::as_str) == Some(MANAGED_BY.1);
    owned_by_us || (labelled && !owners.iter().any(|o| o.controller == Some(true)))
}

/// `live` as JSON, as the pure builders read it.
pub fn to_value(live: &DynamicObject) -> Result<Value, ProviderError> {
    serde_json::to_value(live).map_err(|e| ProviderError::Transient {
        operation: "observe",
        message: e.to_string(),
    })
}

/// Whether an error is the 404 of a resource the server does not serve (no object name in its
/// details), rather than of a missing object.
pub fn is_unserved(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status)
        if status.code == 404 && status.details.as_ref().is_none_or(|d| d.name.is_empty()))
}

/// What an API error says about one kind of object, for [`classify`].
pub struct Subject<'a> {
    /// The object, with its article: `a Knative Service`, `a Deployment`.
    pub what: &'a str,
    /// The resource to grant access to: `services.serving.knative.dev`.
    pub resource: &'a str,
    /// Who refuses an object it cannot take: `Knative refused the Service`.
    pub refused: &'a str,
}

/// Sorts an API error into what the controller should do about it: throttled with the
/// server's hint, refused access, a spec the server cannot take (terminal until it changes),
/// or something to retry.
pub fn classify(
    operation: &'static str,
    subject: &Subject<'_>,
    error: kube::Error,
) -> ProviderError {
    match error {
        kube::Error::Api(status) => match status.code {
            429 => ProviderError::Throttled {
                retry_after: status
                    .details
                    .as_ref()
                    .map(|d| d.retry_after_seconds)
                    .filter(|s| *s > 0)
                    .map(|s| Duration::from_secs(u64::from(s))),
                message: status.message,
            },
            401 | 403 => ProviderError::Auth(format!(
                "{operation} of {} was refused ({}): grant Ferry's service account access to {} \
                 (the chart does)",
                subject.what, status.message, subject.resource
            )),
            400 | 422 => ProviderError::Terminal {
                reason: reasons::UNSUPPORTED,
                message: format!("{}: {}", subject.refused, status.message),
                recheck: None,
            },
            _ => ProviderError::Transient {
                operation,
                message: status.message,
            },
        },
        other => ProviderError::Transient {
            operation,
            message: other.to_string(),
        },
    }
}

/// The merge patch that removes `uid`'s owner reference from `live`, keeping any other; `None`
/// when `uid` does not own it. Its resourceVersion makes it a compare-and-swap: a concurrent
/// change fails it and the next reconcile tries again.
pub fn release_patch(live: &DynamicObject, uid: &str) -> Option<Value> {
    let owners = live.owner_references();
    if !owners.iter().any(|o| o.uid == uid) {
        return None;
    }
    let kept: Vec<Value> = owners
        .iter()
        .filter(|o| o.uid != uid)
        .filter_map(|o| serde_json::to_value(o).ok())
        .collect();
    Some(json!({
        "metadata": {
            "resourceVersion": live.resource_version(),
            "ownerReferences": if kept.is_empty() { Value::Null } else { Value::Array(kept) },
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(labels: &Value, owners: &Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "hello", "namespace": "shop", "labels": labels,
                         "ownerReferences": owners, "resourceVersion": "7"},
        }))
        .unwrap()
    }

    fn owner(uid: &str, controller: bool) -> Value {
        json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "ServerlessService", "name": "hello", "uid": uid, "controller": controller})
    }

    #[test]
    fn ferry_manages_only_objects_it_owns_or_left_unowned() {
        let object = ObjectRef {
            namespace: "shop".into(),
            name: "hello".into(),
            uid: Some("u-1".into()),
            generation: Some(1),
        };
        let ours = json!({MANAGED_BY.0: MANAGED_BY.1});
        let cases = [
            (json!({}), json!([owner("u-1", true)]), true),
            (ours.clone(), json!([owner("u-1", true)]), true),
            // Released by an earlier object of the same name (deletionPolicy: Orphan).
            (ours.clone(), json!([]), true),
            // Ferry's label, but another controller owns it now.
            (ours.clone(), json!([owner("u-2", true)]), false),
            (ours, json!([owner("u-2", false)]), true),
            (json!({"team": "web"}), json!([]), false),
            (json!({}), json!([owner("u-2", true)]), false),
        ];
        for (labels, owners, expected) in cases {
            assert_eq!(
                is_ours(&live(&labels, &owners), &object),
                expected,
                "{labels} {owners}"
            );
        }
    }

    #[test]
    fn releasing_removes_only_ferrys_reference_under_the_read_version() {
        let both = live(
            &json!({}),
            &json!([owner("u-1", true), owner("u-2", false)]),
        );
        let patch = release_patch(&both, "u-1").unwrap();
        assert_eq!(patch["metadata"]["resourceVersion"], "7");
        assert_eq!(patch["metadata"]["ownerReferences"][0]["uid"], "u-2");
        assert_eq!(
            patch["metadata"]["ownerReferences"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let only = live(&json!({}), &json!([owner("u-1", true)]));
        assert_eq!(
            release_patch(&only, "u-1").unwrap()["metadata"]["ownerReferences"],
            Value::Null
        );
        assert_eq!(release_patch(&only, "u-3"), None);
    }
}
