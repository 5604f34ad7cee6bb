//! Volumes on the plain Kubernetes backend: each kind as the pod volume (and mounts) of the
//! Deployment, the PersistentVolume and claim of an efs volume (each checked against the schema
//! the API server serves it under), their names, what `ferry render` prints, the finalizer an
//! efs volume needs, and the refusal table: every kind and option this backend (or an EKS Fargate
//! pod) cannot mount, refused naming the field.

use ferry_api::ServerlessService;
use ferry_provider::backend::Backend;
use ferry_provider::cluster_volumes::build::{CLAIMS_LABEL, Claim, GCS_FUSE_ANNOTATION};
use ferry_provider_kubernetes::Kubernetes;
use ferry_provider_kubernetes::build::{Kind, claims};
use ferry_testkit::builders::named_service;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube_standin::builtin::violations_of;
use serde_json::{Value, json};

use crate::common::{build, build_checked, desired, desired_of, serverless_service};

const FS: &str = "fs-0123456789abcdef0";
const AP: &str = "fsap-0123456789abcdef0";

/// A kubernetes spec whose container `app` mounts `mounts` (YAML list) and `side` mounts
/// `side_mounts`, with `volumes` and the extra spec fields `extra`.
fn spec(mounts: &str, side_mounts: &str, volumes: &str, extra: &str) -> String {
    format!(
        "{{provider: kubernetes, \
          containers: [{{name: app, image: 'ghcr.io/acme/hello:1.4.2', port: 8080, \
                         resources: {{cpu: 500m, memory: 512Mi}}, volumeMounts: {mounts}}}, \
                       {{name: side, image: 'ghcr.io/acme/side:1', \
                         resources: {{cpu: 100m, memory: 64Mi}}, volumeMounts: {side_mounts}}}], \
          volumes: {volumes}{extra}}}"
    )
}

/// The pod spec of the Deployment built for `spec` (every child checked against its schema).
fn pod(spec: &str) -> Value {
    build(spec)[&Kind::Deployment]["spec"]["template"]["spec"].clone()
}

/// The claims of `spec`, each checked against the PersistentVolume and claim schemas.
fn checked_claims(spec: &str) -> Vec<Claim> {
    let claims = claims(&desired(spec));
    for claim in &claims {
        let (pv, pvc) = (claim.persistent_volume_value(), claim.claim_value());
        assert_eq!(
            violations_of::<PersistentVolume>(&pv),
            Vec::<String>::new(),
            "{pv:#}"
        );
        assert_eq!(
            violations_of::<PersistentVolumeClaim>(&pvc),
            Vec::<String>::new(),
            "{pvc:#}"
        );
    }
    claims
}

#[test]
fn a_secret_volume_is_the_secret_every_key_or_one_key_and_mounted_read_only() {
    let pod = pod(&spec(
        "[{name: config, mountPath: /etc/app}, {name: token, mountPath: /var/run/token}]",
        "[]",
        "[{name: config, secret: {name: app-config}}, \
          {name: token, secret: {name: api, key: token.txt}}]",
        "",
    ));
    assert_eq!(
        pod["volumes"],
        json!([
            {"name": "config", "secret": {"secretName": "app-config"}},
            {"name": "token", "secret": {"secretName": "api",
                                          "items": [{"key": "token.txt", "path": "token.txt"}]}},
        ])
    );
    assert_eq!(
        pod["containers"][0]["volumeMounts"],
        json!([
            {"name": "config", "mountPath": "/etc/app", "readOnly": true},
            {"name": "token", "mountPath": "/var/run/token", "readOnly": true},
        ])
    );
    assert!(
        pod["containers"][1].get("volumeMounts").is_none(),
        "{pod:#}"
    );
}

