//! `CreateService` and `UpdateService`: the ECS service that keeps the task definition running,
//! its capacity, networking, load balancer and deployment settings.

use super::account::Account;
use super::observed::ObservedService;
use super::requests::Requests;
use super::tags::Tag;
use super::{enum_text, to_i32};
use crate::model::FargateModel;
use ferry_api::CapacityProvider;
use ferry_core::desired::Desired;
use serde::Serialize;

/// `CreateService` (without `taskDefinition` and `clientToken`, which the client adds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRequest {
    /// Cluster.
    pub cluster: String,
    /// `NAMESPACE_NAME`.
    pub service_name: String,
    /// Tasks to start with; Application Auto Scaling owns the count afterwards.
    pub desired_count: i32,
    /// `FARGATE`, for on-demand capacity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<String>,
    /// `FARGATE_SPOT`, for Spot capacity.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capacity_provider_strategy: Vec<CapacityProviderItem>,
    /// Platform version.
    pub platform_version: String,
    /// Subnets, security groups, public IP.
    pub network_configuration: NetworkConfiguration,
    /// The target group, when given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub load_balancers: Vec<LoadBalancer>,
    /// Circuit breaker with rollback, so a broken image does not take the service down.
    pub deployment_configuration: DeploymentConfiguration,
    /// With a load balancer: the liveness probe's initial delay, so the target group's health
    /// checks do not stop tasks that are still starting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period_seconds: Option<i32>,
    /// `REPLICA`.
    pub scheduling_strategy: String,
    /// `SERVICE`: tasks carry the service's tags.
    pub propagate_tags: String,
    /// ECS adds its own cluster and service tags to tasks.
    #[serde(rename = "enableECSManagedTags")]
    pub enable_ecs_managed_tags: bool,
    /// Tags, the fingerprint included.
    pub tags: Vec<Tag>,
}

/// One capacity provider strategy item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityProviderItem {
    /// `FARGATE` or `FARGATE_SPOT`.
    pub capacity_provider: String,
    /// Relative share.
    pub weight: i32,
}

/// `networkConfiguration`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConfiguration {
    /// The only kind Fargate has.
    pub awsvpc_configuration: AwsVpcConfiguration,
}

/// `awsvpcConfiguration`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsVpcConfiguration {
    /// Subnets.
    pub subnets: Vec<String>,
    /// Security groups.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// `ENABLED` or `DISABLED`.
    pub assign_public_ip: String,
}

/// `loadBalancers` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    /// Target group ARN.
    pub target_group_arn: String,
    /// The serving container.
    pub container_name: String,
    /// Its port.
    pub container_port: i32,
}

/// `deploymentConfiguration`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfiguration {
    /// Stop and roll back a deployment whose tasks keep failing.
    pub deployment_circuit_breaker: CircuitBreaker,
    /// Start new tasks before stopping old ones.
    pub maximum_percent: i32,
    /// Keep every old task until its replacement is healthy.
    pub minimum_healthy_percent: i32,
}

/// `deploymentCircuitBreaker`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CircuitBreaker {
    /// On.
    pub enable: bool,
    /// Roll back to the last completed deployment.
    pub rollback: bool,
}

/// `UpdateService`: everything of [`ServiceRequest`] that ECS lets change in place. The task
/// count is left to Application Auto Scaling.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateServiceRequest {
    /// Cluster.
    pub cluster: String,
    /// Service name.
    pub service: String,
    /// The task definition ARN to deploy.
    pub task_definition: String,
    /// Set when the service should run on Spot, or already uses a strategy (ECS cannot go back
    /// from a strategy to a launch type, so on-demand is then `FARGATE` as a strategy).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capacity_provider_strategy: Vec<CapacityProviderItem>,
    /// Platform version.
    pub platform_version: String,
    /// Subnets, security groups, public IP.
    pub network_configuration: NetworkConfiguration,
    /// Target groups (an empty list removes them).
    pub load_balancers: Vec<LoadBalancer>,
    /// Circuit breaker.
    pub deployment_configuration: DeploymentConfiguration,
    /// See [`ServiceRequest::health_check_grace_period_seconds`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period_seconds: Option<i32>,
    /// `SERVICE`.
    pub propagate_tags: String,
    /// ECS-managed tags.
    #[serde(rename = "enableECSManagedTags")]
    pub enable_ecs_managed_tags: bool,
    /// A capacity change needs a new deployment to take effect.
    pub force_new_deployment: bool,
}

