//! The container group's name, derived from the object's alone, so a reconcile interrupted
//! between "create" and "record" finds what it created. The algorithm and Ferry's tags are both
//! Azure backends': [`ferry_azure::resource`].

/// Longest container group name.
pub const MAX_GROUP_NAME: usize = 63;

/// The container group name: `NAMESPACE-NAME-HASH`, at most 63 characters of `[a-z0-9-]`,
/// starting with a letter (`g-` first when the namespace does not, so that it is also a valid
/// default DNS label) and without `--` ([`ferry_azure::resource::name`]).
pub fn group_name(namespace: &str, name: &str) -> String {
    ferry_azure::resource::name(namespace, name, 'g', MAX_GROUP_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_container_groups() {
        assert_eq!(group_name("shop", "hello"), "shop-hello-cd5cea3a");
        assert!(group_name("1st--team", "api").starts_with("g-1st-team-api-"));
        let long = group_name(&"n".repeat(63), &"o".repeat(253));
        assert_eq!(long.len(), MAX_GROUP_NAME, "{long}");
    }
}
