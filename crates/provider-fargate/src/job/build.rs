//! The pure half of Fargate's jobs: the names and keys every run is found by, the task
//! definition (the service builder's, in a family of its own), the `RunTask` of one attempt of
//! one task, and the EventBridge Scheduler schedule of a scheduled job. No I/O: `client.rs`
//! sends what this module builds, and `runs.rs` reads what ECS answers.
//!
//! Keys (crash safety): a run of generation G is every task whose `startedBy` is
//! [`run_name`] (`ferry-` + a hash of the UID + `-G`, at most 36 characters, so `ListTasks`
//! finds the run by it). Each attempt of each task is one `RunTask` with `count` 1 and the
//! `clientToken` [`client_token`] (run, task index, attempt), so repeating it after a lost
//! answer or a crash starts nothing twice: ECS answers the task the first call started. The
//! task's `group` ([`TaskGroup`]) carries the UID, the generation, the index, the attempt and
//! the run's task count, because StopTask deletes a task's tags (ECS API reference, StopTask:
//! "Any tags associated with the task will be deleted") and a task's group never changes
//! (ECS developer guide, "Group related Amazon ECS tasks"); the tags say the same for people
//! and cost reports while the task runs.

use std::collections::BTreeMap;

use ferry_api::{CapacityProvider, ConcurrencyPolicy, FargateProviderConfig, Ingress};
use ferry_core::desired::{Desired, ObjectRef, ScalingModel};
use ferry_core::job::DesiredJob;
use ferry_core::names;
use jiff::Timestamp;
use serde::Serialize;

use crate::build::{
    Account, AccountError, CapacityProviderItem, KeyValue, NetworkConfiguration, Tag,
    TaskDefinition, account, base_tags, capacity_strategy, fargate, fingerprint_of, network,
    task_definition, with_fingerprint,
};

use super::cron;

/// The environment variable that tells each task of a run of more than one task its index,
/// 0 to `taskCount - 1` (as Cloud Run's `CLOUD_RUN_TASK_INDEX` and Kubernetes'
/// `JOB_COMPLETION_INDEX`).
pub const TASK_INDEX_ENV: &str = "FERRY_TASK_INDEX";
/// The environment variable with the run's task count, beside [`TASK_INDEX_ENV`] (as Cloud
/// Run's `CLOUD_RUN_TASK_COUNT`).
pub const TASK_COUNT_ENV: &str = "FERRY_TASK_COUNT";
/// Tag with the spec generation a task runs.
pub const TAG_GENERATION: &str = "ferry.dev/generation";
/// Tag with a task's index in its run.
pub const TAG_TASK_INDEX: &str = "ferry.dev/task-index";
/// Tag with a task's attempt (0 for the first, 1 for the first retry ...).
pub const TAG_ATTEMPT: &str = "ferry.dev/attempt";
/// Tag with the name of the schedule that started a task.
pub const TAG_SCHEDULE: &str = "ferry.dev/schedule";
/// The EventBridge Scheduler schedule group Ferry's schedules are in.
pub const SCHEDULE_GROUP: &str = "default";

/// The longest `startedBy` ECS takes (ECS API reference, StartTask and RunTask: "Up to 36
/// letters ..."; newer models say 128, older ones and the scheduler's own 36).
pub const MAX_STARTED_BY: usize = 36;
/// The longest RunTask `clientToken` (ECS API reference, "Ensuring idempotency": 64 ASCII
/// characters from 33 to 126).
pub const MAX_CLIENT_TOKEN: usize = 64;
/// The longest task group (ECS developer guide, "Group related Amazon ECS tasks").
pub const MAX_GROUP: usize = 255;
/// The longest schedule name (botocore's scheduler model: 1-64, `[0-9a-zA-Z-_.]+`).
pub const MAX_SCHEDULE_NAME: usize = 64;
/// The longest schedule description (botocore's scheduler model).
pub const MAX_DESCRIPTION: usize = 512;
/// The longest `ScheduleExpressionTimezone` (botocore's scheduler model).
pub const MAX_TIME_ZONE: usize = 50;

