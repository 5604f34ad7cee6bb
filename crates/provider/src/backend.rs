//! One value per provider: the [`Backend`] descriptor. It carries the provider's pure rules (as
//! core's [`Rules`]: validation, capability cells, cost model and prices) and its edges to the
//! world: the connector the operator reconciles with, what it watches in the cluster, what a
//! ProviderConfig holds for it, and its offline render. The binary lists every backend once in a
//! [`Registry`]; the controller and the commands iterate it and name no provider.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use ferry_api::{
    Provider, ProviderConfigSpec, SecretKeySelector, ServerlessJobSpec, ServerlessServiceSpec,
};
use ferry_core::backend::{Catalog, CatalogError, Rules};
use ferry_core::desired::Desired;
use ferry_core::job::DesiredJob;
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::reflector::{ObjectRef, Store};

use crate::Connector;

/// The watch caches of the kinds backends own ([`Backend::owned`]), kept by the controller's
/// watches: a backend reads an object from here instead of asking the API server when the
/// copy is fresh enough. Empty until the controller's watches have started (and after they
/// stop), where a backend asks the API server.
#[derive(Clone, Default)]
pub struct Caches(Arc<RwLock<HashMap<String, Store<DynamicObject>>>>);

impl Caches {
    fn key(resource: &ApiResource) -> String {
        format!("{}/{}", resource.api_version, resource.plural)
    }

    /// Keeps `store` as the cache of `resource`, or forgets it (`None`: its watch stopped).
    pub fn set(&self, resource: &ApiResource, store: Option<Store<DynamicObject>>) {
        let mut caches = self.0.write().unwrap_or_else(PoisonError::into_inner);
        match store {
            Some(store) => caches.insert(Self::key(resource), store),
            None => caches.remove(&Self::key(resource)),
        };
    }

    /// Whether the controller keeps a cache of `resource` (its watch runs): then what the cache
    /// lacks was, as of the watch's last event, not there.
    pub fn watching(&self, resource: &ApiResource) -> bool {
        let caches = self.0.read().unwrap_or_else(PoisonError::into_inner);
        caches.contains_key(&Self::key(resource))
    }

    /// The cached `namespace/name` of `resource`, when its cache holds it.
    pub fn get(
        &self,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<DynamicObject>> {
        let caches = self.0.read().unwrap_or_else(PoisonError::into_inner);
        caches
            .get(&Self::key(resource))?
            .get(&ObjectRef::new_with(name, resource.clone()).within(namespace))
    }
}

/// What a backend's connector is built with.
#[derive(Clone)]
pub struct Environment {
    /// The API server.
    pub client: kube::Client,
    /// The operator's own namespace, the only one credential Secrets are read from.
    pub operator_namespace: String,
    /// How often an up-to-date object is observed again (backends that share reads between
    /// objects size their caches by it).
    pub resync: Duration,
    /// The controller's caches of what the backends own in the cluster.
    pub caches: Caches,
}

/// A kind of object a backend creates in the cluster and owns (owner references), watched as
/// metadata so a change to one reconciles its owner. Watched only while the cluster serves it.
#[derive(Clone, Debug)]
pub struct Owned {
    /// The resource.
    pub resource: ApiResource,
    /// The label selector that picks the ones Ferry made.
    pub labels: String,
    /// What the operator logs while the cluster does not serve the kind (what is missing).
    pub missing: &'static str,
    /// Trims a watched object to what the backend reads from [`Caches`] (its watch cache
    /// holds every one Ferry made, so what it keeps of each is what the operator's memory
    /// grows by).
    pub keep: fn(&mut DynamicObject),
}

/// What `ferry render` prints for one object: the backend's native objects or requests.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    /// A comment line about what follows (and anything the reader should know).
    pub comment: String,
    /// YAML (in-cluster objects) or JSON (cloud requests), complete.
    pub body: String,
}

/// Everything Ferry knows about one provider.
pub trait Backend: Rules {
    /// The connector the operator reconciles this provider's objects with; built once at
    /// start.
    fn connector(&self, env: &Environment) -> Arc<dyn Connector>;

    /// The kinds it creates in the cluster, watched so their changes reconcile their owners.
    fn owned(&self) -> Vec<Owned> {
        Vec::new()
    }

    /// Whether its objects name a ProviderConfig (cloud accounts do; an in-cluster backend
    /// needs none). A change to a ProviderConfig, or to a credential Secret it names,
    /// reconciles the objects that use it.
    fn uses_provider_config(&self) -> bool {
        true
    }

