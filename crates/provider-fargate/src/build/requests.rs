//! Everything Ferry sends for one object: the account it runs in, the task definition, the
//! service and the scaling requests, each request tagged with its fingerprint, plus the form
//! `ferry render` prints and the `clientToken` that makes a repeated create harmless.

use super::account::{Account, AccountError, account, fargate};
use super::scaling::{
    ScalableTarget, ScalingPolicy, scalable_target, scaling_policy, scaling_resource_id,
};
use super::service::{ServiceRequest, service_name, service_request};
use super::tags::{base_tags, fingerprint_of, with_fingerprint};
use super::task_definition::{TaskDefinition, task_definition};
use ferry_api::FargateProviderConfig;
use ferry_core::desired::Desired;
use ferry_core::names;
use serde::Serialize;

/// Everything Ferry sends for one object.
#[derive(Clone, Debug, PartialEq)]
pub struct Requests {
    /// Where it runs.
    pub account: Account,
    /// The task definition.
    pub task_definition: TaskDefinition,
    /// Its fingerprint (also its [`TAG_FINGERPRINT`](super::TAG_FINGERPRINT) tag).
    pub task_definition_fingerprint: String,
    /// The service.
    pub service: ServiceRequest,
    /// Its fingerprint (also its [`TAG_FINGERPRINT`](super::TAG_FINGERPRINT) tag).
    pub service_fingerprint: String,
    /// The task count bounds.
    pub scalable_target: ScalableTarget,
    /// Target tracking, when `maxInstances` leaves room to scale.
    pub scaling_policy: Option<ScalingPolicy>,
}

/// Everything Ferry sends for `want`, in the account its ProviderConfig `config_name` and its
/// own `spec.fargate` settings describe.
pub fn requests(
    want: &Desired,
    config: &FargateProviderConfig,
    config_name: &str,
) -> Result<Requests, AccountError> {
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
    let scalable_target = scalable_target(want, resource_id.clone());
    let scaling_policy = (scalable_target.max_capacity > scalable_target.min_capacity)
        .then(|| scaling_policy(want, model, &name, resource_id));
    Ok(Requests {
        account,
        task_definition,
        task_definition_fingerprint,
        service,
        service_fingerprint,
        scalable_target,
        scaling_policy,
    })
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

impl Requests {
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

/// The `clientToken` of the `CreateService` in `requests`: the same for every retry of the
/// same spec, so ECS answers a repeated create with the service it already made, and different
/// when the service or its task definition differ (ECS refuses a token reused with other
/// parameters). ECS allows 36 characters.
pub fn client_token(want: &Desired, requests: &Requests) -> String {
    let uid = want.object.uid.as_deref().unwrap_or_default();
    format!(
        "ferry-{}",
        names::fingerprint(&format!(
            "{uid}/{}/{}",
            requests.service_fingerprint, requests.task_definition_fingerprint
        ))
    )
}
