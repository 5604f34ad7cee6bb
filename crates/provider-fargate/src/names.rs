//! The ECS service's name (and its task definition family), derived from the object's alone,
//! so a reconcile interrupted between "create" and "record" finds what it created.

/// Longest ECS service name and task definition family.
pub const MAX_SERVICE_NAME: usize = 255;

/// The ECS service name and task definition family: `NAMESPACE_NAME`. `_` cannot occur in
/// Kubernetes names, so no two objects share one; a namespace and a ServerlessService name are
/// DNS labels of at most 63 characters, so it always fits ECS's 255.
pub fn service_name(namespace: &str, name: &str) -> String {
    format!("{namespace}_{name}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_readable_and_stable() {
        assert_eq!(service_name("shop", "hello"), "shop_hello");
    }

    proptest! {
        #[test]
        fn names_are_always_valid(
            namespace in "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
            name in "[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
        ) {
            let n = service_name(&namespace, &name);
            prop_assert!(n.len() <= MAX_SERVICE_NAME);
            prop_assert!(n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
    }
}
