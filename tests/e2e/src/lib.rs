//! Ferry's end-to-end harness. The same tests run against the Kubernetes API stand-in
//! (`kube-standin`, started once per test process with Knative Serving's CRDs, as a cluster
//! with Knative installed) or against a real cluster when `FERRY_E2E_KUBECONFIG` names a
//! kubeconfig. The operator runs as a subprocess: the real `ferry` binary, built by cargo.
//! Nothing runs Knative on the stand-in, so the tests play its part (they write the Knative
//! Service's status); on a real cluster they leave that to Knative Serving, unless
//! `FERRY_E2E_PLAY_KNATIVE=1` says the cluster has only Knative's CRDs
//! ([`Cluster::plays_knative`]). Nor does anything run Deployments there: [`play_deployments`]
//! writes their status as the Deployment controller would, on the stand-in only
//! ([`Cluster::plays_deployments`]).
//!
//! - [`Cluster::shared`]: the cluster of this test process, and clients for it.
//! - [`Cluster::install_crds`]: applies what `ferry crd` prints, once per process, and waits
//!   until the CRDs are established; [`Cluster::ensure_vertical_pod_autoscaler`]: the VPA's.
//! - [`TestNamespace`]: a namespace of one's own, deleted afterwards.
//! - [`Ferry`]: the binary, to run a command or start a long-running process.
//! - [`wait_for`]: polls an object until a condition holds.
//! - [`Scene`]: a test's ServerlessServices and operator; its waits fail showing the operator's
//!   log.
//! - [`play_knative`], [`play_deployments`]: play Knative Serving and the Deployment controller
//!   where nothing runs them.
//! - [`claims_of`], [`assert_efs_pair`]: the PersistentVolumes and claims Ferry makes for
//!   volumes in the cluster.
//! - [`put_aws_secret`], [`fargate_provider_config`], [`cloud_run_provider_config`],
//!   [`azure_provider_config`], [`put_azure_secret`], [`azure_secret_provider_config`],
//!   [`put_provider_config`]: point the operator at the cloud stand-ins.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Client, Resource, ResourceExt as _};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

/// The environment variable that points the suite at a real cluster.
pub const KUBECONFIG_ENV: &str = "FERRY_E2E_KUBECONFIG";
/// The environment variable (`1`) that makes the suite play Knative Serving's part on a real
/// cluster that has Knative's CRDs but no Knative controller, as it does on the stand-in.
pub const PLAY_KNATIVE_ENV: &str = "FERRY_E2E_PLAY_KNATIVE";
/// The field manager the suite writes with.
pub const MANAGER: &str = "ferry-e2e";
/// A directory where each stand-in records the requests it serves (see `rbac-check`).
pub const AUDIT_DIR_ENV: &str = "FERRY_E2E_AUDIT_DIR";
/// The service account the install manifests run the operator as.
pub const OPERATOR_SERVICE_ACCOUNT: &str = "ferry";

/// What can go wrong setting up a test.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The stand-in did not start.
    #[error("the Kubernetes API stand-in did not start: {0}")]
    StandIn(String),
    /// A file could not be read or written.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// The kubeconfig could not be used.
    #[error("kubeconfig {0}: {1}")]
    Kubeconfig(String, String),
    /// An API call failed.
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// The `ferry` binary could not be built or run.
    #[error("ferry: {0}")]
    Ferry(String),
    /// Something did not happen in time.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
    /// An environment variable of the suite holds a value it does not take.
    #[error("{0}={1:?}: {2}")]
    Env(&'static str, String, &'static str),
}

