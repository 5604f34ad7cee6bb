//! The price table as data: `crates/core/prices.yaml`, embedded in the binary, overlaid entry by
//! entry by a user's file (`ferry cost --prices`) or ConfigMap (`ferry controller
//! --prices-configmap`). Every entry names its source and the date it was read, and the table
//! is checked when it is loaded, so an estimate never multiplies by a negative or missing price.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The table shipped with Ferry.
pub const EMBEDDED_YAML: &str = include_str!("../../prices.yaml");

/// Why a price table cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    /// Not YAML, or not shaped like a price table (an unknown field, a word for a number).
    #[error("{origin}: not a price table: {message}")]
    Syntax {
        /// Where the table came from (a file, a ConfigMap).
        origin: String,
        /// What the parser said.
        message: String,
    },
    /// Shaped like a table, but a field is missing or out of range.
    #[error("{origin}: {}", .problems.join("; "))]
    Invalid {
        /// Where the table came from.
        origin: String,
        /// `field: what is wrong`, one per problem.
        problems: Vec<String>,
    },
}

/// Every price Ferry knows, per provider, region and option.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriceTable {
    /// AWS Fargate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fargate: Vec<FargatePrice>,
    /// Google Cloud Run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cloud_run: Vec<CloudRunPrice>,
    /// Knative: the cluster's own nodes, as the user prices them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub knative: Vec<KnativePrice>,
}

/// A Fargate price option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FargateOption {
    /// Linux on x86_64, on-demand.
    LinuxX86,
    /// Linux on ARM64 (Graviton), on-demand.
    LinuxArm,
    /// Windows on x86_64, on-demand (vCPU price including the OS licence).
    WindowsX86,
    /// Fargate Spot: a discount on the on-demand price.
    Spot,
}

impl FargateOption {
    /// The name written in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            FargateOption::LinuxX86 => "linux-x86",
            FargateOption::LinuxArm => "linux-arm",
            FargateOption::WindowsX86 => "windows-x86",
            FargateOption::Spot => "spot",
        }
    }
}

/// One Fargate entry.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FargatePrice {
    /// AWS region, e.g. `us-east-1`.
    #[serde(default)]
    pub region: String,
    /// Which option this entry prices.
    pub option: FargateOption,
    /// USD per vCPU-hour (on-demand options).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu_hour: Option<f64>,
    /// USD per GB-hour of memory (on-demand options).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gb_hour: Option<f64>,
    /// USD per GB-hour of ephemeral storage above the included 20 GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage_gb_hour: Option<f64>,
    /// Fraction off the on-demand vCPU and memory price (`spot`), 0 to below 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<f64>,
    /// The page (or invoice, or reasoning) the figures come from.
    #[serde(default)]
    pub source: String,
    /// When they were read from it, `YYYY-MM-DD`.
    #[serde(default)]
    pub read: String,
    /// Anything a reader of an estimate should know about these figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A Cloud Run billing option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloudRunOption {
    /// CPU only while serving requests (`cpuIdle: true`), plus a fee per request.
    RequestBased,
    /// CPU always allocated (`cpuIdle: false`): every instance's whole life, no request fee.
    InstanceBased,
}

impl CloudRunOption {
    /// The name written in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            CloudRunOption::RequestBased => "request-based",
            CloudRunOption::InstanceBased => "instance-based",
        }
    }
}

/// A monthly free tier, per billing account.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FreeTier {
    /// Free vCPU-seconds per month.
    #[serde(default)]
    pub vcpu_seconds: f64,
    /// Free GiB-seconds per month.
    #[serde(default)]
    pub gib_seconds: f64,
    /// Free requests per month (request-based billing only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<f64>,
}

/// One Cloud Run entry.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudRunPrice {
    /// Google Cloud region, e.g. `us-central1`.
    #[serde(default)]
    pub region: String,
    /// Which billing this entry prices.
    pub option: CloudRunOption,
    /// USD per vCPU-second while billed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu_second: Option<f64>,
    /// USD per GiB-second while billed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gib_second: Option<f64>,
    /// USD per million requests (request-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_million_requests: Option<f64>,
    /// USD per vCPU-second of an idle minimum instance (request-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_vcpu_second: Option<f64>,
    /// USD per GiB-second of an idle minimum instance (request-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_gib_second: Option<f64>,
    /// The monthly free tier of this billing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_tier: Option<FreeTier>,
    /// The page (or invoice, or reasoning) the figures come from.
    #[serde(default)]
    pub source: String,
    /// When they were read from it, `YYYY-MM-DD`.
    #[serde(default)]
    pub read: String,
    /// Anything a reader of an estimate should know about these figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A Knative price option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KnativeOption {
    /// The cluster's nodes, priced per vCPU-hour and GB-hour of what pods request.
    Nodes,
}

