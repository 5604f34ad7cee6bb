//! The container app's (and the Container Apps job's) name, derived from the object's identity
//! alone, so a reconcile interrupted between "create" and "record" finds what it created. The
//! algorithm and Ferry's tags are both Azure backends': [`ferry_azure::resource`].

use crate::limits::MAX_APP_NAME;

/// The container app name: `NAMESPACE-NAME-HASH`, 2 to 32 characters of lower-case letters,
/// digits and `-`, starting with a letter (`a-` first when the namespace does not), ending with
/// a letter or digit, without `--` ([`ferry_azure::resource::name`]).
pub fn app_name(namespace: &str, name: &str) -> String {
    ferry_azure::resource::name(namespace, name, 'a', MAX_APP_NAME)
}

/// The Container Apps job name of the ServerlessJob `namespace/name`: the app name's algorithm
/// ([`app_name`]), which Microsoft.App's job names share (a job is a resource of another type,
/// so a service and a job of the same name do not collide in ARM).
pub fn job_name(namespace: &str, name: &str) -> String {
    ferry_azure::resource::name(namespace, name, 'a', MAX_APP_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MIN_APP_NAME;

    #[test]
    fn names_fit_container_apps() {
        let name = app_name("0-team", "web--api");
        assert!(name.starts_with("a-0-team-web-api-"), "{name}");
        let name = app_name("payments-production", "checkout-api-with-a-long-name");
        assert_eq!(name.len(), MAX_APP_NAME, "{name}");
        assert!(app_name("a", "b").len() >= MIN_APP_NAME);
    }
}
