//! ServerlessJobs on the plain Kubernetes backend, end to end: the real `ferry controller`
//! process against the stand-in API server (or a real cluster with `FERRY_E2E_KUBECONFIG`),
//! running each spec once as a `batch/v1` Job and a schedule as a CronJob. Nothing runs Jobs
//! on the stand-in, so the tests play the Job controller there ([`e2e::play_jobs`], by the
//! stand-ins' command convention: `exit N` fails, `sleep infinity` runs on) and fire CronJobs
//! ([`e2e::fire_cron_job`]); on a real cluster the controller manager and the kubelet run the
//! same commands in [`IMAGE`], and the CronJob fires every minute by itself. Volumes too: a
//! job's EFS PersistentVolume and claim, made before its run and deleted with the job.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::time::Duration;

use e2e::{Cluster, Ferry, MANAGER, Operator, Player, Scene, TestNamespace, wait_for};
use ferry_api::{RunState, ServerlessJob, ServerlessService};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use kube_standin::{Fault, Matcher, Remote, Rule};
use serde_json::{Value, json};

/// Long enough for a real cluster to pull an image, and for a CronJob's next minute.
const WAIT: Duration = Duration::from_secs(150);
/// An image with a shell and a `sleep` that takes `infinity`, for a real cluster.
const IMAGE: &str = "debian:bookworm-slim";
/// The label on every Job of a ServerlessJob.
const JOB_LABEL: &str = "ferry.dev/job";
/// An image that runs anywhere (it only sleeps), for a real cluster.
const PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.10";
const FS: &str = "fs-0123456789abcdef0";
const FINALIZER: &str = "ferry.dev/cleanup";

/// One test's namespace, with an operator watching only it, and the Job controller played.
struct Scenario {
    cluster: &'static Cluster,
    namespace: TestNamespace,
    client: Client,
    operator: Operator,
    _jobs: Option<Player>,
}

impl Scene for Scenario {
    const WAIT: Duration = WAIT;

    fn operator(&self) -> &Operator {
        &self.operator
    }

    fn ssvs(&self) -> Api<ServerlessService> {
        Api::namespaced(self.client.clone(), self.ns())
    }
}

impl Scenario {
    async fn start(prefix: &str) -> Self {
        let cluster = Cluster::shared().unwrap();
        cluster.install_crds().await.unwrap();
        let namespace = TestNamespace::create(cluster, prefix).await.unwrap();
        let client = cluster.client().await.unwrap();
        let operator = Ferry::spawn_confined(cluster, namespace.name()).unwrap();
        let jobs = e2e::play_jobs(cluster, client.clone(), namespace.name()).map(Player);
        Self {
            cluster,
            namespace,
            client,
            operator,
            _jobs: jobs,
        }
    }

    fn ns(&self) -> &str {
        self.namespace.name()
    }

    fn sjobs(&self) -> Api<ServerlessJob> {
        Api::namespaced(self.client.clone(), self.ns())
    }

    fn jobs(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), self.ns())
    }

    fn cron_jobs(&self) -> Api<CronJob> {
        Api::namespaced(self.client.clone(), self.ns())
    }

    async fn apply(&self, name: &str, spec: &Value) {
        let object = json!({
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": "ServerlessJob",
            "metadata": {"name": name},
            "spec": spec,
        });
        self.sjobs()
            .patch(name, &PatchParams::apply(MANAGER), &Patch::Apply(&object))
            .await
            .unwrap();
    }

    /// ServerlessJob `name` once `ok` holds for it and its status is for its generation.
    async fn sjob(
        &self,
        name: &str,
        what: &str,
        ok: impl Fn(&ServerlessJob) -> bool,
    ) -> ServerlessJob {
        let found = wait_for(&self.sjobs(), name, WAIT, what, |job: &ServerlessJob| {
            let current =
                job.status.as_ref().and_then(|s| s.observed_generation) == job.metadata.generation;
            current && ok(job)
        })
        .await;
        self.check(found)
    }

    /// Job `name` once `ok` holds for it.
    async fn job(&self, name: &str, ok: impl Fn(&Job) -> bool) -> Job {
        let found = wait_for(&self.jobs(), name, WAIT, &format!("Job {name}"), ok).await;
        self.check(found)
    }

    /// The PersistentVolumes Ferry made for ServerlessJob `name`, and its claims, once `ok`
    /// holds for their counts.
    async fn claims_of(
        &self,
        name: &str,
        ok: impl Fn(usize, usize) -> bool,
    ) -> (Vec<PersistentVolume>, Vec<PersistentVolumeClaim>) {
        let owner = format!("ServerlessJob {}/{name} (kubernetes)", self.ns());
        let found = e2e::claims_of(&self.client, self.ns(), &owner, WAIT, ok).await;
        self.check(found)
    }

    /// Ferry's Jobs of ServerlessJob `name`.
    async fn jobs_of(&self, name: &str) -> Vec<Job> {
        self.jobs()
            .list(&ListParams::default().labels(&format!("{JOB_LABEL}={name}")))
            .await
            .unwrap()
            .items
    }
}

