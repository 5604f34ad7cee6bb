//! Volumes on Fargate: each kind ECS mounts and the `volumes` / `mountPoints` it becomes in the
//! task definition of a service and of a job (checked on the request JSON and against
//! botocore's ECS model), the refusal table (every kind and option ECS on Fargate cannot do,
//! refused naming the field), the task role IAM authorization needs, and change detection.

use ferry_api::ProviderConfigSpec;
use ferry_provider::backend::Backend;
use ferry_provider_fargate::Fargate;
use ferry_provider_fargate::build::{self, AccountError, Change, TAG_FINGERPRINT};
use ferry_provider_fargate::job::build as job;
use ferry_testkit::builders::{desired_job, serverless_job};
use serde_json::{Value, json};

use crate::common::{
    AWS_PROD, crate_dir, desired, desired_of, example_provider_config, examples_dir, json, mirror,
    provider_config, requests, requests_for, serverless_service,
};

const FS: &str = "fs-0123456789abcdef0";
const AP: &str = "fsap-0123456789abcdef0";
const TASK_ROLE: &str = "arn:aws:iam::123456789012:role/shop-app";

/// A Fargate spec with the container `app` mounting `mounts` (YAML list), the second container
/// `side` mounting `side_mounts`, the volumes `volumes` and the extra spec fields `extra`.
fn spec(mounts: &str, side_mounts: &str, volumes: &str, extra: &str) -> String {
    format!(
        "{{provider: fargate, \
          containers: [{{name: app, image: 'ghcr.io/acme/hello:1.4.2', port: 8080, \
                         volumeMounts: {mounts}}}, \
                       {{name: side, image: 'ghcr.io/acme/side:1', volumeMounts: {side_mounts}}}], \
          volumes: {volumes}, \
          fargate: {{taskRoleArn: '{TASK_ROLE}'{extra}}}}}"
    )
}

fn task_definition(spec: &str) -> Value {
    json(&requests(spec).task_definition)
}