const RUN_PREFIX: &str = "ferry-";
const GROUP_PREFIX: &str = "ferry";
const SCHEDULE_SLOT: &str = "schedule";
/// What every schedule description of Ferry's starts with.
const DESCRIPTION_PREFIX: &str = "Ferry ServerlessJob";

/// The task definition family of the job `namespace`/`name`: `NAMESPACE__NAME`. Two
/// underscores: a service's family (`NAMESPACE_NAME`) has one, and neither name can hold one,
/// so no family of a job is, or starts with, a service's.
pub fn family(namespace: &str, name: &str) -> String {
    format!("{namespace}__{name}")
}

/// A short key of the object's UID, for names with little room.
fn uid_key(object: &ObjectRef) -> String {
    let uid = object.uid.as_deref().unwrap_or_default();
    names::fingerprint(uid)[..10].to_owned()
}

/// The run of `object` for spec generation `generation`: its tasks' `startedBy`, and its name
/// in `status.runs`. `ferry-` + 10 hex digits of the UID's hash + `-GENERATION`: at most 36
/// characters ([`MAX_STARTED_BY`]) for any generation.
pub fn run_name(object: &ObjectRef, generation: i64) -> String {
    format!("{RUN_PREFIX}{}-{generation}", uid_key(object))
}

/// The run a schedule started with a task at `fired_at`: named after that time, in seconds
/// (a schedule fires at most once a minute). The tasks Ferry starts for it (retries) carry
/// this name as their `startedBy`.
pub fn scheduled_run_name(object: &ObjectRef, fired_at: Timestamp) -> String {
    format!("{RUN_PREFIX}{}-s{}", uid_key(object), fired_at.as_second())
}

/// Whether the run `name` of `object` is one a schedule started.
pub fn is_scheduled_run(object: &ObjectRef, name: &str) -> bool {
    name.strip_prefix(RUN_PREFIX)
        .and_then(|rest| rest.strip_prefix(&uid_key(object)))
        .is_some_and(|rest| rest.starts_with("-s"))
}

/// Whether `started_by` names a run of `object` that Ferry started.
pub fn is_run_of(object: &ObjectRef, started_by: &str) -> bool {
    started_by
        .strip_prefix(RUN_PREFIX)
        .is_some_and(|rest| rest.starts_with(&uid_key(object)))
}

/// The RunTask `clientToken` of attempt `attempt` of task `index` of run `run`: the same for
/// every repeat of that start, different for every other. At most 36 + 1 + 5 + 1 + 2
/// characters, well within [`MAX_CLIENT_TOKEN`].
pub fn client_token(run: &str, index: u32, attempt: u32) -> String {
    format!("{run}-{index}-{attempt}")
}

/// The EventBridge Scheduler schedule of the job `namespace`/`name`: `NAMESPACE_NAME-HASH`,
/// trimmed to [`MAX_SCHEDULE_NAME`].
pub fn schedule_name(namespace: &str, name: &str) -> String {
    names::with_hash(
        &format!("{namespace}_{name}"),
        MAX_SCHEDULE_NAME,
        namespace,
        name,
    )
}

/// Which task of which run a task is, as its ECS task group says: `ferry:UID:GENERATION:` then
/// `INDEX:ATTEMPT:COUNT` for a task Ferry started, or `schedule` for one the schedule started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskGroup {
    /// The object's UID.
    pub uid: String,
    /// The spec generation of the run.
    pub generation: i64,
    /// Which task.
    pub slot: Slot,
}

/// Which task of its run a task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// One Ferry started.
    Task {
        /// Its index.
        index: u32,
        /// Its attempt.
        attempt: u32,
        /// The run's task count.
        count: u32,
    },
    /// One the schedule started: index 0, attempt 0 of a run of one task.
    Schedule,
}

