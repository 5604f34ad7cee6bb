//! Volumes on Container Apps: each kind as `template.volumes[]` and each mount as
//! `containers[].volumeMounts[]`, for an app and a job, checked against Microsoft's definitions
//! by the fake ARM; the example; what validation refuses (naming the field) and warns of; what
//! the client checks of an environment storage before writing; and change detection.

use ferry_core::job::DesiredJob;
use ferry_provider_containerapps::ContainerApps;
use ferry_provider_containerapps::build::{self, Change, StorageUse};
use ferry_provider_containerapps::job::build::{
    self as job, GENERATION_ENV, RUN_ENV, UID_ENV, find_template_run, run_key, start_body,
    template_generation,
};
use ferry_testkit::builders::{desired_job, serverless_job};
use serde_json::{Value, json};

use crate::common::{
    UID, assert_valid_body, config, desired, fake, refusal_lines, refusals, requests, requests_for,
    simple, values_of, warnings,
};

/// A secret volume, an EmptyDir and two azureFile shares, mounted by one container.
const VOLUMES: &str = "volumes: [\
    {name: config, secret: {name: app-config, key: app.json}}, \
    {name: tls, secret: {name: tls-cert}}, \
    {name: scratch, emptyDir: {}}, \
    {name: files, azureFile: {shareName: files, storageAccount: acmefiles}}, \
    {name: media, azureFile: {shareName: media, storageAccount: acmefiles, \
                              environmentStorage: media-ro, readOnly: true}}]";
const MOUNTS: &str = "volumeMounts: [\
    {name: config, mountPath: /etc/app}, \
    {name: tls, mountPath: /etc/tls}, \
    {name: scratch, mountPath: /scratch}, \
    {name: files, mountPath: /data, subPath: uploads}, \
    {name: media, mountPath: /media}]";
const SECRETS: &str = "secrets: [\
    {name: app-config, fromSecret: {name: hello-config, key: app.json}}, \
    {name: tls-cert, keyVaultUrl: 'https://acme.vault.azure.net/secrets/tls'}]";
const IDENTITY: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/prod-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/hello";

fn section() -> String {
    format!("containerApps: {{identity: '{IDENTITY}', {SECRETS}}}")
}

fn template_volumes() -> Value {
    json!([
        {"name": "config", "storageType": "Secret",
         "secrets": [{"secretRef": "app-config", "path": "app.json"}]},
        {"name": "tls", "storageType": "Secret",
         "secrets": [{"secretRef": "tls-cert", "path": "tls-cert"}]},
        {"name": "scratch", "storageType": "EmptyDir"},
        {"name": "files", "storageType": "AzureFile", "storageName": "files"},
        {"name": "media", "storageType": "AzureFile", "storageName": "media-ro"},
    ])
}

fn volume_mounts() -> Value {
    json!([
        {"volumeName": "config", "mountPath": "/etc/app"},
        {"volumeName": "tls", "mountPath": "/etc/tls"},
        {"volumeName": "scratch", "mountPath": "/scratch"},
        {"volumeName": "files", "mountPath": "/data", "subPath": "uploads"},
        {"volumeName": "media", "mountPath": "/media"},
    ])
}

#[tokio::test]
async fn each_kind_is_a_template_volume_and_each_mount_a_volume_mount() {
    let spec = simple(MOUNTS, &format!("{VOLUMES}, {}", section()));
    let r = requests(&spec);
    let p = &r.body["properties"];
    assert_eq!(p["template"]["volumes"], template_volumes());
    assert_eq!(
        p["template"]["containers"][0]["volumeMounts"],
        volume_mounts()
    );
    // Secrets only volumes read are app secrets all the same.
    assert_eq!(
        p["configuration"]["secrets"],
        json!([
            {"name": "app-config", "value": "value of app-config"},
            {"name": "tls-cert", "keyVaultUrl": "https://acme.vault.azure.net/secrets/tls",
             "identity": IDENTITY},
        ])
    );
    assert_eq!(warnings(&spec), Vec::<String>::new());
    assert_valid_body(&r.body).await;
}

