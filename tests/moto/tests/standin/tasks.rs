//! ECS tasks run to completion: RunTask's client token, the lifecycle over DescribeTasks, the
//! exit code of the container's command, StopTask, tags, and the limits ECS sets.

use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::operation::run_task::RunTaskError;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, ContainerOverride,
    DesiredStatus, LaunchType, NetworkConfiguration, NetworkMode, PropagateTags, Tag, Task,
    TaskField, TaskOverride, TaskStopCode,
};

use crate::support::{Aws, aws};

#[tokio::test]
async fn run_task_with_the_same_client_token_starts_one_task() {
    let aws = aws().await;
    let cluster = "tasks-token";
    let definition = job_definition(&aws, cluster, &["sh", "-c", "exit 0"]).await;
    let run = |started_by: &'static str| {
        aws.ecs
            .run_task()
            .cluster(cluster)
            .task_definition(&definition)
            .launch_type(LaunchType::Fargate)
            .network_configuration(network())
            .started_by(started_by)
            .client_token("job-7-run-1")
            .send()
    };

    let first = run("ferry-job-7").await.unwrap();
    let again = run("ferry-job-7").await.unwrap();
    assert_eq!(first.tasks().len(), 1);
    assert_eq!(arns(again.tasks()), arns(first.tasks()), "the same task");
    let listed = aws
        .ecs
        .list_tasks()
        .cluster(cluster)
        .started_by("ferry-job-7")
        .desired_status(DesiredStatus::Running)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.task_arns(), arns(first.tasks()));

    // The same token with other parameters is a conflict naming the tasks it started.
    let error = run("ferry-job-8").await.unwrap_err().into_service_error();
    let RunTaskError::ConflictException(conflict) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(conflict.resource_ids(), arns(first.tasks()));

    // Another cluster is another scope for the token.
    aws.ecs
        .create_cluster()
        .cluster_name("tasks-token-2")
        .send()
        .await
        .unwrap();
    let elsewhere = aws
        .ecs
        .run_task()
        .cluster("tasks-token-2")
        .task_definition(&definition)
        .launch_type(LaunchType::Fargate)
        .network_configuration(network())
        .client_token("job-7-run-1")
        .send()
        .await
        .unwrap();
    assert_ne!(arns(elsewhere.tasks()), arns(first.tasks()));
}

#[tokio::test]
async fn task_goes_through_its_lifecycle_and_stops_with_its_commands_exit_code() {
    let aws = aws().await;
    let cluster = "tasks-lifecycle";
    let definition = job_definition(&aws, cluster, &["sh", "-c", "echo working; exit 3"]).await;
    let task = run(&aws, cluster, &definition).await;
    assert_eq!(task.last_status(), Some("PROVISIONING"));
    assert_eq!(task.desired_status(), Some("RUNNING"));
    assert!(task.created_at().is_some());
    assert_eq!(task.started_at(), None);
    let arn = task.task_arn().unwrap();

    let mut seen = Vec::new();
    for _ in 0..5 {
        let task = describe(&aws, cluster, arn).await;
        seen.push(task.last_status().unwrap().to_owned());
    }
    assert_eq!(
        seen,
        ["PENDING", "RUNNING", "DEPROVISIONING", "STOPPED", "STOPPED"]
    );

    let stopped = describe(&aws, cluster, arn).await;
    assert_eq!(stopped.desired_status(), Some("STOPPED"));
    assert_eq!(
        stopped.stop_code(),
        Some(&TaskStopCode::EssentialContainerExited)
    );
    assert_eq!(
        stopped.stopped_reason(),
        Some("Essential container in task exited")
    );
    let (created, started, stopped_at) = (
        stopped.created_at().unwrap(),
        stopped.started_at().unwrap(),
        stopped.stopped_at().unwrap(),
    );
    assert!(created <= started && started <= stopped_at);
    let container = &stopped.containers()[0];
    assert_eq!(container.name(), Some("app"));
    assert_eq!(container.last_status(), Some("STOPPED"));
    assert_eq!(container.exit_code(), Some(3));

    let listed = |status| {
        aws.ecs
            .list_tasks()
            .cluster(cluster)
            .desired_status(status)
            .send()
    };
    let stopped_arns = listed(DesiredStatus::Stopped).await.unwrap();
    assert_eq!(stopped_arns.task_arns(), [arn.to_owned()]);
    let running = listed(DesiredStatus::Running).await.unwrap();
    assert_eq!(running.task_arns(), [] as [String; 0]);
    let default = aws.ecs.list_tasks().cluster(cluster).send().await.unwrap();
    assert_eq!(
        default.task_arns(),
        [] as [String; 0],
        "ListTasks lists RUNNING tasks unless asked for others"
    );
}