/// The cluster the suite runs against.
#[derive(Debug)]
pub struct Cluster {
    kubeconfig: PathBuf,
    standin: Option<kube_standin::StandIn>,
    _dir: Option<tempfile::TempDir>,
    crds: OnceCell<()>,
    plays_knative: bool,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

fn shared_data() -> PathBuf {
    std::env::var_os("FERRY_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    )
}

impl Cluster {
    /// The cluster of this test process: the one `FERRY_E2E_KUBECONFIG` names, or a stand-in
    /// started on first use and shared by every test of the process.
    pub fn shared() -> Result<&'static Cluster, Error> {
        CLUSTER
            .get_or_init(|| Cluster::connect().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| Error::StandIn(e.clone()))
    }

    fn connect() -> Result<Cluster, Error> {
        if let Some(path) = std::env::var_os(KUBECONFIG_ENV) {
            return Ok(Cluster {
                kubeconfig: PathBuf::from(path),
                standin: None,
                _dir: None,
                crds: OnceCell::new(),
                plays_knative: play_knative_requested()?,
            });
        }
        let knative = shared_data().join("data/knative-serving-crds");
        let config = kube_standin::Config::default()
            .with_crds_from(&knative)
            .map_err(|e| Error::StandIn(e.to_string()))?;
        Self::standin(config, std::env::var_os(AUDIT_DIR_ENV).map(PathBuf::from))
    }

    /// The cluster `FERRY_E2E_KUBECONFIG` names, or a stand-in of its own (with Knative
    /// Serving's CRDs) recording every request in `audit_dir`: for benchmarks, which count the
    /// operator's calls.
    pub fn recording(audit_dir: &Path) -> Result<Cluster, Error> {
        if std::env::var_os(KUBECONFIG_ENV).is_some() {
            return Self::connect();
        }
        let knative = shared_data().join("data/knative-serving-crds");
        let config = kube_standin::Config::default()
            .with_crds_from(&knative)
            .map_err(|e| Error::StandIn(e.to_string()))?;
        Self::standin(config, Some(audit_dir.to_owned()))
    }

    /// A stand-in of its own without Knative Serving, as a cluster where it was never
    /// installed; `None` on a real cluster, where Knative cannot be taken away for one test.
    pub fn standin_without_knative() -> Result<Option<Cluster>, Error> {
        if std::env::var_os(KUBECONFIG_ENV).is_some() {
            return Ok(None);
        }
        Self::standin(
            kube_standin::Config::default(),
            std::env::var_os(AUDIT_DIR_ENV).map(PathBuf::from),
        )
        .map(Some)
    }

    /// Starts a stand-in; with an `audit_dir` (`FERRY_E2E_AUDIT_DIR` for the suite), it
    /// records every request there, for the RBAC check (`rbac-check`) and benchmarks.
    fn standin(
        mut config: kube_standin::Config,
        audit_dir: Option<PathBuf>,
    ) -> Result<Cluster, Error> {
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        if let Some(dir) = audit_dir {
            std::fs::create_dir_all(&dir).map_err(|e| Error::Io(dir.display().to_string(), e))?;
            let program = std::env::args()
                .next()
                .and_then(|p| {
                    Path::new(&p)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                })
                .unwrap_or_default();
            let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            config.audit_log =
                Some(dir.join(format!("{program}-{}-{n}.jsonl", std::process::id())));
        }
        let standin = kube_standin::StandIn::start_in_background(config)
            .map_err(|e| Error::StandIn(e.to_string()))?;
        let dir = tempfile::tempdir().map_err(|e| Error::Io("temporary directory".into(), e))?;
        let kubeconfig = dir.path().join("kubeconfig");
        standin
            .write_kubeconfig(&kubeconfig)
            .map_err(|e| Error::Io(kubeconfig.display().to_string(), e))?;
        Ok(Cluster {
            kubeconfig,
            standin: Some(standin),
            _dir: Some(dir),
            crds: OnceCell::new(),
            plays_knative: true,
        })
    }

    /// A kubeconfig for the operator in `dir`: on the stand-in it identifies as the service
    /// account the install manifests create, `system:serviceaccount:NAMESPACE:ferry`, so the
    /// audit log tells its calls apart; on a real cluster it is the suite's own kubeconfig.
    fn operator_kubeconfig(&self, dir: &Path, namespace: &str) -> Result<PathBuf, Error> {
        let Some(standin) = &self.standin else {
            return Ok(self.kubeconfig.clone());
        };
        let path = dir.join("operator.kubeconfig");
        let user = format!("system:serviceaccount:{namespace}:{OPERATOR_SERVICE_ACCOUNT}");
        std::fs::write(&path, standin.kubeconfig_as(Some(&user)))
            .map_err(|e| Error::Io(path.display().to_string(), e))?;
        Ok(path)
    }

    /// Whether this is the stand-in (some checks only make sense on one or the other).
    pub fn is_standin(&self) -> bool {
        self.standin.is_some()
    }

    /// Whether the tests play Knative Serving's part, writing the status of the Knative
    /// Services the operator creates: always on the stand-in, where nothing runs Knative; on a
    /// real cluster with `FERRY_E2E_PLAY_KNATIVE=1`, for a cluster with Knative's CRDs but no
    /// Knative controller. Otherwise a real cluster's Knative Serving does it.
    pub fn plays_knative(&self) -> bool {
        self.plays_knative
    }

    /// Whether the tests play the Deployment controller's part, writing the status of the
    /// Deployments the operator makes ([`play_deployments`]): on the stand-in, where nothing
    /// runs them; never on a real cluster, whose controller manager always does.
    pub fn plays_deployments(&self) -> bool {
        self.is_standin()
    }

    /// Makes sure the cluster serves `autoscaling.k8s.io/v1` VerticalPodAutoscalers: where it
    /// does not, installs the upstream CRDs of `tests/fixtures/vpa` (server-side, as
    /// [`MANAGER`]) and waits until they are established; they stay, as an installed VPA
    /// would (on the stand-in, until the test process ends). Returns whether it installed
    /// them.
    pub async fn ensure_vertical_pod_autoscaler(&self) -> Result<bool, Error> {
        let client = self.client().await?;
        let served = client
            .list_api_group_resources("autoscaling.k8s.io/v1")
            .await
            .is_ok_and(|list| {
                list.resources
                    .iter()
                    .any(|r| r.name == "verticalpodautoscalers")
            });
        if served {
            return Ok(false);
        }
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/vpa/vpa-v1-crd.yaml");
        let text =
            std::fs::read_to_string(&path).map_err(|e| Error::Io(path.display().to_string(), e))?;
        let crds: Vec<CustomResourceDefinition> = serde_saphyr::from_multiple(&text)
            .map_err(|e| Error::Ferry(format!("{}: {e}", path.display())))?;
        apply_crds(&client, &crds).await?;
        Ok(true)
    }

    /// The kubeconfig file, for subprocesses.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// A client for the calling test's runtime.
    pub async fn client(&self) -> Result<Client, Error> {
        self.client_as(None).await
    }

    /// A client that identifies as `user` on the stand-in (its audit log tells callers apart
    /// by it); on a real cluster, the suite's own client.
    pub async fn client_as(&self, user: Option<&str>) -> Result<Client, Error> {
        let path = self.kubeconfig.display().to_string();
        let kubeconfig = match (&self.standin, user) {
            (Some(standin), Some(user)) => {
                Kubeconfig::from_yaml(&standin.kubeconfig_as(Some(user)))
            }
            _ => Kubeconfig::read_from(&self.kubeconfig),
        }
        .map_err(|e| Error::Kubeconfig(path.clone(), e.to_string()))?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| Error::Kubeconfig(path, e.to_string()))?;
        Ok(Client::try_from(config)?)
    }

