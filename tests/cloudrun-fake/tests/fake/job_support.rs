//! Cloud Run Jobs, Executions and Cloud Scheduler clients pointed at the fake, and small
//! builders.

use cloudrun_fake::CloudRunFake;
use google_cloud_gax::retry_policy::NeverRetry;
use google_cloud_longrunning::model::Operation;
use google_cloud_longrunning::model::operation::Result as Outcome;
use google_cloud_run_v2::client::{Executions, Jobs};
use google_cloud_run_v2::model::{
    Container, Execution, ExecutionTemplate, Job, TaskTemplate, condition,
};
use google_cloud_scheduler_v1::client::CloudScheduler;
use google_cloud_scheduler_v1::model::{HttpTarget, OAuthToken};

pub(crate) const LOCATION: &str = "europe-west1";

fn anonymous() -> google_cloud_auth::credentials::Credentials {
    google_cloud_auth::credentials::anonymous::Builder::new().build()
}

/// The Google clients need a process-wide rustls crypto provider; the first caller installs
/// ring, later ones find it installed.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A Jobs client that does not retry.
pub(crate) async fn jobs_client(fake: &CloudRunFake) -> Jobs {
    install_crypto_provider();
    Jobs::builder()
        .with_endpoint(fake.endpoint())
        .with_credentials(anonymous())
        .with_retry_policy(NeverRetry)
        .build()
        .await
        .unwrap()
}

/// An Executions client that does not retry.
pub(crate) async fn executions_client(fake: &CloudRunFake) -> Executions {
    install_crypto_provider();
    Executions::builder()
        .with_endpoint(fake.endpoint())
        .with_credentials(anonymous())
        .with_retry_policy(NeverRetry)
        .build()
        .await
        .unwrap()
}

/// A Cloud Scheduler client that does not retry.
pub(crate) async fn scheduler_client(fake: &CloudRunFake) -> CloudScheduler {
    install_crypto_provider();
    CloudScheduler::builder()
        .with_endpoint(fake.endpoint())
        .with_credentials(anonymous())
        .with_retry_policy(NeverRetry)
        .build()
        .await
        .unwrap()
}

pub(crate) fn parent(project: &str) -> String {
    format!("projects/{project}/locations/{LOCATION}")
}

pub(crate) fn job_name(project: &str, job: &str) -> String {
    format!("{}/jobs/{job}", parent(project))
}

pub(crate) fn execution_name(project: &str, job: &str, execution: &str) -> String {
    format!("{}/executions/{execution}", job_name(project, job))
}

/// A job of `task_count` tasks running busybox with `args`, retried `max_retries` times.
pub(crate) fn job(args: &[&str], task_count: i32, max_retries: i32) -> Job {
    Job::new().set_template(
        ExecutionTemplate::new()
            .set_task_count(task_count)
            .set_template(
                TaskTemplate::new()
                    .set_containers([Container::new()
                        .set_image("busybox:1")
                        .set_command(["sh", "-c"])
                        .set_args(args.iter().copied())])
                    .set_max_retries(max_retries),
            ),
    )
}

/// Creates `job_id` in `project` and returns the operation answered.
pub(crate) async fn create_job(client: &Jobs, project: &str, job_id: &str, job: Job) -> Operation {
    client
        .create_job()
        .set_parent(parent(project))
        .set_job_id(job_id)
        .set_job(job)
        .send()
        .await
        .unwrap()
}

/// Polls the operation (GetOperation) until it is done; returns it and how many polls it took.
pub(crate) async fn wait(client: &Jobs, operation: Operation) -> (Operation, usize) {
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

/// The message an operation carries as its response (or, without one, as its metadata).
pub(crate) fn message_of<T: google_cloud_wkt::message::Message>(operation: &Operation) -> T {
    match &operation.result {
        Some(Outcome::Response(any)) => any.to_msg::<T>().unwrap(),
        _ => operation
            .metadata
            .as_ref()
            .expect("an operation with metadata")
            .to_msg::<T>()
            .unwrap(),
    }
}

pub(crate) async fn get_job(client: &Jobs, project: &str, job: &str) -> Job {
    client
        .get_job()
        .set_name(job_name(project, job))
        .send()
        .await
        .unwrap()
}

pub(crate) async fn get_execution(client: &Executions, name: &str) -> Execution {
    client.get_execution().set_name(name).send().await.unwrap()
}

/// The names of a job's executions, newest first.
pub(crate) async fn execution_names(client: &Executions, project: &str, job: &str) -> Vec<String> {
    client
        .list_executions()
        .set_parent(job_name(project, job))
        .send()
        .await
        .unwrap()
        .executions
        .into_iter()
        .map(|execution| execution.name)
        .collect()
}

/// The execution's condition of that type.
pub(crate) fn condition_of<'a>(
    execution: &'a Execution,
    kind: &str,
) -> &'a google_cloud_run_v2::model::Condition {
    execution
        .conditions
        .iter()
        .find(|c| c.r#type == kind)
        .unwrap_or_else(|| panic!("no {kind} condition: {:?}", execution.conditions))
}

/// The execution reason of a condition, if it has one.
pub(crate) fn execution_reason(
    condition: &google_cloud_run_v2::model::Condition,
) -> Option<condition::ExecutionReason> {
    match &condition.reasons {
        Some(condition::Reasons::ExecutionReason(reason)) => Some(reason.clone()),
        _ => None,
    }
}

/// An HTTP target that runs a Cloud Run job through the Cloud Run Admin API v2, authenticated
/// with an OAuth token, as Google documents for scheduling jobs.
pub(crate) fn run_target(project: &str, job: &str) -> HttpTarget {
    HttpTarget::new()
        .set_uri(format!(
            "https://run.googleapis.com/v2/{}:run",
            job_name(project, job)
        ))
        .set_oauth_token(
            OAuthToken::new()
                .set_service_account_email(format!("scheduler@{project}.iam.gserviceaccount.com")),
        )
}
