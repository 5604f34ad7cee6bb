//! The pure half of the Fargate backend: the ECS and Application Auto Scaling requests Ferry
//! sends for a desired model, whether what AWS holds already matches them, and what AWS's
//! description means in Ferry's terms. No I/O: `client.rs` sends what this module builds.
//!
//! The request types serialise to the JSON the AWS APIs take (ECS in camelCase, Application
//! Auto Scaling in PascalCase), which is what `ferry render` prints and what the tests check
//! against botocore's service models.
//!
//! Change detection: ECS does not echo a task definition or service back exactly as it was
//! sent (it adds defaults, reorders, drops empty lists), so Ferry tags each with a fingerprint
//! of the request it built and compares fingerprints, plus the few service fields that someone
//! else might change behind Ferry's back (networking, capacity, load balancer).

use std::collections::BTreeMap;

use crate::model::FargateModel;
use ferry_api::conditions::reasons;
use ferry_api::{CapacityProvider, FargateProviderConfig, ScalingMetric};
use ferry_core::desired::{
    ContainerModel, Desired, EnvValue, ProbeAction, ProbeModel, SecretSource,
};
use ferry_core::names;
use ferry_core::status::{Outputs, Readiness};
use serde::Serialize;

/// Tag with the UID of the `ServerlessService` that owns a resource.
pub const TAG_UID: &str = "ferry.dev/uid";
/// Tag marking resources Ferry manages; kept when an object is orphaned so a new object of the
/// same name may adopt it.
pub const TAG_MANAGED_BY: &str = "ferry.dev/managed-by";
/// Tag with the fingerprint of the request a resource was created or last updated from.
pub const TAG_FINGERPRINT: &str = "ferry.dev/fingerprint";
const TAG_NAMESPACE: &str = "ferry.dev/namespace";
const TAG_NAME: &str = "ferry.dev/name";

/// Application Auto Scaling's names for an ECS service's task count.
pub const SCALING_NAMESPACE: &str = "ecs";
/// The scalable dimension of an ECS service.
pub const SCALABLE_DIMENSION: &str = "ecs:service:DesiredCount";

/// Target utilisation, in percent, when `spec.scaling.target` is not set for cpu or memory.
pub const DEFAULT_UTILIZATION_TARGET: u32 = 70;
/// Scale-out cooldown: AWS's own default for ECS target tracking.
const SCALE_OUT_COOLDOWN_SECONDS: i32 = 60;
/// Scale-in cooldown when `spec.scaling.scaleDownDelaySeconds` is not set (AWS's default).
const SCALE_IN_COOLDOWN_SECONDS: i32 = 300;
/// The port name Ferry gives the serving container's port mapping.
const PORT_NAME: &str = "http";

/// Why the account settings cannot make a service.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccountError {
    /// A setting neither the service nor its ProviderConfig gives.
    #[error(
        "spec.fargate.{field} is not set and ProviderConfig {config} has no \
         spec.fargate.defaults.{field}: {why}"
    )]
    Missing {
        /// The field's name under `spec.fargate`.
        field: &'static str,
        /// The ProviderConfig consulted.
        config: String,
        /// Why it is needed and what to give.
        why: &'static str,
    },
    /// The desired model is not a Fargate one.
    #[error("the service is not for provider fargate")]
    NotFargate,
}

/// Where the service runs: the service's own `spec.fargate` settings over the ProviderConfig's
/// defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// AWS region.
    pub region: String,
    /// ECS cluster.
    pub cluster: String,
    /// Subnets (at least one).
    pub subnets: Vec<String>,
    /// Security groups (none: the VPC's default group).
    pub security_groups: Vec<String>,
    /// Role ECS pulls images, reads secrets and writes logs as.
    pub execution_role_arn: Option<String>,
    /// Role the containers run as.
    pub task_role_arn: Option<String>,
    /// CloudWatch Logs group for `awslogs`.
    pub log_group: Option<String>,
}

/// The Fargate settings of `want`.
fn fargate(want: &Desired) -> Result<&FargateModel, AccountError> {
    want.backend
        .get::<FargateModel>()
        .ok_or(AccountError::NotFargate)
}

