//! What the Kubernetes API server checks before an object is stored: the CRD's structural
//! OpenAPI schema (types, enums, ranges, lengths, patterns, list and map rules, unknown fields
//! under strict field validation) and its CEL rules (`x-kubernetes-validations`, evaluated with
//! the Kubernetes CEL libraries by `kube-cel`). `ferry validate` runs it offline so users see the
//! API server's refusals before they apply; the tests use it to check the CRDs refuse what
//! Ferry's rules say they refuse.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::cel::{CompiledSchema, Validator, apply_defaults, compile_schema};
use regex::Regex;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// A CRD whose schema could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The CRD serves no version with a schema.
    #[error("CRD {crd} has no schema for version {version}")]
    NoSchema {
        /// The CRD.
        crd: String,
        /// The version asked for.
        version: String,
    },
    /// A `pattern` is not a valid regular expression.
    #[error("CRD {crd}: pattern {pattern:?} at {path} does not compile: {source}")]
    Pattern {
        /// The CRD.
        crd: String,
        /// Where in the schema.
        path: String,
        /// The pattern.
        pattern: String,
        /// Why.
        source: regex::Error,
    },
    /// A CEL rule does not compile.
    #[error("CRD {crd}: CEL rules do not compile: {message}")]
    Cel {
        /// The CRD.
        crd: String,
        /// The compiler's messages.
        message: String,
    },
}

/// One refusal, as the API server would report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The field, e.g. `spec.containers[0].port`.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// Whether the error is the kind that stops the API server from evaluating CEL rules.
    #[serde(skip)]
    blocking: bool,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// One served version of a CRD, ready to check objects against.
pub struct CrdSchema {
    /// `group/version`.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Whether the resource is namespaced.
    pub namespaced: bool,
    raw: Value,
    root: Node,
    compiled: CompiledSchema,
}

