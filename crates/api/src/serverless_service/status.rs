//! The ServerlessService status: what Ferry observed on the provider.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Provider;
use super::rules::list_map_by_type;

/// What Ferry observed, written only when it changes.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServerlessServiceStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// The provider this status describes: the side that serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,

    /// The ProviderConfig of the side that serves (none for an in-cluster provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_config: Option<String>,

    /// A move between providers under way, or one that failed and was rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<MigrationStatus>,

    /// Where the service answers, when the provider gives a URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,

    /// The Knative "Addressable" shape, so eventing tools can target the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Addressable>,

    /// The latest revision that became ready: a Knative or Cloud Run revision, or an ECS task
    /// definition revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_ready_revision: Option<String>,

    /// The provider's long-running operation Ferry started and waits for (a Cloud Run
    /// operation name); the next reconcile polls it rather than waiting inside this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,

    /// The provider's identifier of what Ferry manages (an ARN, a Cloud Run resource name, or a
    /// Knative Service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_ref: Option<ResourceRef>,

    /// Instance counts, where the provider reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<Instances>,

    /// `Ready`, `Synced`, and kstatus's `Reconciling` and `Stalled`.
    #[schemars(transform = list_map_by_type)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,

    /// What the service costs per month on its provider at its configured baseline: the spec
    /// at rest, with no traffic (minimum instances or tasks all month; nothing when it scales
    /// to zero), from Ferry's price table. `ferry cost` compares providers under traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_monthly_cost: Option<CostEstimate>,
}

/// A move between providers: where from, where to, how far.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MigrationStatus {
    /// The provider it leaves.
    pub from: Provider,
    /// The ProviderConfig it leaves, for a cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_provider_config: Option<String>,
    /// The provider it moves to.
    pub to: Provider,
    /// The ProviderConfig it moves to, for a cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_provider_config: Option<String>,
    /// `Creating` (the new side is being created; the old one serves), `Draining` (the new
    /// side serves; the old one keeps serving until `since` + `drainSeconds`), `RollingBack`
    /// (the new side is being removed; the old one serves), `RolledBack` (the move failed: the
    /// old side serves until the spec changes).
    pub phase: MigrationPhase,
    /// When the phase began.
    pub since: Time,
    /// The spec generation the move is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// The old side, as it served when the move began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousSide>,
    /// Why it was rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The phase of a move between providers.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
pub enum MigrationPhase {
    /// The new side is being created; the old one serves.
    Creating,
    /// The new side serves; the old one serves too until the drain ends, then goes.
    Draining,
    /// The new side failed or is no longer wanted: it is being removed; the old one serves.
    RollingBack,
    /// The move failed; the old side serves until the spec changes.
    RolledBack,
}

/// What the side a move leaves served.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PreviousSide {
    /// Its URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Its provider's identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_ref: Option<ResourceRef>,
}

/// An address in Knative's Addressable shape.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Addressable {
    /// The URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The provider's identifier of the managed resource.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRef {
    /// The identifier, e.g. `arn:aws:ecs:us-east-1:123456789012:service/prod/shop-hello`.
    pub id: String,
}

/// Instance counts.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Instances {
    /// Instances the provider wants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<i32>,
    /// Instances ready to serve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<i32>,
}

/// A monthly cost estimate.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CostEstimate {
    /// US dollars per month, a decimal string with two places, e.g. `17.30`.
    pub usd: String,
    /// What the figure assumes, in one line, e.g. `2 tasks x 1 vCPU, 2Gi, 730 h (minInstances
    /// 2; no traffic assumed), Linux/ARM64, us-east-1 prices`.
    pub basis: String,
}
