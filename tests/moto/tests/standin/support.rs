//! Clients pointed at the shared moto through a fresh proxy.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, LaunchType, NetworkMode, Service, ServiceField,
};
use moto_standin::{Moto, Proxy};

/// The SDK clients of one test and the proxy they talk through.
pub(crate) struct Aws {
    pub(crate) ecs: aws_sdk_ecs::Client,
    pub(crate) scaling: aws_sdk_applicationautoscaling::Client,
    pub(crate) proxy: Proxy,
}

/// Clients that do not retry: a failure shows at once.
pub(crate) async fn aws() -> Aws {
    aws_with(RetryConfig::disabled(), TimeoutConfig::disabled()).await
}

/// Clients that retry 3 times, quickly.
pub(crate) async fn retrying_aws() -> Aws {
    aws_with(quick_retries(), TimeoutConfig::disabled()).await
}

pub(crate) fn quick_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(10))
}

pub(crate) async fn aws_with(retries: RetryConfig, timeouts: TimeoutConfig) -> Aws {
    Aws::of(Moto::shared().await.unwrap(), retries, timeouts).await
}

pub(crate) async fn sdk_config(
    endpoint: &str,
    retries: RetryConfig,
    timeouts: TimeoutConfig,
) -> SdkConfig {
    moto_standin::sdk_config(endpoint)
        .await
        .to_builder()
        .retry_config(retries)
        .timeout_config(timeouts)
        .build()
}

impl Aws {
    /// Clients of `moto` through a proxy of their own.
    pub(crate) async fn of(moto: &Moto, retries: RetryConfig, timeouts: TimeoutConfig) -> Self {
        let proxy = Proxy::start(&moto.endpoint()).unwrap();
        let config = sdk_config(&proxy.endpoint(), retries, timeouts).await;
        Self {
            ecs: aws_sdk_ecs::Client::new(&config),
            scaling: aws_sdk_applicationautoscaling::Client::new(&config),
            proxy,
        }
    }

    /// A cluster, and a Fargate task definition whose family has the cluster's name, running
    /// `image`; returns the task definition's ARN.
    pub(crate) async fn cluster_and_task_definition(&self, cluster: &str, image: &str) -> String {
        self.ecs
            .create_cluster()
            .cluster_name(cluster)
            .send()
            .await
            .unwrap();
        self.task_definition(cluster, image).await
    }

    /// Registers a revision of the task definition family `family` running `image`.
    pub(crate) async fn task_definition(&self, family: &str, image: &str) -> String {
        let container = ContainerDefinition::builder()
            .name("app")
            .image(image)
            .essential(true)
            .build();
        let registered = self
            .ecs
            .register_task_definition()
            .family(family)
            .requires_compatibilities(Compatibility::Fargate)
            .network_mode(NetworkMode::Awsvpc)
            .cpu("256")
            .memory("512")
            .container_definitions(container)
            .send()
            .await
            .unwrap();
        registered
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .unwrap()
            .to_owned()
    }

    /// Creates a Fargate service `name` in `cluster` with no network configuration.
    pub(crate) async fn create_service(
        &self,
        cluster: &str,
        name: &str,
        task_definition: &str,
        desired: i32,
    ) -> Service {
        self.ecs
            .create_service()
            .cluster(cluster)
            .service_name(name)
            .task_definition(task_definition)
            .desired_count(desired)
            .launch_type(LaunchType::Fargate)
            .send()
            .await
            .unwrap()
            .service
            .unwrap()
    }

    /// DescribeServices of one service, tags included.
    pub(crate) async fn describe(&self, cluster: &str, name: &str) -> Service {
        let described = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(name)
            .include(ServiceField::Tags)
            .send()
            .await
            .unwrap();
        assert_eq!(described.failures(), [], "describing {name}");
        described.services()[0].clone()
    }
}

/// The PRIMARY deployment's rollout state, as its string.
pub(crate) fn rollout(service: &Service) -> (&str, i32) {
    let primary = primary(service);
    (
        primary.rollout_state().map_or("", |state| state.as_str()),
        primary.running_count(),
    )
}

pub(crate) fn primary(service: &Service) -> &aws_sdk_ecs::types::Deployment {
    service
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .unwrap()
}
