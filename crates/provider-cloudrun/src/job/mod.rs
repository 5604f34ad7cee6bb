//! `ServerlessJob`s on Cloud Run: a Cloud Run Job (Admin API v2) per object, one execution per
//! run, and a Cloud Scheduler job for a schedule. [`build`] is pure (the requests, what Cloud
//! Run's answers mean); [`client`] sends them.

pub mod build;
pub mod client;
