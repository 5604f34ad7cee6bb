//! The Container Apps builder and rules: what validation accepts and refuses (with the exact
//! messages), the PUT body for each part of a spec, every body checked against Microsoft's own
//! definitions by the fake ARM (`AzureFake::check_request`, also over generated specs), `diff`
//! and `readiness` against what Azure describes, the released body, snapshots of `ferry render`,
//! and cost figures worked by hand; the same for jobs (`jobs`: the job and start bodies against
//! Jobs.json and the job capability column; `job_cost`: a run's and a schedule's month figures).
//! The capability column against the CRD's CEL rules is checked
//! for every backend of the registry in crates/ferry/tests/capabilities.rs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod body;
mod common;
mod cost;
mod job_cost;
mod jobs;
mod readiness;
mod snapshots;
mod validation;
mod volumes;
