//! The Knative builder: the Service it builds for each part of a spec (table tests, every
//! object checked against Knative's real CRD), snapshots of whole Services, `is_up_to_date`
//! against Knative-style live objects, `readiness` on hand-written Knative statuses, and
//! volumes (with their claims, feature flags and refusals).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;
mod readiness;
mod service;
mod snapshots;
mod up_to_date;
mod volumes;
