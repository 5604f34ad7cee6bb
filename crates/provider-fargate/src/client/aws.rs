//! The AWS SDK's configuration for one ProviderConfig (region, endpoint, credentials, retries,
//! timeouts) and the classification of its errors.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{Region, SdkConfig};
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls;
use ferry_api::conditions::reasons;
use ferry_api::{CredentialsSource, FargateProviderConfig};
use ferry_provider::ProviderError;

/// Retries and timeouts of every AWS call.
#[derive(Clone, Debug)]
pub struct CallSettings {
    /// Attempts per call, the first included (throttling, 5xx and timeouts are retried).
    pub attempts: u32,
    /// The first retry's delay; later ones grow exponentially, with jitter.
    pub initial_backoff: Duration,
    /// How long one attempt may take.
    pub attempt_timeout: Duration,
    /// How long a call may take, retries included.
    pub operation_timeout: Duration,
}

impl Default for CallSettings {
    fn default() -> Self {
        Self {
            attempts: 3,
            initial_backoff: Duration::from_secs(1),
            attempt_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(30),
        }
    }
}

/// Credentials the SDK should use, as the ProviderConfig names them.
pub(crate) enum Credentials {
    /// The default chain: environment, IRSA web identity, EKS Pod Identity, instance profile.
    DefaultChain,
    /// An AWS shared credentials file read from a Secret.
    SharedFile(String),
    /// None at all (emulators and tests; the schema allows it only with an endpoint).
    Anonymous,
}

impl Credentials {
    pub(crate) fn source(config: &FargateProviderConfig) -> CredentialsSource {
        config
            .credentials
            .as_ref()
            .map_or(CredentialsSource::InjectedIdentity, |c| c.source)
    }
}

/// The SDK configuration for `config`. Only the default chain does I/O here (it reads the
/// environment); credentials are fetched lazily on the first call.
pub(crate) async fn sdk_config(
    config: &FargateProviderConfig,
    credentials: Credentials,
    calls: &CallSettings,
) -> SdkConfig {
    // rustls on ring, as kube uses, so the operator carries one TLS stack.
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(config.region.clone()))
        .http_client(http.clone())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(calls.attempts.max(1))
                .with_initial_backoff(calls.initial_backoff),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(calls.attempt_timeout)
                .operation_timeout(calls.operation_timeout)
                .build(),
        );
    if let Some(endpoint) = &config.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader = match credentials {
        Credentials::DefaultChain => loader,
        Credentials::Anonymous => loader.no_credentials(),
        Credentials::SharedFile(contents) => {
            // The default profile of the file; aws-config parses it as the CLI would.
            let files = EnvConfigFiles::builder()
                .with_contents(EnvConfigFileKind::Credentials, contents)
                .build();
            // The profile provider can reach instance metadata (credential_source), so it
            // needs the same HTTP client as the SDK.
            let provider_config = ProviderConfig::without_region()
                .with_region(Some(Region::new(config.region.clone())))
                .with_http_client(http);
            loader.credentials_provider(
                ProfileFileCredentialsProvider::builder()
                    .configure(&provider_config)
                    .profile_files(files)
                    .profile_name("default")
                    .build(),
            )
        }
    };
    loader.load().await
}

/// Error codes that mean the credentials were refused or are missing.
const AUTH_CODES: &[&str] = &[
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
];

const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RateExceeded",
];

/// How long to wait before looking again at an error that needs someone to change something
/// in AWS (a role, a subnet, a cluster) rather than in the spec.
pub(crate) const ACCOUNT_RECHECK: Duration = Duration::from_secs(300);

/// Sorts an SDK error into what the controller should do about it. The SDK has already
/// retried what is worth retrying at once; what reaches here backs off per object.
pub(crate) fn classify<E>(operation: &'static str, error: &SdkError<E>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let text = DisplayErrorContext(error).to_string();
    match error {
        SdkError::ServiceError(context) => {
            let service_error = context.err();
            let code = service_error.code().unwrap_or_default();
            let message = service_error.message().unwrap_or(&text).to_owned();
            classify_code(operation, code, &message)
        }
        // No response: a timeout, a connection failure, or credentials the SDK could not load.
        _ if mentions_credentials(&text) => ProviderError::Auth(format!(
            "{operation}: AWS credentials could not be loaded: {text}"
        )),
        _ => ProviderError::Transient {
            operation,
            message: text,
        },
    }
}

fn mentions_credentials(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    text.contains("credential") || text.contains("identity")
}

/// [`classify`] for a service's answer, by its error code.
pub(crate) fn classify_code(operation: &'static str, code: &str, message: &str) -> ProviderError {
    if THROTTLING_CODES.contains(&code) {
        return ProviderError::Throttled {
            retry_after: None,
            message: format!("{operation}: {message}"),
        };
    }
    if AUTH_CODES.contains(&code) {
        return ProviderError::Auth(format!("{operation} was refused ({code}): {message}"));
    }
    match code {
        // Something in the account is missing or refuses the request (a cluster, a subnet, a
        // role ECS may not pass): the spec, the ProviderConfig or the account must change.
        "ClientException"
        | "InvalidParameterException"
        | "ClusterNotFoundException"
        | "ClusterNotActiveException"
        | "PlatformUnknownException"
        | "PlatformTaskDefinitionIncompatibilityException"
        | "UnsupportedFeatureException"
        | "ValidationException"
        | "LimitExceededException"
        | "ObjectNotFoundException" => ProviderError::Terminal {
            reason: reasons::PROVIDER_ERROR,
            message: format!("{operation}: AWS refused the request ({code}): {message}"),
            recheck: Some(ACCOUNT_RECHECK),
        },
        _ => ProviderError::Transient {
            operation,
            message: if code.is_empty() {
                message.to_owned()
            } else {
                format!("{code}: {message}")
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_say_what_to_do() {
        let category = |code: &str| classify_code("CreateService", code, "x").category();
        assert_eq!(category("ThrottlingException"), "throttled");
        assert_eq!(category("AccessDeniedException"), "auth");
        assert_eq!(category("ExpiredTokenException"), "auth");
        assert_eq!(category("InvalidParameterException"), "terminal");
        assert_eq!(category("ClusterNotFoundException"), "terminal");
        assert_eq!(category("ServerException"), "transient");
        assert_eq!(category(""), "transient");
        match classify_code("CreateService", "ClusterNotFoundException", "no cluster") {
            ProviderError::Terminal {
                recheck, message, ..
            } => {
                assert_eq!(recheck, Some(ACCOUNT_RECHECK));
                assert!(message.contains("no cluster"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}
