//! The plain Kubernetes backend's own desired settings: `spec.kubernetes` with its defaults, as
//! validation built them for the builders (carried in `Desired::backend`).

use std::collections::BTreeMap;

use ferry_api::VpaUpdateMode;

/// Kubernetes settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubernetesModel {
    /// The Ingress's class, when set.
    pub ingress_class_name: Option<String>,
    /// The host the Ingress serves, when set.
    pub host: Option<String>,
    /// The Ingress's annotations: the user's, plus what the class needs (IP targets for the
    /// AWS Load Balancer Controller).
    pub ingress_annotations: BTreeMap<String, String>,
    /// The labels of the EKS Fargate profile the pods match; `None`: not on Fargate.
    pub fargate_labels: Option<BTreeMap<String, String>>,
    /// Pod service account.
    pub service_account_name: Option<String>,
    /// Node selector.
    pub node_selector: BTreeMap<String, String>,
    /// A VerticalPodAutoscaler with this update mode, when asked for.
    pub vpa: Option<VpaUpdateMode>,
}

impl KubernetesModel {
    /// Whether the pods run on EKS Fargate.
    pub fn on_fargate(&self) -> bool {
        self.fargate_labels.is_some()
    }
}
