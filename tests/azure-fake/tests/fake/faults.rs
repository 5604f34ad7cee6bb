//! Injected faults, per subscription, and what the fake records.

use std::collections::BTreeMap;
use std::time::Duration;

use azure_fake::Fault;
use http::{Method, StatusCode};

use crate::support::{GROUP, app, fake, get, put, refusal, send, wait};

#[tokio::test]
async fn throttling_answers_429_with_retry_after_and_changes_nothing() {
    let fake = fake().await;
    let subscription = fake.subscription("throttled");
    let url = subscription.container_app_url(GROUP, "web");
    subscription
        .fail(
            "ContainerApps_CreateOrUpdate",
            Fault::Throttled { retry_after: 7 },
            1,
        )
        .await
        .unwrap();

    let answer = send(fake, Method::PUT, &url, Some(&app("nginx:1", "v1"))).await;

    assert_eq!(
        refusal(&answer, StatusCode::TOO_MANY_REQUESTS).code,
        "SubscriptionRequestsThrottled"
    );
    assert_eq!(answer.header("retry-after"), Some("7"));
    assert_eq!(
        get(fake, &url).await.status,
        StatusCode::NOT_FOUND,
        "not carried out"
    );
    assert_eq!(
        put(fake, &url, &app("nginx:1", "v1")).await.status,
        StatusCode::CREATED
    );
    let faults: Vec<_> = subscription
        .requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.operation == "ContainerApps_CreateOrUpdate")
        .map(|r| (r.status, r.fault))
        .collect();
    assert_eq!(
        faults,
        [
            (Some(429), Some(Fault::Throttled { retry_after: 7 })),
            (Some(201), None)
        ]
    );

    subscription
        .fail("ContainerApps_Get", Fault::Status(429), 1)
        .await
        .unwrap();
    assert_eq!(get(fake, &url).await.header("retry-after"), Some("1"));
}

#[tokio::test]
async fn server_errors_have_arm_codes_and_are_not_carried_out() {
    let fake = fake().await;
    let subscription = fake.subscription("server-errors");
    let url = subscription.container_app_url(GROUP, "web");
    for (status, code) in [
        (500, "InternalServerError"),
        (503, "ServiceUnavailable"),
        (504, "GatewayTimeout"),
    ] {
        subscription
            .fail("*", Fault::Status(status), 1)
            .await
            .unwrap();
        let answer = send(fake, Method::PUT, &url, Some(&app("nginx:1", "v1"))).await;
        assert_eq!(answer.status.as_u16(), status);
        assert_eq!(answer.arm_error().unwrap().code, code);
    }
    assert_eq!(get(fake, &url).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_lost_answer_leaves_the_write_done() {
    let fake = fake().await;
    let subscription = fake.subscription("lost-answer");
    let url = subscription.container_app_url(GROUP, "web");
    subscription
        .fail("ContainerApps_CreateOrUpdate", Fault::Lost, 1)
        .await
        .unwrap();

    let lost = fake
        .send_raw(Method::PUT, &url, Some(&app("nginx:1", "v1")))
        .await;

    assert!(lost.is_err(), "no answer: {lost:?}");
    let read = get(fake, &url).await;
    assert_eq!(read.status, StatusCode::OK, "the write took effect");
    assert_eq!(read.body["properties"]["latestRevisionName"], "web--v1");
    let recorded = &subscription.requests().await.unwrap()[0];
    assert_eq!((recorded.status, recorded.fault), (None, Some(Fault::Lost)));
}

#[tokio::test]
async fn a_timeout_keeps_the_caller_waiting_and_changes_nothing() {
    let fake = fake().await;
    let subscription = fake.subscription("timeout");
    let url = subscription.container_app_url(GROUP, "web");
    subscription
        .fail("ContainerApps_CreateOrUpdate", Fault::Timeout, 1)
        .await
        .unwrap();

    let waited = tokio::time::timeout(
        Duration::from_millis(300),
        fake.send_raw(Method::PUT, &url, Some(&app("nginx:1", "v1"))),
    )
    .await;

    assert!(waited.is_err(), "answered: {waited:?}");
    assert_eq!(get(fake, &url).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn faults_calls_and_writes_stay_within_their_subscription() {
    let fake = fake().await;
    let mine = fake.subscription("counting-mine");
    let theirs = fake.subscription("counting-theirs");
    mine.fail("*", Fault::Status(503), 5).await.unwrap();

    let url = theirs.container_app_url(GROUP, "web");
    let (_, polls) = wait(fake, &put(fake, &url, &app("nginx:1", "v1")).await).await;
    get(fake, &url).await;

    assert_eq!(
        theirs.calls().await.unwrap(),
        BTreeMap::from([
            ("ContainerApps_CreateOrUpdate".to_owned(), 1),
            ("ContainerApps_Get".to_owned(), 1),
            ("OperationStatus_Get".to_owned(), polls),
        ])
    );
    assert_eq!(
        theirs.writes().await.unwrap(),
        BTreeMap::from([("ContainerApps_CreateOrUpdate".to_owned(), 1)])
    );
    assert!(mine.requests().await.unwrap().is_empty());
    let first = &theirs.requests().await.unwrap()[0];
    assert_eq!(first.http_method, "PUT");
    assert_eq!(first.param("api-version"), Some("2026-01-01"));
    assert_eq!(first.body["properties"]["template"]["revisionSuffix"], "v1");
    assert_eq!(first.subscription.as_deref(), Some(theirs.id()));

    theirs.clear().await.unwrap();
    assert!(theirs.requests().await.unwrap().is_empty());
    let answer = get(fake, &mine.container_app_url(GROUP, "web")).await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "still pending in mine"
    );
    mine.clear().await.unwrap();
    let answer = get(fake, &mine.container_app_url(GROUP, "web")).await;
    assert_eq!(
        answer.status,
        StatusCode::NOT_FOUND,
        "clear forgot the faults"
    );
}
