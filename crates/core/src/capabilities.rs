//! The capability table: what each portable field means on each provider. The rows (the
//! portable features) are core's; each backend crate gives its column ([`Rules::support`]).
//! The table drives the refusals in [`crate::validate`] (a field a provider does not support is
//! refused with the provider's note) and `ferry capabilities`.
//!
//! [`Rules::support`]: crate::backend::Rules::support

use ferry_api::{Provider, ScalingMetric, ServerlessJobSpec, ServerlessServiceSpec};
use serde::ser::SerializeMap as _;
use serde::{Serialize, Serializer};

use crate::backend::Catalog;

/// A portable feature, one row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Feature {
    /// More than one container.
    Sidecars,
    /// `containers[].port`.
    Port,
    /// `containers[].env[].secret`.
    EnvSecret,
    /// `containers[].resources.cpu`.
    Cpu,
    /// `containers[].resources.memory`.
    Memory,
    /// `containers[].resources.ephemeralStorage`.
    EphemeralStorage,
    /// `containers[].resources.gpu`.
    Gpu,
    /// `containers[].resources.gpu.type`.
    GpuType,
    /// `containers[].probes.startup`.
    StartupProbe,
    /// `containers[].probes.readiness`.
    ReadinessProbe,
    /// `containers[].probes.liveness`.
    LivenessProbe,
    /// `spec.concurrency`.
    Concurrency,
    /// `spec.timeoutSeconds`.
    TimeoutSeconds,
    /// `spec.scaling.minInstances: 0`.
    ScaleToZero,
    /// `spec.scaling.maxInstances`.
    MaxInstances,
    /// `spec.scaling.initialInstances`.
    InitialInstances,
    /// `spec.scaling.metric: concurrency`.
    MetricConcurrency,
    /// `spec.scaling.metric: rps`.
    MetricRps,
    /// `spec.scaling.metric: cpu`.
    MetricCpu,
    /// `spec.scaling.metric: memory`.
    MetricMemory,
    /// `spec.scaling.target`.
    ScalingTarget,
    /// `spec.scaling.scaleDownDelaySeconds`.
    ScaleDownDelay,
    /// `spec.ingress`.
    Ingress,
    /// `spec.traffic` beyond "all to the latest revision".
    TrafficSplit,
    /// `spec.traffic[].tag`.
    TrafficTags,
    /// `spec.deletionPolicy`.
    DeletionPolicy,
    /// `spec.providerConfigRef`.
    ProviderConfigRef,
    /// A change of `spec.provider` (or of the account or region) to or from this provider.
    Migration,
    /// `spec.volumes[].secret`.
    VolumeSecret,
    /// `spec.volumes[].emptyDir`.
    VolumeEmptyDir,
    /// `spec.volumes[].nfs`.
    VolumeNfs,
    /// `spec.volumes[].efs`.
    VolumeEfs,
    /// `spec.volumes[].gcs`.
    VolumeGcs,
    /// `spec.volumes[].azureFile`.
    VolumeAzureFile,
    /// `spec.containers[].volumeMounts[].subPath`.
    VolumeSubPath,
}

impl Feature {
    /// Every row, in the order documentation lists them.
    pub const ALL: [Feature; 35] = [
        Feature::Sidecars,
        Feature::Port,
        Feature::EnvSecret,
        Feature::Cpu,
        Feature::Memory,
        Feature::EphemeralStorage,
        Feature::Gpu,
        Feature::GpuType,
        Feature::StartupProbe,
        Feature::ReadinessProbe,
        Feature::LivenessProbe,
        Feature::Concurrency,
        Feature::TimeoutSeconds,
        Feature::ScaleToZero,
        Feature::MaxInstances,
        Feature::InitialInstances,
        Feature::MetricConcurrency,
        Feature::MetricRps,
        Feature::MetricCpu,
        Feature::MetricMemory,
        Feature::ScalingTarget,
        Feature::ScaleDownDelay,
        Feature::Ingress,
        Feature::TrafficSplit,
        Feature::TrafficTags,
        Feature::DeletionPolicy,
        Feature::ProviderConfigRef,
        Feature::Migration,
        Feature::VolumeSecret,
        Feature::VolumeEmptyDir,
        Feature::VolumeNfs,
        Feature::VolumeEfs,
        Feature::VolumeGcs,
        Feature::VolumeAzureFile,
        Feature::VolumeSubPath,
    ];

