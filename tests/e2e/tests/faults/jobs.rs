//! The suite's rounds for ServerlessJobs (issue 20): a few jobs created, changed (each change a
//! new generation, so a new run) and deleted on every provider that runs jobs, each run
//! succeeding or failing after its retries, under the same kills and faults as the services, and
//! faults aimed at the calls that start and watch runs. What must hold after each round:
//!
//! - every generation of a live job ran exactly once at its provider: one Kubernetes Job, one
//!   Cloud Run execution, one Container Apps execution, or on Fargate one ECS task per task
//!   index and attempt, found by the object's UID in what each provider keeps of a run;
//! - every live job's status records its current generation's run, ended as its command says;
//! - one job definition per live cloud job (Cloud Run job, Container Apps job), none for a
//!   deleted one, and no task still running for it;
//! - deleted jobs gone; no panic in the operator's log.

use std::collections::BTreeMap;

use ferry_api::{Provider, RunState, ServerlessJob};
use http::Method;
use kube::ResourceExt as _;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams};
use kube::api::{Patch, PatchParams};
use rand::RngExt as _;
use serde_json::{Value, json};

use super::{MANAGER, REGION, Rounds, Suite, Targets, UID_AZURE_TAG, UID_LABEL, label_value};

/// The faults of job rounds: the calls that define jobs and start, watch and stop runs.
pub(super) const JOBS: Targets = Targets {
    kind: "ServerlessJob",
    plural: "serverlessjobs",
    children: ("batch", "jobs", "batch Job"),
    aws: &[
        "RegisterTaskDefinition",
        "DescribeTaskDefinition",
        "RunTask",
        "ListTasks",
        "DescribeTasks",
        "StopTask",
    ],
    cloud_run: &[
        "CreateJob",
        "UpdateJob",
        "GetJob",
        "DeleteJob",
        "ListExecutions",
        "GetExecution",
        "GetOperation",
    ],
    azure: &[
        "Jobs_CreateOrUpdate",
        "Jobs_Get",
        "Jobs_Start",
        "Jobs_Delete",
        "JobsExecutions_List",
        "OperationStatus_Get",
    ],
};

const JOB_NAMES: usize = 3;
const PROVIDERS: [Provider; 4] = [
    Provider::Kubernetes,
    Provider::Fargate,
    Provider::CloudRun,
    Provider::ContainerApps,
];
/// Each task is retried once: a failing run starts every task twice.
const MAX_RETRIES: u32 = 1;
/// The generation label of the Kubernetes Jobs Ferry makes.
const GENERATION_LABEL: &str = "ferry.dev/generation";
/// The generation label of the Cloud Run executions Ferry starts.
const RUN_GENERATION_LABEL: &str = "ferry-generation";
/// The variable carrying `UID-GENERATION` in the Container Apps executions Ferry starts.
const RUN_ENV: &str = "FERRY_RUN";

/// A job as the suite last applied it.
#[derive(Clone, Copy, Debug)]
struct Applied {
    provider: Provider,
    image: u32,
    tasks: u32,
    fails: bool,
}

/// One start at a provider of (a task of) a run: which run, which task and attempt, and what
/// the provider calls it.
#[derive(Debug)]
struct Start {
    uid: String,
    generation: i64,
    /// The task and attempt on Fargate (one task a start); empty elsewhere (one start a run).
    slot: String,
    id: String,
    running: bool,
}

pub(super) struct JobRounds {
    suite: Suite,
    /// Each job's last spec while it should exist.
    live: BTreeMap<String, Applied>,
    /// Every UID a job had, with its name.
    uids: BTreeMap<String, String>,
}

impl JobRounds {
    pub(super) fn new(suite: Suite) -> Self {
        Self {
            suite,
            live: BTreeMap::new(),
            uids: BTreeMap::new(),
        }
    }

