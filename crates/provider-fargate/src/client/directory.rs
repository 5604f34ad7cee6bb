//! What AWS holds for the services of one account, read in batches: one `DescribeServices` for
//! up to ten services of a cluster, and one `DescribeScalableTargets` and one
//! `DescribeScalingPolicies` for up to fifty. A reconcile that needs one service also refreshes
//! the other known services of its cluster that were read longest ago, so the objects that
//! resync around the same time are served from that one read: an idle cluster of N services
//! costs about N/10 `DescribeServices` and N/50 of each scaling call per resync interval, 0.14
//! reads per object, instead of 3.
//!
//! Only steady services (rollout completed, every task running) are served from the cache, and
//! never past `max_age`; a service Ferry has just written is read again, scaling included.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use aws_sdk_ecs::types::{ServiceField, TaskDefinitionField};
use ferry_provider::ProviderError;
use tokio::sync::Mutex;

use super::aws::classify;
use crate::build::{
    ObservedPolicy, ObservedScaling, ObservedService, ObservedTaskDefinition, Rollout,
    scaling_resource_id,
};

/// ECS's limit of services per `DescribeServices`.
pub(crate) const BATCH: usize = 10;

/// Application Auto Scaling's limit of resource IDs (and policy names) per describe call, and
/// of results per page.
pub(crate) const SCALING_BATCH: usize = 50;

/// One service as last read.
#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    /// The service, or `None` when ECS does not know it (or only as INACTIVE).
    pub service: Option<ObservedService>,
    /// Its scalable target and Ferry's policy, when registered.
    pub scaling: Option<ObservedScaling>,
}

impl Snapshot {
    fn steady(&self) -> bool {
        self.service.as_ref().is_some_and(|s| {
            s.status == "ACTIVE"
                && s.rollout.as_ref().is_some_and(|r| r.state == "COMPLETED")
                && s.running_count == s.desired_count
                && s.pending_count == 0
        })
    }
}

struct Entry {
    read_at: Option<Instant>,
    service: Option<ObservedService>,
    scaling_read_at: Option<Instant>,
    scaling: Option<ObservedScaling>,
}

impl Entry {
    fn fresh(at: Option<Instant>, now: Instant, max_age: Duration) -> bool {
        at.is_some_and(|at| now.duration_since(at) < max_age)
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            service: self.service.clone(),
            scaling: self.scaling.clone(),
        }
    }
}

#[derive(Default)]
struct Cluster {
    entries: BTreeMap<String, Entry>,
}

/// The cache of one account.
pub(crate) struct Directory {
    ecs: aws_sdk_ecs::Client,
    scaling: aws_sdk_applicationautoscaling::Client,
    max_age: Duration,
    clusters: Mutex<HashMap<String, Arc<Mutex<Cluster>>>>,
    task_definitions: Mutex<HashMap<String, ObservedTaskDefinition>>,
}

/// Task definitions kept before the cache starts over (revisions are immutable, so a hit never
/// goes stale; the cap only bounds memory).
const TASK_DEFINITION_CACHE: usize = 20_000;

impl Directory {
    pub(crate) fn new(
        ecs: aws_sdk_ecs::Client,
        scaling: aws_sdk_applicationautoscaling::Client,
        max_age: Duration,
    ) -> Self {
        Self {
            ecs,
            scaling,
            max_age,
            clusters: Mutex::default(),
            task_definitions: Mutex::default(),
        }
    }