    /// The credential Secrets `config` names for this provider.
    fn secret_refs<'a>(&self, _config: &'a ProviderConfigSpec) -> Vec<&'a SecretKeySelector> {
        Vec::new()
    }

    /// Whether deleting an object with `spec` needs Ferry (and so a finalizer): cloud
    /// resources must be deleted or released at the provider, where the garbage collector
    /// cannot reach.
    fn needs_finalizer(&self, _spec: &ServerlessServiceSpec) -> bool {
        true
    }

    /// The kinds it creates in the cluster for `ServerlessJob`s, watched so their changes
    /// reconcile their owners.
    fn job_owned(&self) -> Vec<Owned> {
        Vec::new()
    }

    /// Whether deleting a job with `spec` needs Ferry (and so a finalizer).
    fn needs_job_finalizer(&self, _spec: &ServerlessJobSpec) -> bool {
        true
    }

    /// What the backend would send for the job `desired`, offline (as [`Backend::render`]).
    /// The default says the provider runs no jobs.
    fn render_job(
        &self,
        desired: &DesiredJob,
        _config_name: &str,
        _config: Option<&ProviderConfigSpec>,
    ) -> Result<Rendered, String> {
        Err(format!(
            "{} does not run ServerlessJobs yet",
            desired.provider.display_name()
        ))
    }

    /// What the backend would send for `desired`, offline. `config` is the ProviderConfig the
    /// object names (`config_name`), when the files given hold it; placeholders stand in for
    /// its values otherwise, and the comment says so.
    fn render(
        &self,
        desired: &Desired,
        config_name: &str,
        config: Option<&ProviderConfigSpec>,
    ) -> Result<Rendered, String>;
}

/// The comment line's tail when the ProviderConfig an object names is not among the files
/// `ferry render` was given: its values are placeholders.
pub fn placeholder_note(config_name: &str) -> String {
    format!(
        ";\n# ProviderConfig {config_name} is not in the files given, so its values are \
         placeholders: add its file with another -f"
    )
}

/// `<what of ProviderConfig NAME>`: a placeholder for a value the ProviderConfig would give.
pub fn placeholder(what: &str, config_name: &str) -> String {
    format!("<{what} of ProviderConfig {config_name}>")
}

/// Why a list of backends is not a registry: a provider has none, or two.
pub type RegistryError = CatalogError;

/// Every backend of this build, one per provider, in the order tables list them.
#[derive(Clone)]
pub struct Registry {
    /// Indexed by [`Provider::index`]: one for every provider, so a lookup cannot miss.
    backends: Vec<Arc<dyn Backend>>,
    catalog: Catalog,
}

impl Registry {
    /// A registry of `backends`: exactly one for each provider the API knows.
    pub fn new(mut backends: Vec<Arc<dyn Backend>>) -> Result<Self, RegistryError> {
        let rules: Vec<Arc<dyn Rules>> = backends
            .iter()
            .map(|b| Arc::clone(b) as Arc<dyn Rules>)
            .collect();
        let catalog = Catalog::new(&rules)?;
        backends.sort_by_key(|b| b.provider().index());
        Ok(Self { backends, catalog })
    }

    /// The backend of `provider`. Every provider has one ([`Registry::new`] checks).
    pub fn get(&self, provider: Provider) -> &dyn Backend {
        self.backends[provider.index()].as_ref()
    }

    /// Every backend.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Backend> {
        self.backends.iter().map(AsRef::as_ref)
    }

    /// Their pure rules, as core's validation, capability table and cost comparison take them.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// A connector for every provider, built with `env`; they read `env.caches`, which the
    /// controller fills.
    pub fn connectors(&self, env: &Environment) -> Connectors {
        Connectors {
            connectors: self.iter().map(|b| b.connector(env)).collect(),
            caches: env.caches.clone(),
        }
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(Rules::provider))
            .finish()
    }
}

/// The connector of every provider ([`Registry::connectors`]), and the caches they read.
#[derive(Clone)]
pub struct Connectors {
    /// Indexed by [`Provider::index`].
    connectors: Vec<Arc<dyn Connector>>,
    caches: Caches,
}

impl Connectors {
    /// `connector` for every provider (tests: a fake stands for them all).
    pub fn every(connector: &Arc<dyn Connector>) -> Self {
        Self {
            connectors: Provider::ALL
                .iter()
                .map(|_| Arc::clone(connector))
                .collect(),
            caches: Caches::default(),
        }
    }

    /// The connector of `provider`.
    pub fn get(&self, provider: Provider) -> &dyn Connector {
        self.connectors[provider.index()].as_ref()
    }

    /// The caches the connectors read, for the controller to fill.
    pub fn caches(&self) -> &Caches {
        &self.caches
    }

    /// These connectors with `provider`'s replaced by `connector` (tests put a fake in).
    #[must_use]
    pub fn with(mut self, provider: Provider, connector: Arc<dyn Connector>) -> Self {
        self.connectors[provider.index()] = connector;
        self
    }
}
