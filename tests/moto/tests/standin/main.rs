//! moto, as patched by `launcher.py`, driven through the proxy by the real AWS SDK clients.
//!
//! One moto serves the whole binary ([`Moto::shared`]); each test works in a cluster named after
//! it, with a proxy of its own, so the tests can run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod autoscaling;
mod ecs;
mod faults;
mod lifecycle;
mod scheduler;
mod support;
mod tasks;
