//! moto server, patched by `launcher.py`, as a child process on a free port (started by the
//! testkit's launcher, with the project's virtualenv).

use bytes::Bytes;
use ferry_testkit::http::{send, send_json};
use ferry_testkit::launch::{Launch, Process};
use http::{Method, Request};
use http_body_util::Full;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::error::Error;

/// How to install what [`Moto`] needs into an interpreter `FERRY_MOTO_PYTHON` names (the
/// project's virtualenv has it).
pub const INSTALL_HINT: &str = "python3 -m pip install 'moto[server]==5.2.5'";

const LAUNCHER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/launcher.py");

/// How to start a [`Moto`].
#[derive(Clone, Debug)]
pub struct Options {
    /// The DescribeServices call (counting those that include the service) that reports a
    /// rollout finished: the first `rollout_describes - 1` report `IN_PROGRESS`. 0 finishes
    /// rollouts at once, in the CreateService or UpdateService answer.
    pub rollout_describes: usize,
    /// The Python interpreter with moto installed: `FERRY_MOTO_PYTHON`; `None` runs the
    /// project's virtualenv (see `ferry_testkit::python`).
    pub python: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rollout_describes: 2,
            python: std::env::var("FERRY_MOTO_PYTHON").ok(),
        }
    }
}

/// A running moto server on 127.0.0.1.
///
/// Dropping it kills the server. A server whose owner never drops it (a `static`, or a test
/// binary that is killed) exits by itself within a second of the test process.
pub struct Moto {
    process: Process,
    rollout_describes: usize,
}

static SHARED: OnceCell<Moto> = OnceCell::const_new();

impl Moto {
    /// Starts moto with the default [`Options`], waits until it answers and warms ECS up.
    pub async fn start() -> Result<Self, Error> {
        Self::start_with(Options::default()).await
    }

    /// Starts moto with `options`, waits until it answers and warms ECS up.
    pub async fn start_with(options: Options) -> Result<Self, Error> {
        let launch = Launch {
            name: "moto",
            script: LAUNCHER,
            args: vec![
                "--rollout-describes".to_owned(),
                options.rollout_describes.to_string(),
            ],
            python: options.python,
            python_var: "FERRY_MOTO_PYTHON",
            install: INSTALL_HINT,
            health: "/moto-api/",
        };
        // From here on, an early return drops `moto`, which kills the server.
        let moto = Self {
            process: launch.start().await?,
            rollout_describes: options.rollout_describes,
        };
        moto.warm_up().await?;
        Ok(moto)
    }

    /// One server for the whole test process, started by the first caller with the default
    /// [`Options`].
    ///
    /// It holds no task of any Tokio runtime, so every `#[tokio::test]` can use it. Tests that
    /// share it keep apart by using their own cluster names (they run in parallel, so
    /// [`Moto::reset`] would pull the state from under the others). It is never dropped: it
    /// exits when the test process does.
    pub async fn shared() -> Result<&'static Self, Error> {
        SHARED.get_or_try_init(Self::start).await
    }

    /// Where moto answers: `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.process.endpoint()
    }

    /// The [`Options::rollout_describes`] it was started with.
    pub fn rollout_describes(&self) -> usize {
        self.rollout_describes
    }

    /// Forgets every resource of every service (`POST /moto-api/reset`); the patches stay.
    pub async fn reset(&self) -> Result<(), Error> {
        let request = Request::post("/moto-api/reset").body(Full::default());
        self.expect_ok("POST /moto-api/reset", request).await
    }

    /// Invokes the EventBridge Scheduler schedule `group`/`name` (of the account and region
    /// `sdk_config` reaches) now, as the service does when its expression comes due: an ECS
    /// RunTask built from the target's `EcsParameters` (`POST /moto-api/ferry/scheduler/fire`;
    /// see README.md). Only ECS targets fire. The RunTask is moto's own: no proxy sees it.
    ///
    /// A schedule that does not exist (HTTP 404) or is DISABLED (HTTP 409, and nothing
    /// starts), a target that is not an ECS cluster (HTTP 400), or a RunTask that ECS refuses
    /// (HTTP 424, with ECS's error) is an [`Error::Request`] naming the status and why.
    pub async fn fire_schedule(&self, group: &str, name: &str) -> Result<FiredSchedule, Error> {
        const WHAT: &str = "POST /moto-api/ferry/scheduler/fire";
        let failed = |message: String| Error::Request {
            what: WHAT,
            endpoint: self.endpoint(),
            message,
        };
        let body = json!({ "name": name, "groupName": group });
        let (status, answer) = send_json(
            self.process.authority(),
            Method::POST,
            "/moto-api/ferry/scheduler/fire",
            Some(&body),
        )
        .await
        .map_err(|error| failed(error.to_string()))?;
        if !status.is_success() {
            return Err(failed(format!("HTTP {status}: {answer}")));
        }
        FiredSchedule::from_answer(&answer)
            .ok_or_else(|| failed(format!("unexpected answer {answer}")))
    }

    /// The last lines moto wrote to stderr (tracebacks of its 500 answers among them).
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// The first call to a service loads its backend (~1.7 s for ECS); pay it once here rather
    /// than in whichever test comes first, where it could exceed an SDK timeout.
    async fn warm_up(&self) -> Result<(), Error> {
        let calls = [
            (
                "ecs",
                "AmazonEC2ContainerServiceV20141113.ListClusters",
                "{}",
            ),
            (
                "application-autoscaling",
                "AnyScaleFrontendService.DescribeScalableTargets",
                r#"{"ServiceNamespace":"ecs"}"#,
            ),
        ];
        for (service, target, body) in calls {
            let request = Request::builder()
                .method(Method::POST)
                .uri("/")
                .header("content-type", "application/x-amz-json-1.1")
                .header("x-amz-target", target)
                // moto picks the service from the credential scope; it checks no signature.
                .header(
                    "authorization",
                    format!(
                        "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/{service}/aws4_request, \
                         SignedHeaders=host, Signature=0"
                    ),
                )
                .body(Full::new(Bytes::from_static(body.as_bytes())));
            self.expect_ok("warming up", request).await?;
        }
        Ok(())
    }

    async fn expect_ok(
        &self,
        what: &'static str,
        request: http::Result<Request<Full<Bytes>>>,
    ) -> Result<(), Error> {
        let failed = |message: String| Error::Request {
            what,
            endpoint: self.endpoint(),
            message,
        };
        let request = request.map_err(|error| failed(error.to_string()))?;
        let response = send(self.process.authority(), request)
            .await
            .map_err(|error| failed(error.to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            let body = String::from_utf8_lossy(response.body());
            Err(failed(format!("HTTP {}: {body}", response.status())))
        }
    }
}

/// What a schedule started when [`Moto::fire_schedule`] invoked it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FiredSchedule {
    /// The ARNs of the ECS tasks its RunTask started (`TaskCount` of them).
    pub task_arns: Vec<String>,
    /// Their `startedBy`: `chronos-schedule/NAME`, cut to 36 characters, as EventBridge
    /// Scheduler sets it.
    pub started_by: String,
}

impl FiredSchedule {
    fn from_answer(answer: &Value) -> Option<Self> {
        let task_arns = answer["taskArns"]
            .as_array()?
            .iter()
            .map(|arn| arn.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()?;
        let started_by = answer["startedBy"].as_str()?.to_owned();
        Some(Self {
            task_arns,
            started_by,
        })
    }
}

impl std::fmt::Debug for Moto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moto")
            .field("endpoint", &self.process.endpoint())
            .field("rollout_describes", &self.rollout_describes)
            .finish_non_exhaustive()
    }
}
