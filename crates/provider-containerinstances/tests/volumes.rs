//! Volumes on Container Instances: each kind as a `Volume` and each mount as a `VolumeMount`,
//! checked against Microsoft's definitions by the Azure fake's checker; values copied from
//! Secrets fingerprinted by version and never in a tag or a `Debug`; a group read back from ARM
//! (which answers neither the account key nor the secret files) still up to date, and a change
//! of volumes an update; the example; what validation refuses (naming the field) and warns of.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use azure_fake::AzureFake;
use common::{IMAGE, config, desired, request, secrets_of, serverless_service, simple};
use ferry_api::ServerlessService;
use ferry_provider::backend::Backend;
use ferry_provider_containerinstances::ContainerInstances;
use ferry_provider_containerinstances::build::{self, Change, diff};
use http::Method;
use serde_json::{Value, json};

const OPERATION: &str = "ContainerGroups_CreateOrUpdate";
const IDENTITY: &str = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/web";

/// An Azure Files share (read-only), an emptyDir, a copied secret file and a Key Vault one.
fn spec() -> String {
    simple(
        "volumeMounts: [{name: files, mountPath: /mnt/files}, {name: scratch, mountPath: /scratch}, \
                        {name: config, mountPath: /etc/app}, {name: tls, mountPath: /etc/tls}, \
                        {name: cache, mountPath: /cache, readOnly: true}]",
        &format!(
            "volumes: [\
               {{name: files, azureFile: {{shareName: files, storageAccount: acmefiles, readOnly: true, \
                                          secretRef: {{name: acmefiles, key: key}}}}}}, \
               {{name: scratch, emptyDir: {{}}}}, \
               {{name: config, secret: {{name: app-config, key: app.json}}}}, \
               {{name: tls, secret: {{name: tls-cert}}}}, \
               {{name: cache, emptyDir: {{}}}}], \
             containerInstances: {{identity: '{IDENTITY}', secrets: [\
               {{name: app-config, fromSecret: {{name: hello-config, key: app.json}}}}, \
               {{name: tls-cert, keyVaultUrl: 'https://acme.vault.azure.net/secrets/tls'}}]}}"
        ),
    )
}

#[tokio::test]
async fn each_kind_is_a_volume_and_each_mount_a_volume_mount_the_definitions_take() {
    let r = request(&spec());
    let p = &r.body["properties"];
    assert_eq!(
        p["volumes"],
        json!([
            {"name": "files", "azureFile": {"shareName": "files", "storageAccountName": "acmefiles",
                "storageAccountKey": "value-of-acmefiles-key", "readOnly": true}},
            {"name": "scratch", "emptyDir": {}},
            // base64 of "value-of-hello-config-app.json"
            {"name": "config", "secret": {"app.json": "dmFsdWUtb2YtaGVsbG8tY29uZmlnLWFwcC5qc29u"}},
            {"name": "tls", "secretReference": {"tls-cert": "tls-cert"}},
            {"name": "cache", "emptyDir": {}},
        ])
    );
    assert_eq!(
        p["containers"][0]["properties"]["volumeMounts"],
        json!([
            {"name": "files", "mountPath": "/mnt/files", "readOnly": true},
            {"name": "scratch", "mountPath": "/scratch"},
            {"name": "config", "mountPath": "/etc/app", "readOnly": true},
            {"name": "tls", "mountPath": "/etc/tls", "readOnly": true},
            {"name": "cache", "mountPath": "/cache", "readOnly": true},
        ])
    );
    // The Key Vault file is read by ACI through the group's secret reference of that name.
    assert_eq!(
        p["secretReferences"],
        json!([{"name": "tls-cert", "identity": IDENTITY,
                "secretReferenceUri": "https://acme.vault.azure.net/secrets/tls"}])
    );
    let fake = AzureFake::shared().await.unwrap();
    let violation = fake.check_request(OPERATION, &r.body).await.unwrap();
    assert_eq!(violation, None, "{:#}", r.body);
}

