//! `spec.knative`: the settings only Knative Serving has.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rules::knative_rules;
use crate::schema::DNS_SUBDOMAIN;

/// Knative-only settings.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = knative_rules)]
pub struct KnativeSpec {
    /// The ingress class for this service, e.g. `kourier.ingress.networking.knative.dev`.
    /// Default: the cluster's.
    #[schemars(length(min = 1, max = 253))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_class: Option<String>,

    /// The autoscaler: `kpa` (Knative's, scales on concurrency or rps, can scale to zero) or
    /// `hpa` (Kubernetes HPA, scales on cpu or memory). Default: chosen from
    /// `spec.scaling.metric`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaler_class: Option<AutoscalerClass>,

    /// The Kubernetes ServiceAccount the pods run as. Default: `default`.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,

    /// Node labels the pods must run on, e.g. to pick GPU nodes. Needs Knative's
    /// `kubernetes.podspec-nodeselector` feature flag.
    #[schemars(extend("maxProperties" = 32))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,

    /// Extra annotations on the revision template, for Knative settings with no portable
    /// field (e.g. `autoscaling.knative.dev/window`). Annotations that Ferry derives from the
    /// spec (autoscaling class, metric, target, min/max/initial scale, scale-down delay) are
    /// refused: set them through `spec.scaling`.
    #[schemars(extend("maxProperties" = 64))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Knative autoscaler class.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum AutoscalerClass {
    /// `kpa.autoscaling.knative.dev`.
    Kpa,
    /// `hpa.autoscaling.knative.dev`.
    Hpa,
}
