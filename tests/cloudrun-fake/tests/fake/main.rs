//! The fake Cloud Run Admin API v2 and Cloud Scheduler API v1, driven by the real
//! `google-cloud-run-v2` and `google-cloud-scheduler-v1` clients.
//!
//! One fake serves the whole binary ([`CloudRunFake::shared`]); each test works in a project
//! named after it and looks only at that project's calls, so the tests can run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod executions;
mod faults;
mod iam;
mod job_support;
mod jobs;
mod process;
mod scheduler;
mod services;
mod strictness;
mod support;
