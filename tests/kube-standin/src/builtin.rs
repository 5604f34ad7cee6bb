//! Schemas of the built-in kinds, from the Kubernetes OpenAPI definitions that k8s-openapi
//! carries (its `schemars` implementations), so a Deployment with a misspelt field or a wrong
//! type is refused here as the real API server refuses it.
//!
//! The real server decodes built-in kinds into Go structs rather than pruning a structural
//! schema, but what a client sees is the same for the fields a schema describes: unknown fields
//! are dropped with a warning (refused under strict field validation) and wrong types are
//! refused. Two Go behaviours need a translation: an object with no declared fields (FieldsV1,
//! RawExtension) holds any JSON, and `metadata` is the server's own business, as for CRDs.

use std::sync::Arc;

use ferry_core::schema::{CrdSchema, SchemaError};
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope, Resource};
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

/// One built-in kind's schema, ready to check objects with.
pub fn schema_of<K>() -> Result<Arc<CrdSchema>, SchemaError>
where
    K: Resource + JsonSchema,
    K::Scope: Scope,
{
    let mut generator = SchemaSettings::draft07()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut schema = generator.root_schema_for::<K>().to_value();
    structural(&mut schema);
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.remove("metadata");
    }
    if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
        required.retain(|r| r != "metadata");
    }
    CrdSchema::from_openapi(
        &format!("{} {}", K::API_VERSION, K::KIND),
        K::API_VERSION.to_owned(),
        K::KIND.to_owned(),
        <K::Scope as Scope>::NAMESPACED,
        schema,
    )
    .map(Arc::new)
}

/// What the API server would refuse in `object`, a `K`, checked against [`schema_of`]: one
/// line per violation, empty when it accepts it. For tests; panics when the schema cannot be
/// built, which is a bug in the stand-in.
#[allow(clippy::expect_used)]
pub fn violations_of<K>(object: &Value) -> Vec<String>
where
    K: Resource + JsonSchema,
    K::Scope: Scope,
{
    schema_of::<K>()
        .expect("a built-in kind's schema builds")
        .check(object)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Whether a k8s-openapi scope marker means objects live in namespaces.
pub trait Scope {
    /// Namespaced or cluster-wide.
    const NAMESPACED: bool;
}

impl Scope for NamespaceResourceScope {
    const NAMESPACED: bool = true;
}

impl Scope for ClusterResourceScope {
    const NAMESPACED: bool = false;
}

/// Makes a generated JSON Schema the structural schema a CRD would carry: no `$schema`,
/// titles or descriptions (they only cost memory here), and objects without declared fields
/// keep whatever they hold.
fn structural(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    for key in ["$schema", "title", "description", "examples", "default"] {
        obj.remove(key);
    }
    let opaque = obj.get("type").and_then(Value::as_str) == Some("object")
        && !obj.contains_key("properties")
        && !obj.contains_key("additionalProperties");
    if opaque {
        obj.insert(
            "x-kubernetes-preserve-unknown-fields".into(),
            Value::Bool(true),
        );
    }
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        props.values_mut().for_each(structural);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = obj.get_mut(key) {
            structural(sub);
        }
    }
    // schemars writes `additionalProperties: true` for free-form maps.
    if obj.get("additionalProperties") == Some(&Value::Bool(true)) {
        obj.remove("additionalProperties");
        obj.insert(
            "x-kubernetes-preserve-unknown-fields".into(),
            Value::Bool(true),
        );
    }
}