/// One Knative entry: the user's own node price.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KnativePrice {
    /// A label for the cluster, e.g. `prod-eks`.
    #[serde(default)]
    pub region: String,
    /// Always `nodes`.
    pub option: KnativeOption,
    /// USD per vCPU-hour a pod requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu_hour: Option<f64>,
    /// USD per GB-hour (GiB) of memory a pod requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gb_hour: Option<f64>,
    /// The page (or invoice, or reasoning) the figures come from.
    #[serde(default)]
    pub source: String,
    /// When they were read from it, `YYYY-MM-DD`.
    #[serde(default)]
    pub read: String,
    /// Anything a reader of an estimate should know about these figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An entry chosen for an estimate, with whether it stands in for a region the table lacks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Chosen<'a, T> {
    /// The entry.
    pub entry: &'a T,
    /// The region asked for, when the table had no prices for it and another region's were used.
    pub instead_of: Option<&'a str>,
}

impl PriceTable {
    /// Parses and checks a table; `origin` names it in errors (a file, a ConfigMap).
    pub fn parse(origin: &str, text: &str) -> Result<Self, PriceError> {
        let table: PriceTable = serde_saphyr::from_str(text).map_err(|e| PriceError::Syntax {
            origin: origin.to_owned(),
            message: e.to_string().lines().next().unwrap_or_default().to_owned(),
        })?;
        table.check(origin)?;
        Ok(table)
    }

    /// The table shipped with Ferry (`crates/core/prices.yaml`), parsed once.
    pub fn embedded() -> Result<Self, PriceError> {
        static EMBEDDED: OnceLock<Result<PriceTable, PriceError>> = OnceLock::new();
        EMBEDDED
            .get_or_init(|| PriceTable::parse("prices.yaml (embedded)", EMBEDDED_YAML))
            .clone()
    }

    /// This table with `other`'s entries on top: an entry of `other` replaces the one with the
    /// same provider, region and option, and the rest are added.
    #[must_use]
    pub fn overlay(mut self, other: PriceTable) -> Self {
        fn merge<T>(base: &mut Vec<T>, new: Vec<T>, same: impl Fn(&T, &T) -> bool) {
            for entry in new {
                match base.iter_mut().find(|e| same(e, &entry)) {
                    Some(existing) => *existing = entry,
                    None => base.push(entry),
                }
            }
        }
        merge(&mut self.fargate, other.fargate, |a, b| {
            a.region == b.region && a.option == b.option
        });
        merge(&mut self.cloud_run, other.cloud_run, |a, b| {
            a.region == b.region && a.option == b.option
        });
        merge(&mut self.knative, other.knative, |a, b| {
            a.region == b.region && a.option == b.option
        });
        self
    }

    /// The Fargate entry for `option` in `region`, or in the table's first Fargate region when
    /// it has none for `region`.
    pub fn fargate<'a>(
        &'a self,
        region: Option<&'a str>,
        option: FargateOption,
    ) -> Option<Chosen<'a, FargatePrice>> {
        choose(&self.fargate, region, |e| (&e.region, e.option == option))
    }

    /// The Cloud Run entry for `option`, chosen by region as [`Self::fargate`] does.
    pub fn cloud_run<'a>(
        &'a self,
        region: Option<&'a str>,
        option: CloudRunOption,
    ) -> Option<Chosen<'a, CloudRunPrice>> {
        choose(&self.cloud_run, region, |e| (&e.region, e.option == option))
    }

    /// The Knative entry for `region` (a cluster label), or the first one.
    pub fn knative<'a>(&'a self, region: Option<&'a str>) -> Option<Chosen<'a, KnativePrice>> {
        choose(&self.knative, region, |e| (&e.region, true))
    }

    fn check(&self, origin: &str) -> Result<(), PriceError> {
        let mut problems = Vec::new();
        for (i, e) in self.fargate.iter().enumerate() {
            let at = format!("fargate[{i}]");
            common(&mut problems, &at, &e.region, &e.source, &e.read);
            let fields = [
                ("vcpuHour", e.vcpu_hour),
                ("gbHour", e.gb_hour),
                ("ephemeralStorageGbHour", e.ephemeral_storage_gb_hour),
                ("discount", e.discount),
            ];
            let (required, allowed): (&[&str], &[&str]) = match e.option {
                FargateOption::Spot => (&["discount"], &["discount"]),
                _ => (
                    &["vcpuHour", "gbHour"],
                    &["vcpuHour", "gbHour", "ephemeralStorageGbHour"],
                ),
            };
            amounts(
                &mut problems,
                &at,
                e.option.as_str(),
                &fields,
                required,
                allowed,
            );
            if let Some(d) = e.discount
                && d.is_finite()
                && d >= 1.0
            {
                problems.push(format!(
                    "{at}.discount: a fraction off the on-demand price, below 1 (0.7 is 70 % \
                     off); got {d}"
                ));
            }
        }
        for (i, e) in self.cloud_run.iter().enumerate() {
            let at = format!("cloudRun[{i}]");
            common(&mut problems, &at, &e.region, &e.source, &e.read);
            let fields = [
                ("vcpuSecond", e.vcpu_second),
                ("gibSecond", e.gib_second),
                ("perMillionRequests", e.per_million_requests),
                ("idleVcpuSecond", e.idle_vcpu_second),
                ("idleGibSecond", e.idle_gib_second),
            ];
            let request_based: &[&str] = &[
                "vcpuSecond",
                "gibSecond",
                "perMillionRequests",
                "idleVcpuSecond",
                "idleGibSecond",
            ];
            let instance_based: &[&str] = &["vcpuSecond", "gibSecond"];
            let listed = match e.option {
                CloudRunOption::RequestBased => request_based,
                CloudRunOption::InstanceBased => instance_based,
            };
            amounts(
                &mut problems,
                &at,
                e.option.as_str(),
                &fields,
                listed,
                listed,
            );
            if let Some(free) = &e.free_tier {
                let at = format!("{at}.freeTier");
                let fields = [
                    ("vcpuSeconds", Some(free.vcpu_seconds)),
                    ("gibSeconds", Some(free.gib_seconds)),
                    ("requests", free.requests),
                ];
                let allowed: &[&str] = match e.option {
                    CloudRunOption::RequestBased => &["vcpuSeconds", "gibSeconds", "requests"],
                    CloudRunOption::InstanceBased => &["vcpuSeconds", "gibSeconds"],
                };
                amounts(&mut problems, &at, e.option.as_str(), &fields, &[], allowed);
            }
        }
        for (i, e) in self.knative.iter().enumerate() {
            let at = format!("knative[{i}]");
            common(&mut problems, &at, &e.region, &e.source, &e.read);
            let fields = [("vcpuHour", e.vcpu_hour), ("gbHour", e.gb_hour)];
            let listed: &[&str] = &["vcpuHour", "gbHour"];
            amounts(&mut problems, &at, "nodes", &fields, listed, listed);
        }
        duplicates(
            &mut problems,
            "fargate",
            self.fargate.iter().map(|e| (&e.region, e.option.as_str())),
        );
        duplicates(
            &mut problems,
            "cloudRun",
            self.cloud_run
                .iter()
                .map(|e| (&e.region, e.option.as_str())),
        );
        duplicates(
            &mut problems,
            "knative",
            self.knative.iter().map(|e| (&e.region, "nodes")),
        );
        if problems.is_empty() {
            Ok(())
        } else {
            Err(PriceError::Invalid {
                origin: origin.to_owned(),
                problems,
            })
        }
    }
}