#[tokio::test]
async fn command_without_exit_ends_with_zero_and_an_override_replaces_the_command() {
    let aws = aws().await;
    let cluster = "tasks-commands";
    let definition = job_definition(&aws, cluster, &["echo", "done"]).await;
    let plain = run(&aws, cluster, &definition).await;
    let overridden = aws
        .ecs
        .run_task()
        .cluster(cluster)
        .task_definition(&definition)
        .launch_type(LaunchType::Fargate)
        .network_configuration(network())
        .overrides(
            TaskOverride::builder()
                .container_overrides(
                    ContainerOverride::builder()
                        .name("app")
                        .command("sh")
                        .command("-c")
                        .command("exit 300")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .tasks()[0]
        .clone();

    for (task, exit_code) in [(plain, 0), (overridden, 300 % 256)] {
        let stopped = until_stopped(&aws, cluster, task.task_arn().unwrap()).await;
        assert_eq!(
            stopped.containers()[0].exit_code(),
            Some(exit_code),
            "{task:?}"
        );
    }
}

#[tokio::test]
async fn stop_task_stops_a_task_that_sleeps_forever_as_user_initiated() {
    let aws = aws().await;
    let cluster = "tasks-stop";
    let definition = job_definition(&aws, cluster, &["sleep", "infinity"]).await;
    let arn = run(&aws, cluster, &definition)
        .await
        .task_arn()
        .unwrap()
        .to_owned();
    for _ in 0..6 {
        describe(&aws, cluster, &arn).await;
    }
    let running = describe(&aws, cluster, &arn).await;
    assert_eq!(running.last_status(), Some("RUNNING"), "it never ends");
    assert_eq!(running.containers()[0].exit_code(), None);

    let answered = aws
        .ecs
        .stop_task()
        .cluster(cluster)
        .task(&arn)
        .send()
        .await
        .unwrap()
        .task
        .unwrap();
    assert_eq!(
        (answered.last_status(), answered.desired_status()),
        (Some("RUNNING"), Some("STOPPED")),
        "StopTask answers before the task has stopped"
    );
    assert_eq!(answered.stop_code(), Some(&TaskStopCode::UserInitiated));
    assert_eq!(answered.stopped_reason(), Some("Task stopped by user"));
    assert!(answered.stopping_at().is_some());

    assert_eq!(
        describe(&aws, cluster, &arn).await.last_status(),
        Some("DEPROVISIONING")
    );
    let stopped = describe(&aws, cluster, &arn).await;
    assert_eq!(stopped.last_status(), Some("STOPPED"));
    assert_eq!(stopped.stop_code(), Some(&TaskStopCode::UserInitiated));
    assert!(stopped.stopped_at().is_some());
    assert_eq!(
        stopped.containers()[0].exit_code(),
        Some(137),
        "killed when the stop timeout ends"
    );

    // A reason given is the stoppedReason; a task not yet running has no exit code.
    let arn = run(&aws, cluster, &definition)
        .await
        .task_arn()
        .unwrap()
        .to_owned();
    aws.ecs
        .stop_task()
        .cluster(cluster)
        .task(&arn)
        .reason("ferry: job deleted")
        .send()
        .await
        .unwrap();
    let stopped = until_stopped(&aws, cluster, &arn).await;
    assert_eq!(stopped.stopped_reason(), Some("ferry: job deleted"));
    assert_eq!(stopped.started_at(), None);
    assert_eq!(stopped.containers()[0].exit_code(), None);
}

#[tokio::test]
async fn image_that_cannot_be_pulled_fails_to_start() {
    let aws = aws().await;
    let cluster = "tasks-fail-to-start";
    aws.ecs
        .create_cluster()
        .cluster_name(cluster)
        .send()
        .await
        .unwrap();
    let definition = register(
        &aws,
        cluster,
        "registry.example/job:fail-rollout",
        &["sh", "-c", "exit 0"],
    )
    .await;
    let task = run(&aws, cluster, &definition).await;

    let stopped = until_stopped(&aws, cluster, task.task_arn().unwrap()).await;
    assert_eq!(stopped.stop_code(), Some(&TaskStopCode::TaskFailedToStart));
    assert!(
        stopped
            .stopped_reason()
            .unwrap()
            .starts_with("CannotPullContainerError:"),
        "{stopped:?}"
    );
    assert_eq!(stopped.started_at(), None);
    assert_eq!(stopped.containers()[0].exit_code(), None);
}

#[tokio::test]
async fn tags_given_to_run_task_are_described_with_include_tags() {
    let aws = aws().await;
    let cluster = "tasks-tags";
    let definition = job_definition(&aws, cluster, &["sleep", "infinity"]).await;
    aws.ecs
        .tag_resource()
        .resource_arn(&definition)
        .tags(tag("team", "a"))
        .send()
        .await
        .unwrap();
    let arn = aws
        .ecs
        .run_task()
        .cluster(cluster)
        .task_definition(&definition)
        .launch_type(LaunchType::Fargate)
        .network_configuration(network())
        .tags(tag("ferry.dev/job", "nightly"))
        .propagate_tags(PropagateTags::TaskDefinition)
        .enable_ecs_managed_tags(true)
        .send()
        .await
        .unwrap()
        .tasks()[0]
        .task_arn()
        .unwrap()
        .to_owned();

    let described = describe(&aws, cluster, &arn).await;
    assert_eq!(
        described.tags(),
        [
            tag("ferry.dev/job", "nightly"),
            tag("team", "a"),
            tag("aws:ecs:clusterName", cluster),
        ]
    );
    let without = aws
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .tasks(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        without.tasks()[0].tags(),
        [],
        "tags only with include: [TAGS]"
    );

    // Like ECS, StopTask deletes the task's tags.
    aws.ecs
        .stop_task()
        .cluster(cluster)
        .task(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(describe(&aws, cluster, &arn).await.tags(), []);
}

#[tokio::test]
async fn describe_tasks_takes_100_tasks_of_its_cluster_and_reports_others_missing() {
    let aws = aws().await;
    let cluster = "tasks-describe";
    let definition = job_definition(&aws, cluster, &["sleep", "infinity"]).await;
    let arn = run(&aws, cluster, &definition)
        .await
        .task_arn()
        .unwrap()
        .to_owned();

    let too_many: Vec<String> = (0..101).map(|_| arn.clone()).collect();
    let error = aws
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(too_many.clone()))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(error.is_invalid_parameter_exception(), "{error:?}");
    assert_eq!(error.message(), Some("taskIds can have at most 100 items."));

    let hundred = aws
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(too_many[..100].to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(hundred.tasks().len(), 1, "named 100 times, described once");

    let task_id = arn.rsplit('/').next().unwrap();
    let mixed = aws
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .tasks(task_id)
        .tasks("0123456789abcdef0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert_eq!(arns(mixed.tasks()), [arn.as_str()], "by ID as by ARN");
    assert_eq!(mixed.failures().len(), 1);
    assert_eq!(mixed.failures()[0].reason(), Some("MISSING"));

    aws.ecs
        .create_cluster()
        .cluster_name("tasks-describe-other")
        .send()
        .await
        .unwrap();
    let other = aws
        .ecs
        .describe_tasks()
        .cluster("tasks-describe-other")
        .tasks(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(other.tasks(), [], "a task of another cluster");
    assert_eq!(other.failures()[0].reason(), Some("MISSING"));
}

/// A cluster, and a Fargate task definition whose family has the cluster's name, whose one
/// container runs `command`; returns the task definition's ARN.
async fn job_definition(aws: &Aws, cluster: &str, command: &[&str]) -> String {
    aws.ecs
        .create_cluster()
        .cluster_name(cluster)
        .send()
        .await
        .unwrap();
    register(aws, cluster, "busybox:1.37", command).await
}

async fn register(aws: &Aws, family: &str, image: &str, command: &[&str]) -> String {
    let container = ContainerDefinition::builder()
        .name("app")
        .image(image)
        .essential(true)
        .set_command(Some(
            command.iter().map(|word| (*word).to_owned()).collect(),
        ))
        .build();
    aws.ecs
        .register_task_definition()
        .family(family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(container)
        .send()
        .await
        .unwrap()
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap()
        .to_owned()
}

fn network() -> NetworkConfiguration {
    NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .subnets("subnet-0abc")
                .security_groups("sg-0abc")
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()
                .unwrap(),
        )
        .build()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

fn arns(tasks: &[Task]) -> Vec<String> {
    tasks
        .iter()
        .map(|task| task.task_arn().unwrap().to_owned())
        .collect()
}

/// Runs one task of `definition` on Fargate.
async fn run(aws: &Aws, cluster: &str, definition: &str) -> Task {
    let started = aws
        .ecs
        .run_task()
        .cluster(cluster)
        .task_definition(definition)
        .launch_type(LaunchType::Fargate)
        .network_configuration(network())
        .send()
        .await
        .unwrap();
    assert_eq!(started.failures(), []);
    started.tasks()[0].clone()
}

/// DescribeTasks of one task, tags included (each call moves it one state on).
async fn describe(aws: &Aws, cluster: &str, arn: &str) -> Task {
    let described = aws
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .tasks(arn)
        .include(TaskField::Tags)
        .send()
        .await
        .unwrap();
    assert_eq!(described.failures(), [], "describing {arn}");
    described.tasks()[0].clone()
}

async fn until_stopped(aws: &Aws, cluster: &str, arn: &str) -> Task {
    for _ in 0..10 {
        let task = describe(aws, cluster, arn).await;
        if task.last_status() == Some("STOPPED") {
            return task;
        }
    }
    panic!("{arn} did not stop");
}
