//! A fake of one's own: options, reset, and a clear failure without the definitions.

use std::path::PathBuf;

use azure_fake::{AzureFake, Error, Options};
use http::{Method, StatusCode};

use crate::support::{GROUP, app, put};

#[tokio::test]
async fn with_no_polls_operations_are_done_at_once_and_retry_after_is_as_told() {
    let fake = AzureFake::start_with(Options {
        operation_polls: 0,
        retry_after: 3,
        ..Options::default()
    })
    .await
    .unwrap();
    let subscription = fake.subscription("own");
    let url = subscription.container_app_url(GROUP, "web");

    let created = put(&fake, &url, &app("nginx:1", "v1")).await;

    assert_eq!(created.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(created.header("retry-after"), Some("3"));
    let status = fake
        .follow(created.header("azure-asyncoperation").unwrap())
        .await
        .unwrap();
    assert_eq!(status.body["status"], "Succeeded");

    fake.reset().await.unwrap();
    let after = fake.send_raw(Method::GET, &url, None).await.unwrap();
    assert_eq!(after.status, StatusCode::NOT_FOUND);
    assert!(
        fake.requests().await.unwrap().len() == 1,
        "reset forgot the calls"
    );
}

#[tokio::test]
async fn without_the_definitions_the_fake_says_where_it_looked() {
    let error = AzureFake::start_with(Options {
        specs: Some(PathBuf::from("/nonexistent/azure-specs")),
        ..Options::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(error, Error::Specs { .. }), "{error}");
    assert!(error.to_string().contains("FERRY_SHARED_DIR"), "{error}");
}