#[test]
fn an_empty_dir_keeps_its_medium_and_size_limit_and_is_shared_by_the_containers() {
    let pod = pod(&spec(
        "[{name: scratch, mountPath: /tmp/work}, {name: disk, mountPath: /var/cache}]",
        "[{name: scratch, mountPath: /work, subPath: side}]",
        "[{name: scratch, emptyDir: {medium: Memory, sizeLimit: 256Mi}}, \
          {name: disk, emptyDir: {}}]",
        "",
    ));
    assert_eq!(
        pod["volumes"],
        json!([
            {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}},
            {"name": "disk", "emptyDir": {}},
        ])
    );
    assert_eq!(
        pod["containers"][0]["volumeMounts"],
        json!([
            {"name": "scratch", "mountPath": "/tmp/work"},
            {"name": "disk", "mountPath": "/var/cache"},
        ])
    );
    assert_eq!(
        pod["containers"][1]["volumeMounts"],
        json!([{"name": "scratch", "mountPath": "/work", "subPath": "side"}])
    );
    // Disk is the default medium, written as Kubernetes' default: no medium.
    let explicit = pod_volume_of("{medium: Disk, sizeLimit: 1Gi}");
    assert_eq!(
        explicit,
        json!({"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}})
    );
}

fn pod_volume_of(empty_dir: &str) -> Value {
    pod(&spec(
        "[{name: scratch, mountPath: /tmp/work}]",
        "[]",
        &format!("[{{name: scratch, emptyDir: {empty_dir}}}]"),
        "",
    ))["volumes"][0]
        .clone()
}

#[test]
fn an_nfs_volume_is_the_pods_own_and_read_only_when_the_export_is() {
    let pod = pod(&spec(
        "[{name: shared, mountPath: /srv/shared}, {name: archive, mountPath: /srv/archive}]",
        "[{name: shared, mountPath: /shared, readOnly: true}]",
        "[{name: shared, nfs: {server: 10.0.0.2, path: /exports/shared}}, \
          {name: archive, nfs: {server: nfs.example.com, path: /exports/archive, readOnly: true}}]",
        "",
    ));
    assert_eq!(
        pod["volumes"],
        json!([
            {"name": "shared", "nfs": {"server": "10.0.0.2", "path": "/exports/shared"}},
            {"name": "archive", "nfs": {"server": "nfs.example.com", "path": "/exports/archive",
                                        "readOnly": true}},
        ])
    );
    assert_eq!(
        pod["containers"][0]["volumeMounts"][1],
        json!({"name": "archive", "mountPath": "/srv/archive", "readOnly": true})
    );
    assert_eq!(
        pod["containers"][1]["volumeMounts"],
        json!([{"name": "shared", "mountPath": "/shared", "readOnly": true}])
    );
    assert!(
        claims(&desired(&spec(
            "[{name: shared, mountPath: /srv}]",
            "[]",
            "[{name: shared, nfs: {server: 10.0.0.2, path: /x}}]",
            ""
        )))
        .is_empty()
    );
}

#[test]
fn an_efs_volume_is_a_claim_of_a_pre_bound_persistent_volume_of_the_efs_csi_driver() {
    let spec = spec(
        "[{name: data, mountPath: /var/data}]",
        "[{name: data, mountPath: /data, subPath: reports, readOnly: true}]",
        &format!(
            "[{{name: data, efs: {{fileSystemId: {FS}, accessPointId: {AP}, \
                                   transitEncryption: true, iam: true}}}}]"
        ),
        "",
    );
    let claims = checked_claims(&spec);
    assert_eq!(claims.len(), 1);
    let claim = &claims[0];
    assert_eq!(claim.volume, "data");
    let name = claim.name.as_str();
    assert!(
        name.starts_with("shop-hello-data-") && name.len() <= 63,
        "{name}"
    );
    let labels = json!({
        "app.kubernetes.io/managed-by": "ferry",
        "app.kubernetes.io/name": "hello",
        CLAIMS_LABEL: claim.persistent_volume.metadata.labels.as_ref().unwrap()[CLAIMS_LABEL],
    });
    assert_eq!(
        claim.persistent_volume_value(),
        json!({
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {
                "name": name,
                "labels": labels,
                "annotations": {"ferry.dev/owner": "ServerlessService shop/hello (kubernetes)"},
            },
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "capacity": {"storage": "5Gi"},
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "",
                "volumeMode": "Filesystem",
                "mountOptions": ["iam"],
                "csi": {
                    "driver": "efs.csi.aws.com",
                    "volumeHandle": format!("{FS}::{AP}"),
                    "volumeAttributes": {"encryptInTransit": "true"},
                },
                "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                             "namespace": "shop", "name": name},
            },
        })
    );
    assert_eq!(
        claim.claim_value(),
        json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": name,
                "namespace": "shop",
                "labels": labels,
                "annotations": {"ferry.dev/owner": "ServerlessService shop/hello (kubernetes)"},
            },
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "resources": {"requests": {"storage": "5Gi"}},
                "storageClassName": "",
                "volumeMode": "Filesystem",
                "volumeName": name,
            },
        })
    );
    let pod = pod(&spec);
    assert_eq!(
        pod["volumes"],
        json!([{"name": "data", "persistentVolumeClaim": {"claimName": name}}])
    );
    assert_eq!(
        pod["containers"][1]["volumeMounts"],
        json!([{"name": "data", "mountPath": "/data", "subPath": "reports", "readOnly": true}])
    );
}