impl TaskGroup {
    /// The group, as RunTask and the schedule's `EcsParameters` take it.
    pub fn encode(&self) -> String {
        let slot = match self.slot {
            Slot::Task {
                index,
                attempt,
                count,
            } => format!("{index}:{attempt}:{count}"),
            Slot::Schedule => SCHEDULE_SLOT.to_owned(),
        };
        format!("{GROUP_PREFIX}:{}:{}:{slot}", self.uid, self.generation)
    }

    /// The group `group` of a task, when it is one of Ferry's.
    pub fn parse(group: &str) -> Option<Self> {
        let mut parts = group.split(':');
        if parts.next()? != GROUP_PREFIX {
            return None;
        }
        let uid = parts.next()?.to_owned();
        let generation = parts.next()?.parse().ok()?;
        let rest: Vec<&str> = parts.collect();
        let slot = match rest.as_slice() {
            [SCHEDULE_SLOT] => Slot::Schedule,
            [index, attempt, count] => Slot::Task {
                index: index.parse().ok()?,
                attempt: attempt.parse().ok()?,
                count: count.parse().ok()?,
            },
            _ => return None,
        };
        Some(Self {
            uid,
            generation,
            slot,
        })
    }
}

/// The job seen as a service without traffic: the service builders (task definition,
/// account, network) read it unchanged.
pub fn workload(want: &DesiredJob) -> Desired {
    Desired {
        object: want.object.clone(),
        provider: want.provider,
        containers: want.containers.clone(),
        volumes: want.volumes.clone(),
        serving_container: 0,
        concurrency: None,
        timeout_seconds: None,
        scaling: ScalingModel {
            min_instances: 0,
            max_instances: None,
            initial_instances: None,
            metric: ferry_api::ScalingMetric::Cpu,
            target: None,
            scale_down_delay_seconds: None,
        },
        ingress: Ingress::default(),
        traffic: Vec::new(),
        deletion_policy: want.deletion_policy,
        backend: want.backend.clone(),
    }
}

/// Where and how a job's tasks start: the same for every attempt and for the schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Launch {
    /// Cluster.
    pub cluster: String,
    /// `FARGATE`, for on-demand capacity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<String>,
    /// `FARGATE_SPOT`, for Spot capacity.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capacity_provider_strategy: Vec<CapacityProviderItem>,
    /// Platform version.
    pub platform_version: String,
    /// Subnets, security groups, public IP.
    pub network_configuration: NetworkConfiguration,
}

/// Everything a job sends, but the ARNs the client learns (the task definition's, once
/// registered, and the cluster's).
#[derive(Clone, Debug, PartialEq)]
pub struct JobRequests {
    /// Where it runs.
    pub account: Account,
    /// The task definition (family [`family`]), tagged with its fingerprint.
    pub task_definition: TaskDefinition,
    /// Its fingerprint.
    pub task_definition_fingerprint: String,
    /// How its tasks start.
    pub launch: Launch,
}

/// Everything a job sends, in the account its ProviderConfig `config_name` and its own
/// `spec.fargate` describe.
pub fn requests(
    want: &DesiredJob,
    config: &FargateProviderConfig,
    config_name: &str,
) -> Result<JobRequests, AccountError> {
    let view = workload(want);
    let model = fargate(&view)?;
    let account = account(&view, config, config_name)?;
    let family = family(&want.object.namespace, &want.object.name);
    let mut task_definition = task_definition(&view, model, &account, &family);
    let task_definition_fingerprint = fingerprint_of(&task_definition);
    task_definition.tags = with_fingerprint(&base_tags(&view), &task_definition_fingerprint);
    let spot = model.capacity_provider == CapacityProvider::FargateSpot;
    let launch = Launch {
        cluster: account.cluster.clone(),
        launch_type: (!spot).then(|| "FARGATE".into()),
        capacity_provider_strategy: if spot {
            capacity_strategy(model.capacity_provider)
        } else {
            Vec::new()
        },
        platform_version: model.platform_version.clone(),
        network_configuration: network(model, &account),
    };
    Ok(JobRequests {
        account,
        task_definition,
        task_definition_fingerprint,
        launch,
    })
}

