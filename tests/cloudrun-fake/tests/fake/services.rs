//! Services and their operations, as the client sees them.

use cloudrun_fake::CloudRunFake;
use google_cloud_gax::error::rpc::Code;
use google_cloud_longrunning::model::operation::Result as Outcome;
use google_cloud_run_v2::model::condition::{CommonReason, Reasons, RevisionReason, State};
use google_cloud_run_v2::model::{Container, RevisionTemplate, TrafficTargetAllocationType};

use crate::support::{client, create, get, name, parent, service, service_of, wait};

#[tokio::test]
async fn created_service_becomes_ready_after_the_operation_is_polled() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "created-ready";
    let client = client(fake).await;

    let operation = create(&client, project, "web", "nginx:1").await;
    assert!(!operation.done);
    assert!(
        operation
            .name
            .starts_with(&format!("{}/operations/", parent(project))),
        "{}",
        operation.name
    );
    let pending = service_of(&operation);
    assert_eq!(pending.name, name(project, "web"));
    assert_eq!(pending.generation, 1);
    assert!(pending.reconciling);
    assert_eq!(
        pending.terminal_condition.as_ref().unwrap().state,
        State::ConditionPending
    );

    let (operation, polls) = wait(&client, operation).await;
    assert_eq!(polls, fake.operation_polls());
    assert!(matches!(operation.result, Some(Outcome::Response(_))));

    let service = get(&client, project, "web").await;
    assert_eq!(service, service_of(&operation), "the answer is the service");
    let ready = service.terminal_condition.as_ref().unwrap();
    assert_eq!(
        (ready.r#type.as_str(), &ready.state),
        ("Ready", &State::ConditionSucceeded)
    );
    assert!(ready.last_transition_time.is_some());
    assert!(!service.reconciling);
    assert_eq!(service.observed_generation, service.generation);
    assert!(
        service.latest_ready_revision.starts_with("web-00001-"),
        "{}",
        service.latest_ready_revision
    );
    assert_eq!(
        service.latest_ready_revision,
        service.latest_created_revision
    );
    assert!(service.uri.starts_with("https://web-") && service.uri.ends_with(".a.run.app"));
    assert!(service.urls.contains(&service.uri));
    assert!(!service.uid.is_empty() && !service.etag.is_empty());
    assert_eq!(service.traffic_statuses.len(), 1);
    let traffic = &service.traffic_statuses[0];
    assert_eq!(
        (&traffic.r#type, traffic.percent),
        (&TrafficTargetAllocationType::Latest, 100)
    );
    let kinds: Vec<_> = service
        .conditions
        .iter()
        .map(|c| c.r#type.as_str())
        .collect();
    assert_eq!(kinds, ["RoutesReady", "ConfigurationsReady"]);
    assert!(
        service
            .conditions
            .iter()
            .all(|c| c.state == State::ConditionSucceeded)
    );
}

#[tokio::test]
async fn reading_the_service_also_moves_its_rollout_on() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "observed-by-get";
    let client = client(fake).await;
    create(&client, project, "web", "nginx:1").await;

    let first = get(&client, project, "web").await;
    assert!(first.reconciling);
    assert_eq!(
        first.terminal_condition.unwrap().state,
        State::ConditionReconciling
    );
    let second = get(&client, project, "web").await;
    assert!(!second.reconciling);
    assert_eq!(second.observed_generation, 1);
}

#[tokio::test]
async fn update_needs_the_current_etag_and_makes_a_new_generation() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "update-etag";
    let client = client(fake).await;
    wait(&client, create(&client, project, "web", "nginx:1").await).await;
    let current = get(&client, project, "web").await;

    let stale = current.clone().set_etag("\"stale\"").set_template(
        RevisionTemplate::new().set_containers([Container::new().set_image("nginx:2")]),
    );
    let error = client
        .update_service()
        .set_service(stale)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.http_status_code(), Some(409));
    assert_eq!(error.status().unwrap().code, Code::Aborted);

    // The service as read, fields set by the server included, goes back unchanged but for
    // its image: all of it parses.
    let mut changed = current.clone();
    changed.template.as_mut().unwrap().containers[0].image = "nginx:2".to_owned();
    let operation = client
        .update_service()
        .set_service(changed)
        .send()
        .await
        .unwrap();
    let (operation, _) = wait(&client, operation).await;
    let updated = service_of(&operation);
    assert_eq!(updated.generation, 2);
    assert_eq!(updated.observed_generation, 2);
    assert_ne!(updated.etag, current.etag);
    assert!(updated.latest_ready_revision.starts_with("web-00002-"));
    assert_eq!(
        updated.template.as_ref().unwrap().containers[0].image,
        "nginx:2",
        "the new template is kept"
    );
    assert_eq!(updated.uid, current.uid);

    // A change outside the template makes a generation but no revision.
    let labelled = updated.clone().set_labels([("team", "web")]);
    let operation = client
        .update_service()
        .set_service(labelled)
        .send()
        .await
        .unwrap();
    let relabelled = service_of(&wait(&client, operation).await.0);
    assert_eq!(relabelled.generation, 3);
    assert_eq!(
        relabelled.latest_created_revision,
        updated.latest_created_revision
    );
    assert_eq!(
        relabelled.labels.get("team").map(String::as_str),
        Some("web")
    );
}