#[test]
fn copied_values_are_fingerprinted_by_version_and_never_shown() {
    let want = desired(&spec());
    let mut secrets = secrets_of(&want);
    assert_eq!(
        build::kubernetes_secrets(&want)
            .into_iter()
            .collect::<Vec<_>>(),
        [
            ("acmefiles".to_owned(), "key".to_owned()),
            ("hello-config".to_owned(), "app.json".to_owned()),
        ]
    );
    let first = build::request(&want, &config(), &secrets).unwrap();
    assert!(!first.body["tags"].to_string().contains("value-of"));
    assert!(!format!("{first:?}").contains("value-of"), "{first:?}");
    // A new value under the same version changes nothing Ferry compares...
    let key = ("acmefiles".to_owned(), "key".to_owned());
    secrets.get_mut(&key).unwrap().value = Some("rotated".into());
    let same = build::request(&want, &config(), &secrets).unwrap();
    assert_eq!(same.fingerprint, first.fingerprint);
    // ...a new version of the Secret does.
    secrets.get_mut(&key).unwrap().version = "42".into();
    let rotated = build::request(&want, &config(), &secrets).unwrap();
    assert_ne!(rotated.fingerprint, first.fingerprint);
    assert_eq!(
        rotated.body["properties"]["volumes"][0]["azureFile"]["storageAccountKey"],
        "rotated"
    );
    // Without the values read, no request.
    let unread = build::request(&want, &config(), &std::collections::BTreeMap::new()).unwrap_err();
    assert!(unread.to_string().contains("was not read"), "{unread}");
}

/// `spec`'s group as the fake holds it once deployed: sent, then read back (without the
/// account key and the secret files, as ARM answers).
async fn held(name: &str, spec: &str) -> (build::Request, Value) {
    let fake = AzureFake::shared().await.unwrap();
    let subscription = fake.subscription(name);
    let mut config = config();
    config.subscription_id = subscription.id().to_owned();
    let want = desired(spec);
    let request = build::request(&want, &config, &secrets_of(&want)).unwrap();
    let url = format!("{}?api-version={}", request.target.id(), build::API_VERSION);
    let put = fake
        .send_raw(Method::PUT, &url, Some(&request.body))
        .await
        .unwrap();
    assert_eq!(put.status, 201, "{:#}", put.body);
    let got = fake.send_raw(Method::GET, &url, None).await.unwrap();
    (request, got.body)
}

#[tokio::test]
async fn a_group_read_back_without_keys_and_files_is_up_to_date_and_a_volume_change_is_not() {
    let (request, group) = held("aci-volumes-read-back", &spec()).await;
    let volumes = &group["properties"]["volumes"];
    assert!(
        volumes[0]["azureFile"].get("storageAccountKey").is_none(),
        "{volumes}"
    );
    assert_eq!(volumes[2]["secret"], json!({}));
    assert_eq!(diff(&request, &group), Vec::<Change>::new());

    let want = |spec: &str| {
        let want = desired(spec);
        let mut config = config();
        config.subscription_id = request.target.subscription.clone();
        build::request(&want, &config, &secrets_of(&want)).unwrap()
    };
    let renamed = want(&spec().replace("key: app.json}", "key: config.json}"));
    assert_eq!(diff(&renamed, &group), [Change::Spec]);
    let writable = want(&spec().replace("readOnly: true, secretRef", "secretRef"));
    assert!(diff(&writable, &group).contains(&Change::Spec));
    let moved = want(&spec().replace("mountPath: /scratch", "mountPath: /tmp/scratch"));
    let changes = diff(&moved, &group);
    assert!(
        changes.contains(&Change::Spec)
            && changes.contains(&Change::Drift(
                "properties.containers[0].properties.volumeMounts[1].mountPath".into()
            )),
        "{changes:?}"
    );
}

#[tokio::test]
async fn the_example_renders_a_put_the_definitions_take() {
    let text = include_str!("../../../deploy/examples/containerinstances-volumes.yaml");
    let mut svc: ServerlessService = serde_saphyr::from_str(text).unwrap();
    svc.metadata.uid = Some(common::UID.into());
    let desired = ferry_testkit::builders::desired_of(&svc, &ContainerInstances);
    let out = ContainerInstances
        .render(&desired, "azure-prod", None)
        .unwrap();
    let rendered: Value = serde_json::from_str(&out.body).unwrap();
    let body = &rendered["body"];
    assert_eq!(body["properties"]["volumes"].as_array().unwrap().len(), 3);
    // What Ferry sends as base64 reads as a placeholder here.
    assert_eq!(
        body["properties"]["volumes"][1]["secret"]["settings.json"],
        "<base64 of value of key settings.json of Secret shop/report-settings>"
    );
    let fake = AzureFake::shared().await.unwrap();
    assert_eq!(
        fake.check_request(OPERATION, body).await.unwrap(),
        None,
        "{body:#}"
    );
}

