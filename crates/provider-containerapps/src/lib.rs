//! Ferry's Azure Container Apps backend, everything Ferry knows about the provider:
//! [`ContainerApps`] is its descriptor; [`validate`] and [`limits`] its rules, [`capabilities`]
//! its column of the capability table; [`build`] turns the desired model into the
//! `Microsoft.App/containerApps` PUT body and reads what Azure describes (pure); [`client`]
//! resolves the ProviderConfig's `azure` section and credentials and talks to Azure Resource
//! Manager with `ferry-azure`. [`job`] runs `ServerlessJob`s as Container Apps jobs.

mod backend;
pub mod build;
mod capabilities;
pub mod client;
pub mod cost;
pub mod job;
pub mod limits;
pub mod model;
pub mod names;
mod validate;

pub use backend::ContainerApps;
pub use client::{ContainerAppsConnector, Settings};