#[tokio::test]
async fn updating_a_missing_service_creates_it_only_when_allowed() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "update-missing";
    let client = client(fake).await;
    let missing = service("nginx:1").set_name(name(project, "web"));

    let error = client
        .update_service()
        .set_service(missing.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.status().unwrap().code, Code::NotFound);

    let operation = client
        .update_service()
        .set_service(missing)
        .set_allow_missing(true)
        .send()
        .await
        .unwrap();
    let (operation, _) = wait(&client, operation).await;
    assert_eq!(service_of(&operation).generation, 1);
}

#[tokio::test]
async fn deleted_service_is_gone_at_once_and_its_operation_finishes_later() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "delete";
    let client = client(fake).await;
    wait(&client, create(&client, project, "web", "nginx:1").await).await;

    let stale = client
        .delete_service()
        .set_name(name(project, "web"))
        .set_etag("\"stale\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(stale.status().unwrap().code, Code::Aborted);
    let etag = get(&client, project, "web").await.etag;

    let operation = client
        .delete_service()
        .set_name(name(project, "web"))
        .set_etag(etag)
        .send()
        .await
        .unwrap();
    assert!(!operation.done);
    let error = client
        .get_service()
        .set_name(name(project, "web"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.status().unwrap().code, Code::NotFound);

    let (operation, polls) = wait(&client, operation).await;
    assert_eq!(polls, fake.operation_polls());
    let deleted = service_of(&operation);
    assert_eq!(deleted.name, name(project, "web"));
    assert!(deleted.delete_time.is_some());

    let again = client
        .delete_service()
        .set_name(name(project, "web"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.http_status_code(), Some(404));
}

#[tokio::test]
async fn getting_a_missing_service_is_not_found() {
    let fake = CloudRunFake::shared().await.unwrap();
    let client = client(fake).await;

    let error = client
        .get_service()
        .set_name(name("missing", "nothing"))
        .send()
        .await
        .unwrap_err();

    assert_eq!(error.http_status_code(), Some(404));
    let status = error.status().unwrap();
    assert_eq!(status.code, Code::NotFound);
    assert!(status.message.contains("'nothing'"), "{}", status.message);
}

#[tokio::test]
async fn creating_an_existing_service_is_already_exists() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "create-twice";
    let client = client(fake).await;
    create(&client, project, "web", "nginx:1").await;

    let error = client
        .create_service()
        .set_parent(parent(project))
        .set_service_id("web")
        .set_service(service("nginx:1"))
        .send()
        .await
        .unwrap_err();

    assert_eq!(error.http_status_code(), Some(409));
    assert_eq!(error.status().unwrap().code, Code::AlreadyExists);
}

#[tokio::test]
async fn revision_that_does_not_start_fails_the_operation_and_the_service() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "fail-revision";
    let client = client(fake).await;

    let (operation, _) = wait(
        &client,
        create(
            &client,
            project,
            "web",
            "registry.example/app:fail-revision",
        )
        .await,
    )
    .await;

    let Some(Outcome::Error(status)) = &operation.result else {
        panic!("the operation should fail: {operation:?}");
    };
    assert_eq!(status.code, 9, "FAILED_PRECONDITION");
    assert!(
        status
            .message
            .contains("is not ready and cannot serve traffic"),
        "{}",
        status.message
    );
    let service = get(&client, project, "web").await;
    assert!(!service.reconciling);
    let ready = service.terminal_condition.unwrap();
    assert_eq!(ready.state, State::ConditionFailed);
    assert_eq!(ready.message, status.message);
    assert_eq!(
        ready.reasons,
        Some(Reasons::RevisionReason(
            RevisionReason::HealthCheckContainerError
        ))
    );
    // Nothing ever served: the fields of the last serving revision stay empty.
    assert_eq!(service.observed_generation, 0);
    assert_eq!(service.latest_ready_revision, "");
    assert!(service.latest_created_revision.starts_with("web-00001-"));
}

#[tokio::test]
async fn missing_image_fails_with_container_missing() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "missing-image";
    let client = client(fake).await;
    wait(&client, create(&client, project, "web", "nginx:1").await).await;
    let mut broken = get(&client, project, "web").await;
    broken.template.as_mut().unwrap().containers[0].image =
        "registry.example/missing-image:1".to_owned();

    let operation = client
        .update_service()
        .set_service(broken)
        .send()
        .await
        .unwrap();
    let (operation, _) = wait(&client, operation).await;

    assert!(matches!(operation.result, Some(Outcome::Error(_))));
    let service = get(&client, project, "web").await;
    let ready = service.terminal_condition.unwrap();
    assert_eq!(ready.state, State::ConditionFailed);
    assert!(
        ready
            .message
            .contains("Image 'registry.example/missing-image:1' not found."),
        "{}",
        ready.message
    );
    assert_eq!(
        ready.reasons,
        Some(Reasons::Reason(CommonReason::ContainerMissing))
    );
    // The first revision still serves.
    assert_eq!(service.generation, 2);
    assert_eq!(service.observed_generation, 1);
    assert!(service.latest_ready_revision.starts_with("web-00001-"));
    assert!(service.latest_created_revision.starts_with("web-00002-"));
}

#[tokio::test]
async fn services_are_listed_by_location() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "listed";
    let client = client(fake).await;
    create(&client, project, "b", "nginx:1").await;
    create(&client, project, "a", "nginx:1").await;

    let listed = client
        .list_services()
        .set_parent(parent(project))
        .send()
        .await
        .unwrap();

    let names: Vec<_> = listed.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, [name(project, "a"), name(project, "b")]);
}