    /// The field, as `kubectl explain` spells it.
    pub fn field(self) -> &'static str {
        match self {
            Feature::Sidecars => "spec.containers",
            Feature::Port => "spec.containers[].port",
            Feature::EnvSecret => "spec.containers[].env[].secret",
            Feature::Cpu => "spec.containers[].resources.cpu",
            Feature::Memory => "spec.containers[].resources.memory",
            Feature::EphemeralStorage => "spec.containers[].resources.ephemeralStorage",
            Feature::Gpu => "spec.containers[].resources.gpu",
            Feature::GpuType => "spec.containers[].resources.gpu.type",
            Feature::StartupProbe => "spec.containers[].probes.startup",
            Feature::ReadinessProbe => "spec.containers[].probes.readiness",
            Feature::LivenessProbe => "spec.containers[].probes.liveness",
            Feature::Concurrency => "spec.concurrency",
            Feature::TimeoutSeconds => "spec.timeoutSeconds",
            Feature::ScaleToZero => "spec.scaling.minInstances",
            Feature::MaxInstances => "spec.scaling.maxInstances",
            Feature::InitialInstances => "spec.scaling.initialInstances",
            Feature::MetricConcurrency => "spec.scaling.metric: concurrency",
            Feature::MetricRps => "spec.scaling.metric: rps",
            Feature::MetricCpu => "spec.scaling.metric: cpu",
            Feature::MetricMemory => "spec.scaling.metric: memory",
            Feature::ScalingTarget => "spec.scaling.target",
            Feature::ScaleDownDelay => "spec.scaling.scaleDownDelaySeconds",
            Feature::Ingress => "spec.ingress",
            Feature::TrafficSplit => "spec.traffic",
            Feature::TrafficTags => "spec.traffic[].tag",
            Feature::DeletionPolicy => "spec.deletionPolicy",
            Feature::ProviderConfigRef => "spec.providerConfigRef",
            Feature::Migration => "spec.migration",
            Feature::VolumeSecret => "spec.volumes[].secret",
            Feature::VolumeEmptyDir => "spec.volumes[].emptyDir",
            Feature::VolumeNfs => "spec.volumes[].nfs",
            Feature::VolumeEfs => "spec.volumes[].efs",
            Feature::VolumeGcs => "spec.volumes[].gcs",
            Feature::VolumeAzureFile => "spec.volumes[].azureFile",
            Feature::VolumeSubPath => "spec.containers[].volumeMounts[].subPath",
        }
    }

    /// What it is, in a few words.
    pub fn title(self) -> &'static str {
        match self {
            Feature::Sidecars => "Containers per instance",
            Feature::Port => "Serving port",
            Feature::EnvSecret => "Secret environment variables",
            Feature::Cpu => "CPU",
            Feature::Memory => "Memory",
            Feature::EphemeralStorage => "Ephemeral storage",
            Feature::Gpu => "GPUs",
            Feature::GpuType => "GPU model",
            Feature::StartupProbe => "Startup probe",
            Feature::ReadinessProbe => "Readiness probe",
            Feature::LivenessProbe => "Liveness probe",
            Feature::Concurrency => "Requests in flight per instance",
            Feature::TimeoutSeconds => "Request timeout",
            Feature::ScaleToZero => "Scale to zero (minInstances: 0)",
            Feature::MaxInstances => "Most instances",
            Feature::InitialInstances => "Instances at start",
            Feature::MetricConcurrency => "Scale on requests in flight",
            Feature::MetricRps => "Scale on requests per second",
            Feature::MetricCpu => "Scale on CPU utilization",
            Feature::MetricMemory => "Scale on memory utilization",
            Feature::ScalingTarget => "Target per instance",
            Feature::ScaleDownDelay => "Delay before scaling down",
            Feature::Ingress => "public or internal",
            Feature::TrafficSplit => "Traffic split between revisions",
            Feature::TrafficTags => "Tagged URLs",
            Feature::DeletionPolicy => "Delete or orphan on delete",
            Feature::ProviderConfigRef => "Cloud account and region",
            Feature::Migration => "Moving to or from another provider without downtime",
            Feature::VolumeSecret => "Secret files",
            Feature::VolumeEmptyDir => "Scratch directory (emptyDir)",
            Feature::VolumeNfs => "NFS export",
            Feature::VolumeEfs => "Amazon EFS file system",
            Feature::VolumeGcs => "Cloud Storage bucket",
            Feature::VolumeAzureFile => "Azure Files share",
            Feature::VolumeSubPath => "Mount a directory of a volume",
        }
    }
}

