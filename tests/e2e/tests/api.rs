//! What needs no backend: Ferry's CRDs install and are established, the API server accepts the
//! examples, and refuses what the CRD schema refuses, naming the field. Runs on the stand-in, or
//! on a real cluster with `FERRY_E2E_KUBECONFIG`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::fmt::Write as _;
use std::path::PathBuf;

use e2e::{Cluster, MANAGER, TestNamespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::discovery::{Discovery, Scope};
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn documents(dir: &str) -> Vec<(String, String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let value: Value = serde_saphyr::from_str(&text).ok()?;
            Some((
                p.file_name().unwrap().to_string_lossy().into_owned(),
                text,
                value,
            ))
        })
        .collect()
}

fn api_resource(kind: &str) -> ApiResource {
    match kind {
        "ServerlessService" => ApiResource::erase::<ferry_api::ServerlessService>(&()),
        "ServerlessJob" => ApiResource::erase::<ferry_api::ServerlessJob>(&()),
        "ProviderConfig" => ApiResource::erase::<ferry_api::ProviderConfig>(&()),
        other => panic!("unexpected kind {other}"),
    }
}

fn api_for(client: &kube::Client, object: &Value, namespace: &str) -> Api<DynamicObject> {
    let kind = object["kind"].as_str().unwrap();
    let resource = api_resource(kind);
    if kind == "ProviderConfig" {
        Api::all_with(client.clone(), &resource)
    } else {
        Api::namespaced_with(client.clone(), namespace, &resource)
    }
}

#[tokio::test]
async fn ferrys_crds_install_and_are_discoverable() {
    let cluster = Cluster::shared().unwrap();
    cluster.install_crds().await.unwrap();
    let discovery = Discovery::new(cluster.client().await.unwrap())
        .run()
        .await
        .unwrap();
    let group = discovery
        .groups()
        .find(|g| g.name() == "ferry.dev")
        .expect("ferry.dev is served");
    let (service, caps) = group.recommended_kind("ServerlessService").unwrap();
    assert_eq!(
        (service.plural.as_str(), caps.scope.clone()),
        ("serverlessservices", Scope::Namespaced)
    );
    assert!(
        caps.subresources
            .iter()
            .any(|(r, _)| r.plural == "serverlessservices/status" || r.plural == "status")
    );
    let (config, caps) = group.recommended_kind("ProviderConfig").unwrap();
    assert_eq!(
        (config.plural.as_str(), caps.scope.clone()),
        ("providerconfigs", Scope::Cluster)
    );
}

#[tokio::test]
async fn the_api_server_accepts_every_example() {
    let cluster = Cluster::shared().unwrap();
    cluster.install_crds().await.unwrap();
    let namespace = TestNamespace::create(cluster, "examples").await.unwrap();
    let client = cluster.client().await.unwrap();
    let suffix = namespace
        .name()
        .trim_start_matches("e2e-examples-")
        .to_owned();
    let mut cluster_scoped = Vec::new();
    for (file, _, mut object) in documents("deploy/examples") {
        // Cluster-scoped examples get a name of their own so runs on a shared cluster do not
        // collide.
        if object["kind"] == "ProviderConfig" {
            let name = format!("{}-{suffix}", object["metadata"]["name"].as_str().unwrap());
            object["metadata"]["name"] = name.clone().into();
            cluster_scoped.push(name);
        } else {
            // The examples are one service on each provider, all named hello: name each after
            // its file.
            object["metadata"]["namespace"] = namespace.name().into();
            object["metadata"]["name"] = file.trim_end_matches(".yaml").into();
        }
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        let api = api_for(&client, &object, namespace.name());
        let params = PatchParams::apply(MANAGER).validation_strict();
        let object: DynamicObject = serde_json::from_value(object).unwrap();
        let stored = api
            .patch(&name, &params, &Patch::Apply(&object))
            .await
            .unwrap_or_else(|e| panic!("{file} was refused: {e}"));
        assert_eq!(stored.metadata.generation, Some(1), "{file}");
    }
    let configs: Api<DynamicObject> = Api::all_with(
        client,
        &ApiResource::erase::<ferry_api::ProviderConfig>(&()),
    );
    for name in cluster_scoped {
        configs
            .delete(&name, &DeleteParams::default())
            .await
            .unwrap();
    }
}

