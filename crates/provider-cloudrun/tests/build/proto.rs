//! Every Service Ferry builds, checked offline against Google's own protos by
//! `tests/proto_validate.py` (unknown or misspelled fields, types, enum values, durations,
//! output-only fields set, required fields missing, label and annotation namespaces v2
//! rejects), both as the client sends it (enums as numbers) and as `ferry render` prints it.
//!
//! Needs the official `google-cloud-run` package, in the project's virtualenv (or the
//! interpreter `FERRY_PYTHON` names). The tests fail, never skip, without it.

use ferry_testkit::Checker;
use serde_json::{Value, json};

use crate::common::{crate_dir, requests, sent, simple};
use crate::snapshots;

/// The checker, run by the project's virtualenv (which has Google's protos).
fn checker() -> Checker {
    Checker {
        script: crate_dir().join("tests/proto_validate.py"),
        with: "Google's protos",
        install: cloudrun_fake::INSTALL_HINT,
        ok: " ok",
    }
}

/// Specs that between them set every field the builder writes, beyond the snapshot cases.
fn mapping_specs() -> Vec<String> {
    vec![
        simple("", ""),
        simple(
            "command: [/bin/hello], args: [serve], \
             env: [{name: MODE, value: prod}, {name: EMPTY, value: ''}, \
                   {name: TOKEN, secret: {name: token}}], \
             resources: {cpu: '4', memory: 16Gi, gpu: {count: 1, type: nvidia-l4}}, \
             probes: {startup: {tcpSocket: {}, periodSeconds: 5}, \
                      liveness: {httpGet: {path: /live, httpHeaders: [{name: X, value: '1'}]}}, \
                      readiness: {grpc: {service: hello}}}",
            "concurrency: 10, timeoutSeconds: 3600, scaling: {minInstances: 1, maxInstances: 3}, \
             traffic: [{latestRevision: true, percent: 50, tag: a}, \
                       {revisionName: shop-hello-cd5cea3a-00001-abc, percent: 50}], \
             cloudRun: {allowUnauthenticated: true, startupCpuBoost: true}",
        ),
        simple(
            "resources: {cpu: 80m, memory: 128Mi}",
            "concurrency: 1, ingress: internal, cloudRun: {executionEnvironment: gen1, \
             vpcAccess: {connector: projects/p-123/locations/europe-west1/connectors/c, \
                         egress: ALL_TRAFFIC}}",
        ),
    ]
}

#[test]
fn every_built_service_matches_googles_protos() {
    let mut labelled: Vec<(String, Value)> = Vec::new();
    let built = snapshots::cases()
        .into_iter()
        .map(|case| (case.name.clone(), snapshots::case_requests(&case)))
        .chain(
            mapping_specs()
                .into_iter()
                .map(|spec| (spec.clone(), requests(&spec))),
        );
    for (name, requests) in built {
        labelled.push((format!("{name}: as sent"), sent(&requests)));
        labelled.push((
            format!("{name}: as rendered"),
            requests.rendered()["createService"]["service"].clone(),
        ));
    }
    checker().assert_accepts(&labelled);
}

#[test]
fn the_checker_refuses_what_cloud_run_refuses() {
    let good = sent(&requests(&simple(
        "env: [{name: TOKEN, secret: {name: token}}], \
         probes: {liveness: {httpGet: {path: /live}}}",
        "timeoutSeconds: 30",
    )));
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut doc = good.clone();
        f(&mut doc);
        doc
    };
    let rename = |doc: &mut Value, pointer: &str, from: &str, to: &str| {
        let object = doc.pointer_mut(pointer).unwrap().as_object_mut().unwrap();
        let value = object.remove(from).unwrap();
        object.insert(to.into(), value);
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "a misspelled field",
            edit(&|d| rename(d, "/template/containers/0", "image", "imgae")),
            "has no field named \"imgae\"",
        ),
        (
            "a misspelled top-level field",
            edit(&|d| rename(d, "", "traffic", "trafic")),
            "has no field named \"trafic\"",
        ),
        (
            "a field Cloud Run does not have",
            edit(&|d| d["template"]["max_instances"] = json!(3)),
            "has no field named \"max_instances\"",
        ),
        (
            "an enum value that does not exist",
            edit(&|d| d["ingress"] = json!("INGRESS_TRAFFIC_PUBLIC")),
            "Invalid enum value INGRESS_TRAFFIC_PUBLIC",
        ),
        (
            "a number as text",
            edit(&|d| d["template"]["maxInstanceRequestConcurrency"] = json!("eighty")),
            "maxInstanceRequestConcurrency",
        ),
        (
            "a duration without its unit",
            edit(&|d| d["template"]["timeout"] = json!("30")),
            "Duration",
        ),
        (
            "an output-only field",
            edit(&|d| d["uri"] = json!("https://x.a.run.app")),
            "Service.uri: output only",
        ),
        (
            "a missing required field",
            edit(&|d| {
                d["template"]["containers"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("image");
            }),
            "Service.template.containers[0].image: required, missing",
        ),
        (
            "a missing secret name",
            edit(&|d| {
                d["template"]["containers"][0]["env"][0]["valueSource"]["secretKeyRef"]
                    .as_object_mut()
                    .unwrap()
                    .remove("secret");
            }),
            "secretKeyRef.secret: required, missing",
        ),
        (
            "an annotation in a namespace v2 rejects",
            edit(&|d| d["annotations"]["run.googleapis.com/ingress"] = json!("all")),
            "'run.googleapis.com/ingress' is in a namespace Cloud Run v2 rejects",
        ),
        (
            "a template label in a namespace v2 rejects",
            edit(&|d| d["template"]["labels"] = json!({"serving.knative.dev/service": "x"})),
            "'serving.knative.dev/service' is in a namespace Cloud Run v2 rejects",
        ),
    ];
    checker().assert_refuses(std::slice::from_ref(&good), &cases);
}

#[test]
fn the_checker_fails_loudly_on_input_it_cannot_read() {
    let verdict = checker().run(b"");
    assert_eq!(
        verdict.code,
        Some(2),
        "no documents is an error, not a pass: {}",
        verdict.stderr
    );
    assert!(
        verdict.stderr.contains("no documents on stdin"),
        "{}",
        verdict.stderr
    );
}
