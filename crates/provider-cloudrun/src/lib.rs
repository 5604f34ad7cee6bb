//! Ferry's Google Cloud Run backend, everything Ferry knows about the provider: [`CloudRun`]
//! is its descriptor; [`validate`] and [`limits`] its rules, [`capabilities`] its column of the
//! capability table; [`build`] turns the desired model into the Cloud Run Admin API v2
//! `Service` and compares what Cloud Run holds with it (pure); [`client`] resolves the
//! ProviderConfig and credentials and talks to the Admin API with `google-cloud-run-v2`.
//! [`job`] does the same for `ServerlessJob`s: a Cloud Run Job, its executions, and a Cloud
//! Scheduler job for a schedule.

mod backend;
pub mod build;
mod capabilities;
pub mod client;
pub mod cost;
pub mod job;
pub mod limits;
pub mod model;
pub mod names;
mod validate;

pub use backend::CloudRun;
pub use client::{CloudRunConnector, Settings};