#[test]
fn the_efs_volume_handle_and_transit_encryption_follow_the_spec() {
    let handle = |efs: &str| {
        let claims = checked_claims(&spec(
            "[{name: data, mountPath: /var/data}]",
            "[]",
            &format!("[{{name: data, efs: {efs}}}]"),
            "",
        ));
        let pv = claims[0].persistent_volume_value();
        (
            pv["spec"]["csi"]["volumeHandle"].clone(),
            pv["spec"]["csi"]["volumeAttributes"]["encryptInTransit"].clone(),
            pv["spec"].get("mountOptions").cloned(),
        )
    };
    assert_eq!(
        handle(&format!("{{fileSystemId: {FS}}}")),
        (json!(FS), json!("false"), None)
    );
    assert_eq!(
        handle(&format!(
            "{{fileSystemId: {FS}, rootDirectory: /reports, transitEncryption: true}}"
        )),
        (json!(format!("{FS}:/reports")), json!("true"), None)
    );
    // Every mount read-only: the claim is too.
    let pod = pod(&spec(
        "[{name: data, mountPath: /var/data, readOnly: true}]",
        "[]",
        &format!("[{{name: data, efs: {{fileSystemId: {FS}}}}}]"),
        "",
    ));
    assert_eq!(pod["volumes"][0]["persistentVolumeClaim"]["readOnly"], true);
}

#[test]
fn a_claim_is_named_after_its_owner_volume_and_source_so_a_change_is_a_new_pair() {
    let volume = |efs: &str| format!("[{{name: data, efs: {efs}}}]");
    let plain = volume(&format!("{{fileSystemId: {FS}}}"));
    let name_of = |svc: &ServerlessService| claims(&desired_of(svc))[0].name.clone();
    let mounts = "[{name: data, mountPath: /var/data}]";
    let first = name_of(&serverless_service(&spec(mounts, "[]", &plain, "")));
    assert_eq!(
        first,
        name_of(&serverless_service(&spec(mounts, "[]", &plain, "")))
    );
    // Another file system, the same volume name: a new pair (a PersistentVolume's source
    // cannot change).
    let other = volume("{fileSystemId: fs-0fedcba9876543210}");
    assert_ne!(
        first,
        name_of(&serverless_service(&spec(mounts, "[]", &other, "")))
    );
    // The same volume of an object of the same name elsewhere: a PersistentVolume is
    // cluster-wide.
    let elsewhere = named_service(
        Some("payments"),
        "hello",
        None,
        &spec(mounts, "[]", &plain, ""),
    );
    assert_ne!(first, name_of(&elsewhere));
    // A long name is trimmed to a DNS label and keeps its hash.
    let long = named_service(None, &"a".repeat(63), None, &spec(mounts, "[]", &plain, ""));
    let trimmed = name_of(&long);
    assert!(trimmed.len() <= 63, "{trimmed}");
    assert!(ferry_core::names::is_dns_label(&trimmed), "{trimmed}");
}