    async fn apply(&self, name: &str, job: Applied) {
        // Every stand-in (and the suite's Job controller) reads a run's fate from the command.
        let command = if job.fails {
            "echo starting; exit 3"
        } else {
            "echo done"
        };
        // A Cloud Run job's instance has at least 1 vCPU.
        let cpu = if job.provider == Provider::CloudRun {
            "1"
        } else {
            "250m"
        };
        let mut spec = json!({
            "provider": job.provider.as_str(),
            "containers": [{"name": "task", "image": format!("ghcr.io/acme/task:{}", job.image),
                            "command": ["sh", "-c"], "args": [command],
                            "resources": {"cpu": cpu, "memory": "512Mi"}}],
            "taskCount": job.tasks,
            "maxRetries": MAX_RETRIES,
        });
        if let Some(config) = self.suite.config_of(job.provider) {
            spec["providerConfigRef"] = json!({ "name": config });
        }
        let object = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "ServerlessJob",
                            "metadata": {"name": name}, "spec": spec});
        self.suite
            .sjobs()
            .patch(
                name,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&object),
            )
            .await
            .unwrap();
    }

    /// Every start Ferry made at the providers, by the UID of its job.
    async fn starts(&self) -> Vec<Start> {
        let mut starts = self.kubernetes_jobs().await;
        starts.extend(self.ecs_tasks().await);
        starts.extend(self.cloud_run_executions().await);
        starts.extend(self.container_apps_executions().await);
        starts
    }

    /// The Kubernetes Jobs of the namespace: one a run.
    async fn kubernetes_jobs(&self) -> Vec<Start> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.suite.client.clone(), self.suite.ns(), &batch_jobs());
        let list = api.list(&ListParams::default()).await.unwrap();
        list.items
            .iter()
            .map(|job| Start {
                uid: job
                    .owner_references()
                    .iter()
                    .find(|o| o.kind == "ServerlessJob")
                    .map_or_else(|| "<unowned>".to_owned(), |o| o.uid.clone()),
                generation: job
                    .labels()
                    .get(GENERATION_LABEL)
                    .and_then(|g| g.parse().ok())
                    .unwrap_or_default(),
                slot: String::new(),
                id: format!("jobs.batch/{}", job.name_any()),
                running: !["Complete", "Failed"].iter().any(|type_| {
                    job.data["status"]["conditions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|c| c["type"] == *type_ && c["status"] == "True")
                }),
            })
            .collect()
    }

    /// The ECS tasks of the suite's cluster, running or stopped: one a task attempt, its run
    /// told by its group (`ferry:UID:GENERATION:INDEX:ATTEMPT:COUNT`).
    async fn ecs_tasks(&self) -> Vec<Start> {
        let ecs = &self.suite.ecs;
        let cluster = &self.suite.ecs_cluster;
        let mut arns = Vec::new();
        for status in [
            aws_sdk_ecs::types::DesiredStatus::Running,
            aws_sdk_ecs::types::DesiredStatus::Stopped,
        ] {
            let mut pages = ecs
                .list_tasks()
                .cluster(cluster)
                .desired_status(status)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                arns.extend(page.unwrap().task_arns.unwrap_or_default());
            }
        }
        let mut starts = Vec::new();
        for chunk in arns.chunks(100) {
            let described = ecs
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(chunk.to_vec()))
                .send()
                .await
                .unwrap();
            for task in described.tasks() {
                let group = task.group().unwrap_or_default();
                let parts: Vec<&str> = group.split(':').collect();
                let (uid, generation, slot) = match parts.as_slice() {
                    ["ferry", uid, generation, slot @ ..] => (
                        (*uid).to_owned(),
                        generation.parse().unwrap_or_default(),
                        slot.join(":"),
                    ),
                    _ => (format!("<group {group}>"), 0, String::new()),
                };
                starts.push(Start {
                    uid,
                    generation,
                    slot,
                    id: task.task_arn().unwrap_or_default().to_owned(),
                    running: task.last_status() != Some("STOPPED"),
                });
            }
        }
        starts
    }

    /// The executions of every Cloud Run job of the suite's project.
    async fn cloud_run_executions(&self) -> Vec<Start> {
        let path = format!(
            "/v2/projects/{}/locations/{REGION}/jobs/-/executions?pageSize=100",
            self.suite.project
        );
        let answer = self
            .suite
            .cloud_run
            .send_raw(Method::GET, &path, None)
            .await
            .unwrap();
        answer.body["executions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| Start {
                uid: e["labels"][UID_LABEL]
                    .as_str()
                    .unwrap_or("<unlabelled>")
                    .to_owned(),
                generation: e["labels"][RUN_GENERATION_LABEL]
                    .as_str()
                    .and_then(|g| g.parse().ok())
                    .unwrap_or_default(),
                slot: String::new(),
                id: e["name"].as_str().unwrap_or_default().to_owned(),
                running: e["completionTime"].is_null(),
            })
            .collect()
    }

    /// The Container Apps jobs of the suite's subscription.
    async fn container_apps_jobs(&self) -> Vec<Value> {
        let path = format!(
            "/subscriptions/{}/providers/Microsoft.App/jobs?api-version={}",
            self.suite.azure.subscription(&self.suite.subscription).id(),
            azure_fake::CONTAINER_APPS_API_VERSION
        );
        let answer = self
            .suite
            .azure
            .send_raw(Method::GET, &path, None)
            .await
            .unwrap();
        assert_eq!(answer.status, 200, "{path}: {:?}", answer.body);
        answer.body["value"].as_array().cloned().unwrap_or_default()
    }

    /// The executions of every Container Apps job, their run told by [`RUN_ENV`].
    async fn container_apps_executions(&self) -> Vec<Start> {
        let mut starts = Vec::new();
        for job in self.container_apps_jobs().await {
            let path = format!(
                "{}/executions?api-version={}",
                job["id"].as_str().unwrap_or_default(),
                azure_fake::CONTAINER_APPS_API_VERSION
            );
            let answer = self
                .suite
                .azure
                .send_raw(Method::GET, &path, None)
                .await
                .unwrap();
            for execution in answer.body["value"].as_array().into_iter().flatten() {
                let key = execution
                    .pointer("/properties/template/containers")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["env"].as_array())
                    .flatten()
                    .find(|e| e["name"] == RUN_ENV)
                    .and_then(|e| e["value"].as_str())
                    .unwrap_or("<no run key>");
                // `UID-GENERATION`; a UID holds `-` itself.
                let (uid, generation) = key.rsplit_once('-').unwrap_or((key, ""));
                let status = execution["properties"]["status"].as_str().unwrap_or("");
                starts.push(Start {
                    uid: uid.to_owned(),
                    generation: generation.parse().unwrap_or_default(),
                    slot: String::new(),
                    id: execution["id"].as_str().unwrap_or_default().to_owned(),
                    running: matches!(status, "Running" | "Processing"),
                });
            }
        }
        starts
    }

    /// The job definitions in the clouds (Cloud Run jobs, Container Apps jobs), by UID.
    async fn definitions(&self) -> BTreeMap<String, Vec<String>> {
        let mut by_uid: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let path = format!(
            "/v2/projects/{}/locations/{REGION}/jobs?pageSize=100",
            self.suite.project
        );
        let answer = self
            .suite
            .cloud_run
            .send_raw(Method::GET, &path, None)
            .await
            .unwrap();
        for job in answer.body["jobs"].as_array().into_iter().flatten() {
            let uid = job["labels"][UID_LABEL].as_str().unwrap_or("<unlabelled>");
            by_uid
                .entry(uid.to_owned())
                .or_default()
                .push(job["name"].as_str().unwrap_or_default().to_owned());
        }
        for job in self.container_apps_jobs().await {
            let uid = job["tags"][UID_AZURE_TAG].as_str().unwrap_or("<untagged>");
            by_uid
                .entry(uid.to_owned())
                .or_default()
                .push(job["id"].as_str().unwrap_or_default().to_owned());
        }
        by_uid
    }
}