/// The account settings for `want` under ProviderConfig `config_name`.
fn account(
    want: &Desired,
    config: &FargateProviderConfig,
    config_name: &str,
) -> Result<Account, AccountError> {
    let model = fargate(want)?;
    let own = &model.account;
    let defaults = config.defaults.clone().unwrap_or_default();
    let missing = |field, why| AccountError::Missing {
        field,
        config: config_name.to_owned(),
        why,
    };
    let subnets = own
        .subnets
        .clone()
        .or(defaults.subnets)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            missing(
                "subnets",
                "Fargate tasks use awsvpc networking and need at least one subnet \
                 (subnet-...)",
            )
        })?;
    let execution_role_arn = own
        .execution_role_arn
        .clone()
        .or(defaults.execution_role_arn);
    let log_group = own.log_group.clone().or(defaults.log_group);
    let uses_secrets = want
        .containers
        .iter()
        .flat_map(|c| &c.env)
        .any(|e| matches!(e.value, EnvValue::Secret(_)));
    if execution_role_arn.is_none() && (log_group.is_some() || uses_secrets) {
        return Err(missing(
            "executionRoleArn",
            "ECS writes awslogs logs and reads secrets as the task execution role: give an IAM \
             role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
        ));
    }
    Ok(Account {
        region: config.region.clone(),
        cluster: model
            .cluster
            .clone()
            .unwrap_or_else(|| config.cluster.clone()),
        subnets,
        security_groups: own
            .security_groups
            .clone()
            .or(defaults.security_groups)
            .unwrap_or_default(),
        execution_role_arn,
        task_role_arn: own.task_role_arn.clone().or(defaults.task_role_arn),
        log_group,
    })
}

/// An ECS or Application Auto Scaling tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// `RegisterTaskDefinition`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinition {
    /// `NAMESPACE_NAME`, the service's name.
    pub family: String,
    /// Role the containers run as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    /// Role ECS acts as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    /// Always `awsvpc` on Fargate.
    pub network_mode: String,
    /// Always `["FARGATE"]`.
    pub requires_compatibilities: Vec<String>,
    /// Task CPU units, as the string ECS takes.
    pub cpu: String,
    /// Task memory in MiB, as the string ECS takes.
    pub memory: String,
    /// CPU architecture and operating system.
    pub runtime_platform: RuntimePlatform,
    /// Extra scratch space.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<EphemeralStorage>,
    /// The containers.
    pub container_definitions: Vec<ContainerDefinition>,
    /// Tags, the fingerprint included.
    pub tags: Vec<Tag>,
}

/// `runtimePlatform`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimePlatform {
    /// `X86_64` or `ARM64`.
    pub cpu_architecture: String,
    /// `LINUX`, `WINDOWS_SERVER_2022_CORE`...
    pub operating_system_family: String,
}

/// `ephemeralStorage`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralStorage {
    /// GiB, 21-200.
    pub size_in_gi_b: i32,
}

/// One `containerDefinitions` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDefinition {
    /// Name.
    pub name: String,
    /// Image.
    pub image: String,
    /// Every container is essential: like a pod, the task stops when one exits.
    pub essential: bool,
    /// CPU units reserved for the container, when it sets resources.cpu.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<i32>,
    /// Hard memory limit in MiB, when it sets resources.memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<i32>,
    /// The image's ENTRYPOINT override (`command` in Kubernetes terms).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entry_point: Vec<String>,
    /// The image's CMD override (`args` in Kubernetes terms).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// The serving port.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub port_mappings: Vec<PortMapping>,
    /// Literal environment.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<KeyValue>,
    /// Environment from Secrets Manager or SSM.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretEnv>,
    /// `awslogs`, when the account has a log group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<LogConfiguration>,
    /// From the liveness probe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
}

/// A port mapping.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    /// The container port (the host port is the same under awsvpc).
    pub container_port: i32,
    /// `tcp`.
    pub protocol: String,
    /// A name, for Service Connect and readability.
    pub name: String,
}

/// An environment variable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// A secret environment variable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretEnv {
    /// Name.
    pub name: String,
    /// The ARN (with an optional JSON key) ECS reads.
    pub value_from: String,
}

