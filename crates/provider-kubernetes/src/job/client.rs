//! The Kubernetes backend's job I/O: a Job created per run (its name is the run's key: a
//! second create of the same run answers 409 and finds it), the CronJob of a scheduled job
//! applied with server-side apply, the Jobs read back by label, the pods of each running run
//! read to tell why they cannot start, a run whose pods cannot start ended by `advance`, a run
//! stopped by suspending its Job, and everything released on `deletionPolicy: Orphan`. The
//! PersistentVolume and claim of each efs volume are made before the CronJob or a run's Job
//! that mounts them, and deleted with the job ([`ferry_provider::cluster_volumes::client`]).
//!
//! Jobs are listed from the API server on each observe rather than from a watch cache: a run
//! the history records and the cache has not seen yet would read as gone. Pods are listed too
//! (the controller keeps no watch of pods, and the service side lists them the same way), by
//! the run's labels and only for runs still running: a job with no run under way costs no pod
//! read.

use async_trait::async_trait;
use ferry_api::conditions::reasons;
use ferry_api::{JobRun, RunState};
use ferry_core::desired::ObjectRef;
use ferry_core::job::DesiredJob;
use ferry_provider::in_cluster::{self, Subject, is_ours, release_patch};
use ferry_provider::job::{Definition, JobClient, JobObservation};
use ferry_provider::{Deletion, ProviderError};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
use kube::core::GroupVersionKind;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use super::build::{self, FIELD_MANAGER};
use crate::client::{POD_LIST_LIMIT, pods};
use ferry_provider::cluster_volumes::client::Claims;

/// Most Jobs of one ServerlessJob read per observe (a CronJob keeps a few; a job without a
/// schedule keeps one per spec change for a week).
const LIST_LIMIT: u32 = 100;

/// `batch/v1` Jobs.
pub fn jobs() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("batch", "v1", "Job"), "jobs")
}

/// `batch/v1` CronJobs.
pub fn cron_jobs() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("batch", "v1", "CronJob"), "cronjobs")
}

fn classify(
    operation: &'static str,
    kind: &str,
    plural: &str,
    error: kube::Error,
) -> ProviderError {
    let what = format!("a {kind}");
    let refused = format!("the API server refused the {kind}");
    let subject = Subject {
        what: &what,
        resource: plural,
        refused: &refused,
    };
    in_cluster::classify(operation, &subject, error)
}

fn job_error(operation: &'static str, error: kube::Error) -> ProviderError {
    classify(operation, "Job", "jobs", error)
}

fn cron_job_error(operation: &'static str, error: kube::Error) -> ProviderError {
    classify(operation, "CronJob", "cronjobs", error)
}

fn name_taken(kind: &str, namespace: &str, name: &str) -> ProviderError {
    ProviderError::Terminal {
        reason: reasons::NAME_TAKEN,
        message: format!(
            "a {kind} {namespace}/{name} exists and was not created by Ferry for this \
             ServerlessJob: rename the ServerlessJob, or delete the {kind}"
        ),
        recheck: None,
    }
}

/// The Jobs and CronJobs of one cluster.
pub struct KubernetesJobs {
    client: Client,
    claims: Claims,
}

impl KubernetesJobs {
    /// Jobs through `client`.
    pub fn new(client: Client) -> Self {
        Self {
            claims: Claims::new(client.clone()),
            client,
        }
    }

