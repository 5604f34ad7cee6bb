//! AWS Fargate's descriptor: what Ferry knows about the provider, in one value.

use std::sync::Arc;

use ferry_api::{
    FargateAccountSettings, FargateProviderConfig, Provider, ProviderConfigSpec, ScalingMetric,
    SecretKeySelector, SecretRef, ServerlessServiceSpec,
};
use ferry_core::Findings;
use ferry_core::backend::{BackendModel, EstimateInput, Parts, Rules, ScalingDefaults};
use ferry_core::capabilities::{Feature, JobFeature, Support};
use ferry_core::cost::Priced;
use ferry_core::cost::prices::PriceRegions;
use ferry_core::desired::{Desired, ObjectRef, SecretSource};
use ferry_core::job::cost::RunInput;
use ferry_core::job::{DesiredJob, JobParts};
use ferry_provider::Connector;
use ferry_provider::backend::{Backend, Environment, Rendered, placeholder, placeholder_note};

use crate::{
    CallSettings, FargateConnector, Settings, build, capabilities, cost, limits, validate,
};

/// AWS ECS on Fargate, with Application Auto Scaling.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fargate;

impl Rules for Fargate {
    fn provider(&self) -> Provider {
        Provider::Fargate
    }

    fn support(&self, feature: Feature) -> Support {
        capabilities::support(feature)
    }

    fn job_support(&self, feature: JobFeature) -> Support {
        capabilities::job_support(feature)
    }

    /// Tasks run whether or not requests come, so a service has a fixed count unless it asks
    /// for target tracking, which scales on CPU by default.
    fn scaling_defaults(&self) -> ScalingDefaults {
        ScalingDefaults {
            min_instances: limits::MIN_INSTANCES,
            metric: ScalingMetric::Cpu,
            max_is_min: true,
        }
    }

    fn secret(
        &self,
        findings: &mut Findings,
        path: &str,
        secret: &SecretRef,
        spec: &ServerlessServiceSpec,
    ) -> Option<SecretSource> {
        validate::secret(findings, path, secret, spec.fargate.as_ref())
    }

    fn check(
        &self,
        findings: &mut Findings,
        _object: &ObjectRef,
        parts: &Parts<'_>,
    ) -> Option<BackendModel> {
        validate::check(findings, parts).map(BackendModel::new)
    }

    fn check_job(
        &self,
        findings: &mut Findings,
        _object: &ObjectRef,
        parts: &JobParts<'_>,
    ) -> Option<BackendModel> {
        validate::check_job(findings, parts).map(BackendModel::new)
    }

    fn embedded_prices(&self) -> &'static str {
        cost::EMBEDDED
    }

    fn check_prices(&self, entries: &[serde_json::Value]) -> Vec<String> {
        cost::check_prices(entries)
    }

    fn estimate(&self, input: &EstimateInput<'_>) -> Priced {
        cost::estimate(input)
    }

    /// Sized up to the task the estimate prices.
    fn as_priced(&self, spec: ServerlessServiceSpec) -> ServerlessServiceSpec {
        cost::as_priced(spec)
    }

    fn price_regions(&self) -> PriceRegions {
        PriceRegions::Named {
            pattern: ferry_api::AWS_REGION,
            example: "us-east-1",
            field: "a ProviderConfig's spec.fargate.region",
        }
    }

    fn estimate_run(&self, input: &RunInput<'_>) -> Priced {
        cost::estimate_run(input)
    }

    /// The region, cluster and endpoint: the ECS services one object's name maps to.
    fn location(&self, config: &ProviderConfigSpec) -> Option<String> {
        let f = config.fargate.as_ref()?;
        Some(format!(
            "{}/{}/{}",
            f.region,
            f.cluster,
            f.endpoint.as_deref().unwrap_or_default()
        ))
    }

    fn region(
        &self,
        _spec: &ServerlessServiceSpec,
        config: Option<&ProviderConfigSpec>,
    ) -> Option<String> {
        Some(config?.fargate.as_ref()?.region.clone())
    }
}

impl Backend for Fargate {
    fn connector(&self, env: &Environment) -> Arc<dyn Connector> {
        Arc::new(FargateConnector::new(
            env.client.clone(),
            Settings {
                operator_namespace: env.operator_namespace.clone(),
                // Objects that resync within a quarter of the interval of each other share one
                // DescribeServices (see the client's directory).
                snapshot_max_age: env.resync / 4,
                calls: CallSettings::default(),
            },
        ))
    }

    fn secret_refs<'a>(&self, config: &'a ProviderConfigSpec) -> Vec<&'a SecretKeySelector> {
        config
            .fargate
            .iter()
            .filter_map(|f| f.credentials.as_ref()?.secret_ref.as_ref())
            .collect()
    }

    fn render_job(
        &self,
        desired: &DesiredJob,
        config_name: &str,
        config: Option<&ProviderConfigSpec>,
    ) -> Result<Rendered, String> {
        let needs_task_role = build::mounts_efs_with_iam(&crate::job::build::workload(desired));
        let (section, note) = match config.and_then(|c| c.fargate.clone()) {
            Some(section) => (section, String::new()),
            None => (
                placeholders(config_name, needs_task_role),
                placeholder_note(config_name),
            ),
        };
        let rendered = crate::job::build::rendered(desired, &section, config_name)?;
        let what = if desired.schedule.is_some() {
            "the schedule that starts its runs (EventBridge Scheduler answers its ARN)"
        } else {
            "the RunTask of the first task of its run (one RunTask per task and attempt, each \
             with its own clientToken)"
        };
        Ok(Rendered {
            comment: format!(
                "The AWS requests Ferry sends for ServerlessJob {}: its task definition, and \
                 {what}; placeholders stand for the ARNs AWS answers{note}",
                desired.object.name
            ),
            body: serde_json::to_string_pretty(&rendered).map_err(|e| e.to_string())?,
        })
    }

    fn render(
        &self,
        desired: &Desired,
        config_name: &str,
        config: Option<&ProviderConfigSpec>,
    ) -> Result<Rendered, String> {
        let (section, note) = match config.and_then(|c| c.fargate.clone()) {
            Some(section) => (section, String::new()),
            None => (
                placeholders(config_name, build::mounts_efs_with_iam(desired)),
                placeholder_note(config_name),
            ),
        };
        let requests =
            build::requests(desired, &section, config_name).map_err(|e| e.to_string())?;
        Ok(Rendered {
            comment: format!(
                "The AWS requests Ferry sends for ServerlessService {} (createService also \
                 carries the registered taskDefinition ARN and a clientToken){note}",
                desired.object.name
            ),
            body: serde_json::to_string_pretty(&requests.rendered()).map_err(|e| e.to_string())?,
        })
    }
}

/// A ProviderConfig's Fargate section made of placeholders, for a render without it; with a
/// task role when the object needs one (an efs volume with IAM authorization), which a
/// ProviderConfig's defaults may give.
fn placeholders(config_name: &str, needs_task_role: bool) -> FargateProviderConfig {
    let of = |what: &str| placeholder(what, config_name);
    FargateProviderConfig {
        region: of("region"),
        cluster: of("cluster"),
        credentials: None,
        endpoint: None,
        scheduler_role_arn: Some(of("schedulerRoleArn")),
        defaults: Some(FargateAccountSettings {
            subnets: Some(vec![of("subnets")]),
            security_groups: Some(vec![of("securityGroups")]),
            execution_role_arn: Some(of("executionRoleArn")),
            task_role_arn: needs_task_role.then(|| of("taskRoleArn")),
            log_group: None,
        }),
    }
}
