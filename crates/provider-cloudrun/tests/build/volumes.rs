//! Volumes on Cloud Run, for services (the revision template) and jobs (the task template):
//! each kind Cloud Run mounts, as the Admin API v2's `Volume` and `VolumeMount`; the execution
//! environment gcs and nfs need; what Cloud Run cannot do, refused naming the field; a volume
//! change as an update; and the built requests checked against Google's protos.

use ferry_core::Severity;
use ferry_provider_cloudrun::CloudRun;
use ferry_provider_cloudrun::build::{Change, diff};
use ferry_provider_cloudrun::job::build as job_build;
use ferry_testkit::Checker;
use ferry_testkit::builders::{desired_job, serverless_job};
use serde_json::{Value, json};

use crate::common::{
    crate_dir, example_provider_config, json, mirror, requests, sent, serverless_service, simple,
};

const IMAGE: &str = "europe-docker.pkg.dev/acme-prod/apps/hello:1.4.2";
const SIDECAR: &str = "otel/opentelemetry-collector-contrib:0.110.0";
const DIRECT_VPC: &str = "cloudRun: {vpcAccess: {networkInterfaces: [{network: default}]}}";

/// The revision template built for `spec`, as `ferry render` prints it (enums by name).
fn template(spec: &str) -> Value {
    requests(spec).rendered()["createService"]["service"]["template"].clone()
}

/// A service of an `app` container and a `sidecar`, with their mounts and `extra` spec fields.
fn two_containers(app_mounts: &str, sidecar_mounts: &str, extra: &str) -> String {
    format!(
        "{{provider: cloudRun, containers: [\
           {{name: app, image: '{IMAGE}', port: 8080, volumeMounts: [{app_mounts}]}}, \
           {{name: sidecar, image: '{SIDECAR}', volumeMounts: [{sidecar_mounts}]}}], \
          {extra}}}"
    )
}

/// A one-container job with `container` fields and `extra` spec fields.
fn job(container: &str, extra: &str) -> String {
    format!(
        "{{provider: cloudRun, containers: [{{name: report, image: '{IMAGE}', {container}}}], \
          {extra}}}"
    )
}

/// The task template built for the job `spec`, as rendered, and the job as sent.
fn task_template(spec: &str) -> (Value, Value) {
    let want = desired_job(spec, &CloudRun);
    let r = job_build::requests(&want, &example_provider_config()).unwrap();
    (
        r.rendered(&want.object, Some(1))["createJob"]["job"]["template"]["template"].clone(),
        json(&r.job),
    )
}

#[test]
fn a_secret_volume_is_a_secret_manager_version_as_a_file_named_after_the_secret() {
    let t = template(&simple(
        "volumeMounts: [{name: config, mountPath: /etc/app}, \
                        {name: tls, mountPath: /etc/tls, readOnly: true}]",
        "volumes: [{name: config, secret: {name: app-config}}, \
                   {name: tls, secret: {name: projects/acme-secrets/secrets/tls-cert, key: '3'}}]",
    ));
    // SecretVolumeSource: "If specified, the key will be used as the version to fetch from
    // Cloud Secret Manager and the path will be the name of the file exposed in the volume."
    assert_eq!(
        t["volumes"],
        json!([
            {"name": "config", "secret": {
                "secret": "app-config",
                "items": [{"path": "app-config", "version": "latest"}],
            }},
            {"name": "tls", "secret": {
                "secret": "projects/acme-secrets/secrets/tls-cert",
                "items": [{"path": "tls-cert", "version": "3"}],
            }},
        ])
    );
    assert_eq!(
        t["containers"][0]["volumeMounts"],
        json!([
            {"name": "config", "mountPath": "/etc/app"},
            {"name": "tls", "mountPath": "/etc/tls"},
        ])
    );
    assert_eq!(
        t.get("executionEnvironment"),
        None,
        "secrets need no environment"
    );
}

