//! The fake's admin API (`/fake/...`): the calls it received, faults to inject, resets.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::Error;
use crate::fake::CloudRunFake;

/// What the fake does to a call instead of answering it normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The call is not carried out; it is answered with this HTTP status and the matching
    /// Google error (`{"error": {code, message, status, details}}`): 429 `RESOURCE_EXHAUSTED`
    /// with a `google.rpc.RetryInfo` detail (`retryDelay` "2s") and a `google.rpc.ErrorInfo`
    /// (`RATE_LIMIT_EXCEEDED`), 500 `INTERNAL`, 503 `UNAVAILABLE`, 409 `ABORTED`, 404
    /// `NOT_FOUND`, 403 `PERMISSION_DENIED`, 504 `DEADLINE_EXCEEDED`, ...
    Status(u16),
    /// The call is carried out (a write takes effect), then answered 503 `UNAVAILABLE`, as if
    /// its answer had been lost on the way.
    LostResponse,
}

/// A call the fake received.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// The RPC it maps to: Cloud Run's by its bare name (`CreateService`, `RunJob`,
    /// `GetOperation`, ...), Cloud Scheduler's as `CloudScheduler.CreateJob`, ...; `Unknown`
    /// for a path and method the fake does not implement.
    pub method: String,
    /// The HTTP method.
    pub http_method: String,
    /// The URL path, percent-decoded.
    pub path: String,
    /// The query parameters in order, decoded (the client always sends
    /// `$alt=json;enum-encoding=int`).
    pub query: Vec<(String, String)>,
    /// The JSON body; `Null` when empty, a string when it is not JSON.
    pub body: Value,
    /// The HTTP status it was answered with.
    pub status: u16,
    /// The fault injected into it, if any.
    pub fault: Option<Fault>,
    /// When it arrived (the fake's clock, the same machine's): benchmarks time a change to
    /// the call it causes.
    pub at: SystemTime,
}

impl Recorded {
    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether the call may change something (see [`is_write`]).
    pub fn is_write(&self) -> bool {
        is_write(&self.method)
    }
}

/// Whether an RPC may change something: Cloud Run's `CreateService`, `UpdateService`,
/// `DeleteService`, `SetIamPolicy`, `CreateJob`, `UpdateJob`, `DeleteJob`, `RunJob`,
/// `DeleteExecution` and `CancelExecution`, and Cloud Scheduler's `CreateJob`, `UpdateJob`,
/// `DeleteJob`, `PauseJob`, `ResumeJob` and `RunJob` (as `CloudScheduler.CreateJob`, ...).
pub fn is_write(rpc: &str) -> bool {
    matches!(
        rpc,
        "CreateService"
            | "UpdateService"
            | "DeleteService"
            | "SetIamPolicy"
            | "CreateJob"
            | "UpdateJob"
            | "DeleteJob"
            | "RunJob"
            | "DeleteExecution"
            | "CancelExecution"
            | "CloudScheduler.CreateJob"
            | "CloudScheduler.UpdateJob"
            | "CloudScheduler.DeleteJob"
            | "CloudScheduler.PauseJob"
            | "CloudScheduler.ResumeJob"
            | "CloudScheduler.RunJob"
    )
}

/// The calls of one project: what tests sharing a fake look at and fail, each in a project
/// of its own. Made by [`CloudRunFake::project`].
#[derive(Clone, Copy, Debug)]
pub struct Project<'a> {
    fake: &'a CloudRunFake,
    id: &'a str,
}

impl<'a> Project<'a> {
    /// The project id.
    pub fn id(&self) -> &'a str {
        self.id
    }

    /// `projects/ID/locations/LOCATION`, the parent of its services.
    pub fn parent(&self, location: &str) -> String {
        format!("projects/{}/locations/{location}", self.id)
    }

    /// How many calls of each RPC it received, faulted ones included.
    pub async fn calls(&self) -> Result<BTreeMap<String, usize>, Error> {
        Ok(count(self.requests().await?, |_| true))
    }

    /// [`Project::calls`] of the RPCs that may change something ([`is_write`]).
    pub async fn writes(&self) -> Result<BTreeMap<String, usize>, Error> {
        Ok(count(self.requests().await?, Recorded::is_write))
    }

    /// The calls it received, oldest first.
    pub async fn requests(&self) -> Result<Vec<Recorded>, Error> {
        self.fake.requests_of(Some(self.id), 0).await
    }

    /// The calls it received after the first `skip`, oldest first: what a caller that follows
    /// the calls as they come has not seen yet (the fake sends only those).
    pub async fn requests_after(&self, skip: usize) -> Result<Vec<Recorded>, Error> {
        self.fake.requests_of(Some(self.id), skip).await
    }

    /// Forgets its calls and its faults still pending; its services stay.
    pub async fn clear(&self) -> Result<(), Error> {
        self.fake.clear_of(Some(self.id)).await
    }

    /// Injects `fault` into its next `times` calls of `rpc` (an RPC name like
    /// `CreateService` or `CloudScheduler.RunJob`, or `"*"` for any).
    pub async fn fail(&self, rpc: &str, fault: Fault, times: usize) -> Result<(), Error> {
        self.fake.fail_of(Some(self.id), rpc, fault, times).await
    }
}

impl CloudRunFake {
    /// The calls and faults of one project, kept apart from other tests sharing the fake.
    pub fn project<'a>(&'a self, id: &'a str) -> Project<'a> {
        Project { fake: self, id }
    }