#[test]
fn a_gcs_volume_is_gkes_fuse_csi_volume_and_the_pods_carry_its_annotation() {
    let children = build(&spec(
        "[{name: assets, mountPath: /srv/assets}]",
        "[]",
        "[{name: assets, gcs: {bucket: acme-assets, readOnly: true}}]",
        "",
    ));
    let template = &children[&Kind::Deployment]["spec"]["template"];
    assert_eq!(
        template["spec"]["volumes"],
        json!([{"name": "assets", "csi": {
            "driver": "gcsfuse.csi.storage.gke.io",
            "readOnly": true,
            "volumeAttributes": {"bucketName": "acme-assets"},
        }}])
    );
    assert_eq!(
        template["metadata"]["annotations"][GCS_FUSE_ANNOTATION.0],
        GCS_FUSE_ANNOTATION.1
    );
    assert_eq!(
        template["spec"]["containers"][0]["volumeMounts"],
        json!([{"name": "assets", "mountPath": "/srv/assets", "readOnly": true}])
    );
    // Without a gcs volume, no annotation.
    let plain = build(&spec(
        "[{name: s, mountPath: /s}]",
        "[]",
        "[{name: s, emptyDir: {}}]",
        "",
    ));
    let annotations = &plain[&Kind::Deployment]["spec"]["template"]["metadata"]["annotations"];
    assert!(
        annotations.get(GCS_FUSE_ANNOTATION.0).is_none(),
        "{annotations}"
    );
}

#[test]
fn an_azure_file_volume_is_the_azure_files_csi_inline_volume_reading_its_secret() {
    let pod = pod(&spec(
        "[{name: files, mountPath: /mnt/files}]",
        "[]",
        "[{name: files, azureFile: {shareName: files, storageAccount: acmefiles, \
                                     secretRef: {name: azure-files, key: azurestorageaccountkey}}}]",
        "",
    ));
    assert_eq!(
        pod["volumes"],
        json!([{"name": "files", "csi": {
            "driver": "file.csi.azure.com",
            "volumeAttributes": {"shareName": "files", "secretName": "azure-files"},
        }}])
    );
}

#[test]
fn the_example_renders_its_claims_before_the_deployment() {
    let svc = ferry_testkit::builders::example_services("kubernetes")
        .into_iter()
        .find(|(name, _)| name == "kubernetes-volumes")
        .expect("deploy/examples/kubernetes-volumes.yaml")
        .1;
    let desired = desired_of(&svc);
    let claims = claims(&desired);
    assert_eq!(claims.len(), 1, "the efs volume");
    let rendered = Kubernetes.render(&desired, "default", None).unwrap();
    let documents: Vec<Value> = serde_saphyr::from_multiple(&rendered.body).unwrap();
    let kinds: Vec<&str> = documents
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Deployment",
            "Service",
            "PodDisruptionBudget"
        ]
    );
    assert_eq!(
        violations_of::<PersistentVolume>(&documents[0]),
        Vec::<String>::new()
    );
    assert_eq!(
        violations_of::<PersistentVolumeClaim>(&documents[1]),
        Vec::<String>::new()
    );
    build_checked(&desired);
}

#[test]
fn an_efs_volume_keeps_a_finalizer_which_ferry_needs_to_delete_its_persistent_volume() {
    let with = |volumes: &str| {
        let svc = serverless_service(&spec("[{name: v, mountPath: /v}]", "[]", volumes, ""));
        Kubernetes.needs_finalizer(&svc.spec)
    };
    assert!(with(&format!("[{{name: v, efs: {{fileSystemId: {FS}}}}}]")));
    assert!(!with("[{name: v, emptyDir: {}}]"));
    assert!(!with("[{name: v, nfs: {server: 10.0.0.2, path: /x}}]"));
}

