//! Cloud Scheduler jobs, and the Cloud Run executions they start.

use cloudrun_fake::CloudRunFake;
use google_cloud_gax::error::rpc::Code;
use google_cloud_scheduler_v1::client::CloudScheduler;
use google_cloud_scheduler_v1::model::job::State;
use google_cloud_scheduler_v1::model::{HttpMethod, HttpTarget, Job as SchedulerJob, RetryConfig};
use google_cloud_wkt::FieldMask;
use http::{Method, StatusCode};
use serde_json::json;

use crate::job_support::{
    create_job, execution_names, executions_client, job, jobs_client, parent, run_target, wait,
};

const ALT: &str = "%24alt=json%3Benum-encoding%3Dint";

fn scheduler_job_name(project: &str, id: &str) -> String {
    format!("{}/jobs/{id}", parent(project))
}

async fn create_schedule(
    client: &CloudScheduler,
    project: &str,
    id: &str,
    target: HttpTarget,
) -> SchedulerJob {
    client
        .create_job()
        .set_parent(parent(project))
        .set_job(
            SchedulerJob::new()
                .set_name(scheduler_job_name(project, id))
                .set_schedule("30 2 * * *")
                .set_time_zone("Europe/Paris")
                .set_http_target(target),
        )
        .send()
        .await
        .unwrap()
}

/// A Cloud Run job `report` in `project`, ready.
async fn cloud_run_job(fake: &CloudRunFake, project: &str) {
    let jobs = jobs_client(fake).await;
    wait(
        &jobs,
        create_job(&jobs, project, "report", job(&["echo report"], 1, 0)).await,
    )
    .await;
}

#[tokio::test]
async fn scheduler_jobs_are_created_read_updated_listed_and_deleted() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "scheduler-crud";
    let client = crate::job_support::scheduler_client(fake).await;

    let created = create_schedule(&client, project, "nightly", run_target(project, "report")).await;
    assert_eq!(created.name, scheduler_job_name(project, "nightly"));
    assert_eq!(created.state, State::Enabled);
    assert!(created.user_update_time.is_some());
    assert!(created.schedule_time.is_some(), "the next 02:30 in Paris");
    // What Cloud Scheduler fills in on an HTTP target.
    assert_eq!(created.attempt_deadline.map(|d| d.seconds()), Some(180));
    let Some(target) = created.http_target() else {
        panic!("an HTTP target: {created:?}");
    };
    assert_eq!(target.http_method, HttpMethod::Post);
    assert_eq!(
        target.headers.get("User-Agent").map(String::as_str),
        Some("Google-Cloud-Scheduler")
    );

    let again = client
        .create_job()
        .set_parent(parent(project))
        .set_job(created.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.status().unwrap().code, Code::AlreadyExists);

    let updated = client
        .update_job()
        .set_job(
            SchedulerJob::new()
                .set_name(&created.name)
                .set_schedule("*/10 * * * *")
                .set_retry_config(RetryConfig::new().set_retry_count(3)),
        )
        .set_update_mask(FieldMask::default().set_paths(["schedule", "retry_config"]))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.schedule, "*/10 * * * *");
    assert_eq!(updated.retry_config.as_ref().unwrap().retry_count, 3);
    assert_eq!(updated.time_zone, "Europe/Paris", "not in the mask: kept");
    assert_eq!(updated.http_target(), created.http_target());

    let read = client
        .get_job()
        .set_name(&created.name)
        .send()
        .await
        .unwrap();
    assert_eq!(read, updated);
    let listed = client
        .list_jobs()
        .set_parent(parent(project))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.jobs, [updated]);

    client
        .delete_job()
        .set_name(&created.name)
        .send()
        .await
        .unwrap();
    let gone = client
        .get_job()
        .set_name(&created.name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.status().unwrap().code, Code::NotFound);
    assert_eq!(gone.status().unwrap().message, "Job not found.");
}

#[tokio::test]
async fn running_a_scheduler_job_starts_one_execution_of_its_cloud_run_job() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = fake.project("scheduler-runs");
    let client = crate::job_support::scheduler_client(fake).await;
    let executions = executions_client(fake).await;
    cloud_run_job(fake, project.id()).await;
    let schedule = create_schedule(
        &client,
        project.id(),
        "nightly",
        run_target(project.id(), "report"),
    )
    .await;
    assert_eq!(
        execution_names(&executions, project.id(), "report").await,
        Vec::<String>::new()
    );

    let ran = client
        .run_job()
        .set_name(&schedule.name)
        .send()
        .await
        .unwrap();

    assert!(ran.last_attempt_time.is_some());
    assert_eq!(ran.status.as_ref().map(|s| s.code), Some(0), "{ran:?}");
    assert_eq!(
        execution_names(&executions, project.id(), "report")
            .await
            .len(),
        1
    );
    // The schedule's own tick does the same.
    assert!(fake.fire_schedule(&schedule.name).await.unwrap());
    assert_eq!(
        execution_names(&executions, project.id(), "report")
            .await
            .len(),
        2
    );
    // The scheduler's delivery is no call of a client: RunJob is not recorded.
    assert_eq!(project.calls().await.unwrap().get("RunJob"), None);
    assert_eq!(
        project.calls().await.unwrap().get("CloudScheduler.RunJob"),
        Some(&1)
    );
}

