//! The requests [`crate::build`] makes, sent with the AWS SDK. Each function is one AWS call
//! (or a short fixed sequence), translates Ferry's request types into the SDK's builders, and
//! classifies what went wrong. Removals treat "already gone" as success, so a retried delete
//! is harmless.

use aws_sdk_applicationautoscaling as aas;
use aws_sdk_ecs as ecs;
use aws_sdk_ecs::error::ProvideErrorMetadata;
use ferry_api::conditions::reasons;
use ferry_provider::ProviderError;

use super::aws::classify;
use crate::build::{
    CapacityProviderItem, ContainerDefinition, DeploymentConfiguration, LoadBalancer,
    NetworkConfiguration, ScalableTarget, ScalingPolicy, ServiceRequest, Tag, TaskDefinition,
    UpdateServiceRequest, Volume,
};

/// The SDK refused to build a request Ferry made: a bug in Ferry, reported as such.
pub(crate) fn built<T>(
    operation: &'static str,
    result: Result<T, ecs::error::BuildError>,
) -> Result<T, ProviderError> {
    result.map_err(|e| ProviderError::Terminal {
        reason: reasons::PROVIDER_ERROR,
        message: format!("{operation}: Ferry built an incomplete request ({e}); please report it"),
        recheck: None,
    })
}

pub(crate) fn ecs_tags(tags: &[Tag]) -> Vec<ecs::types::Tag> {
    tags.iter()
        .map(|t| {
            ecs::types::Tag::builder()
                .key(&t.key)
                .value(&t.value)
                .build()
        })
        .collect()
}

fn container(c: &ContainerDefinition) -> Result<ecs::types::ContainerDefinition, ProviderError> {
    const OP: &str = "RegisterTaskDefinition";
    let mut b = ecs::types::ContainerDefinition::builder()
        .name(&c.name)
        .image(&c.image)
        .essential(c.essential)
        .set_cpu(c.cpu)
        .set_memory(c.memory)
        .set_entry_point((!c.entry_point.is_empty()).then(|| c.entry_point.clone()))
        .set_command((!c.command.is_empty()).then(|| c.command.clone()));
    for p in &c.port_mappings {
        b = b.port_mappings(
            ecs::types::PortMapping::builder()
                .container_port(p.container_port)
                .protocol(ecs::types::TransportProtocol::from(p.protocol.as_str()))
                .name(&p.name)
                .build(),
        );
    }
    for e in &c.environment {
        b = b.environment(
            ecs::types::KeyValuePair::builder()
                .name(&e.name)
                .value(&e.value)
                .build(),
        );
    }
    for s in &c.secrets {
        b = b.secrets(built(
            OP,
            ecs::types::Secret::builder()
                .name(&s.name)
                .value_from(&s.value_from)
                .build(),
        )?);
    }
    for m in &c.mount_points {
        b = b.mount_points(
            ecs::types::MountPoint::builder()
                .source_volume(&m.source_volume)
                .container_path(&m.container_path)
                .read_only(m.read_only)
                .build(),
        );
    }
    if let Some(logs) = &c.log_configuration {
        b = b.log_configuration(built(
            OP,
            ecs::types::LogConfiguration::builder()
                .log_driver(ecs::types::LogDriver::from(logs.log_driver.as_str()))
                .set_options(Some(logs.options.clone().into_iter().collect()))
                .build(),
        )?);
    }
    if let Some(h) = &c.health_check {
        b = b.health_check(built(
            OP,
            ecs::types::HealthCheck::builder()
                .set_command(Some(h.command.clone()))
                .set_interval(h.interval)
                .set_timeout(h.timeout)
                .set_retries(h.retries)
                .set_start_period(h.start_period)
                .build(),
        )?);
    }
    Ok(b.build())
}

/// A task definition's `volumes` entry: a name alone (a bind mount on the task's ephemeral
/// storage) or an EFS file system.
fn volume(v: &Volume) -> Result<ecs::types::Volume, ProviderError> {
    let efs = v
        .efs_volume_configuration
        .as_ref()
        .map(|efs| {
            let authorization = efs.authorization_config.as_ref().map(|a| {
                ecs::types::EfsAuthorizationConfig::builder()
                    .set_access_point_id(a.access_point_id.clone())
                    .iam(ecs::types::EfsAuthorizationConfigIam::from(a.iam.as_str()))
                    .build()
            });
            built(
                "RegisterTaskDefinition",
                ecs::types::EfsVolumeConfiguration::builder()
                    .file_system_id(&efs.file_system_id)
                    .set_root_directory(efs.root_directory.clone())
                    .transit_encryption(ecs::types::EfsTransitEncryption::from(
                        efs.transit_encryption.as_str(),
                    ))
                    .set_authorization_config(authorization)
                    .build(),
            )
        })
        .transpose()?;
    Ok(ecs::types::Volume::builder()
        .name(&v.name)
        .set_efs_volume_configuration(efs)
        .build())
}

