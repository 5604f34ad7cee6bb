//! Container Apps jobs: their long-running operations, executions that run to the outcome their
//! command decides, stops, scheduled runs, what a job body may not hold, and deletes.

use azure_fake::{AzureFake, Fault, Subscription};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ENVIRONMENT, GROUP, assert_fits, fake, get, put, refusal, send, wait};

const API: &str = "?api-version=2026-01-01";

/// A job of one container `main` running `command`, with the env var Ferry finds its runs by.
fn job(trigger: &str, command: &[&str], retry_limit: i64) -> Value {
    let mut configuration = json!({
        "triggerType": trigger,
        "replicaTimeout": 1800,
        "replicaRetryLimit": retry_limit,
    });
    if trigger == "Schedule" {
        configuration["scheduleTriggerConfig"] = json!({"cronExpression": "*/5 * * * *"});
    }
    json!({
        "location": "westeurope",
        "tags": {"owner": "ferry"},
        "properties": {
            "environmentId": ENVIRONMENT,
            "configuration": configuration,
            "template": {"containers": [{
                "name": "main",
                "image": "busybox:1",
                "command": command,
                "env": [{"name": "FERRY_RUN", "value": "from-job"}],
            }]},
        },
    })
}

/// Creates the job and waits until it is provisioned.
async fn created(fake: &AzureFake, subscription: &Subscription<'_>, name: &str, body: &Value) {
    let answer = put(fake, &subscription.job_url(GROUP, name), body).await;
    let (status, _) = wait(fake, &answer).await;
    assert_eq!(status["status"], "Succeeded", "{status}");
}

fn under(subscription: &Subscription<'_>, job: &str, tail: &str) -> String {
    format!("{}{tail}{API}", subscription.job(GROUP, job))
}

/// Starts an execution of `job` (with `body` as its template, if any): its name.
async fn start(
    fake: &AzureFake,
    subscription: &Subscription<'_>,
    job: &str,
    body: Option<&Value>,
) -> String {
    let url = under(subscription, job, "/start");
    let answer = send(fake, Method::POST, &url, body).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    answer.body["name"].as_str().unwrap().to_owned()
}