fn mount_points(td: &Value, container: usize) -> Value {
    td["containerDefinitions"][container]
        .get("mountPoints")
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn an_efs_volume_is_an_efs_volume_configuration_with_its_access_point_tls_and_iam() {
    let td = task_definition(&spec(
        "[{name: data, mountPath: /var/data}]",
        "[{name: data, mountPath: /data, readOnly: true}]",
        &format!(
            "[{{name: data, efs: {{fileSystemId: {FS}, accessPointId: {AP}, \
                                   transitEncryption: true, iam: true}}}}]"
        ),
        "",
    ));
    assert_eq!(
        td["volumes"],
        json!([{
            "name": "data",
            "efsVolumeConfiguration": {
                "fileSystemId": FS,
                "transitEncryption": "ENABLED",
                "authorizationConfig": {"accessPointId": AP, "iam": "ENABLED"},
            },
        }]),
        "no rootDirectory with an access point (ECS: omitted or /)"
    );
    assert_eq!(
        mount_points(&td, 0),
        json!([{"sourceVolume": "data", "containerPath": "/var/data", "readOnly": false}])
    );
    assert_eq!(
        mount_points(&td, 1),
        json!([{"sourceVolume": "data", "containerPath": "/data", "readOnly": true}])
    );
    assert_eq!(
        td["taskRoleArn"], TASK_ROLE,
        "IAM authorization mounts as it"
    );
}

#[test]
fn efs_options_map_one_to_one_and_defaults_stay_ecs_defaults() {
    // (volume's efs, the efsVolumeConfiguration)
    let cases = [
        (
            format!("{{fileSystemId: {FS}}}"),
            json!({"fileSystemId": FS, "transitEncryption": "DISABLED"}),
        ),
        (
            format!("{{fileSystemId: {FS}, rootDirectory: /, transitEncryption: false}}"),
            json!({"fileSystemId": FS, "transitEncryption": "DISABLED"}),
        ),
        (
            format!("{{fileSystemId: {FS}, rootDirectory: /shop/data, transitEncryption: true}}"),
            json!({"fileSystemId": FS, "rootDirectory": "/shop/data",
                   "transitEncryption": "ENABLED"}),
        ),
        (
            format!("{{fileSystemId: {FS}, transitEncryption: true, iam: true}}"),
            json!({"fileSystemId": FS, "transitEncryption": "ENABLED",
                   "authorizationConfig": {"iam": "ENABLED"}}),
        ),
        (
            format!("{{fileSystemId: {FS}, accessPointId: {AP}, transitEncryption: true}}"),
            json!({"fileSystemId": FS, "transitEncryption": "ENABLED",
                   "authorizationConfig": {"accessPointId": AP, "iam": "DISABLED"}}),
        ),
    ];
    for (efs, want) in cases {
        let td = task_definition(&spec(
            "[{name: data, mountPath: /data}]",
            "[]",
            &format!("[{{name: data, efs: {efs}}}]"),
            "",
        ));
        assert_eq!(td["volumes"][0]["efsVolumeConfiguration"], want, "{efs}");
    }
}

#[test]
fn an_empty_dir_is_a_named_volume_alone_shared_by_the_containers() {
    let td = task_definition(&spec(
        "[{name: scratch, mountPath: /tmp/work}]",
        "[{name: scratch, mountPath: /scratch, readOnly: true}]",
        "[{name: scratch, emptyDir: {medium: Disk, sizeLimit: 5Gi}}]",
        "",
    ));
    assert_eq!(
        td["volumes"],
        json!([{"name": "scratch"}]),
        "no host: a bind mount on the task's ephemeral storage"
    );
    assert_eq!(
        mount_points(&td, 0),
        json!([{"sourceVolume": "scratch", "containerPath": "/tmp/work", "readOnly": false}])
    );
    assert_eq!(
        mount_points(&td, 1),
        json!([{"sourceVolume": "scratch", "containerPath": "/scratch", "readOnly": true}])
    );
    assert!(
        td.get("ephemeralStorage").is_none(),
        "5Gi fits in the 20 GiB included: {td}"
    );
}

#[test]
fn each_efs_sub_path_is_a_volume_of_its_own_rooted_at_that_directory() {
    let td = task_definition(&spec(
        "[{name: shared, mountPath: /etc/app, subPath: config, readOnly: true}, \
          {name: shared, mountPath: /var/log/app, subPath: logs/app/}]",
        "[{name: shared, mountPath: /shared}, \
          {name: shared, mountPath: /config, subPath: ./config}]",
        &format!("[{{name: shared, efs: {{fileSystemId: {FS}, rootDirectory: /shop/}}}}]"),
        "",
    ));
    let efs = |root: &str| json!({"fileSystemId": FS, "rootDirectory": root, "transitEncryption": "DISABLED"});
    assert_eq!(
        td["volumes"],
        json!([
            {"name": "shared", "efsVolumeConfiguration": efs("/shop/config")},
            {"name": "shared_2", "efsVolumeConfiguration": efs("/shop/logs/app")},
            {"name": "shared_3", "efsVolumeConfiguration": efs("/shop/")},
        ])
    );
    assert_eq!(
        mount_points(&td, 0),
        json!([
            {"sourceVolume": "shared", "containerPath": "/etc/app", "readOnly": true},
            {"sourceVolume": "shared_2", "containerPath": "/var/log/app", "readOnly": false},
        ])
    );
    assert_eq!(
        mount_points(&td, 1),
        json!([
            {"sourceVolume": "shared_3", "containerPath": "/shared", "readOnly": false},
            {"sourceVolume": "shared", "containerPath": "/config", "readOnly": false},
        ]),
        "./config is config"
    );
}

#[test]
fn a_volume_no_container_mounts_is_still_declared_and_a_container_without_mounts_has_none() {
    let td = task_definition(&spec(
        "[]",
        "[]",
        &format!("[{{name: spare, efs: {{fileSystemId: {FS}}}}}, {{name: tmp, emptyDir: {{}}}}]"),
        "",
    ));
    assert_eq!(
        td["volumes"],
        json!([
            {"name": "spare",
             "efsVolumeConfiguration": {"fileSystemId": FS, "transitEncryption": "DISABLED"}},
            {"name": "tmp"},
        ])
    );
    assert_eq!(mount_points(&td, 0), Value::Null);
}

#[test]
fn a_spec_without_volumes_sends_neither_volumes_nor_mount_points() {
    let td = task_definition(&spec("[]", "[]", "[]", ""));
    assert!(td.get("volumes").is_none(), "{td}");
    assert!(mount_points(&td, 0).is_null() && mount_points(&td, 1).is_null());
}

const JOB: &str = "{provider: fargate, \
    containers: [{name: export, image: 'ghcr.io/acme/export:3', \
                  volumeMounts: [{name: out, mountPath: /out, subPath: exports}, \
                                 {name: tmp, mountPath: /tmp/export}]}], \
    volumes: [{name: out, efs: {fileSystemId: fs-0123456789abcdef0, transitEncryption: true}}, \
              {name: tmp, emptyDir: {sizeLimit: 10Gi}}]}";

#[test]
fn a_jobs_task_definition_mounts_the_same_volumes() {
    let want = desired_job(JOB, &Fargate);
    let r = job::requests(&want, &example_provider_config(), AWS_PROD).unwrap();
    let td = json(&r.task_definition);
    assert_eq!(td["family"], "shop__report");
    assert_eq!(
        td["volumes"],
        json!([
            {"name": "out", "efsVolumeConfiguration": {
                "fileSystemId": FS, "rootDirectory": "/exports", "transitEncryption": "ENABLED"}},
            {"name": "tmp"},
        ])
    );
    assert_eq!(
        mount_points(&td, 0),
        json!([
            {"sourceVolume": "out", "containerPath": "/out", "readOnly": false},
            {"sourceVolume": "tmp", "containerPath": "/tmp/export", "readOnly": false},
        ])
    );
}

/// deploy/examples/fargate-volumes.yaml, with a UID.
fn example() -> ferry_api::ServerlessService {
    let path = examples_dir().join("fargate-volumes.yaml");
    let mut svc: ferry_api::ServerlessService =
        serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    svc.metadata.uid = Some(crate::common::UID.into());
    svc
}

/// The checker of botocore's ECS model.
fn checker() -> ferry_testkit::Checker {
    ferry_testkit::Checker {
        script: crate_dir().join("tests/botocore_validate.py"),
        with: "botocore",
        install: moto_standin::INSTALL_HINT,
        ok: ": ok",
    }
}

fn register(td: &Value) -> Value {
    json!({"service": "ecs", "operation": "RegisterTaskDefinition", "params": td})
}

#[test]
fn volume_task_definitions_match_botocores_ecs_model_and_a_wrong_shape_is_refused() {
    let service = json(&requests_for(&desired_of(&example())).task_definition);
    let want = desired_job(JOB, &Fargate);
    let job_td = json(
        &job::requests(&want, &example_provider_config(), AWS_PROD)
            .unwrap()
            .task_definition,
    );
    assert!(service["volumes"].as_array().is_some_and(|v| v.len() == 3));
    checker().assert_accepts(&[
        (
            "deploy/examples/fargate-volumes.yaml: RegisterTaskDefinition".into(),
            register(&service),
        ),
        (
            "a job with volumes: RegisterTaskDefinition".into(),
            register(&job_td),
        ),
    ]);
    // The checker reads the volume shapes: a boolean where ECS takes ENABLED/DISABLED, or a
    // misspelled mount point key, is refused.
    let mut boolean = service.clone();
    boolean["volumes"][0]["efsVolumeConfiguration"]["transitEncryption"] = json!(true);
    let mut misspelled = service.clone();
    misspelled["containerDefinitions"][0]["mountPoints"][0] =
        json!({"sourceVolume": "uploads", "mountPath": "/var/lib/media/uploads"});
    let mut outside = service.clone();
    outside["volumes"][0]["efsVolumeConfiguration"]["authorizationConfig"]["iam"] = json!("YES");
    checker().assert_refuses(
        &[register(&service)],
        &[
            ("transitEncryption true", register(&boolean), "Invalid type"),
            (
                "mountPath for containerPath",
                register(&misspelled),
                "Unknown parameter",
            ),
            ("iam YES", register(&outside), "is not one of"),
        ],
    );
}

/// A refusal case: what, app's mounts, volumes, extra spec.fargate fields, the field named,
/// words the message has.
type Refusal<'a> = (&'a str, &'a str, String, &'a str, &'a str, &'a [&'a str]);

/// The errors of `spec` on Fargate, as `field: message` lines.
fn refusals(spec: &str) -> Vec<String> {
    match ferry_core::validate(&serverless_service(spec), &Fargate) {
        Ok(_) => panic!("accepted: {spec}"),
        Err(invalid) => invalid.errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn what_ecs_on_fargate_cannot_mount_is_refused_naming_the_field() {
    let efs = format!("{{fileSystemId: {FS}}}");
    let efs_ap = format!("{{fileSystemId: {FS}, accessPointId: {AP}, transitEncryption: true}}");
    let windows = ", operatingSystemFamily: WINDOWS_SERVER_2022_CORE";
    let mount = "[{name: v, mountPath: /v}]";
    let cases: Vec<Refusal<'_>> = vec![
        (
            "secret files",
            mount,
            "[{name: v, secret: {name: app-config}}]".into(),
            "",
            "spec.volumes[0].secret",
            &["environment variables", "env[].secret"],
        ),
        (
            "nfs",
            mount,
            "[{name: v, nfs: {server: 10.0.0.2, path: /exports}}]".into(),
            "",
            "spec.volumes[0].nfs",
            &["only EFS", "efs volume"],
        ),
        (
            "gcs",
            mount,
            "[{name: v, gcs: {bucket: acme-assets}}]".into(),
            "",
            "spec.volumes[0].gcs",
            &["only EFS"],
        ),
        (
            "azureFile",
            mount,
            "[{name: v, azureFile: {shareName: files, storageAccount: acmefiles}}]".into(),
            "",
            "spec.volumes[0].azureFile",
            &["only EFS"],
        ),
        (
            "an in-memory emptyDir",
            mount,
            "[{name: v, emptyDir: {medium: Memory}}]".into(),
            "",
            "spec.volumes[0].emptyDir.medium",
            &["tmpfs", "Disk"],
        ),
        (
            "an emptyDir larger than the included ephemeral storage",
            mount,
            "[{name: v, emptyDir: {sizeLimit: 21Gi}}]".into(),
            "",
            "spec.volumes[0].emptyDir.sizeLimit",
            &[
                "20 GiB",
                "21Gi",
                "resources.ephemeralStorage",
                "does not cap",
            ],
        ),
        (
            "emptyDirs that add up to more than the ephemeral storage",
            "[{name: v, mountPath: /v}, {name: w, mountPath: /w}]",
            "[{name: v, emptyDir: {sizeLimit: 15Gi}}, {name: w, emptyDir: {sizeLimit: 10Gi}}]"
                .into(),
            "",
            "spec.volumes",
            &["add up to 25Gi", "20 GiB", "at least 25Gi"],
        ),
        (
            "an emptyDir larger than any task",
            mount,
            "[{name: v, emptyDir: {sizeLimit: 300Gi}}]".into(),
            "",
            "spec.volumes[0].emptyDir.sizeLimit",
            &["at most 200 GiB"],
        ),
        (
            "a subPath of an emptyDir",
            "[{name: v, mountPath: /v, subPath: logs}]",
            "[{name: v, emptyDir: {}}]".into(),
            "",
            "spec.containers[0].volumeMounts[0].subPath",
            &["no sub path", "\"logs\""],
        ),
        (
            "a subPath of an efs access point",
            "[{name: v, mountPath: /v, subPath: logs}]",
            format!("[{{name: v, efs: {efs_ap}}}]"),
            "",
            "spec.containers[0].volumeMounts[0].subPath",
            &["access point", "rootDirectory /"],
        ),
        (
            "efs in a Windows task",
            mount,
            format!("[{{name: v, efs: {efs}}}]"),
            windows,
            "spec.volumes[0].efs",
            &["Linux tasks only", "WINDOWS_SERVER_2022_CORE"],
        ),
        (
            "an emptyDir in a Windows task",
            mount,
            "[{name: v, emptyDir: {}}]".into(),
            windows,
            "spec.volumes[0].emptyDir",
            &["Linux tasks only", "drive-letter"],
        ),
        (
            "efs before platform version 1.4.0",
            mount,
            format!("[{{name: v, efs: {efs}}}]"),
            ", platformVersion: 1.3.0",
            "spec.fargate.platformVersion",
            &["1.4.0", "got 1.3.0", "spec.volumes[0]"],
        ),
        (
            "an emptyDir beyond the 4 GiB of platform version 1.3.0",
            mount,
            "[{name: v, emptyDir: {sizeLimit: 5Gi}}]".into(),
            ", platformVersion: 1.3.0",
            "spec.volumes[0].emptyDir.sizeLimit",
            &["4 GiB", "5Gi"],
        ),
    ];
    for (what, mounts, volumes, extra, field, words) in cases {
        let errors = refusals(&spec(mounts, "[]", &volumes, extra));
        let error = errors
            .iter()
            .find(|e| e.starts_with(&format!("{field}: ")))
            .unwrap_or_else(|| panic!("{what}: nothing names {field}: {errors:#?}"));
        for word in words {
            assert!(error.contains(word), "{what}: {word:?} missing in {error}");
        }
    }
}

#[test]
fn what_fits_is_accepted() {
    // An emptyDir as large as the task's storage raised by the containers, a sub path of an
    // efs volume without access point, platform 1.4.0.
    let want = desired(&format!(
        "{{provider: fargate, \
          containers: [{{name: app, image: 'ghcr.io/acme/hello:1.4.2', port: 8080, \
                         resources: {{ephemeralStorage: 40Gi}}, \
                         volumeMounts: [{{name: v, mountPath: /v}}, {{name: w, mountPath: /w}}, \
                                        {{name: d, mountPath: /d, subPath: a/b}}]}}], \
          volumes: [{{name: v, emptyDir: {{sizeLimit: 30Gi}}}}, \
                    {{name: w, emptyDir: {{sizeLimit: 10Gi}}}}, \
                    {{name: d, efs: {{fileSystemId: {FS}}}}}], \
          fargate: {{platformVersion: 1.4.0}}}}"
    ));
    assert_eq!(want.volumes.len(), 3);
    let td = json(&requests_for(&want).task_definition);
    assert_eq!(td["ephemeralStorage"], json!({"sizeInGiB": 40}));
    assert_eq!(
        td["volumes"][2]["efsVolumeConfiguration"]["rootDirectory"],
        "/a/b"
    );
}

#[test]
fn a_job_is_refused_what_a_service_is() {
    let spec = "{provider: fargate, \
        containers: [{name: report, image: 'ghcr.io/acme/report:1.2', \
                      volumeMounts: [{name: tmp, mountPath: /tmp/r, subPath: x}]}], \
        volumes: [{name: tmp, emptyDir: {medium: Memory}}, \
                  {name: conf, secret: {name: conf}}]}";
    let errors = match ferry_core::job::validate_job(&serverless_job(spec), &Fargate) {
        Ok(_) => panic!("accepted"),
        Err(invalid) => invalid.to_string(),
    };
    for field in [
        "spec.volumes[0].emptyDir.medium",
        "spec.volumes[1].secret",
        "spec.containers[0].volumeMounts[0].subPath",
    ] {
        assert!(errors.contains(field), "{field}: {errors}");
    }
}

#[test]
fn iam_authorization_needs_a_task_role_from_the_service_or_the_provider_config() {
    let iam = format!(
        "{{provider: fargate, \
          containers: [{{name: app, image: 'ghcr.io/acme/hello:1.4.2', port: 8080, \
                         volumeMounts: [{{name: d, mountPath: /d}}]}}], \
          volumes: [{{name: d, efs: {{fileSystemId: {FS}, transitEncryption: true, iam: true}}}}]}}"
    );
    let want = desired(&iam);
    let err = build::requests(&want, &example_provider_config(), AWS_PROD).unwrap_err();
    assert!(
        matches!(
            err,
            AccountError::Missing {
                field: "taskRoleArn",
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("spec.fargate.taskRoleArn") && text.contains("iam: true"),
        "{text}"
    );
    // The ProviderConfig's default role serves.
    let config = provider_config(&format!(
        "{{region: us-east-1, cluster: prod, defaults: {{subnets: [subnet-0a1], \
          taskRoleArn: '{TASK_ROLE}'}}}}"
    ));
    let td = json(
        &build::requests(&want, &config, AWS_PROD)
            .unwrap()
            .task_definition,
    );
    assert_eq!(td["taskRoleArn"], TASK_ROLE);
    // Without IAM authorization no role is needed.
    let plain = desired(&iam.replace(", iam: true", ""));
    assert!(build::requests(&plain, &example_provider_config(), AWS_PROD).is_ok());
    // A render without the ProviderConfig shows where the role goes.
    let rendered = Fargate.render(&want, AWS_PROD, None).unwrap();
    assert!(
        rendered
            .body
            .contains("\"taskRoleArn\": \"<taskRoleArn of ProviderConfig aws-prod>\""),
        "{}",
        rendered.body
    );
    let rendered = Fargate
        .render(
            &desired(&iam.replace(
                "volumes:",
                &format!("fargate: {{taskRoleArn: '{TASK_ROLE}'}}, volumes:"),
            )),
            AWS_PROD,
            Some(&ProviderConfigSpec {
                fargate: Some(example_provider_config()),
                cloud_run: None,
                azure: None,
                allowed_namespaces: None,
                namespace_selector: None,
            }),
        )
        .unwrap();
    assert!(rendered.body.contains("efsVolumeConfiguration"));
}

#[test]
fn a_volume_change_registers_a_task_definition_and_the_same_spec_registers_nothing() {
    let base = spec(
        "[{name: data, mountPath: /data}, {name: tmp, mountPath: /tmp/x}]",
        "[]",
        &format!("[{{name: data, efs: {{fileSystemId: {FS}}}}}, {{name: tmp, emptyDir: {{}}}}]"),
        "",
    );
    let held = requests(&base);
    // The same spec, built again: what AWS holds is what is wanted.
    assert_eq!(build::diff(&requests(&base), &mirror(&held)), vec![]);
    let changes = [
        (
            "another file system",
            base.replace(FS, "fs-0fedcba987654321"),
        ),
        (
            "transit encryption",
            base.replace(
                &format!("{FS}}}"),
                &format!("{FS}, transitEncryption: true}}"),
            ),
        ),
        (
            "a read-only mount",
            base.replace("/data}", "/data, readOnly: true}"),
        ),
        ("a new mount path", base.replace("/tmp/x", "/tmp/y")),
        ("a sub path", base.replace("/data}", "/data, subPath: app}")),
        (
            "a volume removed",
            spec(
                "[{name: data, mountPath: /data}]",
                "[]",
                &format!("[{{name: data, efs: {{fileSystemId: {FS}}}}}]"),
                "",
            ),
        ),
        (
            "a mount in the other container",
            base.replacen(
                "volumeMounts: []",
                "volumeMounts: [{name: tmp, mountPath: /t}]",
                1,
            ),
        ),
    ];
    for (what, changed) in changes {
        assert_ne!(changed, base, "{what}: the case changes the spec");
        let want = requests(&changed);
        assert_ne!(
            want.task_definition_fingerprint, held.task_definition_fingerprint,
            "{what}"
        );
        assert_eq!(
            build::diff(&want, &mirror(&held)),
            vec![Change::TaskDefinition],
            "{what}: a new revision, the service untouched"
        );
        assert_eq!(
            want.task_definition.tags.last().map(|t| t.key.as_str()),
            Some(TAG_FINGERPRINT)
        );
    }
}

#[test]
fn the_example_validates_without_findings() {
    let valid = ferry_core::validate(&example(), &Fargate).unwrap();
    assert_eq!(valid.warnings, Vec::new());
}
