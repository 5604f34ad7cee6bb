//! Ferry's Google Cloud Run backend: [`build`] turns the desired model into the Cloud Run Admin
//! API v2 `Service` and compares what Cloud Run holds with it (pure); [`client`] resolves the
//! ProviderConfig and credentials and talks to the Admin API with `google-cloud-run-v2`.

pub mod build;
pub mod client;

pub use client::{CloudRunConnector, Settings};
