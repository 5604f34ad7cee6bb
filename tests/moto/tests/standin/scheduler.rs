//! EventBridge Scheduler schedules with ECS targets, through the real `aws-sdk-scheduler`
//! (restJson1), and firing them as the service does when they come due.

use std::collections::HashMap;

use aws_config::timeout::TimeoutConfig;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, DesiredStatus, NetworkMode, Tag, TaskField,
};
use aws_sdk_scheduler::error::ProvideErrorMetadata;
use aws_sdk_scheduler::operation::create_schedule::builders::CreateScheduleFluentBuilder;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, AssignPublicIp, AwsVpcConfiguration, EcsParameters, FlexibleTimeWindow,
    FlexibleTimeWindowMode, LaunchType, NetworkConfiguration, PropagateTags, ScheduleState, Target,
};
use moto_standin::{Fault, Moto};

use crate::support::{Aws, aws, quick_retries, sdk_config};

const ROLE: &str = "arn:aws:iam::123456789012:role/ferry-scheduler";

#[tokio::test]
async fn schedule_round_trips_with_its_ecs_target_intact() {
    let aws = aws().await;
    let scheduler = scheduler(&aws).await;
    let (cluster_arn, definition) = cluster_and_job(&aws, "schedule-round-trip").await;
    let ecs = ecs_parameters(&definition, "schedule-round-trip");

    let created = create(&scheduler, "round-trip", &cluster_arn, ecs.clone())
        .schedule_expression_timezone("Europe/Berlin")
        .action_after_completion(ActionAfterCompletion::Delete)
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.schedule_arn(),
        "arn:aws:scheduler:us-east-1:123456789012:schedule/default/round-trip"
    );

    let got = get(&scheduler, "round-trip").await.unwrap();
    assert_eq!(got.schedule_expression(), Some("cron(0 3 * * ? *)"));
    assert_eq!(got.schedule_expression_timezone(), Some("Europe/Berlin"));
    assert_eq!(got.state(), Some(&ScheduleState::Enabled), "the default");
    assert_eq!(
        got.action_after_completion(),
        Some(&ActionAfterCompletion::Delete)
    );
    assert_eq!(got.flexible_time_window(), Some(&off()));
    let target = got.target().unwrap();
    assert_eq!(target.arn(), cluster_arn);
    assert_eq!(target.role_arn(), ROLE);
    assert_eq!(target.ecs_parameters(), Some(&ecs), "EcsParameters intact");
    let retry = target.retry_policy().unwrap();
    assert_eq!(
        (
            retry.maximum_event_age_in_seconds(),
            retry.maximum_retry_attempts()
        ),
        (Some(86400), Some(185)),
        "EventBridge Scheduler's default retry policy"
    );

    // UpdateSchedule replaces the schedule: what it leaves out takes its default.
    let update = || {
        scheduler
            .update_schedule()
            .name("round-trip")
            .schedule_expression("rate(1 hour)")
            .flexible_time_window(off())
            .target(target.clone())
    };
    update()
        .state(ScheduleState::Disabled)
        .send()
        .await
        .unwrap();
    let disabled = get(&scheduler, "round-trip").await.unwrap();
    assert_eq!(disabled.state(), Some(&ScheduleState::Disabled));
    assert_eq!(disabled.schedule_expression_timezone(), Some("UTC"));
    assert_eq!(
        disabled.action_after_completion(),
        Some(&ActionAfterCompletion::None)
    );
    let listed = |state: ScheduleState| {
        scheduler
            .list_schedules()
            .name_prefix("round-trip")
            .state(state)
            .send()
    };
    let summaries = listed(ScheduleState::Disabled).await.unwrap();
    assert_eq!(summaries.schedules().len(), 1);
    assert_eq!(summaries.schedules()[0].name(), Some("round-trip"));
    assert_eq!(
        summaries.schedules()[0]
            .target()
            .map(aws_sdk_scheduler::types::TargetSummary::arn),
        Some(cluster_arn.as_str())
    );
    update().send().await.unwrap();
    assert_eq!(
        listed(ScheduleState::Enabled)
            .await
            .unwrap()
            .schedules()
            .len(),
        1,
        "a left-out State is ENABLED"
    );

    scheduler
        .delete_schedule()
        .name("round-trip")
        .send()
        .await
        .unwrap();
    let error = get(&scheduler, "round-trip")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(error.is_resource_not_found_exception(), "{error:?}");

    // The proxy names restJson1 calls by operation, and reads are not writes.
    let calls = aws.proxy.calls();
    for operation in [
        "CreateSchedule",
        "GetSchedule",
        "UpdateSchedule",
        "ListSchedules",
    ] {
        assert!(calls.contains_key(operation), "{operation}: {calls:?}");
    }
    let writes: Vec<_> = aws.proxy.writes().into_keys().collect();
    assert_eq!(
        writes,
        [
            "CreateCluster",
            "CreateSchedule",
            "DeleteSchedule",
            "RegisterTaskDefinition",
            "UpdateSchedule"
        ]
    );
}