#[test]
fn an_empty_dir_is_an_in_memory_volume_shared_by_the_containers_with_its_size_limit() {
    let spec = two_containers(
        "{name: scratch, mountPath: /scratch}, {name: cache, mountPath: /cache, subPath: app}",
        "{name: scratch, mountPath: /var/scratch}",
        "volumes: [{name: scratch, emptyDir: {sizeLimit: 256Mi}}, \
                   {name: cache, emptyDir: {medium: Memory, sizeLimit: 500M}}]",
    );
    let t = template(&spec);
    assert_eq!(
        t["volumes"],
        json!([
            {"name": "scratch", "emptyDir": {"medium": "MEMORY", "sizeLimit": "256Mi"}},
            {"name": "cache", "emptyDir": {"medium": "MEMORY", "sizeLimit": "500M"}},
        ])
    );
    assert_eq!(
        t["containers"][0]["volumeMounts"],
        json!([
            {"name": "scratch", "mountPath": "/scratch"},
            {"name": "cache", "mountPath": "/cache", "subPath": "app"},
        ])
    );
    assert_eq!(
        t["containers"][1]["volumeMounts"],
        json!([{"name": "scratch", "mountPath": "/var/scratch"}])
    );
    // As the client sends it: MEMORY is 1.
    assert_eq!(
        sent(&requests(&spec))["template"]["volumes"][0]["emptyDir"]["medium"],
        1
    );
}

#[test]
fn an_empty_dir_without_a_size_limit_is_accepted_with_a_warning() {
    let svc = serverless_service(&simple(
        "volumeMounts: [{name: scratch, mountPath: /scratch}]",
        "volumes: [{name: scratch, emptyDir: {}}]",
    ));
    let valid = ferry_core::validate(&svc, &CloudRun).unwrap();
    let warning = valid
        .warnings
        .iter()
        .find(|w| w.field == "spec.volumes[0].emptyDir.sizeLimit")
        .unwrap_or_else(|| panic!("{:#?}", valid.warnings));
    assert_eq!(warning.severity, Severity::Warning);
    assert!(warning.message.contains("memory"), "{}", warning.message);
    let t = template(&simple(
        "volumeMounts: [{name: scratch, mountPath: /scratch}]",
        "volumes: [{name: scratch, emptyDir: {}}]",
    ));
    assert_eq!(
        t["volumes"],
        json!([{"name": "scratch", "emptyDir": {"medium": "MEMORY"}}])
    );
}

#[test]
fn gcs_and_nfs_volumes_run_on_the_second_generation_environment() {
    let t = template(&simple(
        "volumeMounts: [{name: assets, mountPath: /assets}, \
                        {name: shared, mountPath: /shared, subPath: logs}]",
        &format!(
            "volumes: [{{name: assets, gcs: {{bucket: acme-assets, readOnly: true}}}}, \
                       {{name: shared, nfs: {{server: 10.0.0.2, path: /exports/shared}}}}], \
             {DIRECT_VPC}"
        ),
    ));
    assert_eq!(
        t["volumes"],
        json!([
            {"name": "assets", "gcs": {"bucket": "acme-assets", "readOnly": true}},
            {"name": "shared", "nfs": {"server": "10.0.0.2", "path": "/exports/shared"}},
        ])
    );
    assert_eq!(
        t["containers"][0]["volumeMounts"],
        json!([
            {"name": "assets", "mountPath": "/assets"},
            {"name": "shared", "mountPath": "/shared", "subPath": "logs"},
        ])
    );
    assert_eq!(t["executionEnvironment"], "EXECUTION_ENVIRONMENT_GEN2");
    // An explicit gen2 stays gen2.
    let explicit = template(&simple(
        "volumeMounts: [{name: assets, mountPath: /assets}]",
        "volumes: [{name: assets, gcs: {bucket: acme-assets}}], \
         cloudRun: {executionEnvironment: gen2}",
    ));
    assert_eq!(
        explicit["executionEnvironment"],
        "EXECUTION_ENVIRONMENT_GEN2"
    );
    assert_eq!(
        explicit["volumes"][0]["gcs"],
        json!({"bucket": "acme-assets"})
    );
}

#[test]
fn a_network_volume_every_container_mounts_read_only_is_read_only() {
    let t = template(&two_containers(
        "{name: shared, mountPath: /shared, readOnly: true}",
        "{name: shared, mountPath: /data, readOnly: true}",
        &format!(
            "volumes: [{{name: shared, nfs: {{server: files.internal, path: /exports}}}}], \
             {DIRECT_VPC}"
        ),
    ));
    assert_eq!(
        t["volumes"][0]["nfs"],
        json!({"server": "files.internal", "path": "/exports", "readOnly": true})
    );
    // Cloud Run's VolumeMount has no readOnly: the source says it for every mount.
    assert_eq!(
        t["containers"][1]["volumeMounts"],
        json!([{"name": "shared", "mountPath": "/data"}])
    );
}

