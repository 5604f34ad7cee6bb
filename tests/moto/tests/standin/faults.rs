//! The proxy's counts and faults, as the SDK's retries see them.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ecs::error::ProvideErrorMetadata;
use moto_standin::{Fault, Proxy};
use serde_json::json;

use crate::support::{aws, aws_with, quick_retries, retrying_aws};

#[tokio::test]
async fn throttled_call_is_retried_and_both_attempts_are_counted() {
    let aws = retrying_aws().await;
    aws.proxy.fail("CreateCluster", Fault::Throttle, 1);

    aws.ecs
        .create_cluster()
        .cluster_name("throttled")
        .send()
        .await
        .unwrap();

    assert_eq!(aws.proxy.calls().get("CreateCluster"), Some(&2));
    let requests = aws.proxy.requests();
    let faults: Vec<_> = requests.iter().map(|r| r.fault).collect();
    assert_eq!(faults, [Some(Fault::Throttle), None]);
    // Each request carries when it arrived; a follower asks only for those it has not seen.
    assert!(requests[0].at <= requests[1].at);
    assert_eq!(aws.proxy.requests_after(1), requests[1..]);
    assert_eq!(aws.proxy.requests_after(2), []);
}

#[tokio::test]
async fn throttling_is_what_the_sdk_reports_when_it_does_not_retry() {
    let aws = aws().await;
    aws.proxy.fail("ListClusters", Fault::Throttle, 1);

    let error = aws.ecs.list_clusters().send().await.unwrap_err();
    assert_eq!(error.code(), Some("ThrottlingException"));
    assert_eq!(error.message(), Some("Rate exceeded"));
    aws.ecs.list_clusters().send().await.unwrap();
    assert_eq!(aws.proxy.calls().get("ListClusters"), Some(&2));
}

#[tokio::test]
async fn server_error_is_the_services_modelled_exception_and_is_retried() {
    let aws = aws().await;
    aws.proxy.fail("ListClusters", Fault::ServerError, 1);
    let error = aws
        .ecs
        .list_clusters()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(error.is_server_exception(), "{error:?}");

    aws.proxy
        .fail("DescribeScalableTargets", Fault::ServerError, 1);
    let error = aws
        .scaling
        .describe_scalable_targets()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(error.is_internal_service_exception(), "{error:?}");

    let retrying = retrying_aws().await;
    retrying.proxy.fail("ListClusters", Fault::ServerError, 2);
    retrying.ecs.list_clusters().send().await.unwrap();
    assert_eq!(retrying.proxy.calls().get("ListClusters"), Some(&3));
}

#[tokio::test]
async fn lost_create_service_answer_is_retried_into_the_one_service_it_created() {
    let aws = retrying_aws().await;
    let cluster = "lost-response";
    let task_definition = aws.cluster_and_task_definition(cluster, "nginx:1").await;
    aws.proxy.fail("CreateService", Fault::LostResponse, 1);

    let created = aws
        .ecs
        .create_service()
        .cluster(cluster)
        .service_name("web")
        .task_definition(&task_definition)
        .desired_count(1)
        .client_token("ferry-web-1")
        .send()
        .await
        .unwrap()
        .service
        .unwrap();

    assert_eq!(created.service_name(), Some("web"));
    assert_eq!(aws.proxy.calls().get("CreateService"), Some(&2));
    let tokens: Vec<_> = aws
        .proxy
        .bodies("CreateService")
        .iter()
        .map(|b| b["clientToken"].clone())
        .collect();
    assert_eq!(tokens, [json!("ferry-web-1"), json!("ferry-web-1")]);
    let listed = aws
        .ecs
        .list_services()
        .cluster(cluster)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.service_arns(),
        [created.service_arn().unwrap().to_owned()]
    );
}

#[tokio::test]
async fn lost_answer_without_retries_still_took_effect() {
    let aws = aws().await;
    aws.proxy.fail("CreateCluster", Fault::LostResponse, 1);

    let error = aws
        .ecs
        .create_cluster()
        .cluster_name("lost-cluster")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(503));
    let clusters = aws
        .ecs
        .describe_clusters()
        .clusters("lost-cluster")
        .send()
        .await
        .unwrap();
    assert_eq!(clusters.clusters()[0].status(), Some("ACTIVE"));
}

#[tokio::test]
async fn held_answer_times_the_attempt_out_and_the_retry_succeeds() {
    let timeouts = TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_millis(300))
        .build();
    let aws = aws_with(quick_retries(), timeouts).await;
    aws.proxy
        .fail("ListClusters", Fault::Timeout(Duration::from_secs(2)), 1);

    aws.ecs.list_clusters().send().await.unwrap();
    assert_eq!(aws.proxy.calls().get("ListClusters"), Some(&2));
}

#[tokio::test]
async fn wildcard_faults_apply_to_every_operation_until_used_up() {
    let aws = aws_with(RetryConfig::disabled(), TimeoutConfig::disabled()).await;
    aws.proxy.fail("*", Fault::ServerError, 2);

    assert!(aws.ecs.list_clusters().send().await.is_err());
    assert!(aws.ecs.list_task_definitions().send().await.is_err());
    aws.ecs.list_clusters().send().await.unwrap();
}

#[tokio::test]
async fn proxy_records_bodies_and_tells_writes_from_reads() {
    let aws = aws().await;
    let cluster = "recording";
    let task_definition = aws.cluster_and_task_definition(cluster, "nginx:1").await;
    aws.create_service(cluster, "web", &task_definition, 1)
        .await;
    aws.describe(cluster, "web").await;

    let describes = aws.proxy.bodies("DescribeServices");
    assert_eq!(
        describes,
        [json!({"cluster": cluster, "services": ["web"], "include": ["TAGS"]})]
    );
    let writes: Vec<_> = aws.proxy.writes().into_keys().collect();
    assert_eq!(
        writes,
        ["CreateCluster", "CreateService", "RegisterTaskDefinition"]
    );
    assert_eq!(aws.proxy.calls().get("DescribeServices"), Some(&1));

    aws.proxy.clear();
    assert!(aws.proxy.calls().is_empty());
}

#[test]
fn proxy_refuses_an_upstream_it_cannot_reach_by_plain_http() {
    for upstream in ["https://127.0.0.1:1", "127.0.0.1", "http://127.0.0.1"] {
        assert!(Proxy::start(upstream).is_err(), "{upstream}");
    }
}

#[tokio::test]
async fn proxy_answers_bad_gateway_when_moto_is_gone() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", unused.local_addr().unwrap());
    drop(unused);
    let proxy = Proxy::start(&endpoint).unwrap();
    let config = crate::support::sdk_config(
        &proxy.endpoint(),
        RetryConfig::disabled(),
        TimeoutConfig::disabled(),
    )
    .await;

    let error = aws_sdk_ecs::Client::new(&config)
        .list_clusters()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(502));
    assert_eq!(proxy.calls().get("ListClusters"), Some(&1));
}
