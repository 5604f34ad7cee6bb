//! moto server, the AWS stand-in of Ferry's Fargate tests, and a proxy in front of it.
//!
//! [`Moto`] starts `launcher.py` (moto 5.2.5 patched so ECS rollouts progress, fail, and refuse
//! duplicate services, tasks run to completion with the exit code of their command, as ECS does,
//! and EventBridge Scheduler schedules can be fired on demand; see README.md) on a free port,
//! with the project's virtualenv (`ferry_testkit::python`), and stops it when dropped or when
//! the test process dies. [`Proxy`] forwards to it from a thread of its own, counts every call
//! by operation and injects the faults the AWS SDK must survive ([`Fault`]).
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use aws_config::retry::RetryConfig;
//! use moto_standin::{Fault, Moto, Proxy};
//!
//! let moto = Moto::shared().await?;
//! let proxy = Proxy::start(&moto.endpoint())?;
//! let config = moto_standin::sdk_config(&proxy.endpoint()).await;
//! let retrying = config.to_builder().retry_config(RetryConfig::standard()).build();
//! let ecs = aws_sdk_ecs::Client::new(&retrying);
//!
//! proxy.fail("CreateCluster", Fault::Throttle, 1);
//! ecs.create_cluster().cluster_name("example").send().await?;
//! assert_eq!(proxy.calls().get("CreateCluster"), Some(&2), "throttled, then retried");
//! # Ok(())
//! # }
//! ```

mod error;
mod moto;
mod proxy;
mod sdk;

pub use error::Error;
pub use moto::{FiredSchedule, INSTALL_HINT, Moto, Options};
pub use proxy::{Fault, Proxy, Recorded, is_write};
pub use sdk::sdk_config;
