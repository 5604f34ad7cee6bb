//! `is_up_to_date` against live objects as the API server returns them (its defaults, the
//! controllers' status, managedFields, other owners' references): true with all that added;
//! false once any field Ferry sets differs or is missing, or the object was last applied from
//! another rendering.

use std::collections::BTreeMap;

use ferry_provider_kubernetes::build::{
    FINGERPRINT_ANNOTATION, Kind, is_up_to_date, metadata_up_to_date,
};
use ferry_testkit::builders::{all_pointers, changed, parent_and_last};
use serde_json::{Value, json};

use crate::common::{build_checked, desired};

/// Children that set nearly every field Ferry can write, owned by the object.
fn wants() -> BTreeMap<Kind, Value> {
    let mut d = desired(
        "{provider: kubernetes, \
          containers: [\
           {name: app, image: 'ghcr.io/acme/app:2', port: 8080, command: [/app], args: [serve], \
            env: [{name: MODE, value: prod}, {name: TOKEN, secret: {name: api, key: token}}], \
            resources: {cpu: '1', memory: 1Gi, ephemeralStorage: 2Gi}, \
            probes: {readiness: {httpGet: {path: /ready, httpHeaders: [{name: X-Probe, value: '1'}]}, \
                                 periodSeconds: 5}, \
                     liveness: {grpc: {service: health}}}}, \
           {name: proxy, image: 'ghcr.io/acme/proxy:1', resources: {cpu: 250m, memory: 128Mi}, \
            probes: {startup: {tcpSocket: {port: 9000}, failureThreshold: 20}}}], \
          scaling: {minInstances: 2, maxInstances: 6, metric: cpu, target: 75, \
                    scaleDownDelaySeconds: 120}, \
          kubernetes: {ingressClassName: alb, host: hello.shop.example.com, \
                       ingressAnnotations: {alb.ingress.kubernetes.io/scheme: internet-facing}, \
                       fargateProfile: {labels: {compute: fargate}}, serviceAccountName: runner, \
                       nodeSelector: {kubernetes.io/arch: amd64}, \
                       verticalPodAutoscaler: {updateMode: 'Off'}}}",
    );
    d.object.uid = Some("0b7d2c4e-1111-4c3a-9f00-5e5e5e5e5e5e".into());
    let wants = build_checked(&d);
    assert_eq!(wants.len(), Kind::ALL.len(), "the test covers every kind");
    wants
}

