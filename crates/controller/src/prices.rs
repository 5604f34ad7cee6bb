//! The prices behind `status.estimatedMonthlyCost`: Ferry's embedded table, overlaid by the
//! ConfigMap `--prices-configmap` names in the operator's namespace (key `prices.yaml`). The
//! ConfigMap is read once when the controller starts and then watched, so a reconcile never
//! reads it; a change re-prices every object at once. A ConfigMap that does not parse is
//! logged, reported as a Warning Event on it, and ignored: the table in use stays. One that
//! parses but holds entries no estimate can use (a region no object can name, an entry another
//! comes before) is used, and those entries are reported the same way, as `ferry cost --prices`
//! reports them (one check, in core).

use std::sync::{Arc, Mutex, PoisonError, RwLock};

use ferry_api::{CostEstimate, ProviderConfig, ServerlessService};
use ferry_core::backend::Catalog;
use ferry_core::cost::{self, PriceTable};
use futures::StreamExt as _;
use futures::channel::mpsc;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::{ObjectRef, Store};

use crate::events::Events;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use tracing::{error, info, warn};

/// The key of the prices ConfigMap that holds the table.
pub const PRICES_KEY: &str = "prices.yaml";

/// The price table in use, and the ProviderConfigs whose regions pick its entries.
pub struct Pricing {
    /// The backends whose prices these are (each prices its provider and checks its entries).
    catalog: Catalog,
    /// Ferry's own table, what a ConfigMap overlays.
    base: PriceTable,
    current: RwLock<Arc<PriceTable>>,
    /// The last problem reported, so a relist of the same ConfigMap is not reported again.
    problem: Mutex<Option<String>>,
    configs: RwLock<Option<Store<ProviderConfig>>>,
}

impl Pricing {
    /// The backends' embedded prices. A test checks they parse; should they still not, no
    /// estimate is made rather than a wrong one.
    pub fn embedded(catalog: Catalog) -> Self {
        let base = PriceTable::embedded(&catalog).unwrap_or_else(|e| {
            error!(error = %e, "Ferry's own price table does not parse: no cost estimates");
            PriceTable::default()
        });
        Self::new(catalog, base)
    }

    /// Prices from `base`, until a ConfigMap overlays it.
    pub fn new(catalog: Catalog, base: PriceTable) -> Self {
        Self {
            current: RwLock::new(Arc::new(base.clone())),
            catalog,
            base,
            problem: Mutex::default(),
            configs: RwLock::default(),
        }
    }

    /// The table in use.
    pub fn table(&self) -> Arc<PriceTable> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts `table` in use (the ConfigMap's, or a test's); whether it differs from the one
    /// before.
    pub fn replace(&self, table: PriceTable) -> bool {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if **current == table {
            return false;
        }
        *current = Arc::new(table);
        true
    }

    /// Where ProviderConfigs (and so the regions to price in) are found.
    pub fn use_provider_configs(&self, store: Store<ProviderConfig>) {
        *self.configs.write().unwrap_or_else(PoisonError::into_inner) = Some(store);
    }

    /// ProviderConfig `name`, as far as the controller's cache holds it.
    pub fn provider_config(&self, name: &str) -> Option<Arc<ProviderConfig>> {
        let configs = self.configs.read().unwrap_or_else(PoisonError::into_inner);
        configs
            .as_ref()
            .and_then(|store| store.get(&ObjectRef::new(name)))
    }

    /// `status.estimatedMonthlyCost` for `svc`: its spec at rest on its own provider.
    pub fn status_estimate(&self, svc: &ServerlessService) -> Option<CostEstimate> {
        let rules = self.catalog.get(svc.spec.provider);
        let config = self.provider_config(ferry_provider::provider_config::name_for(svc));
        cost::baseline(
            rules,
            &svc.spec,
            &self.table(),
            config.as_ref().map(|c| &c.spec),
        )
    }