    fn api(&self, resource: &ApiResource, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), namespace, resource)
    }

    /// Ferry's Jobs of the ServerlessJob `object`, newest first.
    async fn list_jobs(&self, object: &ObjectRef) -> Result<Vec<DynamicObject>, ProviderError> {
        let params = ListParams::default()
            .labels(&build::selector(&object.name))
            .limit(LIST_LIMIT);
        let list = self
            .api(&jobs(), &object.namespace)
            .list(&params)
            .await
            .map_err(|e| job_error("list", e))?;
        Ok(list
            .items
            .into_iter()
            .filter(|job| is_ours(job, object) || owned_by_our_cron_job(job, object))
            .collect())
    }

    /// The pods of the run `run` of the ServerlessJob `object`, as JSON.
    async fn run_pods(&self, object: &ObjectRef, run: &str) -> Result<Vec<Value>, ProviderError> {
        let params = ListParams::default()
            .labels(&build::pod_selector(&object.name, run))
            .limit(POD_LIST_LIMIT);
        let list = self
            .api(&pods(), &object.namespace)
            .list(&params)
            .await
            .map_err(|e| classify("list pods", "Pod", "pods", e))?;
        Ok(list.items.iter().map(as_value).collect())
    }

    /// Merge-patches the Job `run` of `want`; one already gone needs nothing.
    async fn patch_job(
        &self,
        want: &DesiredJob,
        run: &str,
        patch: &Value,
        operation: &'static str,
    ) -> Result<(), ProviderError> {
        match self
            .api(&jobs(), &want.object.namespace)
            .patch(run, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(job_error(operation, e)),
        }
    }

    async fn get_cron_job(
        &self,
        object: &ObjectRef,
    ) -> Result<Option<DynamicObject>, ProviderError> {
        self.api(&cron_jobs(), &object.namespace)
            .get_opt(&object.name)
            .await
            .map_err(|e| cron_job_error("get", e))
    }

    async fn delete_cron_job(&self, object: &ObjectRef) -> Result<(), ProviderError> {
        match self
            .api(&cron_jobs(), &object.namespace)
            .delete(&object.name, &DeleteParams::background())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(cron_job_error("delete", e)),
        }
    }
}

/// A Job the CronJob of `object` made: owned by the CronJob, labelled for the object.
fn owned_by_our_cron_job(job: &DynamicObject, object: &ObjectRef) -> bool {
    job.owner_references()
        .iter()
        .any(|o| o.kind == "CronJob" && o.name == object.name)
}

/// The identifier `status.resourceRef` gives a CronJob.
fn cron_job_id(name: &str) -> String {
    format!("cronjobs/{name}")
}

