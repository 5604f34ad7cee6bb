//! `is_up_to_date` against live objects as Knative and the API server return them: true with
//! defaults, status and other managers' fields added; false once any field Ferry sets differs or
//! is missing.

use ferry_provider_knative::build::is_up_to_date;
use ferry_testkit::builders::{all_pointers, changed, parent_and_last};
use serde_json::{Value, json};

use crate::common::{build_checked, desired, service_schema};

/// A Service that sets nearly every field Ferry can write.
fn want() -> Value {
    let mut d = desired(
        "{provider: knative, \
          containers: [\
           {name: app, image: 'ghcr.io/acme/app:2', port: 8080, command: [/app], args: [serve], \
            env: [{name: MODE, value: prod}, {name: TOKEN, secret: {name: api, key: token}}], \
            resources: {cpu: '1', memory: 1Gi, ephemeralStorage: 2Gi}, \
            probes: {readiness: {httpGet: {path: /ready, httpHeaders: [{name: X-Probe, value: '1'}]}, \
                                 periodSeconds: 5}, \
                     liveness: {grpc: {service: health}}}}, \
           {name: proxy, image: 'ghcr.io/acme/proxy:1', \
            probes: {startup: {tcpSocket: {port: 9000}, failureThreshold: 20}}}], \
          concurrency: 40, timeoutSeconds: 90, \
          scaling: {minInstances: 1, maxInstances: 6, initialInstances: 2, metric: rps, target: 100, \
                    scaleDownDelaySeconds: 30}, \
          ingress: internal, \
          traffic: [{revisionName: hello-00001, percent: 80, tag: stable}, \
                    {latestRevision: true, percent: 20, tag: canary}], \
          knative: {ingressClass: kourier.ingress.networking.knative.dev, serviceAccountName: runner, \
                    nodeSelector: {pool: general}, annotations: {autoscaling.knative.dev/window: 40s}}}",
    );
    d.object.uid = Some("0b7d2c4e-1111-4c3a-9f00-5e5e5e5e5e5e".into());
    build_checked(&d)
}

/// Adds what `defaults` has and `into` lacks; lists merge item by item.
fn add_missing(into: &mut Value, defaults: &Value) {
    match (into, defaults) {
        (Value::Object(into), Value::Object(defaults)) => {
            for (key, default) in defaults {
                match into.get_mut(key) {
                    Some(existing) => add_missing(existing, default),
                    None => {
                        into.insert(key.clone(), default.clone());
                    }
                }
            }
        }
        (Value::Array(into), Value::Array(defaults)) => {
            for (item, default) in into.iter_mut().zip(defaults) {
                add_missing(item, default);
            }
        }
        _ => {}
    }
}

/// `want` as a GET returns it after Knative's webhook defaulted it and its controllers reported.
fn live_of(want: &Value) -> Value {
    let mut live = service_schema().with_defaults(want);
    add_missing(
        &mut live,
        &json!({
            "metadata": {
                "uid": "9a9a9a9a-2222-4d4d-8e8e-7f7f7f7f7f7f",
                "resourceVersion": "48213",
                "generation": 3,
                "creationTimestamp": "2025-01-01T00:00:00Z",
                "annotations": {
                    "serving.knative.dev/creator": "system:serviceaccount:ferry-system:ferry",
                    "serving.knative.dev/lastModifier": "system:serviceaccount:ferry-system:ferry",
                },
                "labels": {"team.example.com/owner": "payments"},
                "managedFields": [{
                    "manager": "ferry",
                    "operation": "Apply",
                    "apiVersion": "serving.knative.dev/v1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:template": {}}},
                }],
            },
            "spec": {
                "template": {
                    "metadata": {"creationTimestamp": null},
                    "spec": {
                        "enableServiceLinks": false,
                        "containers": [
                            {"readinessProbe": {"successThreshold": 1, "failureThreshold": 3,
                                                "timeoutSeconds": 1},
                             "livenessProbe": {"grpc": {"service": "health"}}},
                            {"resources": {}},
                        ],
                    },
                },
                "traffic": [{"latestRevision": false}, {}],
            },
            "status": {
                "observedGeneration": 3,
                "url": "http://hello.shop.svc.cluster.local",
                "address": {"url": "http://hello.shop.svc.cluster.local"},
                "latestReadyRevisionName": "hello-00002",
                "latestCreatedRevisionName": "hello-00002",
                "traffic": [
                    {"revisionName": "hello-00001", "percent": 80, "tag": "stable", "latestRevision": false},
                    {"revisionName": "hello-00002", "percent": 20, "tag": "canary", "latestRevision": true},
                ],
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }),
    );
    live
}