/// A fixed count of 3 (so the Deployment carries `replicas`), internal.
fn fixed_count_deployment() -> Value {
    let mut d = desired(
        "{provider: kubernetes, containers: [{name: app, image: 'ghcr.io/acme/app:2', \
          port: 8080, resources: {cpu: 500m, memory: 512Mi}}], \
          scaling: {minInstances: 3}, ingress: internal}",
    );
    d.object.uid = Some("0b7d2c4e-1111-4c3a-9f00-5e5e5e5e5e5e".into());
    build_checked(&d).remove(&Kind::Deployment).unwrap()
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

/// What the API server adds to every object's metadata.
fn server_metadata(kind: Kind) -> Value {
    let (group, version, ..) = kind.gvk();
    let api_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    json!({
        "uid": "9a9a9a9a-2222-4d4d-8e8e-7f7f7f7f7f7f",
        "resourceVersion": "48213",
        "generation": 3,
        "creationTimestamp": "2025-01-01T00:00:00Z",
        "labels": {"team.example.com/owner": "payments"},
        "managedFields": [{
            "manager": "ferry",
            "operation": "Apply",
            "apiVersion": api_version,
            "time": "2025-01-01T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {}}, "f:spec": {}},
        }],
    })
}

/// A probe as the API server defaults it.
fn probe_defaults() -> Value {
    json!({"successThreshold": 1, "failureThreshold": 3, "timeoutSeconds": 1, "periodSeconds": 10})
}

/// `want` as a GET returns it after the API server defaulted it and the controllers reported.
fn live_of(kind: Kind, want: &Value) -> Value {
    let mut live = want.clone();
    add_missing(&mut live, &json!({"metadata": server_metadata(kind)}));
    let mut app = json!({
        "imagePullPolicy": "IfNotPresent",
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "readinessProbe": {"httpGet": {"scheme": "HTTP"}},
        "livenessProbe": {},
    });
    for probe in ["readinessProbe", "livenessProbe"] {
        add_missing(&mut app[probe], &probe_defaults());
    }
    let defaults = match kind {
        Kind::Deployment => json!({
            "metadata": {"annotations": {"deployment.kubernetes.io/revision": "3"}},
            "spec": {
                // The HorizontalPodAutoscaler's, when Ferry leaves it out.
                "replicas": 4,
                "progressDeadlineSeconds": 600,
                "revisionHistoryLimit": 10,
                "strategy": {"type": "RollingUpdate",
                             "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "template": {
                    "metadata": {"creationTimestamp": null},
                    "spec": {
                        "restartPolicy": "Always",
                        "terminationGracePeriodSeconds": 30,
                        "dnsPolicy": "ClusterFirst",
                        "schedulerName": "default-scheduler",
                        "securityContext": {},
                        "serviceAccount": "runner",
                        "containers": [app, {
                            "imagePullPolicy": "IfNotPresent",
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File",
                            "startupProbe": probe_defaults(),
                        }],
                    },
                },
            },
            "status": {
                "observedGeneration": 3,
                "replicas": 4,
                "updatedReplicas": 4,
                "readyReplicas": 4,
                "availableReplicas": 4,
                "conditions": [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
                ],
            },
        }),
        Kind::Service => json!({
            "spec": {
                "clusterIP": "10.96.12.34",
                "clusterIPs": ["10.96.12.34"],
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
            },
            "status": {"loadBalancer": {}},
        }),
        Kind::HorizontalPodAutoscaler => json!({
            "spec": {"behavior": {
                "scaleDown": {"selectPolicy": "Max",
                              "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                            "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                         {"type": "Percent", "value": 100, "periodSeconds": 15}]},
            }},
            "status": {
                "currentReplicas": 4,
                "desiredReplicas": 4,
                "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": 61, "averageValue": "610m"}}}],
                "conditions": [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"}],
            },
        }),
        Kind::PodDisruptionBudget => json!({
            "status": {
                "observedGeneration": 3,
                "currentHealthy": 4,
                "desiredHealthy": 3,
                "disruptionsAllowed": 1,
                "expectedPods": 4,
                "conditions": [{"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods"}],
            },
        }),
        Kind::Ingress => json!({
            "metadata": {"annotations": {"alb.ingress.kubernetes.io/group.order": "0"}},
            "status": {"loadBalancer": {"ingress": [
                {"hostname": "k8s-shop-hello-0123456789-1234567890.eu-west-1.elb.amazonaws.com"},
            ]}},
        }),
        Kind::VerticalPodAutoscaler => json!({
            "status": {
                "recommendation": {"containerRecommendations": [{
                    "containerName": "app",
                    "target": {"cpu": "587m", "memory": "262144k"},
                    "lowerBound": {"cpu": "25m", "memory": "262144k"},
                    "upperBound": {"cpu": "1", "memory": "1Gi"},
                }]},
                "conditions": [{"type": "RecommendationProvided", "status": "True"}],
            },
        }),
    };
    add_missing(&mut live, &defaults);
    live
}

#[test]
fn every_built_child_is_up_to_date_with_itself() {
    for (kind, want) in wants() {
        assert!(is_up_to_date(&want, &want), "{kind:?}");
    }
}

#[test]
fn the_api_servers_defaults_status_and_other_managers_fields_do_not_matter() {
    for (kind, want) in wants()
        .into_iter()
        .chain([(Kind::Deployment, fixed_count_deployment())])
    {
        let live = live_of(kind, &want);
        assert_ne!(
            want, live,
            "{kind:?}: the live object has more than Ferry set"
        );
        assert!(live.get("status").is_some(), "{kind:?}");
        assert!(is_up_to_date(&want, &live), "{kind:?}");
    }
}

#[test]
fn the_autoscalers_replica_count_does_not_matter_but_a_fixed_one_does() {
    let wants = wants();
    let want = &wants[&Kind::Deployment];
    assert!(want["spec"].get("replicas").is_none());
    let mut live = live_of(Kind::Deployment, want);
    for replicas in [1, 2, 6, 17] {
        live["spec"]["replicas"] = json!(replicas);
        assert!(is_up_to_date(want, &live), "the autoscaler set {replicas}");
    }

    let want = fixed_count_deployment();
    assert_eq!(want["spec"]["replicas"], 3);
    let mut live = live_of(Kind::Deployment, &want);
    assert!(is_up_to_date(&want, &live));
    live["spec"]["replicas"] = json!(2);
    assert!(!is_up_to_date(&want, &live), "someone scaled it by hand");
}

