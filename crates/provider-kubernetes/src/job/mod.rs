//! `ServerlessJob`s on Kubernetes: [`build`] makes a `batch/v1` Job per run (a CronJob for a
//! schedule) and reads a live Job (with its pods, while it runs) as a run, pure; [`client`]
//! creates, applies, lists, ends (when its pods cannot start), stops and releases them.

pub mod build;
pub mod client;