/// `(status, reason)` of condition `type_`.
fn condition<'a>(job: &'a ServerlessJob, type_: &str) -> Option<(&'a str, &'a str)> {
    let c = job
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)?;
    Some((c.status.as_str(), c.reason.as_str()))
}

fn task(command: &str) -> Value {
    json!({"name": "task", "image": IMAGE, "command": ["sh", "-c", command],
           "resources": {"cpu": "100m", "memory": "64Mi"}})
}

fn finished(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| {
            c.iter()
                .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        })
}

#[tokio::test]
async fn a_job_runs_once_per_spec_reports_each_run_and_idles_without_writes() {
    let s = Scenario::start("job-once").await;
    s.apply(
        "report",
        &json!({"provider": "kubernetes", "containers": [task("echo report")]}),
    )
    .await;

    // Generation 1 runs as Job report-1, owned by the ServerlessJob.
    let job = s.job("report-1", |_| true).await;
    let sjob = s.sjobs().get("report").await.unwrap();
    let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(owner.kind, "ServerlessJob");
    assert_eq!(owner.uid, sjob.uid().unwrap());
    assert_eq!(job.labels()[JOB_LABEL], "report");
    assert_eq!(job.labels()["ferry.dev/generation"], "1");
    let spec = job.spec.as_ref().unwrap();
    assert_eq!(spec.completions, Some(1));
    assert_eq!(spec.backoff_limit_per_index, Some(3));
    assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));

    let done = s
        .sjob("report", "the run to succeed", |j| {
            condition(j, "Complete") == Some(("True", "Succeeded"))
        })
        .await;
    assert_eq!(condition(&done, "Ready"), Some(("True", "Succeeded")));
    assert_eq!(condition(&done, "Failed"), Some(("False", "Succeeded")));
    let last = done.status.as_ref().unwrap().last_run.clone().unwrap();
    assert_eq!(last.name, "report-1");
    assert_eq!(last.generation, Some(1));
    assert_eq!(last.state, RunState::Succeeded);
    assert_eq!(last.succeeded, 1);
    assert!(last.start_time.is_some());

    // Idle: nothing more to run, nothing written, no second Job.
    let version = done.resource_version();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        s.sjobs().get("report").await.unwrap().resource_version(),
        version
    );
    assert_eq!(s.jobs_of("report").await.len(), 1);

    // A new spec runs once more, as report-2; the history keeps both runs.
    s.apply(
        "report",
        &json!({"provider": "kubernetes", "containers": [task("echo report again")]}),
    )
    .await;
    let again = s
        .sjob("report", "the second run to succeed", |j| {
            j.status
                .as_ref()
                .and_then(|s| s.last_run.as_ref())
                .is_some_and(|r| r.name == "report-2" && r.state == RunState::Succeeded)
        })
        .await;
    let runs: Vec<&str> = again
        .status
        .as_ref()
        .unwrap()
        .runs
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(runs, ["report-2", "report-1"]);
    assert_eq!(s.jobs_of("report").await.len(), 2);
}

