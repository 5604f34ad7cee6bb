//! Fakes of their own: other options, and the process going away.

use cloudrun_fake::{CloudRunFake, Fault, Options};

use crate::support::{client, create, get, service_of};

#[tokio::test]
async fn with_no_polls_operations_are_done_at_once() {
    let fake = CloudRunFake::start_with(Options {
        operation_polls: 0,
        ..Options::default()
    })
    .await
    .unwrap();
    let client = client(&fake).await;

    let operation = create(&client, "no-polls", "web", "nginx:1").await;

    assert!(operation.done);
    assert!(!service_of(&operation).reconciling);
    assert!(!get(&client, "no-polls", "web").await.reconciling);
}

#[tokio::test]
async fn reset_forgets_everything_and_drop_stops_the_server() {
    let fake = CloudRunFake::start().await.unwrap();
    let client = client(&fake).await;
    create(&client, "reset", "web", "nginx:1").await;
    fake.fail("*", Fault::Status(500), 5).await.unwrap();

    fake.reset().await.unwrap();

    assert_eq!(fake.requests().await.unwrap(), []);
    let error = client
        .get_service()
        .set_name("projects/reset/locations/europe-west1/services/web")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error.http_status_code(),
        Some(404),
        "no fault left, no service"
    );
    let endpoint = fake.endpoint();
    drop(fake);
    let refused = tokio::net::TcpStream::connect(endpoint.trim_start_matches("http://")).await;
    assert!(refused.is_err(), "the server is gone");
}

#[tokio::test]
async fn missing_interpreter_is_a_spawn_error() {
    let error = CloudRunFake::start_with(Options {
        python: Some("/nonexistent/python3".to_owned()),
        ..Options::default()
    })
    .await
    .unwrap_err();

    assert!(
        matches!(
            error,
            cloudrun_fake::Error::Launch(ferry_testkit::launch::Error::Spawn { .. })
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("google-cloud-run==0.16.1"),
        "{error}"
    );
}
