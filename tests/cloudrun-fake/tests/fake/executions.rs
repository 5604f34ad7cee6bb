//! Executions of Cloud Run jobs: how their tasks end, cancelling them, listing and deleting.

use cloudrun_fake::CloudRunFake;
use google_cloud_gax::error::rpc::Code;
use google_cloud_longrunning::model::operation::Result as Outcome;
use google_cloud_run_v2::model::condition::{ExecutionReason, State};
use google_cloud_run_v2::model::execution_reference::CompletionStatus;
use google_cloud_run_v2::model::run_job_request::Overrides;
use google_cloud_run_v2::model::run_job_request::overrides::ContainerOverride;
use google_cloud_run_v2::model::{Execution, Job};

use crate::job_support::{
    condition_of, create_job, execution_reason, executions_client, get_execution, get_job, job,
    job_name, jobs_client, message_of, wait,
};

/// Creates `job_id` (waiting until it is ready) and runs it once; answers the RunJob operation
/// and the execution it started.
async fn run(
    fake: &CloudRunFake,
    project: &str,
    job_id: &str,
    spec: Job,
    overrides: Option<Overrides>,
) -> (google_cloud_longrunning::model::Operation, Execution) {
    let jobs = jobs_client(fake).await;
    wait(&jobs, create_job(&jobs, project, job_id, spec).await).await;
    let operation = jobs
        .run_job()
        .set_name(job_name(project, job_id))
        .set_or_clear_overrides(overrides)
        .send()
        .await
        .unwrap();
    let execution = message_of(&operation);
    (operation, execution)
}

#[tokio::test]
async fn executions_start_then_succeed_as_they_are_polled() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "execution-succeeds";
    let executions = executions_client(fake).await;
    let jobs = jobs_client(fake).await;
    let polls = fake.operation_polls();
    assert!(polls >= 1, "the shared fake needs polls to observe phases");

    let (operation, created) = run(fake, project, "hello", job(&["echo hi"], 3, 0), None).await;
    assert!(!operation.done);
    assert!(
        created
            .name
            .starts_with(&format!("{}/executions/hello-", job_name(project, "hello")))
    );
    assert_eq!((created.task_count, created.parallelism), (3, 3));
    assert!(created.reconciling);
    assert_eq!(
        condition_of(&created, "Started").state,
        State::ConditionPending
    );

    let mut execution = created.clone();
    for _ in 0..polls {
        execution = get_execution(&executions, &created.name).await;
    }
    assert_eq!(execution.running_count, 3);
    assert!(execution.start_time.is_some() && execution.completion_time.is_none());
    assert_eq!(
        condition_of(&execution, "Started").state,
        State::ConditionSucceeded
    );
    assert_eq!(
        condition_of(&execution, "ResourcesAvailable").state,
        State::ConditionSucceeded
    );
    assert_eq!(
        condition_of(&execution, "Completed").state,
        State::ConditionReconciling
    );
    assert_eq!(
        get_job(&jobs, project, "hello")
            .await
            .latest_created_execution
            .unwrap()
            .completion_status,
        CompletionStatus::ExecutionRunning
    );

    // That GetJob was an observation of the execution too.
    for _ in 1..polls {
        execution = get_execution(&executions, &created.name).await;
    }
    assert_eq!((execution.succeeded_count, execution.running_count), (3, 0));
    assert!(!execution.reconciling);
    assert!(execution.completion_time.is_some());
    let completed = condition_of(&execution, "Completed");
    assert_eq!(completed.state, State::ConditionSucceeded);
    assert!(
        completed
            .message
            .starts_with("Execution completed successfully"),
        "{}",
        completed.message
    );

    let operation = jobs
        .get_operation()
        .set_name(&operation.name)
        .send()
        .await
        .unwrap();
    assert!(matches!(operation.result, Some(Outcome::Response(_))));
    assert_eq!(message_of::<Execution>(&operation).succeeded_count, 3);
}

#[tokio::test]
async fn exit_1_fails_every_task_after_its_retries() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "execution-exit-1";
    let jobs = jobs_client(fake).await;

    let (operation, _) = run(fake, project, "crash", job(&["exit 1"], 2, 2), None).await;
    let (operation, _) = wait(&jobs, operation).await;

    let Some(Outcome::Error(status)) = &operation.result else {
        panic!("the run should fail: {operation:?}");
    };
    assert_eq!(status.code, 9, "FAILED_PRECONDITION");
    let failed: Execution = message_of(&operation);
    assert_eq!(
        (
            failed.failed_count,
            failed.succeeded_count,
            failed.running_count
        ),
        (2, 0, 0)
    );
    // retriedCount counts the tasks that retried at least once (as the proto documents).
    assert_eq!(failed.retried_count, 2);
    let completed = condition_of(&failed, "Completed");
    assert_eq!(completed.state, State::ConditionFailed);
    assert_eq!(
        execution_reason(completed),
        Some(ExecutionReason::NonZeroExitCode)
    );
    assert!(
        completed
            .message
            .ends_with("has failed to complete, 0/2 tasks were a success."),
        "{}",
        completed.message
    );
    assert_eq!(
        get_job(&jobs, project, "crash")
            .await
            .latest_created_execution
            .unwrap()
            .completion_status,
        CompletionStatus::ExecutionFailed
    );

    // Without retries, no task retried.
    let (operation, _) = run(fake, project, "crash-once", job(&["exit 1"], 2, 0), None).await;
    let (operation, _) = wait(&jobs, operation).await;
    let failed: Execution = message_of(&operation);
    assert_eq!((failed.failed_count, failed.retried_count), (2, 0));
}