/// `logConfiguration`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogConfiguration {
    /// `awslogs`.
    pub log_driver: String,
    /// Group, region and stream prefix.
    pub options: BTreeMap<String, String>,
}

/// `healthCheck`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    /// `["CMD-SHELL", "curl ..."]`.
    pub command: Vec<String>,
    /// Seconds between checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<i32>,
    /// Seconds before a check fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i32>,
    /// Failures before the container is unhealthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<i32>,
    /// Grace period after start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_period: Option<i32>,
}

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

/// `RegisterScalableTarget`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalableTarget {
    /// `ecs`.
    pub service_namespace: String,
    /// `service/CLUSTER/SERVICE`.
    pub resource_id: String,
    /// `ecs:service:DesiredCount`.
    pub scalable_dimension: String,
    /// Fewest tasks.
    pub min_capacity: i32,
    /// Most tasks.
    pub max_capacity: i32,
}

/// `PutScalingPolicy` with target tracking.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalingPolicy {
    /// `ferry-SERVICE`.
    pub policy_name: String,
    /// `ecs`.
    pub service_namespace: String,
    /// `service/CLUSTER/SERVICE`.
    pub resource_id: String,
    /// `ecs:service:DesiredCount`.
    pub scalable_dimension: String,
    /// `TargetTrackingScaling`.
    pub policy_type: String,
    /// What to track.
    pub target_tracking_scaling_policy_configuration: TargetTracking,
}

/// `TargetTrackingScalingPolicyConfiguration`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetTracking {
    /// The value to hold the metric at.
    pub target_value: f64,
    /// The metric.
    pub predefined_metric_specification: PredefinedMetric,
    /// Seconds after a scale-in before the next.
    pub scale_in_cooldown: i32,
    /// Seconds after a scale-out before the next.
    pub scale_out_cooldown: i32,
}

/// `PredefinedMetricSpecification`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PredefinedMetric {
    /// `ECSServiceAverageCPUUtilization`, `ECSServiceAverageMemoryUtilization` or
    /// `ALBRequestCountPerTarget`.
    pub predefined_metric_type: String,
    /// The load balancer and target group, for `ALBRequestCountPerTarget`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_label: Option<String>,
}

/// Everything Ferry sends for one object.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Where it runs.
    pub account: Account,
    /// The task definition.
    pub task_definition: TaskDefinition,
    /// Its fingerprint (also its [`TAG_FINGERPRINT`] tag).
    pub task_definition_fingerprint: String,
    /// The service.
    pub service: ServiceRequest,
    /// Its fingerprint (also its [`TAG_FINGERPRINT`] tag).
    pub service_fingerprint: String,
    /// The task count bounds.
    pub scalable_target: ScalableTarget,
    /// Target tracking, when `maxInstances` leaves room to scale.
    pub scaling_policy: Option<ScalingPolicy>,
}

/// The requests as `ferry render` prints them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rendered<'a> {
    /// `RegisterTaskDefinition`.
    pub register_task_definition: &'a TaskDefinition,
    /// `CreateService`.
    pub create_service: &'a ServiceRequest,
    /// `RegisterScalableTarget`.
    pub register_scalable_target: &'a ScalableTarget,
    /// `PutScalingPolicy`, when the service autoscales.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub put_scaling_policy: Option<&'a ScalingPolicy>,
}

impl Plan {
    /// The requests for printing.
    pub fn rendered(&self) -> Rendered<'_> {
        Rendered {
            register_task_definition: &self.task_definition,
            create_service: &self.service,
            register_scalable_target: &self.scalable_target,
            put_scaling_policy: self.scaling_policy.as_ref(),
        }
    }
}

/// The ECS service name (and task definition family) of `want`.
pub fn service_name(want: &Desired) -> String {
    crate::names::service_name(&want.object.namespace, &want.object.name)
}

/// Application Auto Scaling's id of a service.
pub fn scaling_resource_id(cluster: &str, service: &str) -> String {
    format!("service/{cluster}/{service}")
}

/// The name of Ferry's target-tracking policy for a service.
pub fn policy_name(service: &str) -> String {
    format!("ferry-{service}")
}