    async fn cluster(&self, name: &str) -> Arc<Mutex<Cluster>> {
        self.clusters
            .lock()
            .await
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    /// What AWS holds for `service` in `cluster`: from the cache when it is steady and young,
    /// else read together with up to nine other services of the cluster.
    pub(crate) async fn service(
        &self,
        cluster_name: &str,
        service: &str,
    ) -> Result<Snapshot, ProviderError> {
        let cluster = self.cluster(cluster_name).await;
        // One refresh per cluster at a time: a reconcile that waited finds what the other read.
        let mut cluster = cluster.lock().await;
        let now = Instant::now();
        let entry = cluster.entries.entry(service.to_owned()).or_insert(Entry {
            read_at: None,
            service: None,
            scaling_read_at: None,
            scaling: None,
        });
        // Each half is read again on its own schedule: the service when it is old or moving,
        // its scaling when old.
        let service_fresh =
            Entry::fresh(entry.read_at, now, self.max_age) && entry.snapshot().steady();
        let scaling_fresh = Entry::fresh(entry.scaling_read_at, now, self.max_age);
        if !service_fresh {
            let batch = oldest_first(&cluster, service, BATCH, |e| e.read_at);
            let described = self.read_services(cluster_name, &batch).await?;
            let now = Instant::now();
            for (name, observed) in batch.iter().zip(described) {
                if let Some(entry) = cluster.entries.get_mut(name) {
                    entry.read_at = Some(now);
                    entry.service = observed;
                }
            }
        }
        if !scaling_fresh {
            let batch = oldest_first(&cluster, service, SCALING_BATCH, |e| e.scaling_read_at);
            let scaling = self.read_scaling(cluster_name, &batch).await?;
            let now = Instant::now();
            for (name, observed) in batch.iter().zip(scaling) {
                if let Some(entry) = cluster.entries.get_mut(name) {
                    entry.scaling_read_at = Some(now);
                    entry.scaling = observed;
                }
            }
        }
        cluster
            .entries
            .get(service)
            .map(Entry::snapshot)
            .ok_or_else(|| ProviderError::Transient {
                operation: "DescribeServices",
                message: format!("{service} was not in the answer"),
            })
    }

    /// Reads `names` of `cluster` now, in one `DescribeServices`.
    async fn read_services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<Vec<Option<ObservedService>>, ProviderError> {
        let described = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(names.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
            .map_err(|e| classify("DescribeServices", &e))?;
        let services: HashMap<&str, &aws_sdk_ecs::types::Service> = described
            .services()
            .iter()
            .filter_map(|s| Some((s.service_name()?, s)))
            .collect();
        Ok(names
            .iter()
            .map(|name| {
                services
                    .get(name.as_str())
                    .map(|s| observed_service(s))
                    .filter(|s| s.status != "INACTIVE")
            })
            .collect())
    }

    /// Reads the scalable targets and Ferry's policies of `names` of `cluster` now: one call of
    /// each kind, unless AWS pages the answer.
    async fn read_scaling(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<Vec<Option<ObservedScaling>>, ProviderError> {
        let page = i32::try_from(SCALING_BATCH).unwrap_or(i32::MAX);
        let ids: Vec<String> = names
            .iter()
            .map(|n| scaling_resource_id(cluster, n))
            .collect();
        let targets: Vec<_> = self
            .scaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .set_resource_ids(Some(ids.clone()))
            .max_results(page)
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| classify("DescribeScalableTargets", &e))?;
        let targets: HashMap<&str, (i32, i32)> = targets
            .iter()
            .map(|t| (t.resource_id(), (t.min_capacity(), t.max_capacity())))
            .collect();
        // Policy names are per service, so another cluster's service of the same name may
        // answer too: matched by resource ID below.
        let policy_names: Vec<String> =
            names.iter().map(|n| crate::build::policy_name(n)).collect();
        let policies: Vec<_> = self
            .scaling
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Ecs)
            .set_policy_names(Some(policy_names))
            .max_results(page)
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| classify("DescribeScalingPolicies", &e))?;
        let policies: HashMap<&str, ObservedPolicy> = policies
            .iter()
            .filter_map(|p| Some((p.resource_id(), observed_policy(p)?)))
            .collect();
        Ok(ids
            .iter()
            .map(|id| {
                targets.get(id.as_str()).map(|&(min, max)| ObservedScaling {
                    min,
                    max,
                    policy: policies.get(id.as_str()).cloned(),
                })
            })
            .collect())
    }

    /// Forgets what was read of `service`, after Ferry wrote to it.
    pub(crate) async fn invalidate(&self, cluster: &str, service: &str) {
        let cluster = self.cluster(cluster).await;
        if let Some(entry) = cluster.lock().await.entries.get_mut(service) {
            entry.read_at = None;
            entry.scaling_read_at = None;
        }
    }

    /// Stops refreshing `service` along with the others (it was deleted or released).
    pub(crate) async fn forget(&self, cluster: &str, service: &str) {
        let cluster = self.cluster(cluster).await;
        cluster.lock().await.entries.remove(service);
    }