/// Every invalid fixture the CRD itself refuses (`# refused-by: schema`) is refused by the API
/// server, with the field in the answer: 422 Invalid, or 400 for an unknown field under strict
/// field validation; or, since the fixtures are applied server-side, the 500 kube-apiserver
/// answers when it cannot type the applied configuration (`failed to create typed patch object
/// (...): .spec.containers: duplicate entries for key [name="app"]`, or `field not declared in
/// schema`), which names the field as structured-merge-diff writes paths.
#[tokio::test]
async fn the_api_server_refuses_what_the_crd_schema_refuses_naming_the_field() {
    let cluster = Cluster::shared().unwrap();
    cluster.install_crds().await.unwrap();
    let namespace = TestNamespace::create(cluster, "invalid").await.unwrap();
    let client = cluster.client().await.unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut checked = 0;
    for (file, text, mut object) in documents("tests/fixtures/invalid") {
        let refused_by_schema = text.lines().any(|l| l == "# refused-by: schema");
        if !refused_by_schema || object["apiVersion"] != ferry_api::API_VERSION {
            continue;
        }
        let expect = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect: "))
            .unwrap();
        let (field, what) = expect.split_once(": ").unwrap();
        if object["kind"] != "ProviderConfig" {
            object["metadata"]["namespace"] = namespace.name().into();
        }
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        let api = api_for(&client, &object, namespace.name());
        let params = PatchParams::apply(MANAGER).validation_strict();
        let dynamic: DynamicObject = serde_json::from_value(object.clone()).unwrap();
        let status = match api.patch(&name, &params, &Patch::Apply(&dynamic)).await {
            Ok(_) => panic!("{file}: the API server accepted it"),
            Err(kube::Error::Api(status)) => status,
            Err(other) => panic!("{file}: {other}"),
        };
        if status.code == 500 {
            assert!(
                status
                    .message
                    .starts_with("failed to create typed patch object ("),
                "{file}: {status:?}"
            );
            let schema = served_schema(&crds, &object).await;
            let named = typed_error(&schema, &object, field, what);
            assert!(
                status.message.contains(&named),
                "{file}: {named:?} not named in {status:?}"
            );
            checked += 1;
            continue;
        }
        assert!(matches!(status.code, 400 | 422), "{file}: {status:?}");
        let causes: Vec<String> = status
            .details
            .iter()
            .flat_map(|d| d.causes.iter().map(|c| c.field.clone()))
            .collect();
        let names_field = status.message.contains(field) || causes.iter().any(|c| c == field);
        // A rule on the object itself names its field in the message only.
        let field = if field.starts_with("ServerlessService ") {
            "metadata.name"
        } else {
            field
        };
        assert!(
            names_field || status.message.contains(field),
            "{file}: {field} not named in {status:?}"
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} fixtures checked");
}

/// The `openAPIV3Schema` the server serves for `object`'s kind.
async fn served_schema(crds: &Api<CustomResourceDefinition>, object: &Value) -> Value {
    let resource = api_resource(object["kind"].as_str().unwrap());
    let crd = crds
        .get(&format!("{}.{}", resource.plural, resource.group))
        .await
        .unwrap();
    let crd = serde_json::to_value(crd).unwrap();
    crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == resource.version)
        .map(|v| v["schema"]["openAPIV3Schema"].clone())
        .unwrap()
}

/// What kube-apiserver's 500 says of the fixture field `field` (`spec.containers[1]`) refused
/// for `what`: for a `Duplicate value`, the list's path and the repeated key
/// (`.spec.containers: duplicate entries for key [name="app"]`); otherwise the field's path
/// (`.spec.scaling.minInstance`). structured-merge-diff names list-map items by their keys.
fn typed_error(schema: &Value, object: &Value, field: &str, what: &str) -> String {
    if what.starts_with("Duplicate value") {
        let (list, index) = field.rsplit_once('[').unwrap();
        let index: usize = index.trim_end_matches(']').parse().unwrap();
        let (path, list_schema, items) = typed_path(schema, object, list);
        let keys = list_map_keys(&list_schema).unwrap();
        let key = item_key(&keys, &items[index]);
        format!("{path}: duplicate entries for key {key}")
    } else {
        typed_path(schema, object, field).0
    }
}

/// structured-merge-diff's path of `field` (`spec.containers[0].env`) in `object`, with the
/// schema and value found there.
fn typed_path(schema: &Value, object: &Value, field: &str) -> (String, Value, Value) {
    let (mut path, mut schema, mut value) = (String::new(), schema.clone(), object.clone());
    for part in field.split('.') {
        let mut pieces = part.split('[');
        let name = pieces.next().unwrap();
        path.push('.');
        path.push_str(name);
        schema = schema["properties"][name].clone();
        value = value[name].clone();
        for index in pieces {
            let index: usize = index.trim_end_matches(']').parse().unwrap();
            let item = value[index].clone();
            match list_map_keys(&schema) {
                Some(keys) => path.push_str(&item_key(&keys, &item)),
                None => write!(path, "[{index}]").unwrap(),
            }
            schema = schema["items"].clone();
            value = item;
        }
    }
    (path, schema, value)
}

fn list_map_keys(schema: &Value) -> Option<Vec<String>> {
    if schema["x-kubernetes-list-type"] != "map" {
        return None;
    }
    let mut keys: Vec<String> =
        serde_json::from_value(schema["x-kubernetes-list-map-keys"].clone()).unwrap();
    keys.sort();
    Some(keys)
}

/// `[name="app"]`: a list-map item's key fields, sorted, as structured-merge-diff prints them.
fn item_key(keys: &[String], item: &Value) -> String {
    let fields: Vec<String> = keys.iter().map(|k| format!("{k}={}", item[k])).collect();
    format!("[{}]", fields.join(","))
}
