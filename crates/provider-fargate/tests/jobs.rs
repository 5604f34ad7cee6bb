//! Fargate's job client against moto server (patched so ECS tasks run to the exit code of their
//! command and EventBridge Scheduler schedules can be fired; see `tests/moto`), through a proxy
//! that counts every call and injects faults. Each test describes what AWS holds afterwards.
//! Each test works in its own ECS cluster and namespace (task definition families are
//! account-wide) of one shared moto, so they run in parallel.
//!
//! moto moves a task one state per DescribeTasks that names it, so every `observe` (one
//! DescribeTasks of the job's tasks) moves the run on: a command that exits goes PROVISIONING,
//! PENDING, RUNNING, DEPROVISIONING, STOPPED over four; `sleep infinity` runs until stopped.
//! moto reads the outcome from the ECS container's `command`, which is a Ferry container's
//! `args` (its `command` is ECS's `entryPoint`): the tests put `exit 1` and `sleep infinity`
//! in `args`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ecs::types::DesiredStatus;
use ferry_api::conditions::reasons;
use ferry_api::{JobRun, ProviderConfig, RunState, ServerlessJob};
use ferry_core::job::DesiredJob;
use ferry_provider::Deletion;
use ferry_provider::job::{Definition, JobClient, JobObservation};
use ferry_provider_fargate::job::build::{self as job, TASK_INDEX_ENV, TaskGroup};
use ferry_provider_fargate::{CallSettings, Fargate, FargateConnector, Settings};
use moto_standin::{Fault, Moto, Proxy};

const CREDENTIALS: &str =
    "[default]\naws_access_key_id = AKIDFERRYTEST\naws_secret_access_key = secret\n";
const ROLE: &str = "arn:aws:iam::123456789012:role/ferry-scheduler";

struct Aws {
    moto: &'static Moto,
    proxy: Proxy,
    config: ProviderConfig,
    cluster: String,
    namespace: String,
    ecs: aws_sdk_ecs::Client,
    scheduler: aws_sdk_scheduler::Client,
}

fn connector() -> FargateConnector {
    // The connector reads nothing from Kubernetes here: `connect_job_with` is given the
    // ProviderConfig and the credentials.
    let kube =
        kube::Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().unwrap())).unwrap();
    FargateConnector::new(
        kube,
        Settings {
            operator_namespace: "ferry-system".into(),
            snapshot_max_age: Duration::from_millis(300),
            calls: CallSettings {
                attempts: 3,
                initial_backoff: Duration::from_millis(10),
                attempt_timeout: Duration::from_secs(5),
                operation_timeout: Duration::from_secs(20),
            },
        },
    )
}

impl Aws {
    /// A cluster and a namespace named after the test, a proxy, and a ProviderConfig that
    /// points at the proxy and names the scheduler's role.
    async fn start(test: &str) -> Self {
        Self::start_with(test, Some(ROLE)).await
    }

    async fn start_with(test: &str, role: Option<&str>) -> Self {
        let moto = Moto::shared().await.unwrap();
        let proxy = Proxy::start(&moto.endpoint()).unwrap();
        // The test's own look at moto, not through the proxy.
        let sdk = moto_standin::sdk_config(&moto.endpoint()).await;
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let scheduler = aws_sdk_scheduler::Client::new(&sdk);
        let cluster = format!("jobs-{test}");
        ecs.create_cluster()
            .cluster_name(&cluster)
            .send()
            .await
            .unwrap();
        let scheduler_role = role.map_or_else(String::new, |role| {
            format!("    schedulerRoleArn: '{role}'\n")
        });
        let config: ProviderConfig = serde_saphyr::from_str(&format!(
            "apiVersion: ferry.dev/v1alpha1\nkind: ProviderConfig\n\
             metadata: {{name: aws-{test}, resourceVersion: '1'}}\n\
             spec:\n  fargate:\n    region: us-east-1\n    cluster: {cluster}\n{scheduler_role}    \
             endpoint: {endpoint}\n    \
             credentials: {{source: Secret, secretRef: {{namespace: ferry-system, name: aws, key: credentials}}}}\n    \
             defaults:\n      subnets: [subnet-0a1b2c3d]\n      securityGroups: [sg-0123abcd]\n      \
             executionRoleArn: arn:aws:iam::123456789012:role/ecsTaskExecutionRole\n",
            endpoint = proxy.endpoint()
        ))
        .unwrap();
        Self {
            moto,
            proxy,
            config,
            cluster,
            namespace: format!("ns-{test}"),
            ecs,
            scheduler,
        }
    }

