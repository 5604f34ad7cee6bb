//! A Cloud Run client pointed at the fake, and small builders.

use std::time::Duration;

use cloudrun_fake::CloudRunFake;
use google_cloud_gax::exponential_backoff::ExponentialBackoffBuilder;
use google_cloud_gax::retry_policy::{Aip194Strict, NeverRetry, RetryPolicyExt};
use google_cloud_longrunning::model::Operation;
use google_cloud_longrunning::model::operation::Result as Outcome;
use google_cloud_run_v2::client::Services;
use google_cloud_run_v2::model::{Container, RevisionTemplate, Service};

pub(crate) const LOCATION: &str = "europe-west1";

/// A client that does not retry: a failure shows at once.
pub(crate) async fn client(fake: &CloudRunFake) -> Services {
    builder(fake)
        .with_retry_policy(NeverRetry)
        .build()
        .await
        .unwrap()
}

/// A client with the library's default retry policy (AIP-194: UNAVAILABLE is retried for
/// idempotent calls), backing off quickly.
pub(crate) async fn retrying_client(fake: &CloudRunFake) -> Services {
    builder(fake)
        .with_retry_policy(Aip194Strict.with_attempt_limit(3))
        .with_backoff_policy(
            ExponentialBackoffBuilder::new()
                .with_initial_delay(Duration::from_millis(10))
                .with_maximum_delay(Duration::from_secs(1))
                .build()
                .unwrap(),
        )
        .build()
        .await
        .unwrap()
}

fn builder(fake: &CloudRunFake) -> google_cloud_run_v2::builder::services::ClientBuilder {
    install_crypto_provider();
    Services::builder()
        .with_endpoint(fake.endpoint())
        .with_credentials(google_cloud_auth::credentials::anonymous::Builder::new().build())
}

/// The Google clients need a process-wide rustls crypto provider (see Cargo.toml); the first
/// caller installs ring, later ones find it installed.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub(crate) fn parent(project: &str) -> String {
    format!("projects/{project}/locations/{LOCATION}")
}

pub(crate) fn name(project: &str, service: &str) -> String {
    format!("{}/services/{service}", parent(project))
}

/// A service running one container with `image`.
pub(crate) fn service(image: &str) -> Service {
    Service::new()
        .set_template(RevisionTemplate::new().set_containers([Container::new().set_image(image)]))
}

/// Creates `service_id` in `project` and returns the operation answered.
pub(crate) async fn create(
    client: &Services,
    project: &str,
    service_id: &str,
    image: &str,
) -> Operation {
    client
        .create_service()
        .set_parent(parent(project))
        .set_service_id(service_id)
        .set_service(service(image))
        .send()
        .await
        .unwrap()
}

/// Polls the operation (GetOperation) until it is done; returns it and how many polls it took.
pub(crate) async fn wait(client: &Services, operation: Operation) -> (Operation, usize) {
    let mut operation = operation;
    let mut polls = 0;
    while !operation.done {
        assert!(
            polls < 10,
            "still not done after {polls} polls: {operation:?}"
        );
        operation = client
            .get_operation()
            .set_name(&operation.name)
            .send()
            .await
            .unwrap();
        polls += 1;
    }
    (operation, polls)
}

/// The Service an operation carries as its response (or, without one, as its metadata).
pub(crate) fn service_of(operation: &Operation) -> Service {
    match &operation.result {
        Some(Outcome::Response(any)) => any.to_msg::<Service>().unwrap(),
        _ => operation
            .metadata
            .as_ref()
            .expect("an operation with metadata")
            .to_msg::<Service>()
            .unwrap(),
    }
}

pub(crate) async fn get(client: &Services, project: &str, service: &str) -> Service {
    client
        .get_service()
        .set_name(name(project, service))
        .send()
        .await
        .unwrap()
}
