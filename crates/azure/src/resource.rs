//! What both Azure backends put on and read from the resource of one `ServerlessService`: its
//! name, derived from the object's identity alone (so a reconcile interrupted between "create"
//! and "record" finds what it created), Ferry's tags, who a resource belongs to by those tags,
//! and the fingerprint of the body Ferry sent.
//!
//! ARM tag names may not contain `<>%&\?/`, and ARM compares them without regard to case; a
//! tag value holds at most [`MAX_TAG_VALUE`] characters.

use ferry_core::desired::ObjectRef;
use ferry_core::names::{fingerprint as fnv_fingerprint, with_hash};
use serde_json::{Map, Value};

/// Tag marking resources Ferry manages; kept when an object is orphaned, so a new object of the
/// same name may adopt the resource.
pub const TAG_MANAGED_BY: &str = "managed-by";
/// The value of [`TAG_MANAGED_BY`].
pub const MANAGED_BY_FERRY: &str = "ferry";
/// Tag with the UID of the `ServerlessService` that owns a resource; removed when it is
/// orphaned.
pub const TAG_UID: &str = "ferry-uid";
/// Tag with the owner's `namespace/name`.
pub const TAG_OBJECT: &str = "ferry-object";
/// Tag with the [`fingerprint`] of the body Ferry last sent.
pub const TAG_FINGERPRINT: &str = "ferry-fingerprint";
/// Longest tag value ARM takes.
pub const MAX_TAG_VALUE: usize = 256;

/// The resource name of `namespace/name`: `NAMESPACE-NAME-HASH`, at most `max` characters of
/// lower-case letters, digits and `-`, starting with a letter (`lead` and a `-` go first when the
/// namespace does not start with one), ending with a letter or digit, without `--`. Resource
/// names allow only `[a-z0-9-]`, where `a-b/c` and `a/b-c` would collide, and so would names
/// trimmed to fit, so the hash of the full `NAMESPACE/NAME` is always appended (see
/// [`ferry_core::names::with_hash`]). `lead` is a lower-case letter and `max` leaves room for
/// the hash (at least 10).
pub fn name(namespace: &str, name: &str, lead: char, max: usize) -> String {
    let mut readable = String::with_capacity(namespace.len() + name.len() + 3);
    if !namespace.starts_with(|c: char| c.is_ascii_lowercase()) {
        readable.push(lead);
        readable.push('-');
    }
    for c in format!("{namespace}-{name}").chars() {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && readable.ends_with('-')) {
            readable.push(c);
        }
    }
    with_hash(&readable, max, namespace, name)
}

/// The tags Ferry puts on the resource of `object`, with the fingerprint of what it sends:
/// [`TAG_MANAGED_BY`], [`TAG_OBJECT`], [`TAG_FINGERPRINT`], and [`TAG_UID`] when the object has
/// a UID (an object being released has none). Values are cut to [`MAX_TAG_VALUE`].
pub fn tags(object: &ObjectRef, fingerprint: &str) -> Map<String, Value> {
    let mut tags = Map::new();
    tags.insert(TAG_MANAGED_BY.into(), MANAGED_BY_FERRY.into());
    tags.insert(
        TAG_OBJECT.into(),
        tag_value(&format!("{}/{}", object.namespace, object.name)).into(),
    );
    if let Some(uid) = &object.uid {
        tags.insert(TAG_UID.into(), tag_value(uid).into());
    }
    tags.insert(TAG_FINGERPRINT.into(), fingerprint.into());
    tags
}

/// `text` cut to the longest tag value ARM takes.
pub fn tag_value(text: &str) -> String {
    text.chars().take(MAX_TAG_VALUE).collect()
}

/// The value of tag `name` on a resource ARM describes (or on a body), its name compared
/// without regard to case as ARM does.
pub fn tag<'a>(resource: &'a Value, name: &str) -> Option<&'a str> {
    resource["tags"]
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

/// Who a resource belongs to, by its tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Tagged with the object's UID.
    Ours,
    /// Ferry's, released by an earlier object of the same name (its [`TAG_MANAGED_BY`] tag
    /// without a [`TAG_UID`]): adoptable.
    Released,
    /// Someone else's, or another object's: the name is taken.
    Foreign,
}

/// Whose `resource` is, for the object with `uid`.
pub fn ownership(resource: &Value, uid: Option<&str>) -> Ownership {
    match tag(resource, TAG_UID) {
        Some(tagged) if Some(tagged) == uid => Ownership::Ours,
        None if tag(resource, TAG_MANAGED_BY) == Some(MANAGED_BY_FERRY) => Ownership::Released,
        _ => Ownership::Foreign,
    }
}

/// Whether the tags of `body` Ferry would send, all but [`TAG_FINGERPRINT`], differ from those
/// of `resource`: the resource is adopted from an earlier object of its name, or lost a tag.
pub fn tags_differ(body: &Value, resource: &Value) -> bool {
    body["tags"].as_object().is_some_and(|tags| {
        tags.iter()
            .filter(|(k, _)| k.as_str() != TAG_FINGERPRINT)
            .any(|(k, v)| tag(resource, k) != v.as_str())
    })
}

