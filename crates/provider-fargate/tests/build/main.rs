//! The Fargate builder: the ECS and Application Auto Scaling requests it builds for each part of a
//! spec (table tests on the request JSON), the account errors, fingerprints, `diff` against
//! what AWS describes (with a property test), `readiness`, `update_service`, every request
//! checked against botocore's service models, and snapshots of every object's requests; and the
//! same for ServerlessJobs (`jobs`): the RunTask and schedule requests, how tasks read as runs
//! and the job capability cells; what a job run costs (`job_cost`); and volumes (`volumes`):
//! each kind's task volumes and mount points for services and jobs, and the refusals.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod account;
mod botocore;
mod common;
mod diff;
mod fingerprints;
mod job_cost;
mod jobs;
mod readiness;
mod scaling;
mod service;
mod snapshots;
mod task_definition;
mod update_service;
mod volumes;
