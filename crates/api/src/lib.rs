//! The `ferry.dev/v1alpha1` API: the custom resources users apply and the vocabulary of their
//! status.
//!
//! - [`ServerlessService`]: one portable service, run on Knative, AWS Fargate or Google Cloud Run.
//! - [`ServerlessJob`]: run-to-completion work, once per change of its spec or on a schedule.
//! - [`ProviderConfig`]: which cloud account, region and credentials services may use.
//! - [`conditions`]: condition types and the documented list of reasons.
//!
//! Static rules (types, ranges, patterns, cross-field CEL rules) live in the schema derived from
//! these types, so the API server refuses what can never work before Ferry sees it. This crate
//! does no I/O.

pub mod conditions;
mod provider_config;
mod quantity;
mod schema;
mod serverless_job;
mod serverless_service;

pub use provider_config::*;
pub use quantity::{QUANTITY_PATTERN, Quantity};
pub use schema::CelRule;
pub use serverless_job::*;
pub use serverless_service::*;

/// The API group of every Ferry resource.
pub const GROUP: &str = "ferry.dev";
/// The served (and stored) version.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` of every Ferry resource.
pub const API_VERSION: &str = "ferry.dev/v1alpha1";
/// The category that makes `kubectl get ferry` list every Ferry resource.
pub const CATEGORY: &str = "ferry";

/// Every Ferry CRD, in the order of their names (the order of the files in `crds/`).
pub fn crds()
-> Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>
{
    use kube::CustomResourceExt;
    vec![
        ProviderConfig::crd(),
        ServerlessJob::crd(),
        ServerlessService::crd(),
    ]
}
