//! Where a service runs: the region, cluster, networking, roles and log group, from the
//! service's own `spec.fargate` settings over its ProviderConfig's defaults, or why they
//! cannot make a service.

use crate::model::FargateModel;
use ferry_api::FargateProviderConfig;
use ferry_core::desired::{Desired, EnvValue, VolumeSource};

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
pub(crate) fn fargate(want: &Desired) -> Result<&FargateModel, AccountError> {
    want.backend
        .get::<FargateModel>()
        .ok_or(AccountError::NotFargate)
}

/// Whether `want` mounts an EFS file system with IAM authorization, which needs a task role.
pub(crate) fn mounts_efs_with_iam(want: &Desired) -> bool {
    want.volumes
        .iter()
        .any(|v| matches!(&v.source, VolumeSource::Efs(e) if e.iam == Some(true)))
}

/// The account settings for `want` under ProviderConfig `config_name`.
pub(crate) fn account(
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
    let task_role_arn = own.task_role_arn.clone().or(defaults.task_role_arn);
    if task_role_arn.is_none() && mounts_efs_with_iam(want) {
        // ECS mounts an EFS volume with IAM authorization as the task role (botocore's ECS
        // model, EFSAuthorizationConfig.iam), so there must be one.
        return Err(missing(
            "taskRoleArn",
            "an efs volume with iam: true mounts as the task role: give an IAM role ARN \
             (arn:aws:iam::ACCOUNT:role/NAME) that the file system's policy allows \
             (elasticfilesystem:ClientMount, and ClientWrite unless read-only)",
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
        task_role_arn,
        log_group,
    })
}