    /// Takes what the ConfigMap now says (`None`: there is none); whether the table changed.
    /// A problem (a table that cannot be used, or entries of it that are never used) is
    /// returned the first time it is seen, to be reported once.
    fn take(&self, config_map: Option<&ConfigMap>) -> (bool, Option<Problem>) {
        let (changed, problem) = match table_from(&self.catalog, &self.base, config_map) {
            Ok((table, unused)) => {
                let problem = (!unused.is_empty()).then(|| Problem {
                    reason: "UnusedPrices",
                    text: unused.join("\n"),
                });
                (self.replace(table), problem)
            }
            Err(text) => (
                false,
                Some(Problem {
                    reason: "InvalidPrices",
                    text,
                }),
            ),
        };
        let mut last = self.problem.lock().unwrap_or_else(PoisonError::into_inner);
        let text = problem.as_ref().map(|p| p.text.clone());
        let new = problem.filter(|_| *last != text);
        *last = text;
        (changed, new)
    }
}

/// What is wrong with a prices ConfigMap, for its Warning Event.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Problem {
    /// `InvalidPrices` (the table is not used) or `UnusedPrices` (it is, but some entries never
    /// are).
    reason: &'static str,
    /// Every problem, one a line.
    text: String,
}

/// The table a prices ConfigMap makes of `base`: its entries on top, or `base` itself when
/// there is no ConfigMap, with a warning for each of its entries no estimate can use
/// ([`cost::prices::unused`]); or why the ConfigMap cannot be used.
pub fn table_from(
    catalog: &Catalog,
    base: &PriceTable,
    config_map: Option<&ConfigMap>,
) -> Result<(PriceTable, Vec<String>), String> {
    let Some(cm) = config_map else {
        return Ok((base.clone(), Vec::new()));
    };
    let origin = format!(
        "ConfigMap {}/{}, key {PRICES_KEY}",
        cm.namespace().unwrap_or_default(),
        cm.name_any()
    );
    let text = cm
        .data
        .as_ref()
        .and_then(|d| d.get(PRICES_KEY))
        .ok_or_else(|| {
            format!(
                "{origin}: missing; put a price table there (one section per provider, as \
                 docs/cost.md shows)"
            )
        })?;
    let table = PriceTable::parse(&origin, text, catalog).map_err(|e| e.to_string())?;
    let unused = cost::prices::unused(&table, base, catalog);
    Ok((base.clone().overlay(table), unused))
}

/// Reads the ConfigMap once (before the controller starts, so the first statuses already use
/// it). A failure to read keeps the table in use.
pub async fn load(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    pricing: &Pricing,
    events: &Events,
) {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    match api.get_opt(name).await {
        Ok(found) => {
            apply(pricing, found.as_ref(), namespace, name, events).await;
        }
        Err(e) => warn!(
            error = %e,
            configmap = %format!("{namespace}/{name}"),
            "cannot read the prices ConfigMap: keeping the prices in use"
        ),
    }
}