#[tokio::test]
async fn duplicate_create_schedule_is_a_conflict_unless_it_repeats_the_client_token() {
    let aws = aws().await;
    let scheduler = scheduler(&aws).await;
    let (cluster_arn, definition) = cluster_and_job(&aws, "schedule-duplicate").await;
    let ecs = ecs_parameters(&definition, "schedule-duplicate");
    let attempt = |token: &str| {
        create(&scheduler, "duplicate", &cluster_arn, ecs.clone())
            .client_token(token)
            .send()
    };
    let created = attempt("token-1").await.unwrap();

    let error = attempt("token-2").await.unwrap_err();
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(409));
    let error = error.into_service_error();
    assert!(error.is_conflict_exception(), "{error:?}");
    assert_eq!(error.message(), Some("Schedule duplicate already exists."));

    let again = attempt("token-1").await.unwrap();
    assert_eq!(again.schedule_arn(), created.schedule_arn());

    let missing = get(&scheduler, "never-created")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(missing.is_resource_not_found_exception(), "{missing:?}");
    let no_group = scheduler
        .get_schedule()
        .name("duplicate")
        .group_name("no-such-group")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(no_group.is_resource_not_found_exception(), "{no_group:?}");
}

#[tokio::test]
async fn lost_create_schedule_answer_is_retried_into_the_one_schedule() {
    let aws = aws().await;
    let config = sdk_config(
        &aws.proxy.endpoint(),
        quick_retries(),
        TimeoutConfig::disabled(),
    )
    .await;
    let scheduler = aws_sdk_scheduler::Client::new(&config);
    let (cluster_arn, definition) = cluster_and_job(&aws, "schedule-lost").await;
    aws.proxy.fail("CreateSchedule", Fault::LostResponse, 1);

    create(
        &scheduler,
        "lost",
        &cluster_arn,
        ecs_parameters(&definition, "schedule-lost"),
    )
    .send()
    .await
    .unwrap();

    let tokens: Vec<_> = aws
        .proxy
        .bodies("CreateSchedule")
        .iter()
        .map(|body| body["ClientToken"].clone())
        .collect();
    assert_eq!(tokens.len(), 2, "the lost answer, then the retry");
    assert!(tokens[0].is_string());
    assert_eq!(tokens[0], tokens[1], "the SDK's idempotency token, kept");
}

#[tokio::test]
async fn schedules_eventbridge_scheduler_refuses_are_validation_errors() {
    let aws = aws().await;
    let scheduler = scheduler(&aws).await;
    let (cluster_arn, definition) = cluster_and_job(&aws, "schedule-validation").await;
    let ecs = ecs_parameters(&definition, "schedule-validation");
    let attempt = |name: &str, expression: &str| {
        create(&scheduler, name, &cluster_arn, ecs.clone()).schedule_expression(expression)
    };

    for (i, expression) in [
        "cron(0 3 * * ? *)",
        "cron(0 3 ? * MON-FRI *)",
        "cron(*/5 * * * ? *)",
        "rate(1 hour)",
        "rate(15 minutes)",
        "at(2030-01-01T03:00:00)",
    ]
    .into_iter()
    .enumerate()
    {
        attempt(&format!("valid-{i}"), expression)
            .send()
            .await
            .unwrap_or_else(|error| panic!("{expression}: {error:?}"));
    }
    let refused = [
        attempt("both-days", "cron(0 3 * * * *)"),
        attempt("both-days-set", "cron(0 3 1 * MON *)"),
        attempt("five-fields", "cron(0 3 * * ?)"),
        attempt("unix-cron", "0 3 * * *"),
        attempt("zero-rate", "rate(0 minutes)"),
        attempt("bad-at", "at(2030-13-01T03:00:00)"),
        attempt("bad-zone", "rate(1 hour)").schedule_expression_timezone("Mars/Olympus"),
        attempt("no-window", "rate(1 hour)").flexible_time_window(
            FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Flexible)
                .build()
                .unwrap(),
        ),
    ];
    for request in refused {
        let name = request.get_name().clone().unwrap();
        let error = request.send().await.unwrap_err().into_service_error();
        assert!(error.is_validation_exception(), "{name}: {error:?}");
    }
}

