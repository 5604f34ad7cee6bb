//! The Cloud Run builder: the Admin API v2 Service it builds for each part of a spec (table
//! tests on the Service JSON), the project and region, names, labels and annotations, the
//! fingerprint, `diff` against what Cloud Run describes (with property tests), `readiness`,
//! the invoker IAM binding, snapshots of every object's requests, and every built Service
//! checked against Google's own protos; `job_cost`: a job run's and a schedule's month figures;
//! `volumes`: each kind Cloud Run mounts, for services and jobs, and what it refuses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod account;
mod common;
mod diff;
mod iam;
mod job;
mod job_cost;
mod labels;
mod proto;
mod readiness;
mod service;
mod snapshots;
mod volumes;
