//! Deterministic external names: the same object always maps to the same provider name, so a
//! reconcile interrupted between "create" and "record" finds what it created.

/// Longest Cloud Run service name.
pub const CLOUD_RUN_MAX: usize = 49;
/// Longest ECS service name and task definition family.
pub const ECS_MAX: usize = 255;

/// A DNS-1123 label: lower-case letters, digits and '-', at most 63, not starting or ending
/// with '-' (container names, namespaces, tags).
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A DNS-1035 label: a DNS-1123 label that starts with a letter (what Knative and Cloud Run
/// accept as a service name).
pub fn is_dns1035_label(s: &str) -> bool {
    is_dns_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 (Kubernetes object names).
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// The Knative Service's name: the ServerlessService's own (same namespace).
pub fn knative_service(name: &str) -> String {
    name.to_owned()
}

/// The ECS service name and task definition family: `NAMESPACE_NAME`. `_` cannot occur in
/// Kubernetes names, so no two objects share one; a namespace and a ServerlessService name are
/// DNS labels of at most 63 characters, so it always fits ECS's 255.
pub fn ecs_service(namespace: &str, name: &str) -> String {
    format!("{namespace}_{name}")
}

/// The Cloud Run service name: `NAMESPACE-NAME-HASH`, at most 49 characters, starting with a
/// letter. Cloud Run names allow only `[a-z0-9-]`, where `a-b/c` and `a/b-c` would collide, so
/// the hash of the full `NAMESPACE/NAME` is always appended.
pub fn cloud_run_service(namespace: &str, name: &str) -> String {
    let readable = format!("{namespace}-{name}");
    let readable = if readable.starts_with(|c: char| c.is_ascii_lowercase()) {
        readable
    } else {
        format!("s-{readable}")
    };
    with_hash(&readable, CLOUD_RUN_MAX, namespace, name)
}

/// `prefix` trimmed so that `prefix-HASH` fits in `max`.
fn with_hash(prefix: &str, max: usize, namespace: &str, name: &str) -> String {
    let hash = format!("{:08x}", short_hash(&format!("{namespace}/{name}")));
    let room = max - hash.len() - 1;
    let trimmed = prefix
        .char_indices()
        .take_while(|(i, c)| i + c.len_utf8() <= room)
        .map(|(_, c)| c)
        .collect::<String>();
    format!("{}-{hash}", trimmed.trim_end_matches(['-', '_']))
}

/// 32-bit FNV-1a: stable across releases and platforms, which a name needs (std's hasher is
/// not).
fn short_hash(text: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in text.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// A 64-bit FNV-1a fingerprint of `text` as 16 hex digits: stable across releases and
/// platforms, so a fingerprint written on an object by one Ferry version still compares equal
/// in the next.
pub fn fingerprint(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fingerprint_is_fnv1a_64() {
        // Reference values of the FNV-1a 64 specification.
        assert_eq!(fingerprint(""), "cbf29ce484222325");
        assert_eq!(fingerprint("a"), "af63dc4c8601ec8c");
        assert_eq!(fingerprint("foobar"), "85944171f73967e8");
    }

    #[test]
    fn names_are_readable_and_stable() {
        assert_eq!(ecs_service("shop", "hello"), "shop_hello");
        assert_eq!(cloud_run_service("shop", "hello"), "shop-hello-cd5cea3a");
        assert_eq!(knative_service("hello"), "hello");
    }

    #[test]
    fn cloud_run_names_that_would_collide_do_not() {
        assert_ne!(cloud_run_service("a-b", "c"), cloud_run_service("a", "b-c"));
    }

    #[test]
    fn long_cloud_run_names_are_trimmed_with_the_hash_kept() {
        let name = cloud_run_service("payments-production", "checkout-api-with-a-long-name");
        assert!(
            name.len() <= CLOUD_RUN_MAX && name.len() >= CLOUD_RUN_MAX - 1,
            "{name}"
        );
        assert!(
            name.starts_with("payments-production-checkout-api"),
            "{name}"
        );
    }

    proptest! {
        #[test]
        fn cloud_run_names_are_always_valid(
            namespace in "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
            name in "[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
        ) {
            let n = cloud_run_service(&namespace, &name);
            prop_assert!(n.len() <= CLOUD_RUN_MAX);
            prop_assert!(n.starts_with(|c: char| c.is_ascii_lowercase()));
            prop_assert!(!n.ends_with('-'));
            prop_assert!(n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            prop_assert_eq!(n.clone(), cloud_run_service(&namespace, &name));
        }

        #[test]
        fn ecs_names_are_always_valid(
            namespace in "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
            name in "[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
        ) {
            let n = ecs_service(&namespace, &name);
            prop_assert!(n.len() <= ECS_MAX);
            prop_assert!(n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
    }
}
