//! ServerlessJobs on Fargate, pure: the task definition, the RunTask of each attempt and the
//! EventBridge Scheduler schedule (every request checked against botocore's models), the
//! rules `check_job` adds, what ECS's tasks say about a run, and what `advance` starts and
//! stops.

use ferry_api::conditions::reasons;
use ferry_api::{ConcurrencyPolicy, JobRun, RunState};
use ferry_core::job::DesiredJob;
use ferry_provider::backend::Backend;
use ferry_provider_fargate::Fargate;
use ferry_provider_fargate::build::TAG_FINGERPRINT;
use ferry_provider_fargate::job::build::{
    self as job, Attempt, JobRequests, ScheduleOwner, Slot, TASK_COUNT_ENV, TASK_INDEX_ENV,
    TaskGroup,
};
use ferry_provider_fargate::job::runs::{
    self, Advance, MAX_STARTS, ObservedContainer, ObservedTask, Outcome, RunTasks, TaskState,
};
use ferry_testkit::builders::{UID, desired_job, serverless_job};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::common::{AWS_PROD, crate_dir, example_provider_config, json, tag_map};

const RICH: &str = "{provider: fargate, \
    containers: [{name: report, image: 'ghcr.io/acme/report:1.2', command: [/report], \
                  args: [--since, 24h], env: [{name: MODE, value: full}], \
                  resources: {cpu: 500m, memory: 1Gi}}, \
                 {name: log, image: 'ghcr.io/acme/log:1', resources: {cpu: 500m, memory: 1Gi}}], \
    taskCount: 4, parallelism: 2, maxRetries: 2, timeoutSeconds: 900, \
    fargate: {capacityProvider: FARGATE_SPOT, platformVersion: 1.4.0, assignPublicIp: false}}";

const SIMPLE: &str = "{provider: fargate, \
    containers: [{name: report, image: 'ghcr.io/acme/report:1.2', command: [sh, -c, 'exit 0']}]}";

const SCHEDULED: &str = "{provider: fargate, \
    containers: [{name: report, image: 'ghcr.io/acme/report:1.2'}], \
    schedule: '0 3 * * MON-FRI', timeZone: Europe/Berlin}";

const ROLE: &str = "arn:aws:iam::123456789012:role/ferry-scheduler";
const CLUSTER_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";

fn desired(spec: &str) -> DesiredJob {
    desired_job(spec, &Fargate)
}

fn requests(want: &DesiredJob) -> JobRequests {
    job::requests(want, &example_provider_config(), AWS_PROD).unwrap()
}

fn td_arn(revision: i32) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:task-definition/shop__report:{revision}")
}

fn attempt(run: &str, index: u32, attempt: u32, count: u32) -> Attempt<'_> {
    Attempt {
        run,
        generation: 1,
        index,
        attempt,
        count,
    }
}

#[test]
fn the_task_definition_is_the_services_in_a_family_of_its_own() {
    let want = desired(RICH);
    let r = requests(&want);
    let td = json(&r.task_definition);
    assert_eq!(td["family"], "shop__report");
    assert_eq!(td["cpu"], "1024");
    assert_eq!(td["memory"], "2048");
    assert_eq!(td["requiresCompatibilities"], json!(["FARGATE"]));
    assert_eq!(
        td["containerDefinitions"][0]["entryPoint"],
        json!(["/report"])
    );
    assert_eq!(
        td["containerDefinitions"][0]["command"],
        json!(["--since", "24h"])
    );
    assert!(
        td["containerDefinitions"][0].get("portMappings").is_none(),
        "a task serves nothing: {td:#}"
    );
    let tags = tag_map(&r.task_definition.tags);
    assert_eq!(tags["ferry.dev/uid"], UID);
    assert_eq!(tags[TAG_FINGERPRINT], r.task_definition_fingerprint);
    // A change of the image is a new revision; one of the schedule is not.
    let other = requests(&desired(&RICH.replace("report:1.2", "report:1.3")));
    assert_ne!(
        other.task_definition_fingerprint,
        r.task_definition_fingerprint
    );
}