fn batch_jobs() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("batch", "v1", "Job"), "jobs")
}

/// Whether `job`'s status speaks of its current generation, whose run ended as `want` says.
fn settled(job: &ServerlessJob, want: &Applied) -> bool {
    let generation = job.metadata.generation;
    let Some(status) = &job.status else {
        return false;
    };
    let ended = if want.fails {
        RunState::Failed
    } else {
        RunState::Succeeded
    };
    let is = |type_: &str, value: &str| {
        status
            .conditions
            .iter()
            .any(|c| c.type_ == type_ && c.status == value && c.observed_generation == generation)
    };
    status.observed_generation == generation
        && status.provider == Some(want.provider)
        && status
            .last_run
            .as_ref()
            .is_some_and(|r| r.generation == generation && r.state == ended)
        && is("Synced", "True")
        && !status
            .conditions
            .iter()
            .any(|c| c.type_ == "Reconciling" && c.status == "True")
}

impl Rounds for JobRounds {
    fn suite(&mut self) -> &mut Suite {
        &mut self.suite
    }

    /// Creates a job, changes it (a new generation: a new run) or deletes it.
    async fn act(&mut self) {
        let rng = &mut self.suite.rng;
        let name = format!("job-{}", rng.random_range(0..JOB_NAMES));
        let fresh = |rng: &mut rand::rngs::StdRng, provider, image| Applied {
            provider,
            image,
            tasks: rng.random_range(1..=2),
            fails: rng.random_bool(0.25),
        };
        let (action, applied) = match self.live.get(&name).copied() {
            None => {
                let provider = PROVIDERS[rng.random_range(0..PROVIDERS.len())];
                ("create", Some(fresh(rng, provider, 1)))
            }
            Some(was) => {
                if rng.random_range(0..4) < 3 {
                    ("change", Some(fresh(rng, was.provider, was.image + 1)))
                } else {
                    ("delete", None)
                }
            }
        };
        *self.suite.figures.actions.entry(action).or_default() += 1;
        let provider = applied
            .map(|a| a.provider)
            .or_else(|| self.live.get(&name).map(|a| a.provider));
        self.suite.touched = provider.into_iter().collect();
        self.suite
            .round
            .insert(0, format!("{action} {name} -> {applied:?}"));
        if let Some(applied) = applied {
            self.apply(&name, applied).await;
            self.live.insert(name.clone(), applied);
            let job = self.suite.sjobs().get(&name).await.unwrap();
            self.uids.insert(job.uid().unwrap(), name);
        } else {
            self.suite
                .sjobs()
                .delete(&name, &DeleteParams::default())
                .await
                .unwrap();
            self.live.remove(&name);
        }
    }