/// The errors of validating `spec` on this backend, as `(field, message)`.
fn refusals(spec: &str) -> Vec<(String, String)> {
    match ferry_core::validate(&serverless_service(spec), &Kubernetes) {
        Ok(_) => Vec::new(),
        Err(invalid) => invalid
            .errors
            .into_iter()
            .map(|f| (f.field, f.message))
            .collect(),
    }
}

const FARGATE: &str = ", kubernetes: {fargateProfile: {labels: {compute: fargate}}}";

#[test]
fn what_this_backend_cannot_mount_is_refused_naming_the_field() {
    let azure = |secret: &str, extra: &str| {
        format!(
            "[{{name: v, azureFile: {{shareName: files, storageAccount: acmefiles{secret}{extra}}}}}]"
        )
    };
    // (volumes, spec extra, field refused, words of the message)
    let cases: Vec<(String, &str, &str, &str)> = vec![
        (
            "[{name: v, nfs: {server: 10.0.0.2, path: /exports}}]".into(),
            FARGATE,
            "spec.volumes[0].nfs",
            "EKS Fargate pod mounts no NFS export",
        ),
        (
            "[{name: v, gcs: {bucket: acme-assets}}]".into(),
            FARGATE,
            "spec.volumes[0].gcs",
            "EKS Fargate pod cannot mount a Cloud Storage bucket",
        ),
        (
            azure(", secretRef: {name: s, key: azurestorageaccountkey}", ""),
            FARGATE,
            "spec.volumes[0].azureFile",
            "no DaemonSet runs on Fargate",
        ),
        (
            azure("", ""),
            "",
            "spec.volumes[0].azureFile.secretRef",
            "reads the storage account's name and key from a Secret",
        ),
        (
            azure(", secretRef: {name: s, key: key}", ""),
            "",
            "spec.volumes[0].azureFile.secretRef.key",
            "set key: azurestorageaccountkey",
        ),
        (
            azure(
                ", secretRef: {name: s, key: azurestorageaccountkey}",
                ", environmentStorage: files",
            ),
            "",
            "spec.volumes[0].azureFile.environmentStorage",
            "only provider containerApps reads",
        ),
        (
            "[{name: v, secret: {name: App_Config}}]".into(),
            "",
            "spec.volumes[0].secret.name",
            "DNS subdomain",
        ),
        (
            "[{name: v, secret: {name: app, key: 'a/b'}}]".into(),
            "",
            "spec.volumes[0].secret.key",
            "letters, digits",
        ),
    ];
    for (volumes, extra, field, words) in cases {
        let spec = spec("[{name: v, mountPath: /v}]", "[]", &volumes, extra);
        let found = refusals(&spec);
        assert!(
            found.iter().any(|(f, m)| f == field && m.contains(words)),
            "{volumes}{extra}: expected {field} ({words}), got {found:#?}"
        );
    }
}

#[test]
fn what_an_eks_fargate_pod_mounts_is_accepted() {
    // EFS (a static PersistentVolume), emptyDir (AWS documents no limit on either medium) and
    // secrets.
    let spec = spec(
        "[{name: data, mountPath: /data}, {name: tmp, mountPath: /tmp/x}, \
          {name: conf, mountPath: /etc/conf}]",
        "[{name: data, mountPath: /data, subPath: side}]",
        &format!(
            "[{{name: data, efs: {{fileSystemId: {FS}, accessPointId: {AP}, \
                                   transitEncryption: true}}}}, \
              {{name: tmp, emptyDir: {{medium: Memory, sizeLimit: 64Mi}}}}, \
              {{name: conf, secret: {{name: conf}}}}]"
        ),
        FARGATE,
    );
    assert_eq!(refusals(&spec), Vec::<(String, String)>::new());
    let children = build(&spec);
    let template = &children[&Kind::Deployment]["spec"]["template"];
    assert_eq!(template["metadata"]["labels"]["compute"], "fargate");
    assert_eq!(template["spec"]["volumes"].as_array().unwrap().len(), 3);
}
