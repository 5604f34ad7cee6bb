//! Secrets stay secret (issue 17): recognisable values go into every kind of credential the
//! operator reads (an AWS shared credentials file with a secret key and a session token, a
//! Google service-account key, and an unrelated Secret beside them in the operator's
//! namespace); the operator logs at `trace`, the most it can; a Fargate object is created,
//! changed and deleted through the AWS credentials, and a Cloud Run object is refused with the
//! Google key (which cannot work offline). Then no value may appear, as is or base64-encoded,
//! in the operator's log, the namespace's Events, any object's or ProviderConfig's status, or
//! the metrics.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::time::Duration;

use base64::Engine as _;
use e2e::{
    Cluster, Ferry, MANAGER, Operator, ProviderConfigCleanup, Scene, TestNamespace, current_ready,
    wait_gone,
};
use ferry_api::{ProviderConfig, ServerlessService};
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::discovery::ApiResource;
use moto_standin::Moto;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

struct Scenario {
    _configs: [ProviderConfigCleanup; 2],
    namespace: TestNamespace,
    client: Client,
    operator: Operator,
    aws: String,
    gcp: String,
    canaries: Vec<String>,
}

impl Scene for Scenario {
    const WAIT: Duration = WAIT;

    fn operator(&self) -> &Operator {
        &self.operator
    }

    fn ssvs(&self) -> Api<ServerlessService> {
        Api::namespaced(self.client.clone(), self.namespace.name())
    }
}

fn canary(what: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("FerryCanary{what}{}", &id[..12])
}

impl Scenario {
    async fn start() -> Self {
        let cluster = Cluster::shared().unwrap();
        cluster.install_crds().await.unwrap();
        let namespace = TestNamespace::create(cluster, "secrets").await.unwrap();
        let ns = namespace.name().to_owned();
        let client = cluster.client().await.unwrap();
        let moto = Moto::shared().await.unwrap();
        let ecs = aws_sdk_ecs::Client::new(&moto_standin::sdk_config(&moto.endpoint()).await);
        let ecs_cluster = format!("ecs-{ns}");
        ecs.create_cluster()
            .cluster_name(&ecs_cluster)
            .send()
            .await
            .unwrap();

        let (secret_key, session, private_key, unrelated) = (
            canary("AwsSecretKey"),
            canary("AwsSessionToken"),
            canary("GooglePrivateKey"),
            canary("Unrelated"),
        );
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
        let put = |name: &'static str, key: &'static str, value: String| {
            let secrets = secrets.clone();
            async move {
                let secret = json!({
                    "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                    "stringData": {key: value},
                });
                secrets
                    .patch(name, &PatchParams::apply(MANAGER), &Patch::Apply(&secret))
                    .await
                    .unwrap();
            }
        };
        put(
            e2e::AWS_SECRET,
            "credentials",
            format!(
                "[default]\naws_access_key_id = AKIDSECRETS\naws_secret_access_key = \
                 {secret_key}\naws_session_token = {session}\n"
            ),
        )
        .await;
        let key = json!({
            "type": "service_account",
            "project_id": "ferry-secrets",
            "private_key_id": "0123456789abcdef",
            "private_key": format!("-----BEGIN PRIVATE KEY-----\n{private_key}\n-----END PRIVATE KEY-----\n"),
            "client_email": "ferry@ferry-secrets.iam.gserviceaccount.com",
            "client_id": "1234567890",
            "token_uri": "https://oauth2.googleapis.com/token",
        });
        put("gcp", "key.json", key.to_string()).await;
        put("unrelated", "password", unrelated.clone()).await;

        let (aws, gcp) = (format!("aws-{ns}"), format!("gcp-{ns}"));
        let access = json!({"allowedNamespaces": [ns]});
        e2e::put_provider_config(
            &client,
            e2e::fargate_provider_config(&aws, &ecs_cluster, &moto.endpoint(), &ns),
            &access,
        )
        .await
        .unwrap();
        let mut run = e2e::cloud_run_provider_config(&gcp, "ferry-secrets", "http://127.0.0.1:9");
        run["spec"]["cloudRun"]["credentials"] = json!({
            "source": "Secret",
            "secretRef": {"namespace": ns, "name": "gcp", "key": "key.json"},
        });
        e2e::put_provider_config(&client, run, &access)
            .await
            .unwrap();
        let operator = Ferry::spawn_confined_with(cluster, &ns, &ns, "trace").unwrap();
        Self {
            _configs: [
                ProviderConfigCleanup::new(cluster, &aws),
                ProviderConfigCleanup::new(cluster, &gcp),
            ],
            namespace,
            client,
            operator,
            aws,
            gcp,
            canaries: vec![secret_key, session, private_key, unrelated],
        }
    }