#[tokio::test]
async fn a_sidecar_mounts_the_same_emptydir_and_an_app_without_volumes_sends_none() {
    let spec = simple(
        "volumeMounts: [{name: logs, mountPath: /var/log/app}]",
        "volumes: [{name: logs, emptyDir: {}}]",
    )
    .replace(
        "containers: [",
        "containers: [{name: shipper, image: 'acmeprod.azurecr.io/shipper:1', \
         volumeMounts: [{name: logs, mountPath: /logs, subPath: app}]}, ",
    );
    let r = requests(&spec);
    let containers = &r.body["properties"]["template"]["containers"];
    assert_eq!(
        containers[0]["volumeMounts"],
        json!([{"volumeName": "logs", "mountPath": "/logs", "subPath": "app"}])
    );
    assert_eq!(
        containers[1]["volumeMounts"],
        json!([{"volumeName": "logs", "mountPath": "/var/log/app"}])
    );
    assert_valid_body(&r.body).await;
    let plain = requests(&simple("", ""));
    assert!(
        plain.body["properties"]["template"]
            .get("volumes")
            .is_none()
    );
    assert!(
        plain.body["properties"]["template"]["containers"][0]
            .get("volumeMounts")
            .is_none()
    );
}

#[tokio::test]
async fn the_example_renders_a_body_the_definitions_take() {
    let svc = read_example("containerapps-volumes.yaml");
    let want = ferry_core::validate(&svc, &ContainerApps).unwrap().desired;
    let r = requests_for(&want);
    let template = &r.body["properties"]["template"];
    assert!(template["volumes"].as_array().is_some_and(|v| v.len() == 3));
    assert_valid_body(&r.body).await;
}

fn read_example<T: serde::de::DeserializeOwned>(file: &str) -> T {
    let path = ferry_testkit::builders::examples_dir().join(file);
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every volume kind and option Container Apps cannot take, refused by the field that asks.
#[test]
fn what_container_apps_cannot_mount_is_refused_by_its_field() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "volumeMounts: [{name: v, mountPath: /v}]",
            "volumes: [{name: v, nfs: {server: 10.0.0.2, path: /exports}}]",
            "spec.volumes[0].nfs",
            "Container Apps does not support spec.volumes[].nfs",
        ),
        (
            "volumeMounts: [{name: v, mountPath: /v}]",
            "volumes: [{name: v, efs: {fileSystemId: fs-0123456789abcdef0}}]",
            "spec.volumes[0].efs",
            "Container Apps does not support spec.volumes[].efs",
        ),
        (
            "volumeMounts: [{name: v, mountPath: /v}]",
            "volumes: [{name: v, gcs: {bucket: acme-assets}}]",
            "spec.volumes[0].gcs",
            "Container Apps does not support spec.volumes[].gcs",
        ),
        (
            "volumeMounts: [{name: v, mountPath: /v}]",
            "volumes: [{name: v, emptyDir: {medium: Memory}}]",
            "spec.volumes[0].emptyDir.medium",
            "never in memory",
        ),
        (
            // 0.5 vCPU: 2 GiB of ephemeral storage on Consumption.
            "volumeMounts: [{name: v, mountPath: /v}]",
            "volumes: [{name: v, emptyDir: {sizeLimit: 3Gi}}]",
            "spec.volumes[0].emptyDir.sizeLimit",
            "a replica of 0.5 vCPU has 2 GiB of ephemeral storage",
        ),
        (
            "volumeMounts: [{name: v, mountPath: /v, readOnly: true}]",
            "volumes: [{name: v, emptyDir: {}}]",
            "spec.containers[0].volumeMounts[0].readOnly",
            "mounts an EmptyDir volume read-write",
        ),
        (
            "volumeMounts: [{name: v, mountPath: /v}]",
            "volumes: [{name: v, secret: {name: nowhere}}]",
            "spec.volumes[0].secret.name",
            "add {name: nowhere, keyVaultUrl:",
        ),
        (
            "volumeMounts: [{name: v, mountPath: /v}]",
            "volumes: [{name: v, secret: {name: api, key: conf/app.json}}], \
             containerApps: {secrets: [{name: api, fromSecret: {name: s, key: k}}]}",
            "spec.volumes[0].secret.key",
            "the name of the file the secret becomes",
        ),
        (
            "volumeMounts: [{name: v, mountPath: /v}, {name: v, mountPath: /w, readOnly: true}]",
            "volumes: [{name: v, azureFile: {shareName: files, storageAccount: acmefiles}}]",
            "spec.containers[0].volumeMounts[1].readOnly",
            "Container Apps has no readOnly per mount",
        ),
    ];
    for (container, extra, field, words) in cases {
        let refused = refusals(&simple(container, extra));
        assert!(
            refused
                .iter()
                .any(|r| r.starts_with(&format!("{field}: ")) && r.contains(words)),
            "{field} ({words}) not refused: {refused:#?}"
        );
    }
    // A job is refused the same way.
    let refused = job_refusals(&job_spec(
        "volumeMounts: [{name: v, mountPath: /v}]",
        "volumes: [{name: v, emptyDir: {medium: Memory}}]",
    ));
    assert!(
        refused
            .iter()
            .any(|r| r.starts_with("spec.volumes[0].emptyDir.medium: ")),
        "{refused:#?}"
    );
}