#[test]
fn a_run_task_starts_one_attempt_keyed_by_run_index_and_attempt() {
    let want = desired(RICH);
    let r = requests(&want);
    let run = job::run_name(&want.object, 1);
    let containers = ["report".to_owned(), "log".to_owned()];
    let request = job::run_task(&want, &r, &td_arn(3), &containers, &attempt(&run, 2, 1, 4));
    let body = json(&request);
    assert_eq!(body["count"], 1);
    assert_eq!(body["startedBy"], run);
    assert!(run.len() <= job::MAX_STARTED_BY);
    assert_eq!(body["clientToken"], format!("{run}-2-1"));
    assert_eq!(body["taskDefinition"], td_arn(3));
    assert_eq!(body["cluster"], "prod");
    assert_eq!(body["platformVersion"], "1.4.0");
    assert!(body.get("launchType").is_none(), "{body:#}");
    assert_eq!(
        body["capacityProviderStrategy"],
        json!([{"capacityProvider": "FARGATE_SPOT", "weight": 1}])
    );
    assert_eq!(
        body["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"],
        "DISABLED"
    );
    assert_eq!(
        TaskGroup::parse(body["group"].as_str().unwrap()),
        Some(TaskGroup {
            uid: UID.into(),
            generation: 1,
            slot: Slot::Task {
                index: 2,
                attempt: 1,
                count: 4
            }
        })
    );
    let tags = tag_map(&request.tags);
    assert_eq!(tags["ferry.dev/uid"], UID);
    assert_eq!(tags[job::TAG_GENERATION], "1");
    assert_eq!(tags[job::TAG_TASK_INDEX], "2");
    assert_eq!(tags[job::TAG_ATTEMPT], "1");
    let env = json!([
        {"name": TASK_INDEX_ENV, "value": "2"},
        {"name": TASK_COUNT_ENV, "value": "4"},
    ]);
    assert_eq!(
        body["overrides"],
        json!({"containerOverrides": [
            {"name": "report", "environment": env},
            {"name": "log", "environment": env},
        ]})
    );
    // The overrides stay far below ECS's 8192 characters.
    assert!(body["overrides"].to_string().len() < 8192);

    let single = desired(SIMPLE);
    let run = job::run_name(&single.object, 1);
    let body = json(&job::run_task(
        &single,
        &requests(&single),
        &td_arn(1),
        &["report".to_owned()],
        &attempt(&run, 0, 0, 1),
    ));
    assert!(body.get("overrides").is_none(), "{body:#}");
    assert_eq!(body["launchType"], "FARGATE");
}

#[test]
fn a_schedule_runs_one_task_as_the_role_on_eventbridge_cron() {
    let want = desired(SCHEDULED);
    let r = requests(&want);
    let schedule = job::schedule(&want, &r, CLUSTER_ARN, &td_arn(2), ROLE, "ENABLED")
        .unwrap()
        .unwrap();
    let body = json(&schedule);
    assert_eq!(body["Name"], job::schedule_name("shop", "report"));
    assert_eq!(body["GroupName"], "default");
    assert_eq!(body["ScheduleExpression"], "cron(0 3 ? * MON-FRI *)");
    assert_eq!(body["ScheduleExpressionTimezone"], "Europe/Berlin");
    assert_eq!(body["State"], "ENABLED");
    assert_eq!(body["FlexibleTimeWindow"], json!({"Mode": "OFF"}));
    assert_eq!(body["Target"]["Arn"], CLUSTER_ARN);
    assert_eq!(body["Target"]["RoleArn"], ROLE);
    let ecs = &body["Target"]["EcsParameters"];
    assert_eq!(ecs["TaskDefinitionArn"], td_arn(2));
    assert_eq!(ecs["TaskCount"], 1);
    assert_eq!(ecs["LaunchType"], "FARGATE");
    assert_eq!(
        TaskGroup::parse(ecs["Group"].as_str().unwrap()),
        Some(TaskGroup {
            uid: UID.into(),
            generation: 1,
            slot: Slot::Schedule
        })
    );
    let tags = ecs["Tags"].as_array().unwrap();
    assert!(tags.iter().all(|t| t.as_object().unwrap().len() == 1));
    assert!(tags.contains(&json!({"ferry.dev/uid": UID})), "{tags:?}");
    assert!(
        tags.contains(&json!({"ferry.dev/schedule": job::schedule_name("shop", "report")})),
        "{tags:?}"
    );
    assert!(body.get("fingerprint").is_none(), "not sent");
    assert_eq!(
        job::schedule_owner(body["Description"].as_str(), Some(UID)),
        ScheduleOwner::Ours(schedule.fingerprint.clone())
    );

    // The state is compared on its own: flipping it leaves the fingerprint.
    let disabled = job::schedule(&want, &r, CLUSTER_ARN, &td_arn(2), ROLE, "DISABLED")
        .unwrap()
        .unwrap();
    assert_eq!(disabled.fingerprint, schedule.fingerprint);
    assert_ne!(
        job::schedule(&want, &r, CLUSTER_ARN, &td_arn(3), ROLE, "ENABLED")
            .unwrap()
            .unwrap()
            .fingerprint,
        schedule.fingerprint
    );

    // Suspended, or (Forbid) while a scheduled run is under way, the schedule starts nothing.
    assert_eq!(job::schedule_state(&want, false), "ENABLED");
    assert_eq!(job::schedule_state(&want, true), "DISABLED");
    let suspended = desired(&SCHEDULED.replace("schedule:", "suspend: true, schedule:"));
    assert_eq!(job::schedule_state(&suspended, false), "DISABLED");
    let allow = desired(&SCHEDULED.replace("schedule:", "concurrencyPolicy: Allow, schedule:"));
    assert_eq!(job::schedule_state(&allow, true), "ENABLED");

    // Without a schedule there is none.
    let plain = desired(SIMPLE);
    assert_eq!(
        job::schedule(
            &plain,
            &requests(&plain),
            CLUSTER_ARN,
            &td_arn(1),
            ROLE,
            "ENABLED"
        ),
        Ok(None)
    );
}