#[tokio::test]
async fn firing_a_schedule_starts_one_task_with_the_schedules_parameters() {
    let aws = aws().await;
    let scheduler = scheduler(&aws).await;
    let cluster = "schedule-fire";
    let (cluster_arn, definition) = cluster_and_job(&aws, cluster).await;
    aws.ecs
        .tag_resource()
        .resource_arn(&definition)
        .tags(tag("team", "a"))
        .send()
        .await
        .unwrap();
    create(
        &scheduler,
        "nightly-report-of-the-accounting-team",
        &cluster_arn,
        ecs_parameters(&definition, cluster),
    )
    .send()
    .await
    .unwrap();
    aws.proxy.clear();

    let moto = Moto::shared().await.unwrap();
    let fired = moto
        .fire_schedule("default", "nightly-report-of-the-accounting-team")
        .await
        .unwrap();

    assert_eq!(fired.task_arns.len(), 1, "TaskCount 1");
    assert_eq!(
        fired.started_by, "chronos-schedule/nightly-report-of-t",
        "cut to 36 characters"
    );
    assert_eq!(
        aws.proxy.calls().get("RunTask"),
        None,
        "the scheduler ran it, not the client"
    );
    let described = aws
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(fired.task_arns.clone()))
        .include(TaskField::Tags)
        .send()
        .await
        .unwrap();
    let task = &described.tasks()[0];
    assert_eq!(task.cluster_arn(), Some(cluster_arn.as_str()));
    assert_eq!(task.task_definition_arn(), Some(definition.as_str()));
    assert_eq!(task.started_by(), Some(fired.started_by.as_str()));
    assert_eq!(
        task.launch_type(),
        Some(&aws_sdk_ecs::types::LaunchType::Fargate)
    );
    assert_eq!(task.platform_version(), Some("1.4.0"));
    assert_eq!(
        task.tags(),
        [
            tag("ferry.dev/job", cluster),
            tag("team", "a"),
            tag("aws:ecs:clusterName", cluster),
        ]
    );
    let attachment = &task.attachments()[0];
    let subnet = attachment
        .details()
        .iter()
        .find(|detail| detail.name() == Some("subnetId"))
        .and_then(|detail| detail.value());
    assert_eq!(subnet, Some("subnet-0abc"));

    // Each firing is a run of its own.
    let again = moto
        .fire_schedule("default", "nightly-report-of-the-accounting-team")
        .await
        .unwrap();
    assert_ne!(again.task_arns, fired.task_arns);
    let listed = aws
        .ecs
        .list_tasks()
        .cluster(cluster)
        .started_by(&fired.started_by)
        .desired_status(DesiredStatus::Running)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.task_arns().len(), 2);
}

#[tokio::test]
async fn disabled_schedule_does_not_fire() {
    let aws = aws().await;
    let scheduler = scheduler(&aws).await;
    let cluster = "schedule-disabled";
    let (cluster_arn, definition) = cluster_and_job(&aws, cluster).await;
    create(
        &scheduler,
        "disabled",
        &cluster_arn,
        ecs_parameters(&definition, cluster),
    )
    .state(ScheduleState::Disabled)
    .send()
    .await
    .unwrap();

    let moto = Moto::shared().await.unwrap();
    let error = moto.fire_schedule("default", "disabled").await.unwrap_err();
    assert!(error.to_string().contains("HTTP 409"), "{error}");
    let error = moto
        .fire_schedule("default", "never-created")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("HTTP 404"), "{error}");

    let listed = aws.ecs.list_tasks().cluster(cluster).send().await.unwrap();
    assert_eq!(listed.task_arns(), [] as [String; 0], "no task started");
}