/// Registers a task definition revision; its ARN.
pub(crate) async fn register_task_definition(
    client: &ecs::Client,
    td: &TaskDefinition,
) -> Result<String, ProviderError> {
    const OP: &str = "RegisterTaskDefinition";
    let containers = td
        .container_definitions
        .iter()
        .map(container)
        .collect::<Result<Vec<_>, _>>()?;
    let volumes = td
        .volumes
        .iter()
        .map(volume)
        .collect::<Result<Vec<_>, _>>()?;
    let storage = td.ephemeral_storage.as_ref().map(|s| {
        ecs::types::EphemeralStorage::builder()
            .size_in_gib(s.size_in_gi_b)
            .build()
    });
    let answer = client
        .register_task_definition()
        .family(&td.family)
        .set_task_role_arn(td.task_role_arn.clone())
        .set_execution_role_arn(td.execution_role_arn.clone())
        .network_mode(ecs::types::NetworkMode::from(td.network_mode.as_str()))
        .set_requires_compatibilities(Some(
            td.requires_compatibilities
                .iter()
                .map(|c| ecs::types::Compatibility::from(c.as_str()))
                .collect(),
        ))
        .cpu(&td.cpu)
        .memory(&td.memory)
        .runtime_platform(
            ecs::types::RuntimePlatform::builder()
                .cpu_architecture(ecs::types::CpuArchitecture::from(
                    td.runtime_platform.cpu_architecture.as_str(),
                ))
                .operating_system_family(ecs::types::OsFamily::from(
                    td.runtime_platform.operating_system_family.as_str(),
                ))
                .build(),
        )
        .set_ephemeral_storage(storage)
        .set_volumes((!volumes.is_empty()).then_some(volumes))
        .set_container_definitions(Some(containers))
        .set_tags(Some(ecs_tags(&td.tags)))
        .send()
        .await
        .map_err(|e| classify(OP, &e))?;
    answer
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .map(str::to_owned)
        .ok_or_else(|| ProviderError::Transient {
            operation: OP,
            message: "the answer named no task definition ARN".into(),
        })
}