/// The checker, run by the project's virtualenv (which has botocore, from moto).
fn checker() -> ferry_testkit::Checker {
    ferry_testkit::Checker {
        script: crate_dir().join("tests/botocore_validate.py"),
        with: "botocore",
        install: moto_standin::INSTALL_HINT,
        ok: ": ok",
    }
}

fn doc(service: &str, operation: &str, params: Value) -> Value {
    let mut doc = json!({"service": service, "operation": operation});
    doc["params"] = params;
    doc
}

/// Every request a job sends, for each spec.
fn job_documents() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (name, spec) in [("rich", RICH), ("simple", SIMPLE), ("scheduled", SCHEDULED)] {
        let want = desired(spec);
        let r = requests(&want);
        out.push((
            format!("{name}: RegisterTaskDefinition"),
            doc("ecs", "RegisterTaskDefinition", json(&r.task_definition)),
        ));
        let run = job::run_name(&want.object, i64::MAX);
        let containers: Vec<String> = want.containers.iter().map(|c| c.name.clone()).collect();
        let last = want.task_count - 1;
        for (index, attempt_no) in [(0, 0), (last, want.max_retries)] {
            let request = job::run_task(
                &want,
                &r,
                &td_arn(7),
                &containers,
                &attempt(&run, index, attempt_no, want.task_count),
            );
            out.push((
                format!("{name}: RunTask {index}/{attempt_no}"),
                doc("ecs", "RunTask", json(&request)),
            ));
        }
        out.push((
            format!("{name}: StopTask at the deadline"),
            doc(
                "ecs",
                "StopTask",
                json!({"cluster": "prod", "task": "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef",
                       "reason": job::deadline_reason(want.timeout_seconds)}),
            ),
        ));
        if let Some(schedule) =
            job::schedule(&want, &r, CLUSTER_ARN, &td_arn(7), ROLE, "ENABLED").unwrap()
        {
            let mut create = json(&schedule);
            // As the client does: the token of this request.
            create["ClientToken"] = json!(format!("ferry-{}-ENABLED", schedule.fingerprint));
            out.push((
                format!("{name}: CreateSchedule"),
                doc("scheduler", "CreateSchedule", create.clone()),
            ));
            out.push((
                format!("{name}: UpdateSchedule"),
                doc("scheduler", "UpdateSchedule", create),
            ));
            out.push((
                format!("{name}: DeleteSchedule"),
                doc(
                    "scheduler",
                    "DeleteSchedule",
                    json!({"Name": schedule.name, "GroupName": schedule.group_name}),
                ),
            ));
        }
    }
    out
}

