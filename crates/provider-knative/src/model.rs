//! Knative's own desired settings: `spec.knative` with its defaults, as validation built them
//! for the builders (carried in `Desired::backend`).

use std::collections::BTreeMap;

use ferry_api::AutoscalerClass;

/// Knative settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnativeModel {
    /// The autoscaler class, chosen from the metric unless set.
    pub autoscaler_class: AutoscalerClass,
    /// Ingress class override.
    pub ingress_class: Option<String>,
    /// Pod service account.
    pub service_account_name: Option<String>,
    /// Node selector.
    pub node_selector: BTreeMap<String, String>,
    /// Extra revision-template annotations.
    pub annotations: BTreeMap<String, String>,
}