#[test]
fn what_is_accepted_but_not_enforced_is_warned() {
    let spec = simple(
        "volumeMounts: [{name: scratch, mountPath: /scratch}, {name: files, mountPath: /data}]",
        "volumes: [{name: scratch, emptyDir: {sizeLimit: 1Gi}}, \
         {name: files, azureFile: {shareName: files, storageAccount: acmefiles, \
                                   secretRef: {name: files, key: key}}}]",
    );
    assert_eq!(
        warnings(&spec),
        [
            "spec.volumes[0].emptyDir.sizeLimit: Container Apps has no size limit per EmptyDir \
             volume: the directory shares the replica's 2 GiB of ephemeral storage with its \
             containers, and sizeLimit is not enforced",
            "spec.volumes[1].azureFile.secretRef: Container Apps mounts the share through the \
             environment storage files, which holds the storage account's key: secretRef is not \
             read (it is for containerInstances and kubernetes)",
        ]
    );
    // More CPU, more ephemeral storage: 8 GiB above 1 vCPU.
    let big = simple(
        "resources: {cpu: '2', memory: 4Gi}, volumeMounts: [{name: s, mountPath: /s}]",
        "volumes: [{name: s, emptyDir: {sizeLimit: 8Gi}}]",
    );
    assert_eq!(refusals(&big), Vec::<String>::new());
}

fn storage(account: &str, share: &str, mode: Option<&str>) -> Value {
    let mut file = json!({"accountName": account, "shareName": share});
    if let Some(mode) = mode {
        file["accessMode"] = mode.into();
    }
    json!({"name": "files", "properties": {"azureFile": file}})
}