#[test]
fn every_job_request_matches_botocores_service_models() {
    let docs = job_documents();
    let operations: std::collections::BTreeSet<&str> = docs
        .iter()
        .map(|(_, d)| d["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        operations.into_iter().collect::<Vec<_>>(),
        [
            "CreateSchedule",
            "DeleteSchedule",
            "RegisterTaskDefinition",
            "RunTask",
            "StopTask",
            "UpdateSchedule"
        ]
    );
    checker().assert_accepts(&docs);
}

#[test]
fn the_checker_refuses_what_the_scheduler_refuses() {
    let docs: Vec<Value> = job_documents().into_iter().map(|(_, d)| d).collect();
    let create = docs
        .iter()
        .find(|d| d["operation"] == "CreateSchedule")
        .unwrap()
        .clone();
    let create_token = create.clone();
    let set = |mut d: Value, pointer: &str, value: Value| {
        *d.pointer_mut(pointer).unwrap() = value;
        d
    };
    let cases = [
        (
            "a schedule name with a slash",
            set(create.clone(), "/params/Name", json!("shop/report")),
            "does not match the pattern",
        ),
        (
            "a role that is not an IAM role ARN",
            set(create.clone(), "/params/Target/RoleArn", json!("ferry")),
            "does not match the pattern",
        ),
        (
            "eleven tasks a firing",
            set(
                create.clone(),
                "/params/Target/EcsParameters/TaskCount",
                json!(11),
            ),
            "at most 10",
        ),
        (
            "a network in ECS's spelling",
            set(
                create,
                "/params/Target/EcsParameters/NetworkConfiguration",
                json!({"awsvpcConfiguration": {"subnets": ["subnet-1"]}}),
            ),
            "Unknown parameter",
        ),
        (
            "a client token with a character the scheduler refuses",
            set(create_token, "/params/ClientToken", json!("ferry:1")),
            "does not match the pattern",
        ),
    ];
    checker().assert_refuses(&docs, &cases);
}

fn findings(spec: &str) -> String {
    match ferry_core::job::validate_job(&serverless_job(spec), &Fargate) {
        Ok(valid) => panic!("accepted: {:?}", valid.desired.schedule),
        Err(invalid) => invalid.to_string(),
    }
}

#[test]
fn what_eventbridge_scheduler_cannot_run_is_refused_naming_the_field() {
    let both_days = findings(&SCHEDULED.replace("0 3 * * MON-FRI", "0 3 1 * MON"));
    assert!(both_days.contains("spec.schedule"), "{both_days}");
    assert!(both_days.contains("EventBridge"), "{both_days}");
    let many = findings(&SCHEDULED.replace("schedule:", "taskCount: 3, schedule:"));
    assert!(many.contains("spec.taskCount"), "{many}");
    assert!(many.contains(TASK_INDEX_ENV), "{many}");
    // Without a schedule, any task count runs: Ferry starts each task itself.
    assert_eq!(desired(RICH).task_count, 4);
    // The service rules hold for a job's tasks too.
    let odd = findings(&SIMPLE.replace("command: [sh, -c, 'exit 0']", "resources: {cpu: 300m}"));
    assert!(odd.contains("Fargate sells"), "{odd}");
}

#[test]
fn render_prints_the_task_definition_and_the_first_run_task_or_the_schedule() {
    let config = ferry_api::ProviderConfigSpec {
        fargate: Some(example_provider_config()),
        cloud_run: None,
        azure: None,
        allowed_namespaces: None,
        namespace_selector: None,
    };
    let rendered = Fargate
        .render_job(&desired(RICH), AWS_PROD, Some(&config))
        .unwrap();
    let body: Value = serde_json::from_str(&rendered.body).unwrap();
    assert_eq!(body["registerTaskDefinition"]["family"], "shop__report");
    assert_eq!(
        body["runTask"]["clientToken"],
        format!("{}-0-0", job::run_name(&desired(RICH).object, 1))
    );
    assert!(
        rendered.comment.contains("ServerlessJob report"),
        "{}",
        rendered.comment
    );

    let scheduled = Fargate
        .render_job(&desired(SCHEDULED), AWS_PROD, None)
        .unwrap();
    let body: Value = serde_json::from_str(&scheduled.body).unwrap();
    assert_eq!(
        body["createSchedule"]["ScheduleExpression"],
        "cron(0 3 ? * MON-FRI *)"
    );
    assert!(
        body["createSchedule"]["Target"]["RoleArn"]
            .as_str()
            .unwrap()
            .contains("schedulerRoleArn of ProviderConfig")
    );
    assert!(body.get("runTask").is_none());
    assert!(
        scheduled.comment.contains("placeholders"),
        "{}",
        scheduled.comment
    );
}

// What ECS's tasks say about a run.

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

/// A task of `want`'s run of generation 1: `index`, `attempt`, created at `created`, in
/// `status`; `stop` is (stopCode, stoppedReason), `exits` the containers' exit codes.
fn task(
    want: &DesiredJob,
    index: u32,
    attempt: u32,
    created: i64,
    status: &str,
    stop: Option<(&str, &str)>,
    exits: &[Option<i32>],
) -> ObservedTask {
    let run = job::run_name(&want.object, 1);
    let stopped = status == "STOPPED";
    ObservedTask {
        arn: format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{index}x{attempt}"),
        task_definition_arn: td_arn(1),
        started_by: run,
        group: TaskGroup {
            uid: UID.into(),
            generation: 1,
            slot: Slot::Task {
                index,
                attempt,
                count: want.task_count,
            },
        }
        .encode(),
        last_status: status.into(),
        desired_status: if stopped || stop.is_some() {
            "STOPPED"
        } else {
            "RUNNING"
        }
        .into(),
        created_at: Some(at(created)),
        stopped_at: stopped.then(|| at(created + 60)),
        stop_code: stop.map(|(c, _)| c.into()),
        stopped_reason: stop.map(|(_, r)| r.into()),
        containers: exits
            .iter()
            .enumerate()
            .map(|(i, code)| ObservedContainer {
                name: format!("c{i}"),
                exit_code: *code,
                reason: None,
            })
            .collect(),
    }
}

const EXITED: Option<(&str, &str)> = Some((
    "EssentialContainerExited",
    "Essential container in task exited",
));

fn run_of(want: &DesiredJob, tasks: Vec<ObservedTask>) -> RunTasks {
    let mut runs = runs::group_runs(&want.object, tasks);
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs.remove(0)
}

fn state_of(run: &JobRun) -> (RunState, Option<&str>, i32, i32, i32) {
    (
        run.state,
        run.reason.as_deref(),
        run.succeeded,
        run.failed,
        run.active,
    )
}

#[test]
fn a_stopped_task_reads_as_its_documented_outcome() {
    let want = desired(SIMPLE);
    let stopped = |stop: Option<(&str, &str)>, exits: &[Option<i32>]| {
        runs::outcome(&task(&want, 0, 0, 0, "STOPPED", stop, exits)).unwrap()
    };
    let failed = |o: Outcome| match o {
        Outcome::Failed { reason, message } => (reason, message),
        other => panic!("{other:?}"),
    };
    assert_eq!(stopped(EXITED, &[Some(0), Some(0)]), Outcome::Succeeded);
    assert_eq!(stopped(None, &[Some(0)]), Outcome::Succeeded);
    let (reason, message) = failed(stopped(EXITED, &[Some(0), Some(3)]));
    assert_eq!(reason, reasons::CONTAINER_FAILED);
    assert_eq!(message, "container c1 exited with 3");
    let (reason, _) = failed(stopped(
        Some((
            "TaskFailedToStart",
            "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
        )),
        &[None],
    ));
    assert_eq!(reason, reasons::IMAGE_NOT_FOUND);
    let (reason, _) = failed(stopped(
        Some((
            "TaskFailedToStart",
            "ResourceInitializationError: no subnet",
        )),
        &[None],
    ));
    assert_eq!(reason, reasons::TASK_FAILED_TO_START);
    let (reason, message) = failed(stopped(
        Some(("UserInitiated", &job::deadline_reason(600))),
        &[Some(137)],
    ));
    assert_eq!(reason, reasons::DEADLINE_EXCEEDED);
    assert!(message.contains("600"), "{message}");
    assert_eq!(
        stopped(
            Some(("UserInitiated", "Task stopped by user")),
            &[Some(137)]
        ),
        Outcome::Stopped {
            message: "Task stopped by user".into()
        }
    );
    let (reason, message) = failed(stopped(
        Some(("SpotInterruption", "Your Spot Task was interrupted.")),
        &[Some(137)],
    ));
    assert_eq!(reason, reasons::STOPPED);
    assert!(message.contains("SpotInterruption"), "{message}");
    assert_eq!(
        runs::outcome(&task(&want, 0, 0, 0, "RUNNING", None, &[None])),
        None
    );
}

#[test]
fn a_run_is_as_its_tasks_are_after_their_retries() {
    let want = desired(RICH); // four tasks, two at a time, two retries
    let max = want.max_retries;
    let running = run_of(
        &want,
        vec![
            task(&want, 0, 0, 0, "RUNNING", None, &[None]),
            task(&want, 1, 0, 0, "PENDING", None, &[None]),
        ],
    );
    let r = running.run(max);
    assert_eq!(state_of(&r), (RunState::Running, None, 0, 0, 2));
    assert_eq!(r.name, job::run_name(&want.object, 1));
    assert_eq!(r.generation, Some(1));
    assert_eq!(r.start_time.map(|t| t.0), Some(at(0)));
    assert_eq!(r.completion_time, None);

    let done: Vec<ObservedTask> = (0..4)
        .map(|i| task(&want, i, 0, i64::from(i), "STOPPED", EXITED, &[Some(0)]))
        .collect();
    let r = run_of(&want, done).run(max);
    assert_eq!(state_of(&r), (RunState::Succeeded, None, 4, 0, 0));
    assert_eq!(r.completion_time.map(|t| t.0), Some(at(63)));

    // Task 2 failed three times (two retries): the run failed, with the container's exit.
    let mut tasks: Vec<ObservedTask> = (0..4)
        .filter(|i| *i != 2)
        .map(|i| task(&want, i, 0, 0, "STOPPED", EXITED, &[Some(0)]))
        .collect();
    tasks.extend((0..3).map(|a| {
        task(
            &want,
            2,
            a,
            100 * i64::from(a),
            "STOPPED",
            EXITED,
            &[Some(1)],
        )
    }));
    let r = run_of(&want, tasks.clone()).run(max);
    assert_eq!(
        state_of(&r),
        (RunState::Failed, Some(reasons::CONTAINER_FAILED), 3, 1, 0)
    );
    assert_eq!(
        r.message.as_deref(),
        Some("task 2 failed after 3 attempts: container c0 exited with 1")
    );
    // After two attempts it is a retry still to come: running.
    tasks.pop();
    let r = run_of(&want, tasks).run(max);
    assert_eq!(state_of(&r), (RunState::Running, None, 3, 0, 0));

    // Stopped by someone: the run was stopped.
    let r = run_of(
        &want,
        vec![task(
            &want,
            0,
            0,
            0,
            "STOPPED",
            Some(("UserInitiated", "Ferry: replaced by generation 2")),
            &[Some(137)],
        )],
    )
    .run(max);
    assert_eq!(
        state_of(&r),
        (RunState::Stopped, Some(reasons::STOPPED), 0, 0, 0)
    );

    // Task 0's record is gone (ECS forgets stopped tasks after an hour or more) while task 1's
    // is there: task 0 ran and succeeded.
    let r = run_of(
        &want,
        (1..4)
            .map(|i| task(&want, i, 0, 0, "STOPPED", EXITED, &[Some(0)]))
            .collect(),
    )
    .run(max);
    assert_eq!(state_of(&r), (RunState::Succeeded, None, 4, 0, 0));
}

#[test]
fn tasks_of_other_objects_and_of_nobody_are_left_out() {
    let want = desired(SIMPLE);
    let mine = task(&want, 0, 0, 0, "RUNNING", None, &[None]);
    let mut other = mine.clone();
    other.arn.push('2');
    other.group = other.group.replace(UID, "another-uid");
    let mut console = mine.clone();
    console.arn.push('3');
    console.group = "family:shop__report".into();
    let mut foreign_run = mine.clone();
    foreign_run.arn.push('4');
    foreign_run.started_by = "ecs-svc/1234".into();
    let runs = runs::group_runs(&want.object, vec![mine, other, console, foreign_run]);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].tasks.len(), 1);
}