    /// Applies the CRDs `ferry crd` prints (server-side, as a GitOps tool would) and waits
    /// until each is established. Runs once per process.
    pub async fn install_crds(&self) -> Result<(), Error> {
        self.crds
            .get_or_try_init(|| async {
                let output = Ferry::output(self, &["crd"]).await?;
                let crds: Vec<CustomResourceDefinition> = serde_saphyr::from_multiple(&output)
                    .map_err(|e| Error::Ferry(format!("`ferry crd` printed no CRDs: {e}")))?;
                let client = self.client().await?;
                apply_crds(&client, &crds).await
            })
            .await
            .copied()
    }
}

/// Applies `crds` server-side (as [`MANAGER`]) and waits until each is established.
async fn apply_crds(client: &Client, crds: &[CustomResourceDefinition]) -> Result<(), Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(MANAGER).force();
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &params, &Patch::Apply(crd)).await?;
        wait_for(
            &api,
            &name,
            Duration::from_secs(60),
            "the CRD to be established",
            |c: &CustomResourceDefinition| {
                c.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c.type_ == "Established" && c.status == "True")
                    })
            },
        )
        .await?;
    }
    Ok(())
}

/// `FERRY_E2E_PLAY_KNATIVE`: `1` plays Knative's part, unset, empty or `0` leaves it to the
/// cluster; anything else is refused rather than read as either.
fn play_knative_requested() -> Result<bool, Error> {
    match std::env::var(PLAY_KNATIVE_ENV) {
        Err(std::env::VarError::NotPresent) => Ok(false),
        Ok(value) if value.is_empty() || value == "0" => Ok(false),
        Ok(value) if value == "1" => Ok(true),
        Ok(value) => Err(Error::Env(
            PLAY_KNATIVE_ENV,
            value,
            "set it to 1 to play Knative's part, or leave it unset",
        )),
        Err(std::env::VarError::NotUnicode(value)) => Err(Error::Env(
            PLAY_KNATIVE_ENV,
            value.to_string_lossy().into_owned(),
            "set it to 1 to play Knative's part, or leave it unset",
        )),
    }
}

/// A namespace for one test, deleted when dropped.
#[derive(Debug)]
pub struct TestNamespace {
    name: String,
    kubeconfig: PathBuf,
}

impl TestNamespace {
    /// Creates `e2e-<prefix>-<random>`.
    pub async fn create(cluster: &Cluster, prefix: &str) -> Result<Self, Error> {
        let suffix: String = uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .chars()
            .take(6)
            .collect();
        let name = format!("e2e-{prefix}-{suffix}");
        let namespaces: Api<Namespace> = Api::all(cluster.client().await?);
        let namespace: Namespace = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app.kubernetes.io/created-by": MANAGER}},
        }))
        .map_err(|e| Error::Ferry(e.to_string()))?;
        namespaces
            .create(&PostParams::default(), &namespace)
            .await?;
        Ok(Self {
            name,
            kubeconfig: cluster.kubeconfig.clone(),
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        // Drop cannot await; a short-lived runtime on another thread deletes the namespace so a
        // real cluster is left clean even when the test failed.
        let (name, kubeconfig) = (self.name.clone(), self.kubeconfig.clone());
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let kubeconfig = Kubeconfig::read_from(&kubeconfig).ok()?;
                let config =
                    kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                        .await
                        .ok()?;
                let namespaces: Api<Namespace> = Api::all(Client::try_from(config).ok()?);
                namespaces
                    .delete(&name, &DeleteParams::background())
                    .await
                    .ok()
            })
        });
        let _ = deleted.join();
    }
}

/// What the operators of the tests log (`RUST_LOG`).
pub const TEST_LOG: &str = "info,ferry=debug,ferry_controller=debug,kube=warn";

/// The `ferry` binary.
pub struct Ferry;

