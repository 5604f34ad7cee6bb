//! The Kubernetes job client against the Kubernetes API stand-in: what observe, advance and stop
//! leave in the stand-in for a run whose pods cannot start, and which pods they read. Nothing
//! runs Jobs or pods there, so the tests write the Job's status as the Job controller would and
//! make the run's Pods with the labels, owner and status the Job controller and the kubelet give
//! them. The ServerlessJob is a real one in the stand-in, so its Jobs' owner reference names an
//! object that exists and the stand-in's garbage collector leaves them be. The client calls as
//! the operator's service account, and an audit log records every call: the tests count its pod
//! reads, and check each call against the RBAC that `deploy/ferry.yaml` grants.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::path::{Path, PathBuf};

use ferry_api::conditions::reasons;
use ferry_api::{JobRun, RunState, ServerlessJob};
use ferry_core::job::DesiredJob;
use ferry_provider::Connector;
use ferry_provider::backend::Caches;
use ferry_provider::job::Jobs;
use ferry_provider_kubernetes::Kubernetes;
use ferry_provider_kubernetes::client::KubernetesConnector;
use ferry_provider_kubernetes::job::build::{
    COMPLETION_INDEX_ANNOTATION, END_REASON_ANNOTATION, JOB_LABEL, JOB_NAME_LABEL,
};
use ferry_provider_kubernetes::job::client::jobs;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::{Client, ResourceExt as _};
use kube_standin::rbac::Policy;
use serde_json::{Value, json};

const NAMESPACE: &str = "shop";
const NAME: &str = "report";
/// The operator's user, as `deploy/ferry.yaml` binds its ClusterRole.
const FERRY: &str = "system:serviceaccount:ferry-system:ferry";
const IMAGE: &str = "ghcr.io/acme/report:nope";
const PULL_MESSAGE: &str = "Back-off pulling image \"ghcr.io/acme/report:nope\"";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn client_as(standin: &kube_standin::StandIn, user: &str) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(&standin.kubeconfig_as(Some(user))).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

fn pods() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "Pod"), "pods")
}

/// `seconds` before now, as the API server writes times.
fn ago(seconds: i64) -> Value {
    let at = Timestamp::from_second(Timestamp::now().as_second() - seconds).unwrap();
    serde_json::to_value(Time(at)).unwrap()
}

/// A stand-in serving Ferry's CRDs with an audit log, namespace `shop`, the ServerlessJob
/// `report` in it, and the job client under test.
struct Cluster {
    _standin: kube_standin::StandIn,
    _dir: tempfile::TempDir,
    log: PathBuf,
    /// The test's own client, which plays the Job controller and the kubelet.
    test: Client,
    want: DesiredJob,
    jobs: Jobs,
}

impl Cluster {
    async fn start() -> Self {
        Self::start_with(
            json!({"provider": "kubernetes", "taskCount": 2, "parallelism": 2,
                                "containers": [{"name": "app", "image": IMAGE,
                                                "command": ["/report"]}]}),
        )
        .await
    }