/// Watches the ConfigMap and sends on `changed` whenever the table in use changes, so every
/// object is re-priced. Runs until the task is aborted.
pub async fn watch(
    client: kube::Client,
    namespace: String,
    name: String,
    pricing: Arc<Pricing>,
    events: Events,
    mut changed: mpsc::Sender<()>,
) {
    let api: Api<ConfigMap> = Api::namespaced(client, &namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = watcher(api, config).default_backoff().boxed();
    // Whether the current list has shown the ConfigMap: a list without it means it is gone.
    let mut listed = false;
    while let Some(event) = stream.next().await {
        let found = match event {
            Ok(watcher::Event::Init) => {
                listed = false;
                continue;
            }
            Ok(watcher::Event::InitApply(cm) | watcher::Event::Apply(cm)) => {
                listed = true;
                Some(cm)
            }
            Ok(watcher::Event::InitDone) if listed => continue,
            Ok(watcher::Event::InitDone | watcher::Event::Delete(_)) => None,
            Err(e) => {
                warn!(error = %e, "watching the prices ConfigMap");
                continue;
            }
        };
        if apply(&pricing, found.as_ref(), &namespace, &name, &events).await {
            // A full channel already holds a pending re-price: nothing is lost.
            let _ = changed.try_send(());
        }
    }
}

/// Takes what the ConfigMap says, logging (and, for a bad one, reporting) what happened;
/// whether the table changed.
async fn apply(
    pricing: &Pricing,
    config_map: Option<&ConfigMap>,
    namespace: &str,
    name: &str,
    events: &Events,
) -> bool {
    let (changed, problem) = pricing.take(config_map);
    if changed {
        let object = format!("{namespace}/{name}");
        if config_map.is_some() {
            info!(configmap = %object, "prices updated from the ConfigMap");
        } else {
            info!(configmap = %object, "no prices ConfigMap: using Ferry's own prices");
        }
    }
    if let (Some(problem), Some(cm)) = (problem, config_map) {
        let note = if problem.reason == "InvalidPrices" {
            error!(problem = %problem.text, "the prices ConfigMap cannot be used: keeping the prices in use");
            format!("{}; Ferry keeps the prices it had", problem.text)
        } else {
            warn!(problem = %problem.text, "the prices ConfigMap has entries no estimate uses");
            format!("{}; Ferry uses the others", problem.text)
        };
        let event = Event {
            type_: EventType::Warning,
            reason: problem.reason.into(),
            note: Some(note.chars().take(1024).collect()),
            action: "LoadPrices".into(),
            secondary: None,
        };
        if let Err(e) = events.publish(&event, &cm.object_ref(&())).await {
            warn!(error = %e, "could not publish an event");
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn config_map(text: Option<&str>) -> ConfigMap {
        ConfigMap {
            metadata: kube::api::ObjectMeta {
                name: Some("ferry-prices".into()),
                namespace: Some("ferry-system".into()),
                ..Default::default()
            },
            data: text.map(|t| BTreeMap::from([(PRICES_KEY.to_owned(), t.to_owned())])),
            ..Default::default()
        }
    }

    fn catalog() -> Catalog {
        crate::test_registry().catalog().clone()
    }

    const NODES: &str = "knative:\n- {region: prod, option: nodes, vcpuHour: 0.03, gbHour: 0.004, \
                         source: our invoice, read: 2026-11-01}\n";

    #[test]
    fn a_config_map_overlays_the_embedded_table_and_its_removal_restores_it() {
        let base = PriceTable::embedded(&catalog()).unwrap();
        let pricing = Pricing::new(catalog(), base.clone());
        assert_eq!(pricing.take(Some(&config_map(Some(NODES)))), (true, None));
        assert_eq!(pricing.table().section("knative").len(), 1);
        assert_eq!(
            pricing.table().section("fargate"),
            base.section("fargate"),
            "the rest stays"
        );
        // The same again (a relist): nothing changed.
        assert_eq!(pricing.take(Some(&config_map(Some(NODES)))), (false, None));
        assert_eq!(pricing.take(None), (true, None));
        assert_eq!(*pricing.table(), base);
    }

    #[test]
    fn a_bad_config_map_is_reported_once_and_the_prices_in_use_stay() {
        let pricing = Pricing::embedded(catalog());
        pricing.take(Some(&config_map(Some(NODES))));
        let bad = config_map(Some(
            "knative:\n- {region: prod, option: nodes, vcpuHour: -1}\n",
        ));
        let (changed, problem) = pricing.take(Some(&bad));
        assert!(!changed);
        let problem = problem.unwrap();
        assert_eq!(problem.reason, "InvalidPrices");
        let problem = problem.text;
        assert!(
            problem.starts_with("ConfigMap ferry-system/ferry-prices, key prices.yaml:2: "),
            "{problem}"
        );
        assert!(problem.contains("knative[0].vcpuHour"), "{problem}");
        assert_eq!(
            pricing.table().section("knative").len(),
            1,
            "the last good table stays"
        );
        assert_eq!(pricing.take(Some(&bad)), (false, None), "reported once");
        let missing = pricing.take(Some(&config_map(None))).1.unwrap().text;
        assert!(missing.contains("key prices.yaml: missing"), "{missing}");
    }

    /// Issue 22: an entry whose region can never match was accepted silently; the operator now
    /// uses the table and reports the entry once, in the words `ferry cost --prices` uses.
    #[test]
    fn entries_no_estimate_can_use_are_reported_once_and_the_rest_is_used() {
        let pricing = Pricing::embedded(catalog());
        let text = format!(
            "{NODES}- {{region: prod-gke, option: nodes, vcpuHour: 0.05, gbHour: 0.004, \
             source: our invoice, read: 2026-11-01}}\nfargate:\n- {{region: eu-west1, \
             option: linux-x86, vcpuHour: 0.04, gbHour: 0.004, source: a, read: 2026-11-01}}\n"
        );
        let (changed, problem) = pricing.take(Some(&config_map(Some(&text))));
        assert!(changed, "the table is used");
        assert_eq!(pricing.table().section("knative").len(), 2);
        let problem = problem.unwrap();
        assert_eq!(problem.reason, "UnusedPrices");
        let lines: Vec<&str> = problem.text.lines().collect();
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert!(
            lines[0].starts_with(
                "ConfigMap ferry-system/ferry-prices, key prices.yaml:3: knative[1] (region \
                 prod-gke, option nodes): never used"
            ),
            "{lines:#?}"
        );
        assert!(
            lines[1].starts_with(
                "ConfigMap ferry-system/ferry-prices, key prices.yaml:5: fargate[0] (region \
                 eu-west1, option linux-x86): never used: \"eu-west1\" is not a region name"
            ),
            "{lines:#?}"
        );
        assert_eq!(
            pricing.take(Some(&config_map(Some(&text)))),
            (false, None),
            "reported once"
        );
    }

    #[test]
    fn the_region_comes_from_the_provider_config_the_service_names() {
        let eu = "fargate:\n- {region: eu-west-1, option: linux-x86, vcpuHour: 0.04456, \
                  gbHour: 0.004865, source: https://aws.amazon.com/fargate/pricing/, \
                  read: 2026-11-24}\n";
        let table = PriceTable::embedded(&catalog())
            .unwrap()
            .overlay(PriceTable::parse("eu", eu, &catalog()).unwrap());
        let pricing = Pricing::new(catalog(), table);
        let svc: ServerlessService = serde_json::from_value(serde_json::json!({
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": "ServerlessService",
            "metadata": {"name": "hello", "namespace": "shop"},
            "spec": {
                "provider": "fargate",
                "providerConfigRef": {"name": "aws-eu"},
                "containers": [{"name": "app", "image": "a", "port": 8080,
                                "resources": {"cpu": "1", "memory": "2Gi"}}],
            },
        }))
        .unwrap();
        // Before the ProviderConfig is known: the table's first region, us-east-1.
        // 1 x (0.04048 + 2 x 0.004445) x 730 = $36.0401 -> $36.04.
        assert_eq!(pricing.status_estimate(&svc).unwrap().usd, "36.04");
        let config: ProviderConfig = serde_json::from_value(serde_json::json!({
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": "ProviderConfig",
            "metadata": {"name": "aws-eu"},
            "spec": {"fargate": {"region": "eu-west-1", "cluster": "prod"}},
        }))
        .unwrap();
        let (store, mut writer) = kube::runtime::reflector::store();
        writer.apply_watcher_event(&watcher::Event::Apply(config));
        pricing.use_provider_configs(store);
        // eu-west-1: 1 x (0.04456 + 2 x 0.004865) x 730 = 0.05429 x 730 = $39.6317 -> $39.63.
        let estimate = pricing.status_estimate(&svc).unwrap();
        assert_eq!(estimate.usd, "39.63");
        assert!(
            estimate.basis.ends_with("eu-west-1 prices"),
            "{}",
            estimate.basis
        );
    }
}
