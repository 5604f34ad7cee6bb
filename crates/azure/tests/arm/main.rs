//! ferry-azure against the fake Azure Resource Manager (`tests/azure-fake`): requests,
//! long-running operations, retries and faults, credentials; and, against a bare local server,
//! the headers every call carries.
//!
//! One fake serves the whole binary; each test works in a subscription of its own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod credentials;
mod faults;
mod headers;
mod requests;
mod support;