    async fn start_with(spec: Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.jsonl");
        let config = kube_standin::Config {
            audit_log: Some(log.clone()),
            ..kube_standin::Config::default()
        }
        .with_crds_from(&repo().join("crds"))
        .unwrap();
        let standin = kube_standin::StandIn::start(config).await.unwrap();
        let test = client_as(&standin, "test").await;
        Api::<k8s_openapi::api::core::v1::Namespace>::all(test.clone())
            .patch(
                NAMESPACE,
                &PatchParams::apply("test"),
                &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace",
                                     "metadata": {"name": NAMESPACE}})),
            )
            .await
            .unwrap();
        let object = json!({
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": "ServerlessJob",
            "metadata": {"name": NAME, "namespace": NAMESPACE},
            "spec": spec,
        });
        let sjob = Api::<ServerlessJob>::namespaced(test.clone(), NAMESPACE)
            .create(
                &PostParams::default(),
                &serde_json::from_value(object).unwrap(),
            )
            .await
            .unwrap();
        let want = ferry_core::job::validate_job(&sjob, &Kubernetes)
            .unwrap()
            .desired;
        let ferry = client_as(&standin, FERRY).await;
        let jobs = KubernetesConnector::new(ferry, Caches::default())
            .connect_job(&sjob)
            .await
            .unwrap();
        Self {
            _standin: standin,
            _dir: dir,
            log,
            test,
            want,
            jobs,
        }
    }

    fn job_api(&self) -> Api<DynamicObject> {
        Api::namespaced_with(self.test.clone(), NAMESPACE, &jobs())
    }

    fn pod_api(&self) -> Api<DynamicObject> {
        Api::namespaced_with(self.test.clone(), NAMESPACE, &pods())
    }

    /// The Job `name` as the stand-in holds it.
    async fn job(&self, name: &str) -> Value {
        serde_json::to_value(self.job_api().get(name).await.unwrap()).unwrap()
    }

    /// Starts the run of generation 1 and writes its Job's status as the Job controller does
    /// once it made the pods: started ten minutes ago, both tasks active.
    async fn start_run(&self) -> JobRun {
        let run = self.jobs.start(&self.want, 1).await.unwrap();
        self.job_status(&run.name, json!({"startTime": ago(600), "active": 2}))
            .await;
        run
    }

    async fn job_status(&self, name: &str, status: Value) {
        self.job_api()
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await
            .unwrap();
    }

    /// Makes the pod of task `index` of the Job `run` as the Job controller does (its labels,
    /// annotation and owner), and writes its status as the kubelet does: taken `started`
    /// seconds ago, its container `app` in `state`.
    async fn pod(&self, run: &str, index: u32, started: i64, state: Value) -> String {
        let job = self.job(run).await;
        let uid = job["metadata"]["uid"].as_str().unwrap();
        let name = format!("{run}-{index}-x7k2p");
        let mut labels = job["spec"]["template"]["metadata"]["labels"].clone();
        for (key, value) in [
            (JOB_NAME_LABEL, run),
            ("job-name", run),
            ("batch.kubernetes.io/controller-uid", uid),
            ("controller-uid", uid),
        ] {
            labels[key] = json!(value);
        }
        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "labels": labels,
                "annotations": {COMPLETION_INDEX_ANNOTATION: index.to_string()},
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": run,
                                     "uid": uid, "controller": true,
                                     "blockOwnerDeletion": true}],
            },
            "spec": job["spec"]["template"]["spec"],
        }))
        .unwrap();
        self.pod_api()
            .create(&PostParams::default(), &object)
            .await
            .unwrap();
        let status = json!({"status": {
            "phase": "Pending",
            "startTime": ago(started),
            "containerStatuses": [{
                "name": "app", "image": IMAGE, "imageID": "", "ready": false,
                "restartCount": 0, "started": false, "state": state,
            }],
        }});
        self.pod_api()
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
            .await
            .unwrap();
        name
    }

    async fn runs(&self) -> Vec<JobRun> {
        self.jobs.observe(&self.want).await.unwrap().runs
    }

    /// How many times the client listed pods so far.
    fn pod_lists(&self) -> usize {
        ferry_calls(&self.log)
            .iter()
            .filter(|a| a.verb == "list" && a.resource == "pods")
            .count()
    }

    /// Every call the client made is one the operator's ClusterRole in `deploy/ferry.yaml`
    /// allows.
    fn assert_allowed_by_the_deployed_rbac(&self) {
        let text = std::fs::read_to_string(repo().join("deploy/ferry.yaml")).unwrap();
        let documents: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
        let policy = Policy::from_manifests(&documents).unwrap();
        for call in ferry_calls(&self.log) {
            if let Err(forbidden) = policy.allowing(&call) {
                panic!("{forbidden}");
            }
        }
    }
}

fn ferry_calls(log: &Path) -> Vec<kube_standin::audit::Attributes> {
    kube_standin::audit::read(log)
        .unwrap()
        .into_iter()
        .map(|r| r.attributes)
        .filter(|a| a.user == FERRY && a.resource_request)
        .collect()
}