#[test]
fn an_environment_storage_must_exist_hold_the_share_and_allow_the_mounts_access() {
    const ENV: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/managedEnvironments/prod";
    let want = desired(&simple(
        "volumeMounts: [{name: files, mountPath: /data}, {name: media, mountPath: /media}]",
        "volumes: [{name: files, azureFile: {shareName: files, storageAccount: acmefiles}}, \
         {name: media, azureFile: {shareName: media, storageAccount: acmefiles, \
                                   environmentStorage: media-ro, readOnly: true}}]",
    ));
    let uses = build::storage_uses(&want.volumes, &want.containers);
    assert_eq!(
        uses.iter()
            .map(|u| (u.index, u.storage(), u.read_only))
            .collect::<Vec<_>>(),
        [(0, "files", Some(false)), (1, "media-ro", Some(true))]
    );
    assert_eq!(uses[1].id(ENV), format!("{ENV}/storages/media-ro"));
    let (files, media): (&StorageUse, &StorageUse) = (&uses[0], &uses[1]);

    let ok = storage("acmefiles", "files", Some("ReadWrite"));
    assert_eq!(build::storage_problem(files, ENV, Some(&ok)), None);
    // az writes ReadWrite when no mode is given.
    let unset = storage("ACMEFILES", "files", None);
    assert_eq!(build::storage_problem(files, ENV, Some(&unset)), None);
    let read_only = storage("acmefiles", "media", Some("ReadOnly"));
    assert_eq!(build::storage_problem(media, ENV, Some(&read_only)), None);

    let missing = build::storage_problem(files, ENV, None).unwrap();
    assert!(
        missing.starts_with(
            "the Container Apps environment prod has no storage files \
             (spec.volumes[0].azureFile.shareName): its owner adds it with `az containerapp env \
             storage set --name prod --storage-name files --storage-type AzureFile"
        ) && missing.contains("--access-mode ReadWrite"),
        "{missing}"
    );
    let missing = build::storage_problem(media, ENV, None).unwrap();
    assert!(
        missing.contains("(spec.volumes[1].azureFile.environmentStorage)")
            && missing.contains("--access-mode ReadOnly"),
        "{missing}"
    );
    let nfs = json!({"properties": {"nfsAzureFile": {"server": "acme.file.core.windows.net",
                                                     "shareName": "/acme/files"}}});
    assert!(
        build::storage_problem(files, ENV, Some(&nfs))
            .unwrap()
            .contains("is not an SMB Azure Files storage")
    );
    let other = storage("acmefiles", "other", Some("ReadWrite"));
    assert!(
        build::storage_problem(files, ENV, Some(&other))
            .unwrap()
            .contains("holds share other of storage account acmefiles, not files of acmefiles")
    );
    let writable = storage("acmefiles", "media", Some("ReadWrite"));
    assert!(
        build::storage_problem(media, ENV, Some(&writable))
            .unwrap()
            .contains("is mounted read-only, but the storage media-ro")
    );
    let locked = storage("acmefiles", "files", Some("ReadOnly"));
    assert!(
        build::storage_problem(files, ENV, Some(&locked))
            .unwrap()
            .contains("is ReadOnly, and volume spec.volumes[0] is mounted read-write")
    );
}

/// ARM's description of the app `r` builds: the body as sent, copied secret values left out.
fn described(r: &build::Requests) -> Value {
    let mut app = r.body.clone();
    app["id"] = r.place.id().into();
    app["properties"]["provisioningState"] = "Succeeded".into();
    for secret in app["properties"]["configuration"]["secrets"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        secret.as_object_mut().unwrap().remove("value");
    }
    app
}

#[test]
fn a_change_of_volumes_or_mounts_is_an_update_and_the_same_spec_is_not() {
    let spec = simple(MOUNTS, &format!("{VOLUMES}, {}", section()));
    let r = requests(&spec);
    let have = described(&r);
    assert_eq!(build::diff(&requests(&spec), &have), Vec::<Change>::new());
    let sub_path = requests(&spec.replace("subPath: uploads", "subPath: other"));
    assert_eq!(build::diff(&sub_path, &have), [Change::Spec]);
    let storage = requests(&spec.replace("environmentStorage: media-ro", "environmentStorage: m2"));
    assert_eq!(build::diff(&storage, &have), [Change::Spec]);
    let path = requests(&spec.replace("key: app.json}", "key: config.json}"));
    assert_eq!(build::diff(&path, &have), [Change::Spec]);
}

fn job_spec(container: &str, extra: &str) -> String {
    format!(
        "{{provider: containerApps, containers: [{{name: report, image: \
         'acmeprod.azurecr.io/report:1.2', {container}}}], {extra}}}"
    )
}