    /// A ServerlessJob `name` of this test's namespace with UID `uid` at `generation`, and
    /// `spec` (YAML flow mapping fields after `provider: fargate`).
    fn job(&self, name: &str, uid: &str, generation: i64, spec: &str) -> ServerlessJob {
        serde_saphyr::from_str(&format!(
            "apiVersion: ferry.dev/v1alpha1\nkind: ServerlessJob\n\
             metadata: {{name: {name}, namespace: {ns}, uid: {uid}, generation: {generation}}}\n\
             spec: {{provider: fargate, {spec}}}\n",
            ns = self.namespace
        ))
        .unwrap()
    }

    /// A job client for `job` from a connector of its own, as a (restarted) operator makes.
    async fn client(&self, job: &ServerlessJob) -> Arc<dyn JobClient> {
        connector()
            .connect_job_with(
                job,
                &self.config,
                Some((CREDENTIALS.to_owned(), "1".to_owned())),
            )
            .await
            .unwrap()
    }

    /// The tasks of `cluster` ECS lists with `started_by`, wanted `status`.
    async fn listed(&self, started_by: &str, status: DesiredStatus) -> Vec<String> {
        self.ecs
            .list_tasks()
            .cluster(&self.cluster)
            .started_by(started_by)
            .desired_status(status)
            .send()
            .await
            .unwrap()
            .task_arns()
            .to_vec()
    }

    /// Every task of `started_by`, running or stopped.
    async fn tasks_of(&self, started_by: &str) -> Vec<aws_sdk_ecs::types::Task> {
        let mut arns = self.listed(started_by, DesiredStatus::Running).await;
        arns.extend(self.listed(started_by, DesiredStatus::Stopped).await);
        if arns.is_empty() {
            return Vec::new();
        }
        // Looking moves moto's tasks on, as any DescribeTasks does.
        self.ecs
            .describe_tasks()
            .cluster(&self.cluster)
            .set_tasks(Some(arns))
            .include(aws_sdk_ecs::types::TaskField::Tags)
            .send()
            .await
            .unwrap()
            .tasks()
            .to_vec()
    }

    async fn schedule(
        &self,
        name: &str,
    ) -> Option<aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput> {
        self.scheduler.get_schedule().name(name).send().await.ok()
    }
}

fn desired(job: &ServerlessJob) -> DesiredJob {
    ferry_core::job::validate_job(job, &Fargate)
        .unwrap_or_else(|e| panic!("the test's job is invalid: {e}"))
        .desired
}

/// One reconcile's calls, as the job controller makes them: observe; apply when the definition
/// is missing or stale; advance each running run; start the run of `generation` unless one
/// exists (a job without a schedule). The observation.
async fn reconcile(client: &dyn JobClient, want: &DesiredJob, generation: i64) -> JobObservation {
    let observed = client.observe(want).await.unwrap();
    if !matches!(
        observed.definition,
        Definition::Present {
            up_to_date: true,
            ..
        }
    ) {
        client.apply(want).await.unwrap();
    }
    for run in observed
        .runs
        .iter()
        .filter(|r| r.state == RunState::Running)
    {
        client.advance(want, run).await.unwrap();
    }
    if want.schedule.is_none()
        && !observed
            .runs
            .iter()
            .any(|r| r.generation == Some(generation))
    {
        client.start(want, generation).await.unwrap();
    }
    observed
}

/// Reconciles until the run of `generation` has ended; that run.
async fn until_ended(client: &dyn JobClient, want: &DesiredJob, generation: i64) -> JobRun {
    for _ in 0..40 {
        let observed = reconcile(client, want, generation).await;
        if let Some(run) = observed
            .runs
            .iter()
            .find(|r| r.generation == Some(generation) && r.state.is_finished())
        {
            return run.clone();
        }
    }
    panic!("the run of generation {generation} never ended");
}

