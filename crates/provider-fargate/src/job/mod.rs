//! `ServerlessJob`s on AWS Fargate: ECS tasks started one attempt at a time, since ECS runs no
//! retries, no parallelism limit and no timeout of its own, and EventBridge Scheduler for
//! schedules. [`build`] names and builds the requests (pure), [`cron`] writes a schedule as
//! EventBridge's cron, [`runs`] reads ECS's tasks as runs and decides what a run needs next
//! (pure), and [`client`] sends and reads.
//!
//! Each task of a run of more than one gets its index in `FERRY_TASK_INDEX` and the count in
//! `FERRY_TASK_COUNT` ([`build::TASK_INDEX_ENV`]).

pub mod build;
pub mod client;
pub mod cron;
pub mod runs;
