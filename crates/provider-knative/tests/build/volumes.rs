//! Volumes on Knative: the kinds a Knative Service admits (secret, emptyDir) and nfs and efs as a
//! `persistentVolumeClaim` of a PersistentVolume and claim Ferry makes, every Service checked
//! against Knative's CRD (and its volumes, which the CRD leaves open behind feature flags,
//! against Kubernetes' own types), the claims against the Kubernetes schemas; the feature flags
//! each volume needs and how `config-features` turns them on; and the refusal table.

use ferry_core::desired::Desired;
use ferry_provider::backend::Backend;
use ferry_provider_knative::Knative;
use ferry_provider_knative::build::claims;
use ferry_provider_knative::features::{
    self, EMPTY_DIR, PERSISTENT_VOLUME_CLAIM, PERSISTENT_VOLUME_WRITE,
};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Volume, VolumeMount};
use kube_standin::builtin::violations_of;
use serde_json::{Value, json};

use crate::common::{build_checked, desired, desired_of, serverless_service};

const FS: &str = "fs-0123456789abcdef0";

/// A Knative spec whose container `app` mounts `mounts` (YAML list), with `volumes`.
fn spec(mounts: &str, volumes: &str) -> String {
    format!(
        "{{provider: knative, \
          containers: [{{name: app, image: 'ghcr.io/acme/hello:1.4.2', port: 8080, \
                         volumeMounts: {mounts}}}], \
          volumes: {volumes}}}"
    )
}

/// `value` read as the k8s-openapi type `T` and written back: equal only when every field is
/// one Kubernetes declares, with its shape.
fn assert_kubernetes_shape<T: serde::de::DeserializeOwned + serde::Serialize>(value: &Value) {
    let typed: T = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(&serde_json::to_value(typed).unwrap(), value);
}

/// The revision's pod spec built for `spec`, checked against Knative's CRD, each volume and
/// mount against Kubernetes' types.
fn revision(spec: &str) -> Value {
    let service = build_checked(&desired(spec));
    let pod = service["spec"]["template"]["spec"].clone();
    for volume in pod["volumes"].as_array().into_iter().flatten() {
        assert_kubernetes_shape::<Volume>(volume);
    }
    for mount in pod["containers"][0]["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        assert_kubernetes_shape::<VolumeMount>(mount);
    }
    pod
}

fn checked_claims(desired: &Desired) -> Vec<(String, Value, Value)> {
    claims(desired)
        .into_iter()
        .map(|c| {
            let (pv, pvc) = (c.persistent_volume_value(), c.claim_value());
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
            (c.name, pv, pvc)
        })
        .collect()
}

