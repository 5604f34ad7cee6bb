//! Ferry's plain Kubernetes backend, for clusters without Knative and for EKS with Fargate
//! profiles: [`Kubernetes`] is its descriptor; [`validate`] and [`limits`] its rules (the
//! EKS-on-Fargate pod rules among them), [`capabilities`] its column of the capability table;
//! [`build`] turns the desired model into a Deployment, Service, HorizontalPodAutoscaler,
//! PodDisruptionBudget, Ingress and VerticalPodAutoscaler and reads them back (pure); the client
//! applies and observes them. [`job`] runs ServerlessJobs as Jobs and CronJobs; [`pods`] tells,
//! for both, why pods cannot start; `ferry_provider::cluster_volumes` (shared with Knative) maps
//! `spec.volumes` for both and makes the PersistentVolume and claim of an efs volume.

mod backend;
pub mod build;
mod capabilities;
pub mod client;
pub mod cost;
pub mod job;
pub mod limits;
pub mod model;
pub mod pods;
mod validate;

pub use backend::Kubernetes;