    async fn apply(&self, name: &str, provider: &str, config: &str, image: &str) {
        let mut spec = json!({
            "provider": provider,
            "providerConfigRef": {"name": config},
            "containers": [{"name": "app", "image": image, "port": 8080,
                            "resources": {"cpu": "250m", "memory": "512Mi"}}],
        });
        if provider == "fargate" {
            spec["scaling"] = json!({"minInstances": 1, "maxInstances": 2, "metric": "cpu"});
        }
        let object = json!({
            "apiVersion": "ferry.dev/v1alpha1",
            "kind": "ServerlessService",
            "metadata": {"name": name},
            "spec": spec,
        });
        self.ssvs()
            .patch(name, &PatchParams::apply(MANAGER), &Patch::Apply(&object))
            .await
            .unwrap();
    }

    /// Everything a reader of the operator's output can see: its log, the Events, the status
    /// of every object and ProviderConfig, and the metrics.
    async fn everything_visible(&self) -> String {
        let mut seen = self.operator.logs();
        let events = ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk("events.k8s.io", "v1", "Event"),
            "events",
        );
        let events: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), self.namespace.name(), &events);
        for event in events.list(&ListParams::default()).await.unwrap() {
            seen.push_str(&serde_json::to_string(&event).unwrap());
        }
        for svc in self.ssvs().list(&ListParams::default()).await.unwrap() {
            seen.push_str(&serde_json::to_string(&svc.status).unwrap());
        }
        let configs: Api<ProviderConfig> = Api::all(self.client.clone());
        for name in [&self.aws, &self.gcp] {
            let config = configs.get(name).await.unwrap();
            seen.push_str(&serde_json::to_string(&config.status).unwrap());
        }
        let address = self.check(self.operator.metrics_address().await);
        seen.push_str(&self.check(e2e::http_get(&address, "/metrics").await));
        seen
    }
}

#[tokio::test]
async fn no_credential_appears_in_logs_events_status_or_metrics() {
    let s = Scenario::start().await;
    s.apply("api", "fargate", &s.aws, "ghcr.io/acme/api:1")
        .await;
    s.apply("web", "cloudRun", &s.gcp, "ghcr.io/acme/web:1")
        .await;
    s.ssv("api", "Ready=True on Fargate", |svc| {
        current_ready(svc) == Some(("True", "Available"))
    })
    .await;
    let refused = s
        .ssv("web", "refused with the Google key", |svc| {
            current_ready(svc).is_some_and(|(status, _)| status == "False")
        })
        .await;
    s.apply("api", "fargate", &s.aws, "ghcr.io/acme/api:2")
        .await;
    s.ssv("api", "the new image Ready", |svc| {
        current_ready(svc) == Some(("True", "Available"))
    })
    .await;
    s.ssvs()
        .delete("api", &DeleteParams::default())
        .await
        .unwrap();
    let gone = wait_gone(&s.ssvs(), "api", WAIT, "the Fargate object deleted").await;
    s.check(gone);

    let seen = s.everything_visible().await;
    // The log is the operator's at trace level, with the AWS calls made with the credentials.
    assert!(
        seen.contains("TRACE") && seen.contains("CreateService"),
        "the test did not see the operator's trace log"
    );
    let engine = base64::engine::general_purpose::STANDARD;
    for canary in &s.canaries {
        for form in [canary.clone(), engine.encode(canary)] {
            if let Some(at) = seen.find(&form) {
                let context = &seen[at.saturating_sub(300)..(at + 300).min(seen.len())];
                panic!("{canary} is visible ({form}):\n...{context}...");
            }
        }
    }
    println!(
        "{} bytes of log, Events, status and metrics checked for {} values; the Cloud Run \
         object says: {:?}",
        seen.len(),
        s.canaries.len(),
        current_ready(&refused)
    );
}