#[tokio::test]
async fn a_failing_run_is_retried_per_task_then_fails_with_its_reason() {
    let s = Scenario::start("job-fail").await;
    s.apply(
        "broken",
        &json!({"provider": "kubernetes", "containers": [task("exit 1")], "maxRetries": 1}),
    )
    .await;
    let job = s.job("broken-1", |_| true).await;
    assert_eq!(job.spec.as_ref().unwrap().backoff_limit_per_index, Some(1));
    let failed = s
        .sjob("broken", "the run to fail", |j| {
            condition(j, "Failed").is_some_and(|(status, _)| status == "True")
        })
        .await;
    assert_eq!(
        condition(&failed, "Failed"),
        Some(("True", "ContainerFailed"))
    );
    assert_eq!(
        condition(&failed, "Ready"),
        Some(("False", "ContainerFailed"))
    );
    assert_eq!(
        condition(&failed, "Stalled"),
        Some(("True", "ContainerFailed"))
    );
    let last = failed.status.as_ref().unwrap().last_run.clone().unwrap();
    assert_eq!(last.state, RunState::Failed);
    assert_eq!(last.failed, 1);
    // A failed run is not run again until the spec changes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(s.jobs_of("broken").await.len(), 1);
}

#[tokio::test]
async fn a_schedule_runs_as_a_cron_job_that_suspend_pauses_and_removing_it_deletes() {
    let s = Scenario::start("job-cron").await;
    let spec = json!({"provider": "kubernetes", "containers": [task("echo tick")],
                      "schedule": "* * * * *", "timeZone": "Etc/UTC",
                      "concurrencyPolicy": "Forbid"});
    s.apply("tick", &spec).await;
    let scheduled = s
        .sjob("tick", "the schedule to be in place", |j| {
            condition(j, "Ready") == Some(("True", "Scheduled"))
        })
        .await;
    assert_eq!(
        scheduled
            .status
            .as_ref()
            .unwrap()
            .resource_ref
            .as_ref()
            .unwrap()
            .id,
        "cronjobs/tick"
    );
    let cron_job = s.cron_jobs().get("tick").await.unwrap();
    let cron_spec = cron_job.spec.as_ref().unwrap();
    assert_eq!(cron_spec.schedule, "* * * * *");
    assert_eq!(cron_spec.time_zone.as_deref(), Some("Etc/UTC"));
    assert_eq!(cron_spec.concurrency_policy.as_deref(), Some("Forbid"));
    assert_eq!(cron_spec.suspend, Some(false));
    assert_eq!(cron_job.owner_references()[0].kind, "ServerlessJob");

    // The schedule fires (played on the stand-in; every minute on a real cluster): the run
    // shows in status and its end in Complete.
    e2e::fire_cron_job(s.cluster, s.client.clone(), s.ns(), "tick")
        .await
        .unwrap();
    let ran = s
        .sjob("tick", "a scheduled run to succeed", |j| {
            condition(j, "Complete") == Some(("True", "Succeeded"))
        })
        .await;
    let last = ran.status.as_ref().unwrap().last_run.clone().unwrap();
    assert!(last.name.starts_with("tick-"), "{last:?}");
    assert_eq!(condition(&ran, "Ready"), Some(("True", "Scheduled")));

    // Suspended, the CronJob is paused.
    let mut suspended = spec.clone();
    suspended["suspend"] = json!(true);
    s.apply("tick", &suspended).await;
    s.sjob("tick", "the schedule to be suspended", |j| {
        condition(j, "Ready") == Some(("True", "Suspended"))
    })
    .await;
    assert_eq!(
        s.cron_jobs()
            .get("tick")
            .await
            .unwrap()
            .spec
            .unwrap()
            .suspend,
        Some(true)
    );

    // Without a schedule the CronJob goes, and the spec runs once as a Job.
    s.apply(
        "tick",
        &json!({"provider": "kubernetes", "containers": [task("echo once")]}),
    )
    .await;
    let gone = e2e::wait_gone(&s.cron_jobs(), "tick", WAIT, "the CronJob").await;
    s.check(gone);
    let generation = s
        .sjobs()
        .get("tick")
        .await
        .unwrap()
        .metadata
        .generation
        .unwrap();
    s.job(&format!("tick-{generation}"), |_| true).await;
}