static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Names a `ferry` binary to use instead of building one (CI sets it to the one
/// `cargo test --workspace` has just built, which avoids a second build with other features).
pub const BINARY_ENV: &str = "FERRY_BIN";

impl Ferry {
    /// The binary: `FERRY_BIN`, or built with cargo on first use.
    pub fn binary() -> Result<&'static Path, Error> {
        BINARY
            .get_or_init(|| {
                if let Some(path) = std::env::var_os(BINARY_ENV) {
                    let path = PathBuf::from(path);
                    return if path.is_file() {
                        Ok(path)
                    } else {
                        Err(format!("{BINARY_ENV}={} is not a file", path.display()))
                    };
                }
                escargot::CargoBuild::new()
                    .package("ferry")
                    .bin("ferry")
                    .current_release()
                    .manifest_path(
                        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml"),
                    )
                    .run()
                    .map(|run| run.path().to_owned())
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map(PathBuf::as_path)
            .map_err(|e| Error::Ferry(format!("cannot build the binary: {e}")))
    }

    /// Runs `ferry ARGS` against `cluster` and returns what it printed; a failure carries its
    /// standard error.
    pub async fn output(cluster: &Cluster, args: &[&str]) -> Result<String, Error> {
        let output = tokio::process::Command::new(Self::binary()?)
            .args(args)
            .env("KUBECONFIG", cluster.kubeconfig())
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| Error::Ferry(e.to_string()))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(Error::Ferry(format!(
                "`ferry {}` exited with {}: {}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )))
        }
    }
}

/// A long-running `ferry` process (the operator), stopped when dropped. Its output goes to a
/// file, shown by [`Operator::logs`] when a test fails.
pub struct Operator {
    child: std::process::Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

impl Ferry {
    /// Starts `ferry ARGS` against `cluster` (for `controller`: add `--metrics-address
    /// 127.0.0.1:0` and read the port with [`Operator::metrics_address`]).
    pub fn spawn(cluster: &Cluster, args: &[&str]) -> Result<Operator, Error> {
        Self::spawn_logging(cluster, args, TEST_LOG)
    }

    /// [`Ferry::spawn`] with `RUST_LOG=filter` (benchmarks log less than tests).
    pub fn spawn_logging(
        cluster: &Cluster,
        args: &[&str],
        filter: &str,
    ) -> Result<Operator, Error> {
        let dir = tempfile::tempdir().map_err(|e| Error::Io("temporary directory".into(), e))?;
        let log = dir.path().join("ferry.log");
        let file =
            std::fs::File::create(&log).map_err(|e| Error::Io(log.display().to_string(), e))?;
        let err = file
            .try_clone()
            .map_err(|e| Error::Io(log.display().to_string(), e))?;
        // Ferry's own namespace, as `ferry controller` reads it.
        let own_namespace = args
            .iter()
            .position(|a| *a == "--lease-namespace")
            .and_then(|i| args.get(i + 1))
            .copied()
            .unwrap_or("ferry-system");
        let kubeconfig = cluster.operator_kubeconfig(dir.path(), own_namespace)?;
        let child = std::process::Command::new(Self::binary()?)
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", filter)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .map_err(|e| Error::Ferry(e.to_string()))?;
        Ok(Operator {
            child,
            log,
            _dir: dir,
        })
    }
}

impl Ferry {
    /// `ferry controller` confined to `namespace`, which is also its own namespace (its Lease
    /// without leader election, and its credential Secrets), with fast resyncs: how the cloud
    /// backends' scenarios run it.
    pub fn spawn_confined(cluster: &Cluster, namespace: &str) -> Result<Operator, Error> {
        Self::spawn_confined_with(cluster, namespace, namespace, TEST_LOG)
    }

    /// [`Ferry::spawn_confined`] with its own namespace `own` apart from the one it watches,
    /// logging at `filter`.
    pub fn spawn_confined_with(
        cluster: &Cluster,
        namespace: &str,
        own: &str,
        filter: &str,
    ) -> Result<Operator, Error> {
        Self::spawn_logging(
            cluster,
            &[
                "controller",
                "--namespace",
                namespace,
                "--lease-namespace",
                own,
                "--no-leader-election",
                "--metrics-address",
                "127.0.0.1:0",
                "--resync-interval",
                "1s",
                "--progress-interval",
                "200ms",
            ],
            filter,
        )
    }
}

/// Plays Knative Serving where the suite does ([`Cluster::plays_knative`]): every Knative
/// Service of `api`'s namespace (`namespace`) whose status lags its generation is reported
/// Ready for it. `None` where the cluster's own Knative does it.
pub fn play_knative(
    cluster: &Cluster,
    api: Api<DynamicObject>,
    namespace: &str,
) -> Option<tokio::task::JoinHandle<()>> {
    use futures::StreamExt as _;
    if !cluster.plays_knative() {
        return None;
    }
    let namespace = namespace.to_owned();
    Some(tokio::spawn(async move {
        let events = watcher(api.clone(), watcher::Config::default())
            .default_backoff()
            .applied_objects();
        futures::pin_mut!(events);
        while let Some(Ok(service)) = events.next().await {
            let generation = service.metadata.generation.unwrap_or_default();
            if service.data["status"]["observedGeneration"].as_i64() == Some(generation) {
                continue;
            }
            let conditions = knative_ready_conditions("2026-12-07T10:00:00Z");
            let status = knative_status(&service.name_any(), &namespace, generation, &conditions);
            let _ = api
                .patch_status(
                    &service.name_any(),
                    &PatchParams::apply("knative-serving").force(),
                    &Patch::Apply(&status),
                )
                .await;
        }
    }))
}

/// The status Knative Serving writes on a Service once it has served `generation` with
/// `conditions` (for playing Knative's part where nothing runs it, see
/// [`Cluster::plays_knative`]).
pub fn knative_status(name: &str, namespace: &str, generation: i64, conditions: &Value) -> Value {
    json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "status": {
            "observedGeneration": generation,
            "url": format!("http://{name}.{namespace}.example.com"),
            "address": {"url": format!("http://{name}.{namespace}.svc.cluster.local")},
            "latestCreatedRevisionName": format!("{name}-{generation:05}"),
            "latestReadyRevisionName": format!("{name}-{generation:05}"),
            "conditions": conditions,
        },
    })
}

/// Knative's conditions of a Ready Service, as of `now` (RFC 3339).
pub fn knative_ready_conditions(now: &str) -> Value {
    json!([
        {"type": "ConfigurationsReady", "status": "True", "lastTransitionTime": now},
        {"type": "Ready", "status": "True", "lastTransitionTime": now},
        {"type": "RoutesReady", "status": "True", "lastTransitionTime": now},
    ])
}

/// Plays the Deployment controller where the suite does ([`Cluster::plays_deployments`]):
/// every Deployment of `namespace` whose status lags its generation gets the status the
/// controller writes once it has rolled that generation out ([`deployment_status`]), its pods
/// taken to run and be ready; unless a pod its selector picks is there and not ready (the
/// stand-in runs no pods, so such a pod is one a test made, playing the kubelet), when it gets
/// the status of a rollout that waits for its pods. `None` on a real cluster, whose own
/// controller does it.
pub fn play_deployments(
    cluster: &Cluster,
    client: Client,
    namespace: &str,
) -> Option<tokio::task::JoinHandle<()>> {
    use futures::StreamExt as _;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;
    if !cluster.plays_deployments() {
        return None;
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    Some(tokio::spawn(async move {
        let events = watcher(deployments.clone(), watcher::Config::default())
            .default_backoff()
            .applied_objects();
        futures::pin_mut!(events);
        while let Some(Ok(deployment)) = events.next().await {
            let generation = deployment.metadata.generation.unwrap_or_default();
            let status = deployment.status.as_ref();
            if status.and_then(|s| s.observed_generation) == Some(generation) {
                continue;
            }
            let spec = deployment.spec.as_ref();
            let replicas = spec.and_then(|s| s.replicas).unwrap_or(1);
            let selector: Vec<String> = spec
                .and_then(|s| s.selector.match_labels.as_ref())
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let waiting = !selector.is_empty()
                && pods
                    .list(&kube::api::ListParams::default().labels(&selector.join(",")))
                    .await
                    .is_ok_and(|list| list.items.iter().any(|p| !pod_is_ready(p)));
            let name = deployment.name_any();
            let status = deployment_status(&name, generation, replicas, !waiting, PLAYED_AT);
            let _ = deployments
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                .await;
        }
    }))
}

/// A task playing a controller (from [`play_knative`], [`play_deployments`], [`play_jobs`]),
/// stopped when the test's scenario that holds it ends.
pub struct Player(pub tokio::task::JoinHandle<()>);

impl Drop for Player {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Plays the Job controller and the kubelet where the suite does ([`Cluster::plays_deployments`]):
/// every Job of `namespace` runs as its containers' command says, by the convention every Ferry
/// stand-in shares ([`job_outcome`]). A Job first gets the status of its pods running, then
/// (unless it sleeps forever) the status it ends with; a suspended one gets `Suspended`. `None`
/// on a real cluster, whose controller and kubelet run the Jobs.
pub fn play_jobs(
    cluster: &Cluster,
    client: Client,
    namespace: &str,
) -> Option<tokio::task::JoinHandle<()>> {
    use futures::StreamExt as _;
    use k8s_openapi::api::batch::v1::Job;
    if !cluster.plays_deployments() {
        return None;
    }
    let jobs: Api<Job> = Api::namespaced(client, namespace);
    Some(tokio::spawn(async move {
        let events = watcher(jobs.clone(), watcher::Config::default())
            .default_backoff()
            .applied_objects();
        futures::pin_mut!(events);
        while let Some(Ok(job)) = events.next().await {
            let value = serde_json::to_value(&job).unwrap_or_default();
            if let Some(status) = job_status(&value, PLAYED_AT) {
                let _ = jobs
                    .patch_status(
                        &job.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&status),
                    )
                    .await;
            }
        }
    }))
}

/// How a task of `job` (JSON) ends by the stand-ins' convention: its containers' command and
/// arguments joined with spaces; `exit N` exits with N, `sleep infinity` never ends (`None`),
/// anything else exits 0.
pub fn job_outcome(job: &Value) -> Option<i64> {
    let words: Vec<String> = job
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|c| {
            ["command", "args"]
                .into_iter()
                .flat_map(move |field| c[field].as_array().cloned().unwrap_or_default())
        })
        .filter_map(|w| w.as_str().map(str::to_owned))
        .collect();
    let line = words.join(" ");
    if line.contains("sleep infinity") {
        return None;
    }
    let code = line
        .split("exit ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok());
    Some(code.unwrap_or(0))
}

/// The status (a merge patch) the Job controller writes next on `job` (JSON) as of `now`, or
/// `None` when it has nothing more to say: running first, then succeeded or failed as
/// [`job_outcome`] says; suspended when its spec says so.
pub fn job_status(job: &Value, now: &str) -> Option<Value> {
    let status = &job["status"];
    let conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    let has = |type_: &str| {
        conditions
            .iter()
            .any(|c| c["type"] == type_ && c["status"] == "True")
    };
    if has("Complete") || has("Failed") {
        return None;
    }
    let condition = |type_: &str, reason: &str, message: &str| {
        json!({"type": type_, "status": "True", "reason": reason, "message": message,
               "lastProbeTime": now, "lastTransitionTime": now})
    };
    let spec = &job["spec"];
    let completions = spec["completions"].as_i64().unwrap_or(1);
    let parallelism = spec["parallelism"].as_i64().unwrap_or(1);
    let indexes = if completions > 1 {
        format!("0-{}", completions - 1)
    } else {
        "0".to_owned()
    };
    if spec["suspend"] == true {
        if has("Suspended") {
            return None;
        }
        return Some(json!({"status": {
            "active": 0,
            "conditions": [condition("Suspended", "JobSuspended", "Job suspended")],
        }}));
    }
    if status["startTime"].is_null() {
        return Some(json!({"status": {"startTime": now, "active": parallelism.min(completions)}}));
    }
    if job_outcome(job)? == 0 {
        return Some(json!({"status": {
            "active": 0,
            "succeeded": completions,
            "completedIndexes": indexes,
            "completionTime": now,
            "conditions": [
                condition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
                condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
            ],
        }}));
    }
    let attempts = spec["backoffLimitPerIndex"].as_i64().unwrap_or(0) + 1;
    Some(json!({"status": {
        "active": 0,
        "failed": completions * attempts,
        "failedIndexes": indexes,
        "conditions": [
            condition("FailureTarget", "FailedIndexes", "Job has failed indexes"),
            condition("Failed", "FailedIndexes", "Job has failed indexes"),
        ],
    }}))
}

/// Plays the CronJob controller's firing where the suite does: makes the Job the CronJob
/// `name` of `namespace` would make now (named after the scheduled minute, owned by the
/// CronJob, from its template). On a real cluster, does nothing: the CronJob fires on its own.
pub async fn fire_cron_job(
    cluster: &Cluster,
    client: Client,
    namespace: &str,
    name: &str,
) -> Result<(), Error> {
    use k8s_openapi::api::batch::v1::{CronJob, Job};
    if !cluster.plays_deployments() {
        return Ok(());
    }
    let cron_job = Api::<CronJob>::namespaced(client.clone(), namespace)
        .get(name)
        .await?;
    let cron_value = serde_json::to_value(&cron_job).map_err(kube::Error::SerdeError)?;
    let template = &cron_value["spec"]["jobTemplate"];
    let minutes = jiff::Timestamp::now().as_second() / 60;
    let job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": format!("{name}-{minutes}"),
            "labels": template["metadata"]["labels"],
            "annotations": {"batch.kubernetes.io/cronjob-scheduled-timestamp":
                            jiff::Timestamp::from_second(minutes * 60).unwrap_or_default().to_string()},
            "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "CronJob", "name": name,
                "uid": cron_job.uid(), "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": template["spec"],
    });
    let job: Job = serde_json::from_value(job).map_err(kube::Error::SerdeError)?;
    Api::<Job>::namespaced(client, namespace)
        .create(&PostParams::default(), &job)
        .await?;
    Ok(())
}

/// When the statuses the suite plays happened (a fixed time: nothing reads it).
const PLAYED_AT: &str = "2026-12-07T10:00:00Z";

/// Whether the kubelet reports `pod` ready.
fn pod_is_ready(pod: &k8s_openapi::api::core::v1::Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The status (as a merge patch) the Deployment controller writes on Deployment `name` for
/// `generation` with `replicas` pods of the current template: all available once `rolled_out`,
/// else none yet (the pods wait, and the rollout is still within its progress deadline).
pub fn deployment_status(
    name: &str,
    generation: i64,
    replicas: i32,
    rolled_out: bool,
    now: &str,
) -> Value {
    let replica_set = format!("{name}-5d8c7b9f4");
    let condition = |type_: &str, status: &str, reason: &str, message: String| {
        json!({"type": type_, "status": status, "reason": reason, "message": message,
               "lastUpdateTime": now, "lastTransitionTime": now})
    };
    let status = if rolled_out {
        json!({
            "observedGeneration": generation,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                condition("Available", "True", "MinimumReplicasAvailable",
                          "Deployment has minimum availability.".into()),
                condition("Progressing", "True", "NewReplicaSetAvailable",
                          format!("ReplicaSet \"{replica_set}\" has successfully progressed.")),
            ],
        })
    } else {
        json!({
            "observedGeneration": generation,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "unavailableReplicas": replicas,
            "conditions": [
                condition("Available", "False", "MinimumReplicasUnavailable",
                          "Deployment does not have minimum availability.".into()),
                condition("Progressing", "True", "ReplicaSetUpdated",
                          format!("ReplicaSet \"{replica_set}\" is progressing.")),
            ],
        })
    };
    json!({ "status": status })
}

/// The name of the Secret (and its key's content) that [`put_aws_secret`] writes and
/// [`fargate_provider_config`] reads credentials from.
pub const AWS_SECRET: &str = "aws";

/// An AWS shared-credentials file for access key `key_id` (moto checks no signature, and the
/// key id tells the proxy's records which credentials signed a call).
pub fn aws_credentials(key_id: &str) -> String {
    format!("[default]\naws_access_key_id = {key_id}\naws_secret_access_key = secret\n")
}

/// Puts the Secret [`AWS_SECRET`] with [`aws_credentials`] of `key_id` under key `credentials`
/// in `namespace` (the operator's own: the only one it reads credential Secrets from).
pub async fn put_aws_secret(client: &Client, namespace: &str, key_id: &str) -> Result<(), Error> {
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": AWS_SECRET},
        "stringData": {"credentials": aws_credentials(key_id)},
    });
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client.clone(), namespace)
        .patch(
            AWS_SECRET,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await?;
    Ok(())
}