#[test]
fn a_scheduled_firing_is_a_run_named_after_its_time_and_its_retries_join_it() {
    let want = desired(SCHEDULED);
    let mut fired = task(&want, 0, 0, 10, "STOPPED", EXITED, &[Some(1)]);
    fired.started_by = "chronos-schedule/shop_report-1a2b3c4d".into();
    fired.group = TaskGroup {
        uid: UID.into(),
        generation: 1,
        slot: Slot::Schedule,
    }
    .encode();
    let name = job::scheduled_run_name(&want.object, at(10));
    let mut retry = task(&want, 0, 1, 70, "RUNNING", None, &[None]);
    retry.started_by = name.clone();
    let mut older = fired.clone();
    older.arn.push('0');
    older.created_at = Some(at(-86_400));
    older.containers[0].exit_code = Some(0);
    let runs = runs::group_runs(&want.object, vec![older, fired, retry]);
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].name, name, "newest first");
    assert!(runs[0].scheduled);
    assert_eq!(runs[0].tasks.len(), 2);
    assert_eq!(
        state_of(&runs[0].run(want.max_retries)),
        (RunState::Running, None, 0, 0, 1)
    );
    assert_eq!(
        state_of(&runs[1].run(want.max_retries)),
        (RunState::Succeeded, None, 1, 0, 0)
    );
}

