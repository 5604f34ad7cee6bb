//! `ServerlessJob`, pure: validation into the provider-neutral [`DesiredJob`], and its
//! [`schedule`]. A job's containers and provider section are read exactly as a service's are
//! (through [`ServerlessJobSpec::workload`]); what only a job has (tasks, retries, timeout,
//! schedule) is checked here, and each provider's own limits by its backend's
//! [`Rules::check_job`].

pub mod cost;
pub mod schedule;
pub mod status;

use ferry_api::{ConcurrencyPolicy, DeletionPolicy, Provider, ServerlessJob, ServerlessJobSpec};
use kube::ResourceExt;

use crate::backend::{BackendModel, Rules};
use crate::desired::{ContainerModel, ObjectRef};
use crate::findings::{Finding, Findings, Invalid};
use crate::names::is_dns1035_label;
use crate::validate::{
    check_container_names, check_sections, container, internal_inconsistency, refuse_unsupported,
    volumes, warn_unmounted,
};
pub use schedule::Schedule;

/// The longest job name: a CronJob's name (52 characters, so the Jobs it makes, named with an
/// 11-character suffix, fit in 63) bounds every provider's.
pub const MAX_NAME: usize = 52;

/// What a backend must make true for a job.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredJob {
    /// Which object this is.
    pub object: ObjectRef,
    /// Where it runs.
    pub provider: Provider,
    /// The containers of one task, in spec order.
    pub containers: Vec<ContainerModel>,
    /// The volumes they mount, in spec order.
    pub volumes: Vec<crate::desired::VolumeModel>,
    /// Tasks per run.
    pub task_count: u32,
    /// Tasks at once.
    pub parallelism: u32,
    /// Retries per task.
    pub max_retries: u32,
    /// Seconds one attempt of a task may run.
    pub timeout_seconds: u32,
    /// When the provider's scheduler starts runs; `None`: one run per generation.
    pub schedule: Option<Schedule>,
    /// What a due run does while another runs.
    pub concurrency_policy: ConcurrencyPolicy,
    /// No new runs.
    pub suspend: bool,
    /// What happens to the provider's resources on delete.
    pub deletion_policy: DeletionPolicy,
    /// The provider's own settings, built by its backend from `spec.<provider>`.
    pub backend: BackendModel,
}

/// A job spec that can run, and what validation noticed on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidJob {
    /// The desired model.
    pub desired: DesiredJob,
    /// Warnings: accepted, but worth a look.
    pub warnings: Vec<Finding>,
}

/// What a provider's job rules read: the spec and the parts already parsed (`None` when
/// parsing them failed and was reported).
pub struct JobParts<'a> {
    /// The spec.
    pub spec: &'a ServerlessJobSpec,
    /// The containers, parsed.
    pub containers: Option<&'a [ContainerModel]>,
    /// The schedule, parsed.
    pub schedule: Option<&'a Schedule>,
    /// Tasks per run, retries and the attempt timeout, with defaults applied.
    pub task_count: u32,
    /// Retries per task.
    pub max_retries: u32,
    /// Seconds per attempt.
    pub timeout_seconds: u32,
}

/// Validates a `ServerlessJob` as its provider (whose `rules` these are) will see it.
pub fn validate_job(job: &ServerlessJob, rules: &dyn Rules) -> Result<ValidJob, Invalid> {
    let object = ObjectRef {
        namespace: job.namespace().unwrap_or_default(),
        name: job.name_any(),
        uid: job.uid(),
        generation: job.metadata.generation,
    };
    if let Some(made_on) = moved_from(job) {
        let mut f = Findings::default();
        f.invalid(
            "spec.provider",
            format!(
                "cannot change from {made_on} to {} on a ServerlessJob: its job definition and \
                 runs stay on {made_on}. Set it back to {made_on}, or delete the ServerlessJob \
                 (Ferry deletes them there) and create it again with the new provider",
                job.spec.provider
            ),
        );
        return f.finish(()).and_then(|_| Err(internal_inconsistency()));
    }
    validate_job_spec(object, &job.spec, rules)
}

/// The provider `job`'s definition or runs are on, when its spec now names another. The CRD's
/// transition rule refuses such a change where the API server evaluates CEL; this keeps Ferry
/// from starting a second job elsewhere where it did not (CEL off, an older CRD).
fn moved_from(job: &ServerlessJob) -> Option<Provider> {
    let status = job.status.as_ref()?;
    let made_on = status.provider?;
    let holds_something = status.resource_ref.is_some() || !status.runs.is_empty();
    (made_on != job.spec.provider && holds_something).then_some(made_on)
}