#[tokio::test]
async fn a_paused_scheduler_job_does_not_run_until_resumed() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "scheduler-paused";
    let client = crate::job_support::scheduler_client(fake).await;
    let executions = executions_client(fake).await;
    cloud_run_job(fake, project).await;
    let schedule =
        create_schedule(&client, project, "nightly", run_target(project, "report")).await;

    let paused = client
        .pause_job()
        .set_name(&schedule.name)
        .send()
        .await
        .unwrap();
    assert_eq!(paused.state, State::Paused);
    let refused = client
        .run_job()
        .set_name(&schedule.name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.status().unwrap().code, Code::FailedPrecondition);
    assert!(!fake.fire_schedule(&schedule.name).await.unwrap());
    let twice = client
        .pause_job()
        .set_name(&schedule.name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(twice.status().unwrap().code, Code::FailedPrecondition);
    assert_eq!(
        execution_names(&executions, project, "report").await,
        Vec::<String>::new()
    );

    let resumed = client
        .resume_job()
        .set_name(&schedule.name)
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.state, State::Enabled);
    assert!(fake.fire_schedule(&schedule.name).await.unwrap());
    assert_eq!(
        execution_names(&executions, project, "report").await.len(),
        1
    );
}

#[tokio::test]
async fn a_run_the_cloud_run_api_refuses_is_recorded_in_the_scheduler_job_status() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "scheduler-refused";
    let client = crate::job_support::scheduler_client(fake).await;
    let executions = executions_client(fake).await;
    cloud_run_job(fake, project).await;
    let unauthenticated = HttpTarget::new().set_uri(format!(
        "https://run.googleapis.com/v2/{}:run",
        crate::job_support::job_name(project, "report")
    ));
    let cases = [
        ("no-token", unauthenticated, 16),
        ("missing-job", run_target(project, "absent"), 5),
        (
            "bad-body",
            run_target(project, "report").set_body(bytes::Bytes::from_static(b"{\"x\": 1}")),
            3,
        ),
    ];
    for (id, target, code) in cases {
        let schedule = create_schedule(&client, project, id, target).await;
        let ran = client
            .run_job()
            .set_name(&schedule.name)
            .send()
            .await
            .unwrap();
        assert_eq!(
            ran.status.as_ref().map(|s| s.code),
            Some(code),
            "{id}: {ran:?}"
        );
    }
    assert_eq!(
        execution_names(&executions, project, "report").await,
        Vec::<String>::new()
    );

    // The v1 form Google's "Execute jobs on a schedule" page uses runs it too.
    let v1 = run_target(project, "report").set_uri(format!(
        "https://{}-run.googleapis.com/apis/run.googleapis.com/v1/namespaces/{project}/jobs/report:run",
        crate::job_support::LOCATION
    ));
    let schedule = create_schedule(&client, project, "v1", v1).await;
    let ran = client
        .run_job()
        .set_name(&schedule.name)
        .send()
        .await
        .unwrap();
    assert_eq!(ran.status.as_ref().map(|s| s.code), Some(0), "{ran:?}");
    assert_eq!(
        execution_names(&executions, project, "report").await.len(),
        1
    );
}

#[tokio::test]
async fn scheduler_job_bodies_are_checked_against_the_protos() {
    let fake = CloudRunFake::shared().await.unwrap();
    let path = format!("/v1/{}/jobs?{ALT}", parent("scheduler-strict"));
    let target = json!({"uri": "https://example.com/", "httpMethod": "POST"});
    let cases = [
        (
            json!({"schedule": "0 * * * *", "httpTarget": target, "retryConfg": {}}),
            "job.retryConfg",
        ),
        (
            json!({"schedule": "0 * * * *", "httpTarget": {"uri": "https://example.com/", "method": "POST"}}),
            "job.httpTarget.method",
        ),
        (
            json!({"schedule": "0 * * * *", "httpTarget": {"uri": "https://example.com/", "httpMethod": 42}}),
            "job.httpTarget.httpMethod",
        ),
        (
            json!({"schedule": "61 * * * *", "httpTarget": target}),
            "job.schedule",
        ),
        (
            json!({"schedule": "0 * * * *", "timeZone": "Europe/Nowhere", "httpTarget": target}),
            "job.timeZone",
        ),
        (
            json!({"schedule": "0 * * * *", "httpTarget": target, "attemptDeadline": "5s"}),
            "job.attemptDeadline",
        ),
        (
            json!({"schedule": "0 * * * *", "httpTarget": {"uri": "https://example.com/", "httpMethod": "GET", "body": "eA=="}}),
            "job.httpTarget.body",
        ),
        (json!({"schedule": "0 * * * *"}), "job"),
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
    // The :run body must be empty (RunJobRequest has nothing but the name).
    let run = format!(
        "/v1/{}:run?{ALT}",
        scheduler_job_name("scheduler-strict", "x")
    );
    let answer = fake
        .send_raw(Method::POST, &run, Some(&json!({"force": true})))
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
}
