//! What core asks of a backend: the pure half of its descriptor. Each backend crate implements
//! [`Rules`] for its provider (its validation rules and limits, its cells of the capability
//! table, its cost model and prices); core's validation, capability table and cost comparison
//! call them through the registry the binary builds, and name no provider themselves.
//!
//! A backend's own desired settings (`spec.<provider>` parsed, with its defaults applied) travel
//! in [`Desired::backend`](crate::desired::Desired::backend) as a [`BackendModel`], which only
//! that backend reads back.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use ferry_api::{Provider, ProviderConfigSpec, ScalingMetric, SecretRef, ServerlessServiceSpec};

use crate::capabilities::{Feature, JobFeature, Support};
use crate::cost::prices::PriceRegions;
use crate::cost::{PriceTable, Priced, Shape, Traffic};
use crate::desired::{ContainerModel, ObjectRef, ScalingModel, SecretSource};
use crate::findings::Findings;
use crate::job::JobParts;
use crate::job::cost::RunInput;

/// The pure rules of one provider.
pub trait Rules: Send + Sync {
    /// The provider these rules are for.
    fn provider(&self) -> Provider;

    /// This provider's cell of the capability table's row for `feature`. A [`Level::No`]
    /// cell makes validation refuse every use of the feature with the note as the reason.
    ///
    /// [`Level::No`]: crate::capabilities::Level::No
    fn support(&self, feature: Feature) -> Support;

    /// What `spec.scaling` means when it leaves a field out.
    fn scaling_defaults(&self) -> ScalingDefaults {
        ScalingDefaults::default()
    }

    /// How this provider reads `env[].secret` at `path` (a field path such as
    /// `spec.containers[0].env[1].secret`); refusals go into `findings`.
    fn secret(
        &self,
        findings: &mut Findings,
        path: &str,
        secret: &SecretRef,
        spec: &ServerlessServiceSpec,
    ) -> Option<SecretSource>;

    /// The provider's own rules over the parsed spec, and its settings for the builders.
    /// Returns `None` only after recording an error.
    fn check(
        &self,
        findings: &mut Findings,
        object: &ObjectRef,
        parts: &Parts<'_>,
    ) -> Option<BackendModel>;

    /// This provider's cell of the job table's row for `feature` (`ferry capabilities --kind
    /// job`). Providers without jobs keep the default.
    fn job_support(&self, _feature: JobFeature) -> Support {
        crate::capabilities::no(format!(
            "{} runs no ServerlessJobs yet",
            self.provider().display_name()
        ))
    }

    /// The provider's own rules over a `ServerlessJob` spec, and its settings for the job
    /// builders. Returns `None` only after recording an error. Providers without a
    /// run-to-completion primitive keep the default, which refuses the job.
    fn check_job(
        &self,
        findings: &mut Findings,
        _object: &ObjectRef,
        _parts: &JobParts<'_>,
    ) -> Option<BackendModel> {
        findings.unsupported(
            "spec.provider",
            format!(
                "{} does not run ServerlessJobs yet: use {}",
                self.provider().display_name(),
                ferry_api::ServerlessJobSpec::providers_listed()
            ),
        );
        None
    }

    /// The name of this provider's section of the price table (`fargate`, `cloudRun` ...).
    fn price_section(&self) -> &'static str {
        self.provider().as_str()
    }

    /// This provider's entries of the price table shipped with Ferry: a YAML list, each entry
    /// with its `source` and the date it was `read`.
    fn embedded_prices(&self) -> &'static str;

    /// What is wrong with this provider's entries of a price table, one `section[i].field:
    /// problem` each (region, source and read date are checked for every provider already).
    fn check_prices(&self, entries: &[serde_json::Value]) -> Vec<String>;

    /// What a spec costs a month on this provider under a traffic profile.
    fn estimate(&self, input: &EstimateInput<'_>) -> Priced;

    /// `spec`, moved here from another provider, sized as [`Rules::estimate`] sizes it: what
    /// the check before pricing sees ([`crate::cost::sold`]), so that a size the estimate
    /// rounds up to one the provider sells is checked as billed. The default is the spec as it
    /// is: most estimates price the sizes as written.
    fn as_priced(&self, spec: ServerlessServiceSpec) -> ServerlessServiceSpec {
        spec
    }

    /// How an estimate picks this provider's price entries by region, so that an entry no
    /// estimate can pick is reported ([`crate::cost::prices::unused`]). The default: no object
    /// names a region for this provider ([`Rules::region`] gives none), so the section's first
    /// entry prices everything.
    fn price_regions(&self) -> PriceRegions {
        PriceRegions::FirstEntry
    }

    /// What one run of a `ServerlessJob` costs on this provider: the figure's total
    /// (`Figure::Priced`'s `monthly_usd`) is for ONE run of `input.tasks` tasks of
    /// `input.task_seconds` each. Providers without jobs keep the default, which prices nothing.
    fn estimate_run(&self, _input: &RunInput<'_>) -> Priced {
        Priced::unavailable(
            format!(
                "{} does not run ServerlessJobs",
                self.provider().display_name()
            ),
            Vec::new(),
        )
    }

    /// Where a ProviderConfig makes objects run (its account, region and endpoint), for this
    /// provider: two ProviderConfigs with the same location are one place, so switching an
    /// object between them is a rename rather than a move. `None` when it has no section for
    /// this provider (or the provider needs none).
    fn location(&self, _config: &ProviderConfigSpec) -> Option<String> {
        None
    }

    /// The region an estimate prices in: the spec's own, else the ProviderConfig's (`config`,
    /// the one the service names, when known); `None` takes the price table's first region.
    fn region(
        &self,
        _spec: &ServerlessServiceSpec,
        _config: Option<&ProviderConfigSpec>,
    ) -> Option<String> {
        None
    }
}