/// The `clientToken` of the `CreateService` for `plan`: the same for every retry of the same
/// spec, so ECS answers a repeated create with the service it already made, and different
/// when the service or its task definition differ (ECS refuses a token reused with other
/// parameters). ECS allows 36 characters.
pub fn client_token(want: &Desired, plan: &Plan) -> String {
    let uid = want.object.uid.as_deref().unwrap_or_default();
    format!(
        "ferry-{}",
        names::fingerprint(&format!(
            "{uid}/{}/{}",
            plan.service_fingerprint, plan.task_definition_fingerprint
        ))
    )
}

/// Everything Ferry sends for `want`, in the account its ProviderConfig `config_name` and its
/// own `spec.fargate` settings describe.
pub fn plan(
    want: &Desired,
    config: &FargateProviderConfig,
    config_name: &str,
) -> Result<Plan, AccountError> {
    let model = fargate(want)?;
    let account = account(want, config, config_name)?;
    let name = service_name(want);
    let base_tags = base_tags(want);

    let mut task_definition = task_definition(want, model, &account, &name);
    let task_definition_fingerprint = fingerprint_of(&task_definition);
    task_definition.tags = with_fingerprint(&base_tags, &task_definition_fingerprint);

    let mut service = service_request(want, model, &account, &name);
    // The task count is Application Auto Scaling's after creation and UpdateService never
    // sends it, so it is not part of what the service's fingerprint compares.
    let service_fingerprint = fingerprint_of(&ServiceRequest {
        desired_count: 0,
        ..service.clone()
    });
    service.tags = with_fingerprint(&base_tags, &service_fingerprint);

    let resource_id = scaling_resource_id(&account.cluster, &name);
    let min = to_i32(want.scaling.min_instances);
    let max = want.scaling.max_instances.map_or(min, to_i32).max(min);
    let scalable_target = ScalableTarget {
        service_namespace: SCALING_NAMESPACE.into(),
        resource_id: resource_id.clone(),
        scalable_dimension: SCALABLE_DIMENSION.into(),
        min_capacity: min,
        max_capacity: max,
    };
    let scaling_policy = (max > min).then(|| scaling_policy(want, model, &name, resource_id));
    Ok(Plan {
        account,
        task_definition,
        task_definition_fingerprint,
        service,
        service_fingerprint,
        scalable_target,
        scaling_policy,
    })
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn base_tags(want: &Desired) -> Vec<Tag> {
    let tag = |key: &str, value: &str| Tag {
        key: key.to_owned(),
        value: value.to_owned(),
    };
    let mut tags = vec![
        tag(TAG_MANAGED_BY, "ferry"),
        tag(TAG_NAMESPACE, &want.object.namespace),
        tag(TAG_NAME, &want.object.name),
    ];
    if let Some(uid) = &want.object.uid {
        tags.push(tag(TAG_UID, uid));
    }
    tags
}

fn with_fingerprint(base: &[Tag], fingerprint: &str) -> Vec<Tag> {
    let mut tags = base.to_vec();
    tags.push(Tag {
        key: TAG_FINGERPRINT.into(),
        value: fingerprint.to_owned(),
    });
    tags
}

/// The fingerprint of a request built without tags: the tags carry it, and the UID is not
/// part of what the resource does.
fn fingerprint_of<T: Serialize>(request: &T) -> String {
    names::fingerprint(&serde_json::to_string(request).unwrap_or_default())
}

fn task_definition(
    want: &Desired,
    model: &FargateModel,
    account: &Account,
    family: &str,
) -> TaskDefinition {
    TaskDefinition {
        family: family.to_owned(),
        task_role_arn: account.task_role_arn.clone(),
        execution_role_arn: account.execution_role_arn.clone(),
        network_mode: "awsvpc".into(),
        requires_compatibilities: vec!["FARGATE".into()],
        cpu: model.task_cpu_units.to_string(),
        memory: model.task_memory_mib.to_string(),
        runtime_platform: RuntimePlatform {
            cpu_architecture: enum_text(&model.cpu_architecture),
            operating_system_family: enum_text(&model.operating_system_family),
        },
        ephemeral_storage: model.ephemeral_storage_gib.map(|gib| EphemeralStorage {
            size_in_gi_b: to_i32(gib),
        }),
        container_definitions: want
            .containers
            .iter()
            .map(|c| container_definition(c, account, model.operating_system_family.is_windows()))
            .collect(),
        tags: Vec::new(),
    }
}

/// The wire name of an API enum (its serde rename).
fn enum_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

const MIB: u64 = 1 << 20;

fn container_definition(
    c: &ContainerModel,
    account: &Account,
    windows: bool,
) -> ContainerDefinition {
    let mut environment: Vec<KeyValue> = Vec::new();
    let mut secrets = Vec::new();
    for env in &c.env {
        match &env.value {
            EnvValue::Literal(value) => environment.push(KeyValue {
                name: env.name.clone(),
                value: value.clone(),
            }),
            EnvValue::Secret(SecretSource::Store { name, .. }) => secrets.push(SecretEnv {
                name: env.name.clone(),
                value_from: name.clone(),
            }),
            // Validation resolves every secret of a Fargate service to an ARN.
            EnvValue::Secret(_) => {}
        }
    }
    if let Some(port) = c.port
        && !c.env.iter().any(|e| e.name == "PORT")
    {
        // Knative and Cloud Run tell the container its port in PORT; so does Ferry on ECS, so
        // one image runs on all three.
        environment.push(KeyValue {
            name: "PORT".into(),
            value: port.to_string(),
        });
    }
    ContainerDefinition {
        name: c.name.clone(),
        image: c.image.clone(),
        essential: true,
        cpu: c
            .resources
            .cpu_millis
            .map(|m| i32::try_from(m * 1024 / 1000).unwrap_or(i32::MAX)),
        memory: c
            .resources
            .memory_bytes
            .map(|b| i32::try_from(b.div_ceil(MIB)).unwrap_or(i32::MAX)),
        entry_point: c.command.clone(),
        command: c.args.clone(),
        port_mappings: c
            .port
            .map(|port| PortMapping {
                container_port: i32::from(port),
                protocol: "tcp".into(),
                name: PORT_NAME.into(),
            })
            .into_iter()
            .collect(),
        environment,
        secrets,
        log_configuration: account.log_group.as_ref().map(|group| LogConfiguration {
            log_driver: "awslogs".into(),
            options: BTreeMap::from([
                ("awslogs-group".to_owned(), group.clone()),
                ("awslogs-region".to_owned(), account.region.clone()),
                ("awslogs-stream-prefix".to_owned(), c.name.clone()),
            ]),
        }),
        health_check: c
            .probes
            .liveness
            .as_ref()
            .and_then(|p| health_check(p, windows)),
    }
}

/// The ECS health check for a liveness probe: an httpGet run as curl inside the container
/// (validation refuses other probe kinds on Fargate). ECS runs `CMD-SHELL` with `sh` on Linux
/// and `cmd.exe` on Windows, which quote differently and have no common null device.
fn health_check(probe: &ProbeModel, windows: bool) -> Option<HealthCheck> {
    let ProbeAction::HttpGet {
        path,
        port,
        headers,
    } = &probe.action
    else {
        return None;
    };
    let (curl, null, quote): (&str, &str, fn(&str) -> String) = if windows {
        ("curl.exe", "NUL", cmd_quote)
    } else {
        ("curl", "/dev/null", shell_quote)
    };
    let mut words = vec![curl.to_owned(), "-fsS".into(), "-o".into(), null.into()];
    for (name, value) in headers {
        words.push("-H".into());
        words.push(quote(&format!("{name}: {value}")));
    }
    words.push(quote(&format!("http://localhost:{port}{path}")));
    // Docker reads exit status 1 as unhealthy and reserves 2; curl exits with other codes.
    let command = format!("{} || exit 1", words.join(" "));
    let seconds = |v: Option<u32>| v.map(to_i32);
    Some(HealthCheck {
        command: vec!["CMD-SHELL".into(), command],
        interval: seconds(probe.period_seconds),
        timeout: seconds(probe.timeout_seconds),
        retries: seconds(probe.failure_threshold),
        start_period: seconds(probe.initial_delay_seconds),
    })
}

/// `text` as one single-quoted `sh` word.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `text` as one double-quoted `cmd.exe` word (curl.exe reads `\"` as a quote).
fn cmd_quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\\\""))
}