/// `RunTask` for one attempt of one task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunTaskRequest {
    /// Cluster.
    pub cluster: String,
    /// The task definition ARN.
    pub task_definition: String,
    /// Always 1 (ECS takes up to 10 a call): each task has its own index, overrides and key.
    pub count: i32,
    /// The run ([`run_name`]).
    pub started_by: String,
    /// [`TaskGroup`].
    pub group: String,
    /// [`client_token`].
    pub client_token: String,
    /// `FARGATE`, unless a strategy is used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<String>,
    /// `FARGATE_SPOT`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capacity_provider_strategy: Vec<CapacityProviderItem>,
    /// Platform version.
    pub platform_version: String,
    /// Subnets, security groups, public IP.
    pub network_configuration: NetworkConfiguration,
    /// The task's index, in a run of more than one task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overrides: Option<TaskOverride>,
    /// The object's tags, with the generation, index and attempt.
    pub tags: Vec<Tag>,
    /// ECS adds `aws:ecs:clusterName`.
    #[serde(rename = "enableECSManagedTags")]
    pub enable_ecs_managed_tags: bool,
}

/// `overrides`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskOverride {
    /// One per container.
    pub container_overrides: Vec<ContainerOverride>,
}

/// One `containerOverrides` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerOverride {
    /// The container.
    pub name: String,
    /// Added to its environment.
    pub environment: Vec<KeyValue>,
}

/// Which attempt of which task a `RunTask` starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt<'a> {
    /// The run ([`run_name`] or [`scheduled_run_name`]).
    pub run: &'a str,
    /// The spec generation of the run.
    pub generation: i64,
    /// The task's index.
    pub index: u32,
    /// The attempt, 0 first.
    pub attempt: u32,
    /// The run's task count.
    pub count: u32,
}

/// The `RunTask` that starts `attempt` from task definition `task_definition_arn`, whose
/// containers are `containers` (the overrides must name them).
pub fn run_task(
    want: &DesiredJob,
    requests: &JobRequests,
    task_definition_arn: &str,
    containers: &[String],
    attempt: &Attempt<'_>,
) -> RunTaskRequest {
    let launch = &requests.launch;
    let uid = want.object.uid.clone().unwrap_or_default();
    let group = TaskGroup {
        uid,
        generation: attempt.generation,
        slot: Slot::Task {
            index: attempt.index,
            attempt: attempt.attempt,
            count: attempt.count,
        },
    };
    let mut tags = base_tags(&workload(want));
    tags.extend([
        tag(TAG_GENERATION, &attempt.generation.to_string()),
        tag(TAG_TASK_INDEX, &attempt.index.to_string()),
        tag(TAG_ATTEMPT, &attempt.attempt.to_string()),
    ]);
    let overrides = (attempt.count > 1).then(|| TaskOverride {
        container_overrides: containers
            .iter()
            .map(|name| ContainerOverride {
                name: name.clone(),
                environment: vec![
                    KeyValue {
                        name: TASK_INDEX_ENV.into(),
                        value: attempt.index.to_string(),
                    },
                    KeyValue {
                        name: TASK_COUNT_ENV.into(),
                        value: attempt.count.to_string(),
                    },
                ],
            })
            .collect(),
    });
    RunTaskRequest {
        cluster: launch.cluster.clone(),
        task_definition: task_definition_arn.to_owned(),
        count: 1,
        started_by: attempt.run.to_owned(),
        group: group.encode(),
        client_token: client_token(attempt.run, attempt.index, attempt.attempt),
        launch_type: launch.launch_type.clone(),
        capacity_provider_strategy: launch.capacity_provider_strategy.clone(),
        platform_version: launch.platform_version.clone(),
        network_configuration: launch.network_configuration.clone(),
        overrides,
        tags,
        enable_ecs_managed_tags: true,
    }
}

fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

/// `CreateSchedule` / `UpdateSchedule` (EventBridge Scheduler's restJson1, PascalCase).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleRequest {
    /// [`schedule_name`].
    pub name: String,
    /// [`SCHEDULE_GROUP`].
    pub group_name: String,
    /// `cron(...)`, six fields.
    pub schedule_expression: String,
    /// The job's `timeZone`.
    pub schedule_expression_timezone: String,
    /// Whose it is (the object's UID) and the fingerprint of the rest ([`description`]).
    pub description: String,
    /// `ENABLED`, or `DISABLED` while the job is suspended (or a run is under way and the job
    /// forbids a second).
    pub state: String,
    /// Off: the tasks start at the time the schedule says.
    pub flexible_time_window: FlexibleTimeWindow,
    /// RunTask in the job's cluster.
    pub target: ScheduleTarget,
    /// `NONE`: a recurring schedule stays.
    pub action_after_completion: String,
    /// The fingerprint the description records (not sent on its own).
    #[serde(skip)]
    pub fingerprint: String,
}

/// `FlexibleTimeWindow`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlexibleTimeWindow {
    /// `OFF`.
    pub mode: String,
}

/// `Target` (an ECS RunTask templated target).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleTarget {
    /// The cluster's ARN.
    pub arn: String,
    /// The role EventBridge Scheduler calls RunTask as.
    pub role_arn: String,
    /// What the RunTask asks for.
    pub ecs_parameters: EcsParameters,
}

/// `EcsParameters`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EcsParameters {
    /// The task definition ARN.
    pub task_definition_arn: String,
    /// 1: a scheduled run is one task (validation refuses more).
    pub task_count: i32,
    /// `FARGATE`, unless a strategy is used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<String>,
    /// `FARGATE_SPOT` (the scheduler's items are camelCase, as ECS's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capacity_provider_strategy: Vec<CapacityProviderItem>,
    /// Platform version.
    pub platform_version: String,
    /// Subnets, security groups, public IP.
    pub network_configuration: SchedulerNetwork,
    /// [`TaskGroup`] with [`Slot::Schedule`].
    pub group: String,
    /// ECS adds `aws:ecs:clusterName`.
    #[serde(rename = "EnableECSManagedTags")]
    pub enable_ecs_managed_tags: bool,
    /// The tasks' tags: one map per tag, each entry a tag (how EventBridge Scheduler reads its
    /// `Tags`: a map of two entries `key`/`value` makes two tags, as reported in
    /// hashicorp/terraform-provider-aws#32259).
    pub tags: Vec<BTreeMap<String, String>>,
}

/// The scheduler's `NetworkConfiguration`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SchedulerNetwork {
    /// `awsvpcConfiguration` (so spelt in the scheduler's model).
    #[serde(rename = "awsvpcConfiguration")]
    pub awsvpc_configuration: SchedulerVpc,
}

/// The scheduler's `AwsVpcConfiguration`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SchedulerVpc {
    /// Subnets.
    pub subnets: Vec<String>,
    /// Security groups.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// `ENABLED` or `DISABLED`.
    pub assign_public_ip: String,
}

/// The ARN of ECS cluster `cluster` in `region` of account `account`.
pub fn cluster_arn(region: &str, account: &str, cluster: &str) -> String {
    if cluster.starts_with("arn:") {
        return cluster.to_owned();
    }
    format!("arn:aws:ecs:{region}:{account}:cluster/{cluster}")
}

/// The state the job's schedule should be in: `DISABLED` while the job is suspended, or while
/// a scheduled run is under way and `concurrencyPolicy: Forbid` skips what comes due
/// meanwhile (EventBridge Scheduler has no such policy: a disabled schedule starts nothing).
pub fn schedule_state(want: &DesiredJob, scheduled_run_running: bool) -> &'static str {
    let forbid = want.concurrency_policy == ConcurrencyPolicy::Forbid;
    if want.suspend || (forbid && scheduled_run_running) {
        "DISABLED"
    } else {
        "ENABLED"
    }
}

