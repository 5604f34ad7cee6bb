//! `ServerlessJob`s on Azure Container Apps: one Container Apps job (`Microsoft.App/jobs`) per
//! ServerlessJob, whose executions are its runs. [`build`] makes the job's PUT body and the
//! body of a run's start, and reads an execution as a run (pure); [`client`] applies the job,
//! lists, starts and stops executions, and deletes or releases the job.
//!
//! A job without a schedule is a `Manual` job that Ferry starts once per spec generation; a
//! scheduled one is a `Schedule` job whose trigger starts the runs, in UTC (the only time zone
//! Container Apps reads a cron expression in).
//!
//! Runs carry their key in their containers' environment, because `Jobs_Start` takes no
//! idempotency token: `FERRY_RUN=<uid>-<generation>` in the executions Ferry starts, and
//! `FERRY_UID` and `FERRY_GENERATION` in the job's template, so the executions the schedule
//! starts say which spec they ran. Container Apps keeps each execution's template as it was
//! started, so a listing of the executions finds the run an interrupted start made.

pub mod build;
pub mod client;