/// GETs an execution `times` times: the statuses read.
async fn statuses(fake: &AzureFake, url: &str, times: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..times {
        let answer = get(fake, url).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        seen.push(
            answer.body["properties"]["status"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    seen
}

/// Follows a `Location` until it is no longer 202: the final answer.
async fn settle(fake: &AzureFake, location: &str) -> azure_fake::Answer {
    for _ in 0..10 {
        let answer = fake.follow(location).await.unwrap();
        if answer.status != StatusCode::ACCEPTED {
            return answer;
        }
    }
    panic!("{location} still 202 after 10 polls");
}

fn running_then(last: &str, running: usize) -> Vec<String> {
    let mut expected = vec!["Running".to_owned(); running];
    expected.push(last.to_owned());
    expected
}

#[tokio::test]
async fn a_manual_job_is_created_in_progress_and_succeeds_after_n_polls() {
    let fake = fake().await;
    let subscription = fake.subscription("job-create");
    let url = subscription.job_url(GROUP, "nightly");

    let answer = put(fake, &url, &job("Manual", &["echo", "hello"], 0)).await;

    assert_eq!(answer.status, StatusCode::CREATED);
    assert_fits(fake, "Jobs_CreateOrUpdate", &answer).await;
    assert_eq!(answer.body["properties"]["provisioningState"], "InProgress");
    let operation = answer.header("azure-asyncoperation").unwrap();
    assert!(
        operation.contains(&format!(
            "/subscriptions/{}/providers/Microsoft.App/locations/westeurope/\
             containerappsjobOperationStatuses/",
            subscription.id()
        )),
        "{operation}"
    );
    let (status, polls) = wait(fake, &answer).await;
    assert_eq!(
        (status["status"].as_str(), polls),
        (Some("Succeeded"), fake.options().operation_polls)
    );

    let read = get(fake, &url).await;
    assert_fits(fake, "Jobs_Get", &read).await;
    assert_eq!(read.body["id"], subscription.job(GROUP, "nightly"));
    assert_eq!(read.body["type"], "Microsoft.App/jobs");
    let properties = &read.body["properties"];
    assert_eq!(properties["provisioningState"], "Succeeded");
    assert_eq!(
        properties["configuration"]["manualTriggerConfig"],
        json!({"replicaCompletionCount": 1, "parallelism": 1}),
        "the defaults the definitions describe"
    );
    assert_eq!(
        properties["template"]["containers"][0]["resources"],
        json!({"cpu": 0.5, "memory": "1Gi"})
    );
    assert!(properties["eventStreamEndpoint"].is_string());
    let listed = get(
        fake,
        &format!(
            "/subscriptions/{}/resourceGroups/{GROUP}/providers/Microsoft.App/jobs{API}",
            subscription.id()
        ),
    )
    .await;
    assert_fits(fake, "Jobs_ListByResourceGroup", &listed).await;
    assert_eq!(listed.body["value"][0]["name"], "nightly");
    assert_eq!(
        subscription
            .writes()
            .await
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        [("Jobs_CreateOrUpdate".to_owned(), 1)]
    );
}

#[tokio::test]
async fn a_started_execution_runs_then_succeeds_with_the_jobs_template() {
    let fake = fake().await;
    let polls = fake.options().operation_polls;
    let subscription = fake.subscription("job-start");
    created(
        fake,
        &subscription,
        "report",
        &job("Manual", &["echo", "ok"], 0),
    )
    .await;

    let answer = send(
        fake,
        Method::POST,
        &under(&subscription, "report", "/start"),
        None,
    )
    .await;

    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    let name = answer.body["name"].as_str().unwrap().to_owned();
    assert!(
        name.starts_with("report-") && name.len() == "report-".len() + 7,
        "{name}"
    );
    let id = format!("{}/executions/{name}", subscription.job(GROUP, "report"));
    assert_eq!(answer.body["id"], id.as_str());
    let location = answer.header("location").unwrap().to_owned();
    assert!(
        location.contains("/containerappsjobOperationResults/"),
        "{location}"
    );
    let result = settle(fake, &location).await;
    assert_eq!(result.status, StatusCode::OK);
    assert_eq!(
        result.body,
        json!({"id": id, "name": name}),
        "JobExecutionBase"
    );

    let url = format!("{id}{API}");
    assert_eq!(
        statuses(fake, &url, polls).await,
        running_then("Succeeded", polls - 1)
    );
    let read = get(fake, &url).await;
    assert_fits(fake, "JobExecution", &read).await;
    assert_eq!(read.body["type"], "Microsoft.App/jobs/executions");
    let properties = &read.body["properties"];
    assert!(properties["startTime"].is_string() && properties["endTime"].is_string());
    assert_eq!(
        properties["template"],
        json!({"containers": [{
            "name": "main", "image": "busybox:1", "command": ["echo", "ok"],
            "env": [{"name": "FERRY_RUN", "value": "from-job"}],
            "resources": {"cpu": 0.5, "memory": "1Gi"},
        }]}),
        "the job's template, as JobExecutionContainer has it"
    );
    let listed = get(fake, &under(&subscription, "report", "/executions")).await;
    assert_fits(fake, "JobsExecutions_List", &listed).await;
    assert_eq!(listed.body["value"].as_array().unwrap().len(), 1);
    let writes = subscription.writes().await.unwrap();
    assert_eq!(writes.get("Jobs_Start"), Some(&1));
    let calls = subscription.calls().await.unwrap();
    assert_eq!(calls.get("JobExecution"), Some(&(polls + 1)));
}

#[tokio::test]
async fn an_execution_keeps_the_containers_the_start_body_gave() {
    let fake = fake().await;
    let subscription = fake.subscription("job-start-body");
    created(
        fake,
        &subscription,
        "batch",
        &job("Manual", &["echo", "a"], 0),
    )
    .await;
    let template = json!({"containers": [{
        "name": "main",
        "image": "busybox:2",
        "args": ["echo", "b"],
        "env": [{"name": "FERRY_RUN", "value": "run-7f3a"}],
    }]});

    let name = start(fake, &subscription, "batch", Some(&template)).await;

    let read = get(
        fake,
        &under(&subscription, "batch", &format!("/executions/{name}")),
    )
    .await;
    assert_eq!(
        read.body["properties"]["template"], template,
        "kept exactly as sent"
    );
    let recorded = subscription.requests().await.unwrap();
    let started = recorded
        .iter()
        .find(|call| call.operation == "Jobs_Start")
        .unwrap();
    assert_eq!(started.body, template);
}

#[tokio::test]
async fn a_failing_command_is_retried_replica_retry_limit_times_then_fails() {
    let fake = fake().await;
    let polls = fake.options().operation_polls;
    let subscription = fake.subscription("job-exit");
    for (name, retry_limit) in [("once", 0), ("thrice", 2)] {
        let body = job("Manual", &["sh", "-c", "echo no; exit 1"], retry_limit);
        created(fake, &subscription, name, &body).await;
        let execution = start(fake, &subscription, name, None).await;
        let url = under(&subscription, name, &format!("/executions/{execution}"));

        let attempts = usize::try_from(retry_limit).unwrap() + 1;
        let seen = statuses(fake, &url, polls * attempts + 1).await;

        let mut expected = running_then("Failed", polls * attempts - 1);
        expected.push("Failed".to_owned());
        assert_eq!(seen, expected, "replicaRetryLimit {retry_limit}");
    }
}

#[tokio::test]
async fn a_sleep_infinity_execution_runs_until_stopped() {
    let fake = fake().await;
    let polls = fake.options().operation_polls;
    let subscription = fake.subscription("job-stop");
    created(
        fake,
        &subscription,
        "server",
        &job("Manual", &["sleep", "infinity"], 0),
    )
    .await;
    let execution = start(fake, &subscription, "server", None).await;
    let url = under(&subscription, "server", &format!("/executions/{execution}"));
    assert_eq!(
        statuses(fake, &url, 3 * polls + 1).await,
        vec!["Running"; 3 * polls + 1]
    );

    let stop_url = under(
        &subscription,
        "server",
        &format!("/executions/{execution}/stop"),
    );
    let stopped = send(fake, Method::POST, &stop_url, None).await;

    assert_eq!(stopped.status, StatusCode::ACCEPTED, "{stopped:?}");
    let result = settle(fake, stopped.header("location").unwrap()).await;
    assert_eq!(result.status, StatusCode::OK);
    let read = get(fake, &url).await;
    assert_eq!(read.body["properties"]["status"], "Stopped");
    assert!(read.body["properties"]["endTime"].is_string());
    let again = send(fake, Method::POST, &stop_url, None).await;
    assert_eq!(again.status, StatusCode::OK, "nothing left to stop");
}

#[tokio::test]
async fn stopping_all_executions_answers_the_ones_it_stopped() {
    let fake = fake().await;
    let subscription = fake.subscription("job-stop-all");
    let body = job("Manual", &["sleep", "infinity"], 0);
    created(fake, &subscription, "workers", &body).await;
    let mut started = vec![
        start(fake, &subscription, "workers", None).await,
        start(fake, &subscription, "workers", None).await,
    ];

    let answer = send(
        fake,
        Method::POST,
        &under(&subscription, "workers", "/stop"),
        None,
    )
    .await;

    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    let result = settle(fake, answer.header("location").unwrap()).await;
    let mut stopped: Vec<(String, String)> = result.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let status = e["properties"]["status"].as_str().unwrap().to_owned();
            (e["name"].as_str().unwrap().to_owned(), status)
        })
        .collect();
    stopped.sort();
    started.sort();
    assert_eq!(
        stopped,
        started
            .into_iter()
            .map(|name| (name, "Stopped".to_owned()))
            .collect::<Vec<_>>()
    );
    let nothing = send(
        fake,
        Method::POST,
        &under(&subscription, "workers", "/stop"),
        None,
    )
    .await;
    assert_eq!(nothing.status, StatusCode::OK);
    assert_eq!(nothing.body, json!({"value": []}));
}

/// Sends `body` as a new job and returns the refusal's (code, target); nothing is created.
async fn refused_job(body: &Value) -> (String, Option<String>) {
    let fake = fake().await;
    let subscription = fake.subscription("job-refusals");
    let url = subscription.job_url(GROUP, "refused");
    let answer = send(fake, Method::PUT, &url, Some(body)).await;
    let error = refusal(&answer, StatusCode::BAD_REQUEST);
    assert_eq!(get(fake, &url).await.status, StatusCode::NOT_FOUND);
    (error.code, error.target)
}

#[tokio::test]
async fn unknown_and_read_only_properties_of_a_job_are_refused_naming_their_path() {
    let cases = [
        (
            "/properties/configuration/manualTriggerConfig",
            json!({"parallelism": 1, "completions": 1}),
            "InvalidRequestContent",
            "properties.configuration.manualTriggerConfig.completions",
        ),
        (
            "/properties/template/containers/0/resources",
            json!({"cpu": 0.5, "memory": "1Gi", "ephemeralStorage": "1Gi"}),
            "InvalidRequestContent",
            "properties.template.containers[0].resources.ephemeralStorage",
        ),
        (
            "/properties/provisioningState",
            json!("Succeeded"),
            "InvalidRequestContent",
            "properties.provisioningState",
        ),
        (
            "/properties/eventStreamEndpoint",
            json!("https://example"),
            "InvalidRequestContent",
            "properties.eventStreamEndpoint",
        ),
        (
            "/properties/configuration/replicaTimeout",
            json!("1800"),
            "InvalidRequestContent",
            "properties.configuration.replicaTimeout",
        ),
        (
            "/properties/configuration/triggerType",
            json!("Scheduled"),
            "InvalidRequestContent",
            "properties.configuration.triggerType",
        ),
    ];
    for (pointer, value, code, path) in cases {
        let mut body = job("Manual", &["true"], 0);
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        body.pointer_mut(parent).unwrap()[key] = value;
        let (refused, target) = refused_job(&body).await;
        assert_eq!(
            (refused.as_str(), target.as_deref()),
            (code, Some(path)),
            "{pointer}"
        );
    }
    let mut body = job("Manual", &["true"], 0);
    body["properties"]["configuration"]
        .as_object_mut()
        .unwrap()
        .remove("replicaTimeout");
    let (code, target) = refused_job(&body).await;
    assert_eq!(
        (code.as_str(), target.as_deref()),
        (
            "InvalidRequestContent",
            Some("properties.configuration.replicaTimeout")
        )
    );

    let fake = fake().await;
    let subscription = fake.subscription("job-refusals");
    created(fake, &subscription, "kept", &job("Manual", &["true"], 0)).await;
    let start_url = under(&subscription, "kept", "/start");
    let answer = send(
        fake,
        Method::POST,
        &start_url,
        Some(&json!({"containers": [{"name": "main", "image": "x", "volumeMounts": []}]})),
    )
    .await;
    let error = refusal(&answer, StatusCode::BAD_REQUEST);
    assert_eq!(error.target.as_deref(), Some("containers[0].volumeMounts"));
    let executions = get(fake, &under(&subscription, "kept", "/executions")).await;
    assert_eq!(executions.body, json!({"value": []}), "nothing was started");
}

#[tokio::test]
async fn a_schedule_needs_its_trigger_config_and_a_valid_cron_expression() {
    let mut body = job("Manual", &["true"], 0);
    body["properties"]["configuration"]["triggerType"] = json!("Schedule");
    let (code, target) = refused_job(&body).await;
    assert_eq!(
        (code.as_str(), target.as_deref()),
        (
            "ContainerAppInvalidSchema",
            Some("properties.configuration.scheduleTriggerConfig")
        )
    );

    let mut body = job("Schedule", &["true"], 0);
    body["properties"]["configuration"]["scheduleTriggerConfig"]["cronExpression"] =
        json!("0 25 * * *");
    let (code, target) = refused_job(&body).await;
    assert_eq!(
        (code.as_str(), target.as_deref()),
        (
            "InvalidCronExpression",
            Some("properties.configuration.scheduleTriggerConfig.cronExpression")
        )
    );

    let mut body = job("Manual", &["true"], 0);
    body["properties"]["configuration"]["scheduleTriggerConfig"] =
        json!({"cronExpression": "* * * * *"});
    let (code, _) = refused_job(&body).await;
    assert_eq!(
        code, "ContainerAppInvalidSchema",
        "a config of another trigger"
    );
}

#[tokio::test]
async fn a_schedule_job_fires_through_the_admin_endpoint_and_a_manual_one_does_not() {
    let fake = fake().await;
    let polls = fake.options().operation_polls;
    let subscription = fake.subscription("job-fire");
    created(
        fake,
        &subscription,
        "hourly",
        &job("Schedule", &["true"], 0),
    )
    .await;
    created(fake, &subscription, "manual", &job("Manual", &["true"], 0)).await;
    let before = subscription.requests().await.unwrap().len();

    let fired = subscription.fire_job(GROUP, "hourly").await.unwrap();

    let minutes = fired.name.strip_prefix("hourly-").unwrap();
    assert!(minutes.parse::<u64>().unwrap() > 29_000_000, "{minutes}");
    assert_eq!(
        fired.id,
        format!(
            "{}/executions/{}",
            subscription.job(GROUP, "hourly"),
            fired.name
        )
    );
    let url = format!("{}{API}", fired.id);
    assert_eq!(
        statuses(fake, &url, polls).await,
        running_then("Succeeded", polls - 1)
    );
    let read = get(fake, &url).await;
    assert_eq!(
        read.body["properties"]["template"]["containers"][0]["env"],
        json!([{"name": "FERRY_RUN", "value": "from-job"}])
    );
    assert!(
        subscription.requests().await.unwrap()[before..]
            .iter()
            .all(|call| call.operation == "JobExecution"),
        "the platform's run is no client call"
    );

    let refused = subscription.fire_job(GROUP, "manual").await.unwrap_err();
    assert!(refused.to_string().contains("Manual"), "{refused}");
    let executions = get(fake, &under(&subscription, "manual", "/executions")).await;
    assert_eq!(executions.body, json!({"value": []}));
    assert!(subscription.fire_job(GROUP, "absent").await.is_err());
}

#[tokio::test]
async fn deleting_a_job_removes_its_executions() {
    let fake = fake().await;
    let subscription = fake.subscription("job-delete");
    let url = subscription.job_url(GROUP, "cleanup");
    created(
        fake,
        &subscription,
        "cleanup",
        &job("Manual", &["sleep", "infinity"], 0),
    )
    .await;
    let execution = start(fake, &subscription, "cleanup", None).await;

    let deleted = send(fake, Method::DELETE, &url, None).await;

    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    assert_eq!(
        get(fake, &url).await.body["properties"]["provisioningState"],
        "Deleting"
    );
    let done = settle(fake, deleted.header("location").unwrap()).await;
    assert_eq!(done.status, StatusCode::NO_CONTENT);
    assert_eq!(get(fake, &url).await.status, StatusCode::NOT_FOUND);
    let gone = get(
        fake,
        &under(
            &subscription,
            "cleanup",
            &format!("/executions/{execution}"),
        ),
    )
    .await;
    assert_eq!(
        refusal(&gone, StatusCode::NOT_FOUND).code,
        "ResourceNotFound"
    );
    let listed = get(fake, &under(&subscription, "cleanup", "/executions")).await;
    assert_eq!(listed.status, StatusCode::NOT_FOUND);
    let again = send(fake, Method::DELETE, &url, None).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_patch_merges_into_the_job_but_cannot_move_it_to_another_environment() {
    let fake = fake().await;
    let subscription = fake.subscription("job-patch");
    let url = subscription.job_url(GROUP, "tuned");
    created(fake, &subscription, "tuned", &job("Manual", &["true"], 0)).await;

    let patch = json!({"properties": {"configuration": {
        "triggerType": "Manual", "replicaTimeout": 60, "replicaRetryLimit": 3,
    }}});
    let patched = send(fake, Method::PATCH, &url, Some(&patch)).await;

    assert_eq!(patched.status, StatusCode::ACCEPTED, "{patched:?}");
    assert!(patched.header("location").is_some());
    wait(fake, &patched).await;
    let read = get(fake, &url).await;
    assert_eq!(
        read.body["properties"]["configuration"]["replicaRetryLimit"],
        3
    );
    assert_eq!(
        read.body["properties"]["template"]["containers"][0]["image"], "busybox:1",
        "what the patch does not name stays"
    );
    let moved = json!({"properties": {"environmentId": format!("{ENVIRONMENT}2")}});
    let answer = send(fake, Method::PATCH, &url, Some(&moved)).await;
    assert_eq!(
        refusal(&answer, StatusCode::BAD_REQUEST).target.as_deref(),
        Some("properties.environmentId")
    );
}

#[tokio::test]
async fn a_job_still_provisioning_cannot_start_and_faults_start_nothing() {
    let fake = fake().await;
    let subscription = fake.subscription("job-pending");
    let url = subscription.job_url(GROUP, "fresh");
    let answer = put(fake, &url, &job("Manual", &["true"], 0)).await;
    let start_url = under(&subscription, "fresh", "/start");

    let early = send(fake, Method::POST, &start_url, None).await;

    assert_eq!(
        refusal(&early, StatusCode::CONFLICT).code,
        "ContainerAppOperationInProgress"
    );
    wait(fake, &answer).await;
    subscription
        .fail("Jobs_Start", Fault::Status(503), 1)
        .await
        .unwrap();
    let faulted = send(fake, Method::POST, &start_url, None).await;
    assert_eq!(
        refusal(&faulted, StatusCode::SERVICE_UNAVAILABLE).code,
        "ServiceUnavailable"
    );
    let executions = get(fake, &under(&subscription, "fresh", "/executions")).await;
    assert_eq!(executions.body, json!({"value": []}));
    start(fake, &subscription, "fresh", None).await;
    assert_eq!(
        subscription.writes().await.unwrap().get("Jobs_Start"),
        Some(&3)
    );
}