/// The ECS service name (and task definition family) of `want`.
pub fn service_name(want: &Desired) -> String {
    crate::names::service_name(&want.object.namespace, &want.object.name)
}

pub(crate) fn capacity_strategy(provider: CapacityProvider) -> Vec<CapacityProviderItem> {
    vec![CapacityProviderItem {
        capacity_provider: enum_text(&provider),
        weight: 1,
    }]
}

pub(crate) fn network(model: &FargateModel, account: &Account) -> NetworkConfiguration {
    NetworkConfiguration {
        awsvpc_configuration: AwsVpcConfiguration {
            subnets: account.subnets.clone(),
            security_groups: account.security_groups.clone(),
            assign_public_ip: if model.assign_public_ip {
                "ENABLED"
            } else {
                "DISABLED"
            }
            .into(),
        },
    }
}

fn load_balancers(want: &Desired, model: &FargateModel) -> Vec<LoadBalancer> {
    let serving = want.serving();
    model
        .target_group_arn
        .iter()
        .map(|arn| LoadBalancer {
            target_group_arn: arn.clone(),
            container_name: serving.name.clone(),
            container_port: serving.port.map_or(0, i32::from),
        })
        .collect()
}

fn deployment_configuration() -> DeploymentConfiguration {
    DeploymentConfiguration {
        deployment_circuit_breaker: CircuitBreaker {
            enable: true,
            rollback: true,
        },
        maximum_percent: 200,
        minimum_healthy_percent: 100,
    }
}

pub(super) fn service_request(
    want: &Desired,
    model: &FargateModel,
    account: &Account,
    name: &str,
) -> ServiceRequest {
    let spot = model.capacity_provider == CapacityProvider::FargateSpot;
    ServiceRequest {
        cluster: account.cluster.clone(),
        service_name: name.to_owned(),
        desired_count: to_i32(
            want.scaling
                .initial_instances
                .unwrap_or(want.scaling.min_instances),
        ),
        launch_type: (!spot).then(|| "FARGATE".into()),
        capacity_provider_strategy: if spot {
            capacity_strategy(model.capacity_provider)
        } else {
            Vec::new()
        },
        platform_version: model.platform_version.clone(),
        network_configuration: network(model, account),
        load_balancers: load_balancers(want, model),
        deployment_configuration: deployment_configuration(),
        health_check_grace_period_seconds: model
            .target_group_arn
            .as_ref()
            .and_then(|_| want.serving().probes.liveness.as_ref())
            .and_then(|p| p.initial_delay_seconds)
            .map(to_i32),
        scheduling_strategy: "REPLICA".into(),
        propagate_tags: "SERVICE".into(),
        enable_ecs_managed_tags: true,
        tags: Vec::new(),
    }
}

/// The `UpdateService` that brings the observed service in line with `requests`, deploying task
/// definition `arn`.
pub fn update_service(
    requests: &Requests,
    observed: &ObservedService,
    arn: &str,
) -> UpdateServiceRequest {
    let service = &requests.service;
    let wants_strategy = !service.capacity_provider_strategy.is_empty();
    let has_strategy = !observed.capacity_providers.is_empty();
    let capacity_provider_strategy = match (wants_strategy, has_strategy) {
        (true, _) => service.capacity_provider_strategy.clone(),
        (false, true) => capacity_strategy(CapacityProvider::Fargate),
        (false, false) => Vec::new(),
    };
    UpdateServiceRequest {
        cluster: service.cluster.clone(),
        service: service.service_name.clone(),
        task_definition: arn.to_owned(),
        force_new_deployment: capacity_provider_strategy
            .first()
            .map(|c| &c.capacity_provider)
            != observed.capacity_providers.first(),
        capacity_provider_strategy,
        platform_version: service.platform_version.clone(),
        network_configuration: service.network_configuration.clone(),
        load_balancers: service.load_balancers.clone(),
        deployment_configuration: service.deployment_configuration.clone(),
        // Left out, ECS would keep an earlier grace period; it takes one only with a load
        // balancer.
        health_check_grace_period_seconds: service
            .health_check_grace_period_seconds
            .or((!service.load_balancers.is_empty()).then_some(0)),
        propagate_tags: service.propagate_tags.clone(),
        enable_ecs_managed_tags: service.enable_ecs_managed_tags,
    }
}
