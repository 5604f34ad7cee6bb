//! The names of what Ferry makes at Cloud Run, derived from the object's alone, so a reconcile
//! interrupted between "create" and "record" finds what it created: a service's, a job's, and
//! the execution token of a job's run for one spec generation.

use ferry_core::names::{fingerprint, with_hash};

/// Longest Cloud Run service name.
pub const MAX_SERVICE_NAME: usize = 49;

/// Longest Cloud Run job name Ferry makes. Cloud Run allows 63, but names an execution started
/// with a token `JOB-TOKEN` and wants the job name and the token fewer than 63 characters
/// together (the `Job.start_execution_token` proto docs): 40 leaves a token 22.
pub const MAX_JOB_NAME: usize = 40;

/// Longest execution token Ferry makes: with [`MAX_JOB_NAME`], 62 characters together.
pub const MAX_RUN_TOKEN: usize = 22;

/// The Cloud Run service name: `NAMESPACE-NAME-HASH`, at most 49 characters, starting with a
/// letter. Cloud Run names allow only `[a-z0-9-]`, where `a-b/c` and `a/b-c` would collide, so
/// the hash of the full `NAMESPACE/NAME` is always appended.
pub fn service_name(namespace: &str, name: &str) -> String {
    let readable = format!("{namespace}-{name}");
    let readable = if readable.starts_with(|c: char| c.is_ascii_lowercase()) {
        readable
    } else {
        format!("s-{readable}")
    };
    with_hash(&readable, MAX_SERVICE_NAME, namespace, name)
}

/// The Cloud Run job name of a `ServerlessJob`: `NAMESPACE-NAME-HASH`, at most
/// [`MAX_JOB_NAME`] characters, as [`service_name`] makes a service's.
pub fn job_name(namespace: &str, name: &str) -> String {
    let readable = format!("{namespace}-{name}");
    let readable = if readable.starts_with(|c: char| c.is_ascii_lowercase()) {
        readable
    } else {
        format!("j-{readable}")
    };
    with_hash(&readable, MAX_JOB_NAME, namespace, name)
}

/// The execution token of the run for spec generation `generation` of the object with `uid`:
/// `gGENERATION-UIDHASH`. The generation makes one run per generation; the UID's hash keeps an
/// object that adopts an orphaned job (same name, new UID) from taking an earlier object's run
/// of the same generation for its own. A generation too long for [`MAX_RUN_TOKEN`] (beyond
/// twelve digits) gives a token of hashes only, as deterministic.
pub fn run_token(uid: Option<&str>, generation: i64) -> String {
    let uid_hash: String = fingerprint(uid.unwrap_or_default())
        .chars()
        .take(8)
        .collect();
    let token = format!("g{generation}-{uid_hash}");
    if token.len() <= MAX_RUN_TOKEN && generation >= 0 {
        token
    } else {
        // 16 hex digits: as unique as the generation and UID together need.
        format!(
            "h{}",
            fingerprint(&format!("{}/{generation}", uid.unwrap_or_default()))
        )
    }
}

/// The generation a token of [`run_token`] names, when it names one.
pub fn generation_of_token(token: &str) -> Option<i64> {
    let (generation, hash) = token.strip_prefix('g')?.split_once('-')?;
    let digits = !generation.is_empty() && generation.bytes().all(|b| b.is_ascii_digit());
    let hex = hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_hexdigit());
    if digits && hex {
        generation.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_readable_and_stable() {
        assert_eq!(service_name("shop", "hello"), "shop-hello-cd5cea3a");
    }

    #[test]
    fn names_that_would_collide_do_not() {
        assert_ne!(service_name("a-b", "c"), service_name("a", "b-c"));
    }

    #[test]
    fn long_names_are_trimmed_with_the_hash_kept() {
        let name = service_name("payments-production", "checkout-api-with-a-long-name");
        assert!(
            name.len() <= MAX_SERVICE_NAME && name.len() >= MAX_SERVICE_NAME - 1,
            "{name}"
        );
        assert!(
            name.starts_with("payments-production-checkout-api"),
            "{name}"
        );
    }

    #[test]
    fn job_names_leave_room_for_a_token() {
        assert_eq!(job_name("shop", "report"), "shop-report-e7817ca8");
        let long = job_name("payments-production", "a-job-with-a-rather-long-name");
        assert!(
            long.len() <= MAX_JOB_NAME && long.len() >= MAX_JOB_NAME - 1,
            "{long}"
        );
        assert!(long.len() + MAX_RUN_TOKEN < 63);
    }

    #[test]
    fn tokens_name_the_generation_and_the_object() {
        let uid = Some("6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f");
        let token = run_token(uid, 7);
        assert!(token.starts_with("g7-"), "{token}");
        assert_eq!(generation_of_token(&token), Some(7));
        assert_eq!(token, run_token(uid, 7), "the same run, the same token");
        assert_ne!(token, run_token(uid, 8));
        assert_ne!(token, run_token(Some("another-uid"), 7));
        let huge = run_token(uid, i64::MAX);
        assert!(huge.len() <= MAX_RUN_TOKEN, "{huge}");
        assert_eq!(generation_of_token(&huge), None);
        assert_eq!(generation_of_token("abcde"), None);
        assert_eq!(
            generation_of_token(&run_token(uid, 999_999_999_999)),
            Some(999_999_999_999)
        );
    }

    proptest! {
        #[test]
        fn tokens_always_fit_and_name_an_execution(generation in 0i64..i64::MAX) {
            let token = run_token(Some("u"), generation);
            prop_assert!(token.len() <= MAX_RUN_TOKEN);
            prop_assert!(token.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            prop_assert!(!token.ends_with('-'));
        }

        #[test]
        fn job_names_are_always_valid(
            namespace in "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
            name in "[a-z]([-a-z0-9]{0,50}[a-z0-9])?",
        ) {
            let n = job_name(&namespace, &name);
            prop_assert!(n.len() <= MAX_JOB_NAME);
            prop_assert!(n.starts_with(|c: char| c.is_ascii_lowercase()));
            prop_assert!(!n.ends_with('-'));
            prop_assert!(n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        }

        #[test]
        fn names_are_always_valid(
            namespace in "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
            name in "[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
        ) {
            let n = service_name(&namespace, &name);
            prop_assert!(n.len() <= MAX_SERVICE_NAME);
            prop_assert!(n.starts_with(|c: char| c.is_ascii_lowercase()));
            prop_assert!(!n.ends_with('-'));
            prop_assert!(n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            prop_assert_eq!(n.clone(), service_name(&namespace, &name));
        }
    }
}
