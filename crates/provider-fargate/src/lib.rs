//! Ferry's AWS Fargate backend, everything Ferry knows about the provider: [`Fargate`] is its
//! descriptor; [`validate`] and [`limits`] its rules, [`capabilities`] its column of the
//! capability table; [`build`] turns the desired model into the ECS and Application Auto
//! Scaling requests and compares what AWS holds with them (pure); the client sends them.
//! [`job`] runs `ServerlessJob`s as ECS tasks, with EventBridge Scheduler for schedules.

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

pub use backend::Fargate;
pub use client::{CallSettings, FargateConnector, Settings};
