//! Ferry's AWS Fargate backend: [`build`] turns the desired model into the ECS and Application
//! Auto Scaling requests and compares what AWS holds with them (pure); the client sends them.

pub mod build;
pub mod client;

pub use client::{CallSettings, FargateConnector, Settings};