/// How well a provider supports a feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Level {
    /// Fully, with the meaning the portable API gives it.
    Yes,
    /// Within limits given in the note.
    Partial,
    /// Not at all: the field is refused, with the note as the reason.
    No,
    /// Not applicable because a feature it depends on is unsupported.
    NotApplicable,
}

/// One cell of the table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Support {
    /// How well.
    pub level: Level,
    /// How it maps, its limits, or why not and what to do instead.
    pub note: String,
}

/// Fully supported: `note` says how it maps.
pub fn yes(note: impl Into<String>) -> Support {
    Support {
        level: Level::Yes,
        note: note.into(),
    }
}

/// Supported within the limits `note` gives (checked by the provider's rules).
pub fn partial(note: impl Into<String>) -> Support {
    Support {
        level: Level::Partial,
        note: note.into(),
    }
}

/// Refused: `note` says why and what to do instead.
pub fn no(note: impl Into<String>) -> Support {
    Support {
        level: Level::No,
        note: note.into(),
    }
}

/// Meaningless here because what it depends on is unsupported (`note` says which).
pub fn not_applicable(note: impl Into<String>) -> Support {
    Support {
        level: Level::NotApplicable,
        note: note.into(),
    }
}

/// One row of the table: a feature and each provider's cell, in registry order. `F` is
/// [`Feature`] for a ServerlessService's table, [`JobFeature`] for a ServerlessJob's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capability<F = Feature> {
    /// Which feature.
    pub feature: F,
    /// The field, as `kubectl explain` spells it.
    pub field: &'static str,
    /// What it is, in a few words.
    pub title: &'static str,
    /// Each provider's cell.
    pub cells: Vec<(Provider, Support)>,
}

impl<F> Capability<F> {
    /// The cell for `provider`, when the table has its column.
    pub fn support(&self, provider: Provider) -> Option<&Support> {
        self.cells
            .iter()
            .find(|(p, _)| *p == provider)
            .map(|(_, s)| s)
    }
}

/// `{"feature": ..., "field": ..., "title": ..., "knative": {...}, "fargate": {...}}`: one key
/// per provider, in registry order.
impl<F: Serialize> Serialize for Capability<F> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3 + self.cells.len()))?;
        map.serialize_entry("feature", &self.feature)?;
        map.serialize_entry("field", self.field)?;
        map.serialize_entry("title", self.title)?;
        for (provider, support) in &self.cells {
            map.serialize_entry(provider.as_str(), support)?;
        }
        map.end()
    }
}

/// A ServerlessJob feature, one row of the job table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum JobFeature {
    /// A run per generation of the spec.
    Run,
    /// `spec.taskCount`.
    TaskCount,
    /// `spec.parallelism`.
    Parallelism,
    /// `spec.maxRetries`.
    MaxRetries,
    /// `spec.timeoutSeconds`.
    TimeoutSeconds,
    /// `spec.schedule`.
    Schedule,
    /// `spec.timeZone`.
    TimeZone,
    /// `spec.concurrencyPolicy`.
    ConcurrencyPolicy,
    /// `spec.suspend`.
    Suspend,
    /// `spec.deletionPolicy`.
    DeletionPolicy,
}

impl JobFeature {
    /// Every row, in the order documentation lists them.
    pub const ALL: [JobFeature; 10] = [
        JobFeature::Run,
        JobFeature::TaskCount,
        JobFeature::Parallelism,
        JobFeature::MaxRetries,
        JobFeature::TimeoutSeconds,
        JobFeature::Schedule,
        JobFeature::TimeZone,
        JobFeature::ConcurrencyPolicy,
        JobFeature::Suspend,
        JobFeature::DeletionPolicy,
    ];