fn desired_of_job(spec: &str) -> DesiredJob {
    desired_job(spec, &ContainerApps)
}

fn job_refusals(spec: &str) -> Vec<String> {
    match ferry_core::job::validate_job(&serverless_job(spec), &ContainerApps) {
        Ok(_) => Vec::new(),
        Err(invalid) => refusal_lines(&invalid),
    }
}

#[tokio::test]
async fn a_job_carries_the_volumes_and_its_run_starts_with_the_jobs_own_template() {
    let want = desired_of_job(&job_spec(MOUNTS, &format!("{VOLUMES}, {}", section())));
    let model = job::model(&want).unwrap();
    let r = job::requests(&want, &config(), &values_of(model)).unwrap();
    let template = &r.body["properties"]["template"];
    assert_eq!(template["volumes"], template_volumes());
    assert_eq!(template["containers"][0]["volumeMounts"], volume_mounts());
    if let Some(violation) = fake()
        .await
        .check_request("Jobs_CreateOrUpdate", &r.body)
        .await
        .unwrap()
    {
        panic!("Jobs.json refuses the body: {violation:?}\n{:#}", r.body);
    }
    // JobExecutionContainer has no volumeMounts: the run is the job's own template.
    assert_eq!(start_body(&want, &run_key(UID, 1)).unwrap(), None);
    // Without mounts, the run is keyed in its containers as before.
    let plain = desired_of_job(&job_spec("resources: {cpu: '0.5', memory: 1Gi}", ""));
    let body = start_body(&plain, &run_key(UID, 1)).unwrap().unwrap();
    assert!(body["containers"][0]["env"].to_string().contains(RUN_ENV));
}

#[test]
fn a_run_started_without_a_template_is_found_by_the_templates_generation() {
    let env = |pairs: &[(&str, &str)]| -> Value {
        pairs
            .iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect()
    };
    let execution = |name: &str, pairs: &[(&str, &str)]| {
        json!({"name": name, "properties": {"status": "Running", "template": {
            "containers": [{"name": "report", "image": "i", "env": env(pairs)}]}}})
    };
    let job = json!({"properties": {"template": {"containers": [{"name": "report",
        "env": env(&[(GENERATION_ENV, "3"), (UID_ENV, UID)])}]}}});
    assert_eq!(template_generation(&job, UID), Some(3));
    assert_eq!(template_generation(&job, "another-uid"), None);
    let executions = [
        execution(
            "keyed",
            &[
                (RUN_ENV, &run_key(UID, 3)),
                (GENERATION_ENV, "3"),
                (UID_ENV, UID),
            ],
        ),
        execution("older", &[(GENERATION_ENV, "2"), (UID_ENV, UID)]),
        execution("ours", &[(GENERATION_ENV, "3"), (UID_ENV, UID)]),
    ];
    assert_eq!(
        find_template_run(&executions, UID, 3).map(|e| &e["name"]),
        Some(&json!("ours"))
    );
    assert_eq!(find_template_run(&executions, UID, 4), None);
    assert_eq!(find_template_run(&executions, "another-uid", 3), None);
}

#[test]
fn render_shows_a_mounting_jobs_run_started_without_a_body() {
    use ferry_provider::backend::Backend;
    let want = desired_of_job(&job_spec(
        "volumeMounts: [{name: scratch, mountPath: /scratch}]",
        "volumes: [{name: scratch, emptyDir: {}}]",
    ));
    let rendered = ContainerApps.render_job(&want, "azure-prod", None).unwrap();
    let calls: Value = serde_json::from_str(&rendered.body).unwrap();
    assert_eq!(calls[1]["method"], "POST");
    assert!(calls[1].get("body").is_none(), "{calls:#}");
    assert!(
        rendered
            .comment
            .contains("with the job's own template (its containers mount volumes"),
        "{}",
        rendered.comment
    );
}
