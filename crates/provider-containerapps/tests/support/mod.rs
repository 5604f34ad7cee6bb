//! The set-up the client tests share: one test's subscription on the shared fake Azure Resource
//! Manager (`tests/azure-fake`), a ProviderConfig for it, and a connector that reads nothing
//! from Kubernetes (`connect_with` and `connect_job_with` are given what it would read).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use azure_fake::{AzureFake, Subscription};
use ferry_api::ProviderConfig;
use ferry_provider_containerapps::build::SecretValues;
use ferry_provider_containerapps::{ContainerAppsConnector, Settings};

/// The resource group the tests' resources go in.
pub(crate) const GROUP: &str = "rg";

/// One test's subscription, a connector, and the copied secrets' values the connector would
/// read from the cluster.
pub(crate) struct Azure {
    pub(crate) fake: &'static AzureFake,
    pub(crate) name: String,
    pub(crate) connector: ContainerAppsConnector,
    pub(crate) config: ProviderConfig,
    pub(crate) values: Mutex<SecretValues>,
}

impl Azure {
    /// A subscription named `name` on the shared fake, and a ProviderConfig for it.
    pub(crate) async fn start(name: &str) -> Self {
        let fake = AzureFake::shared().await.unwrap();
        let subscription = fake.subscription(name).id().to_owned();
        let config: ProviderConfig = serde_saphyr::from_str(&format!(
            "apiVersion: ferry.dev/v1alpha1\nkind: ProviderConfig\n\
             metadata: {{name: azure-{name}, resourceVersion: '1'}}\n\
             spec:\n  azure:\n    subscriptionId: {subscription}\n    resourceGroup: {GROUP}\n    \
             location: westeurope\n    containerAppsEnvironment: \
             /subscriptions/{subscription}/resourceGroups/{GROUP}/providers/Microsoft.App/managedEnvironments/env\n    \
             endpoint: {endpoint}\n    credentials: {{source: Anonymous}}\n",
            endpoint = fake.endpoint()
        ))
        .unwrap();
        let kube = kube::Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().unwrap()))
            .unwrap();
        let connector = ContainerAppsConnector::new(
            kube,
            Settings {
                call_timeout: Duration::from_secs(10),
                ..Settings::default()
            },
        );
        Self {
            fake,
            name: name.to_owned(),
            connector,
            config,
            values: Mutex::default(),
        }
    }

    /// The test's subscription on the fake.
    pub(crate) fn subscription(&self) -> Subscription<'_> {
        self.fake.subscription(&self.name)
    }

    /// The writes the fake counted in the subscription, by operation.
    pub(crate) async fn writes(&self) -> BTreeMap<String, usize> {
        self.subscription().writes().await.unwrap()
    }
}

/// Counts of writes by operation, as [`Azure::writes`] answers them.
pub(crate) fn writes(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}