fn plan(want: &DesiredJob, run: &RunTasks, now: i64) -> Advance {
    runs::advance(want, run, std::slice::from_ref(run), at(now))
}

#[test]
fn advance_starts_retries_then_new_tasks_while_fewer_than_parallelism_run() {
    let want = desired(RICH); // four tasks, two at a time, two retries, 900 s
    let fresh = RunTasks::empty(job::run_name(&want.object, 1), 1, want.task_count);
    assert_eq!(plan(&want, &fresh, 0).start, [(0, 0), (1, 0)]);

    let one_running = run_of(
        &want,
        vec![
            task(&want, 0, 0, 0, "RUNNING", None, &[None]),
            task(&want, 1, 0, 0, "STOPPED", EXITED, &[Some(2)]),
        ],
    );
    assert_eq!(
        plan(&want, &one_running, 10),
        Advance {
            stop: vec![],
            start: vec![(1, 1)]
        },
        "the retry of task 1 comes before task 2"
    );

    let both_running = run_of(
        &want,
        vec![
            task(&want, 0, 0, 0, "RUNNING", None, &[None]),
            task(&want, 1, 1, 0, "RUNNING", None, &[None]),
        ],
    );
    assert_eq!(plan(&want, &both_running, 10), Advance::default());

    let two_done = run_of(
        &want,
        vec![
            task(&want, 0, 0, 0, "STOPPED", EXITED, &[Some(0)]),
            task(&want, 1, 0, 0, "STOPPED", EXITED, &[Some(0)]),
        ],
    );
    assert_eq!(plan(&want, &two_done, 10).start, [(2, 0), (3, 0)]);

    // A run of many tasks starts at most MAX_STARTS a call.
    let wide = desired(&RICH.replace("taskCount: 4, parallelism: 2", "taskCount: 100"));
    let fresh = RunTasks::empty(job::run_name(&wide.object, 1), 1, wide.task_count);
    let started = plan(&wide, &fresh, 0).start;
    assert_eq!(started.len(), MAX_STARTS);
    assert_eq!(
        started[MAX_STARTS - 1],
        (u32::try_from(MAX_STARTS).unwrap() - 1, 0)
    );
}