fn waiting(reason: &str, message: &str) -> Value {
    json!({"waiting": {"reason": reason, "message": message}})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_whose_pod_cannot_pull_its_image_ends_failed_with_image_not_found() {
    let c = Cluster::start().await;
    let run = c.start_run().await;
    assert_eq!(run.name, "report-1");
    c.pod(&run.name, 0, 300, waiting("ImagePullBackOff", PULL_MESSAGE))
        .await;
    c.pod(&run.name, 1, 300, waiting("ErrImagePull", "not found"))
        .await;

    // Found stuck: still running (observe changes nothing), with the reason and the message.
    let runs = c.runs().await;
    let stuck = &runs[0];
    assert_eq!(stuck.state, RunState::Running);
    assert_eq!(stuck.reason.as_deref(), Some(reasons::IMAGE_NOT_FOUND));
    let message = stuck.message.clone().unwrap();
    assert_eq!(
        message,
        format!(
            "task 0 (pod report-1-0-x7k2p): container app is waiting (ImagePullBackOff): \
             {PULL_MESSAGE}"
        )
    );
    let job = c.job("report-1").await;
    assert!(
        job["spec"].get("activeDeadlineSeconds").is_none(),
        "{job:#}"
    );
    assert_eq!(c.pod_lists(), 1);

    // advance ends it: the Job's deadline is past, and it says why.
    c.jobs.advance(&c.want, stuck).await.unwrap();
    let job = c.job("report-1").await;
    assert_eq!(job["spec"]["activeDeadlineSeconds"], 1, "{job:#}");
    let annotations = &job["metadata"]["annotations"];
    assert_eq!(annotations[END_REASON_ANNOTATION], "ImageNotFound");
    assert_eq!(annotations["ferry.dev/end-message"], message.as_str());
    assert!(annotations["ferry.dev/end-time"].is_string(), "{job:#}");
    assert!(job["spec"].get("suspend").is_none_or(|s| s == false));

    // From then on the run failed, with the kubelet's word, and its pods are not read again.
    let failed = c.runs().await.remove(0);
    assert_eq!(failed.state, RunState::Failed);
    assert_eq!(failed.reason.as_deref(), Some(reasons::IMAGE_NOT_FOUND));
    assert_eq!(failed.message.as_deref(), Some(message.as_str()));
    assert_eq!((failed.failed, failed.active), (2, 0));
    assert!(failed.completion_time.is_some());
    assert_eq!(c.pod_lists(), 1);

    // The Job controller fails the Job at its deadline: the reason stays Ferry's.
    c.job_status(
        "report-1",
        json!({"active": 0, "conditions": [{
            "type": "Failed", "status": "True", "reason": "DeadlineExceeded",
            "message": "Job was active longer than specified deadline",
            "lastTransitionTime": ago(0), "lastProbeTime": ago(0)}]}),
    )
    .await;
    let runs = c.runs().await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].reason.as_deref(), Some(reasons::IMAGE_NOT_FOUND));

    // Stopping or advancing the ended run changes nothing.
    let version = c.job("report-1").await["metadata"]["resourceVersion"].clone();
    c.jobs.stop(&c.want, "report-1").await.unwrap();
    c.jobs.advance(&c.want, &runs[0]).await.unwrap();
    c.jobs.stop(&c.want, "report-0").await.unwrap();
    let job = c.job("report-1").await;
    assert_eq!(job["metadata"]["resourceVersion"], version);
    assert!(job["spec"].get("suspend").is_none_or(|s| s == false));
    assert_eq!(
        c.runs().await[0].reason.as_deref(),
        Some(reasons::IMAGE_NOT_FOUND)
    );
    assert_eq!(c.pod_lists(), 1);
    c.assert_allowed_by_the_deployed_rbac();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_whose_pods_are_fine_or_only_just_pulling_stays_running_and_is_not_ended() {
    let c = Cluster::start().await;
    let run = c.start_run().await;
    c.pod(
        &run.name,
        0,
        300,
        json!({"running": {"startedAt": ago(290)}}),
    )
    .await;
    let runs = c.runs().await;
    assert_eq!(runs[0].state, RunState::Running);
    assert_eq!((&runs[0].reason, &runs[0].message), (&None, &None));

    // The second task's image pull failed once, 20 s ago: told, not ended yet.
    c.pod(&run.name, 1, 20, waiting("ImagePullBackOff", PULL_MESSAGE))
        .await;
    let runs = c.runs().await;
    let run = &runs[0];
    assert_eq!(run.state, RunState::Running);
    assert_eq!(run.reason, None);
    assert_eq!(
        run.message.as_deref(),
        Some(
            format!(
                "task 1 (pod report-1-1-x7k2p): container app is waiting (ImagePullBackOff): \
                 {PULL_MESSAGE}"
            )
            .as_str()
        )
    );
    let version = c.job("report-1").await["metadata"]["resourceVersion"].clone();
    c.jobs.advance(&c.want, run).await.unwrap();
    let job = c.job("report-1").await;
    assert_eq!(job["metadata"]["resourceVersion"], version, "{job:#}");
    assert!(job["spec"].get("activeDeadlineSeconds").is_none());
    assert_eq!(c.pod_lists(), 2);

    // stop still stops a running run: its Job suspended.
    c.jobs.stop(&c.want, "report-1").await.unwrap();
    assert_eq!(c.job("report-1").await["spec"]["suspend"], true);
    c.assert_allowed_by_the_deployed_rbac();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_job_lists_no_pods() {
    let c = Cluster::start().await;
    // No run yet.
    assert_eq!(c.runs().await, Vec::<JobRun>::new());
    // A run that ended, whose pods are still there.
    let run = c.start_run().await;
    c.pod(&run.name, 0, 300, waiting("ImagePullBackOff", PULL_MESSAGE))
        .await;
    c.job_status(
        &run.name,
        json!({"active": 0, "succeeded": 2, "completionTime": ago(0), "conditions": [
            {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": ago(0),
             "lastProbeTime": ago(0)},
            {"type": "Complete", "status": "True", "lastTransitionTime": ago(0),
             "lastProbeTime": ago(0)}]}),
    )
    .await;
    let runs = c.runs().await;
    assert_eq!(runs[0].state, RunState::Succeeded);
    assert_eq!((&runs[0].reason, &runs[0].message), (&None, &None));
    assert_eq!(c.pod_lists(), 0);
    assert_eq!(
        c.job(&run.name).await["metadata"]["labels"][JOB_LABEL],
        NAME
    );
    // The job's pods exist: the selector is not what kept them from being read.
    let pods = c.pod_api().list(&ListParams::default()).await.unwrap();
    assert_eq!(pods.items.len(), 1);
    assert_eq!(pods.items[0].name_any(), "report-1-0-x7k2p");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_efs_volumes_claim_is_made_before_the_run_and_deleted_with_the_job() {
    use ferry_provider::Deletion;
    use ferry_provider_kubernetes::job::build::claims;
    use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
    let c = Cluster::start_with(json!({
        "provider": "kubernetes",
        "containers": [{"name": "app", "image": IMAGE,
                        "volumeMounts": [{"name": "index", "mountPath": "/data"}]}],
        "volumes": [{"name": "index", "efs": {"fileSystemId": "fs-0123456789abcdef0"}}],
    }))
    .await;
    let name = claims(&c.want)[0].name.clone();
    let volumes = Api::<PersistentVolume>::all(c.test.clone());
    let bound = Api::<PersistentVolumeClaim>::namespaced(c.test.clone(), NAMESPACE);
    // Without its claim the definition is not up to date, and applying it makes the claim.
    let observed = c.jobs.observe(&c.want).await.unwrap();
    assert_eq!(
        observed.definition,
        ferry_provider::job::Definition::Present {
            up_to_date: false,
            id: None
        }
    );
    c.jobs.apply(&c.want).await.unwrap();
    assert!(volumes.get_opt(&name).await.unwrap().is_some());
    assert!(bound.get_opt(&name).await.unwrap().is_some());
    let observed = c.jobs.observe(&c.want).await.unwrap();
    assert_eq!(
        observed.definition,
        ferry_provider::job::Definition::Present {
            up_to_date: true,
            id: None
        }
    );
    // A run's Job mounts it; a claim deleted meanwhile is made again before the run.
    bound
        .delete(&name, &kube::api::DeleteParams::default())
        .await
        .unwrap();
    let run = c.jobs.start(&c.want, 1).await.unwrap();
    assert!(bound.get_opt(&name).await.unwrap().is_some());
    let job = c.job(&run.name).await;
    assert_eq!(
        job["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
        name.as_str()
    );
    // Deleting the job deletes the claim and its PersistentVolume with the runs.
    let object = c.want.object.clone();
    assert_eq!(c.jobs.delete(&object).await.unwrap(), Deletion::InProgress);
    assert_eq!(c.jobs.delete(&object).await.unwrap(), Deletion::Gone);
    assert!(volumes.get_opt(&name).await.unwrap().is_none());
    assert!(bound.get_opt(&name).await.unwrap().is_none());
}
