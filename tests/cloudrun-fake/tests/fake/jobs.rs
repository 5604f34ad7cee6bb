//! Cloud Run jobs and their execution tokens, as the client sees them.

use std::collections::BTreeMap;

use cloudrun_fake::{CloudRunFake, Fault};
use google_cloud_gax::error::rpc::Code;
use google_cloud_longrunning::model::operation::Result as Outcome;
use google_cloud_run_v2::model::Job;
use google_cloud_run_v2::model::condition::State;
use google_cloud_run_v2::model::execution_reference::CompletionStatus;
use http::{Method, StatusCode};
use serde_json::json;

use crate::job_support::{
    create_job, execution_name, execution_names, executions_client, get_execution, get_job, job,
    job_name, jobs_client, message_of, parent, wait,
};

const ALT: &str = "%24alt=json%3Benum-encoding%3Dint";

#[tokio::test]
async fn creating_a_job_with_a_run_token_starts_one_execution_named_after_it() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "job-run-token";
    let jobs = jobs_client(fake).await;
    let executions = executions_client(fake).await;

    let operation = create_job(
        &jobs,
        project,
        "report",
        job(&["echo done"], 1, 0).set_run_execution_token("t1"),
    )
    .await;
    assert!(!operation.done);
    let pending: Job = message_of(&operation);
    assert!(pending.reconciling);
    assert_eq!(
        pending.terminal_condition.as_ref().unwrap().state,
        State::ConditionPending
    );
    let latest = pending.latest_created_execution.as_ref().unwrap();
    assert_eq!(latest.name, execution_name(project, "report", "report-t1"));
    assert_eq!(latest.completion_status, CompletionStatus::ExecutionPending);

    // A run token makes the job ready once its execution has completed: its tasks start after
    // N observations and finish after N more.
    let (operation, polls) = wait(&jobs, operation).await;
    assert_eq!(polls, 2 * fake.operation_polls());
    assert!(matches!(operation.result, Some(Outcome::Response(_))));
    let ready: Job = message_of(&operation);
    assert_eq!(
        ready.terminal_condition.as_ref().unwrap().state,
        State::ConditionSucceeded
    );
    assert!(!ready.reconciling);
    assert_eq!((ready.generation, ready.observed_generation), (1, 1));
    assert_eq!(ready.execution_count, 1);
    let latest = ready.latest_created_execution.as_ref().unwrap();
    assert_eq!(
        latest.completion_status,
        CompletionStatus::ExecutionSucceeded
    );
    assert!(latest.completion_time.is_some());
    // Defaults Cloud Run fills in.
    let task = ready.template.as_ref().unwrap().template.as_ref().unwrap();
    assert_eq!(task.max_retries(), Some(&0), "an explicit 0 is kept");
    assert_eq!(
        task.timeout.map(|t| t.seconds()),
        Some(600),
        "600 s by default"
    );

    assert_eq!(
        execution_names(&executions, project, "report").await,
        [execution_name(project, "report", "report-t1")]
    );
    let execution =
        get_execution(&executions, &execution_name(project, "report", "report-t1")).await;
    assert_eq!((execution.succeeded_count, execution.task_count), (1, 1));
    assert_eq!(execution.job, "report");
}