fn as_value(object: &DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

#[async_trait]
impl JobClient for KubernetesJobs {
    async fn observe(&self, want: &DesiredJob) -> Result<JobObservation, ProviderError> {
        let object = &want.object;
        let cron_job = self.get_cron_job(object).await?;
        let definition = match (&cron_job, build::cron_job(want)) {
            (Some(live), _) if !is_ours(live, object) => {
                return Err(name_taken("CronJob", &object.namespace, &object.name));
            }
            (Some(live), Some(wanted)) => Definition::Present {
                up_to_date: build::is_up_to_date(&wanted, &as_value(live)),
                id: Some(cron_job_id(&object.name)),
            },
            (None, Some(_)) => Definition::Absent,
            // A job without a schedule has no definition apart from its runs; a CronJob left
            // from an earlier schedule must go.
            (live, None) => Definition::Present {
                up_to_date: live.is_none(),
                id: None,
            },
        };
        // A claim that went missing is made again by `apply`.
        let claims = build::claims(want);
        let definition = match definition {
            Definition::Present { up_to_date, id } if !claims.is_empty() => Definition::Present {
                up_to_date: up_to_date
                    && self.claims.present(&build::owner(object), &claims).await?,
                id,
            },
            other => other,
        };
        let now = Time(Timestamp::now());
        let mut runs: Vec<JobRun> = Vec::new();
        for job in self.list_jobs(object).await? {
            let job = as_value(&job);
            let mut run = build::run_of(&job);
            if run.state == RunState::Running {
                let pods = self.run_pods(object, &run.name).await?;
                run = build::run_with_pods(&job, &pods, &now);
            }
            runs.push(run);
        }
        runs.sort_by(|a, b| {
            b.start_time
                .as_ref()
                .map(|t| t.0)
                .cmp(&a.start_time.as_ref().map(|t| t.0))
        });
        Ok(JobObservation { definition, runs })
    }

    async fn apply(&self, want: &DesiredJob) -> Result<Option<String>, ProviderError> {
        let object = &want.object;
        let (owner, claims) = (build::owner(object), build::claims(want));
        self.claims.ensure(&owner, &claims).await?;
        let id = if let Some(cron_job) = build::cron_job(want) {
            let params = PatchParams::apply(FIELD_MANAGER)
                .force()
                .validation_strict();
            self.api(&cron_jobs(), &object.namespace)
                .patch(&object.name, &params, &Patch::Apply(&cron_job))
                .await
                .map_err(|e| cron_job_error("apply", e))?;
            Some(cron_job_id(&object.name))
        } else {
            self.delete_cron_job(object).await?;
            None
        };
        // Claims of volumes no longer wanted, once no new run can name them: a run still using
        // one keeps it until it ends.
        self.claims.remove_others(&owner, &claims).await?;
        Ok(id)
    }

    async fn start(&self, want: &DesiredJob, generation: i64) -> Result<JobRun, ProviderError> {
        let object = &want.object;
        self.claims
            .ensure(&build::owner(object), &build::claims(want))
            .await?;
        let job = build::job(want, generation);
        let name = build::run_name(want, generation);
        let api = self.api(&jobs(), &object.namespace);
        let body: DynamicObject =
            serde_json::from_value(job).map_err(|e| ProviderError::Transient {
                operation: "start",
                message: e.to_string(),
            })?;
        let params = PostParams {
            dry_run: false,
            field_manager: Some(FIELD_MANAGER.to_owned()),
        };
        let live = match api.create(&params, &body).await {
            Ok(live) => live,
            // This run's Job exists: an earlier, interrupted start made it (read by the list
            // observe uses, which needs no other permission).
            Err(kube::Error::Api(status)) if status.code == 409 => self
                .list_jobs(object)
                .await?
                .into_iter()
                .find(|job| job.name_any() == name)
                .ok_or_else(|| name_taken("Job", &object.namespace, &name))?,
            Err(e) => return Err(job_error("create", e)),
        };
        Ok(build::run_of(&as_value(&live)))
    }

    /// Ends a run whose pods cannot start ([`build::run_with_pods`] gave it a reason) before
    /// the kubelet retries for ever: [`build::end_patch`] on its Job. Any other run is the Job
    /// controller's to move on.
    async fn advance(&self, want: &DesiredJob, run: &JobRun) -> Result<(), ProviderError> {
        let Some(patch) = build::end_patch(run, &Time(Timestamp::now())) else {
            return Ok(());
        };
        self.patch_job(want, &run.name, &patch, "end").await
    }

    async fn stop(&self, want: &DesiredJob, run: &str) -> Result<(), ProviderError> {
        // A run that already ended (Ferry's end of a stuck run among them, whose deadline a
        // suspend would hold back) or is gone stays as it is.
        let Some(job) = self
            .list_jobs(&want.object)
            .await?
            .into_iter()
            .find(|job| job.name_any() == run)
        else {
            return Ok(());
        };
        if build::run_of(&as_value(&job)).state.is_finished() {
            return Ok(());
        }
        // A suspended Job ends its pods and keeps its record (condition Suspended), which
        // reads as a stopped run; deleting it would lose the record.
        let patch = json!({ "spec": { "suspend": true } });
        self.patch_job(want, run, &patch, "stop").await
    }

    async fn delete(&self, object: &ObjectRef) -> Result<Deletion, ProviderError> {
        let mut remaining = false;
        if let Some(cron_job) = self.get_cron_job(object).await?
            && is_ours(&cron_job, object)
        {
            remaining = true;
            if cron_job.metadata.deletion_timestamp.is_none() {
                self.delete_cron_job(object).await?;
            }
        }
        let api = self.api(&jobs(), &object.namespace);
        for job in self.list_jobs(object).await? {
            remaining = true;
            if job.metadata.deletion_timestamp.is_some() {
                continue;
            }
            match api
                .delete(&job.name_any(), &DeleteParams::background())
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(e) => return Err(job_error("delete", e)),
            }
        }
        remaining |= self
            .claims
            .remove_others(&build::owner(object), &[])
            .await?;
        Ok(if remaining {
            Deletion::InProgress
        } else {
            Deletion::Gone
        })
    }

    async fn release(&self, object: &ObjectRef) -> Result<(), ProviderError> {
        let Some(uid) = object.uid.as_deref() else {
            return Ok(());
        };
        if let Some(cron_job) = self.get_cron_job(object).await?
            && let Some(patch) = release_patch(&cron_job, uid)
        {
            self.api(&cron_jobs(), &object.namespace)
                .patch(&object.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|e| cron_job_error("release", e))?;
        }
        let api = self.api(&jobs(), &object.namespace);
        for job in self.list_jobs(object).await? {
            if let Some(patch) = release_patch(&job, uid) {
                api.patch(
                    &job.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
                .map_err(|e| job_error("release", e))?;
            }
        }
        Ok(())
    }
}