#[tokio::test]
async fn a_suspended_job_runs_when_resumed() {
    let s = Scenario::start("job-suspend").await;
    let mut spec = json!({"provider": "kubernetes", "containers": [task("echo later")],
                          "suspend": true});
    s.apply("later", &spec).await;
    s.sjob("later", "the job to be suspended", |j| {
        condition(j, "Ready") == Some(("True", "Suspended"))
    })
    .await;
    assert!(s.jobs_of("later").await.is_empty());
    spec["suspend"] = json!(false);
    s.apply("later", &spec).await;
    s.job("later-2", |_| true).await;
    s.sjob("later", "the run to succeed", |j| {
        condition(j, "Complete") == Some(("True", "Succeeded"))
    })
    .await;
}

#[tokio::test]
async fn a_running_run_is_replaced_by_a_new_spec_and_goes_with_its_object() {
    let s = Scenario::start("job-replace").await;
    let spec = |command: &str| {
        json!({"provider": "kubernetes", "containers": [task(command)],
               "concurrencyPolicy": "Replace"})
    };
    s.apply("worker", &spec("sleep infinity")).await;
    s.sjob("worker", "the run to be under way", |j| {
        condition(j, "Ready") == Some(("Unknown", "Running"))
            && j.status
                .as_ref()
                .and_then(|s| s.last_run.as_ref())
                .is_some_and(|r| r.active > 0)
    })
    .await;

    // A new spec stops the running run (its Job suspended, so its record stays) and starts
    // its own.
    s.apply("worker", &spec("sleep infinity; echo v2")).await;
    let stopped = s
        .job("worker-1", |j| {
            j.spec.as_ref().and_then(|s| s.suspend) == Some(true)
        })
        .await;
    assert!(!finished(&stopped));
    s.job("worker-2", |_| true).await;
    let replaced = s
        .sjob("worker", "the old run to read as stopped", |j| {
            j.status.as_ref().is_some_and(|s| {
                s.runs
                    .iter()
                    .any(|r| r.name == "worker-1" && r.state == RunState::Stopped)
            })
        })
        .await;
    assert_eq!(replaced.status.unwrap().last_run.unwrap().name, "worker-2");

    // Deleting the object takes its Jobs with it (the garbage collector, by their owner).
    s.sjobs()
        .delete("worker", &DeleteParams::background())
        .await
        .unwrap();
    for name in ["worker-1", "worker-2"] {
        let gone = e2e::wait_gone(&s.jobs(), name, WAIT, "the Job").await;
        s.check(gone);
    }
}

#[tokio::test]
async fn an_operator_killed_after_starting_a_run_and_before_recording_it_never_starts_it_twice() {
    let mut s = Scenario::start("job-crash").await;
    // On the stand-in, the operator's status writes fail, so it starts the run and cannot
    // record it; on a real cluster the kill below lands wherever it lands.
    let operator_user = format!("system:serviceaccount:{}:ferry", s.ns());
    let api = s
        .cluster
        .is_standin()
        .then(|| Remote::from_kubeconfig(s.cluster.kubeconfig()).unwrap());
    let rule = match &api {
        Some(api) => Some(
            api.add(&Rule::randomly(
                Fault::InternalError,
                Matcher::writes("serverlessjobs")
                    .subresource("status")
                    .user(&operator_user),
                1.0,
                0,
            ))
            .await
            .unwrap(),
        ),
        None => None,
    };
    s.apply(
        "once",
        &json!({"provider": "kubernetes", "containers": [task("sleep infinity")]}),
    )
    .await;
    s.job("once-1", |_| true).await;
    // Started and unrecorded: kill it (SIGKILL) and start another.
    let sjob = s.sjobs().get("once").await.unwrap();
    if api.is_some() {
        assert!(
            sjob.status.as_ref().is_none_or(|st| st.runs.is_empty()),
            "the run was recorded despite the failing status writes: {:?}",
            sjob.status
        );
    }
    s.operator.kill();
    s.operator = Ferry::spawn_confined(s.cluster, s.ns()).unwrap();
    if let (Some(api), Some(rule)) = (&api, rule) {
        api.remove(rule).await.unwrap();
    }
    let recorded = s
        .sjob("once", "the restarted operator to record the run", |j| {
            j.status
                .as_ref()
                .and_then(|s| s.last_run.as_ref())
                .is_some_and(|r| r.name == "once-1")
        })
        .await;
    assert_eq!(recorded.status.unwrap().runs.len(), 1);
    assert_eq!(s.jobs_of("once").await.len(), 1, "exactly one run");
}