#[tokio::test]
async fn a_retried_create_or_update_with_the_same_token_never_starts_a_second_execution() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = fake.project("job-token-retried");
    let jobs = jobs_client(fake).await;
    let executions = executions_client(fake).await;
    let spec = job(&["echo done"], 1, 0).set_run_execution_token("gen-1");

    // The create takes effect, but its answer is lost.
    project
        .fail("CreateJob", Fault::LostResponse, 1)
        .await
        .unwrap();
    let lost = jobs
        .create_job()
        .set_parent(parent(project.id()))
        .set_job_id("nightly")
        .set_job(spec.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(lost.status().unwrap().code, Code::Unavailable);
    let again = jobs
        .create_job()
        .set_parent(parent(project.id()))
        .set_job_id("nightly")
        .set_job(spec.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.status().unwrap().code, Code::AlreadyExists);

    // Updating with the same token (answer lost, then retried) starts nothing new either.
    project
        .fail("UpdateJob", Fault::LostResponse, 1)
        .await
        .unwrap();
    let update = || {
        jobs.update_job()
            .set_job(spec.clone().set_name(job_name(project.id(), "nightly")))
            .send()
    };
    assert_eq!(
        update().await.unwrap_err().status().unwrap().code,
        Code::Unavailable
    );
    let (operation, _) = wait(&jobs, update().await.unwrap()).await;
    let updated: Job = message_of(&operation);
    assert_eq!(updated.generation, 3);
    assert_eq!(updated.execution_count, 1);

    assert_eq!(
        execution_names(&executions, project.id(), "nightly").await,
        [execution_name(project.id(), "nightly", "nightly-gen-1")]
    );
    assert_eq!(
        project.writes().await.unwrap(),
        BTreeMap::from([("CreateJob".to_owned(), 2), ("UpdateJob".to_owned(), 2)])
    );

    // A new token is a new execution.
    let operation = jobs
        .update_job()
        .set_job(
            job(&["echo done"], 1, 0)
                .set_name(job_name(project.id(), "nightly"))
                .set_run_execution_token("gen-2"),
        )
        .send()
        .await
        .unwrap();
    wait(&jobs, operation).await;
    assert_eq!(
        execution_names(&executions, project.id(), "nightly").await,
        [
            execution_name(project.id(), "nightly", "nightly-gen-2"),
            execution_name(project.id(), "nightly", "nightly-gen-1"),
        ]
    );
}

#[tokio::test]
async fn a_start_token_makes_the_job_ready_once_its_execution_runs() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "job-start-token";
    let jobs = jobs_client(fake).await;

    let operation = create_job(
        &jobs,
        project,
        "worker",
        job(&["sleep infinity"], 1, 0).set_start_execution_token("s1"),
    )
    .await;
    let (operation, polls) = wait(&jobs, operation).await;

    assert_eq!(polls, fake.operation_polls());
    let ready: Job = message_of(&operation);
    assert_eq!(
        ready.terminal_condition.as_ref().unwrap().state,
        State::ConditionSucceeded
    );
    assert_eq!(
        ready.latest_created_execution.unwrap().completion_status,
        CompletionStatus::ExecutionRunning
    );
}

#[tokio::test]
async fn a_run_token_whose_execution_fails_fails_the_job() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "job-run-token-fails";
    let jobs = jobs_client(fake).await;

    let operation = create_job(
        &jobs,
        project,
        "broken",
        job(&["exit 4"], 1, 0).set_run_execution_token("t"),
    )
    .await;
    let (operation, _) = wait(&jobs, operation).await;

    let Some(Outcome::Error(status)) = &operation.result else {
        panic!("the operation should fail: {operation:?}");
    };
    assert_eq!(status.code, 9, "FAILED_PRECONDITION");
    let failed = get_job(&jobs, project, "broken").await;
    let ready = failed.terminal_condition.unwrap();
    assert_eq!(ready.state, State::ConditionFailed);
    assert_eq!(ready.message, status.message);
    assert!(
        ready
            .message
            .contains("has failed to complete, 0/1 tasks were a success"),
        "{}",
        ready.message
    );
    assert_eq!(
        failed.observed_generation, 0,
        "no generation ever succeeded"
    );
}