#[test]
fn advance_stops_an_attempt_past_the_timeout_and_a_run_that_failed() {
    let want = desired(RICH); // 900 s
    let run = run_of(
        &want,
        vec![
            task(&want, 0, 0, 0, "RUNNING", None, &[None]),
            task(&want, 1, 0, 500, "RUNNING", None, &[None]),
        ],
    );
    assert_eq!(plan(&want, &run, 899).stop, vec![]);
    let late = plan(&want, &run, 900);
    assert_eq!(late.stop.len(), 1);
    assert!(late.stop[0].0.ends_with("/0x0"));
    assert!(late.stop[0].1.starts_with(job::DEADLINE_PREFIX));
    assert_eq!(late.start, vec![], "both slots are taken until it stops");

    // Task 1 failed after its retries: the others stop, nothing starts.
    let mut tasks = vec![task(&want, 0, 0, 0, "RUNNING", None, &[None])];
    tasks.extend((0..3).map(|a| task(&want, 1, a, 0, "STOPPED", EXITED, &[Some(1)])));
    let failed = plan(&want, &run_of(&want, tasks), 10);
    assert_eq!(failed.start, vec![]);
    assert_eq!(failed.stop.len(), 1);
    assert!(failed.stop[0].1.contains("task 1 failed"), "{failed:?}");

    // A finished run needs nothing.
    let done = run_of(
        &want,
        (0..4)
            .map(|i| task(&want, i, 0, 0, "STOPPED", EXITED, &[Some(0)]))
            .collect(),
    );
    assert_eq!(plan(&want, &done, 10_000), Advance::default());
}

#[test]
fn a_scheduled_run_follows_the_concurrency_policy_the_scheduler_cannot() {
    let fired = |want: &DesiredJob, created: i64| {
        let mut t = task(want, 0, 0, created, "RUNNING", None, &[None]);
        t.arn.push_str(&created.to_string());
        t.group = TaskGroup {
            uid: UID.into(),
            generation: 1,
            slot: Slot::Schedule,
        }
        .encode();
        t
    };
    for (policy, older_stops, newer_stops) in [
        (ConcurrencyPolicy::Forbid, false, true),
        (ConcurrencyPolicy::Replace, true, false),
        (ConcurrencyPolicy::Allow, false, false),
    ] {
        let mut want = desired(SCHEDULED);
        want.concurrency_policy = policy;
        let runs = runs::group_runs(&want.object, vec![fired(&want, 0), fired(&want, 60)]);
        let (newer, older) = (&runs[0], &runs[1]);
        let stops = |run: &RunTasks| !runs::advance(&want, run, &runs, at(61)).stop.is_empty();
        assert_eq!(stops(older), older_stops, "{policy:?}: the older run");
        assert_eq!(stops(newer), newer_stops, "{policy:?}: the newer run");
    }
}

#[test]
fn states_say_where_each_task_stands() {
    let want = desired(RICH);
    let run = run_of(
        &want,
        vec![
            task(&want, 1, 0, 0, "STOPPED", EXITED, &[Some(0)]),
            task(
                &want,
                2,
                0,
                0,
                "RUNNING",
                Some(("UserInitiated", "Ferry: x")),
                &[None],
            ),
        ],
    );
    let states = run.states(want.max_retries);
    assert_eq!(states[0], TaskState::Aged);
    assert_eq!(states[1], TaskState::Succeeded);
    assert!(matches!(states[2], TaskState::Active { ending: true, .. }));
    assert_eq!(states[3], TaskState::NotStarted);
}

// What `ferry render` prints for jobs, against the committed files.

fn job_snapshots() -> ferry_testkit::Snapshots {
    ferry_testkit::Snapshots {
        dir: crate_dir().join("tests/job-snapshots"),
        extension: "json",
        bless_command: "FERRY_BLESS=1 cargo test -p ferry-provider-fargate --test build jobs",
    }
}

