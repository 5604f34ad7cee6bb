//! Ferry's Knative Serving backend: [`build`] turns the desired model into a
//! `serving.knative.dev/v1` Service and reads one back (pure); the client applies and observes
//! it.

pub mod build;
pub mod client;