/// What a cost estimate reads.
pub struct EstimateInput<'a> {
    /// The spec.
    pub spec: &'a ServerlessServiceSpec,
    /// Its sizes and scaling, parsed.
    pub shape: &'a Shape,
    /// The traffic assumed.
    pub traffic: &'a Traffic,
    /// The prices.
    pub prices: &'a PriceTable,
    /// The region to price in; `None`: the table's first for the provider.
    pub region: Option<&'a str>,
}

/// The backends of a build of Ferry, as core sees them: the rules of every provider the API
/// knows, in the order tables list them ([`Provider::ALL`]). The binary makes it from its
/// registry.
#[derive(Clone)]
pub struct Catalog(Vec<Arc<dyn Rules>>);

/// Why a list of backends does not cover the providers the API knows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// A provider has no backend.
    #[error("no backend for provider {0}")]
    Missing(Provider),
    /// A provider has two.
    #[error("two backends for provider {0}")]
    Twice(Provider),
}

impl Catalog {
    /// A catalog of `rules`: exactly one for each provider the API knows.
    pub fn new(rules: &[Arc<dyn Rules>]) -> Result<Self, CatalogError> {
        let mut by_provider = Vec::with_capacity(Provider::ALL.len());
        for provider in Provider::ALL {
            let mut of = rules.iter().filter(|r| r.provider() == provider);
            match (of.next(), of.next()) {
                (None, _) => return Err(CatalogError::Missing(provider)),
                (Some(one), None) => by_provider.push(Arc::clone(one)),
                (Some(_), Some(_)) => return Err(CatalogError::Twice(provider)),
            }
        }
        Ok(Self(by_provider))
    }

    /// Every provider's rules.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Rules> + Clone {
        self.0.iter().map(AsRef::as_ref)
    }

    /// The rules of `provider` ([`Catalog::new`] made sure there are some).
    pub fn get(&self, provider: Provider) -> &dyn Rules {
        self.0[provider.index()].as_ref()
    }
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(Rules::provider))
            .finish()
    }
}

/// What a provider assumes for `spec.scaling` fields left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScalingDefaults {
    /// `minInstances`.
    pub min_instances: u32,
    /// `metric`.
    pub metric: ScalingMetric,
    /// Whether `maxInstances` defaults to `minInstances` (a fixed count) rather than to the
    /// provider's own limit.
    pub max_is_min: bool,
}

impl Default for ScalingDefaults {
    fn default() -> Self {
        Self {
            min_instances: 0,
            metric: ScalingMetric::Concurrency,
            max_is_min: false,
        }
    }
}

/// What the provider rules read: the spec and the parts already parsed (`None` when parsing
/// them failed and was reported).
pub struct Parts<'a> {
    /// The spec.
    pub spec: &'a ServerlessServiceSpec,
    /// The containers, parsed.
    pub containers: Option<&'a [ContainerModel]>,
    /// Scaling with the provider's defaults.
    pub scaling: Option<&'a ScalingModel>,
    /// `spec.concurrency`, checked.
    pub concurrency: Option<u32>,
}

/// A backend's own desired settings, which only that backend reads back
/// ([`BackendModel::get`]).
#[derive(Clone)]
pub struct BackendModel(Arc<dyn Model>);

/// What a backend model must be: comparable (a desired state is compared with what was
/// built before) and printable.
trait Model: Any + fmt::Debug + Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn equals(&self, other: &dyn Model) -> bool;
}

impl<T: Any + fmt::Debug + PartialEq + Send + Sync> Model for T {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn equals(&self, other: &dyn Model) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
}

impl BackendModel {
    /// Wraps a backend's settings.
    pub fn new<T: Any + fmt::Debug + PartialEq + Send + Sync>(model: T) -> Self {
        Self(Arc::new(model))
    }

    /// The settings, when they are a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref::<T>()
    }
}

impl PartialEq for BackendModel {
    fn eq(&self, other: &Self) -> bool {
        self.0.equals(other.0.as_ref())
    }
}

impl fmt::Debug for BackendModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