    /// The field, as `kubectl explain` spells it.
    pub fn field(self) -> &'static str {
        match self {
            JobFeature::Run => "spec (a run per generation)",
            JobFeature::TaskCount => "spec.taskCount",
            JobFeature::Parallelism => "spec.parallelism",
            JobFeature::MaxRetries => "spec.maxRetries",
            JobFeature::TimeoutSeconds => "spec.timeoutSeconds",
            JobFeature::Schedule => "spec.schedule",
            JobFeature::TimeZone => "spec.timeZone",
            JobFeature::ConcurrencyPolicy => "spec.concurrencyPolicy",
            JobFeature::Suspend => "spec.suspend",
            JobFeature::DeletionPolicy => "spec.deletionPolicy",
        }
    }

    /// What it is, in a few words.
    pub fn title(self) -> &'static str {
        match self {
            JobFeature::Run => "What a run is",
            JobFeature::TaskCount => "Tasks per run",
            JobFeature::Parallelism => "Tasks at once",
            JobFeature::MaxRetries => "Retries per task",
            JobFeature::TimeoutSeconds => "Time limit per attempt",
            JobFeature::Schedule => "Cron schedule",
            JobFeature::TimeZone => "Time zone of the schedule",
            JobFeature::ConcurrencyPolicy => "A run due while one runs",
            JobFeature::Suspend => "No new runs",
            JobFeature::DeletionPolicy => "Delete or orphan on delete",
        }
    }
}

/// The job table for the backends of `catalog` that run jobs, in the order documentation lists
/// the rows.
pub fn job_table(catalog: &Catalog) -> Vec<Capability<JobFeature>> {
    JobFeature::ALL
        .iter()
        .map(|&feature| Capability {
            feature,
            field: feature.field(),
            title: feature.title(),
            cells: catalog
                .iter()
                .filter(|b| ServerlessJobSpec::PROVIDERS.contains(&b.provider()))
                .map(|b| (b.provider(), b.job_support(feature)))
                .collect(),
        })
        .collect()
}

/// The table for the backends of `catalog`, in the order documentation lists the rows.
pub fn table(catalog: &Catalog) -> Vec<Capability> {
    Feature::ALL
        .iter()
        .map(|&feature| Capability {
            feature,
            field: feature.field(),
            title: feature.title(),
            cells: catalog
                .iter()
                .map(|b| (b.provider(), b.support(feature)))
                .collect(),
        })
        .collect()
}

/// `a, b or c`.
pub fn list<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => items.join(""),
    }
}

/// The row of the volume kind `volume` sets (`None` when it sets no source or several, which
/// validation refuses).
pub fn volume_feature(volume: &ferry_api::Volume) -> Option<Feature> {
    match volume.kind()? {
        "secret" => Some(Feature::VolumeSecret),
        "emptyDir" => Some(Feature::VolumeEmptyDir),
        "nfs" => Some(Feature::VolumeNfs),
        "efs" => Some(Feature::VolumeEfs),
        "gcs" => Some(Feature::VolumeGcs),
        "azureFile" => Some(Feature::VolumeAzureFile),
        _ => None,
    }
}

/// `spec.volumes[i].KIND` for each volume `is_kind` picks.
fn volumes(
    spec: &ServerlessServiceSpec,
    kind: &str,
    is_kind: fn(&ferry_api::Volume) -> bool,
) -> Vec<String> {
    spec.volumes
        .iter()
        .flatten()
        .enumerate()
        .filter(|(_, v)| is_kind(v))
        .map(|(i, _)| format!("spec.volumes[{i}].{kind}"))
        .collect()
}