/// Validates a job spec for the object `object` with its provider's `rules`.
pub fn validate_job_spec(
    object: ObjectRef,
    spec: &ServerlessJobSpec,
    rules: &dyn Rules,
) -> Result<ValidJob, Invalid> {
    if rules.provider() != spec.provider {
        return Err(internal_inconsistency());
    }
    let mut f = Findings::default();
    check_job_name(&mut f, &object.name);
    if !ServerlessJobSpec::PROVIDERS.contains(&spec.provider) {
        f.unsupported(
            "spec.provider",
            format!(
                "{} has no run-to-completion primitive: jobs run on {}",
                spec.provider.display_name(),
                ServerlessJobSpec::providers_listed()
            ),
        );
        return f.finish(()).and_then(|_| Err(internal_inconsistency()));
    }
    let workload = spec.workload();
    refuse_unsupported(&mut f, &workload, rules);
    check_sections(&mut f, &workload);
    check_container_names(&mut f, &spec.containers);
    let containers: Option<Vec<ContainerModel>> = spec
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let path = format!("spec.containers[{i}]");
            refuse_serving(&mut f, &path, c);
            container(&mut f, &path, c, rules, &workload)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    let spec_volumes = spec.volumes.as_deref().unwrap_or_default();
    let volumes = volumes(&mut f, spec_volumes);
    warn_unmounted(&mut f, spec_volumes, &spec.containers);
    let task_count = count(&mut f, "spec.taskCount", spec.task_count, 1, 10_000)
        .unwrap_or(ServerlessJobSpec::DEFAULT_TASK_COUNT.unsigned_abs());
    let parallelism = count(&mut f, "spec.parallelism", spec.parallelism, 1, 10_000);
    if parallelism.is_some_and(|p| p > task_count) {
        f.invalid(
            "spec.parallelism",
            format!("must not be greater than taskCount ({task_count})"),
        );
    }
    let max_retries = count(&mut f, "spec.maxRetries", spec.max_retries, 0, 10)
        .unwrap_or(ServerlessJobSpec::DEFAULT_MAX_RETRIES.unsigned_abs());
    let timeout_seconds = count(
        &mut f,
        "spec.timeoutSeconds",
        spec.timeout_seconds,
        1,
        604_800,
    )
    .unwrap_or(ServerlessJobSpec::DEFAULT_TIMEOUT_SECONDS.unsigned_abs());
    let schedule = schedule(&mut f, spec);

    let parts = JobParts {
        spec,
        containers: containers.as_deref(),
        schedule: schedule.as_ref(),
        task_count,
        max_retries,
        timeout_seconds,
    };
    let backend = rules.check_job(&mut f, &object, &parts);
    let (Some(containers), Some(volumes), Some(backend), false) =
        (containers, volumes, backend, f.has_errors())
    else {
        return f.finish(()).and_then(|_| Err(internal_inconsistency()));
    };
    let desired = DesiredJob {
        object,
        provider: spec.provider,
        containers,
        volumes,
        task_count,
        parallelism: parallelism.unwrap_or(task_count),
        max_retries,
        timeout_seconds,
        schedule,
        concurrency_policy: spec.concurrency_policy.unwrap_or_default(),
        suspend: spec.suspend.unwrap_or(false),
        deletion_policy: spec.deletion_policy.unwrap_or_default(),
        backend,
    };
    f.finish(desired)
        .map(|(desired, warnings)| ValidJob { desired, warnings })
}

fn check_job_name(f: &mut Findings, name: &str) {
    if !is_dns1035_label(name) || name.len() > MAX_NAME {
        f.invalid(
            "metadata.name",
            format!(
                "must be a DNS-1035 label of at most {MAX_NAME} characters (lower-case letters, \
                 digits and '-', starting with a letter): each provider names the job after it \
                 and its runs after the job, with a suffix; got {name:?}"
            ),
        );
    }
}

/// A job's task serves nothing: `port` and `probes` belong to a service.
fn refuse_serving(f: &mut Findings, path: &str, c: &ferry_api::Container) {
    if c.port.is_some() {
        f.invalid(
            format!("{path}.port"),
            "a job's containers take no port: a task serves no traffic; remove it",
        );
    }
    if c.probes.is_some() {
        f.invalid(
            format!("{path}.probes"),
            "a job's containers take no probes: a task ends when its containers exit; remove them",
        );
    }
}

fn count(f: &mut Findings, field: &str, value: Option<i32>, min: u32, max: u32) -> Option<u32> {
    let value = value?;
    match u32::try_from(value) {
        Ok(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            f.invalid(field, format!("must be {min} to {max}; got {value}"));
            None
        }
    }
}

fn schedule(f: &mut Findings, spec: &ServerlessJobSpec) -> Option<Schedule> {
    let Some(cron) = spec.schedule.as_deref() else {
        if spec.time_zone.is_some() {
            f.invalid(
                "spec.timeZone",
                "timeZone applies to a schedule: set spec.schedule or remove timeZone",
            );
        }
        return None;
    };
    match Schedule::parse(cron, spec.time_zone.as_deref()) {
        Ok(schedule) => Some(schedule),
        Err(e) => {
            f.invalid(e.field, e.message);
            None
        }
    }
}