#[test]
fn extra_fields_anywhere_in_an_object_do_not_matter() {
    for (kind, want) in wants() {
        let mut live = live_of(kind, &want);
        for (pointer, leaf) in all_pointers(&live) {
            if !leaf && let Some(Value::Object(map)) = live.pointer_mut(&pointer) {
                map.insert("x-extra.example.com".into(), json!("added by someone else"));
            }
        }
        assert!(is_up_to_date(&want, &live), "{kind:?}");
    }
}

#[test]
fn changing_any_field_ferry_sets_makes_it_out_of_date() {
    let mut total = 0;
    for (kind, want) in wants() {
        let live = live_of(kind, &want);
        let leaves: Vec<String> = all_pointers(&want)
            .into_iter()
            .filter_map(|(p, leaf)| leaf.then_some(p))
            .collect();
        total += leaves.len();
        for pointer in leaves {
            let mut changed_live = live.clone();
            let field = changed_live.pointer_mut(&pointer).unwrap();
            *field = changed(field);
            assert!(
                !is_up_to_date(&want, &changed_live),
                "{kind:?}: {pointer} changed in the live object, yet it counts as up to date"
            );
        }
    }
    assert!(total > 100, "the test covers rich objects: {total}");
}

#[test]
fn removing_any_field_ferry_sets_makes_it_out_of_date() {
    for (kind, want) in wants() {
        let live = live_of(kind, &want);
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
                "{kind:?}: {pointer} removed from the live object, yet it counts as up to date"
            );
        }
    }
}

#[test]
fn an_extra_list_item_makes_it_out_of_date() {
    let mut total = 0;
    for (kind, want) in wants() {
        let live = live_of(kind, &want);
        let lists: Vec<String> = all_pointers(&want)
            .into_iter()
            .filter(|(p, _)| want.pointer(p).is_some_and(Value::is_array))
            .map(|(p, _)| p)
            .filter(|p| p != "/metadata/ownerReferences")
            .collect();
        total += lists.len();
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
                "{kind:?}: {pointer} has an extra item in the live object, yet it counts as up \
                 to date"
            );
        }
    }
    assert!(total >= 10, "{total}");
}

#[test]
fn an_object_applied_from_another_rendering_is_out_of_date() {
    for (kind, want) in wants() {
        let mut live = live_of(kind, &want);
        live["metadata"]["annotations"][FINGERPRINT_ANNOTATION] = json!("0123456789abcdef");
        assert!(!is_up_to_date(&want, &live), "{kind:?}: an old fingerprint");
        assert!(!metadata_up_to_date(&want, &live), "{kind:?}");
        live["metadata"]["annotations"]
            .as_object_mut()
            .unwrap()
            .remove(FINGERPRINT_ANNOTATION);
        assert!(!is_up_to_date(&want, &live), "{kind:?}: no fingerprint");
    }
}

#[test]
fn metadata_is_up_to_date_whatever_the_spec_and_status_say() {
    for (kind, want) in wants() {
        let mut live = live_of(kind, &want);
        live["spec"] = json!({});
        assert!(metadata_up_to_date(&want, &live), "{kind:?}");
        assert!(!is_up_to_date(&want, &live), "{kind:?}");
        live["metadata"]["labels"]["app.kubernetes.io/managed-by"] = json!("helm");
        assert!(!metadata_up_to_date(&want, &live), "{kind:?}");
        live.as_object_mut().unwrap().remove("metadata");
        assert!(!metadata_up_to_date(&want, &live), "{kind:?}");
    }
}

#[test]
fn other_owners_references_do_not_matter_but_ferrys_must_be_there() {
    for (kind, want) in wants() {
        let mut live = live_of(kind, &want);
        let other = json!({"apiVersion": "example.com/v1", "kind": "Bundle", "name": "b",
                           "uid": "1234", "controller": false});
        let refs = live["metadata"]["ownerReferences"].as_array_mut().unwrap();
        refs.insert(0, other.clone());
        assert!(
            is_up_to_date(&want, &live),
            "{kind:?}: another owner's reference beside Ferry's"
        );

        live["metadata"]["ownerReferences"] = json!([other]);
        assert!(
            !is_up_to_date(&want, &live),
            "{kind:?}: Ferry's reference is gone"
        );
    }
}