/// Where `spec` uses `feature`, as field paths; empty when it does not. Only features that some
/// provider refuses need this.
pub fn occurrences(feature: Feature, spec: &ServerlessServiceSpec) -> Vec<String> {
    let containers = |pick: &dyn Fn(&ferry_api::Container) -> Option<&'static str>| {
        spec.containers
            .iter()
            .enumerate()
            .filter_map(|(i, c)| pick(c).map(|leaf| format!("spec.containers[{i}].{leaf}")))
            .collect::<Vec<_>>()
    };
    let scaling = spec.scaling.as_ref();
    let metric_is = |m: ScalingMetric| {
        if scaling.and_then(|s| s.metric) == Some(m) {
            vec!["spec.scaling.metric".to_owned()]
        } else {
            Vec::new()
        }
    };
    let present = |is: bool, field: &str| {
        if is {
            vec![field.to_owned()]
        } else {
            Vec::new()
        }
    };
    match feature {
        Feature::EphemeralStorage => containers(&|c| {
            c.resources
                .as_ref()
                .and_then(|r| r.ephemeral_storage.as_ref())
                .map(|_| "resources.ephemeralStorage")
        }),
        Feature::Gpu => containers(&|c| {
            c.resources
                .as_ref()
                .and_then(|r| r.gpu.as_ref())
                .map(|_| "resources.gpu")
        }),
        Feature::GpuType => containers(&|c| {
            c.resources
                .as_ref()
                .and_then(|r| r.gpu.as_ref())
                .and_then(|g| g.type_.as_ref())
                .map(|_| "resources.gpu.type")
        }),
        Feature::StartupProbe => containers(&|c| {
            c.probes
                .as_ref()
                .and_then(|p| p.startup.as_ref())
                .map(|_| "probes.startup")
        }),
        Feature::ReadinessProbe => containers(&|c| {
            c.probes
                .as_ref()
                .and_then(|p| p.readiness.as_ref())
                .map(|_| "probes.readiness")
        }),
        Feature::Concurrency => present(spec.concurrency.is_some(), "spec.concurrency"),
        Feature::TimeoutSeconds => present(spec.timeout_seconds.is_some(), "spec.timeoutSeconds"),
        Feature::ScaleToZero => present(
            scaling.and_then(|s| s.min_instances) == Some(0),
            "spec.scaling.minInstances",
        ),
        Feature::InitialInstances => present(
            scaling.and_then(|s| s.initial_instances).is_some(),
            "spec.scaling.initialInstances",
        ),
        Feature::ScalingTarget => present(
            scaling.and_then(|s| s.target).is_some(),
            "spec.scaling.target",
        ),
        Feature::ScaleDownDelay => present(
            scaling.and_then(|s| s.scale_down_delay_seconds).is_some(),
            "spec.scaling.scaleDownDelaySeconds",
        ),
        Feature::MetricConcurrency => metric_is(ScalingMetric::Concurrency),
        Feature::MetricRps => metric_is(ScalingMetric::Rps),
        Feature::MetricCpu => metric_is(ScalingMetric::Cpu),
        Feature::MetricMemory => metric_is(ScalingMetric::Memory),
        Feature::TrafficSplit => spec
            .traffic
            .iter()
            .flatten()
            .enumerate()
            .filter(|(_, t)| t.latest_revision != Some(true) || t.tag.is_some())
            .map(|(i, _)| format!("spec.traffic[{i}]"))
            .collect(),
        Feature::ProviderConfigRef => {
            present(spec.provider_config_ref.is_some(), "spec.providerConfigRef")
        }
        Feature::VolumeSecret => volumes(spec, "secret", |v| v.secret.is_some()),
        Feature::VolumeEmptyDir => volumes(spec, "emptyDir", |v| v.empty_dir.is_some()),
        Feature::VolumeNfs => volumes(spec, "nfs", |v| v.nfs.is_some()),
        Feature::VolumeEfs => volumes(spec, "efs", |v| v.efs.is_some()),
        Feature::VolumeGcs => volumes(spec, "gcs", |v| v.gcs.is_some()),
        Feature::VolumeAzureFile => volumes(spec, "azureFile", |v| v.azure_file.is_some()),
        Feature::VolumeSubPath => spec
            .containers
            .iter()
            .enumerate()
            .flat_map(|(i, c)| {
                c.volume_mounts
                    .iter()
                    .flatten()
                    .enumerate()
                    .filter(|(_, m)| m.sub_path.is_some())
                    .map(move |(k, _)| format!("spec.containers[{i}].volumeMounts[{k}].subPath"))
            })
            .collect(),
        Feature::Sidecars
        | Feature::Port
        | Feature::EnvSecret
        | Feature::Cpu
        | Feature::Memory
        | Feature::LivenessProbe
        | Feature::MaxInstances
        | Feature::Ingress
        | Feature::TrafficTags
        | Feature::DeletionPolicy
        | Feature::Migration => Vec::new(),
    }
}
