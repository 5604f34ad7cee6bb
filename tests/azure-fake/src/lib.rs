//! A fake Azure Resource Manager, the Azure stand-in of Ferry's Container Apps and Container
//! Instances tests.
//!
//! No emulator of either service exists, so [`AzureFake`] starts `fake.py` (Python standard
//! library only) on a free port: a small server that keeps container apps (with their
//! revisions), Container Apps jobs (with their executions, which run to an outcome their
//! containers' command decides) and container groups in memory, answers their long-running
//! operations the way
//! ARM does (`201` + `Azure-AsyncOperation`, `InProgress` for a few polls, then `Succeeded` or
//! `Failed`), and checks every request body against Microsoft's own Swagger definitions
//! (`../shared/data/azure-specs`), answering 400 in ARM's error shape with the path of the
//! property at fault. Its admin API counts calls per subscription, injects faults ([`Fault`]),
//! makes images missing or crashing ([`ImageBehaviour`]), runs scheduled jobs
//! ([`AzureFake::fire_job`]) and plays Microsoft Entra ID's token endpoint; see README.md for its
//! behaviour.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use azure_fake::{AzureFake, Fault, ImageBehaviour};
//! use http::Method;
//! use serde_json::json;
//!
//! let fake = AzureFake::shared().await?;
//! let subscription = fake.subscription("example"); // this test's calls and faults
//! subscription.set_image("registry.example/broken:1", ImageBehaviour::Missing).await?;
//! subscription.fail("ContainerApps_CreateOrUpdate", Fault::Status(503), 1).await?;
//!
//! let app = json!({
//!     "location": "westeurope",
//!     "properties": {
//!         "environmentId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/managedEnvironments/env",
//!         "template": {"containers": [{"name": "web", "image": "nginx:1"}]},
//!     },
//! });
//! let url = subscription.container_app_url("rg", "web");
//! let refused = fake.send_raw(Method::PUT, &url, Some(&app)).await?;
//! assert_eq!(refused.status, 503);
//! let created = fake.send_raw(Method::PUT, &url, Some(&app)).await?;
//! assert_eq!(created.status, 201);
//! let status = fake.follow(created.header("azure-asyncoperation").unwrap_or_default()).await?;
//! assert_eq!(subscription.writes().await?.get("ContainerApps_CreateOrUpdate"), Some(&2));
//! # Ok(())
//! # }
//! ```

mod admin;
mod error;
mod fake;

pub use admin::{Fault, FiredExecution, ImageBehaviour, Recorded, Subscription, subscription_id};
pub use error::Error;
pub use fake::{
    Answer, ArmError, AzureFake, CONTAINER_APPS_API_VERSION, CONTAINER_INSTANCES_API_VERSION,
    INSTALL_HINT, Options, specs_dir,
};
