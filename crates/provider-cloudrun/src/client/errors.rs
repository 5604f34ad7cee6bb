//! Google API errors in Ferry's terms: what to retry soon, what to back off from (honouring
//! `RetryInfo`), and what needs a person.

use std::time::Duration;

use ferry_api::conditions::reasons;
use ferry_provider::ProviderError;
use google_cloud_gax::error::Error;
use google_cloud_gax::error::rpc::{Code, StatusDetails};

/// How long to wait before looking again at an error that needs someone to change something
/// in the project (an API not enabled, a quota, a missing permission on a resource).
pub(crate) const ACCOUNT_RECHECK: Duration = Duration::from_secs(300);

/// The status code of a service error.
pub(crate) fn code_of(error: &Error) -> Option<Code> {
    error.status().map(|s| s.code)
}

/// The server's `RetryInfo` hint, when it gave one.
fn retry_after(error: &Error) -> Option<Duration> {
    error.status()?.details.iter().find_map(|d| match d {
        StatusDetails::RetryInfo(info) => info
            .retry_delay
            .as_ref()
            .and_then(|d| Duration::try_from(*d).ok()),
        _ => None,
    })
}

/// Sorts an error of `operation`.
pub(crate) fn classify(operation: &'static str, error: &Error) -> ProviderError {
    if error.is_authentication() {
        return ProviderError::Auth(format!(
            "{operation}: Google Cloud credentials could not be used: {error}"
        ));
    }
    let Some(status) = error.status() else {
        // No answer: a timeout, a connection failure, an exhausted retry budget.
        return ProviderError::Transient {
            operation,
            message: error.to_string(),
        };
    };
    classify_status(operation, status.code, &status.message, retry_after(error))
}

/// [`classify`] for a service's answer.
pub(crate) fn classify_status(
    operation: &'static str,
    code: Code,
    message: &str,
    retry_after: Option<Duration>,
) -> ProviderError {
    match code {
        Code::ResourceExhausted => ProviderError::Throttled {
            retry_after,
            message: format!("{operation}: {message}"),
        },
        Code::Unauthenticated | Code::PermissionDenied => {
            ProviderError::Auth(format!("{operation} was refused ({code:?}): {message}"))
        }
        // The request itself, or the project, must change.
        Code::InvalidArgument
        | Code::FailedPrecondition
        | Code::OutOfRange
        | Code::Unimplemented => ProviderError::Terminal {
            reason: reasons::PROVIDER_ERROR,
            message: format!("{operation}: Cloud Run refused the request ({code:?}): {message}"),
            recheck: Some(ACCOUNT_RECHECK),
        },
        // ABORTED (an etag that changed meanwhile), UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED...:
        // looking again soon is the fix.
        _ => ProviderError::Transient {
            operation,
            message: format!("{code:?}: {message}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_say_what_to_do() {
        let category = |code| classify_status("UpdateService", code, "x", None).category();
        assert_eq!(category(Code::ResourceExhausted), "throttled");
        assert_eq!(category(Code::PermissionDenied), "auth");
        assert_eq!(category(Code::Unauthenticated), "auth");
        assert_eq!(category(Code::InvalidArgument), "terminal");
        assert_eq!(category(Code::FailedPrecondition), "terminal");
        assert_eq!(category(Code::Aborted), "transient");
        assert_eq!(category(Code::Unavailable), "transient");
        assert_eq!(category(Code::Internal), "transient");
        match classify_status(
            "CreateService",
            Code::ResourceExhausted,
            "quota",
            Some(Duration::from_secs(2)),
        ) {
            ProviderError::Throttled { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(2)));
            }
            other => panic!("{other:?}"),
        }
    }
}