impl fmt::Debug for CrdSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrdSchema")
            .field("api_version", &self.api_version)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl CrdSchema {
    /// The schema of `version` of `crd`.
    pub fn new(crd: &CustomResourceDefinition, version: &str) -> Result<Self, SchemaError> {
        let crd_name = crd.metadata.name.clone().unwrap_or_default();
        let schema = openapi_schema(crd, version).ok_or_else(|| SchemaError::NoSchema {
            crd: crd_name.clone(),
            version: version.to_owned(),
        })?;
        Self::from_openapi(
            &crd_name,
            format!("{}/{version}", crd.spec.group),
            crd.spec.names.kind.clone(),
            crd.spec.scope == "Namespaced",
            schema,
        )
    }

    /// A structural OpenAPI v3 schema of one kind given directly, e.g. a built-in kind's;
    /// `source` names it in errors.
    pub fn from_openapi(
        source: &str,
        api_version: String,
        kind: String,
        namespaced: bool,
        schema: Value,
    ) -> Result<Self, SchemaError> {
        let root = Node::compile(&schema, "", source)?;
        let compiled = compile_schema(&with_metadata(schema.clone()));
        if compiled.has_errors() {
            let message = compiled
                .compilation_errors()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            return Err(SchemaError::Cel {
                crd: source.to_owned(),
                message,
            });
        }
        Ok(Self {
            api_version,
            kind,
            namespaced,
            raw: schema,
            root,
            compiled,
        })
    }

    /// The compiled CEL rules, for cost analysis.
    pub fn compiled(&self) -> &CompiledSchema {
        &self.compiled
    }

    /// Removes the fields the schema does not know, as the API server prunes them unless the
    /// client asked for strict field validation; returns their paths.
    pub fn prune(&self, object: &mut Value) -> Vec<String> {
        let mut pruned = Vec::new();
        if let Some(fields) = object.as_object_mut() {
            for (name, value) in fields.iter_mut() {
                // The API server handles root metadata itself, whatever the CRD says of it.
                if name == "metadata" {
                    continue;
                }
                if let Some(prop) = self.root.properties.get(name) {
                    prop.prune(value, name, &mut pruned);
                }
            }
            fields.retain(|name, _| {
                let keep = matches!(name.as_str(), "apiVersion" | "kind" | "metadata")
                    || self.root.properties.contains_key(name)
                    || self.root.preserve_unknown;
                if !keep {
                    pruned.push(name.clone());
                }
                keep
            });
        }
        pruned
    }

    /// `object` with the schema's `default`s filled in, as the API server defaults before it
    /// validates and stores.
    pub fn with_defaults(&self, object: &Value) -> Value {
        apply_defaults(&self.raw, object)
    }

    /// Everything the API server would refuse in `object`, in field order.
    pub fn check(&self, object: &Value) -> Vec<Violation> {
        self.check_against(object, None)
    }

    /// Everything the API server would refuse in an update of `old` to `object`: [`Self::check`]
    /// and the transition rules (those reading `oldSelf`), which only an update evaluates.
    pub fn check_update(&self, object: &Value, old: &Value) -> Vec<Violation> {
        self.check_against(object, Some(old))
    }

    fn check_against(&self, object: &Value, old: Option<&Value>) -> Vec<Violation> {
        let mut out = Vec::new();
        let Some(fields) = object.as_object() else {
            out.push(violation("", "an object must be a map", true));
            return out;
        };
        // ObjectMeta's fields are strings: a number there fails to decode (kubectl and the API
        // server both refuse it), which is not the same as a missing name.
        for field in ["name", "generateName", "namespace"] {
            if let Some(value) = object.pointer(&format!("/metadata/{field}"))
                && !value.is_string()
                && !value.is_null()
            {
                out.push(violation(
                    &format!("metadata.{field}"),
                    &format!(
                        "Invalid value: {}: must be of type string",
                        json_kind(value)
                    ),
                    true,
                ));
            }
        }
        let name = object.pointer("/metadata/name");
        let generate_name = object
            .pointer("/metadata/generateName")
            .and_then(Value::as_str);
        if name.is_none_or(|n| n.as_str().is_some_and(str::is_empty) || n.is_null())
            && generate_name.is_none_or(str::is_empty)
        {
            out.push(violation(
                "metadata.name",
                "Required value: name or generateName is required",
                false,
            ));
        }
        // An empty or null namespace is no namespace: kubectl then uses its context's
        // (`GetNamespace` in apimachinery's unstructured helpers reads both as "").
        if self.namespaced
            && let Some(ns) = object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
            && !ns.is_empty()
            && !crate::names::is_dns_label(ns)
        {
            out.push(violation(
                "metadata.namespace",
                "must be a DNS label",
                false,
            ));
        }
        let body: Map<String, Value> = fields
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.root.check_object(&body, "", &mut out);
        // The API server skips CEL after type errors; this also waits for range errors, so
        // rules never evaluate values the schema refuses (kube-cel's arithmetic can overflow on
        // them).
        if out.is_empty() {
            out.extend(self.check_cel(object, old));
        } else if out.iter().any(|v| v.blocking) {
            out.push(violation(
                "",
                "some validation rules were not checked because the object was invalid; correct \
                 the existing errors to complete validation",
                false,
            ));
        }
        out
    }

    fn check_cel(&self, object: &Value, old: Option<&Value>) -> Vec<Violation> {
        let object = as_created(object);
        let evaluated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Validator::new().validate_compiled(&self.compiled, &object, old)
        }));
        match evaluated {
            Ok(Ok(())) => Vec::new(),
            Ok(Err(errors)) => errors
                .iter()
                .map(|e| violation(e.field_path.trim_start_matches('.'), &e.message, false))
                .collect(),
            // A fault in the evaluator must not take `ferry validate` down with it.
            Err(_) => vec![violation(
                "",
                "the CEL rules could not be evaluated offline; the API server evaluates them \
                 when the object is applied",
                false,
            )],
        }
    }
}

/// What the API server makes of a name prefix on create: the prefix, cut to 58 bytes, and 5
/// random characters (`GenerateName` in k8s.io/apiserver `pkg/storage/names/generate.go`,
/// called by `rest.BeforeCreate` before the object is validated). Offline the 5 are a fixed
/// `bcdfg`, from the same alphabet (`utilrand.String`: consonants and digits).
pub fn generated_name(prefix: &str) -> String {
    const MAX_PREFIX: usize = 58;
    let mut cut = prefix.len().min(MAX_PREFIX);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}bcdfg", &prefix[..cut])
}