/// ProviderConfig `name` for Fargate: ECS cluster `cluster` in us-east-1 reached at
/// `endpoint` (moto, or a proxy in front of it), credentials from the Secret
/// [`AWS_SECRET`] in `secret_namespace`, and network defaults of the shape moto checks.
pub fn fargate_provider_config(
    name: &str,
    cluster: &str,
    endpoint: &str,
    secret_namespace: &str,
) -> Value {
    json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": "ProviderConfig",
        "metadata": {"name": name},
        "spec": {
            "fargate": {
                "region": "us-east-1",
                "cluster": cluster,
                "endpoint": endpoint,
                "credentials": {
                    "source": "Secret",
                    "secretRef": {
                        "namespace": secret_namespace,
                        "name": AWS_SECRET,
                        "key": "credentials",
                    },
                },
                "defaults": {
                    "subnets": ["subnet-0a1b2c3d"],
                    "securityGroups": ["sg-0123abcd"],
                },
            },
        },
    })
}

/// ProviderConfig `name` for Cloud Run: project `project` in europe-west1 reached at
/// `endpoint` (the fake Cloud Run Admin API) without credentials.
pub fn cloud_run_provider_config(name: &str, project: &str, endpoint: &str) -> Value {
    json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": "ProviderConfig",
        "metadata": {"name": name},
        "spec": {
            "cloudRun": {
                "project": project,
                "region": "europe-west1",
                "endpoint": endpoint,
                "credentials": {"source": "Anonymous"},
            },
        },
    })
}