fn tag_map(tags: &[aws_sdk_ecs::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn index_of(task: &aws_sdk_ecs::types::Task) -> Option<String> {
    task.overrides()?
        .container_overrides()
        .iter()
        .flat_map(aws_sdk_ecs::types::ContainerOverride::environment)
        .find(|e| e.name() == Some(TASK_INDEX_ENV))
        .and_then(|e| e.value().map(str::to_owned))
}

#[tokio::test]
async fn a_one_off_run_succeeds_and_aws_holds_its_task() {
    let aws = Aws::start("once").await;
    let job = aws.job(
        "report",
        "uid-once",
        1,
        "containers: [{name: report, image: 'ghcr.io/acme/report:1', command: [sh, -c], args: ['echo done']}]",
    );
    let want = desired(&job);
    let client = aws.client(&job).await;
    assert_eq!(
        client.observe(&want).await.unwrap(),
        JobObservation::default(),
        "nothing yet"
    );
    let run = until_ended(client.as_ref(), &want, 1).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    assert_eq!((run.succeeded, run.failed, run.active), (1, 0, 0));
    assert_eq!(run.name, job::run_name(&want.object, 1));
    assert!(run.start_time.is_some() && run.completion_time.is_some());

    let tasks = aws.tasks_of(&run.name).await;
    assert_eq!(tasks.len(), 1, "one task");
    let task = &tasks[0];
    assert_eq!(task.last_status(), Some("STOPPED"));
    assert_eq!(task.containers()[0].exit_code(), Some(0));
    assert_eq!(index_of(task), None, "one task needs no index");
    let group = TaskGroup::parse(task.group().unwrap()).unwrap();
    assert_eq!(group.uid, "uid-once");
    let tags = tag_map(task.tags());
    assert_eq!(tags["ferry.dev/uid"], "uid-once");
    assert_eq!(tags[job::TAG_GENERATION], "1");
    assert_eq!(tags[job::TAG_TASK_INDEX], "0");
    assert_eq!(tags[job::TAG_ATTEMPT], "0");

    // The definition is the task definition, in the job's own family; nothing changes more.
    let observed = client.observe(&want).await.unwrap();
    let Definition::Present {
        up_to_date: true,
        id: Some(id),
    } = &observed.definition
    else {
        panic!("{observed:?}");
    };
    assert_eq!(Some(id.as_str()), task.task_definition_arn());
    assert!(id.contains(&format!(":task-definition/{}__report:1", aws.namespace)));
    aws.proxy.clear();
    reconcile(client.as_ref(), &want, 1).await;
    assert_eq!(aws.proxy.writes(), BTreeMap::new(), "nothing to write");
}

#[tokio::test]
async fn an_exit_1_run_fails_with_container_failed_after_its_retries() {
    let aws = Aws::start("exit").await;
    let job = aws.job(
        "fails",
        "uid-exit",
        1,
        "containers: [{name: app, image: 'ghcr.io/acme/app:1', command: [sh, -c], args: ['exit 1']}], \
         maxRetries: 2",
    );
    let want = desired(&job);
    let client = aws.client(&job).await;
    let run = until_ended(client.as_ref(), &want, 1).await;
    assert_eq!(run.state, RunState::Failed, "{run:?}");
    assert_eq!(run.reason.as_deref(), Some(reasons::CONTAINER_FAILED));
    assert_eq!((run.succeeded, run.failed, run.active), (0, 1, 0));
    assert_eq!(
        run.message.as_deref(),
        Some("the task failed after 3 attempts: container app exited with 1")
    );
    let tasks = aws.tasks_of(&run.name).await;
    let mut attempts: Vec<u32> = tasks
        .iter()
        .map(
            |t| match TaskGroup::parse(t.group().unwrap()).unwrap().slot {
                job::Slot::Task { attempt, .. } => attempt,
                job::Slot::Schedule => panic!("not scheduled"),
            },
        )
        .collect();
    attempts.sort_unstable();
    assert_eq!(attempts, [0, 1, 2], "the first try and two retries");
    assert!(
        tasks
            .iter()
            .all(|t| t.containers()[0].exit_code() == Some(1))
    );
}

#[tokio::test]
async fn start_twice_and_again_after_a_crash_leaves_one_run() {
    let aws = Aws::start("crash").await;
    let job = aws.job(
        "batch",
        "uid-crash",
        4,
        "containers: [{name: app, image: 'ghcr.io/acme/app:1', args: [sleep, infinity]}], \
         taskCount: 3",
    );
    let want = desired(&job);
    let first = aws.client(&job).await;
    first.apply(&want).await.unwrap();
    let started = first.start(&want, 4).await.unwrap();
    assert_eq!(started.name, job::run_name(&want.object, 4));
    assert_eq!((started.state, started.active), (RunState::Running, 3));
    // The answer was lost: the same client starts again.
    assert_eq!(first.start(&want, 4).await.unwrap().name, started.name);
    // The operator dies before it records the run; a new one connects and looks first.
    drop(first);
    let restarted = aws.client(&job).await;
    let observed = restarted.observe(&want).await.unwrap();
    assert_eq!(observed.runs.len(), 1, "{observed:?}");
    assert_eq!(observed.runs[0].name, started.name);
    assert_eq!(observed.runs[0].generation, Some(4));
    assert_eq!(observed.runs[0].active, 3);
    // And even when it starts again (a reconcile that did not see it), nothing new starts.
    restarted.start(&want, 4).await.unwrap();
    let running = aws.listed(&started.name, DesiredStatus::Running).await;
    assert_eq!(running.len(), 3, "one run's tasks: {running:?}");
    assert_eq!(
        aws.listed(&started.name, DesiredStatus::Stopped).await,
        Vec::<String>::new()
    );
    let mut indexes: Vec<String> = aws
        .tasks_of(&started.name)
        .await
        .iter()
        .filter_map(index_of)
        .collect();
    indexes.sort();
    assert_eq!(indexes, ["0", "1", "2"], "each task knows its index");
    assert_eq!(
        aws.proxy.calls().get("RunTask"),
        Some(&9),
        "three starts of three"
    );
}

#[tokio::test]
async fn a_start_whose_answers_were_lost_starts_one_task_when_repeated() {
    let aws = Aws::start("lost").await;
    let job = aws.job(
        "lost",
        "uid-lost",
        1,
        "containers: [{name: app, image: 'ghcr.io/acme/app:1', args: [sleep, infinity]}]",
    );
    let want = desired(&job);
    let client = aws.client(&job).await;
    client.apply(&want).await.unwrap();
    // Every attempt reaches ECS and every answer is lost: the start fails...
    aws.proxy.fail("RunTask", Fault::LostResponse, 3);
    let error = client.start(&want, 1).await.unwrap_err();
    assert_eq!(error.category(), "transient", "{error}");
    assert_eq!(aws.proxy.calls().get("RunTask"), Some(&3));
    // ...and the next reconcile's start finds the task the lost ones started.
    let run = client.start(&want, 1).await.unwrap();
    assert_eq!(run.active, 1);
    assert_eq!(aws.listed(&run.name, DesiredStatus::Running).await.len(), 1);
}

#[tokio::test]
async fn parallelism_bounds_the_tasks_at_once_and_each_gets_its_index() {
    let aws = Aws::start("parallel").await;
    let job = aws.job(
        "shards",
        "uid-parallel",
        1,
        "containers: [{name: app, image: 'ghcr.io/acme/app:1', command: [sh, -c], args: ['echo shard']}], \
         taskCount: 3, parallelism: 2",
    );
    let want = desired(&job);
    let client = aws.client(&job).await;
    let name = job::run_name(&want.object, 1);
    let mut most = 0;
    let mut ended = None;
    for _ in 0..40 {
        let observed = reconcile(client.as_ref(), &want, 1).await;
        most = most.max(aws.listed(&name, DesiredStatus::Running).await.len());
        if let Some(run) = observed.runs.iter().find(|r| r.state.is_finished()) {
            ended = Some(run.clone());
            break;
        }
    }
    let run = ended.expect("the run ended");
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    assert_eq!(run.succeeded, 3);
    assert_eq!(most, 2, "never more than parallelism at once");
    let tasks = aws.tasks_of(&name).await;
    let mut indexes: Vec<String> = tasks.iter().filter_map(index_of).collect();
    indexes.sort();
    assert_eq!(indexes, ["0", "1", "2"]);
}

#[tokio::test]
async fn an_attempt_past_the_timeout_is_stopped_and_the_run_fails_with_deadline_exceeded() {
    let aws = Aws::start("deadline").await;
    let job = aws.job(
        "slow",
        "uid-deadline",
        1,
        "containers: [{name: app, image: 'ghcr.io/acme/app:1', args: [sleep, infinity]}], \
         timeoutSeconds: 1, maxRetries: 1",
    );
    let want = desired(&job);
    let client = aws.client(&job).await;
    let mut ended = None;
    for _ in 0..40 {
        let observed = reconcile(client.as_ref(), &want, 1).await;
        if let Some(run) = observed.runs.iter().find(|r| r.state.is_finished()) {
            ended = Some(run.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let run = ended.expect("the run ended");
    assert_eq!(run.state, RunState::Failed, "{run:?}");
    assert_eq!(run.reason.as_deref(), Some(reasons::DEADLINE_EXCEEDED));
    let tasks = aws.tasks_of(&run.name).await;
    assert_eq!(tasks.len(), 2, "the attempt and its retry");
    for task in &tasks {
        assert_eq!(
            task.stop_code()
                .map(aws_sdk_ecs::types::TaskStopCode::as_str),
            Some("UserInitiated")
        );
        assert!(
            task.stopped_reason()
                .unwrap()
                .starts_with(job::DEADLINE_PREFIX)
        );
    }
}

#[tokio::test]
async fn stop_stops_every_task_of_the_run() {
    let aws = Aws::start("stop").await;
    let job = aws.job(
        "long",
        "uid-stop",
        2,
        "containers: [{name: app, image: 'ghcr.io/acme/app:1', args: [sleep, infinity]}], \
         taskCount: 2",
    );
    let want = desired(&job);
    let client = aws.client(&job).await;
    reconcile(client.as_ref(), &want, 2).await;
    let name = job::run_name(&want.object, 2);
    assert_eq!(aws.listed(&name, DesiredStatus::Running).await.len(), 2);
    client.observe(&want).await.unwrap();
    client.stop(&want, &name).await.unwrap();
    assert_eq!(
        aws.listed(&name, DesiredStatus::Running).await,
        Vec::<String>::new()
    );
    // Stopping again is harmless.
    client.stop(&want, &name).await.unwrap();
    let run = until_ended(client.as_ref(), &want, 2).await;
    assert_eq!(run.state, RunState::Stopped, "{run:?}");
    assert_eq!(run.reason.as_deref(), Some(reasons::STOPPED));
    for task in aws.tasks_of(&name).await {
        assert_eq!(task.last_status(), Some("STOPPED"));
        assert!(task.stopped_reason().unwrap().contains("Replace"));
    }
}

/// A scheduled job's spec: one task a firing running `args`, and `extra` fields.
fn scheduled(args: &str, extra: &str) -> String {
    format!(
        "containers: [{{name: app, image: 'ghcr.io/acme/app:1', args: {args}}}], \
         schedule: '30 2 * * 1-5', timeZone: Europe/Berlin{extra}"
    )
}

#[tokio::test]
async fn a_schedule_is_created_and_firing_it_shows_the_run() {
    let aws = Aws::start("schedule").await;
    let job = aws.job(
        "nightly",
        "uid-schedule",
        1,
        &scheduled("[sleep, infinity]", ""),
    );
    let want = desired(&job);
    let client = aws.client(&job).await;
    let observed = reconcile(client.as_ref(), &want, 1).await;
    assert_eq!(observed.definition, Definition::Absent);
    let name = job::schedule_name(&aws.namespace, "nightly");
    let schedule = aws.schedule(&name).await.expect("the schedule exists");
    assert_eq!(
        schedule.schedule_expression(),
        Some("cron(30 2 ? * MON-FRI *)")
    );
    assert_eq!(
        schedule.schedule_expression_timezone(),
        Some("Europe/Berlin")
    );
    assert_eq!(
        schedule
            .state()
            .map(aws_sdk_scheduler::types::ScheduleState::as_str),
        Some("ENABLED")
    );
    let target = schedule.target().unwrap();
    assert_eq!(
        target.arn(),
        format!("arn:aws:ecs:us-east-1:123456789012:cluster/{}", aws.cluster)
    );
    assert_eq!(target.role_arn(), ROLE);
    let ecs = target.ecs_parameters().unwrap();
    assert_eq!(ecs.task_count(), Some(1));
    assert!(ecs.task_definition_arn().contains("__nightly:1"));
    assert!(schedule.description().unwrap().contains("uid=uid-schedule"));
    let observed = client.observe(&want).await.unwrap();
    assert!(matches!(
        observed.definition,
        Definition::Present {
            up_to_date: true,
            ..
        }
    ));
    assert!(observed.runs.is_empty(), "the schedule has not fired");
    aws.proxy.clear();
    reconcile(client.as_ref(), &want, 1).await;
    assert_eq!(
        aws.proxy.writes(),
        BTreeMap::new(),
        "up to date: nothing written"
    );

    // EventBridge Scheduler fires it: observe shows the run.
    let fired = aws.moto.fire_schedule("default", &name).await.unwrap();
    assert_eq!(fired.task_arns.len(), 1);
    let observed = reconcile(client.as_ref(), &want, 1).await;
    assert_eq!(observed.runs.len(), 1, "{observed:?}");
    let run = &observed.runs[0];
    assert_eq!(run.state, RunState::Running);
    assert_eq!(run.generation, Some(1));
    assert!(
        job::is_scheduled_run(&want.object, &run.name),
        "{}",
        run.name
    );

    // concurrencyPolicy Forbid (the default): while the run is under way, the schedule is
    // disabled, so the next firing starts nothing.
    reconcile(client.as_ref(), &want, 1).await;
    let schedule = aws.schedule(&name).await.unwrap();
    assert_eq!(
        schedule
            .state()
            .map(aws_sdk_scheduler::types::ScheduleState::as_str),
        Some("DISABLED")
    );
    assert!(aws.moto.fire_schedule("default", &name).await.is_err());

    // The run is stopped: the schedule comes back.
    client.observe(&want).await.unwrap();
    client.stop(&want, &run.name).await.unwrap();
    for _ in 0..6 {
        reconcile(client.as_ref(), &want, 1).await;
    }
    let schedule = aws.schedule(&name).await.unwrap();
    assert_eq!(
        schedule
            .state()
            .map(aws_sdk_scheduler::types::ScheduleState::as_str),
        Some("ENABLED")
    );

    // Suspended: disabled, whatever runs.
    let suspended = aws.job(
        "nightly",
        "uid-schedule",
        2,
        &scheduled("[sleep, infinity]", ", suspend: true"),
    );
    reconcile(client.as_ref(), &desired(&suspended), 2).await;
    let schedule = aws.schedule(&name).await.unwrap();
    assert_eq!(
        schedule
            .state()
            .map(aws_sdk_scheduler::types::ScheduleState::as_str),
        Some("DISABLED")
    );
}

#[tokio::test]
async fn a_newer_scheduled_run_replaces_the_older_under_replace() {
    let aws = Aws::start("replace").await;
    let job = aws.job(
        "hourly",
        "uid-replace",
        1,
        &scheduled("[sleep, infinity]", ", concurrencyPolicy: Replace"),
    );
    let want = desired(&job);
    let client = aws.client(&job).await;
    reconcile(client.as_ref(), &want, 1).await;
    let name = job::schedule_name(&aws.namespace, "hourly");
    let older = aws.moto.fire_schedule("default", &name).await.unwrap();
    // A firing a second later: runs are named by their second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let newer = aws.moto.fire_schedule("default", &name).await.unwrap();
    reconcile(client.as_ref(), &want, 1).await;
    let describe = |arn: &str| {
        let arn = arn.to_owned();
        let ecs = aws.ecs.clone();
        let cluster = aws.cluster.clone();
        async move {
            ecs.describe_tasks()
                .cluster(cluster)
                .tasks(arn)
                .send()
                .await
                .unwrap()
                .tasks()[0]
                .clone()
        }
    };
    let old_task = describe(&older.task_arns[0]).await;
    assert_eq!(old_task.desired_status(), Some("STOPPED"));
    assert!(old_task.stopped_reason().unwrap().contains("Replace"));
    let new_task = describe(&newer.task_arns[0]).await;
    assert_eq!(new_task.desired_status(), Some("RUNNING"));
}

#[tokio::test]
async fn schedules_need_the_role_the_provider_config_names() {
    let aws = Aws::start_with("norole", None).await;
    let job = aws.job("nightly", "uid-norole", 1, &scheduled("[echo]", ""));
    let want = desired(&job);
    let client = aws.client(&job).await;
    let error = client.apply(&want).await.unwrap_err();
    assert_eq!(error.reason(), reasons::UNSUPPORTED);
    assert!(
        error.to_string().contains("spec.fargate.schedulerRoleArn"),
        "{error}"
    );
    let name = job::schedule_name(&aws.namespace, "nightly");
    assert!(aws.schedule(&name).await.is_none());
}

#[tokio::test]
async fn delete_removes_the_schedule_the_runs_and_the_task_definition() {
    let aws = Aws::start("delete").await;
    let job = aws.job("gone", "uid-delete", 1, &scheduled("[sleep, infinity]", ""));
    let want = desired(&job);
    let client = aws.client(&job).await;
    reconcile(client.as_ref(), &want, 1).await;
    let name = job::schedule_name(&aws.namespace, "gone");
    let fired = aws.moto.fire_schedule("default", &name).await.unwrap();
    let object = want.object.clone();
    let mut result = Deletion::InProgress;
    for _ in 0..10 {
        result = client.delete(&object).await.unwrap();
        if result == Deletion::Gone {
            break;
        }
    }
    assert_eq!(result, Deletion::Gone);
    assert!(aws.schedule(&name).await.is_none(), "the schedule is gone");
    let task = aws
        .ecs
        .describe_tasks()
        .cluster(&aws.cluster)
        .tasks(&fired.task_arns[0])
        .send()
        .await
        .unwrap()
        .tasks()[0]
        .clone();
    assert_eq!(task.last_status(), Some("STOPPED"));
    let family = job::family(&aws.namespace, "gone");
    let active = aws
        .ecs
        .list_task_definitions()
        .family_prefix(&family)
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .send()
        .await
        .unwrap();
    assert_eq!(
        active.task_definition_arns(),
        Vec::<String>::new().as_slice()
    );
    // Deleting what is gone is Gone.
    assert_eq!(client.delete(&object).await.unwrap(), Deletion::Gone);
}

#[tokio::test]
async fn release_leaves_everything_and_a_new_object_adopts_the_schedule() {
    let aws = Aws::start("release").await;
    let job = aws.job(
        "kept",
        "uid-release",
        1,
        &scheduled("[sleep, infinity]", ""),
    );
    let want = desired(&job);
    let client = aws.client(&job).await;
    reconcile(client.as_ref(), &want, 1).await;
    let name = job::schedule_name(&aws.namespace, "kept");
    let fired = aws.moto.fire_schedule("default", &name).await.unwrap();
    client.release(&want.object).await.unwrap();
    let schedule = aws.schedule(&name).await.expect("the schedule stays");
    assert!(!schedule.description().unwrap().contains("uid-release"));
    assert_eq!(
        schedule.schedule_expression(),
        Some("cron(30 2 ? * MON-FRI *)")
    );
    let running = aws
        .ecs
        .describe_tasks()
        .cluster(&aws.cluster)
        .tasks(&fired.task_arns[0])
        .send()
        .await
        .unwrap()
        .tasks()[0]
        .desired_status()
        .map(str::to_owned);
    assert_eq!(running.as_deref(), Some("RUNNING"), "its run goes on");

    // A new object of the name adopts the released schedule.
    let successor = aws.job(
        "kept",
        "uid-successor",
        1,
        &scheduled("[sleep, infinity]", ""),
    );
    let next = desired(&successor);
    let client = aws.client(&successor).await;
    let observed = client.observe(&next).await.unwrap();
    assert!(
        matches!(
            observed.definition,
            Definition::Present {
                up_to_date: false,
                ..
            }
        ),
        "{observed:?}"
    );
    assert!(
        observed.runs.is_empty(),
        "the old object's run is not the new one's"
    );
    client.apply(&next).await.unwrap();
    let schedule = aws.schedule(&name).await.unwrap();
    assert!(
        schedule
            .description()
            .unwrap()
            .contains("uid=uid-successor")
    );

    // A third object while the successor owns it: the name is taken.
    let intruder = aws.job("kept", "uid-intruder", 1, &scheduled("[echo]", ""));
    let error = aws
        .client(&intruder)
        .await
        .observe(&desired(&intruder))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), reasons::NAME_TAKEN);
}
