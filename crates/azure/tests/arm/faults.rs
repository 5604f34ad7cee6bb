//! Throttling, server errors, lost answers and timeouts: retried within the call's budget, else
//! classified for the controller.

use std::time::{Duration, Instant};

use azure_fake::{AzureFake, Fault};
use ferry_api::CredentialsSource;
use ferry_azure::{Arm, ArmSettings, arm_error_of};
use ferry_provider::ProviderError;

use crate::support::{APPS_API, anonymous, app, app_id, config, fake, settings};

#[tokio::test]
async fn throttling_is_retried_after_retry_after() {
    let fake = fake().await;
    let subscription = fake.subscription("arm-throttled-once");
    subscription
        .fail("ContainerApps_Get", Fault::Throttled { retry_after: 1 }, 1)
        .await
        .unwrap();
    let arm = anonymous(fake, subscription.id());
    let started = Instant::now();
    assert_eq!(
        arm.get(&app_id(subscription.id(), "web"), APPS_API)
            .await
            .unwrap(),
        None
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    let statuses: Vec<_> = subscription
        .requests()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [Some(429), Some(404)]);
}

#[tokio::test]
async fn a_retry_after_longer_than_the_call_goes_back_to_the_controller() {
    let fake = fake().await;
    let subscription = fake.subscription("arm-throttled-long");
    subscription
        .fail(
            "ContainerApps_Get",
            Fault::Throttled { retry_after: 120 },
            1,
        )
        .await
        .unwrap();
    let arm = anonymous(fake, subscription.id());
    let started = Instant::now();
    let error = arm
        .get(&app_id(subscription.id(), "web"), APPS_API)
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    match &error {
        ProviderError::Throttled { retry_after, .. } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(120)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        arm_error_of(&error).unwrap().code,
        "SubscriptionRequestsThrottled"
    );
    assert_eq!(
        subscription.calls().await.unwrap().get("ContainerApps_Get"),
        Some(&1)
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_transient() {
    let fake = fake().await;
    let subscription = fake.subscription("arm-server-errors");
    let arm = anonymous(fake, subscription.id());
    let id = app_id(subscription.id(), "web");

    subscription
        .fail("ContainerApps_Get", Fault::Status(503), 1)
        .await
        .unwrap();
    assert_eq!(arm.get(&id, APPS_API).await.unwrap(), None);
    assert_eq!(
        subscription.calls().await.unwrap().get("ContainerApps_Get"),
        Some(&2)
    );

    subscription.clear().await.unwrap();
    subscription
        .fail("ContainerApps_Get", Fault::Status(500), 3)
        .await
        .unwrap();
    let error = arm.get(&id, APPS_API).await.unwrap_err();
    assert!(
        matches!(error, ProviderError::Transient { .. }),
        "{error:?}"
    );
    assert_eq!(arm_error_of(&error).unwrap().code, "InternalServerError");
    assert_eq!(
        subscription.calls().await.unwrap().get("ContainerApps_Get"),
        Some(&3),
        "three attempts, then the controller's backoff"
    );
}

#[tokio::test]
async fn a_put_whose_answer_was_lost_is_not_duplicated_by_its_retry() {
    let fake = fake().await;
    let subscription = fake.subscription("arm-lost-put");
    subscription
        .fail("ContainerApps_CreateOrUpdate", Fault::Lost, 1)
        .await
        .unwrap();
    let arm = anonymous(fake, subscription.id());
    let id = app_id(subscription.id(), "web");
    // The first PUT took effect and its operation is running: the retried PUT of the same
    // body is refused as a conflict with it, which is a short wait for the controller.
    let error = arm
        .put(&id, APPS_API, &app(subscription.id(), "nginx"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::Transient { .. }),
        "{error:?}"
    );
    assert_eq!(
        arm_error_of(&error).unwrap().code,
        "ContainerAppOperationInProgress"
    );

    let collection = format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.App/containerApps",
        subscription.id()
    );
    let apps = arm.list(&collection, APPS_API).await.unwrap();
    assert_eq!(apps.len(), 1, "one app, whatever the retries");
    let puts: Vec<_> = subscription
        .requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.operation == "ContainerApps_CreateOrUpdate")
        .map(|r| r.status)
        .collect();
    assert_eq!(puts, [None, Some(409)]);
    // Once the first operation is done, the same PUT goes through as an update.
    assert!(arm.get(&id, APPS_API).await.unwrap().is_some());
    assert!(arm.get(&id, APPS_API).await.unwrap().is_some());
    let updated = arm
        .put(&id, APPS_API, &app(subscription.id(), "nginx"))
        .await
        .unwrap();
    assert_eq!(updated.status, 200);
    assert_eq!(arm.list(&collection, APPS_API).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_hung_call_is_retried_and_a_hung_endpoint_is_transient() {
    let fake = fake().await;
    let subscription = fake.subscription("arm-timeouts");
    let impatient = ArmSettings {
        attempts: 2,
        call_timeout: Duration::from_secs(3),
        attempt_timeout: Duration::from_millis(400),
        ..settings()
    };
    let arm = Arm::new(
        &config(fake, subscription.id(), CredentialsSource::Anonymous),
        None,
        &impatient,
    )
    .unwrap();
    let id = app_id(subscription.id(), "web");

    subscription
        .fail("ContainerApps_Get", Fault::Timeout, 1)
        .await
        .unwrap();
    let started = Instant::now();
    assert_eq!(arm.get(&id, APPS_API).await.unwrap(), None);
    assert!(started.elapsed() < Duration::from_secs(3));

    subscription
        .fail("ContainerApps_Get", Fault::Timeout, 2)
        .await
        .unwrap();
    let started = Instant::now();
    let error = arm.get(&id, APPS_API).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    match error {
        ProviderError::Transient { message, .. } => {
            assert!(message.contains("no answer within"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_closed_endpoint_is_transient() {
    // A port nothing listens on: the connection is refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let fake: &AzureFake = fake().await;
    let mut config = config(
        fake,
        fake.subscription("arm-closed").id(),
        CredentialsSource::Anonymous,
    );
    config.endpoint = Some(format!("http://127.0.0.1:{port}"));
    let arm = Arm::new(&config, None, &settings()).unwrap();
    let error = arm
        .get(&app_id(arm.subscription_id(), "web"), APPS_API)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::Transient { .. }),
        "{error:?}"
    );
}