#[test]
fn a_job_mounts_every_kind_in_its_task_template() {
    let (t, sent_job) = task_template(&job(
        "resources: {cpu: '1', memory: 1Gi}, \
         volumeMounts: [{name: token, mountPath: /secrets}, {name: scratch, mountPath: /tmp/work}, \
                        {name: input, mountPath: /input, readOnly: true}, \
                        {name: out, mountPath: /out, subPath: reports}]",
        "volumes: [{name: token, secret: {name: api-token, key: '2'}}, \
                   {name: scratch, emptyDir: {sizeLimit: 512Mi}}, \
                   {name: input, gcs: {bucket: acme-input}}, \
                   {name: out, nfs: {server: 10.0.0.2, path: /exports/reports}}], \
         cloudRun: {vpcAccess: {connector: projects/acme-prod/locations/europe-west1/connectors/batch}}",
    ));
    assert_eq!(
        t["volumes"],
        json!([
            {"name": "token", "secret": {"secret": "api-token", "items": [{"path": "api-token", "version": "2"}]}},
            {"name": "scratch", "emptyDir": {"medium": "MEMORY", "sizeLimit": "512Mi"}},
            {"name": "input", "gcs": {"bucket": "acme-input", "readOnly": true}},
            {"name": "out", "nfs": {"server": "10.0.0.2", "path": "/exports/reports"}},
        ])
    );
    assert_eq!(
        t["containers"][0]["volumeMounts"],
        json!([
            {"name": "token", "mountPath": "/secrets"},
            {"name": "scratch", "mountPath": "/tmp/work"},
            {"name": "input", "mountPath": "/input"},
            {"name": "out", "mountPath": "/out", "subPath": "reports"},
        ])
    );
    assert_eq!(t["executionEnvironment"], "EXECUTION_ENVIRONMENT_GEN2");
    assert_eq!(
        sent_job["template"]["template"]["executionEnvironment"], 2,
        "as sent"
    );
    assert_eq!(
        sent_job["template"]["template"]["volumes"][1]["emptyDir"]["medium"],
        1
    );
}

/// The errors of `spec` (a service, or a job when `is_job`), as `field: message`.
fn refusals(spec: &str, is_job: bool) -> Vec<String> {
    let errors = if is_job {
        ferry_core::job::validate_job(&serverless_job(spec), &CloudRun)
            .err()
            .map(|e| e.errors)
    } else {
        ferry_core::validate(&serverless_service(spec), &CloudRun)
            .err()
            .map(|e| e.errors)
    };
    errors
        .unwrap_or_default()
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect()
}