fn refusals(spec: &str) -> Vec<String> {
    match ferry_core::validate(&serverless_service(spec), &ContainerInstances) {
        Ok(_) => Vec::new(),
        Err(invalid) => invalid
            .errors
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect(),
    }
}

fn warnings(spec: &str) -> Vec<String> {
    ferry_core::validate(&serverless_service(spec), &ContainerInstances)
        .unwrap()
        .warnings
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect()
}

/// Every volume kind and option Container Instances cannot take, refused by the field that
/// asks.
#[test]
fn what_container_instances_cannot_mount_is_refused_by_its_field() {
    let mount = "volumeMounts: [{name: v, mountPath: /v}]";
    let cases: Vec<(String, &str, &str)> = vec![
        (
            simple(
                mount,
                "volumes: [{name: v, nfs: {server: 10.0.0.2, path: /exports}}]",
            ),
            "spec.volumes[0].nfs",
            "Container Instances does not support spec.volumes[].nfs",
        ),
        (
            simple(
                mount,
                "volumes: [{name: v, efs: {fileSystemId: fs-0123456789abcdef0}}]",
            ),
            "spec.volumes[0].efs",
            "Container Instances does not support spec.volumes[].efs",
        ),
        (
            simple(mount, "volumes: [{name: v, gcs: {bucket: acme-assets}}]"),
            "spec.volumes[0].gcs",
            "Container Instances does not support spec.volumes[].gcs",
        ),
        (
            simple(
                "volumeMounts: [{name: v, mountPath: /v, subPath: logs}]",
                "volumes: [{name: v, emptyDir: {}}]",
            ),
            "spec.containers[0].volumeMounts[0].subPath",
            "at its root only",
        ),
        (
            simple(mount, "volumes: [{name: v, emptyDir: {medium: Memory}}]"),
            "spec.volumes[0].emptyDir.medium",
            "never in memory",
        ),
        (
            simple(mount, "volumes: [{name: v, emptyDir: {sizeLimit: 64Gi}}]"),
            "spec.volumes[0].emptyDir.sizeLimit",
            "holds at most 50 GB",
        ),
        (
            simple(
                mount,
                "volumes: [{name: v, azureFile: {shareName: files, storageAccount: acmefiles}}]",
            ),
            "spec.volumes[0].azureFile.secretRef",
            "with its storage account's key",
        ),
        (
            simple(mount, "volumes: [{name: v, secret: {name: nowhere}}]"),
            "spec.volumes[0].secret.name",
            "there is none named \"nowhere\"",
        ),
        (
            simple(
                mount,
                "volumes: [{name: v, secret: {name: db, key: ../passwd}}], \
                 containerInstances: {secrets: [{name: db, fromSecret: {name: db, key: p}}]}",
            ),
            "spec.volumes[0].secret.key",
            "the name of the file the secret becomes",
        ),
        (
            simple(
                mount,
                "volumes: [{name: v, emptyDir: {}}], containerInstances: {osType: Windows}",
            )
            .replace(
                IMAGE,
                "mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2022",
            ),
            "spec.volumes[0].emptyDir",
            "in Linux container groups only",
        ),
    ];
    for (spec, field, words) in &cases {
        let refused = refusals(spec);
        assert!(
            refused
                .iter()
                .any(|r| r.starts_with(&format!("{field}: ")) && r.contains(words)),
            "{field} ({words}) not refused: {refused:#?}"
        );
    }
}

#[test]
fn what_is_accepted_but_not_enforced_is_warned() {
    let spec = simple(
        "volumeMounts: [{name: scratch, mountPath: /scratch}, {name: files, mountPath: /data}]",
        "volumes: [{name: scratch, emptyDir: {sizeLimit: 1Gi}}, \
         {name: files, azureFile: {shareName: files, storageAccount: acmefiles, \
                                   environmentStorage: files, secretRef: {name: f, key: k}}}]",
    );
    assert_eq!(
        warnings(&spec),
        [
            "spec.volumes[0].emptyDir.sizeLimit: Container Instances has no size limit per \
             emptyDir volume (it holds up to 50 GB): sizeLimit is not enforced",
            "spec.volumes[1].azureFile.environmentStorage: names a Container Apps environment \
             storage: Container Instances mounts the share itself (shareName, storageAccount, \
             secretRef), and does not read it",
        ]
    );
}