/// `object` as the API server validates it on create: an object with `generateName` and no
/// name has its name generated first ([`generated_name`]), so rules reading
/// `self.metadata.name` see one.
pub fn as_created(object: &Value) -> std::borrow::Cow<'_, Value> {
    let name = object.pointer("/metadata/name").and_then(Value::as_str);
    let prefix = object
        .pointer("/metadata/generateName")
        .and_then(Value::as_str);
    match prefix {
        Some(prefix) if !prefix.is_empty() && name.is_none_or(str::is_empty) => {
            let mut created = object.clone();
            if let Some(metadata) = created.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.insert("name".to_owned(), Value::String(generated_name(prefix)));
            }
            std::borrow::Cow::Owned(created)
        }
        _ => std::borrow::Cow::Borrowed(object),
    }
}

/// The `openAPIV3Schema` of `version` of `crd`, as JSON.
pub fn openapi_schema(crd: &CustomResourceDefinition, version: &str) -> Option<Value> {
    crd.spec
        .versions
        .iter()
        .find(|v| v.name == version)
        .and_then(|v| v.schema.as_ref())
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .and_then(|s| serde_json::to_value(s).ok())
}

/// The API server gives CEL at the root `self.metadata.name` and `generateName`, though a CRD's
/// schema leaves `metadata` out.
fn with_metadata(mut schema: Value) -> Value {
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.entry("metadata").or_insert_with(|| {
            json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "maxLength": 253},
                    "generateName": {"type": "string", "maxLength": 253},
                },
            })
        });
    }
    schema
}

fn violation(field: &str, message: &str, blocking: bool) -> Violation {
    Violation {
        field: field.to_owned(),
        message: message.to_owned(),
        blocking,
    }
}

/// A schema node with its patterns compiled.
#[derive(Debug, Default)]
#[allow(clippy::struct_excessive_bools)] // the schema's own flags
struct Node {
    types: Option<String>,
    nullable: bool,
    int_or_string: bool,
    preserve_unknown: bool,
    enum_values: Option<Vec<Value>>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: bool,
    exclusive_maximum: bool,
    min_length: Option<u64>,
    max_length: Option<u64>,
    pattern: Option<Regex>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
    required: Vec<String>,
    properties: BTreeMap<String, Node>,
    additional: Option<Box<Node>>,
    items: Option<Box<Node>>,
    list_type: Option<String>,
    list_map_keys: Vec<String>,
}

impl Node {
    fn compile(schema: &Value, path: &str, crd: &str) -> Result<Self, SchemaError> {
        let get = |k: &str| schema.get(k);
        let num = |k: &str| get(k).and_then(Value::as_f64);
        let count = |k: &str| get(k).and_then(Value::as_u64);
        let flag = |k: &str| get(k).and_then(Value::as_bool).unwrap_or(false);
        let pattern = match get("pattern").and_then(Value::as_str) {
            None => None,
            Some(p) => Some(Regex::new(p).map_err(|source| SchemaError::Pattern {
                crd: crd.to_owned(),
                path: path.to_owned(),
                pattern: p.to_owned(),
                source,
            })?),
        };
        let mut properties = BTreeMap::new();
        for (name, sub) in get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            properties.insert(
                name.clone(),
                Node::compile(sub, &format!("{path}.{name}"), crd)?,
            );
        }
        let additional = match get("additionalProperties") {
            Some(sub) if sub.is_object() => {
                Some(Box::new(Node::compile(sub, &format!("{path}[*]"), crd)?))
            }
            _ => None,
        };
        let items = match get("items") {
            Some(sub) => Some(Box::new(Node::compile(sub, &format!("{path}[*]"), crd)?)),
            None => None,
        };
        let strings = |k: &str| {
            get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        Ok(Self {
            types: get("type").and_then(Value::as_str).map(str::to_owned),
            nullable: flag("nullable"),
            int_or_string: flag("x-kubernetes-int-or-string"),
            preserve_unknown: flag("x-kubernetes-preserve-unknown-fields"),
            enum_values: get("enum").and_then(Value::as_array).cloned(),
            minimum: num("minimum"),
            maximum: num("maximum"),
            exclusive_minimum: flag("exclusiveMinimum"),
            exclusive_maximum: flag("exclusiveMaximum"),
            min_length: count("minLength"),
            max_length: count("maxLength"),
            pattern,
            min_items: count("minItems"),
            max_items: count("maxItems"),
            min_properties: count("minProperties"),
            max_properties: count("maxProperties"),
            required: strings("required"),
            properties,
            additional,
            items,
            list_type: get("x-kubernetes-list-type")
                .and_then(Value::as_str)
                .map(str::to_owned),
            list_map_keys: strings("x-kubernetes-list-map-keys"),
        })
    }

