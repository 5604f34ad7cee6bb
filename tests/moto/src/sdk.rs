//! SDK configuration for talking to moto (or to a [`crate::Proxy`] in front of it).

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::config::Credentials;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// The configuration every AWS client of a test needs to reach `endpoint`: region
/// `us-east-1`, static test credentials (moto checks no signature), the rustls-with-ring HTTP
/// client the workspace uses instead of the SDK's default, and retries off, since moto's own
/// 500s are HTML that would cost seconds of retries and read as "malformed JSON".
///
/// A test that wants retries (against injected faults) sets them on a copy:
/// `sdk_config(e).await.to_builder().retry_config(...).build()`.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "moto-standin"))
        .http_client(http_client)
        .retry_config(RetryConfig::disabled())
        .load()
        .await
}