/// The resource group the Azure ProviderConfigs of [`azure_provider_config`] name (the fake
/// accepts any, as if every group existed).
pub const AZURE_RESOURCE_GROUP: &str = "ferry-e2e";

/// The Container Apps environment of subscription `subscription` that
/// [`azure_provider_config`] names (the fake never looks it up; its last segment names the
/// apps' default domain).
pub fn azure_environment(subscription: &str) -> String {
    format!(
        "/subscriptions/{subscription}/resourceGroups/{AZURE_RESOURCE_GROUP}/providers/\
         Microsoft.App/managedEnvironments/ferry-e2e"
    )
}

/// ProviderConfig `name` for Azure (Container Apps and Container Instances): subscription
/// `subscription` (a GUID), resource group [`AZURE_RESOURCE_GROUP`] in westeurope, the
/// environment [`azure_environment`], reached at `endpoint` (the fake Azure Resource Manager)
/// without credentials.
pub fn azure_provider_config(name: &str, subscription: &str, endpoint: &str) -> Value {
    json!({
        "apiVersion": "ferry.dev/v1alpha1",
        "kind": "ProviderConfig",
        "metadata": {"name": name},
        "spec": {
            "azure": {
                "subscriptionId": subscription,
                "resourceGroup": AZURE_RESOURCE_GROUP,
                "location": "westeurope",
                "containerAppsEnvironment": azure_environment(subscription),
                "endpoint": endpoint,
                "credentials": {"source": "Anonymous"},
            },
        },
    })
}