/// Every kind and option Cloud Run cannot mount, refused naming the field, on services and jobs.
#[test]
fn what_cloud_run_cannot_mount_is_refused_naming_the_field() {
    let one = |volume: &str, mount: &str, extra: &str| {
        simple(
            &format!("volumeMounts: [{{name: v, mountPath: /v{mount}}}]"),
            &format!("volumes: [{{name: v, {volume}}}]{extra}"),
        )
    };
    let one_job = |volume: &str, mount: &str, extra: &str| {
        job(
            &format!("volumeMounts: [{{name: v, mountPath: /v{mount}}}]"),
            &format!("volumes: [{{name: v, {volume}}}]{extra}"),
        )
    };
    let cases: Vec<(String, &str)> = vec![
        (
            one("efs: {fileSystemId: fs-0123456789abcdef0}", "", ""),
            "spec.volumes[0].efs: Cloud Run does not support",
        ),
        (
            one(
                "azureFile: {shareName: files, storageAccount: acmefiles}",
                "",
                "",
            ),
            "spec.volumes[0].azureFile: Cloud Run does not support",
        ),
        (
            one("emptyDir: {medium: Disk, sizeLimit: 64Mi}", "", ""),
            "spec.volumes[0].emptyDir.medium: Cloud Run",
        ),
        (
            one("emptyDir: {sizeLimit: 1Gi}", "", ""),
            "spec.volumes[0].emptyDir.sizeLimit: Cloud Run keeps in-memory volumes in the \
             instance's memory",
        ),
        (
            simple(
                "volumeMounts: [{name: a, mountPath: /a}, {name: b, mountPath: /b}]",
                "volumes: [{name: a, emptyDir: {sizeLimit: 300Mi}}, \
                           {name: b, emptyDir: {sizeLimit: 300Mi}}]",
            ),
            "spec.volumes: Cloud Run keeps in-memory volumes in the instance's memory",
        ),
        (
            one(
                "gcs: {bucket: acme-assets}",
                "",
                ", cloudRun: {executionEnvironment: gen1}",
            ),
            "spec.volumes[0].gcs: a Cloud Storage volume needs Cloud Run's second generation \
             execution environment, and spec.cloudRun.executionEnvironment is gen1",
        ),
        (
            one(
                "nfs: {server: 10.0.0.2, path: /exports}",
                "",
                ", cloudRun: {executionEnvironment: gen1}",
            ),
            "spec.volumes[0].nfs: an NFS volume needs Cloud Run's second generation",
        ),
        (
            simple(
                "resources: {cpu: 500m, memory: 512Mi}, \
                 volumeMounts: [{name: v, mountPath: /v}]",
                "concurrency: 1, volumes: [{name: v, nfs: {server: 10.0.0.2, path: /exports}}]",
            ),
            "spec.volumes[0].nfs: an NFS volume needs Cloud Run's second generation execution \
             environment, which needs 1 vCPU or more",
        ),
        (
            simple(
                "resources: {cpu: '1', memory: 256Mi}, \
                 volumeMounts: [{name: v, mountPath: /v}]",
                "volumes: [{name: v, gcs: {bucket: acme-assets}}]",
            ),
            "spec.containers[0].resources.memory: Cloud Run pairs 1 vCPU with 512Mi",
        ),
        (
            simple(
                "volumeMounts: [{name: v, mountPath: /v, readOnly: true}]",
                "volumes: [{name: v, emptyDir: {sizeLimit: 64Mi}}]",
            ),
            "spec.containers[0].volumeMounts[0].readOnly: Cloud Run mounts an in-memory volume \
             read-write",
        ),
        (
            two_containers(
                "{name: v, mountPath: /v, readOnly: true}",
                "{name: v, mountPath: /v}",
                "volumes: [{name: v, gcs: {bucket: acme-assets}}]",
            ),
            "spec.containers[0].volumeMounts[0].readOnly: Cloud Run's volume mounts have no \
             readOnly",
        ),
        (
            one("secret: {name: app-config}", "", "")
                .replace("mountPath: /v", "mountPath: /proc/app"),
            "spec.containers[0].volumeMounts[0].mountPath: Cloud Run mounts no volume at /dev, \
             /proc or /sys",
        ),
        (
            one("secret: {name: 'app/config'}", "", ""),
            "spec.volumes[0].secret.name: a Secret Manager secret is",
        ),
        (
            one("secret: {name: app-config, key: v1}", "", ""),
            "spec.volumes[0].secret.key: on Cloud Run the key is the secret's version",
        ),
        // Jobs: the same rules on the task template.
        (
            one_job("efs: {fileSystemId: fs-0123456789abcdef0}", "", ""),
            "spec.volumes[0].efs: Cloud Run does not support",
        ),
        (
            one_job(
                "azureFile: {shareName: files, storageAccount: acmefiles}",
                "",
                "",
            ),
            "spec.volumes[0].azureFile: Cloud Run does not support",
        ),
        (
            one_job("emptyDir: {medium: Disk}", "", ""),
            "spec.volumes[0].emptyDir.medium: Cloud Run",
        ),
        (
            one_job("emptyDir: {sizeLimit: 2Gi}", "", ""),
            "spec.volumes[0].emptyDir.sizeLimit: Cloud Run keeps in-memory volumes",
        ),
        (
            one_job(
                "gcs: {bucket: acme-input}",
                "",
                ", cloudRun: {executionEnvironment: gen1}",
            ),
            "spec.volumes[0].gcs: a Cloud Storage volume needs Cloud Run's second generation",
        ),
        (
            one_job("emptyDir: {sizeLimit: 64Mi}", ", readOnly: true", ""),
            "spec.containers[0].volumeMounts[0].readOnly: Cloud Run mounts an in-memory volume",
        ),
        (
            one_job("nfs: {server: 10.0.0.2, path: /exports}", "", "")
                .replace("mountPath: /v", "mountPath: /sys/fs"),
            "spec.containers[0].volumeMounts[0].mountPath: Cloud Run mounts no volume at",
        ),
    ];
    for (spec, expected) in &cases {
        let found = refusals(spec, spec.contains("name: report"));
        assert!(
            found.iter().any(|r| r.contains(expected)),
            "{spec}\nexpected {expected:?} in {found:#?}"
        );
    }
    // What Cloud Run can do is not refused.
    for spec in [
        one("emptyDir: {medium: Memory, sizeLimit: 256Mi}", "", ""),
        one("gcs: {bucket: acme-assets, readOnly: true}", "", ""),
        two_containers(
            "{name: v, mountPath: /v, readOnly: true}",
            "{name: v, mountPath: /w, readOnly: true}",
            "volumes: [{name: v, gcs: {bucket: acme-assets}}]",
        ),
        one("secret: {name: app-config}", ", readOnly: true", ""),
        one("emptyDir: {sizeLimit: 512Mi}", ", subPath: a/b", ""),
        one_job("gcs: {bucket: acme-input}", "", ""),
    ] {
        assert_eq!(
            refusals(&spec, spec.contains("name: report")),
            Vec::<String>::new(),
            "{spec}"
        );
    }
}