/// The fingerprint of a body (without its tags): its JSON with sorted keys hashed with
/// [`ferry_core::names::fingerprint`] (FNV-1a 64), stable across releases so that the tag one
/// Ferry version wrote still compares equal in the next.
pub fn fingerprint(mut body: Value) -> String {
    body.sort_all_objects();
    fnv_fingerprint(&body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn names_are_readable_and_stable() {
        assert_eq!(name("shop", "hello", 'g', 63), "shop-hello-cd5cea3a");
        assert_eq!(name("shop", "hello", 'a', 32), "shop-hello-cd5cea3a");
    }

    #[test]
    fn names_that_would_collide_do_not() {
        assert_ne!(name("a-b", "c", 'a', 32), name("a", "b-c", 'a', 32));
    }

    #[test]
    fn long_names_are_trimmed_with_the_hash_kept() {
        let n = name(
            "payments-production",
            "checkout-api-with-a-long-name",
            'a',
            32,
        );
        assert!(n.len() <= 32, "{n}");
        assert!(n.starts_with("payments-production-che"), "{n}");
        let n = name(
            "payments-production-europe-west",
            "checkout-api-with-a-rather-long-name-indeed",
            'g',
            63,
        );
        assert!(n.len() <= 63, "{n}");
        assert!(
            n.starts_with("payments-production-europe-west-checkout"),
            "{n}"
        );
    }

    #[test]
    fn double_dashes_and_leading_digits_are_avoided() {
        let n = name("0-team", "web--api", 'a', 32);
        assert!(n.starts_with("a-0-team-web-api-"), "{n}");
        assert!(!n.contains("--"), "{n}");
        let n = name("1st--team", "api", 'g', 63);
        assert!(n.starts_with("g-1st-team-api-"), "{n}");
    }

    proptest! {
        #[test]
        fn names_are_always_valid(
            namespace in "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
            object in "[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
            max in prop::sample::select(vec![32_usize, 63]),
        ) {
            let n = name(&namespace, &object, 'a', max);
            prop_assert!(n.len() >= 2 && n.len() <= max, "{}", n);
            prop_assert!(n.starts_with(|c: char| c.is_ascii_lowercase()));
            prop_assert!(n.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()));
            prop_assert!(!n.contains("--"), "{}", n);
            prop_assert!(n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            prop_assert_eq!(n.clone(), name(&namespace, &object, 'a', max));
        }
    }

    fn object(uid: Option<&str>) -> ObjectRef {
        ObjectRef {
            namespace: "shop".into(),
            name: "hello".into(),
            uid: uid.map(str::to_owned),
            generation: None,
        }
    }

    #[test]
    fn tags_name_the_object_and_its_uid() {
        assert_eq!(
            Value::Object(tags(&object(Some("u-1")), "f00d")),
            json!({"managed-by": "ferry", "ferry-object": "shop/hello", "ferry-uid": "u-1",
                   "ferry-fingerprint": "f00d"})
        );
        let released = tags(&object(None), "f00d");
        assert!(!released.contains_key(TAG_UID));
    }

    #[test]
    fn tag_values_are_cut_to_what_arm_takes() {
        let mut long = object(Some("u-1"));
        long.name = "n".repeat(300);
        let tags = tags(&long, "f00d");
        let value = tags[TAG_OBJECT].as_str().unwrap();
        assert_eq!(value.chars().count(), MAX_TAG_VALUE);
        assert!(value.starts_with("shop/nnn"));
    }

    #[test]
    fn ownership_is_the_uid_tag_or_a_released_ferry_resource() {
        let ours = json!({"tags": {"managed-by": "ferry", "ferry-uid": "u-1"}});
        assert_eq!(ownership(&ours, Some("u-1")), Ownership::Ours);
        assert_eq!(ownership(&ours, Some("u-2")), Ownership::Foreign);
        assert_eq!(ownership(&ours, None), Ownership::Foreign);
        let released = json!({"tags": {"managed-by": "ferry"}});
        assert_eq!(ownership(&released, Some("u-2")), Ownership::Released);
        let foreign = json!({"tags": {"team": "web"}});
        assert_eq!(ownership(&foreign, Some("u-1")), Ownership::Foreign);
        assert_eq!(ownership(&json!({}), Some("u-1")), Ownership::Foreign);
    }

    #[test]
    fn tag_names_are_compared_without_regard_to_case() {
        let shouted = json!({"tags": {"Managed-By": "ferry", "FERRY-UID": "u-1"}});
        assert_eq!(tag(&shouted, TAG_UID), Some("u-1"));
        assert_eq!(ownership(&shouted, Some("u-1")), Ownership::Ours);
    }

    #[test]
    fn tags_differ_leaves_the_fingerprint_out() {
        let body = json!({"tags": tags(&object(Some("u-1")), "new")});
        let mut have = json!({"tags": tags(&object(Some("u-1")), "old")});
        assert!(!tags_differ(&body, &have));
        have["tags"].as_object_mut().unwrap().remove(TAG_UID);
        assert!(tags_differ(&body, &have));
        assert!(!tags_differ(&json!({}), &have));
    }

    #[test]
    fn fingerprints_ignore_key_order() {
        let a = fingerprint(json!({"b": 1, "a": {"d": 2, "c": 3}}));
        assert_eq!(a, fingerprint(json!({"a": {"c": 3, "d": 2}, "b": 1})));
        assert_eq!(a.len(), 16);
        assert_ne!(a, fingerprint(json!({"b": 2, "a": {"d": 2, "c": 3}})));
    }
}