#[test]
fn a_secret_and_an_empty_dir_are_the_services_own_volumes() {
    let pod = revision(&spec(
        "[{name: config, mountPath: /etc/app}, {name: scratch, mountPath: /tmp/work, \
           subPath: app}]",
        "[{name: config, secret: {name: app-config, key: settings.toml}}, \
          {name: scratch, emptyDir: {medium: Memory, sizeLimit: 64Mi}}]",
    ));
    assert_eq!(
        pod["volumes"],
        json!([
            {"name": "config", "secret": {"secretName": "app-config",
                                          "items": [{"key": "settings.toml",
                                                     "path": "settings.toml"}]}},
            {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
        ])
    );
    // Knative takes a secret's mount only read-only.
    assert_eq!(
        pod["containers"][0]["volumeMounts"],
        json!([
            {"name": "config", "mountPath": "/etc/app", "readOnly": true},
            {"name": "scratch", "mountPath": "/tmp/work", "subPath": "app"},
        ])
    );
    assert!(
        claims(&desired(&spec(
            "[{name: c, mountPath: /c}]",
            "[{name: c, emptyDir: {}}]"
        )))
        .is_empty()
    );
}

#[test]
fn nfs_and_efs_are_claims_of_persistent_volumes_ferry_makes() {
    let spec = spec(
        "[{name: photos, mountPath: /srv/photos}, {name: data, mountPath: /var/data}]",
        &format!(
            "[{{name: photos, nfs: {{server: 10.0.12.4, path: /exports/photos, readOnly: true}}}}, \
              {{name: data, efs: {{fileSystemId: {FS}, transitEncryption: true}}}}]"
        ),
    );
    let want = desired(&spec);
    let claims = checked_claims(&want);
    assert_eq!(claims.len(), 2);
    let (photos, photos_pv, photos_pvc) = &claims[0];
    let (data, data_pv, _) = &claims[1];
    assert!(photos.starts_with("shop-hello-photos-"), "{photos}");
    assert_eq!(
        photos_pv["spec"]["nfs"],
        json!({"server": "10.0.12.4", "path": "/exports/photos", "readOnly": true})
    );
    assert_eq!(photos_pv["spec"]["claimRef"]["name"], photos.as_str());
    assert_eq!(photos_pvc["spec"]["volumeName"], photos.as_str());
    assert_eq!(
        photos_pv["metadata"]["annotations"]["ferry.dev/owner"],
        "ServerlessService shop/hello (knative)"
    );
    assert_eq!(
        data_pv["spec"]["csi"],
        json!({"driver": "efs.csi.aws.com", "volumeHandle": FS,
               "volumeAttributes": {"encryptInTransit": "true"}})
    );
    let pod = revision(&spec);
    assert_eq!(
        pod["volumes"],
        json!([
            {"name": "photos", "persistentVolumeClaim": {"claimName": photos, "readOnly": true}},
            {"name": "data", "persistentVolumeClaim": {"claimName": data}},
        ])
    );
    assert_eq!(
        pod["containers"][0]["volumeMounts"][0],
        json!({"name": "photos", "mountPath": "/srv/photos", "readOnly": true})
    );
}

/// A move between providers has both sides at once: each side's claims are its own.
#[test]
fn claims_differ_by_provider() {
    use ferry_api::Provider;
    use ferry_provider::cluster_volumes::build::Owner;
    let want = desired(&spec(
        "[{name: data, mountPath: /data}]",
        &format!("[{{name: data, efs: {{fileSystemId: {FS}}}}}]"),
    ));
    let knative = ferry_provider_knative::build::owner(&want.object);
    let kubernetes = Owner {
        provider: Provider::Kubernetes,
        ..knative
    };
    assert_ne!(knative.key(), kubernetes.key());
    let ours = ferry_provider::cluster_volumes::build::claims(
        &knative,
        &want.volumes,
        ferry_provider::cluster_volumes::build::Nfs::Claim,
    );
    let theirs = ferry_provider::cluster_volumes::build::claims(
        &kubernetes,
        &want.volumes,
        ferry_provider::cluster_volumes::build::Nfs::Claim,
    );
    assert_ne!(ours[0].name, theirs[0].name);
}

#[test]
fn each_volume_needs_its_feature_flag_and_a_claim_written_to_needs_the_write_flag() {
    let needed = |mounts: &str, volumes: &str| features::needed(&desired(&spec(mounts, volumes)));
    assert_eq!(
        needed(
            "[{name: s, mountPath: /s}]",
            "[{name: s, secret: {name: s}}]"
        ),
        vec![]
    );
    assert_eq!(
        needed("[{name: s, mountPath: /s}]", "[{name: s, emptyDir: {}}]"),
        vec![EMPTY_DIR]
    );
    assert_eq!(
        needed(
            "[{name: n, mountPath: /n}]",
            "[{name: n, nfs: {server: a.b, path: /x, readOnly: true}}]"
        ),
        vec![PERSISTENT_VOLUME_CLAIM]
    );
    assert_eq!(
        needed(
            "[{name: e, mountPath: /e, readOnly: true}]",
            &format!("[{{name: e, efs: {{fileSystemId: {FS}}}}}]")
        ),
        vec![PERSISTENT_VOLUME_CLAIM]
    );
    let mut both = vec![PERSISTENT_VOLUME_CLAIM, PERSISTENT_VOLUME_WRITE];
    both.sort();
    assert_eq!(
        needed(
            "[{name: e, mountPath: /e}]",
            &format!("[{{name: e, efs: {{fileSystemId: {FS}}}}}]")
        ),
        both
    );
}

#[test]
fn a_flag_is_on_only_when_config_features_enables_it_and_otherwise_keeps_its_default() {
    let all = [EMPTY_DIR, PERSISTENT_VOLUME_CLAIM, PERSISTENT_VOLUME_WRITE];
    let data = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    // No ConfigMap: Knative's defaults.
    assert_eq!(
        features::missing(&all, None),
        vec![PERSISTENT_VOLUME_CLAIM, PERSISTENT_VOLUME_WRITE]
    );
    let set = data(&[
        ("kubernetes.podspec-volumes-emptydir", "Disabled"),
        ("kubernetes.podspec-persistent-volume-claim", "enabled"),
        ("kubernetes.podspec-persistent-volume-write", "Allowed"),
    ]);
    assert_eq!(
        features::missing(&all, Some(&set)),
        vec![EMPTY_DIR, PERSISTENT_VOLUME_WRITE]
    );
    // A value Knative does not read leaves the default.
    let odd = data(&[
        ("kubernetes.podspec-volumes-emptydir", "yes"),
        ("kubernetes.podspec-persistent-volume-claim", "true"),
    ]);
    assert_eq!(
        features::missing(&all, Some(&odd)),
        vec![PERSISTENT_VOLUME_CLAIM, PERSISTENT_VOLUME_WRITE]
    );
    let message = features::refusal(&[PERSISTENT_VOLUME_CLAIM, PERSISTENT_VOLUME_WRITE]);
    for words in [
        "kubernetes.podspec-persistent-volume-claim",
        "kubernetes.podspec-persistent-volume-write",
        "knative-serving/config-features",
        "kubectl patch configmap config-features -n knative-serving",
    ] {
        assert!(message.contains(words), "{words}: {message}");
    }
}

/// `(field, message)` of each finding.
type Pairs = Vec<(String, String)>;

/// The errors and warnings of validating `spec` on Knative.
fn findings(spec: &str) -> (Pairs, Pairs) {
    let pairs = |list: Vec<ferry_core::Finding>| {
        list.into_iter()
            .map(|f| (f.field, f.message))
            .collect::<Vec<_>>()
    };
    match ferry_core::validate(&serverless_service(spec), &Knative) {
        Ok(valid) => (Vec::new(), pairs(valid.warnings)),
        Err(invalid) => (pairs(invalid.errors), pairs(invalid.warnings)),
    }
}

#[test]
fn what_knative_cannot_mount_is_refused_naming_the_field() {
    // (mounts, volumes, field refused, words of the message)
    let cases = [
        (
            "[{name: a, mountPath: /a}]",
            "[{name: a, gcs: {bucket: acme-assets}}]",
            "spec.volumes[0].gcs",
            "kubernetes.podspec-volumes-csi",
        ),
        (
            "[{name: a, mountPath: /a}]",
            "[{name: a, azureFile: {shareName: files, storageAccount: acmefiles}}]",
            "spec.volumes[0].azureFile",
            "kubernetes.podspec-volumes-csi",
        ),
        (
            "[{name: a, mountPath: /a}]",
            "[{name: a, emptyDir: {}}, {name: b, emptyDir: {}}]",
            "spec.volumes[1]",
            "Knative refuses a volume no container mounts",
        ),
        (
            "[{name: a, mountPath: /dev/}]",
            "[{name: a, emptyDir: {}}]",
            "spec.containers[0].volumeMounts[0].mountPath",
            "Knative keeps /dev for itself",
        ),
        (
            "[{name: a, mountPath: /dev/./log}]",
            "[{name: a, emptyDir: {}}]",
            "spec.containers[0].volumeMounts[0].mountPath",
            "Knative keeps /dev/log",
        ),
        (
            "[{name: a, mountPath: /a}]",
            "[{name: a, secret: {name: App}}]",
            "spec.volumes[0].secret.name",
            "DNS subdomain",
        ),
    ];
    for (mounts, volumes, field, words) in cases {
        let (errors, _) = findings(&spec(mounts, volumes));
        assert!(
            errors.iter().any(|(f, m)| f == field && m.contains(words)),
            "{volumes}: expected {field} ({words}), got {errors:#?}"
        );
    }
}

#[test]
fn nfs_and_efs_validate_offline_with_a_warning_naming_the_flags_they_need() {
    let (errors, warnings) = findings(&spec(
        "[{name: n, mountPath: /n}, {name: e, mountPath: /e, readOnly: true}]",
        &format!(
            "[{{name: n, nfs: {{server: 10.0.0.2, path: /x}}}}, \
              {{name: e, efs: {{fileSystemId: {FS}}}}}]"
        ),
    ));
    assert_eq!(errors, Vec::<(String, String)>::new());
    let warning = |field: &str| {
        warnings.iter().find(|(f, _)| f == field).map_or_else(
            || panic!("no warning on {field}: {warnings:#?}"),
            |(_, m)| m.clone(),
        )
    };
    let nfs = warning("spec.volumes[0]");
    assert!(nfs.contains("kubernetes.podspec-persistent-volume-claim and kubernetes.podspec-persistent-volume-write"), "{nfs}");
    let efs = warning("spec.volumes[1]");
    assert!(
        efs.contains("kubernetes.podspec-persistent-volume-claim"),
        "{efs}"
    );
    assert!(!efs.contains("-write"), "every mount is read-only: {efs}");
}

#[test]
fn nfs_and_efs_keep_a_finalizer_which_ferry_needs_to_delete_their_persistent_volumes() {
    let with = |volumes: &str| {
        Knative
            .needs_finalizer(&serverless_service(&spec("[{name: v, mountPath: /v}]", volumes)).spec)
    };
    assert!(with("[{name: v, nfs: {server: 10.0.0.2, path: /x}}]"));
    assert!(with(&format!("[{{name: v, efs: {{fileSystemId: {FS}}}}}]")));
    assert!(!with("[{name: v, emptyDir: {}}]"));
    assert!(!with("[{name: v, secret: {name: s}}]"));
}

#[test]
fn the_example_renders_its_claim_before_the_service() {
    let svc = ferry_testkit::builders::example_services("knative")
        .into_iter()
        .find(|(name, _)| name == "knative-volumes")
        .expect("deploy/examples/knative-volumes.yaml")
        .1;
    let want = desired_of(&svc);
    let rendered = Knative.render(&want, "default", None).unwrap();
    let documents: Vec<Value> = serde_saphyr::from_multiple(&rendered.body).unwrap();
    let kinds: Vec<&str> = documents
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["PersistentVolume", "PersistentVolumeClaim", "Service"]
    );
    assert_eq!(
        violations_of::<PersistentVolume>(&documents[0]),
        Vec::<String>::new()
    );
    assert_eq!(
        violations_of::<PersistentVolumeClaim>(&documents[1]),
        Vec::<String>::new()
    );
    build_checked(&want);
    // Its one claim is read-only: it needs only the claim flag.
    assert_eq!(
        features::needed(&want),
        vec![PERSISTENT_VOLUME_CLAIM, EMPTY_DIR]
    );
}