#[tokio::test]
async fn an_orphaned_job_leaves_its_jobs_and_cron_job_behind() {
    let s = Scenario::start("job-orphan").await;
    let spec = json!({"provider": "kubernetes", "containers": [task("echo kept")],
                      "deletionPolicy": "Orphan"});
    s.apply("kept", &spec).await;
    s.sjob("kept", "the run to succeed", |j| {
        condition(j, "Complete") == Some(("True", "Succeeded"))
    })
    .await;
    let mut scheduled = spec.clone();
    scheduled["schedule"] = json!("0 3 * * *");
    s.apply("kept", &scheduled).await;
    s.sjob("kept", "the schedule to be in place", |j| {
        condition(j, "Ready") == Some(("True", "Scheduled"))
    })
    .await;
    assert!(
        s.sjobs()
            .get("kept")
            .await
            .unwrap()
            .finalizers()
            .contains(&"ferry.dev/cleanup".to_owned())
    );
    s.sjobs()
        .delete("kept", &DeleteParams::background())
        .await
        .unwrap();
    let gone = e2e::wait_gone(&s.sjobs(), "kept", WAIT, "the ServerlessJob").await;
    s.check(gone);
    // Released: no owner left on either, so the garbage collector keeps them.
    let job = s.jobs().get("kept-1").await.unwrap();
    assert!(job.owner_references().is_empty(), "{:?}", job.metadata);
    let cron_job = s.cron_jobs().get("kept").await.unwrap();
    assert!(
        cron_job.owner_references().is_empty(),
        "{:?}",
        cron_job.metadata
    );
}

// Volumes (issue 23)

#[tokio::test]
async fn a_jobs_efs_claim_is_made_before_its_run_and_deleted_with_the_job() {
    let s = Scenario::start("vol-k8s-job").await;
    s.apply(
        "reindex",
        &json!({
            "provider": "kubernetes",
            "volumes": [
                {"name": "index", "efs": {"fileSystemId": FS, "rootDirectory": "/index"}},
                {"name": "scratch", "emptyDir": {}},
            ],
            "containers": [{
                "name": "reindex",
                "image": PAUSE_IMAGE,
                "resources": {"cpu": "100m", "memory": "64Mi"},
                "volumeMounts": [
                    {"name": "index", "mountPath": "/data/index"},
                    {"name": "scratch", "mountPath": "/tmp/sort"},
                ],
            }],
            "timeoutSeconds": 60,
        }),
    )
    .await;
    let (volumes, claims) = s.claims_of("reindex", |v, c| v == 1 && c == 1).await;
    e2e::assert_efs_pair(&volumes[0], &claims[0], s.ns(), &format!("{FS}:/index"));
    let job = serde_json::to_value(s.job("reindex-1", |_| true).await).unwrap();
    assert_eq!(
        job["spec"]["template"]["spec"]["volumes"],
        json!([
            {"name": "index", "persistentVolumeClaim": {"claimName": claims[0].name_any()}},
            {"name": "scratch", "emptyDir": {}},
        ]),
        "{job:#}"
    );
    let sjobs = s.sjobs();
    let sjob = sjobs.get("reindex").await.unwrap();
    assert!(sjob.finalizers().iter().any(|f| f == FINALIZER), "{sjob:?}");

    sjobs
        .delete("reindex", &DeleteParams::default())
        .await
        .unwrap();
    let gone = e2e::wait_gone(&sjobs, "reindex", WAIT, "the ServerlessJob").await;
    s.check(gone);
    s.claims_of("reindex", |v, c| v == 0 && c == 0).await;
}
