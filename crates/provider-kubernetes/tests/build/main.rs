//! The plain Kubernetes builder: the objects it builds for each part of a spec (table tests,
//! every object checked against the schema the API server checks it with), snapshots of every
//! object of whole services, `is_up_to_date` against live objects as the API server returns
//! them, `readiness` on hand-written Deployment, Ingress and Pod statuses, and volumes (with the
//! PersistentVolume and claim of an efs volume, and the refusal table).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;
mod readiness;
mod schema;
mod service;
mod snapshots;
mod up_to_date;
mod volumes;
