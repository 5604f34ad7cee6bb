//! The Fargate client against moto server (the AWS stand-in, patched so rollouts progress; see
//! `tests/moto`), through a proxy that counts every call and injects faults. Each test works
//! in its own ECS cluster of one shared moto, so they run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly
#![allow(clippy::cast_precision_loss)] // call counts printed as ratios are small

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use aws_sdk_ecs::types::{ServiceField, TaskDefinitionField};
use ferry_api::conditions::reasons;
use ferry_api::{ProviderConfig, ServerlessService};
use ferry_core::desired::{Desired, ObjectRef};
use ferry_provider::{Deletion, ExternalClient, Observation, ProviderError, Readiness};
use ferry_provider_fargate::{CallSettings, FargateConnector, Settings};
use moto_standin::{Fault, Moto, Proxy};

/// How long a steady service's description is reused; the idle test waits longer than this
/// between resyncs, so every resync reads AWS again.
const SNAPSHOT_AGE: Duration = Duration::from_millis(300);
const CREDENTIALS: &str =
    "[default]\naws_access_key_id = AKIDFERRYTEST\naws_secret_access_key = secret\n";

struct Aws {
    moto: &'static Moto,
    proxy: Proxy,
    connector: FargateConnector,
    config: ProviderConfig,
    cluster: String,
    ecs: aws_sdk_ecs::Client,
    scaling: aws_sdk_applicationautoscaling::Client,
}

/// The SDK configuration of the test's own look at moto (not through the proxy).
async fn direct(endpoint: &str) -> aws_config::SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .http_client(http)
        .credentials_provider(aws_sdk_ecs::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await
}

impl Aws {
    /// A cluster named after the test, a proxy, and a connector whose ProviderConfig points
    /// at the proxy.
    async fn start(test: &str) -> Self {
        Self::start_with(test, SNAPSHOT_AGE).await
    }