pub(crate) fn strategy(
    items: &[CapacityProviderItem],
) -> Result<Option<Vec<ecs::types::CapacityProviderStrategyItem>>, ProviderError> {
    if items.is_empty() {
        return Ok(None);
    }
    items
        .iter()
        .map(|i| {
            built(
                "CreateService",
                ecs::types::CapacityProviderStrategyItem::builder()
                    .capacity_provider(&i.capacity_provider)
                    .weight(i.weight)
                    .build(),
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

pub(crate) fn network(
    n: &NetworkConfiguration,
) -> Result<ecs::types::NetworkConfiguration, ProviderError> {
    let vpc = &n.awsvpc_configuration;
    let awsvpc = built(
        "CreateService",
        ecs::types::AwsVpcConfiguration::builder()
            .set_subnets(Some(vpc.subnets.clone()))
            .set_security_groups(
                (!vpc.security_groups.is_empty()).then(|| vpc.security_groups.clone()),
            )
            .assign_public_ip(ecs::types::AssignPublicIp::from(
                vpc.assign_public_ip.as_str(),
            ))
            .build(),
    )?;
    Ok(ecs::types::NetworkConfiguration::builder()
        .awsvpc_configuration(awsvpc)
        .build())
}

fn load_balancers(lbs: &[LoadBalancer]) -> Vec<ecs::types::LoadBalancer> {
    lbs.iter()
        .map(|l| {
            ecs::types::LoadBalancer::builder()
                .target_group_arn(&l.target_group_arn)
                .container_name(&l.container_name)
                .container_port(l.container_port)
                .build()
        })
        .collect()
}

fn deployment(d: &DeploymentConfiguration) -> ecs::types::DeploymentConfiguration {
    ecs::types::DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            ecs::types::DeploymentCircuitBreaker::builder()
                .enable(d.deployment_circuit_breaker.enable)
                .rollback(d.deployment_circuit_breaker.rollback)
                .build(),
        )
        .maximum_percent(d.maximum_percent)
        .minimum_healthy_percent(d.minimum_healthy_percent)
        .build()
}

/// Creates the service with task definition `arn`. `token` makes a repeat of the same create
/// return the service made the first time.
pub(crate) async fn create_service(
    client: &ecs::Client,
    s: &ServiceRequest,
    arn: &str,
    token: &str,
) -> Result<(), ProviderError> {
    const OP: &str = "CreateService";
    client
        .create_service()
        .cluster(&s.cluster)
        .service_name(&s.service_name)
        .task_definition(arn)
        .client_token(token)
        .desired_count(s.desired_count)
        .set_launch_type(s.launch_type.as_deref().map(ecs::types::LaunchType::from))
        .set_capacity_provider_strategy(strategy(&s.capacity_provider_strategy)?)
        .platform_version(&s.platform_version)
        .network_configuration(network(&s.network_configuration)?)
        .set_load_balancers(
            (!s.load_balancers.is_empty()).then(|| load_balancers(&s.load_balancers)),
        )
        .deployment_configuration(deployment(&s.deployment_configuration))
        .set_health_check_grace_period_seconds(s.health_check_grace_period_seconds)
        .scheduling_strategy(ecs::types::SchedulingStrategy::from(
            s.scheduling_strategy.as_str(),
        ))
        .propagate_tags(ecs::types::PropagateTags::from(s.propagate_tags.as_str()))
        .enable_ecs_managed_tags(s.enable_ecs_managed_tags)
        .set_tags(Some(ecs_tags(&s.tags)))
        .send()
        .await
        .map_err(|e| classify(OP, &e))?;
    Ok(())
}

/// Deploys a new task definition and settings to an existing service.
pub(crate) async fn update_service(
    client: &ecs::Client,
    u: &UpdateServiceRequest,
) -> Result<(), ProviderError> {
    const OP: &str = "UpdateService";
    client
        .update_service()
        .cluster(&u.cluster)
        .service(&u.service)
        .task_definition(&u.task_definition)
        .set_capacity_provider_strategy(strategy(&u.capacity_provider_strategy)?)
        .platform_version(&u.platform_version)
        .network_configuration(network(&u.network_configuration)?)
        .set_load_balancers(Some(load_balancers(&u.load_balancers)))
        .deployment_configuration(deployment(&u.deployment_configuration))
        .set_health_check_grace_period_seconds(u.health_check_grace_period_seconds)
        .propagate_tags(ecs::types::PropagateTags::from(u.propagate_tags.as_str()))
        .enable_ecs_managed_tags(u.enable_ecs_managed_tags)
        .force_new_deployment(u.force_new_deployment)
        .send()
        .await
        .map_err(|e| classify(OP, &e))?;
    Ok(())
}

/// Sets `tags` on an ECS resource (other tags stay).
pub(crate) async fn tag(
    client: &ecs::Client,
    arn: &str,
    tags: &[Tag],
) -> Result<(), ProviderError> {
    client
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(ecs_tags(tags)))
        .send()
        .await
        .map_err(|e| classify("TagResource", &e))?;
    Ok(())
}

/// Removes the tags `keys` from an ECS resource.
pub(crate) async fn untag(
    client: &ecs::Client,
    arn: &str,
    keys: &[&str],
) -> Result<(), ProviderError> {
    client
        .untag_resource()
        .resource_arn(arn)
        .set_tag_keys(Some(keys.iter().map(|k| (*k).to_owned()).collect()))
        .send()
        .await
        .map_err(|e| classify("UntagResource", &e))?;
    Ok(())
}

/// Registers (or re-registers with new bounds) the service's scalable target.
pub(crate) async fn register_scalable_target(
    client: &aas::Client,
    t: &ScalableTarget,
) -> Result<(), ProviderError> {
    client
        .register_scalable_target()
        .service_namespace(aas::types::ServiceNamespace::from(
            t.service_namespace.as_str(),
        ))
        .resource_id(&t.resource_id)
        .scalable_dimension(aas::types::ScalableDimension::from(
            t.scalable_dimension.as_str(),
        ))
        .min_capacity(t.min_capacity)
        .max_capacity(t.max_capacity)
        .send()
        .await
        .map_err(|e| classify("RegisterScalableTarget", &e))?;
    Ok(())
}

/// Creates or replaces Ferry's target-tracking policy.
pub(crate) async fn put_scaling_policy(
    client: &aas::Client,
    p: &ScalingPolicy,
) -> Result<(), ProviderError> {
    const OP: &str = "PutScalingPolicy";
    let tracking = &p.target_tracking_scaling_policy_configuration;
    let metric = &tracking.predefined_metric_specification;
    let metric = built(
        OP,
        aas::types::PredefinedMetricSpecification::builder()
            .predefined_metric_type(aas::types::MetricType::from(
                metric.predefined_metric_type.as_str(),
            ))
            .set_resource_label(metric.resource_label.clone())
            .build(),
    )?;
    let configuration = built(
        OP,
        aas::types::TargetTrackingScalingPolicyConfiguration::builder()
            .target_value(tracking.target_value)
            .predefined_metric_specification(metric)
            .scale_in_cooldown(tracking.scale_in_cooldown)
            .scale_out_cooldown(tracking.scale_out_cooldown)
            .build(),
    )?;
    client
        .put_scaling_policy()
        .policy_name(&p.policy_name)
        .service_namespace(aas::types::ServiceNamespace::from(
            p.service_namespace.as_str(),
        ))
        .resource_id(&p.resource_id)
        .scalable_dimension(aas::types::ScalableDimension::from(
            p.scalable_dimension.as_str(),
        ))
        .policy_type(aas::types::PolicyType::from(p.policy_type.as_str()))
        .target_tracking_scaling_policy_configuration(configuration)
        .send()
        .await
        .map_err(|e| classify(OP, &e))?;
    Ok(())
}

/// A removal's result: done when it succeeded or when the thing was already gone.
fn removed<T, E>(
    operation: &'static str,
    result: Result<T, ecs::error::SdkError<E>>,
) -> Result<(), ProviderError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Err(e) if !already_gone(&e) => Err(classify(operation, &e)),
        _ => Ok(()),
    }
}