    fn check(&self, value: &Value, path: &str, out: &mut Vec<Violation>) {
        // A null field of an object is pruned before this (see `check_object`); a null list
        // item is checked like any value.
        if value.is_null() && self.nullable {
            return;
        }
        if !self.type_matches(value) {
            out.push(violation(
                path,
                &format!(
                    "Invalid value: {}: must be of type {}",
                    json_kind(value),
                    self.expected_type()
                ),
                true,
            ));
            return;
        }
        if let Some(allowed) = &self.enum_values
            && !allowed.contains(value)
        {
            let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
            out.push(violation(
                path,
                &format!(
                    "Unsupported value: {value}: supported values: {}",
                    list.join(", ")
                ),
                true,
            ));
        }
        match value {
            Value::String(s) => self.check_string(s, path, out),
            Value::Number(n) => self.check_number(n, path, out),
            Value::Array(items) => self.check_array(items, path, out),
            Value::Object(fields) => self.check_object(fields, path, out),
            Value::Bool(_) | Value::Null => {}
        }
    }

    fn prune(&self, value: &mut Value, path: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(fields) => {
                for (name, child) in fields.iter_mut() {
                    let child_path = format!("{path}.{name}");
                    if let Some(prop) = self.properties.get(name) {
                        prop.prune(child, &child_path, out);
                    } else if let Some(additional) = &self.additional {
                        additional.prune(child, &format!("{path}[{name}]"), out);
                    }
                }
                if self.additional.is_none() && !self.preserve_unknown {
                    fields.retain(|name, _| {
                        let keep = self.properties.contains_key(name);
                        if !keep {
                            out.push(format!("{path}.{name}"));
                        }
                        keep
                    });
                }
            }
            Value::Array(items) => {
                if let Some(item) = &self.items {
                    for (i, v) in items.iter_mut().enumerate() {
                        item.prune(v, &format!("{path}[{i}]"), out);
                    }
                }
            }
            _ => {}
        }
    }

    fn type_matches(&self, value: &Value) -> bool {
        if self.int_or_string {
            return value.is_string() || is_integer(value);
        }
        match self.types.as_deref() {
            None => true,
            Some("object") => value.is_object(),
            Some("array") => value.is_array(),
            Some("string") => value.is_string(),
            Some("integer") => is_integer(value),
            Some("number") => value.is_number(),
            Some("boolean") => value.is_boolean(),
            Some(_) => false,
        }
    }

    fn expected_type(&self) -> &str {
        if self.int_or_string {
            "integer or string"
        } else {
            self.types.as_deref().unwrap_or("any")
        }
    }

    fn check_string(&self, s: &str, path: &str, out: &mut Vec<Violation>) {
        let chars = s.chars().count() as u64;
        if let Some(min) = self.min_length
            && chars < min
        {
            out.push(violation(
                path,
                &format!("Invalid value: {s:?}: should be at least {min} chars long"),
                false,
            ));
        }
        if let Some(max) = self.max_length
            && chars > max
        {
            out.push(violation(
                path,
                &format!("Too long: may not be more than {max} bytes"),
                false,
            ));
        }
        if let Some(re) = &self.pattern
            && !re.is_match(s)
        {
            out.push(violation(
                path,
                &format!("Invalid value: {s:?}: should match '{}'", re.as_str()),
                false,
            ));
        }
    }

    fn check_number(&self, n: &serde_json::Number, path: &str, out: &mut Vec<Violation>) {
        let Some(v) = n.as_f64() else { return };
        if let Some(min) = self.minimum
            && (v < min || (self.exclusive_minimum && v <= min))
        {
            let op = if self.exclusive_minimum {
                "greater than"
            } else {
                "greater than or equal to"
            };
            out.push(violation(
                path,
                &format!("Invalid value: {n}: should be {op} {min}"),
                false,
            ));
        }
        if let Some(max) = self.maximum
            && (v > max || (self.exclusive_maximum && v >= max))
        {
            let op = if self.exclusive_maximum {
                "less than"
            } else {
                "less than or equal to"
            };
            out.push(violation(
                path,
                &format!("Invalid value: {n}: should be {op} {max}"),
                false,
            ));
        }
    }

    fn check_array(&self, items: &[Value], path: &str, out: &mut Vec<Violation>) {
        let len = items.len() as u64;
        if let Some(min) = self.min_items
            && len < min
        {
            out.push(violation(
                path,
                &format!("Invalid value: {len}: should have at least {min} items"),
                false,
            ));
        }
        if let Some(max) = self.max_items
            && len > max
        {
            out.push(violation(
                path,
                &format!("Too many: {len}: must have at most {max} items"),
                false,
            ));
        }
        if let Some(item) = &self.items {
            for (i, v) in items.iter().enumerate() {
                item.check(v, &format!("{path}[{i}]"), out);
            }
        }
        match self.list_type.as_deref() {
            Some("set") => {
                let mut seen = BTreeSet::new();
                for (i, v) in items.iter().enumerate() {
                    if !seen.insert(v.to_string()) {
                        out.push(violation(
                            &format!("{path}[{i}]"),
                            &format!("Duplicate value: {v}"),
                            false,
                        ));
                    }
                }
            }
            Some("map") => {
                let mut seen = BTreeSet::new();
                for (i, v) in items.iter().enumerate() {
                    let key: Vec<String> = self
                        .list_map_keys
                        .iter()
                        .map(|k| v.get(k).map(Value::to_string).unwrap_or_default())
                        .collect();
                    if !seen.insert(key.clone()) {
                        let shown: Vec<String> = self
                            .list_map_keys
                            .iter()
                            .zip(&key)
                            .map(|(k, v)| format!("{k}: {v}"))
                            .collect();
                        out.push(violation(
                            &format!("{path}[{i}]"),
                            &format!("Duplicate value: {{{}}}", shown.join(", ")),
                            false,
                        ));
                    }
                }
            }
            _ => {}
        }
    }

    fn check_object(&self, fields: &Map<String, Value>, path: &str, out: &mut Vec<Violation>) {
        let join = |name: &str| {
            if path.is_empty() {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            }
        };
        for name in &self.required {
            let present = fields.get(name).is_some_and(|v| {
                !v.is_null() || self.properties.get(name).is_some_and(|p| p.nullable)
            });
            if !present {
                out.push(violation(&join(name), "Required value", false));
            }
        }
        let count = fields.len() as u64;
        if let Some(max) = self.max_properties
            && count > max
        {
            out.push(violation(
                path,
                &format!("Too many: {count}: must have at most {max} items"),
                false,
            ));
        }
        if let Some(min) = self.min_properties
            && count < min
        {
            out.push(violation(
                path,
                &format!("Invalid value: {count}: should have at least {min} properties"),
                false,
            ));
        }
        for (name, value) in fields {
            if let Some(prop) = self.properties.get(name) {
                if value.is_null() && !prop.nullable {
                    continue;
                }
                prop.check(value, &join(name), out);
            } else if let Some(additional) = &self.additional {
                additional.check(value, &format!("{path}[{name}]"), out);
            } else if !self.preserve_unknown {
                let hint = closest(name, self.properties.keys())
                    .map(|c| format!("; did you mean {c:?}?"))
                    .unwrap_or_default();
                out.push(violation(
                    &join(name),
                    &format!("unknown field{hint}"),
                    false,
                ));
            }
        }
    }
}