fn job_cases() -> Vec<(String, String)> {
    let config = ferry_api::ProviderConfigSpec {
        fargate: Some(example_provider_config()),
        cloud_run: None,
        azure: None,
        allowed_namespaces: None,
        namespace_selector: None,
    };
    [
        ("batch-spot", RICH),
        ("single", SIMPLE),
        ("scheduled", SCHEDULED),
    ]
    .into_iter()
    .map(|(name, spec)| {
        let rendered = Fargate
            .render_job(&desired(spec), AWS_PROD, Some(&config))
            .unwrap();
        (name.to_owned(), format!("{}\n", rendered.body))
    })
    .collect()
}

#[test]
fn rendered_job_requests_match_the_snapshots() {
    let cases = job_cases();
    job_snapshots().no_stale(cases.iter().map(|(name, _)| name.clone()));
    job_snapshots().compare(cases);
}

#[test]
fn the_job_column_is_partial_exactly_where_fargate_limits_a_field() {
    use ferry_core::backend::Rules as _;
    use ferry_core::capabilities::{JobFeature, Level};
    let cell = |f| Fargate.job_support(f);
    // Every field has a use Fargate takes: none is refused outright.
    for feature in JobFeature::ALL {
        let support = cell(feature);
        assert_ne!(support.level, Level::No, "{feature:?}: {}", support.note);
        assert!(!support.note.is_empty(), "{feature:?}");
    }
    let partial: Vec<JobFeature> = JobFeature::ALL
        .into_iter()
        .filter(|&f| cell(f).level == Level::Partial)
        .collect();
    assert_eq!(
        partial,
        [
            JobFeature::TaskCount,
            JobFeature::Parallelism,
            JobFeature::TimeoutSeconds,
            JobFeature::Schedule,
            JobFeature::ConcurrencyPolicy,
        ]
    );
    // Each limit the cells name is what the rules and builders do. Any task count runs
    // without a schedule, each task told its index; a scheduled run is one task ...
    let tasks = cell(JobFeature::TaskCount).note;
    assert!(
        tasks.contains(TASK_INDEX_ENV) && tasks.contains(TASK_COUNT_ENV),
        "{tasks}"
    );
    assert_eq!(desired(RICH).task_count, 4);
    let many = findings(&SCHEDULED.replace("schedule:", "taskCount: 3, schedule:"));
    assert!(many.contains("spec.taskCount"), "{many}");
    // ... a cron restricting both days is refused, one day field is taken, and the schedule
    // runs as the ProviderConfig's role in the spec's time zone.
    let schedule = cell(JobFeature::Schedule).note;
    assert!(
        schedule.contains("spec.fargate.schedulerRoleArn"),
        "{schedule}"
    );
    assert!(
        schedule.contains("both the day of month and the day of week"),
        "{schedule}"
    );
    let both_days = findings(&SCHEDULED.replace("0 3 * * MON-FRI", "0 3 1 * MON"));
    assert!(both_days.contains("spec.schedule"), "{both_days}");
    let want = desired(SCHEDULED);
    let request = job::schedule(
        &want,
        &requests(&want),
        CLUSTER_ARN,
        &td_arn(1),
        ROLE,
        "ENABLED",
    )
    .unwrap()
    .unwrap();
    assert_eq!(request.target.role_arn, ROLE);
    assert_eq!(request.target.ecs_parameters.task_count, 1);
    assert_eq!(request.schedule_expression_timezone, "Europe/Berlin");
    assert!(
        cell(JobFeature::TimeZone)
            .note
            .contains("ScheduleExpressionTimezone")
    );
    // Ferry paces the tasks: at most MAX_STARTS a look.
    assert!(
        cell(JobFeature::Parallelism)
            .note
            .contains(&format!("at most {MAX_STARTS} a look"))
    );
    // Suspend disables the schedule; Forbid does while a scheduled run is under way, Allow
    // never.
    assert!(cell(JobFeature::Suspend).note.contains("DISABLED"));
    let suspended = desired(&SCHEDULED.replace("schedule:", "suspend: true, schedule:"));
    assert_eq!(job::schedule_state(&suspended, false), "DISABLED");
    let forbid = desired(&SCHEDULED.replace("schedule:", "concurrencyPolicy: Forbid, schedule:"));
    assert_eq!(forbid.concurrency_policy, ConcurrencyPolicy::Forbid);
    assert_eq!(job::schedule_state(&forbid, true), "DISABLED");
    assert_eq!(job::schedule_state(&forbid, false), "ENABLED");
    let allow = desired(&SCHEDULED.replace("schedule:", "concurrencyPolicy: Allow, schedule:"));
    assert_eq!(job::schedule_state(&allow, true), "ENABLED");
    assert!(
        cell(JobFeature::ConcurrencyPolicy)
            .note
            .contains("Forbid disables the schedule")
    );
    // The run: the job's own task definition family.
    assert!(cell(JobFeature::Run).note.contains("NAMESPACE__NAME"));
    assert_eq!(job::family("shop", "report"), "shop__report");
}