#[tokio::test]
async fn one_time_schedule_that_deletes_itself_is_gone_after_firing() {
    let aws = aws().await;
    let scheduler = scheduler(&aws).await;
    let cluster = "schedule-once";
    let (cluster_arn, definition) = cluster_and_job(&aws, cluster).await;
    create(
        &scheduler,
        "once",
        &cluster_arn,
        ecs_parameters(&definition, cluster),
    )
    .schedule_expression("at(2030-01-01T03:00:00)")
    .action_after_completion(ActionAfterCompletion::Delete)
    .send()
    .await
    .unwrap();

    let fired = Moto::shared()
        .await
        .unwrap()
        .fire_schedule("default", "once")
        .await
        .unwrap();
    assert_eq!(fired.task_arns.len(), 1);
    let error = get(&scheduler, "once")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(error.is_resource_not_found_exception(), "{error:?}");
}

/// An EventBridge Scheduler client of the test's proxy (retries off, like its other clients).
async fn scheduler(aws: &Aws) -> aws_sdk_scheduler::Client {
    aws_sdk_scheduler::Client::new(&moto_standin::sdk_config(&aws.proxy.endpoint()).await)
}

/// A cluster, and a Fargate task definition of the cluster's name whose container sleeps
/// forever (so fired tasks stay listed as RUNNING); returns their ARNs.
async fn cluster_and_job(aws: &Aws, cluster: &str) -> (String, String) {
    let cluster_arn = aws
        .ecs
        .create_cluster()
        .cluster_name(cluster)
        .send()
        .await
        .unwrap()
        .cluster
        .and_then(|c| c.cluster_arn)
        .unwrap();
    let container = ContainerDefinition::builder()
        .name("job")
        .image("busybox:1.37")
        .essential(true)
        .command("sleep")
        .command("infinity")
        .build();
    let definition = aws
        .ecs
        .register_task_definition()
        .family(cluster)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(container)
        .send()
        .await
        .unwrap()
        .task_definition
        .and_then(|t| t.task_definition_arn)
        .unwrap();
    (cluster_arn, definition)
}

/// The ECS target's parameters, as Ferry would set them for job `job`.
fn ecs_parameters(definition: &str, job: &str) -> EcsParameters {
    let network = NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .subnets("subnet-0abc")
                .security_groups("sg-0abc")
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()
                .unwrap(),
        )
        .build();
    EcsParameters::builder()
        .task_definition_arn(definition)
        .task_count(1)
        .launch_type(LaunchType::Fargate)
        .platform_version("1.4.0")
        .network_configuration(network)
        .propagate_tags(PropagateTags::TaskDefinition)
        .enable_ecs_managed_tags(true)
        .reference_id(format!("ferry/{job}"))
        .tags(HashMap::from([(
            "ferry.dev/job".to_owned(),
            job.to_owned(),
        )]))
        .build()
        .unwrap()
}

/// CreateSchedule of a daily cron schedule (03:00) whose target runs `ecs` in `cluster_arn`.
fn create(
    scheduler: &aws_sdk_scheduler::Client,
    name: &str,
    cluster_arn: &str,
    ecs: EcsParameters,
) -> CreateScheduleFluentBuilder {
    let target = Target::builder()
        .arn(cluster_arn)
        .role_arn(ROLE)
        .ecs_parameters(ecs)
        .build()
        .unwrap();
    scheduler
        .create_schedule()
        .name(name)
        .schedule_expression("cron(0 3 * * ? *)")
        .flexible_time_window(off())
        .target(target)
}

async fn get(
    scheduler: &aws_sdk_scheduler::Client,
    name: &str,
) -> Result<
    aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput,
    aws_sdk_scheduler::error::SdkError<
        aws_sdk_scheduler::operation::get_schedule::GetScheduleError,
    >,
> {
    scheduler.get_schedule().name(name).send().await
}

fn off() -> FlexibleTimeWindow {
    FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .unwrap()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}