    async fn lagging(&self) -> Vec<String> {
        let mut lagging = Vec::new();
        let objects = self
            .suite
            .sjobs()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items;
        for job in &objects {
            let name = job.name_any();
            match self.live.get(&name) {
                None => lagging.push(format!("{name} still exists: {:?}", job.status)),
                Some(want) if !settled(job, want) => {
                    lagging.push(format!("{name}: {:?}", job.status));
                }
                Some(_) => {}
            }
        }
        for name in self.live.keys() {
            if !objects.iter().any(|o| o.name_any() == *name) {
                lagging.push(format!("{name} is missing"));
            }
        }
        // A deleted job's Kubernetes Jobs go with it by garbage collection, after it is gone.
        for start in self.kubernetes_jobs().await {
            if !objects
                .iter()
                .any(|o| o.uid().as_deref() == Some(start.uid.as_str()))
            {
                lagging.push(format!("{} of {} not yet collected", start.id, start.uid));
            }
        }
        lagging
    }

    async fn verify(&mut self) {
        let starts = self.starts().await;
        let definitions = self.definitions().await;
        let objects: BTreeMap<String, ServerlessJob> = self
            .suite
            .sjobs()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|j| (j.name_any(), j))
            .collect();
        let mut found = Vec::new();
        for start in &starts {
            if start.uid.starts_with('<') {
                found.push(format!("a run without Ferry's UID: {start:?}"));
            }
        }
        for (uid, name) in &self.uids {
            let mine = |s: &&Start| s.uid == *uid || s.uid == label_value(uid);
            let live = objects
                .get(name)
                .filter(|o| o.uid().as_deref() == Some(uid.as_str()))
                .and_then(|o| self.live.get(name).map(|want| (o, want)));
            let defined = definitions
                .get(uid)
                .or_else(|| definitions.get(&label_value(uid)))
                .cloned()
                .unwrap_or_default();
            let Some((job, want)) = live else {
                if !defined.is_empty() {
                    found.push(format!(
                        "{name} (uid {uid}) is gone, its jobs are not: {defined:?}"
                    ));
                }
                let running: Vec<&Start> =
                    starts.iter().filter(mine).filter(|s| s.running).collect();
                if !running.is_empty() {
                    found.push(format!(
                        "{name} (uid {uid}) is gone, its runs still run: {running:?}"
                    ));
                }
                continue;
            };
            let cloud_job = matches!(want.provider, Provider::CloudRun | Provider::ContainerApps);
            if defined.len() != usize::from(cloud_job) {
                found.push(format!(
                    "{name} on {:?}: job definitions {defined:?}",
                    want.provider
                ));
            }
            // Every generation was a change the suite converged: each ran, exactly once.
            for generation in 1..=job.metadata.generation.unwrap_or_default() {
                let of_run: Vec<&Start> = starts
                    .iter()
                    .filter(mine)
                    .filter(|s| s.generation == generation)
                    .collect();
                let mut slots: Vec<&str> = of_run.iter().map(|s| s.slot.as_str()).collect();
                slots.sort_unstable();
                slots.dedup();
                if of_run.is_empty() || slots.len() != of_run.len() {
                    found.push(format!(
                        "{name} generation {generation}: started {} times, want once: {of_run:?}",
                        of_run.len()
                    ));
                }
            }
        }
        if self.suite.operator.logs().contains("panicked") {
            found.push("the operator panicked".into());
        }
        for violation in found {
            self.suite.violations(violation);
        }
    }

    async fn delete_all(&mut self) {
        for name in self.live.keys() {
            self.suite
                .sjobs()
                .delete(name, &DeleteParams::default())
                .await
                .unwrap();
        }
        self.live.clear();
    }
}