#[tokio::test]
async fn job_name_and_token_must_be_fewer_than_63_characters() {
    let fake = CloudRunFake::shared().await.unwrap();
    let jobs = jobs_client(fake).await;
    let job_id = "a".repeat(31);

    let error = jobs
        .create_job()
        .set_parent(parent("job-token-length"))
        .set_job_id(&job_id)
        .set_job(job(&["true"], 1, 0).set_run_execution_token("t".repeat(32)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.status().unwrap().code, Code::InvalidArgument);
    assert!(
        error.status().unwrap().message.contains("fewer than 63"),
        "{error}"
    );

    let operation = jobs
        .create_job()
        .set_parent(parent("job-token-length"))
        .set_job_id(&job_id)
        .set_job(job(&["true"], 1, 0).set_run_execution_token("t".repeat(31)))
        .send()
        .await
        .unwrap();
    assert!(!operation.name.is_empty());
}

#[tokio::test]
async fn job_updates_need_the_current_etag_and_deleting_a_job_deletes_its_executions() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "job-etag-delete";
    let jobs = jobs_client(fake).await;
    let executions = executions_client(fake).await;
    wait(
        &jobs,
        create_job(&jobs, project, "batch", job(&["true"], 1, 0)).await,
    )
    .await;
    let current = get_job(&jobs, project, "batch").await;

    let stale = jobs
        .update_job()
        .set_job(current.clone().set_etag("\"stale\""))
        .send()
        .await
        .unwrap_err();
    assert_eq!(stale.status().unwrap().code, Code::Aborted);
    let missing = jobs
        .update_job()
        .set_job(job(&["true"], 1, 0).set_name(job_name(project, "other")))
        .send()
        .await
        .unwrap_err();
    assert_eq!(missing.status().unwrap().code, Code::NotFound);

    let run = jobs
        .run_job()
        .set_name(job_name(project, "batch"))
        .send()
        .await
        .unwrap();
    let execution: google_cloud_run_v2::model::Execution = message_of(&run);
    let deleted = jobs
        .delete_job()
        .set_name(job_name(project, "batch"))
        .set_etag(get_job(&jobs, project, "batch").await.etag)
        .send()
        .await
        .unwrap();
    let (deleted, _) = wait(&jobs, deleted).await;
    assert!(message_of::<Job>(&deleted).delete_time.is_some());

    let gone = executions
        .get_execution()
        .set_name(&execution.name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.status().unwrap().code, Code::NotFound);
    let run = jobs
        .get_operation()
        .set_name(&run.name)
        .send()
        .await
        .unwrap();
    assert!(
        matches!(&run.result, Some(Outcome::Error(status)) if status.code == 10),
        "the run ends ABORTED: {run:?}"
    );
}

#[tokio::test]
async fn job_bodies_are_checked_against_the_protos() {
    let fake = CloudRunFake::shared().await.unwrap();
    let path = format!("/v2/{}/jobs?jobId=raw&{ALT}", parent("job-strict"));
    let cases = [
        (
            json!({"template": {"template": {"containers": [{"image": "x"}], "maxRetriess": 1}}}),
            "job.template.template.maxRetriess",
        ),
        // A service's field is no job's.
        (
            json!({"template": {"template": {"containers": [{"image": "x"}]}}, "traffic": []}),
            "job.traffic",
        ),
        (
            json!({"template": {"taskCount": "many", "template": {"containers": [{"image": "x"}]}}}),
            "job.template.taskCount",
        ),
        (
            json!({"template": {"template": {"containers": [{"image": "x"}]}}, "runExecutionToken": "Bad_Token"}),
            "job.runExecutionToken",
        ),
        (
            json!({"template": {"template": {}}}),
            "job.template.template.containers",
        ),
    ];
    for (body, field) in cases {
        let answer = fake
            .send_raw(Method::POST, &path, Some(&body))
            .await
            .unwrap();
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}: {answer:?}");
        let violation = &answer.body["error"]["details"][0]["fieldViolations"][0];
        assert_eq!(violation["field"], field, "{body}: {answer:?}");
    }

    // RunJob's body is the whole request: no query parameter binds.
    let run = format!("/v2/{}:run?etag=x&{ALT}", job_name("job-strict", "raw"));
    let answer = fake
        .send_raw(Method::POST, &run, Some(&json!({})))
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
    let run = format!("/v2/{}:run?{ALT}", job_name("job-strict", "raw"));
    let answer = fake
        .send_raw(
            Method::POST,
            &run,
            Some(&json!({"overrides": {"taskCount": 2, "args": ["x"]}})),
        )
        .await
        .unwrap();
    assert_eq!(
        answer.body["error"]["details"][0]["fieldViolations"][0]["field"], "overrides.args",
        "{answer:?}"
    );
}
