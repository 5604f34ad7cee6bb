//! The tags on everything Ferry makes in AWS: whose it is (the object's UID, namespace and
//! name, and that Ferry manages it) and the fingerprint of the request it was built from,
//! which is what change detection compares.

use ferry_core::desired::Desired;
use ferry_core::names;
use serde::Serialize;

/// Tag with the UID of the `ServerlessService` that owns a resource.
pub const TAG_UID: &str = "ferry.dev/uid";
/// Tag marking resources Ferry manages; kept when an object is orphaned so a new object of the
/// same name may adopt it.
pub const TAG_MANAGED_BY: &str = "ferry.dev/managed-by";
/// Tag with the fingerprint of the request a resource was created or last updated from.
pub const TAG_FINGERPRINT: &str = "ferry.dev/fingerprint";
const TAG_NAMESPACE: &str = "ferry.dev/namespace";
const TAG_NAME: &str = "ferry.dev/name";

/// An ECS or Application Auto Scaling tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

pub(crate) fn base_tags(want: &Desired) -> Vec<Tag> {
    let tag = |key: &str, value: &str| Tag {
        key: key.to_owned(),
        value: value.to_owned(),
    };
    let mut tags = vec![
        tag(TAG_MANAGED_BY, "ferry"),
        tag(TAG_NAMESPACE, &want.object.namespace),
        tag(TAG_NAME, &want.object.name),
    ];
    if let Some(uid) = &want.object.uid {
        tags.push(tag(TAG_UID, uid));
    }
    tags
}

pub(crate) fn with_fingerprint(base: &[Tag], fingerprint: &str) -> Vec<Tag> {
    let mut tags = base.to_vec();
    tags.push(Tag {
        key: TAG_FINGERPRINT.into(),
        value: fingerprint.to_owned(),
    });
    tags
}

/// The fingerprint of a request built without tags: the tags carry it, and the UID is not
/// part of what the resource does.
pub(crate) fn fingerprint_of<T: Serialize>(request: &T) -> String {
    names::fingerprint(&serde_json::to_string(request).unwrap_or_default())
}