/// Whether an error says the thing to remove is not there.
pub(crate) fn already_gone<E: ProvideErrorMetadata>(error: &ecs::error::SdkError<E>) -> bool {
    matches!(
        error
            .as_service_error()
            .and_then(ProvideErrorMetadata::code),
        Some("ObjectNotFoundException" | "ServiceNotFoundException" | "ServiceNotActiveException")
    )
}

/// Deletes Ferry's policy of a service.
pub(crate) async fn delete_scaling_policy(
    client: &aas::Client,
    name: &str,
    resource_id: &str,
) -> Result<(), ProviderError> {
    let result = client
        .delete_scaling_policy()
        .policy_name(name)
        .service_namespace(aas::types::ServiceNamespace::Ecs)
        .resource_id(resource_id)
        .scalable_dimension(aas::types::ScalableDimension::EcsServiceDesiredCount)
        .send()
        .await;
    removed("DeleteScalingPolicy", result)
}

/// Deregisters a service's scalable target (which deletes its policies too).
pub(crate) async fn deregister_scalable_target(
    client: &aas::Client,
    resource_id: &str,
) -> Result<(), ProviderError> {
    let result = client
        .deregister_scalable_target()
        .service_namespace(aas::types::ServiceNamespace::Ecs)
        .resource_id(resource_id)
        .scalable_dimension(aas::types::ScalableDimension::EcsServiceDesiredCount)
        .send()
        .await;
    removed("DeregisterScalableTarget", result)
}

/// Scales a service to zero, so ECS stops its tasks, then deletes it; ECS drains it
/// (`DRAINING`) and later reports it `INACTIVE`.
pub(crate) async fn scale_to_zero_and_delete(
    client: &ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<(), ProviderError> {
    let scaled = client
        .update_service()
        .cluster(cluster)
        .service(service)
        .desired_count(0)
        .send()
        .await;
    removed("UpdateService", scaled)?;
    let deleted = client
        .delete_service()
        .cluster(cluster)
        .service(service)
        .send()
        .await;
    removed("DeleteService", deleted)
}

/// The ACTIVE revisions of `family`, by ARN.
pub(crate) async fn active_revisions(
    client: &ecs::Client,
    family: &str,
) -> Result<Vec<String>, ProviderError> {
    let mut arns = Vec::new();
    let mut pages = client
        .list_task_definitions()
        .family_prefix(family)
        .status(ecs::types::TaskDefinitionStatus::Active)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("ListTaskDefinitions", &e))?;
        arns.extend(
            page.task_definition_arns()
                .iter()
                // `familyPrefix` may match longer family names: keep this family's only.
                .filter(|arn| family_of(arn) == Some(family))
                .cloned(),
        );
    }
    Ok(arns)
}

/// `FAMILY` of `arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION`.
pub(crate) fn family_of(arn: &str) -> Option<&str> {
    let (_, rest) = arn.rsplit_once("task-definition/")?;
    Some(rest.rsplit_once(':').map_or(rest, |(family, _)| family))
}

/// Deregisters one task definition revision.
pub(crate) async fn deregister_task_definition(
    client: &ecs::Client,
    arn: &str,
) -> Result<(), ProviderError> {
    client
        .deregister_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(|e| classify("DeregisterTaskDefinition", &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_is_read_from_a_task_definition_arn() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/shop_web:7";
        assert_eq!(family_of(arn), Some("shop_web"));
        assert_eq!(family_of("shop_web:7"), None);
    }
}