/// The name of the Secret [`put_azure_secret`] writes (key `credentials`) and
/// [`azure_secret_provider_config`] reads.
pub const AZURE_SECRET: &str = "azure";

/// A service principal's credentials as `az ad sp create-for-rbac --sdk-auth` prints them
/// (what an Azure ProviderConfig with `source: Secret` reads).
pub fn azure_credentials(tenant: &str, client_id: &str, client_secret: &str) -> String {
    json!({"tenantId": tenant, "clientId": client_id, "clientSecret": client_secret}).to_string()
}

/// Puts the Secret [`AZURE_SECRET`] with [`azure_credentials`] under key `credentials` in
/// `namespace` (the operator's own: the only one it reads credential Secrets from); putting it
/// again with another secret is a rotation.
pub async fn put_azure_secret(
    client: &Client,
    namespace: &str,
    tenant: &str,
    client_id: &str,
    client_secret: &str,
) -> Result<(), Error> {
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": AZURE_SECRET},
        "stringData": {"credentials": azure_credentials(tenant, client_id, client_secret)},
    });
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client.clone(), namespace)
        .patch(
            AZURE_SECRET,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await?;
    Ok(())
}

/// [`azure_provider_config`] with a service principal's credentials from the Secret
/// [`AZURE_SECRET`] in `secret_namespace` (tokens are then asked from `endpoint` too).
pub fn azure_secret_provider_config(
    name: &str,
    subscription: &str,
    endpoint: &str,
    secret_namespace: &str,
) -> Value {
    let mut config = azure_provider_config(name, subscription, endpoint);
    config["spec"]["azure"]["credentials"] = json!({
        "source": "Secret",
        "secretRef": {"namespace": secret_namespace, "name": AZURE_SECRET, "key": "credentials"},
    });
    config
}

/// Applies ProviderConfig `config` (server-side, as [`MANAGER`]) with the fields of `access`
/// (`allowedNamespaces`, `namespaceSelector`) added to its spec.
pub async fn put_provider_config(
    client: &Client,
    mut config: Value,
    access: &Value,
) -> Result<(), Error> {
    if let (Some(spec), Some(access)) = (config["spec"].as_object_mut(), access.as_object()) {
        spec.extend(access.clone());
    }
    let name = config["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Api::<ferry_api::ProviderConfig>::all(client.clone())
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&config),
        )
        .await?;
    Ok(())
}

/// Deletes a test's ProviderConfig when dropped: ProviderConfigs are cluster-scoped, so the
/// namespace's deletion does not take them. A client belongs to the runtime that made it, which
/// is blocked while this drops, so a thread makes its own.
pub struct ProviderConfigCleanup {
    cluster: &'static Cluster,
    name: String,
}

impl ProviderConfigCleanup {
    /// Deletes ProviderConfig `name` from `cluster` on drop.
    pub fn new(cluster: &'static Cluster, name: &str) -> Self {
        Self {
            cluster,
            name: name.to_owned(),
        }
    }
}