#[test]
fn the_built_service_is_up_to_date_with_itself() {
    let want = want();
    assert!(is_up_to_date(&want, &want));
}

#[test]
fn knative_defaults_status_and_other_managers_fields_do_not_matter() {
    let want = want();
    let live = live_of(&want);
    assert_ne!(want, live, "the live object has more than Ferry set");
    assert!(is_up_to_date(&want, &live));
}

#[test]
fn extra_fields_anywhere_in_an_object_do_not_matter() {
    let want = want();
    let mut live = live_of(&want);
    for (pointer, leaf) in all_pointers(&live) {
        if !leaf && let Some(Value::Object(map)) = live.pointer_mut(&pointer) {
            map.insert("x-extra.example.com".into(), json!("added by someone else"));
        }
    }
    assert!(is_up_to_date(&want, &live));
}

#[test]
fn changing_any_field_ferry_sets_makes_it_out_of_date() {
    let want = want();
    let live = live_of(&want);
    let leaves: Vec<String> = all_pointers(&want)
        .into_iter()
        .filter_map(|(p, leaf)| leaf.then_some(p))
        .collect();
    assert!(
        leaves.len() > 50,
        "the test covers a rich object: {}",
        leaves.len()
    );
    for pointer in leaves {
        let mut changed_live = live.clone();
        let field = changed_live.pointer_mut(&pointer).unwrap();
        *field = changed(field);
        assert!(
            !is_up_to_date(&want, &changed_live),
            "{pointer} changed in the live object, yet it counts as up to date"
        );
    }
}

#[test]
fn removing_any_field_ferry_sets_makes_it_out_of_date() {
    let want = want();
    let live = live_of(&want);
    for (pointer, _) in all_pointers(&want) {
        let mut removed = live.clone();
        let (parent, last) = parent_and_last(&pointer);
        match removed.pointer_mut(parent).unwrap() {
            Value::Object(map) => {
                map.remove(&last).unwrap();
            }
            Value::Array(items) => {
                items.remove(last.parse::<usize>().unwrap());
            }
            other => panic!("{parent} is a leaf: {other}"),
        }
        assert!(
            !is_up_to_date(&want, &removed),
            "{pointer} removed from the live object, yet it counts as up to date"
        );
    }
}

#[test]
fn an_extra_list_item_makes_it_out_of_date() {
    let want = want();
    let live = live_of(&want);
    let lists: Vec<String> = all_pointers(&want)
        .into_iter()
        .filter(|(p, _)| want.pointer(p).is_some_and(Value::is_array))
        .map(|(p, _)| p)
        .filter(|p| p != "/metadata/ownerReferences")
        .collect();
    assert!(lists.len() >= 7, "{lists:?}");
    for pointer in lists {
        let mut longer = live.clone();
        let items = longer
            .pointer_mut(&pointer)
            .unwrap()
            .as_array_mut()
            .unwrap();
        let extra = items.last().cloned().unwrap();
        items.push(extra);
        assert!(
            !is_up_to_date(&want, &longer),
            "{pointer} has an extra item in the live object, yet it counts as up to date"
        );
    }
}

#[test]
fn other_owners_references_do_not_matter_but_ferrys_must_be_there() {
    let want = want();
    let mut live = live_of(&want);
    let other = json!({"apiVersion": "example.com/v1", "kind": "Bundle", "name": "b",
                       "uid": "1234", "controller": false});
    let refs = live["metadata"]["ownerReferences"].as_array_mut().unwrap();
    refs.insert(0, other.clone());
    assert!(
        is_up_to_date(&want, &live),
        "another owner's reference beside Ferry's"
    );

    live["metadata"]["ownerReferences"] = json!([other]);
    assert!(!is_up_to_date(&want, &live), "Ferry's reference is gone");
}