/// The schedule of `want`, starting tasks from `task_definition_arn` in the cluster
/// `cluster_arn` as role `role_arn`, in state `state`. `None` without a schedule; `Err` when
/// the schedule has no EventBridge form (validation refuses those first).
pub fn schedule(
    want: &DesiredJob,
    requests: &JobRequests,
    cluster_arn: &str,
    task_definition_arn: &str,
    role_arn: &str,
    state: &str,
) -> Result<Option<ScheduleRequest>, String> {
    let Some(schedule) = &want.schedule else {
        return Ok(None);
    };
    let object = &want.object;
    let launch = &requests.launch;
    let vpc = &launch.network_configuration.awsvpc_configuration;
    let uid = object.uid.clone().unwrap_or_default();
    let name = schedule_name(&object.namespace, &object.name);
    let mut tags: Vec<BTreeMap<String, String>> = base_tags(&workload(want))
        .into_iter()
        .map(|t| BTreeMap::from([(t.key, t.value)]))
        .collect();
    tags.push(BTreeMap::from([(TAG_SCHEDULE.to_owned(), name.clone())]));
    let generation = object.generation.unwrap_or_default();
    tags.push(BTreeMap::from([(
        TAG_GENERATION.to_owned(),
        generation.to_string(),
    )]));
    let mut request = ScheduleRequest {
        name,
        group_name: SCHEDULE_GROUP.into(),
        schedule_expression: cron::expression(schedule)?,
        schedule_expression_timezone: schedule.time_zone.clone(),
        description: String::new(),
        state: String::new(),
        flexible_time_window: FlexibleTimeWindow { mode: "OFF".into() },
        target: ScheduleTarget {
            arn: cluster_arn.to_owned(),
            role_arn: role_arn.to_owned(),
            ecs_parameters: EcsParameters {
                task_definition_arn: task_definition_arn.to_owned(),
                task_count: 1,
                launch_type: launch.launch_type.clone(),
                capacity_provider_strategy: launch.capacity_provider_strategy.clone(),
                platform_version: launch.platform_version.clone(),
                network_configuration: SchedulerNetwork {
                    awsvpc_configuration: SchedulerVpc {
                        subnets: vpc.subnets.clone(),
                        security_groups: vpc.security_groups.clone(),
                        assign_public_ip: vpc.assign_public_ip.clone(),
                    },
                },
                group: TaskGroup {
                    uid: uid.clone(),
                    generation,
                    slot: Slot::Schedule,
                }
                .encode(),
                enable_ecs_managed_tags: true,
                tags,
            },
        },
        action_after_completion: "NONE".into(),
        fingerprint: String::new(),
    };
    // The fingerprint covers everything but the state, which Ferry flips (suspend, Forbid) and
    // compares on its own, and the description, which carries it.
    let fingerprint = fingerprint_of(&request);
    request.description = description(object, Some(&uid), &fingerprint);
    state.clone_into(&mut request.state);
    request.fingerprint = fingerprint;
    Ok(Some(request))
}

/// A schedule's description: whose it is and the fingerprint of the request it was made from.
/// EventBridge Scheduler tags schedule groups, not schedules, so the UID lives here. `uid`
/// `None`: a released schedule, which the next object of the name may adopt.
pub fn description(object: &ObjectRef, uid: Option<&str>, fingerprint: &str) -> String {
    let owner = uid.map_or_else(|| "released".to_owned(), |uid| format!("uid={uid}"));
    format!(
        "{DESCRIPTION_PREFIX} {}/{} {owner} fingerprint={fingerprint}",
        object.namespace, object.name
    )
}

/// Who a live schedule of Ferry's name belongs to, by its description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScheduleOwner {
    /// The object's: its fingerprint, as the description records it.
    Ours(String),
    /// Released by an earlier object of the name: Ferry may adopt it.
    Released,
    /// Someone else's (another object, or not Ferry's at all).
    Foreign,
}

