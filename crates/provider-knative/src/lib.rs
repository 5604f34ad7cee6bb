//! Ferry's Knative Serving backend, everything Ferry knows about the provider: [`Knative`] is
//! its descriptor; [`validate`] and [`limits`] its rules, [`capabilities`] its column of the
//! capability table; [`build`] turns the desired model into a `serving.knative.dev/v1` Service
//! and reads one back (pure); the client applies and observes it. [`features`] says which of
//! Knative's feature flags the volumes need; `ferry_provider::cluster_volumes` (shared with
//! the plain Kubernetes backend) maps `spec.volumes`.

mod backend;
pub mod build;
mod capabilities;
pub mod client;
pub mod cost;
pub mod features;
pub mod limits;
pub mod model;
mod validate;

pub use backend::Knative;