/// The entry `matches` accepts in `region` when the table has any entry for that region,
/// otherwise in the first region listed.
fn choose<'a, T>(
    entries: &'a [T],
    region: Option<&'a str>,
    matches: impl Fn(&T) -> (&String, bool),
) -> Option<Chosen<'a, T>> {
    let known = region.filter(|r| entries.iter().any(|e| matches(e).0 == r));
    let (use_region, instead_of) = match (known, region) {
        (Some(r), _) => (r, None),
        (None, asked) => (entries.first().map(|e| matches(e).0.as_str())?, asked),
    };
    entries
        .iter()
        .find(|e| {
            let (r, ok) = matches(e);
            ok && r == use_region
        })
        .map(|entry| Chosen { entry, instead_of })
}

fn common(problems: &mut Vec<String>, at: &str, region: &str, source: &str, read: &str) {
    if region.trim().is_empty() {
        problems.push(format!(
            "{at}.region: required (e.g. us-east-1; for knative, a label for the cluster)"
        ));
    }
    if source.trim().is_empty() {
        problems.push(format!(
            "{at}.source: required: where the prices come from (the price page's URL)"
        ));
    }
    if !is_date(read) {
        problems.push(format!(
            "{at}.read: required: the date the prices were read, YYYY-MM-DD; got {read:?}"
        ));
    }
}

/// Each listed amount present, finite and not negative; `required` ones present; none outside
/// `allowed`.
fn amounts(
    problems: &mut Vec<String>,
    at: &str,
    option: &str,
    fields: &[(&str, Option<f64>)],
    required: &[&str],
    allowed: &[&str],
) {
    for (name, value) in fields {
        let problem = match value {
            None if required.contains(name) => format!("{at}.{name}: required for option {option}"),
            Some(_) if !allowed.contains(name) => format!(
                "{at}.{name}: does not apply to option {option}; it takes {}",
                allowed.join(", ")
            ),
            Some(v) if !v.is_finite() || *v < 0.0 => {
                format!("{at}.{name}: must be a number of 0 or more; got {v}")
            }
            _ => continue,
        };
        problems.push(problem);
    }
}

fn duplicates<'a>(
    problems: &mut Vec<String>,
    provider: &str,
    keys: impl Iterator<Item = (&'a String, &'static str)>,
) {
    let keys: Vec<_> = keys.collect();
    for (i, key) in keys.iter().enumerate() {
        if let Some(first) = keys[..i].iter().position(|k| k == key) {
            problems.push(format!(
                "{provider}[{i}]: region {} option {} is already priced by {provider}[{first}]",
                key.0, key.1
            ));
        }
    }
}

/// `YYYY-MM-DD` with a plausible month and day.
fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return false;
    };
    let number = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    matches!(
        (number(year, 4), number(month, 2), number(day, 2)),
        (Some(_), Some(1..=12), Some(1..=31))
    )
}
