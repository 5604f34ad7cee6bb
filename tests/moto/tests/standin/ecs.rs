//! The ECS behaviour the launcher patches in, and what moto already did right.

use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration,
    LaunchType, NetworkConfiguration, PropagateTags, Tag, TaskDefinitionField,
};
use moto_standin::Moto;

use crate::support::{aws, primary, rollout};

#[tokio::test]
async fn rollout_completes_on_the_kth_describe_with_every_task_running() {
    let aws = aws().await;
    let k = Moto::shared().await.unwrap().rollout_describes();
    assert_eq!(k, 2);
    let task_definition = aws
        .cluster_and_task_definition("rollout-completes", "nginx:1")
        .await;

    let created = aws
        .create_service("rollout-completes", "web", &task_definition, 3)
        .await;
    assert_eq!(rollout(&created), ("IN_PROGRESS", 0));
    assert_eq!((created.running_count(), created.pending_count()), (0, 3));

    let first = aws.describe("rollout-completes", "web").await;
    assert_eq!(rollout(&first), ("IN_PROGRESS", 0));
    assert_eq!(first.running_count(), 0);

    let second = aws.describe("rollout-completes", "web").await;
    assert_eq!(rollout(&second), ("COMPLETED", 3));
    assert_eq!((second.running_count(), second.pending_count()), (3, 0));
    assert_eq!(primary(&second).pending_count(), 0);
    assert_eq!(second.deployments().len(), 1);
    assert_eq!(
        primary(&second).rollout_state_reason(),
        Some(
            format!(
                "ECS deployment {} completed.",
                primary(&second).id().unwrap()
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn new_task_definition_starts_a_new_primary_deployment() {
    let aws = aws().await;
    let cluster = "rollout-restarts";
    let first = aws.cluster_and_task_definition(cluster, "nginx:1").await;
    let second = aws.task_definition(cluster, "nginx:2").await;
    aws.create_service(cluster, "web", &first, 2).await;
    aws.describe(cluster, "web").await;
    let old_id = rollout_id(&aws.describe(cluster, "web").await);

    // A family:revision is answered with the full ARN, as ECS does.
    let revision = second.rsplit('/').next().unwrap();
    let updated = aws
        .ecs
        .update_service()
        .cluster(cluster)
        .service("web")
        .task_definition(revision)
        .send()
        .await
        .unwrap()
        .service
        .unwrap();
    assert_eq!(updated.task_definition(), Some(second.as_str()));
    assert_eq!(rollout(&updated), ("IN_PROGRESS", 0));
    assert_eq!(
        updated.running_count(),
        2,
        "the old deployment keeps running"
    );
    let old: Vec<_> = updated
        .deployments()
        .iter()
        .filter(|d| d.status() == Some("ACTIVE"))
        .collect();
    assert_eq!(old.len(), 1);
    assert_eq!(old[0].id(), Some(old_id.as_str()));
    assert_eq!(old[0].running_count(), 2);

    aws.describe(cluster, "web").await;
    let done = aws.describe(cluster, "web").await;
    assert_eq!(rollout(&done), ("COMPLETED", 2));
    assert_eq!(done.deployments().len(), 1, "the old deployment is gone");
    assert_eq!(primary(&done).task_definition(), Some(second.as_str()));
}

#[tokio::test]
async fn scaling_changes_the_primary_deployment_and_tasks_follow() {
    let aws = aws().await;
    let cluster = "scaling";
    let task_definition = aws.cluster_and_task_definition(cluster, "nginx:1").await;
    aws.create_service(cluster, "web", &task_definition, 1)
        .await;
    aws.describe(cluster, "web").await;
    let deployment = rollout_id(&aws.describe(cluster, "web").await);

    let scaled = aws
        .ecs
        .update_service()
        .cluster(cluster)
        .service("web")
        .desired_count(4)
        .send()
        .await
        .unwrap()
        .service
        .unwrap();
    assert_eq!(rollout_id(&scaled), deployment, "no new deployment");
    assert_eq!(
        (
            scaled.desired_count(),
            scaled.running_count(),
            scaled.pending_count()
        ),
        (4, 1, 3)
    );

    aws.describe(cluster, "web").await;
    let done = aws.describe(cluster, "web").await;
    assert_eq!(rollout(&done), ("COMPLETED", 4));
    assert_eq!(done.running_count(), 4);
}

#[tokio::test]
async fn image_marked_fail_rollout_fails_by_the_circuit_breaker() {
    let aws = aws().await;
    let cluster = "rollout-fails";
    let task_definition = aws
        .cluster_and_task_definition(cluster, "registry.example/app:fail-rollout")
        .await;
    aws.create_service(cluster, "web", &task_definition, 2)
        .await;

    assert_eq!(
        rollout(&aws.describe(cluster, "web").await),
        ("IN_PROGRESS", 0)
    );
    let failed = aws.describe(cluster, "web").await;
    assert_eq!(rollout(&failed), ("FAILED", 0));
    assert_eq!(failed.running_count(), 0);
    assert_eq!(
        primary(&failed).rollout_state_reason(),
        Some("ECS deployment circuit breaker: tasks failed to start.")
    );
    assert_eq!(
        rollout(&aws.describe(cluster, "web").await),
        ("FAILED", 0),
        "it stays failed"
    );
}

#[tokio::test]
async fn deployment_configuration_round_trips_with_ecs_defaults() {
    let aws = aws().await;
    let cluster = "deployment-configuration";
    let task_definition = aws.cluster_and_task_definition(cluster, "nginx:1").await;
    let breaker = |enable, rollback| {
        DeploymentCircuitBreaker::builder()
            .enable(enable)
            .rollback(rollback)
            .build()
    };
    aws.ecs
        .create_service()
        .cluster(cluster)
        .service_name("web")
        .task_definition(&task_definition)
        .desired_count(1)
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .deployment_circuit_breaker(breaker(true, true))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let described = aws.describe(cluster, "web").await;
    let configuration = described.deployment_configuration().unwrap();
    assert_eq!(
        configuration.deployment_circuit_breaker(),
        Some(&breaker(true, true))
    );
    assert_eq!(configuration.maximum_percent(), Some(200));
    assert_eq!(configuration.minimum_healthy_percent(), Some(100));

    aws.ecs
        .update_service()
        .cluster(cluster)
        .service("web")
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .deployment_circuit_breaker(breaker(true, false))
                .maximum_percent(150)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let described = aws.describe(cluster, "web").await;
    let configuration = described.deployment_configuration().unwrap();
    assert_eq!(
        configuration.deployment_circuit_breaker(),
        Some(&breaker(true, false))
    );
    assert_eq!(configuration.maximum_percent(), Some(150));
    assert_eq!(configuration.minimum_healthy_percent(), Some(100), "kept");
}

#[tokio::test]
async fn duplicate_create_service_is_refused_unless_it_repeats_the_client_token() {
    let aws = aws().await;
    let cluster = "duplicate";
    let first = aws.cluster_and_task_definition(cluster, "nginx:1").await;
    let second = aws.task_definition(cluster, "nginx:2").await;
    let create = |task_definition: &str, token: Option<&str>| {
        aws.ecs
            .create_service()
            .cluster(cluster)
            .service_name("web")
            .task_definition(task_definition)
            .desired_count(1)
            .set_client_token(token.map(str::to_owned))
            .send()
    };
    let created = create(&first, Some("token-1"))
        .await
        .unwrap()
        .service
        .unwrap();

    for token in [None, Some("token-2")] {
        let error = create(&first, token)
            .await
            .unwrap_err()
            .into_service_error();
        assert!(error.is_invalid_parameter_exception(), "{error:?}");
        assert_eq!(
            error.message(),
            Some("Creation of service was not idempotent.")
        );
    }
    let again = create(&second, Some("token-1"))
        .await
        .unwrap()
        .service
        .unwrap();
    assert_eq!(again.service_arn(), created.service_arn());
    assert_eq!(
        again.task_definition(),
        Some(first.as_str()),
        "the existing service, unchanged"
    );

    let listed = aws
        .ecs
        .list_services()
        .cluster(cluster)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.service_arns().len(), 1);
}

#[tokio::test]
async fn deleted_service_is_inactive_unlisted_and_can_be_created_again() {
    let aws = aws().await;
    let cluster = "delete";
    let task_definition = aws.cluster_and_task_definition(cluster, "nginx:1").await;
    aws.create_service(cluster, "web", &task_definition, 2)
        .await;

    let deleted = aws
        .ecs
        .delete_service()
        .cluster(cluster)
        .service("web")
        .force(true)
        .send()
        .await
        .unwrap()
        .service
        .unwrap();
    assert_eq!(deleted.status(), Some("INACTIVE"));
    let described = aws.describe(cluster, "web").await;
    assert_eq!(described.status(), Some("INACTIVE"));
    assert_eq!(
        (described.desired_count(), described.running_count()),
        (0, 0)
    );
    let listed = aws
        .ecs
        .list_services()
        .cluster(cluster)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.service_arns(), [] as [String; 0]);

    let again = aws
        .ecs
        .delete_service()
        .cluster(cluster)
        .service("web")
        .force(true)
        .send()
        .await
        .unwrap()
        .service
        .unwrap();
    assert_eq!(
        again.status(),
        Some("INACTIVE"),
        "deleting again answers the service"
    );
    let update = aws
        .ecs
        .update_service()
        .cluster(cluster)
        .service("web")
        .desired_count(1)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(update.is_service_not_active_exception(), "{update:?}");

    let recreated = aws
        .create_service(cluster, "web", &task_definition, 1)
        .await;
    assert_eq!(recreated.status(), Some("ACTIVE"));

    let missing = aws
        .ecs
        .describe_services()
        .cluster(cluster)
        .services("never-created")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.failures()[0].reason(), Some("MISSING"));
}

#[tokio::test]
async fn tags_of_services_and_task_definitions_are_kept() {
    let aws = aws().await;
    let cluster = "tags";
    let task_definition = aws.cluster_and_task_definition(cluster, "nginx:1").await;
    let tag = |key: &str, value: &str| Tag::builder().key(key).value(value).build();
    aws.ecs
        .tag_resource()
        .resource_arn(&task_definition)
        .tags(tag("ferry.dev/owner", "web"))
        .send()
        .await
        .unwrap();
    let created = aws
        .ecs
        .create_service()
        .cluster(cluster)
        .service_name("web")
        .task_definition(&task_definition)
        .desired_count(1)
        .tags(tag("ferry.dev/owner", "web"))
        .tags(tag("team", "a"))
        .propagate_tags(PropagateTags::Service)
        .send()
        .await
        .unwrap()
        .service
        .unwrap();
    let arn = created.service_arn().unwrap();

    aws.ecs
        .tag_resource()
        .resource_arn(arn)
        .tags(tag("team", "b"))
        .send()
        .await
        .unwrap();
    aws.ecs
        .untag_resource()
        .resource_arn(arn)
        .tag_keys("ferry.dev/owner")
        .send()
        .await
        .unwrap();

    let described = aws.describe(cluster, "web").await;
    assert_eq!(described.tags(), [tag("team", "b")]);
    assert_eq!(described.propagate_tags(), Some(&PropagateTags::Service));
    let definition = aws
        .ecs
        .describe_task_definition()
        .task_definition(&task_definition)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .unwrap();
    assert_eq!(definition.tags(), [tag("ferry.dev/owner", "web")]);
}

#[tokio::test]
async fn network_configuration_needs_well_formed_ids_only() {
    let aws = aws().await;
    let cluster = "network";
    let task_definition = aws.cluster_and_task_definition(cluster, "nginx:1").await;
    let network = |subnet: &str| {
        NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder()
                    .subnets(subnet)
                    .assign_public_ip(AssignPublicIp::Disabled)
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let create = |name: &str, subnet: &str| {
        aws.ecs
            .create_service()
            .cluster(cluster)
            .service_name(name)
            .task_definition(&task_definition)
            .desired_count(1)
            .launch_type(LaunchType::Fargate)
            .network_configuration(network(subnet))
            .send()
    };

    let created = create("web", "subnet-0abc").await.unwrap().service.unwrap();
    assert_eq!(
        created.network_configuration(),
        Some(&network("subnet-0abc"))
    );
    let deployment = rollout_id(&created);
    let update = |subnet: &str| {
        aws.ecs
            .update_service()
            .cluster(cluster)
            .service("web")
            .network_configuration(network(subnet))
            .send()
    };
    let moved = update("subnet-0def").await.unwrap().service.unwrap();
    assert_ne!(
        rollout_id(&moved),
        deployment,
        "new subnets, new deployment"
    );
    assert_eq!(rollout(&moved), ("IN_PROGRESS", 0));
    let error = update("not-a-subnet")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(error.is_invalid_parameter_exception(), "{error:?}");

    let error = create("other", "not-a-subnet")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(error.is_invalid_parameter_exception(), "{error:?}");
}

/// The id of the PRIMARY deployment.
fn rollout_id(service: &aws_sdk_ecs::types::Service) -> String {
    primary(service).id().unwrap().to_owned()
}
