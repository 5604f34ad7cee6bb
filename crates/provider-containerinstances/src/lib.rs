//! Ferry's Azure Container Instances backend, everything Ferry knows about the provider:
//! [`ContainerInstances`] is its descriptor; [`validate`] and [`limits`] its rules,
//! [`capabilities`] its column of the capability table; [`build`] turns the desired model into
//! the `Microsoft.ContainerInstance/containerGroups` PUT body and compares what Azure Resource
//! Manager holds with it (pure); [`client`] resolves the ProviderConfig and credentials and
//! talks to ARM with `ferry-azure`.

mod backend;
pub mod build;
mod capabilities;
pub mod client;
pub mod cost;
pub mod limits;
pub mod model;
pub mod names;
mod validate;

pub use backend::ContainerInstances;
pub use client::{ContainerInstancesConnector, KubeSecrets, SecretReader, Settings};
