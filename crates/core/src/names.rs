//! Deterministic external names: the same object always maps to the same provider name, so a
//! reconcile interrupted between "create" and "record" finds what it created.

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

/// A label's name part, or a label value when not empty: at most 63 letters, digits, '-', '_'
/// and '.', beginning and ending with a letter or digit.
fn is_label_name(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
}

/// A Kubernetes label key: a name, with an optional DNS-subdomain prefix and '/'
/// (`app.kubernetes.io/name`, `compute`).
pub fn is_label_key(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => {
            !prefix.is_empty() && is_dns_subdomain(prefix) && is_label_name(name)
        }
        None => is_label_name(s),
    }
}

/// A Kubernetes label value: empty, or a label name.
pub fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_label_name(s)
}

/// `prefix` trimmed so that `prefix-HASH` fits in `max`, where HASH is a stable 32-bit hash
/// of `NAMESPACE/NAME` in hex: the readable part may be cut or ambiguous, the hash keeps the
/// name of each object its own.
pub fn with_hash(prefix: &str, max: usize, namespace: &str, name: &str) -> String {
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

    #[test]
    fn label_keys_and_values_follow_kubernetes() {
        for key in [
            "compute",
            "app.kubernetes.io/name",
            "eks.amazonaws.com/compute-type",
            "A_b.c",
        ] {
            assert!(is_label_key(key), "{key}");
        }
        let long = "a".repeat(64);
        for key in [
            "",
            "-a",
            "a-",
            "/a",
            "a/",
            "Example.com/a",
            "a/b/c",
            "a b",
            long.as_str(),
        ] {
            assert!(!is_label_key(key), "{key}");
        }
        for value in ["", "fargate", "v1.2_3"] {
            assert!(is_label_value(value), "{value}");
        }
        for value in ["-x", "x.", "a b", "a/b", long.as_str()] {
            assert!(!is_label_value(value), "{value}");
        }
    }

    #[test]
    fn fingerprint_is_fnv1a_64() {
        // Reference values of the FNV-1a 64 specification.
        assert_eq!(fingerprint(""), "cbf29ce484222325");
        assert_eq!(fingerprint("a"), "af63dc4c8601ec8c");
        assert_eq!(fingerprint("foobar"), "85944171f73967e8");
    }
}
