//! IAM policies of services.

use cloudrun_fake::CloudRunFake;
use google_cloud_gax::error::rpc::Code;
use google_cloud_iam_v1::model::{Binding, Policy};

use crate::support::{client, create, name};

#[tokio::test]
async fn policy_is_stored_and_its_etag_guards_it() {
    let fake = CloudRunFake::shared().await.unwrap();
    let project = "iam";
    let client = client(fake).await;
    create(&client, project, "web", "nginx:1").await;
    let resource = name(project, "web");

    let empty = client
        .get_iam_policy()
        .set_resource(&resource)
        .send()
        .await
        .unwrap();
    assert!(empty.bindings.is_empty());
    assert!(!empty.etag.is_empty());

    let invokers = Binding::new()
        .set_role("roles/run.invoker")
        .set_members(["allUsers"]);
    let set = client
        .set_iam_policy()
        .set_resource(&resource)
        .set_policy(
            Policy::new()
                .set_bindings([invokers.clone()])
                .set_etag(empty.etag.clone()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(set.bindings, std::slice::from_ref(&invokers));
    assert_ne!(set.etag, empty.etag);
    let read = client
        .get_iam_policy()
        .set_resource(&resource)
        .send()
        .await
        .unwrap();
    assert_eq!(read, set);

    let stale = client
        .set_iam_policy()
        .set_resource(&resource)
        .set_policy(Policy::new().set_bindings([invokers]).set_etag(empty.etag))
        .send()
        .await
        .unwrap_err();
    assert_eq!(stale.status().unwrap().code, Code::Aborted);

    let bad_member = client
        .set_iam_policy()
        .set_resource(&resource)
        .set_policy(
            Policy::new().set_bindings([Binding::new()
                .set_role("roles/run.invoker")
                .set_members(["everyone"])]),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad_member.status().unwrap().code, Code::InvalidArgument);
}

#[tokio::test]
async fn policy_of_a_missing_service_is_not_found() {
    let fake = CloudRunFake::shared().await.unwrap();
    let client = client(fake).await;

    let error = client
        .get_iam_policy()
        .set_resource(name("iam-missing", "web"))
        .send()
        .await
        .unwrap_err();

    assert_eq!(error.status().unwrap().code, Code::NotFound);
}