/// Whether the API server takes `value` as an integer: one that fits 64 bits signed (Go's JSON
/// decoder reads it as `int64`), or a whole number of at most 2^53 - 1 (`IsFloat64AJSONInteger`
/// in go-openapi/swag, which kube-openapi's type check calls): `1e20` is a number, not an
/// integer, to it.
fn is_integer(value: &Value) -> bool {
    const MAX_EXACT: f64 = 9_007_199_254_740_991.0;
    match value {
        Value::Number(n) => {
            n.is_i64()
                || n.as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.abs() <= MAX_EXACT)
        }
        _ => false,
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "\"boolean\"",
        Value::Number(n) if n.is_f64() => "\"number\"",
        Value::Number(_) => "\"integer\"",
        Value::String(_) => "\"string\"",
        Value::Array(_) => "\"array\"",
        Value::Object(_) => "\"object\"",
    }
}

/// The known field closest to a misspelt one, if close enough to be a likely typo.
fn closest<'a>(name: &str, known: impl Iterator<Item = &'a String>) -> Option<&'a String> {
    known
        .map(|k| {
            (
                strsim::damerau_levenshtein(&name.to_lowercase(), &k.to_lowercase()),
                k,
            )
        })
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> CrdSchema {
        let crd: CustomResourceDefinition = serde_json::from_value(json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "names": {"kind": "Widget", "plural": "widgets"},
                "scope": "Namespaced",
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {
                        "type": "object",
                        "required": ["size"],
                        "x-kubernetes-validations": [{"rule": "self.size <= self.limit", "message": "size over limit"}],
                        "properties": {
                            "size": {"type": "integer", "minimum": 1},
                            "limit": {"type": "integer", "default": 10},
                            "mode": {"type": "string", "enum": ["a", "b"]},
                            "note": {"type": "string", "nullable": true, "maxLength": 5},
                            "cpu": {"x-kubernetes-int-or-string": true},
                            "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                            "items": {"type": "array", "items": {"type": "object", "required": ["name"],
                                "properties": {"name": {"type": "string"}}}, "x-kubernetes-list-type": "map",
                                "x-kubernetes-list-map-keys": ["name"]},
                            "labels": {"type": "object", "additionalProperties": {"type": "string", "pattern": "^[a-z]+$"}},
                        },
                    }},
                }}}],
            },
        }))
        .unwrap();
        CrdSchema::new(&crd, "v1").unwrap()
    }

    #[allow(clippy::needless_pass_by_value)] // `fields(json!({..}))` reads best in the tests
    fn fields(spec: Value) -> Vec<String> {
        let widget = json!({
            "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec,
        });
        schema()
            .check(&widget)
            .into_iter()
            .map(|v| v.to_string())
            .collect()
    }

    #[test]
    fn a_valid_object_has_no_violations_and_defaults_feed_cel() {
        assert_eq!(
            fields(json!({"size": 3, "cpu": "1", "tags": ["x"], "labels": {"k": "abc"}})),
            Vec::<String>::new()
        );
        assert_eq!(fields(json!({"size": 11})), ["spec: size over limit"]);
    }

    #[test]
    fn openapi_rules_are_reported_per_field() {
        let got = fields(json!({
            "size": 0, "mode": "c", "note": "toolong", "cpu": true, "tags": ["x", "x", "y"],
            "items": [{"name": "a"}, {"name": "a"}], "labels": {"k": "ABC"}, "colour": 1,
        }));
        let expected = [
            "spec.size: Invalid value: 0: should be greater than or equal to 1",
            "spec.mode: Unsupported value: \"c\": supported values: \"a\", \"b\"",
            "spec.note: Too long: may not be more than 5 bytes",
            "spec.cpu: Invalid value: \"boolean\": must be of type integer or string",
            "spec.tags: Too many: 3: must have at most 2 items",
            "spec.tags[1]: Duplicate value: \"x\"",
            "spec.items[1]: Duplicate value: {name: \"a\"}",
            "spec.labels[k]: Invalid value: \"ABC\": should match '^[a-z]+$'",
            "spec.colour: unknown field",
        ];
        for e in expected {
            assert!(got.contains(&e.to_owned()), "missing {e:?} in {got:#?}");
        }
        assert!(
            got.last()
                .unwrap()
                .contains("some validation rules were not checked"),
            "{got:#?}"
        );
    }

    #[test]
    fn null_fields_are_pruned_but_null_list_items_are_not() {
        assert_eq!(
            fields(json!({"size": 1, "mode": null, "note": null})),
            Vec::<String>::new()
        );
        assert_eq!(fields(json!({"size": null})), ["spec.size: Required value"]);
        let got = fields(json!({"size": 1, "tags": [null]}));
        assert_eq!(
            got[0],
            "spec.tags[0]: Invalid value: null: must be of type string"
        );
    }

    #[test]
    fn a_misspelt_field_gets_a_suggestion() {
        assert_eq!(
            fields(json!({"size": 1, "limt": 2})),
            ["spec.limt: unknown field; did you mean \"limit\"?"]
        );
    }

    #[test]
    fn unknown_fields_are_pruned_and_reported() {
        let mut w = json!({
            "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"size": 1, "colour": "red", "items": [{"name": "a", "extra": 1}], "labels": {"k": "v"}},
            "bogus": true,
        });
        let pruned = schema().prune(&mut w);
        assert_eq!(pruned, ["spec.items[0].extra", "spec.colour", "bogus"]);
        assert_eq!(
            w["spec"],
            json!({"size": 1, "items": [{"name": "a"}], "labels": {"k": "v"}})
        );
        assert_eq!(schema().with_defaults(&w)["spec"]["limit"], 10);
    }

    #[allow(clippy::needless_pass_by_value)] // `widget(json!({..}))` reads best in the tests
    fn widget(metadata: Value) -> Vec<String> {
        schema()
            .check(&json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": metadata, "spec": {"size": 1}}))
            .into_iter()
            .map(|v| v.to_string())
            .collect()
    }

    #[test]
    fn a_name_that_is_not_a_string_is_not_a_missing_name() {
        let got = widget(json!({"name": 12345}));
        assert_eq!(
            got[0],
            "metadata.name: Invalid value: \"integer\": must be of type string"
        );
        assert!(
            !got.iter().any(|v| v.contains("Required value")),
            "{got:#?}"
        );
    }

    /// kubectl reads `namespace: null` and `namespace: ""` as no namespace.
    #[test]
    fn a_null_or_empty_namespace_is_unset() {
        assert_eq!(
            widget(json!({"name": "w", "namespace": null})),
            Vec::<String>::new()
        );
        assert_eq!(
            widget(json!({"name": "w", "namespace": ""})),
            Vec::<String>::new()
        );
        assert_eq!(
            widget(json!({"name": "w", "namespace": "Not_A_Label"})),
            ["metadata.namespace: must be a DNS label"]
        );
    }

    #[test]
    fn generate_name_gets_a_name_before_the_rules_read_it() {
        let crd: CustomResourceDefinition = serde_json::from_value(json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "names": {"kind": "Widget", "plural": "widgets"},
                "scope": "Namespaced",
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "x-kubernetes-validations": [{"rule": "self.metadata.name.size() <= 20", "message": "name too long"}],
                }}}],
            },
        }))
        .unwrap();
        let schema = CrdSchema::new(&crd, "v1").unwrap();
        let check = |prefix: &str| {
            schema
                .check(&json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"generateName": prefix}}))
                .into_iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(check("short-"), Vec::<String>::new());
        assert_eq!(check("a-prefix-of-twenty-chars-"), [": name too long"]);
        assert_eq!(generated_name(&"x".repeat(70)).len(), 63);
    }

    /// go-openapi/swag's `IsFloat64AJSONInteger`: whole numbers past 2^53 are not integers.
    #[test]
    fn integers_are_what_the_api_server_takes_as_integers() {
        assert!(is_integer(&json!(3)));
        assert!(is_integer(&json!(3.0)));
        assert!(is_integer(&json!(i64::MAX)));
        assert!(!is_integer(&json!(1e20)));
        assert!(!is_integer(&json!(u64::MAX)));
        assert!(!is_integer(&json!(0.5)));
    }

    #[test]
    fn metadata_needs_a_name() {
        let got = schema()
            .check(&json!({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"size": 1}}));
        assert_eq!(
            got[0].to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
    }
}