/// Who the schedule described by `description` belongs to, for the object with UID `uid`.
pub fn schedule_owner(description: Option<&str>, uid: Option<&str>) -> ScheduleOwner {
    let Some(description) = description.filter(|d| d.starts_with(DESCRIPTION_PREFIX)) else {
        return ScheduleOwner::Foreign;
    };
    let words: Vec<&str> = description.split(' ').collect();
    let field = |key: &str| {
        words
            .iter()
            .find_map(|w| w.strip_prefix(key).map(str::to_owned))
    };
    match (field("uid="), uid) {
        (Some(owner), Some(uid)) if owner == uid => {
            ScheduleOwner::Ours(field("fingerprint=").unwrap_or_default())
        }
        (None, _) if words.contains(&"released") => ScheduleOwner::Released,
        _ => ScheduleOwner::Foreign,
    }
}

/// What EventBridge Scheduler cannot take of `schedule`, by field.
pub fn schedule_problems(schedule: &ferry_core::job::Schedule) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Err(why) = cron::expression(schedule) {
        out.push(("spec.schedule", why));
    }
    if schedule.time_zone.len() > MAX_TIME_ZONE {
        out.push((
            "spec.timeZone",
            format!("EventBridge Scheduler takes time zones of at most {MAX_TIME_ZONE} characters"),
        ));
    }
    out
}

/// What `ferry render` prints for `want`: the task definition, and the schedule of a scheduled
/// job or else the `RunTask` of the first task of the run of its generation. ARNs AWS answers
/// (the task definition's) and values no file gives (the scheduler's role when the
/// ProviderConfig names none, the account) are placeholders.
pub fn rendered(
    want: &DesiredJob,
    config: &FargateProviderConfig,
    config_name: &str,
) -> Result<serde_json::Value, String> {
    let requests = requests(want, config, config_name).map_err(|e| e.to_string())?;
    let task_definition_arn = "<the taskDefinitionArn RegisterTaskDefinition answers>";
    let mut out = serde_json::Map::new();
    out.insert(
        "registerTaskDefinition".into(),
        json(&requests.task_definition),
    );
    if want.schedule.is_some() {
        let account = requests
            .account
            .execution_role_arn
            .as_deref()
            .and_then(|arn| arn.split(':').nth(4))
            .unwrap_or("<account>");
        let cluster = cluster_arn(&requests.account.region, account, &requests.launch.cluster);
        let role = config.scheduler_role_arn.clone().unwrap_or_else(|| {
            ferry_provider::backend::placeholder("schedulerRoleArn", config_name)
        });
        let state = schedule_state(want, false);
        if let Some(schedule) =
            schedule(want, &requests, &cluster, task_definition_arn, &role, state)?
        {
            out.insert("createSchedule".into(), json(&schedule));
        }
    } else {
        let generation = want.object.generation.unwrap_or(1);
        let run = run_name(&want.object, generation);
        let containers: Vec<String> = want.containers.iter().map(|c| c.name.clone()).collect();
        let first = run_task(
            want,
            &requests,
            task_definition_arn,
            &containers,
            &Attempt {
                run: &run,
                generation,
                index: 0,
                attempt: 0,
                count: want.task_count,
            },
        );
        out.insert("runTask".into(), json(&first));
    }
    Ok(serde_json::Value::Object(out))
}

/// A request as JSON (every request type serialises).
fn json<T: Serialize>(request: &T) -> serde_json::Value {
    serde_json::to_value(request).unwrap_or(serde_json::Value::Null)
}

/// The reason a task Ferry stopped at `timeoutSeconds` records (StopTask `reason`), which
/// reads back as `DeadlineExceeded`.
pub fn deadline_reason(timeout_seconds: u32) -> String {
    format!("{DEADLINE_PREFIX} ({timeout_seconds} s): Ferry stopped the attempt")
}