    /// [`Aws::start`] with descriptions reused for `snapshot_age`.
    async fn start_with(test: &str, snapshot_age: Duration) -> Self {
        let moto = Moto::shared().await.unwrap();
        let proxy = Proxy::start(&moto.endpoint()).unwrap();
        let sdk = direct(&moto.endpoint()).await;
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let scaling = aws_sdk_applicationautoscaling::Client::new(&sdk);
        let cluster = format!("cluster-{test}");
        ecs.create_cluster()
            .cluster_name(&cluster)
            .send()
            .await
            .unwrap();
        let config: ProviderConfig = serde_saphyr::from_str(&format!(
            "apiVersion: ferry.dev/v1alpha1\nkind: ProviderConfig\n\
             metadata: {{name: aws-{test}, resourceVersion: '1'}}\n\
             spec:\n  fargate:\n    region: us-east-1\n    cluster: {cluster}\n    \
             endpoint: {endpoint}\n    \
             credentials: {{source: Secret, secretRef: {{namespace: ferry-system, name: aws, key: credentials}}}}\n    \
             defaults:\n      subnets: [subnet-0a1b2c3d]\n      securityGroups: [sg-0123abcd]\n      \
             executionRoleArn: arn:aws:iam::123456789012:role/ecsTaskExecutionRole\n      \
             logGroup: /ferry/test\n",
            endpoint = proxy.endpoint()
        ))
        .unwrap();
        // The connector reads nothing from Kubernetes here: `connect_with` is given the
        // ProviderConfig and the credentials.
        let kube = kube::Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().unwrap()))
            .unwrap();
        let connector = FargateConnector::new(
            kube,
            Settings {
                operator_namespace: "ferry-system".into(),
                snapshot_max_age: snapshot_age,
                calls: CallSettings {
                    attempts: 3,
                    initial_backoff: Duration::from_millis(10),
                    attempt_timeout: Duration::from_secs(5),
                    operation_timeout: Duration::from_secs(20),
                },
            },
        );
        Self {
            moto,
            proxy,
            connector,
            config,
            cluster,
            ecs,
            scaling,
        }
    }

    /// The backend client for `svc`, as a reconcile gets it.
    async fn client(&self, svc: &ServerlessService) -> Arc<dyn ExternalClient> {
        self.connector
            .connect_with(
                svc,
                &self.config,
                Some((CREDENTIALS.to_owned(), "1".to_owned())),
            )
            .await
            .unwrap()
    }

    /// One reconcile's calls: observe, then create or update as the observation says.
    async fn reconcile(&self, svc: &ServerlessService) -> Observation {
        let want = desired(svc);
        let client = self.client(svc).await;
        match client.observe(&want).await.unwrap() {
            Observation::Absent => {
                client.create(&want).await.unwrap();
                Observation::Absent
            }
            Observation::Present {
                up_to_date: false, ..
            } => {
                client.update(&want).await.unwrap();
                client.observe(&want).await.unwrap()
            }
            present @ Observation::Present { .. } => present,
        }
    }

    /// Reconciles `svc` until it is Ready; the last observation.
    async fn until_ready(&self, svc: &ServerlessService) -> Observation {
        for _ in 0..20 {
            let observation = self.reconcile(svc).await;
            if let Observation::Present {
                readiness: Readiness::Ready,
                ..
            } = &observation
            {
                return observation;
            }
            if let Observation::Present {
                readiness: Readiness::Failed { .. },
                ..
            } = &observation
            {
                panic!("{observation:?}");
            }
        }
        panic!("{} never became Ready\n{}", svc_name(svc), self.moto.log());
    }

    async fn service(&self, name: &str) -> Option<aws_sdk_ecs::types::Service> {
        let described = self
            .ecs
            .describe_services()
            .cluster(&self.cluster)
            .services(name)
            .include(ServiceField::Tags)
            .send()
            .await
            .unwrap();
        described
            .services()
            .iter()
            .find(|s| s.status() != Some("INACTIVE"))
            .cloned()
    }

    async fn active_revisions(&self, family: &str) -> Vec<String> {
        self.ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .send()
            .await
            .unwrap()
            .task_definition_arns()
            .to_vec()
    }

    async fn services_in_cluster(&self) -> Vec<String> {
        self.ecs
            .list_services()
            .cluster(&self.cluster)
            .send()
            .await
            .unwrap()
            .service_arns()
            .to_vec()
    }

    fn resource_id(&self, service: &str) -> String {
        format!("service/{}/{service}", self.cluster)
    }

    async fn scalable_target(&self, service: &str) -> Option<(i32, i32)> {
        let targets = self
            .scaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_ids(self.resource_id(service))
            .send()
            .await
            .unwrap();
        targets
            .scalable_targets()
            .first()
            .map(|t| (t.min_capacity(), t.max_capacity()))
    }

    async fn policies(
        &self,
        service: &str,
    ) -> Vec<aws_sdk_applicationautoscaling::types::ScalingPolicy> {
        self.scaling
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(self.resource_id(service))
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .send()
            .await
            .unwrap()
            .scaling_policies()
            .to_vec()
    }
}

/// A Fargate ServerlessService `name` in namespace `shop` of image `image`, with `scaling`
/// (YAML flow mapping).
fn service(name: &str, image: &str, scaling: &str) -> ServerlessService {
    serde_saphyr::from_str(&format!(
        "apiVersion: ferry.dev/v1alpha1\nkind: ServerlessService\n\
         metadata: {{name: {name}, namespace: shop, uid: uid-{name}, generation: 1}}\n\
         spec:\n  provider: fargate\n  containers:\n  - name: app\n    image: {image}\n    \
         port: 8080\n    env: [{{name: MODE, value: test}}]\n    \
         resources: {{cpu: 500m, memory: 1Gi}}\n  scaling: {scaling}\n"
    ))
    .unwrap()
}

fn svc_name(svc: &ServerlessService) -> String {
    format!("shop_{}", svc.metadata.name.as_deref().unwrap())
}

fn desired(svc: &ServerlessService) -> Desired {
    ferry_core::validate(svc, &ferry_provider_fargate::Fargate)
        .unwrap_or_else(|e| panic!("the test's spec is invalid: {e}"))
        .desired
}

fn object(svc: &ServerlessService) -> ObjectRef {
    desired(svc).object
}

