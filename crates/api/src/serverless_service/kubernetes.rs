//! `spec.kubernetes`: the settings of the plain Kubernetes backend (a Deployment, Service and
//! HorizontalPodAutoscaler in this cluster), including EKS Fargate profiles.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::schema::DNS_SUBDOMAIN;

/// Settings of the plain Kubernetes backend.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesSpec {
    /// The IngressClass of the Ingress made for `ingress: public`, e.g. `alb` for the AWS Load
    /// Balancer Controller (Ferry then asks it for `target-type: ip`, which Fargate pods need)
    /// or `nginx`. Default: the cluster's default IngressClass.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_class_name: Option<String>,

    /// The host name the Ingress serves, e.g. `hello.example.com`. Default: any host; the URL
    /// is then the load balancer's address once it has one.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,

    /// Extra annotations on the Ingress, for the ingress controller's own settings (e.g.
    /// `alb.ingress.kubernetes.io/certificate-arn`).
    #[schemars(extend("maxProperties" = 64))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_annotations: Option<BTreeMap<String, String>>,

    /// An EKS Fargate profile the pods should match: its labels go on the pods, so EKS runs
    /// each on its own Fargate micro-VM, and the EKS-on-Fargate pod rules apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fargate_profile: Option<FargateProfileSelector>,

    /// The Kubernetes ServiceAccount the pods run as. Default: `default`.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,

    /// Node labels the pods must run on.
    #[schemars(extend("maxProperties" = 32))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,

    /// A VerticalPodAutoscaler (`autoscaling.k8s.io/v1`) for the Deployment: with `updateMode:
    /// Off` it only recommends sizes (the way to size Fargate pods), otherwise it also resizes
    /// them. Needs the VPA installed in the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertical_pod_autoscaler: Option<VerticalPodAutoscalerSpec>,
}

/// The labels of an EKS Fargate profile's selector.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FargateProfileSelector {
    /// The labels the profile's selector matches (with the namespace), put on every pod; `{}`
    /// for a profile that selects the namespace alone.
    #[schemars(extend("maxProperties" = 5))]
    pub labels: BTreeMap<String, String>,
}

/// The VerticalPodAutoscaler Ferry makes for the Deployment.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VerticalPodAutoscalerSpec {
    /// What the VPA does with its recommendations: `Off` (recommend only), `Initial` (size pods
    /// when they are created), `Recreate` (also evict pods to resize them). Default: `Off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_mode: Option<VpaUpdateMode>,
}

/// A VerticalPodAutoscaler's `updatePolicy.updateMode`.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
pub enum VpaUpdateMode {
    /// Recommend only.
    #[default]
    Off,
    /// Size pods when they are created.
    Initial,
    /// Size pods when they are created and evict running ones to resize them.
    Recreate,
}

impl VpaUpdateMode {
    /// The value the VPA's `updatePolicy.updateMode` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            VpaUpdateMode::Off => "Off",
            VpaUpdateMode::Initial => "Initial",
            VpaUpdateMode::Recreate => "Recreate",
        }
    }
}