fn capacity_strategy(provider: CapacityProvider) -> Vec<CapacityProviderItem> {
    vec![CapacityProviderItem {
        capacity_provider: enum_text(&provider),
        weight: 1,
    }]
}

fn network(model: &FargateModel, account: &Account) -> NetworkConfiguration {
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

fn service_request(
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

/// The `UpdateService` that brings the observed service to `plan` with task definition `arn`.
pub fn update_service(plan: &Plan, observed: &ObservedService, arn: &str) -> UpdateServiceRequest {
    let service = &plan.service;
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

fn scaling_policy(
    want: &Desired,
    model: &FargateModel,
    service: &str,
    resource_id: String,
) -> ScalingPolicy {
    let s = &want.scaling;
    let (metric, target, resource_label) = match s.metric {
        ScalingMetric::Memory => (
            "ECSServiceAverageMemoryUtilization",
            s.target.unwrap_or(DEFAULT_UTILIZATION_TARGET),
            None,
        ),
        // ALBRequestCountPerTarget counts requests per target per minute; the spec's target is
        // per second.
        ScalingMetric::Rps => (
            "ALBRequestCountPerTarget",
            s.target.unwrap_or(1).saturating_mul(60),
            alb_resource_label(model),
        ),
        // cpu is the default; validation refuses concurrency on Fargate.
        _ => (
            "ECSServiceAverageCPUUtilization",
            s.target.unwrap_or(DEFAULT_UTILIZATION_TARGET),
            None,
        ),
    };
    ScalingPolicy {
        policy_name: policy_name(service),
        service_namespace: SCALING_NAMESPACE.into(),
        resource_id,
        scalable_dimension: SCALABLE_DIMENSION.into(),
        policy_type: "TargetTrackingScaling".into(),
        target_tracking_scaling_policy_configuration: TargetTracking {
            target_value: f64::from(target),
            predefined_metric_specification: PredefinedMetric {
                predefined_metric_type: metric.into(),
                resource_label,
            },
            scale_in_cooldown: s
                .scale_down_delay_seconds
                .map_or(SCALE_IN_COOLDOWN_SECONDS, to_i32),
            scale_out_cooldown: SCALE_OUT_COOLDOWN_SECONDS,
        },
    }
}

/// `app/LB-NAME/LB-ID/targetgroup/TG-NAME/TG-ID`, the resource label
/// `ALBRequestCountPerTarget` takes, from the two ARNs.
fn alb_resource_label(model: &FargateModel) -> Option<String> {
    let lb = model.load_balancer_arn.as_deref()?;
    let tg = model.target_group_arn.as_deref()?;
    let lb = &lb[lb.find("loadbalancer/")? + "loadbalancer/".len()..];
    let tg = &tg[tg.find("targetgroup/")?..];
    Some(format!("{lb}/{tg}"))
}

/// A service as ECS describes it: the facts [`diff`] and [`readiness`] need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedService {
    /// ARN.
    pub arn: String,
    /// Name.
    pub name: String,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    /// The task definition ARN of the service.
    pub task_definition: String,
    /// Tasks wanted.
    pub desired_count: i32,
    /// Tasks running.
    pub running_count: i32,
    /// Tasks starting.
    pub pending_count: i32,
    /// The PRIMARY deployment.
    pub rollout: Option<Rollout>,
    /// The newest deployment that failed, when it is not the primary one (ECS rolled it back).
    pub failed_rollout: Option<Rollout>,
    /// `FARGATE`, unless a strategy is used.
    pub launch_type: Option<String>,
    /// Capacity providers of the strategy, in order.
    pub capacity_providers: Vec<String>,
    /// Platform version.
    pub platform_version: Option<String>,
    /// Subnets.
    pub subnets: Vec<String>,
    /// Security groups.
    pub security_groups: Vec<String>,
    /// Whether tasks get public IPs, when reported.
    pub assign_public_ip: Option<bool>,
    /// Target groups.
    pub target_group_arns: Vec<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// The newest service events, newest first.
    pub events: Vec<String>,
}

/// One deployment's rollout.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rollout {
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED`.
    pub state: String,
    /// ECS's explanation.
    pub reason: Option<String>,
    /// The task definition it deploys.
    pub task_definition: String,
}

/// A task definition revision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedTaskDefinition {
    /// ARN.
    pub arn: String,
    /// Family.
    pub family: String,
    /// Revision.
    pub revision: i32,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

impl ObservedTaskDefinition {
    /// Whether this revision is `plan`'s task definition.
    pub fn is_planned(&self, plan: &Plan) -> bool {
        self.family == plan.task_definition.family
            && self.tags.get(TAG_FINGERPRINT) == Some(&plan.task_definition_fingerprint)
    }
}

/// The scalable target of a service.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedScaling {
    /// Fewest tasks.
    pub min: i32,
    /// Most tasks.
    pub max: i32,
    /// Ferry's policy, when one exists.
    pub policy: Option<ObservedPolicy>,
}

/// Ferry's target-tracking policy as described.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedPolicy {
    /// Name.
    pub name: String,
    /// The predefined metric.
    pub metric: String,
    /// Target.
    pub target_value: f64,
    /// Scale-in cooldown.
    pub scale_in_cooldown: Option<i32>,
    /// Resource label.
    pub resource_label: Option<String>,
}

/// What AWS holds for one object.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    /// The service.
    pub service: ObservedService,
    /// Its task definition.
    pub task_definition: Option<ObservedTaskDefinition>,
    /// The task definition of `service.failed_rollout`, when there is one.
    pub failed_task_definition: Option<ObservedTaskDefinition>,
    /// Its scaling.
    pub scaling: Option<ObservedScaling>,
}

/// One thing to bring in line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Register a new task definition revision and deploy it.
    TaskDefinition,
    /// Update the service's settings (network, capacity, load balancer, deployment).
    Service,
    /// Tag the service with the object's UID (it adopts a released service).
    Tags,
    /// Register the scalable target with new bounds.
    ScalableTarget,
    /// Put the target-tracking policy.
    ScalingPolicy,
    /// Delete Ferry's policy (the service no longer autoscales).
    RemoveScalingPolicy,
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

/// What must change for AWS to match `plan`; empty when nothing.
pub fn diff(plan: &Plan, observed: &Observed) -> Vec<Change> {
    let mut changes = Vec::new();
    let service = &observed.service;
    // A revision whose rollout failed and was rolled back is not deployed again until the
    // spec changes: that would fail the same way, over and over.
    let failed_is_planned = observed
        .failed_task_definition
        .as_ref()
        .is_some_and(|t| t.is_planned(plan));
    let deployed = observed
        .task_definition
        .as_ref()
        .is_some_and(|t| t.is_planned(plan));
    if !deployed && !failed_is_planned {
        changes.push(Change::TaskDefinition);
    }
    let want = &plan.service;
    let vpc = &want.network_configuration.awsvpc_configuration;
    let capacity_matches = if want.capacity_provider_strategy.is_empty() {
        service.launch_type.as_deref() == Some("FARGATE")
            || service.capacity_providers == ["FARGATE"]
    } else {
        service.capacity_providers == ["FARGATE_SPOT"]
    };
    let service_matches = service.tags.get(TAG_FINGERPRINT) == Some(&plan.service_fingerprint)
        && capacity_matches
        && same_set(&service.subnets, &vpc.subnets)
        && same_set(&service.security_groups, &vpc.security_groups)
        && service
            .assign_public_ip
            .is_none_or(|on| on == (vpc.assign_public_ip == "ENABLED"))
        && same_set(
            &service.target_group_arns,
            &want
                .load_balancers
                .iter()
                .map(|l| l.target_group_arn.clone())
                .collect::<Vec<_>>(),
        );
    let uid_tag = |tags: &[Tag]| {
        tags.iter()
            .find(|t| t.key == TAG_UID)
            .map(|t| t.value.clone())
    };
    if !service_matches {
        changes.push(Change::Service);
    } else if service.tags.get(TAG_UID).cloned() != uid_tag(&want.tags) {
        // A service released by an earlier object of this name, now adopted.
        changes.push(Change::Tags);
    }
    let target = &plan.scalable_target;
    match &observed.scaling {
        Some(s) if s.min == target.min_capacity && s.max == target.max_capacity => {}
        _ => changes.push(Change::ScalableTarget),
    }
    let policy = observed.scaling.as_ref().and_then(|s| s.policy.as_ref());
    match (&plan.scaling_policy, policy) {
        (Some(want), Some(have)) if policy_matches(want, have) => {}
        (Some(_), _) => changes.push(Change::ScalingPolicy),
        (None, Some(_)) => changes.push(Change::RemoveScalingPolicy),
        (None, None) => {}
    }
    changes
}

fn policy_matches(want: &ScalingPolicy, have: &ObservedPolicy) -> bool {
    let tracking = &want.target_tracking_scaling_policy_configuration;
    let metric = &tracking.predefined_metric_specification;
    have.metric == metric.predefined_metric_type
        && (have.target_value - tracking.target_value).abs() < f64::EPSILON
        && have
            .scale_in_cooldown
            .is_none_or(|c| c == tracking.scale_in_cooldown)
        && have.resource_label == metric.resource_label
}

/// What the observed service means in Ferry's terms, and what goes into status.
pub fn readiness(plan: &Plan, observed: &Observed) -> (Readiness, Outputs) {
    let service = &observed.service;
    let revision = observed
        .task_definition
        .as_ref()
        .map(|t| format!("{}:{}", t.family, t.revision));
    let completed = service
        .rollout
        .as_ref()
        .is_some_and(|r| r.state == "COMPLETED");
    let outputs = Outputs {
        url: None,
        address_url: None,
        latest_ready_revision: if completed { revision.clone() } else { None },
        resource_id: Some(service.arn.clone()).filter(|a| !a.is_empty()),
        instances: Some((service.desired_count, service.running_count)),
        operation: None,
    };
    (
        service_readiness(plan, observed, revision.as_deref()),
        outputs,
    )
}

fn service_readiness(plan: &Plan, observed: &Observed, revision: Option<&str>) -> Readiness {
    let service = &observed.service;
    if let Some(failed) = &service.failed_rollout
        && observed
            .failed_task_definition
            .as_ref()
            .is_some_and(|t| t.is_planned(plan))
    {
        return failed_readiness(failed, &service.events);
    }
    let revision = revision.unwrap_or("the task definition");
    let Some(rollout) = &service.rollout else {
        return Readiness::Progressing("waiting for ECS to start a deployment".into());
    };
    match rollout.state.as_str() {
        "FAILED" => failed_readiness(rollout, &service.events),
        "COMPLETED" if service.running_count >= service.desired_count => Readiness::Ready,
        "COMPLETED" => Readiness::Progressing(format!(
            "{} of {} tasks of {revision} running",
            service.running_count, service.desired_count
        )),
        _ => Readiness::Progressing(format!(
            "ECS is rolling out {revision}: {} of {} tasks running{}",
            service.running_count,
            service.desired_count,
            rollout
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )),
    }
}

fn failed_readiness(rollout: &Rollout, events: &[String]) -> Readiness {
    let reason_text = rollout
        .reason
        .clone()
        .unwrap_or_else(|| "the ECS deployment failed".into());
    // The rollout reason names the circuit breaker; the service events name the cause.
    let all = std::iter::once(reason_text.as_str())
        .chain(events.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let reason = if all.contains("CannotPullContainer") || all.contains("pull image") {
        reasons::IMAGE_NOT_FOUND
    } else if all.contains("failed container health checks")
        || all.contains("Essential container")
        || all.contains("tasks failed to start")
    {
        reasons::CONTAINER_FAILED
    } else {
        reasons::REVISION_FAILED
    };
    let message = match events.first() {
        Some(event) if !reason_text.contains(event.as_str()) => {
            format!("{}: {event}", reason_text.trim_end_matches('.'))
        }
        _ => reason_text,
    };
    Readiness::Failed { reason, message }
}
