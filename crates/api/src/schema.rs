//! Schema helpers: CEL rules as data, the transforms that put them into the generated schema,
//! and the name patterns the Kubernetes API and the providers share.

use schemars::Schema;
use serde_json::{Value, json};

/// A DNS-1123 label (container names, tags): lower-case alphanumerics and '-', at most 63.
pub(crate) const DNS_LABEL: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// A DNS-1123 subdomain (Kubernetes object names).
pub(crate) const DNS_SUBDOMAIN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// An environment variable name as the Kubernetes API has always accepted it.
pub(crate) const ENV_VAR_NAME: &str = "^[-._a-zA-Z][-._a-zA-Z0-9]*$";

/// A CEL validation rule (`x-kubernetes-validations` entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CelRule {
    /// The CEL expression; `self` is the value the rule is attached to.
    pub rule: &'static str,
    /// What the API server tells the user when the rule is false.
    pub message: &'static str,
    /// The field the error is reported on, relative to where the rule is attached.
    pub field_path: Option<&'static str>,
}

/// Appends `rules` to the schema's `x-kubernetes-validations`.
pub(crate) fn add_rules(schema: &mut Schema, rules: &[CelRule]) {
    for r in rules {
        add_rule(schema, r.rule, r.message, r.field_path);
    }
}

/// Appends one rule to the schema's `x-kubernetes-validations`.
pub(crate) fn add_rule(schema: &mut Schema, rule: &str, message: &str, field_path: Option<&str>) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    let mut entry = json!({"rule": rule, "message": message, "reason": "FieldValueInvalid"});
    if let (Some(path), Some(fields)) = (field_path, entry.as_object_mut()) {
        fields.insert("fieldPath".into(), path.into());
    }
    if let Value::Array(list) = obj
        .entry("x-kubernetes-validations")
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        list.push(entry);
    }
}

/// A CEL list literal of strings: `['a', 'b']`.
pub(crate) fn cel_string_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// Marks a list of objects as a map keyed by `keys` (server-side apply merges by key, and the API
/// server refuses duplicate keys).
pub(crate) fn list_map(schema: &mut Schema, keys: &[&str]) {
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("x-kubernetes-list-type".into(), "map".into());
        obj.insert("x-kubernetes-list-map-keys".into(), json!(keys));
    }
}

/// Marks a list of scalars as a set (the API server refuses duplicates).
pub(crate) fn list_set(schema: &mut Schema) {
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("x-kubernetes-list-type".into(), "set".into());
    }
}

/// Marks a list as atomic: one manager owns it whole.
pub(crate) fn list_atomic(schema: &mut Schema) {
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("x-kubernetes-list-type".into(), "atomic".into());
    }
}