    /// A task definition revision with its tags; read once, as revisions never change.
    pub(crate) async fn task_definition(
        &self,
        arn: &str,
    ) -> Result<ObservedTaskDefinition, ProviderError> {
        if let Some(known) = self.task_definitions.lock().await.get(arn) {
            return Ok(known.clone());
        }
        let answer = self
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|e| classify("DescribeTaskDefinition", &e))?;
        let definition = answer.task_definition();
        let observed = ObservedTaskDefinition {
            arn: definition
                .and_then(|d| d.task_definition_arn())
                .unwrap_or(arn)
                .to_owned(),
            family: definition
                .and_then(|d| d.family())
                .unwrap_or_default()
                .to_owned(),
            revision: definition.map_or(0, aws_sdk_ecs::types::TaskDefinition::revision),
            tags: ecs_tags(answer.tags()),
        };
        let mut cache = self.task_definitions.lock().await;
        if cache.len() >= TASK_DEFINITION_CACHE {
            cache.clear();
        }
        cache.insert(arn.to_owned(), observed.clone());
        Ok(observed)
    }
}

/// `service` and up to `size - 1` other known services of `cluster`, never read first and then
/// those read longest ago by `read_at`.
fn oldest_first(
    cluster: &Cluster,
    service: &str,
    size: usize,
    read_at: impl Fn(&Entry) -> Option<Instant>,
) -> Vec<String> {
    let mut others: Vec<(Option<Instant>, &String)> = cluster
        .entries
        .iter()
        .filter(|(name, _)| name.as_str() != service)
        .map(|(name, e)| (read_at(e), name))
        .collect();
    others.sort();
    let mut batch = vec![service.to_owned()];
    batch.extend(
        others
            .into_iter()
            .take(size.saturating_sub(1))
            .map(|(_, name)| name.clone()),
    );
    batch
}

pub(crate) fn ecs_tags(tags: &[aws_sdk_ecs::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// The facts `build::diff` and `build::readiness` need, from ECS's description.
pub(crate) fn observed_service(s: &aws_sdk_ecs::types::Service) -> ObservedService {
    let network = s
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration());
    let primary = s
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"));
    ObservedService {
        arn: s.service_arn().unwrap_or_default().to_owned(),
        name: s.service_name().unwrap_or_default().to_owned(),
        status: s.status().unwrap_or_default().to_owned(),
        task_definition: s.task_definition().unwrap_or_default().to_owned(),
        desired_count: s.desired_count(),
        running_count: s.running_count(),
        pending_count: s.pending_count(),
        rollout: primary.map(rollout),
        // ECS lists deployments newest first.
        failed_rollout: s
            .deployments()
            .iter()
            .filter(|d| d.status() != Some("PRIMARY"))
            .find(|d| {
                d.rollout_state() == Some(&aws_sdk_ecs::types::DeploymentRolloutState::Failed)
            })
            .map(rollout),
        launch_type: s.launch_type().map(|l| l.as_str().to_owned()),
        capacity_providers: s
            .capacity_provider_strategy()
            .iter()
            .map(|c| c.capacity_provider().to_owned())
            .collect(),
        platform_version: s.platform_version().map(str::to_owned),
        subnets: network.map(|n| n.subnets().to_vec()).unwrap_or_default(),
        security_groups: network
            .map(|n| n.security_groups().to_vec())
            .unwrap_or_default(),
        assign_public_ip: network
            .and_then(|n| n.assign_public_ip())
            .map(|a| a.as_str() == "ENABLED"),
        target_group_arns: s
            .load_balancers()
            .iter()
            .filter_map(|l| l.target_group_arn().map(str::to_owned))
            .collect(),
        tags: ecs_tags(s.tags()),
        events: s
            .events()
            .iter()
            .take(5)
            .filter_map(|e| e.message().map(str::to_owned))
            .collect(),
    }
}

fn rollout(d: &aws_sdk_ecs::types::Deployment) -> Rollout {
    Rollout {
        state: d
            .rollout_state()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        reason: d.rollout_state_reason().map(str::to_owned),
        task_definition: d.task_definition().unwrap_or_default().to_owned(),
    }
}

fn observed_policy(
    p: &aws_sdk_applicationautoscaling::types::ScalingPolicy,
) -> Option<ObservedPolicy> {
    let tracking = p.target_tracking_scaling_policy_configuration()?;
    let metric = tracking.predefined_metric_specification();
    Some(ObservedPolicy {
        name: p.policy_name().to_owned(),
        metric: metric
            .map(|m| m.predefined_metric_type().as_str().to_owned())
            .unwrap_or_default(),
        target_value: tracking.target_value(),
        scale_in_cooldown: tracking.scale_in_cooldown(),
        resource_label: metric.and_then(|m| m.resource_label().map(str::to_owned)),
    })
}