    /// How many calls of each RPC the fake received, faulted ones included, from every
    /// project ([`CloudRunFake::project`] for one).
    pub async fn calls(&self) -> Result<BTreeMap<String, usize>, Error> {
        Ok(count(self.requests().await?, |_| true))
    }

    /// [`CloudRunFake::calls`] of the RPCs that may change something ([`is_write`]).
    pub async fn writes(&self) -> Result<BTreeMap<String, usize>, Error> {
        Ok(count(self.requests().await?, Recorded::is_write))
    }

    /// Every call the fake received, oldest first.
    pub async fn requests(&self) -> Result<Vec<Recorded>, Error> {
        self.requests_of(None, 0).await
    }

    /// Forgets every call received and every fault still pending; services stay.
    pub async fn clear(&self) -> Result<(), Error> {
        self.clear_of(None).await
    }

    /// Injects `fault` into the next `times` calls of `rpc` (an RPC name like `CreateService`,
    /// or `"*"` for any), whatever their project.
    pub async fn fail(&self, rpc: &str, fault: Fault, times: usize) -> Result<(), Error> {
        self.fail_of(None, rpc, fault, times).await
    }

    /// Fires a Cloud Scheduler job (`projects/P/locations/L/jobs/J`) as its schedule would, now:
    /// an enabled job makes its attempt (its HTTP target is delivered, which for a Cloud Run
    /// job's `:run` URI starts an execution as `RunJob` does; the job's `lastAttemptTime` and
    /// `status` record it), a paused one does not. Answers whether it ran.
    ///
    /// Nothing runs on its own in the fake, so this is how a test stands for time passing.
    pub async fn fire_schedule(&self, job: &str) -> Result<bool, Error> {
        const WHAT: &str = "POST /fake/scheduler/fire";
        let answer = self
            .admin(
                WHAT,
                Method::POST,
                "/fake/scheduler/fire",
                Some(json!({ "job": job })),
            )
            .await?;
        answer
            .get("ran")
            .and_then(Value::as_bool)
            .ok_or_else(|| self.failed(WHAT, format!("unexpected answer: {answer}")))
    }

    /// Forgets everything: services, jobs, executions, scheduler jobs, operations, IAM
    /// policies, calls and faults. Not for a [`CloudRunFake::shared`] fake, whose other users
    /// would lose their state.
    pub async fn reset(&self) -> Result<(), Error> {
        self.admin("POST /fake/reset", Method::POST, "/fake/reset", None)
            .await
            .map(drop)
    }

    async fn requests_of(
        &self,
        project: Option<&str>,
        skip: usize,
    ) -> Result<Vec<Recorded>, Error> {
        const WHAT: &str = "GET /fake/requests";
        let mut path = with_project("/fake/requests", project);
        if skip > 0 {
            let separator = if project.is_some() { '&' } else { '?' };
            path = format!("{path}{separator}since={skip}");
        }
        let answer = self.admin(WHAT, Method::GET, &path, None).await?;
        let listed: Listed = serde_json::from_value(answer)
            .map_err(|error| self.failed(WHAT, format!("unexpected answer: {error}")))?;
        listed
            .requests
            .into_iter()
            .map(Wire::into_recorded)
            .collect::<Result<_, String>>()
            .map_err(|message| self.failed(WHAT, message))
    }

    async fn clear_of(&self, project: Option<&str>) -> Result<(), Error> {
        let path = with_project("/fake/clear", project);
        self.admin("POST /fake/clear", Method::POST, &path, None)
            .await
            .map(drop)
    }

    async fn fail_of(
        &self,
        project: Option<&str>,
        rpc: &str,
        fault: Fault,
        times: usize,
    ) -> Result<(), Error> {
        let fault = match fault {
            Fault::Status(status) => json!({ "status": status }),
            Fault::LostResponse => json!("lost-response"),
        };
        let body = json!({ "rpc": rpc, "fault": fault, "times": times, "project": project });
        self.admin(
            "POST /fake/faults",
            Method::POST,
            "/fake/faults",
            Some(body),
        )
        .await
        .map(drop)
    }
}

fn with_project(path: &str, project: Option<&str>) -> String {
    match project {
        // Project ids are lowercase letters, digits and hyphens: nothing to escape.
        Some(project) => format!("{path}?project={project}"),
        None => path.to_owned(),
    }
}

fn count(requests: Vec<Recorded>, keep: impl Fn(&Recorded) -> bool) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for request in requests.into_iter().filter(|r| keep(r)) {
        *counts.entry(request.method).or_default() += 1;
    }
    counts
}

#[derive(Deserialize)]
struct Listed {
    requests: Vec<Wire>,
}

/// A call as `/fake/requests` lists it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    rpc: String,
    http_method: String,
    path: String,
    query: Vec<(String, String)>,
    body: Value,
    status: u16,
    fault: Value,
    at_us: u64,
}

impl Wire {
    fn into_recorded(self) -> Result<Recorded, String> {
        let fault = match &self.fault {
            Value::Null => None,
            Value::String(lost) if lost == "lost-response" => Some(Fault::LostResponse),
            other => {
                let status = other
                    .get("status")
                    .and_then(Value::as_u64)
                    .and_then(|status| u16::try_from(status).ok())
                    .ok_or_else(|| format!("not a fault: {other}"))?;
                Some(Fault::Status(status))
            }
        };
        Ok(Recorded {
            method: self.rpc,
            http_method: self.http_method,
            path: self.path,
            query: self.query,
            body: self.body,
            status: self.status,
            fault,
            at: SystemTime::UNIX_EPOCH + Duration::from_micros(self.at_us),
        })
    }
}