#[tokio::test]
async fn overrides_change_what_one_execution_runs() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "execution-overrides";
    let jobs = jobs_client(fake).await;
    let overrides = Overrides::new()
        .set_task_count(4)
        .set_container_overrides([ContainerOverride::new().set_args(["exit 3"])]);

    let (operation, created) = run(
        fake,
        project,
        "fine",
        job(&["echo fine"], 1, 0),
        Some(overrides),
    )
    .await;

    assert_eq!(created.task_count, 4);
    assert_eq!(
        created.template.as_ref().unwrap().containers[0].args,
        ["exit 3"]
    );
    let (operation, _) = wait(&jobs, operation).await;
    assert_eq!(message_of::<Execution>(&operation).failed_count, 4);
    // The job itself is unchanged.
    let job = get_job(&jobs, project, "fine").await;
    assert_eq!(job.template.unwrap().task_count, 1);
}

#[tokio::test]
async fn cancelling_a_sleep_infinity_execution_ends_it_cancelled() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "execution-cancel";
    let executions = executions_client(fake).await;
    let jobs = jobs_client(fake).await;

    let (operation, created) = run(
        fake,
        project,
        "forever",
        job(&["sleep infinity"], 2, 0),
        None,
    )
    .await;
    let mut execution = created.clone();
    for _ in 0..3 * fake.operation_polls() + 2 {
        execution = get_execution(&executions, &created.name).await;
    }
    assert_eq!(execution.running_count, 2, "it runs until cancelled");
    assert!(execution.completion_time.is_none());

    let cancel = executions
        .cancel_execution()
        .set_name(&created.name)
        .send()
        .await
        .unwrap();
    let cancelling: Execution = message_of(&cancel);
    assert_eq!(
        execution_reason(condition_of(&cancelling, "Completed")),
        Some(ExecutionReason::Cancelling)
    );
    let mut cancel = cancel;
    while !cancel.done {
        cancel = executions
            .get_operation()
            .set_name(&cancel.name)
            .send()
            .await
            .unwrap();
    }
    assert!(matches!(cancel.result, Some(Outcome::Response(_))));
    let cancelled: Execution = message_of(&cancel);
    assert_eq!((cancelled.cancelled_count, cancelled.running_count), (2, 0));
    assert!(cancelled.completion_time.is_some());
    let completed = condition_of(&cancelled, "Completed");
    assert_eq!(completed.state, State::ConditionFailed);
    assert_eq!(
        execution_reason(completed),
        Some(ExecutionReason::Cancelled)
    );

    let operation = jobs
        .get_operation()
        .set_name(&operation.name)
        .send()
        .await
        .unwrap();
    assert!(
        matches!(&operation.result, Some(Outcome::Error(status)) if status.code == 1),
        "the run ends CANCELLED: {operation:?}"
    );
    assert_eq!(
        get_job(&jobs, project, "forever")
            .await
            .latest_created_execution
            .unwrap()
            .completion_status,
        CompletionStatus::ExecutionCancelled
    );
    let again = executions
        .cancel_execution()
        .set_name(&created.name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.status().unwrap().code, Code::FailedPrecondition);
}

#[tokio::test]
async fn executions_are_listed_newest_first_in_pages_and_can_be_deleted() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "execution-list";
    let executions = executions_client(fake).await;
    let jobs = jobs_client(fake).await;
    let (_, first) = run(fake, project, "many", job(&["true"], 1, 0), None).await;
    let second: Execution = message_of(
        &jobs
            .run_job()
            .set_name(job_name(project, "many"))
            .send()
            .await
            .unwrap(),
    );

    let page = executions
        .list_executions()
        .set_parent(job_name(project, "many"))
        .set_page_size(1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.executions.iter().map(|e| &e.name).collect::<Vec<_>>(),
        [&second.name]
    );
    let next = executions
        .list_executions()
        .set_parent(job_name(project, "many"))
        .set_page_size(1)
        .set_page_token(page.next_page_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        next.executions.iter().map(|e| &e.name).collect::<Vec<_>>(),
        [&first.name]
    );
    assert!(next.next_page_token.is_empty());

    let deleted = executions
        .delete_execution()
        .set_name(&first.name)
        .send()
        .await
        .unwrap();
    let gone = executions
        .get_execution()
        .set_name(&first.name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.status().unwrap().code, Code::NotFound);
    let mut deleted = deleted;
    while !deleted.done {
        deleted = executions
            .get_operation()
            .set_name(&deleted.name)
            .send()
            .await
            .unwrap();
    }
    assert!(message_of::<Execution>(&deleted).delete_time.is_some());
    let listed = executions
        .list_executions()
        .set_parent(job_name(project, "many"))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.executions.len(), 1);
    assert_eq!(get_job(&jobs, project, "many").await.execution_count, 2);
}
