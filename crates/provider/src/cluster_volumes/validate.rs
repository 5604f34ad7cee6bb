//! What the API server checks of a pod's volumes that Ferry can check first, for
//! `ferry validate` and a clear finding rather than a refused object.

use ferry_api::SecretRef;
use ferry_core::Findings;
use ferry_core::names::is_dns_subdomain;

/// A secret volume at `path`: the Secret's name is a DNS subdomain, and its key (the one file)
/// a key a Secret can hold.
pub fn secret(f: &mut Findings, path: &str, secret: &SecretRef) {
    if !is_dns_subdomain(&secret.name) {
        f.invalid(
            format!("{path}.name"),
            format!(
                "a pod mounts a Kubernetes Secret, whose name is a DNS subdomain (lower-case \
                 letters, digits, '-' and '.'); got {:?}",
                secret.name
            ),
        );
    }
    if let Some(key) = &secret.key
        && !is_secret_key(key)
    {
        f.invalid(
            format!("{path}.key"),
            format!(
                "a Kubernetes Secret's key is letters, digits, '-', '_' and '.' (not . or ..), \
                 at most 253; got {key:?}"
            ),
        );
    }
}

/// A key of a Secret's `data`, as the API server's `IsConfigMapKey` takes it.
fn is_secret_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && !key.starts_with("..")
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
