//! Injected faults, as the client sees them, and what the fake records.

use std::collections::BTreeMap;
use std::time::Duration;

use cloudrun_fake::{CloudRunFake, Fault};
use google_cloud_gax::error::rpc::{Code, StatusDetails};

use crate::support::{client, create, get, name, parent, retrying_client, service, wait};

#[tokio::test]
async fn resource_exhausted_carries_the_delay_to_retry_after() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = fake.project("throttled");
    let client = client(fake).await;
    project
        .fail("CreateService", Fault::Status(429), 1)
        .await
        .unwrap();

    let error = client
        .create_service()
        .set_parent(parent(project.id()))
        .set_service_id("web")
        .set_service(service("nginx:1"))
        .send()
        .await
        .unwrap_err();

    assert_eq!(error.http_status_code(), Some(429));
    let status = error.status().unwrap();
    assert_eq!(status.code, Code::ResourceExhausted);
    let delay = status
        .details
        .iter()
        .find_map(|detail| match detail {
            StatusDetails::RetryInfo(info) => info.retry_delay,
            _ => None,
        })
        .expect("a RetryInfo detail");
    assert_eq!(Duration::try_from(delay).unwrap(), Duration::from_secs(2));

    // The faulted call was not carried out: the service can be created now.
    create(&client, project.id(), "web", "nginx:1").await;
    let requests = project.requests().await.unwrap();
    let faults: Vec<_> = requests.iter().map(|r| (r.status, r.fault)).collect();
    assert_eq!(faults, [(429, Some(Fault::Status(429))), (200, None)]);
}

#[tokio::test]
async fn lost_create_answer_leaves_the_service_and_a_retry_finds_it_exists() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = fake.project("lost-create");
    let client = client(fake).await;
    project
        .fail("CreateService", Fault::LostResponse, 1)
        .await
        .unwrap();

    let lost = client
        .create_service()
        .set_parent(parent(project.id()))
        .set_service_id("web")
        .set_service(service("nginx:1"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(lost.http_status_code(), Some(503));
    assert_eq!(lost.status().unwrap().code, Code::Unavailable);

    let again = client
        .create_service()
        .set_parent(parent(project.id()))
        .set_service_id("web")
        .set_service(service("nginx:1"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.status().unwrap().code, Code::AlreadyExists);

    // Without its operation's name, reading the service is what moves it on.
    get(&client, project.id(), "web").await;
    let service = get(&client, project.id(), "web").await;
    assert!(!service.reconciling);
    assert_eq!(service.observed_generation, 1);
    assert_eq!(
        project.writes().await.unwrap(),
        BTreeMap::from([("CreateService".to_owned(), 2)])
    );
}

#[tokio::test]
async fn unavailable_reads_are_retried_by_the_default_policy() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = fake.project("unavailable-get");
    let client = retrying_client(fake).await;
    wait(
        &client,
        create(&client, project.id(), "web", "nginx:1").await,
    )
    .await;
    project
        .fail("GetService", Fault::Status(503), 2)
        .await
        .unwrap();

    get(&client, project.id(), "web").await;

    assert_eq!(project.calls().await.unwrap().get("GetService"), Some(&3));
    project.fail("*", Fault::Status(500), 1).await.unwrap();
    let error = client
        .get_service()
        .set_name(name(project.id(), "web"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.status().unwrap().code, Code::Internal, "not retried");
}

#[tokio::test]
async fn requests_are_recorded_with_their_query_and_body_per_project() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = fake.project("recorded");
    let client = client(fake).await;

    wait(
        &client,
        create(&client, project.id(), "web", "nginx:1").await,
    )
    .await;

    let requests = project.requests().await.unwrap();
    let create = &requests[0];
    assert_eq!(
        (create.method.as_str(), create.http_method.as_str()),
        ("CreateService", "POST")
    );
    assert_eq!(
        create.path,
        format!("/v2/{}/services", parent(project.id()))
    );
    assert_eq!(create.param("serviceId"), Some("web"));
    assert_eq!(create.param("$alt"), Some("json;enum-encoding=int"));
    assert_eq!(create.body["template"]["containers"][0]["image"], "nginx:1");
    assert_eq!(
        project.calls().await.unwrap(),
        BTreeMap::from([
            ("CreateService".to_owned(), 1),
            ("GetOperation".to_owned(), fake.operation_polls()),
        ])
    );

    // Each call carries when it arrived; a follower asks only for the calls it has not seen.
    let started = std::time::SystemTime::now() - Duration::from_secs(60);
    assert!(requests.iter().all(|r| r.at > started), "{requests:?}");
    assert!(requests.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(project.requests_after(1).await.unwrap(), requests[1..]);
    assert_eq!(project.requests_after(requests.len()).await.unwrap(), []);

    project.clear().await.unwrap();
    assert_eq!(project.requests().await.unwrap(), []);
}