fn tags(tags: &[aws_sdk_ecs::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

const AUTOSCALED: &str = "{minInstances: 2, maxInstances: 6, metric: cpu, target: 60}";
const FIXED: &str = "{minInstances: 1}";

#[tokio::test]
async fn create_makes_the_service_task_definition_and_scaling_policy_aws_describes() {
    let aws = Aws::start("create").await;
    let svc = service("web", "ghcr.io/acme/web:1", AUTOSCALED);
    assert_eq!(aws.reconcile(&svc).await, Observation::Absent);

    let service = aws.service("shop_web").await.expect("the service exists");
    assert_eq!(service.desired_count(), 2);
    assert_eq!(
        service
            .launch_type()
            .map(aws_sdk_ecs::types::LaunchType::as_str),
        Some("FARGATE")
    );
    let vpc = service
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .unwrap();
    assert_eq!(vpc.subnets(), ["subnet-0a1b2c3d"]);
    assert_eq!(vpc.security_groups(), ["sg-0123abcd"]);
    assert_eq!(
        vpc.assign_public_ip()
            .map(aws_sdk_ecs::types::AssignPublicIp::as_str),
        Some("ENABLED")
    );
    let breaker = service
        .deployment_configuration()
        .and_then(|d| d.deployment_circuit_breaker())
        .unwrap();
    assert!(breaker.enable() && breaker.rollback());
    let service_tags = tags(service.tags());
    assert_eq!(service_tags["ferry.dev/uid"], "uid-web");
    assert_eq!(service_tags["ferry.dev/managed-by"], "ferry");

    let definition = aws
        .ecs
        .describe_task_definition()
        .task_definition(service.task_definition().unwrap())
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .unwrap();
    let td = definition.task_definition().unwrap();
    assert_eq!(td.family(), Some("shop_web"));
    assert_eq!(td.revision(), 1);
    assert_eq!((td.cpu(), td.memory()), (Some("512"), Some("1024")));
    assert_eq!(
        td.network_mode()
            .map(aws_sdk_ecs::types::NetworkMode::as_str),
        Some("awsvpc")
    );
    let container = &td.container_definitions()[0];
    assert_eq!(container.image(), Some("ghcr.io/acme/web:1"));
    assert_eq!(container.port_mappings()[0].container_port(), Some(8080));
    let env: BTreeMap<_, _> = container
        .environment()
        .iter()
        .map(|e| (e.name().unwrap(), e.value().unwrap()))
        .collect();
    assert_eq!(env, BTreeMap::from([("MODE", "test"), ("PORT", "8080")]));
    let logs = container.log_configuration().unwrap();
    assert_eq!(logs.options().unwrap()["awslogs-group"], "/ferry/test");
    assert!(tags(definition.tags()).contains_key("ferry.dev/fingerprint"));

    assert_eq!(aws.scalable_target("shop_web").await, Some((2, 6)));
    let policies = aws.policies("shop_web").await;
    assert_eq!(policies.len(), 1, "{policies:?}");
    let tracking = policies[0]
        .target_tracking_scaling_policy_configuration()
        .unwrap();
    assert!((tracking.target_value() - 60.0).abs() < f64::EPSILON);
    assert_eq!(
        tracking
            .predefined_metric_specification()
            .unwrap()
            .predefined_metric_type()
            .as_str(),
        "ECSServiceAverageCPUUtilization"
    );

    // The rollout progresses in moto; status gets the ARN, the revision and the counts.
    let Observation::Present {
        up_to_date,
        outputs,
        ..
    } = aws.until_ready(&svc).await
    else {
        unreachable!()
    };
    assert!(up_to_date);
    assert_eq!(outputs.resource_id.as_deref(), service.service_arn());
    assert_eq!(outputs.latest_ready_revision.as_deref(), Some("shop_web:1"));
    assert_eq!(outputs.instances, Some((2, 2)));
}

#[tokio::test]
async fn an_image_change_registers_one_revision_and_updates_the_service_and_nothing_else() {
    let aws = Aws::start("image").await;
    let svc = service("api", "ghcr.io/acme/api:1", AUTOSCALED);
    aws.until_ready(&svc).await;

    // Up to date: reads only.
    aws.proxy.clear();
    let client = aws.client(&svc).await;
    let observation = client.observe(&desired(&svc)).await.unwrap();
    assert!(matches!(
        observation,
        Observation::Present {
            up_to_date: true,
            ..
        }
    ));
    assert_eq!(aws.proxy.writes(), BTreeMap::new());

    let changed = service("api", "ghcr.io/acme/api:2", AUTOSCALED);
    aws.proxy.clear();
    let observation = aws.reconcile(&changed).await;
    assert!(
        matches!(
            observation,
            Observation::Present {
                up_to_date: true,
                ..
            }
        ),
        "{observation:?}"
    );
    let writes = aws.proxy.writes();
    assert_eq!(
        writes,
        BTreeMap::from([
            ("RegisterTaskDefinition".to_owned(), 1),
            ("UpdateService".to_owned(), 1)
        ]),
        "only a new revision and the service update: {:?}",
        aws.proxy.requests()
    );
    let update = &aws.proxy.bodies("UpdateService")[0];
    assert!(
        update["taskDefinition"]
            .as_str()
            .unwrap()
            .ends_with("shop_api:2"),
        "{update}"
    );
    let Observation::Present { outputs, .. } = aws.until_ready(&changed).await else {
        unreachable!()
    };
    assert_eq!(outputs.latest_ready_revision.as_deref(), Some("shop_api:2"));
    assert_eq!(aws.active_revisions("shop_api").await.len(), 2);

    // The same spec again: no new revision, no write.
    aws.proxy.clear();
    aws.reconcile(&changed).await;
    assert_eq!(aws.proxy.writes(), BTreeMap::new());

    // A scaling change touches the scaling only.
    let rescaled = service(
        "api",
        "ghcr.io/acme/api:2",
        "{minInstances: 2, maxInstances: 8, metric: memory, target: 75}",
    );
    aws.proxy.clear();
    aws.reconcile(&rescaled).await;
    assert_eq!(
        aws.proxy.writes(),
        BTreeMap::from([
            ("PutScalingPolicy".to_owned(), 1),
            ("RegisterScalableTarget".to_owned(), 1)
        ])
    );
    assert_eq!(aws.scalable_target("shop_api").await, Some((2, 8)));
}

#[tokio::test]
async fn idle_resyncs_only_read_and_share_describe_calls() {
    const SERVICES: usize = 50;
    const RESYNCS: usize = 3;
    // Long enough for a whole resync of every service to fit in it (so one scaling read serves
    // fifty services), and waited out between resyncs (so each resync must read AWS again).
    const AGE: Duration = Duration::from_secs(2);
    let aws = Aws::start_with("idle", AGE).await;
    let services: Vec<ServerlessService> = (0..SERVICES)
        .map(|i| service(&format!("idle-{i:02}"), "ghcr.io/acme/idle:1", AUTOSCALED))
        .collect();
    for svc in &services {
        aws.until_ready(svc).await;
    }

    aws.proxy.clear();
    for _ in 0..RESYNCS {
        tokio::time::sleep(AGE + Duration::from_millis(50)).await;
        for svc in &services {
            let observation = aws.reconcile(svc).await;
            assert!(
                matches!(
                    observation,
                    Observation::Present {
                        up_to_date: true,
                        readiness: Readiness::Ready,
                        ..
                    }
                ),
                "{observation:?}"
            );
        }
    }
    let calls = aws.proxy.calls();
    let reads: usize = calls.values().sum();
    let per_object = reads as f64 / (SERVICES * RESYNCS) as f64;
    println!(
        "{RESYNCS} idle resyncs of {SERVICES} services: {calls:?}; {per_object:.2} AWS reads per \
         object per resync"
    );
    assert_eq!(
        aws.proxy.writes(),
        BTreeMap::new(),
        "no write when nothing changed"
    );
    // Per resync: 5 DescribeServices (10 services each) and one of each scaling call (50).
    assert!(
        per_object <= 0.15,
        "{per_object:.3} reads per object per resync: {calls:?}"
    );
    for body in aws.proxy.bodies("DescribeServices") {
        assert!(body["services"].as_array().unwrap().len() <= 10, "{body}");
    }
    for body in aws.proxy.bodies("DescribeScalableTargets") {
        assert!(
            body["ResourceIds"].as_array().unwrap().len() <= 50,
            "{body}"
        );
    }
}

#[tokio::test]
async fn delete_leaves_nothing_in_moto() {
    let aws = Aws::start("delete").await;
    let svc = service("gone", "ghcr.io/acme/gone:1", AUTOSCALED);
    aws.until_ready(&svc).await;
    // A second revision, so every revision Ferry registered must go.
    let changed = service("gone", "ghcr.io/acme/gone:2", AUTOSCALED);
    aws.until_ready(&changed).await;
    assert_eq!(aws.active_revisions("shop_gone").await.len(), 2);

    let mut rounds = 0;
    loop {
        let client = aws.client(&changed).await;
        match client.delete(&object(&changed)).await.unwrap() {
            Deletion::Gone => break,
            Deletion::InProgress => rounds += 1,
        }
        assert!(rounds < 20, "the deletion never finished");
    }
    assert!(aws.service("shop_gone").await.is_none());
    assert_eq!(
        aws.active_revisions("shop_gone").await,
        Vec::<String>::new()
    );
    assert_eq!(aws.scalable_target("shop_gone").await, None);
    assert!(aws.policies("shop_gone").await.is_empty());

    // Deleting again finds nothing and writes nothing.
    aws.proxy.clear();
    let client = aws.client(&changed).await;
    assert_eq!(
        client.delete(&object(&changed)).await.unwrap(),
        Deletion::Gone
    );
    assert_eq!(aws.proxy.writes(), BTreeMap::new());
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_without_duplicates() {
    let aws = Aws::start("faults").await;
    let svc = service("flaky", "ghcr.io/acme/flaky:1", FIXED);
    aws.proxy
        .fail("RegisterTaskDefinition", Fault::ServerError, 1);
    aws.proxy.fail("CreateService", Fault::Throttle, 1);
    aws.proxy.fail("DescribeServices", Fault::Throttle, 1);
    aws.until_ready(&svc).await;
    let calls = aws.proxy.calls();
    assert_eq!(
        calls["CreateService"], 2,
        "the throttled create was retried: {calls:?}"
    );
    assert_eq!(calls["RegisterTaskDefinition"], 2, "{calls:?}");
    assert_eq!(aws.services_in_cluster().await.len(), 1);
    assert_eq!(aws.active_revisions("shop_flaky").await.len(), 1);
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_never_makes_a_second_service() {
    let aws = Aws::start("lost").await;
    // The first answer is lost after moto made the service; the SDK's retry carries the same
    // clientToken, and ECS answers it with the service already made.
    let svc = service("once", "ghcr.io/acme/once:1", FIXED);
    aws.proxy.fail("CreateService", Fault::LostResponse, 1);
    aws.until_ready(&svc).await;
    assert_eq!(aws.services_in_cluster().await.len(), 1);

    // Every attempt's answer lost: the create fails, and the next reconcile finds the service
    // instead of making another.
    let other = service("twice", "ghcr.io/acme/twice:1", FIXED);
    aws.proxy.fail("CreateService", Fault::LostResponse, 3);
    let want = desired(&other);
    let client = aws.client(&other).await;
    assert_eq!(client.observe(&want).await.unwrap(), Observation::Absent);
    let error = client.create(&want).await.unwrap_err();
    assert!(!error.is_terminal(), "{error:?}");
    aws.until_ready(&other).await;
    assert_eq!(aws.services_in_cluster().await.len(), 2);
    // Two attempts for the first service, three for the second.
    assert_eq!(
        aws.proxy.calls()["CreateService"],
        5,
        "{:?}",
        aws.proxy.calls()
    );
    assert_eq!(aws.active_revisions("shop_twice").await.len(), 1);
}

#[tokio::test]
async fn an_attempt_that_times_out_is_retried() {
    let aws = Aws::start("timeout").await;
    let svc = service("slow", "ghcr.io/acme/slow:1", FIXED);
    aws.proxy.fail(
        "DescribeServices",
        Fault::Timeout(Duration::from_secs(6)),
        1,
    );
    aws.until_ready(&svc).await;
    assert!(aws.proxy.calls()["DescribeServices"] >= 2);
}

#[tokio::test]
async fn a_service_someone_else_made_is_name_taken_and_left_alone() {
    let aws = Aws::start("taken").await;
    let family = aws
        .ecs
        .register_task_definition()
        .family("theirs")
        .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
        .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("app")
                .image("nginx")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let arn = family
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap();
    aws.ecs
        .create_service()
        .cluster(&aws.cluster)
        .service_name("shop_taken")
        .task_definition(arn)
        .desired_count(1)
        .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
        .network_configuration(
            aws_sdk_ecs::types::NetworkConfiguration::builder()
                .awsvpc_configuration(
                    aws_sdk_ecs::types::AwsVpcConfiguration::builder()
                        .subnets("subnet-0a1b2c3d")
                        .security_groups("sg-0123abcd")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();

    let svc = service("taken", "ghcr.io/acme/taken:1", FIXED);
    let client = aws.client(&svc).await;
    match client.observe(&desired(&svc)).await {
        Err(ProviderError::Terminal {
            reason, message, ..
        }) => {
            assert_eq!(reason, reasons::NAME_TAKEN);
            assert!(message.contains("shop_taken"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    aws.proxy.clear();
    assert_eq!(client.delete(&object(&svc)).await.unwrap(), Deletion::Gone);
    assert_eq!(
        aws.proxy.writes(),
        BTreeMap::new(),
        "someone else's service is not touched"
    );
    assert!(aws.service("shop_taken").await.is_some());
}

#[tokio::test]
async fn a_failed_rollout_is_reported_with_the_reason_ecs_gives_and_not_retried() {
    let aws = Aws::start("failing").await;
    let svc = service("broken", "ghcr.io/acme/fail-rollout:1", FIXED);
    let mut failed = None;
    for _ in 0..20 {
        if let Observation::Present {
            readiness: Readiness::Failed { reason, message },
            up_to_date,
            ..
        } = aws.reconcile(&svc).await
        {
            assert!(up_to_date, "a failed revision is not deployed again");
            failed = Some((reason, message));
            break;
        }
    }
    let (reason, message) = failed.expect("the rollout failed");
    assert_eq!(reason, reasons::CONTAINER_FAILED, "{message}");
    assert!(message.contains("circuit breaker"), "{message}");
    aws.proxy.clear();
    aws.reconcile(&svc).await;
    assert_eq!(aws.proxy.writes(), BTreeMap::new());
}

#[tokio::test]
async fn an_orphaned_service_is_left_running_and_adopted_by_the_next_object_of_its_name() {
    let aws = Aws::start("orphan").await;
    let svc = service("kept", "ghcr.io/acme/kept:1", FIXED);
    aws.until_ready(&svc).await;

    aws.proxy.clear();
    let client = aws.client(&svc).await;
    client.release(&object(&svc)).await.unwrap();
    assert_eq!(
        aws.proxy.writes(),
        BTreeMap::from([("UntagResource".to_owned(), 1)]),
        "releasing only drops the UID tag"
    );
    let kept = aws
        .service("shop_kept")
        .await
        .expect("the service keeps running");
    let kept_tags = tags(kept.tags());
    assert!(!kept_tags.contains_key("ferry.dev/uid"), "{kept_tags:?}");
    assert_eq!(kept_tags["ferry.dev/managed-by"], "ferry");

    // A new object of the same name (another UID) takes the service over: no NameTaken, no
    // second service, its UID tag on the service.
    let mut again = svc.clone();
    again.metadata.uid = Some("uid-kept-again".into());
    aws.until_ready(&again).await;
    assert_eq!(aws.services_in_cluster().await.len(), 1);
    let adopted = aws.service("shop_kept").await.unwrap();
    assert_eq!(tags(adopted.tags())["ferry.dev/uid"], "uid-kept-again");
}