#[test]
fn an_nfs_volume_without_vpc_access_is_accepted_with_a_warning() {
    let svc = serverless_service(&simple(
        "volumeMounts: [{name: v, mountPath: /v}]",
        "volumes: [{name: v, nfs: {server: 10.0.0.2, path: /exports}}]",
    ));
    let valid = ferry_core::validate(&svc, &CloudRun).unwrap();
    assert!(
        valid
            .warnings
            .iter()
            .any(|w| w.field == "spec.volumes[0].nfs" && w.message.contains("vpcAccess")),
        "{:#?}",
        valid.warnings
    );
}

#[test]
fn a_volume_change_is_an_update_and_the_same_volumes_are_not() {
    let spec = |limit: &str| {
        simple(
            "volumeMounts: [{name: scratch, mountPath: /scratch}]",
            &format!("volumes: [{{name: scratch, emptyDir: {{sizeLimit: {limit}}}}}]"),
        )
    };
    let held = mirror(&requests(&spec("128Mi")));
    assert_eq!(diff(&requests(&spec("128Mi")), &held), Vec::<Change>::new());
    assert_eq!(diff(&requests(&spec("256Mi")), &held), vec![Change::Spec]);
    let moved = simple(
        "volumeMounts: [{name: scratch, mountPath: /elsewhere}]",
        "volumes: [{name: scratch, emptyDir: {sizeLimit: 128Mi}}]",
    );
    assert_eq!(diff(&requests(&moved), &held), vec![Change::Spec]);
    let without = simple("", "");
    assert_eq!(diff(&requests(&without), &held), vec![Change::Spec]);

    // Jobs: the fingerprint covers the task template's volumes too.
    let job_requests = |bucket: &str| {
        let want = desired_job(
            &job(
                "volumeMounts: [{name: input, mountPath: /input}]",
                &format!("volumes: [{{name: input, gcs: {{bucket: {bucket}}}}}]"),
            ),
            &CloudRun,
        );
        job_build::requests(&want, &example_provider_config()).unwrap()
    };
    let held = job_requests("acme-input").job;
    assert_eq!(
        job_build::diff(&job_requests("acme-input"), &held),
        Vec::<Change>::new()
    );
    assert_eq!(
        job_build::diff(&job_requests("acme-other"), &held),
        vec![Change::Spec]
    );
}

fn checker() -> Checker {
    Checker {
        script: crate_dir().join("tests/proto_validate.py"),
        with: "Google's protos",
        install: cloudrun_fake::INSTALL_HINT,
        ok: " ok",
    }
}