/// How every StopTask reason of Ferry's starts.
pub const STOP_PREFIX: &str = "Ferry:";
/// How the StopTask reason of an attempt past `timeoutSeconds` starts.
pub const DEADLINE_PREFIX: &str = "Ferry: timeoutSeconds exceeded";

#[cfg(test)]
mod tests {
    use super::*;

    fn object(uid: &str) -> ObjectRef {
        ObjectRef {
            namespace: "shop".into(),
            name: "report".into(),
            uid: Some(uid.into()),
            generation: Some(3),
        }
    }

    #[test]
    fn keys_fit_ecs_limits_for_any_generation() {
        let o = object("4f8d4b3e-6a4c-4d57-9c8e-0b6c6f0a1d2e");
        let run = run_name(&o, i64::MAX);
        assert!(run.len() <= MAX_STARTED_BY, "{run}");
        assert!(
            run.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'/')
        );
        let token = client_token(&run, 9999, 10);
        assert!(token.len() <= MAX_CLIENT_TOKEN, "{token}");
        assert!(token.bytes().all(|b| (33..=126).contains(&b)));
        let scheduled = scheduled_run_name(&o, Timestamp::MAX);
        assert!(scheduled.len() <= MAX_STARTED_BY, "{scheduled}");
        assert!(is_scheduled_run(&o, &scheduled));
        assert!(!is_scheduled_run(&o, &run_name(&o, 4)));
        assert!(is_run_of(&o, &run));
        assert!(!is_run_of(&object("other"), &run));
        let group = TaskGroup {
            uid: o.uid.clone().unwrap(),
            generation: i64::MAX,
            slot: Slot::Task {
                index: 9999,
                attempt: 10,
                count: 10_000,
            },
        };
        assert!(group.encode().len() <= MAX_GROUP);
        assert_eq!(TaskGroup::parse(&group.encode()), Some(group));
        let name = schedule_name(&"n".repeat(63), &"j".repeat(52));
        assert!(name.len() <= MAX_SCHEDULE_NAME, "{name}");
    }

    #[test]
    fn runs_differ_by_generation_and_object() {
        let a = object("uid-a");
        assert_ne!(run_name(&a, 1), run_name(&a, 2));
        assert_ne!(run_name(&a, 1), run_name(&object("uid-b"), 1));
        assert_eq!(run_name(&a, 1), run_name(&a, 1));
        assert_ne!(client_token("r", 0, 0), client_token("r", 0, 1));
        assert_ne!(client_token("r", 0, 0), client_token("r", 1, 0));
    }

    #[test]
    fn groups_that_are_not_ferrys_are_not_read() {
        for group in [
            "family:shop__report",
            "ferry:uid",
            "ferry:uid:x:schedule",
            "ferry:uid:1:0:0",
            "ferry:uid:1:a:0:1",
        ] {
            assert_eq!(TaskGroup::parse(group), None, "{group}");
        }
        assert_eq!(
            TaskGroup::parse("ferry:u:7:schedule"),
            Some(TaskGroup {
                uid: "u".into(),
                generation: 7,
                slot: Slot::Schedule
            })
        );
    }

    #[test]
    fn a_schedule_description_says_whose_it_is() {
        let o = object("uid-a");
        let ours = description(&o, Some("uid-a"), "abc");
        assert_eq!(
            schedule_owner(Some(&ours), Some("uid-a")),
            ScheduleOwner::Ours("abc".into())
        );
        assert_eq!(
            schedule_owner(Some(&ours), Some("uid-b")),
            ScheduleOwner::Foreign
        );
        let released = description(&o, None, "abc");
        assert_eq!(
            schedule_owner(Some(&released), Some("uid-b")),
            ScheduleOwner::Released
        );
        assert_eq!(
            schedule_owner(Some("nightly backup"), Some("uid-a")),
            ScheduleOwner::Foreign
        );
        assert_eq!(schedule_owner(None, Some("uid-a")), ScheduleOwner::Foreign);
        assert!(ours.len() <= MAX_DESCRIPTION);
    }
}