impl Drop for ProviderConfigCleanup {
    fn drop(&mut self) {
        let (cluster, name) = (self.cluster, self.name.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                Api::<ferry_api::ProviderConfig>::all(cluster.client().await.ok()?)
                    .delete(&name, &DeleteParams::default())
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// `(status, reason)` of the `Ready` condition of `svc`, once its status is for the current
/// generation.
pub fn current_ready(svc: &ferry_api::ServerlessService) -> Option<(&str, &str)> {
    let status = svc.status.as_ref()?;
    if status.observed_generation != svc.metadata.generation {
        return None;
    }
    let c = status.conditions.iter().find(|c| c.type_ == "Ready")?;
    Some((c.status.as_str(), c.reason.as_str()))
}

/// A test's scenario: ServerlessServices in a namespace of its own, reconciled by an operator
/// the test started. Its waits fail the calling test showing what the operator logged, which is
/// where the reason for a wait that never ends usually is.
// Its callers are tests, each on a runtime of its own: no `Send` bound is wanted on the futures.
#[allow(async_fn_in_trait)]
pub trait Scene {
    /// How long a wait may take.
    const WAIT: Duration = Duration::from_secs(60);

    /// The operator.
    fn operator(&self) -> &Operator;

    /// The ServerlessServices of the scenario's namespace.
    fn ssvs(&self) -> Api<ferry_api::ServerlessService>;

    /// The value of `result`; else the calling test fails with the error and the operator's log.
    // Test support: the failure is the calling test's.
    #[allow(clippy::panic)]
    fn check<T>(&self, result: Result<T, Error>) -> T {
        result.unwrap_or_else(|e| panic!("{e}\n--- ferry log ---\n{}", self.operator().logs()))
    }

    /// ServerlessService `name` once `ok` holds for it; else, after [`Scene::WAIT`], the
    /// calling test fails naming `what`, with the operator's log.
    async fn ssv(
        &self,
        name: &str,
        what: &str,
        ok: impl Fn(&ferry_api::ServerlessService) -> bool,
    ) -> ferry_api::ServerlessService {
        let found = wait_for(&self.ssvs(), name, Self::WAIT, what, ok).await;
        self.check(found)
    }
}

/// Polls until `name` is gone, or fails after `timeout` naming `what`.
pub async fn wait_gone<K>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    what: &str,
) -> Result<(), Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while api.get_opt(name).await?.is_some() {
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Timeout(timeout, format!("{what} ({name})")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

impl Operator {
    /// Everything it printed so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The address its `/metrics` server bound, read from its log.
    pub async fn metrics_address(&self) -> Result<String, Error> {
        for _ in 0..100 {
            if let Some(address) = self
                .logs()
                .lines()
                .filter(|l| l.contains("serving /metrics"))
                .find_map(|l| l.split("address=").nth(1))
                .and_then(|rest| rest.split_whitespace().next())
            {
                return Ok(address.to_owned());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(Error::Timeout(
            Duration::from_secs(5),
            format!("the metrics address in the log:\n{}", self.logs()),
        ))
    }

    /// The value of one metric line (`name{labels}` as Prometheus prints it), summed over
    /// label sets when `series` is a bare name.
    pub async fn metric(&self, series: &str) -> Result<f64, Error> {
        let address = self.metrics_address().await?;
        let text = http_get(&address, "/metrics").await?;
        Ok(text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| l.starts_with(series) && l[series.len()..].starts_with([' ', '{']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }

    /// Sends SIGTERM and waits up to `timeout` for it to exit; returns whether it exited 0.
    pub async fn terminate(&mut self, timeout: Duration) -> Result<bool, Error> {
        Ok(self.terminate_status(timeout).await?.success())
    }

    /// Sends SIGTERM and waits up to `timeout` for it to exit; returns how it exited.
    pub async fn terminate_status(
        &mut self,
        timeout: Duration,
    ) -> Result<std::process::ExitStatus, Error> {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Ok(status);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Timeout(
                    timeout,
                    format!("ferry to exit after SIGTERM:\n{}", self.logs()),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Operator {
    /// Kills it with SIGKILL, as a node would, and waits for it to go.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 GET on 127.0.0.1, for the operator's probe and metrics port.
pub async fn http_get(address: &str, path: &str) -> Result<String, Error> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let io = |e| Error::Io(format!("http://{address}{path}"), e);
    let mut stream = tokio::net::TcpStream::connect(address).await.map_err(io)?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .map_err(io)?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.map_err(io)?;
    Ok(response
        .split_once("\r\n\r\n")
        .map_or(response.clone(), |(_, body)| body.to_owned()))
}

/// Polls `name` until `ready` holds for it, or fails after `timeout` naming `what`.
pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    what: &str,
    ready: impl Fn(&K) -> bool,
) -> Result<K, Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(object) = api.get_opt(name).await?
            && ready(&object)
        {
            return Ok(object);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Timeout(timeout, format!("{what} ({name})")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The PersistentVolumes Ferry made for the object `owner` (as its `ferry.dev/owner`
/// annotation names it: `ServerlessService ns/name (kubernetes)`) and their claims in
/// `namespace`, once `ok` holds for their counts; else fails after `timeout` with the counts.
pub async fn claims_of(
    client: &Client,
    namespace: &str,
    owner: &str,
    timeout: Duration,
    ok: impl Fn(usize, usize) -> bool,
) -> Result<(Vec<PersistentVolume>, Vec<PersistentVolumeClaim>), Error> {
    let mine = |annotations: &std::collections::BTreeMap<String, String>| {
        annotations.get("ferry.dev/owner").map(String::as_str) == Some(owner)
    };
    let params = ListParams::default().labels("app.kubernetes.io/managed-by=ferry");
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let volumes: Vec<PersistentVolume> = Api::<PersistentVolume>::all(client.clone())
            .list(&params)
            .await?
            .items
            .into_iter()
            .filter(|v| mine(v.annotations()))
            .collect();
        let claims: Vec<PersistentVolumeClaim> =
            Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace)
                .list(&params)
                .await?
                .items
                .into_iter()
                .filter(|c| mine(c.annotations()))
                .collect();
        if ok(volumes.len(), claims.len()) {
            return Ok((volumes, claims));
        }
        if tokio::time::Instant::now() >= deadline {
            let what = format!(
                "the claims of {owner}: {} PersistentVolumes, {} claims",
                volumes.len(),
                claims.len()
            );
            return Err(Error::Timeout(timeout, what));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Checks a pair [`claims_of`] found for an EFS volume: the PersistentVolume of the EFS CSI
/// driver with `handle`, reserved for the claim in `namespace`, and the claim bound to it by
/// name.
#[track_caller]
pub fn assert_efs_pair(
    volume: &PersistentVolume,
    claim: &PersistentVolumeClaim,
    namespace: &str,
    handle: &str,
) {
    let pv = serde_json::to_value(volume).unwrap_or_default();
    let pvc = serde_json::to_value(claim).unwrap_or_default();
    let name = volume.name_any();
    assert_eq!(claim.name_any(), name);
    assert_eq!(pv["spec"]["csi"]["driver"], "efs.csi.aws.com", "{pv:#}");
    assert_eq!(pv["spec"]["csi"]["volumeHandle"], handle, "{pv:#}");
    assert_eq!(pv["spec"]["storageClassName"], "", "{pv:#}");
    assert_eq!(
        pv["spec"]["persistentVolumeReclaimPolicy"], "Retain",
        "{pv:#}"
    );
    assert_eq!(pv["spec"]["claimRef"]["namespace"], namespace, "{pv:#}");
    assert_eq!(pv["spec"]["claimRef"]["name"], name.as_str(), "{pv:#}");
    assert_eq!(pvc["spec"]["volumeName"], name.as_str(), "{pvc:#}");
    assert_eq!(pvc["spec"]["storageClassName"], "", "{pvc:#}");
}