#[test]
fn every_built_volume_matches_googles_protos() {
    let volumes = "volumes: [{name: token, secret: {name: projects/acme-secrets/secrets/token, key: '2'}}, \
                   {name: scratch, emptyDir: {sizeLimit: 128Mi}}, \
                   {name: input, gcs: {bucket: acme-input, readOnly: true}}, \
                   {name: out, nfs: {server: 10.0.0.2, path: /exports/reports}}], \
         cloudRun: {vpcAccess: {connector: projects/acme-prod/locations/europe-west1/connectors/c}}";
    let mounts = "volumeMounts: [{name: token, mountPath: /secrets}, \
                  {name: scratch, mountPath: /tmp/work}, {name: input, mountPath: /input}, \
                  {name: out, mountPath: /out, subPath: reports}]";
    let service = requests(&simple(mounts, volumes));
    let want = desired_job(
        &job(
            &format!("resources: {{cpu: '1', memory: 1Gi}}, {mounts}"),
            volumes,
        ),
        &CloudRun,
    );
    let job_requests = job_build::requests(&want, &example_provider_config()).unwrap();
    let as_job = |value: &Value| json!({"@message": "google.cloud.run.v2.Job", "@value": value});
    // Every volume is in what is checked, none dropped on the way.
    let count = |v: &Value| v.as_array().map(Vec::len);
    assert_eq!(count(&sent(&service)["template"]["volumes"]), Some(4));
    assert_eq!(
        count(&json(&job_requests.job)["template"]["template"]["volumes"]),
        Some(4)
    );
    checker().assert_accepts(&[
        ("service, as sent".to_owned(), sent(&service)),
        (
            "service, as rendered".to_owned(),
            service.rendered()["createService"]["service"].clone(),
        ),
        ("job, as sent".to_owned(), as_job(&json(&job_requests.job))),
        (
            "job, as rendered".to_owned(),
            as_job(&job_requests.rendered(&want.object, Some(1))["createJob"]["job"]),
        ),
    ]);
}

/// The examples deploy/examples/cloudrun-volumes.yaml (a service, also a snapshot) and
/// cloudrun-volumes-job.yaml map every volume, and Google's protos accept both.
#[test]
fn the_volumes_example_renders_what_googles_protos_accept() {
    let docs: Vec<Value> = ferry_testkit::yaml_documents(&ferry_testkit::builders::examples_dir())
        .into_iter()
        .filter(|(file, _)| {
            file.ends_with("cloudrun-volumes.yaml") || file.ends_with("cloudrun-volumes-job.yaml")
        })
        .map(|(_, doc)| doc)
        .collect();
    let of_kind = |kind: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind)
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} in the cloudrun-volumes examples"))
    };
    let svc: ferry_api::ServerlessService =
        serde_json::from_value(of_kind("ServerlessService")).unwrap();
    let service = crate::common::requests_for(&crate::common::desired_of(&svc));
    let t = service.rendered()["createService"]["service"]["template"].clone();
    let names = |t: &Value| -> Vec<String> {
        t["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&t), ["config", "scratch", "assets", "uploads"]);
    assert_eq!(t["executionEnvironment"], "EXECUTION_ENVIRONMENT_GEN2");
    assert_eq!(t["volumes"][2]["gcs"]["readOnly"], true);
    assert_eq!(
        t["containers"][1]["volumeMounts"],
        json!([
            {"name": "scratch", "mountPath": "/work"},
            {"name": "assets", "mountPath": "/assets"},
        ])
    );

    let sjob: ferry_api::ServerlessJob = serde_json::from_value(of_kind("ServerlessJob")).unwrap();
    let want = ferry_core::job::validate_job(&sjob, &CloudRun)
        .unwrap_or_else(|e| panic!("{e}"))
        .desired;
    let job_requests = job_build::requests(&want, &example_provider_config()).unwrap();
    let rendered = job_requests.rendered(&want.object, Some(1));
    let task = &rendered["createJob"]["job"]["template"]["template"];
    assert_eq!(names(task), ["assets", "reports", "scratch"]);
    assert_eq!(task["executionEnvironment"], "EXECUTION_ENVIRONMENT_GEN2");
    let as_message = |message: &str, value: &Value| json!({"@message": message, "@value": value});
    checker().assert_accepts(&[
        ("service, as sent".to_owned(), sent(&service)),
        (
            "service, as rendered".to_owned(),
            service.rendered()["createService"]["service"].clone(),
        ),
        (
            "job, as sent".to_owned(),
            as_message("google.cloud.run.v2.Job", &json(&job_requests.job)),
        ),
        (
            "job, as rendered".to_owned(),
            as_message("google.cloud.run.v2.Job", &rendered["createJob"]["job"]),
        ),
        (
            "its schedule".to_owned(),
            as_message(
                "google.cloud.scheduler.v1.Job",
                &json(job_requests.scheduler.as_ref().unwrap()),
            ),
        ),
    ]);
}
