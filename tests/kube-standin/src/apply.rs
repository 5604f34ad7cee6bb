//! Server-side apply (SSA) field management for the stand-in API server.
//!
//! This module reproduces what kube-apiserver does with `metadata.managedFields`: the
//! `sigs.k8s.io/structured-merge-diff` algorithms (merge, `ToFieldSet`, compare, prune) and the
//! apiserver field-manager layers around them (stripped metadata fields, entry keys, entry
//! order, timestamps, the `before-first-apply` manager, resetting with `[{}]`).
//!
//! * [`apply`] merges an applied configuration into the live object as the [`Types`] say,
//!   replaces the applier's `Apply` entry with the field set of the configuration, reports
//!   conflicts with every other entry (or takes the fields over with `force`), and removes what
//!   the applier stopped applying when no other entry owns it.
//! * [`record_update`] keeps ownership in step with non-apply writes: the writer's `Update` entry
//!   gains every field the write added or changed, every other entry loses those fields, and
//!   removed fields leave every entry.
//! * [`validate`] finds what structured-merge-diff refuses when it types an applied
//!   configuration (duplicate keys, list-map items without their keys, undeclared fields); the
//!   apiserver answers those with a 500 before it merges anything, so callers check first.
//!
//! What is simplified compared to structured-merge-diff and the apiserver:
//!
//! * No schema-version conversion: entries recorded at another `apiVersion` are compared path
//!   for path with the current object, and the object's `apiVersion` is never rewritten.
//! * No reconciliation of existing entries after a schema change between atomic and granular.
//! * No `retainKeys`, unions/discriminators, strategic-merge-patch directives, schema defaults
//!   for list-map key fields when merging (only [`validate`] keys items by them), or typing of
//!   `x-kubernetes-embedded-resource` metadata.
//! * [`apply`] itself reports no errors but conflicts: given a configuration [`validate`]
//!   refuses, it merges duplicate list-map keys or set values first-wins, keys a list-map item
//!   missing a key field by the key fields it has, and a configuration that is not a JSON object
//!   changes nothing. [`validate`] checks no scalar types (`expected string, got ...`) and knows
//!   no undeclared fields of [`Types::untyped`] kinds.
//! * [`Types::untyped`] treats every object as a struct whose fields are declared, which is how
//!   typed built-in kinds look (no `"."` on non-empty structs), but it knows no built-in list
//!   types besides `metadata`: a built-in kind's list-maps (containers, env, ports...) merge
//!   atomically unless the caller describes them with [`Types::from_schema`].
//! * Creates record every new field, structs included (`"f:spec":{".":{},...}`), as for custom
//!   resources; typed built-ins would not own the structs their Go zero value already has.
//! * `Update` entries are not capped at ten (no `ancient-changes` entry), and the
//!   `kubectl.kubernetes.io/last-applied-configuration` annotation is not maintained.
//! * Reset fields (`status` on the main resource, everything but `status` on `/status`) are not
//!   filtered here: the caller strips them before calling.
//! * Entries are ordered by their `time` compared as text at whole-second precision, which
//!   matches Kubernetes for the RFC 3339 UTC timestamps it writes.
//! * A new entry always gets a `time`, even from an apply that left the object unchanged (the
//!   apiserver writes none there).
//! * The JSON inside `k:`/`v:` elements is `serde_json`'s compact form; Go would also escape
//!   `<`, `>` and `&` as `\u003c`, `\u003e`, `\u0026`.

use std::collections::{BTreeMap, BTreeSet, btree_map};
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// How a list merges (from the schema's `x-kubernetes-list-type` / `x-kubernetes-list-map-keys`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListType {
    /// Replaced and owned as a whole.
    Atomic,
    /// Scalar members merged and owned by value (`v:` elements).
    Set,
    /// Items merged and owned by their key fields (`k:` elements).
    Map(Vec<String>),
}

/// How an object/map merges (`x-kubernetes-map-type`; structs with `properties` are granular).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapType {
    /// Merged and owned key by key.
    Granular,
    /// Replaced and owned as a whole.
    Atomic,
}

/// The schema facts SSA needs, built from a CRD's `openAPIV3Schema` or, for built-in kinds
/// without one, from defaults. Paths are field names from the object root; list items are the
/// segment `"[]"` (e.g. `["spec", "template", "spec", "containers", "[]", "ports"]`).
#[derive(Clone, Debug)]
pub struct Types {
    root: Node,
}

impl Types {
    /// From an `openAPIV3Schema`: walks `properties`, `items` and `additionalProperties` and
    /// reads `x-kubernetes-list-type`, `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`
    /// and `x-kubernetes-preserve-unknown-fields`.
    #[must_use]
    pub fn from_schema(schema: &Value) -> Types {
        let mut root = Node::from_schema(schema);
        // CRD schemas never describe metadata, but the apiserver types it as ObjectMeta.
        root.fields
            .insert("metadata".to_owned(), Node::object_meta());
        root.declare_type_meta();
        Types { root }
    }

    /// For kinds with no schema: every object a granular map, every list atomic.
    #[must_use]
    pub fn untyped() -> Types {
        let mut root = Node::plain(false);
        root.fields
            .insert("metadata".to_owned(), Node::object_meta());
        Types { root }
    }

    /// The list type at `path` (atomic where the schema says nothing).
    #[must_use]
    pub fn list_type(&self, path: &[&str]) -> ListType {
        self.node_at(path).list_type.clone()
    }

    /// The map type at `path` (granular where the schema says nothing).
    #[must_use]
    pub fn map_type(&self, path: &[&str]) -> MapType {
        self.node_at(path).map_type
    }

    /// Whether `key` of the object at `path` is a map entry (`additionalProperties`) rather
    /// than a declared field.
    #[must_use]
    pub fn is_map_entry(&self, path: &[&str], key: &str) -> bool {
        let node = self.node_at(path);
        !node.fields.contains_key(key) && node.elements.is_some()
    }

    fn node_at(&self, path: &[&str]) -> &Node {
        path.iter().fold(&self.root, |node, segment| {
            if *segment == "[]" {
                node.item()
            } else {
                node.child(segment).0
            }
        })
    }
}

/// A field manager's conflict: `field` is written like Kubernetes does, e.g. `.spec.replicas` or
/// `.spec.containers[name="app"].image`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The manager that owns the field.
    pub manager: String,
    /// The field, e.g. `.spec.replicas`.
    pub field: String,
}

/// The result of a successful apply.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// The merged object, with `metadata.managedFields` updated.
    pub object: Value,
}

/// The `metadata.managedFields` entries of `object` as stored (empty if none).
#[must_use]
pub fn managed_fields(object: &Value) -> Vec<Value> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Server-side apply of `config` by `manager` onto `live` (`None` = create-on-apply).
///
/// Conflicts are checked against every other entry, `Update` entries of the same manager
/// included, as structured-merge-diff does. The applier's entry gets `now` as its time when the
/// apply changed the object or the applier's field set; other entries keep theirs.
///
/// # Errors
///
/// Every field of `config` whose value differs from the live one while another entry owns it,
/// unless `force` moves those fields to `manager`.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    subresource: Option<&str>,
    types: &Types,
    now: &str,
) -> Result<Applied, Vec<Conflict>> {
    if !config.is_object() {
        return Ok(Applied {
            object: live.unwrap_or(config).clone(),
        });
    }
    let live = live.filter(|value| value.is_object());
    let writer = Writer {
        manager,
        subresource,
        api_version: api_version_of(config)
            .or_else(|| live.and_then(api_version_of))
            .unwrap_or_default(),
        now,
    };
    let live_content = live.map_or_else(empty_object, without_managed_fields);
    let mut entries = live.map(decode_entries).unwrap_or_default();
    if live.is_some() && entries.is_empty() {
        entries.extend(before_first_apply(types, &live_content, &writer));
    }
    let mut merged = match live {
        Some(_) => merge(&types.root, Some(&live_content), &tracked_part(config)),
        None => merge(&types.root, None, &without_managed_fields(config)),
    };
    let own = entries.iter().position(|entry| entry.is_apply_of(&writer));
    let mut applied = field_set_of(&types.root, config);
    if let Some(last) = own.and_then(|index| entries.get(index)) {
        let keep = kept_by_others(&entries, own, &applied);
        prune(&types.root, &mut merged, &last.fields, Some(&keep));
    }
    strip_untracked(&mut applied);
    let changes = compare_objects(&types.root, &live_content, &merged);
    let touched = changes.touched();
    let conflicts = find_conflicts(&entries, own, &touched);
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    for (index, entry) in entries.iter_mut().enumerate() {
        if Some(index) != own {
            entry.fields.subtract(&touched);
            entry.fields.subtract(&changes.removed);
        }
    }
    let object_changed = merged != live_content;
    record_apply(&mut entries, own, &writer, applied, object_changed);
    set_managed_fields(&mut merged, &entries);
    Ok(Applied { object: merged })
}

/// Ownership after a non-apply write (create, PUT, JSON/merge patch) by `manager`.
///
/// The fields the write added or changed (all of `new`'s fields when `old` is `None`) join the
/// manager's `Update` entry for `subresource` and `new`'s `apiVersion` and leave every other
/// entry; removed fields leave every entry. As in the apiserver, a main-resource write may carry
/// its own `metadata.managedFields` (`[{}]` clears them); otherwise those of `old` are used.
/// Returns `new` with `metadata.managedFields` replaced.
#[must_use]
pub fn record_update(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    subresource: Option<&str>,
    types: &Types,
    now: &str,
) -> Value {
    if !new.is_object() {
        return new.clone();
    }
    let old = old.filter(|value| value.is_object());
    let writer = Writer {
        manager,
        subresource,
        api_version: api_version_of(new).unwrap_or_default(),
        now,
    };
    let mut entries = entries_for_update(old, new, subresource.is_some());
    let old_content = old.map_or_else(empty_object, without_managed_fields);
    let mut object = without_managed_fields(new);
    let changes = compare_objects(&types.root, &old_content, &object);
    let mut touched = changes.touched();
    for entry in &mut entries {
        entry.fields.subtract(&touched);
        entry.fields.subtract(&changes.removed);
    }
    strip_untracked(&mut touched);
    record_update_entry(&mut entries, &writer, touched);
    set_managed_fields(&mut object, &entries);
    object
}

// ---------------------------------------------------------------------------------------------
// Schema

/// The schema of one position in an object.
#[derive(Clone, Debug)]
struct Node {
    map_type: MapType,
    list_type: ListType,
    /// Declared struct fields. Other keys are map entries, which structured-merge-diff owns
    /// as a whole (`"."`) besides their children.
    fields: BTreeMap<String, Node>,
    /// The schema of list items, or of map entries (`additionalProperties`).
    elements: Option<Box<Node>>,
    /// Inside `x-kubernetes-preserve-unknown-fields`, undeclared keys get structured-merge-diff's
    /// deduced type: map entries, themselves deduced, with atomic lists.
    deduced: bool,
    /// An object schema that declares every key it takes (`properties` or `type: object`,
    /// without `additionalProperties` or `x-kubernetes-preserve-unknown-fields`): any other key
    /// is "not declared in schema" to structured-merge-diff.
    closed: bool,
    /// The schema's `default`, which keys a list-map item that omits that key field.
    default: Option<Value>,
}

static PLAIN: Node = Node::plain(false);
static DEDUCED: Node = Node::plain(true);

impl Node {
    const fn plain(deduced: bool) -> Node {
        Node {
            map_type: MapType::Granular,
            list_type: ListType::Atomic,
            fields: BTreeMap::new(),
            elements: None,
            deduced,
            closed: false,
            default: None,
        }
    }

    fn from_schema(schema: &Value) -> Node {
        let mut node = Node::plain(false);
        let Some(schema) = schema.as_object() else {
            return node;
        };
        node.deduced =
            schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        if schema.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic") {
            node.map_type = MapType::Atomic;
        }
        node.list_type = list_type_of(schema);
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            node.fields = properties
                .iter()
                .map(|(name, property)| (name.clone(), Node::from_schema(property)))
                .collect();
        }
        node.elements = match schema
            .get("items")
            .or_else(|| schema.get("additionalProperties"))
        {
            Some(element @ Value::Object(_)) => Some(Box::new(Node::from_schema(element))),
            Some(Value::Bool(true)) => Some(Box::new(Node::plain(true))),
            _ => None,
        };
        let object = schema.contains_key("properties")
            || schema.get("type").and_then(Value::as_str) == Some("object");
        node.closed = object && node.elements.is_none() && !node.deduced;
        if node.closed && schema.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true)) {
            node.declare_type_meta();
            node.fields
                .entry("metadata".to_owned())
                .or_insert_with(|| Node::plain(false));
        }
        node.default = schema.get("default").cloned();
        node
    }

    /// `apiVersion` and `kind`, which the apiserver declares on every object whatever its
    /// schema says.
    fn declare_type_meta(&mut self) {
        for key in ["apiVersion", "kind"] {
            self.fields
                .entry(key.to_owned())
                .or_insert_with(|| Node::plain(false));
        }
    }

    /// `ObjectMeta` as the apiserver types it.
    fn object_meta() -> Node {
        let string_map = Node {
            elements: Some(Box::new(Node::plain(false))),
            ..Node::plain(false)
        };
        let mut meta = Node::plain(false);
        meta.fields.insert("labels".to_owned(), string_map.clone());
        meta.fields.insert("annotations".to_owned(), string_map);
        meta.fields.insert(
            "finalizers".to_owned(),
            Node {
                list_type: ListType::Set,
                ..Node::plain(false)
            },
        );
        meta.fields.insert(
            "ownerReferences".to_owned(),
            Node {
                list_type: ListType::Map(vec!["uid".to_owned()]),
                ..Node::plain(false)
            },
        );
        meta
    }

    /// The schema of `key` in an object here, and whether it is a declared struct field.
    fn child(&self, key: &str) -> (&Node, bool) {
        if let Some(node) = self.fields.get(key) {
            (node, true)
        } else if let Some(node) = &self.elements {
            (node, false)
        } else if self.deduced {
            (&DEDUCED, false)
        } else {
            (&PLAIN, true)
        }
    }

    fn item(&self) -> &Node {
        match &self.elements {
            Some(node) => node,
            None if self.deduced => &DEDUCED,
            None => &PLAIN,
        }
    }

    fn granular_map(&self) -> bool {
        self.map_type == MapType::Granular
    }

    fn granular_list(&self) -> bool {
        self.list_type != ListType::Atomic
    }
}

fn list_type_of(schema: &Map<String, Value>) -> ListType {
    match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => ListType::Set,
        Some("map") => {
            let keys: Vec<String> = schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|key| key.as_str().map(str::to_owned))
                .collect();
            // A map list without keys cannot be keyed; the apiserver rejects such schemas.
            if keys.is_empty() {
                ListType::Atomic
            } else {
                ListType::Map(keys)
            }
        }
        _ => ListType::Atomic,
    }
}

// ---------------------------------------------------------------------------------------------
// Validation of an applied configuration

/// One error of structured-merge-diff's typed conversion (`typed.ValidationError`): `path` is
/// written as structured-merge-diff writes it (`.spec.containers[name="app"].env`), empty for
/// the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    /// Where, e.g. `.spec.containers`.
    pub path: String,
    /// What, e.g. `duplicate entries for key [name="app"]`.
    pub message: String,
}

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// What structured-merge-diff refuses when it types an applied configuration
/// (`typed/validate.go`, `ObjectToTyped` without `AllowDuplicates`, as the apiserver's
/// `structuredMergeManager.Apply` calls it): a list-map or set item repeating a key, a list-map
/// item that is not an object or omits a key field without a default, a set item that is an
/// object, a list or null (each of those ends the list's walk), and a key an object schema does
/// not declare (which ends that object's walk). Scalar types are not checked.
#[must_use]
pub fn validate(types: &Types, config: &Value) -> Vec<ValidationError> {
    let mut out = Vec::new();
    validate_value(&types.root, config, "", &mut out);
    out
}

fn validate_value(node: &Node, value: &Value, path: &str, out: &mut Vec<ValidationError>) {
    match value {
        Value::Object(map) => validate_map(node, map, path, out),
        Value::Array(items) => validate_list(node, items, path, out),
        _ => {}
    }
}

fn validation_error(path: &str, message: String) -> ValidationError {
    ValidationError {
        path: path.to_owned(),
        message,
    }
}

fn validate_map(node: &Node, map: &Map<String, Value>, path: &str, out: &mut Vec<ValidationError>) {
    for (key, child) in map {
        let child_path = format!("{path}.{key}");
        let child_node = if let Some(declared) = node.fields.get(key) {
            declared
        } else if let Some(elements) = &node.elements {
            elements
        } else if node.deduced {
            &DEDUCED
        } else if node.closed {
            out.push(validation_error(
                &child_path,
                "field not declared in schema".to_owned(),
            ));
            return;
        } else {
            &PLAIN
        };
        validate_value(child_node, child, &child_path, out);
    }
}

fn validate_list(node: &Node, items: &[Value], path: &str, out: &mut Vec<ValidationError>) {
    let item_node = node.item();
    let mut seen = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let element = match &node.list_type {
            ListType::Atomic => format!("[{i}]"),
            ListType::Set => match set_item_element(item) {
                Ok(element) => element,
                Err(why) => {
                    out.push(validation_error(path, format!("element {i}: {why}")));
                    return;
                }
            },
            ListType::Map(keys) => match map_item_element(item_node, keys, item) {
                Ok(element) => element,
                Err(why) => {
                    out.push(validation_error(path, format!("element {i}: {why}")));
                    return;
                }
            },
        };
        if node.list_type != ListType::Atomic && !seen.insert(element.clone()) {
            out.push(validation_error(
                path,
                format!("duplicate entries for key {element}"),
            ));
        }
        validate_value(item_node, item, &format!("{path}{element}"), out);
    }
}

/// structured-merge-diff's path element of a set item, `[="a"]`.
fn set_item_element(item: &Value) -> Result<String, &'static str> {
    match item {
        Value::Object(_) => Err("associative list without keys has an element that's a map type"),
        Value::Array(_) => Err("not supported: associative list with lists as elements"),
        Value::Null => Err("associative list without keys has an element that's an explicit null"),
        scalar => Ok(format!("[={}]", smd_string(scalar))),
    }
}

/// structured-merge-diff's path element of a list-map item, its key fields sorted by name:
/// `[name="app"]`, `[containerPort=80,protocol="TCP"]`.
fn map_item_element(item_node: &Node, keys: &[String], item: &Value) -> Result<String, String> {
    let fields = match item {
        Value::Object(fields) => fields,
        Value::Null => return Err("associative list with keys may not have a null element".into()),
        _ => return Err("associative list with keys may not have non-map elements".into()),
    };
    let mut key = BTreeMap::new();
    for name in keys {
        let value = fields
            .get(name)
            .or_else(|| item_node.fields.get(name).and_then(|f| f.default.as_ref()))
            .ok_or_else(|| {
                format!(
                    "associative list with keys has an element that omits key field {name:?} (and doesn't have default value)"
                )
            })?;
        key.insert(name.as_str(), value);
    }
    let fields: Vec<String> = key
        .iter()
        .map(|(name, value)| format!("{name}={}", smd_string(value)))
        .collect();
    Ok(format!("[{}]", fields.join(",")))
}

/// structured-merge-diff's `value.ToString`: strings quoted, numbers and booleans bare, lists
/// in brackets. (Go quotes with `%q`, which differs from JSON only for control characters.)
fn smd_string(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(smd_string).collect();
            format!("[{}]", items.join(","))
        }
        // Go joins a map's fields with nothing between them.
        Value::Object(fields) => fields.iter().fold(String::new(), |mut out, (name, value)| {
            let _ = write!(out, "{name}={}", smd_string(value));
            out
        }),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Field sets

/// A set of field paths as a tree of `FieldsV1` path elements (`f:`, `k:`, `v:`, `i:`).
/// `member` says the path ending at this node is in the set; children exist only while
/// non-empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct FieldSet {
    member: bool,
    children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    fn insert(&mut self, path: &[String]) {
        match path.split_first() {
            None => self.member = true,
            Some((first, rest)) => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    fn union_with(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (element, child) in &other.children {
            self.children
                .entry(element.clone())
                .or_default()
                .union_with(child);
        }
    }

    fn subtract(&mut self, other: &FieldSet) {
        if other.member {
            self.member = false;
        }
        for (element, theirs) in &other.children {
            if let Some(mine) = self.children.get_mut(element) {
                mine.subtract(theirs);
                if mine.is_empty() {
                    self.children.remove(element);
                }
            }
        }
    }

    fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut both = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (element, mine) in &self.children {
            if let Some(theirs) = other.children.get(element) {
                let child = mine.intersection(theirs);
                if !child.is_empty() {
                    both.children.insert(element.clone(), child);
                }
            }
        }
        both
    }

    fn member_paths(&self) -> Vec<Vec<String>> {
        let mut paths = Vec::new();
        self.collect_members(&mut Vec::new(), &mut paths);
        paths
    }

    fn collect_members(&self, prefix: &mut Vec<String>, paths: &mut Vec<Vec<String>>) {
        if self.member {
            paths.push(prefix.clone());
        }
        for (element, child) in &self.children {
            prefix.push(element.clone());
            child.collect_members(prefix, paths);
            prefix.pop();
        }
    }

    fn to_fields_v1(&self) -> Value {
        let mut object = Map::new();
        if self.member && !self.children.is_empty() {
            object.insert(".".to_owned(), empty_object());
        }
        for (element, child) in &self.children {
            object.insert(element.clone(), child.to_fields_v1());
        }
        Value::Object(object)
    }

    /// `None` when `value` is not valid `FieldsV1`.
    fn from_fields_v1(value: &Value) -> Option<FieldSet> {
        let mut set = FieldSet::default();
        for (key, child) in value.as_object()? {
            if key == "." {
                set.member = true;
                continue;
            }
            let mut child = FieldSet::from_fields_v1(child)?;
            if child.children.is_empty() {
                child.member = true;
            }
            set.children
                .entry(canonical_element(key)?)
                .or_default()
                .union_with(&child);
        }
        Some(set)
    }
}

/// Re-serializes the JSON inside `k:`/`v:` so that elements written by other encoders compare
/// equal to ours.
fn canonical_element(element: &str) -> Option<String> {
    let (prefix, rest) = element.split_at_checked(2)?;
    match prefix {
        "f:" | "i:" => Some(element.to_owned()),
        "k:" | "v:" => {
            let parsed: Value = serde_json::from_str(rest).ok()?;
            Some(format!("{prefix}{parsed}"))
        }
        _ => None,
    }
}

fn field_element(name: &str) -> String {
    format!("f:{name}")
}

/// The path element of a list item. Key fields are written sorted by name, as structured-merge-diff
/// sorts them, which `serde_json`'s ordered map gives us.
fn item_element(list_type: &ListType, item: &Value) -> String {
    match (list_type, item) {
        (ListType::Map(keys), Value::Object(fields)) => {
            let key: Map<String, Value> = keys
                .iter()
                .filter_map(|name| fields.get(name).map(|value| (name.clone(), value.clone())))
                .collect();
            format!("k:{}", Value::Object(key))
        }
        _ => format!("v:{item}"),
    }
}

/// A path the way Kubernetes prints it in conflict messages.
fn display_path(path: &[String]) -> String {
    path.iter()
        .map(|element| display_element(element))
        .collect()
}

fn display_element(element: &str) -> String {
    if let Some(name) = element.strip_prefix("f:") {
        return format!(".{name}");
    }
    if let Some(Value::Object(key)) = element
        .strip_prefix("k:")
        .and_then(|key| serde_json::from_str(key).ok())
    {
        let fields: Vec<String> = key
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        return format!("[{}]", fields.join(","));
    }
    if let Some(value) = element.strip_prefix("v:") {
        return format!("[={value}]");
    }
    format!("[{}]", element.strip_prefix("i:").unwrap_or(element))
}

// ---------------------------------------------------------------------------------------------
// Walking values

/// structured-merge-diff's `ToFieldSet`: leaves, atomic values, list items and map entries are
/// members; declared struct fields only when null or `{}` (so that they can still be owned).
/// Duplicate list items count once, the first one.
fn field_set_of(node: &Node, value: &Value) -> FieldSet {
    let mut set = FieldSet::default();
    match value {
        Value::Object(map) if node.granular_map() => {
            for (key, child_value) in map {
                let (child_node, declared) = node.child(key);
                let mut child = field_set_of(child_node, child_value);
                if !declared || is_null_or_empty_object(child_value) {
                    child.member = true;
                }
                if !child.is_empty() {
                    set.children.insert(field_element(key), child);
                }
            }
        }
        Value::Array(items) if node.granular_list() => {
            for item in items {
                let element = item_element(&node.list_type, item);
                if let btree_map::Entry::Vacant(vacant) = set.children.entry(element) {
                    let mut child = field_set_of(node.item(), item);
                    child.member = true;
                    vacant.insert(child);
                }
            }
        }
        _ => set.member = true,
    }
    set
}

fn is_null_or_empty_object(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// structured-merge-diff's merge: `config` wins on leaves and atomic values, granular maps and
/// lists merge member by member. A null in `config` leaves a non-empty granular value alone.
fn merge(node: &Node, live: Option<&Value>, config: &Value) -> Value {
    match (config, live) {
        (Value::Object(entries), _) if node.granular_map() => {
            Value::Object(merge_maps(node, live.and_then(Value::as_object), entries))
        }
        (Value::Array(items), _) if node.granular_list() => {
            let live_items = live
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            Value::Array(merge_lists(node, live_items, items))
        }
        (Value::Null, Some(kept)) if is_non_empty_granular(node, kept) => kept.clone(),
        _ => config.clone(),
    }
}

fn is_non_empty_granular(node: &Node, value: &Value) -> bool {
    match value {
        Value::Object(map) => node.granular_map() && !map.is_empty(),
        Value::Array(items) => node.granular_list() && !items.is_empty(),
        _ => false,
    }
}

fn merge_maps(
    node: &Node,
    live: Option<&Map<String, Value>>,
    config: &Map<String, Value>,
) -> Map<String, Value> {
    let mut merged = live.cloned().unwrap_or_default();
    for (key, value) in config {
        let (child, _) = node.child(key);
        let result = merge(child, live.and_then(|entries| entries.get(key)), value);
        merged.insert(key.clone(), result);
    }
    merged
}

/// Merges list items by key in structured-merge-diff's order: items of both lists follow the
/// applied order, and live-only items keep their place relative to them.
fn merge_lists(node: &Node, live: &[Value], config: &[Value]) -> Vec<Value> {
    let item_node = node.item();
    let lhs = index_items(&node.list_type, live);
    let rhs = index_items(&node.list_type, config);
    let live_by_key: BTreeMap<&str, &Value> = lhs
        .iter()
        .map(|(key, item)| (key.as_str(), *item))
        .collect();
    let applied_keys: BTreeSet<&str> = rhs.iter().map(|(key, _)| key.as_str()).collect();
    let mut shared = rhs
        .iter()
        .map(|(key, _)| key.as_str())
        .filter(|key| live_by_key.contains_key(key));
    let mut next_shared = shared.next();
    let mut emitted = BTreeSet::new();
    let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
    let (mut li, mut ri) = (0, 0);
    while li < lhs.len() || ri < rhs.len() {
        if let (Some((lk, _)), Some((rk, rv))) = (lhs.get(li), rhs.get(ri)) {
            if lk == rk {
                out.push(merge(item_node, live_by_key.get(lk.as_str()).copied(), rv));
                emitted.insert(lk.as_str());
                li += 1;
                ri += 1;
                next_shared = shared.next();
                continue;
            }
            // A shared item that the applied order puts later: it is emitted when reached there.
            if applied_keys.contains(lk.as_str()) && next_shared.is_some_and(|key| key != lk) {
                li += 1;
                continue;
            }
        }
        if let Some((lk, lv)) = lhs.get(li) {
            if !applied_keys.contains(lk.as_str()) {
                out.push((*lv).clone());
                li += 1;
                continue;
            }
            if emitted.contains(lk.as_str()) {
                li += 1;
                continue;
            }
        }
        if let Some((rk, rv)) = rhs.get(ri) {
            out.push(merge(item_node, live_by_key.get(rk.as_str()).copied(), rv));
            emitted.insert(rk.as_str());
            ri += 1;
            if next_shared == Some(rk.as_str()) {
                next_shared = shared.next();
            }
        }
    }
    out
}

/// Items with their path elements, duplicates after the first dropped.
fn index_items<'v>(list_type: &ListType, items: &'v [Value]) -> Vec<(String, &'v Value)> {
    let mut seen = BTreeSet::new();
    items
        .iter()
        .map(|item| (item_element(list_type, item), item))
        .filter(|(element, _)| seen.insert(element.clone()))
        .collect()
}

/// structured-merge-diff's comparison of two versions of an object.
#[derive(Debug, Default)]
struct Changes {
    modified: FieldSet,
    added: FieldSet,
    removed: FieldSet,
}

impl Changes {
    fn touched(&self) -> FieldSet {
        let mut touched = self.modified.clone();
        touched.union_with(&self.added);
        touched
    }
}

fn compare_objects(root: &Node, old: &Value, new: &Value) -> Changes {
    let mut changes = Changes::default();
    compare(root, &mut Vec::new(), Some(old), Some(new), &mut changes);
    changes
}

fn compare(
    node: &Node,
    path: &mut Vec<String>,
    old: Option<&Value>,
    new: Option<&Value>,
    changes: &mut Changes,
) {
    match (old, new) {
        (Some(old), Some(new)) => compare_present(node, path, old, new, changes),
        (None, Some(new)) => {
            changes.added.insert(path);
            insert_descendants(node, path, new, &mut changes.added);
        }
        (Some(old), None) => {
            changes.removed.insert(path);
            insert_descendants(node, path, old, &mut changes.removed);
        }
        (None, None) => {}
    }
}

fn compare_present(
    node: &Node,
    path: &mut Vec<String>,
    old: &Value,
    new: &Value,
    changes: &mut Changes,
) {
    let no_entries = Map::new();
    if let (Some(old_map), Some(new_map)) = (
        granular_entries(node, old, &no_entries),
        granular_entries(node, new, &no_entries),
    ) && !(old_map.is_empty() && new_map.is_empty())
    {
        let new_keys = new_map.keys().filter(|key| !old_map.contains_key(*key));
        for key in old_map.keys().chain(new_keys) {
            path.push(field_element(key));
            compare(
                node.child(key).0,
                path,
                old_map.get(key),
                new_map.get(key),
                changes,
            );
            path.pop();
        }
        return;
    }
    if let (Some(old_items), Some(new_items)) =
        (granular_items(node, old), granular_items(node, new))
        && !(old_items.is_empty() && new_items.is_empty())
    {
        compare_lists(node, path, old_items, new_items, changes);
        return;
    }
    if old != new {
        changes.modified.insert(path);
        insert_descendants(node, path, old, &mut changes.removed);
        insert_descendants(node, path, new, &mut changes.added);
    }
}

/// The entries of a granular map, null reading as no entries.
fn granular_entries<'v>(
    node: &Node,
    value: &'v Value,
    no_entries: &'v Map<String, Value>,
) -> Option<&'v Map<String, Value>> {
    match value {
        Value::Object(map) if node.granular_map() => Some(map),
        Value::Null if node.granular_map() => Some(no_entries),
        _ => None,
    }
}

/// The items of a granular list, null reading as no items.
fn granular_items<'v>(node: &Node, value: &'v Value) -> Option<&'v [Value]> {
    match value {
        Value::Array(items) if node.granular_list() => Some(items),
        Value::Null if node.granular_list() => Some(&[]),
        _ => None,
    }
}

fn compare_lists(
    node: &Node,
    path: &mut Vec<String>,
    old: &[Value],
    new: &[Value],
    changes: &mut Changes,
) {
    let old_items = index_items(&node.list_type, old);
    let new_items = index_items(&node.list_type, new);
    let old_by_key: BTreeMap<&str, &Value> = old_items
        .iter()
        .map(|(key, item)| (key.as_str(), *item))
        .collect();
    let new_by_key: BTreeMap<&str, &Value> = new_items
        .iter()
        .map(|(key, item)| (key.as_str(), *item))
        .collect();
    let added = new_items
        .iter()
        .filter(|(key, _)| !old_by_key.contains_key(key.as_str()));
    for (key, _) in old_items.iter().chain(added) {
        path.push(key.clone());
        let (old_item, new_item) = (old_by_key.get(key.as_str()), new_by_key.get(key.as_str()));
        compare(
            node.item(),
            path,
            old_item.copied(),
            new_item.copied(),
            changes,
        );
        path.pop();
    }
}

/// Adds every path below `path` in `value` to `set`.
fn insert_descendants(node: &Node, path: &mut Vec<String>, value: &Value, set: &mut FieldSet) {
    match value {
        Value::Object(map) if node.granular_map() => {
            for (key, child) in map {
                path.push(field_element(key));
                set.insert(path);
                insert_descendants(node.child(key).0, path, child, set);
                path.pop();
            }
        }
        Value::Array(items) if node.granular_list() => {
            for item in items {
                path.push(item_element(&node.list_type, item));
                set.insert(path);
                insert_descendants(node.item(), path, item, set);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Removes from `value` what the applier owned last time (`last`) unless `keep` (the new
/// configuration and every other entry) owns it. As in structured-merge-diff, a declared struct
/// field counts as owned by any set that owns something below it, and removing a path removes
/// everything below it.
fn prune(node: &Node, value: &mut Value, last: &FieldSet, keep: Option<&FieldSet>) {
    match value {
        Value::Object(map) if node.granular_map() => prune_map(node, map, last, keep),
        Value::Array(items) if node.granular_list() => prune_list(node, items, last, keep),
        _ => {}
    }
}

fn prune_map(node: &Node, map: &mut Map<String, Value>, last: &FieldSet, keep: Option<&FieldSet>) {
    for (element, last_child) in &last.children {
        let Some(key) = element.strip_prefix("f:") else {
            continue;
        };
        let (child_node, declared) = node.child(key);
        let keep_child = keep.and_then(|kept| kept.children.get(element));
        if owns(last_child, declared) && !keep_child.is_some_and(|kept| owns(kept, declared)) {
            map.remove(key);
        } else if let Some(child_value) = map.get_mut(key) {
            prune(child_node, child_value, last_child, keep_child);
        }
    }
}

fn prune_list(node: &Node, items: &mut Vec<Value>, last: &FieldSet, keep: Option<&FieldSet>) {
    let item_node = node.item();
    items.retain_mut(|item| {
        let element = item_element(&node.list_type, item);
        let Some(last_child) = last.children.get(&element) else {
            return true;
        };
        let keep_child = keep.and_then(|kept| kept.children.get(&element));
        if last_child.member && !keep_child.is_some_and(|kept| kept.member) {
            return false;
        }
        prune(item_node, item, last_child, keep_child);
        true
    });
}

fn owns(set: &FieldSet, declared: bool) -> bool {
    set.member || (declared && !set.children.is_empty())
}

/// What pruning must leave in place: the new configuration (untracked metadata included, so
/// that `metadata` itself is never removed) and every entry but the applier's own.
fn kept_by_others(entries: &[Entry], own: Option<usize>, applied: &FieldSet) -> FieldSet {
    let mut keep = applied.clone();
    keep.insert(&[field_element("metadata")]);
    for (index, entry) in entries.iter().enumerate() {
        if Some(index) != own {
            keep.union_with(&entry.fields);
        }
    }
    keep
}

// ---------------------------------------------------------------------------------------------
// Metadata that is never tracked

const UNTRACKED_METADATA: [&str; 10] = [
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

fn strip_untracked(set: &mut FieldSet) {
    set.member = false;
    set.children.remove("f:apiVersion");
    set.children.remove("f:kind");
    let metadata = field_element("metadata");
    if let Some(meta) = set.children.get_mut(&metadata) {
        meta.member = false;
        for key in UNTRACKED_METADATA {
            meta.children.remove(&field_element(key));
        }
        if meta.is_empty() {
            set.children.remove(&metadata);
        }
    }
}

/// `config` without the keys an apply never merges into an existing object.
fn tracked_part(config: &Value) -> Value {
    let mut tracked = config.clone();
    if let Value::Object(root) = &mut tracked {
        root.remove("apiVersion");
        root.remove("kind");
        match root.get_mut("metadata") {
            Some(Value::Object(meta)) => {
                for key in UNTRACKED_METADATA {
                    meta.remove(key);
                }
            }
            // Merging anything else would replace the live metadata, name included.
            Some(_) => {
                root.remove("metadata");
            }
            None => {}
        }
    }
    tracked
}

fn without_managed_fields(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(Value::Object(meta)) = copy.get_mut("metadata") {
        meta.remove("managedFields");
    }
    copy
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

fn api_version_of(object: &Value) -> Option<String> {
    object
        .get("apiVersion")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

// ---------------------------------------------------------------------------------------------
// Managed-fields entries

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// Who is writing: what identifies and stamps the writer's entry.
struct Writer<'a> {
    manager: &'a str,
    subresource: Option<&'a str>,
    api_version: String,
    now: &'a str,
}

#[derive(Clone, Debug)]
struct Entry {
    manager: String,
    operation: Operation,
    api_version: String,
    subresource: Option<String>,
    time: Option<String>,
    fields: FieldSet,
    /// The entry as stored and the set decoded from it: re-emitted verbatim while unchanged, so
    /// that a no-op write leaves `managedFields` byte-identical.
    source: Option<(Value, FieldSet)>,
}

impl Entry {
    fn new(writer: &Writer<'_>, operation: Operation, fields: FieldSet) -> Entry {
        Entry {
            manager: writer.manager.to_owned(),
            operation,
            api_version: writer.api_version.clone(),
            subresource: writer.subresource.map(str::to_owned),
            time: Some(writer.now.to_owned()),
            fields,
            source: None,
        }
    }

    /// Apply entries are keyed without `apiVersion`, as the apiserver's manager identifiers are.
    fn is_apply_of(&self, writer: &Writer<'_>) -> bool {
        self.operation == Operation::Apply
            && self.manager == writer.manager
            && self.subresource.as_deref() == writer.subresource
    }

    fn is_update_of(&self, writer: &Writer<'_>) -> bool {
        self.operation == Operation::Update
            && self.manager == writer.manager
            && self.api_version == writer.api_version
            && self.subresource.as_deref() == writer.subresource
    }

    fn decode(raw: &Value) -> Option<Entry> {
        let object = raw.as_object()?;
        let text = |key: &str| object.get(key).and_then(Value::as_str);
        let operation = match text("operation")? {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            _ => return None,
        };
        if text("fieldsType").is_some_and(|kind| kind != "FieldsV1") {
            return None;
        }
        let decoded = match object.get("fieldsV1") {
            None | Some(Value::Null) => FieldSet::default(),
            Some(fields) => FieldSet::from_fields_v1(fields)?,
        };
        let mut fields = decoded.clone();
        strip_untracked(&mut fields);
        let source = (fields == decoded).then(|| (raw.clone(), decoded));
        Some(Entry {
            manager: text("manager").unwrap_or_default().to_owned(),
            operation,
            api_version: text("apiVersion").unwrap_or_default().to_owned(),
            subresource: text("subresource")
                .filter(|name| !name.is_empty())
                .map(str::to_owned),
            time: text("time").map(str::to_owned),
            fields,
            source,
        })
    }

    fn encode(&self) -> Value {
        if let Some((raw, fields)) = &self.source
            && *fields == self.fields
            && raw.get("time").and_then(Value::as_str) == self.time.as_deref()
            && raw
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                == self.api_version
        {
            return raw.clone();
        }
        let mut entry = Map::new();
        entry.insert("manager".to_owned(), Value::from(self.manager.as_str()));
        entry.insert("operation".to_owned(), Value::from(self.operation.as_str()));
        entry.insert(
            "apiVersion".to_owned(),
            Value::from(self.api_version.as_str()),
        );
        if let Some(time) = &self.time {
            entry.insert("time".to_owned(), Value::from(time.as_str()));
        }
        entry.insert("fieldsType".to_owned(), Value::from("FieldsV1"));
        entry.insert("fieldsV1".to_owned(), self.fields.to_fields_v1());
        if let Some(subresource) = &self.subresource {
            entry.insert("subresource".to_owned(), Value::from(subresource.as_str()));
        }
        Value::Object(entry)
    }

    /// The apiserver's order: operation, time in whole seconds, manager, apiVersion, subresource.
    fn sort_key(&self) -> (&str, &str, &str, &str, &str) {
        let time = self.time.as_deref().unwrap_or_default();
        (
            self.operation.as_str(),
            time.get(..19).unwrap_or(time),
            &self.manager,
            &self.api_version,
            self.subresource.as_deref().unwrap_or_default(),
        )
    }
}

/// Entries of `object` that decode; the apiserver would refuse the others.
fn decode_entries(object: &Value) -> Vec<Entry> {
    managed_fields(object)
        .iter()
        .filter_map(Entry::decode)
        .collect()
}

/// The apiserver's choice of starting entries for a non-apply write.
fn entries_for_update(old: Option<&Value>, new: &Value, subresource: bool) -> Vec<Entry> {
    let from_old = || old.map(decode_entries).unwrap_or_default();
    if subresource {
        return from_old();
    }
    let supplied = managed_fields(new);
    if let [Value::Object(only)] = supplied.as_slice()
        && only.is_empty()
    {
        return Vec::new();
    }
    match supplied
        .iter()
        .map(Entry::decode)
        .collect::<Option<Vec<Entry>>>()
    {
        Some(entries) if !entries.is_empty() => entries,
        _ => from_old(),
    }
}

/// An object applied to without managed fields gets one `Update` entry owning all its fields,
/// so that the apply conflicts with what was there before, as in the apiserver.
fn before_first_apply(types: &Types, live: &Value, writer: &Writer<'_>) -> Option<Entry> {
    let mut fields = compare_objects(&types.root, &empty_object(), live).added;
    strip_untracked(&mut fields);
    let creator = Writer {
        manager: "before-first-apply",
        subresource: writer.subresource,
        api_version: writer.api_version.clone(),
        now: writer.now,
    };
    (!fields.is_empty()).then(|| Entry::new(&creator, Operation::Update, fields))
}

fn find_conflicts(entries: &[Entry], own: Option<usize>, touched: &FieldSet) -> Vec<Conflict> {
    let mut conflicts: Vec<Conflict> = entries
        .iter()
        .enumerate()
        .filter(|(index, _)| Some(*index) != own)
        .flat_map(|(_, entry)| {
            entry
                .fields
                .intersection(touched)
                .member_paths()
                .into_iter()
                .map(|path| Conflict {
                    manager: entry.manager.clone(),
                    field: display_path(&path),
                })
        })
        .collect();
    conflicts.sort_by(|a, b| (&a.manager, &a.field).cmp(&(&b.manager, &b.field)));
    conflicts.dedup();
    conflicts
}

fn record_apply(
    entries: &mut Vec<Entry>,
    own: Option<usize>,
    writer: &Writer<'_>,
    fields: FieldSet,
    object_changed: bool,
) {
    match own.and_then(|index| entries.get_mut(index)) {
        Some(entry) => {
            if object_changed || entry.fields != fields {
                entry.time = Some(writer.now.to_owned());
            }
            entry.fields = fields;
            entry.api_version.clone_from(&writer.api_version);
        }
        None => entries.push(Entry::new(writer, Operation::Apply, fields)),
    }
}

/// A write that added or changed nothing leaves the writer's entry (and its time) alone.
fn record_update_entry(entries: &mut Vec<Entry>, writer: &Writer<'_>, touched: FieldSet) {
    if touched.is_empty() {
        return;
    }
    match entries.iter_mut().find(|entry| entry.is_update_of(writer)) {
        Some(entry) => {
            entry.fields.union_with(&touched);
            entry.time = Some(writer.now.to_owned());
        }
        None => entries.push(Entry::new(writer, Operation::Update, touched)),
    }
}

fn set_managed_fields(object: &mut Value, entries: &[Entry]) {
    let mut kept: Vec<&Entry> = entries
        .iter()
        .filter(|entry| !entry.fields.is_empty())
        .collect();
    kept.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let encoded: Vec<Value> = kept.into_iter().map(Entry::encode).collect();
    let Value::Object(root) = object else {
        return;
    };
    if encoded.is_empty() {
        if let Some(Value::Object(meta)) = root.get_mut("metadata") {
            meta.remove("managedFields");
        }
        return;
    }
    if let Value::Object(meta) = root.entry("metadata").or_insert_with(empty_object) {
        meta.insert("managedFields".to_owned(), Value::Array(encoded));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T1: &str = "2024-05-01T10:00:00Z";
    const T2: &str = "2024-05-01T10:01:00Z";
    const T3: &str = "2024-05-01T10:02:00Z";
    const T4: &str = "2024-05-01T10:03:00Z";

    fn schema() -> Value {
        let ports = json!({
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
            "items": {"type": "object", "properties": {
                "containerPort": {"type": "integer"}, "protocol": {"type": "string"}}}
        });
        let containers = json!({
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {
                "name": {"type": "string"},
                "image": {"type": "string"},
                "command": {"type": "array", "items": {"type": "string"}},
                "ports": ports}}
        });
        json!({
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": {"type": "object", "properties": {
                    "replicas": {"type": "integer"},
                    "paused": {"type": "boolean"},
                    "args": {"type": "array", "items": {"type": "string"}},
                    "tags": {"type": "array", "x-kubernetes-list-type": "set",
                             "items": {"type": "string"}},
                    "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                                 "additionalProperties": {"type": "string"}},
                    "strategy": {"type": "object", "properties": {
                        "type": {"type": "string"}, "maxSurge": {"type": "integer"}}},
                    "limits": {"type": "object", "additionalProperties": {
                        "type": "object", "properties": {"cpu": {"type": "string"}}}},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "template": {"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {"containers": containers}}}}
                }},
                "status": {"type": "object", "properties": {
                    "ready": {"type": "boolean"}, "phase": {"type": "string"}}}
            }
        })
    }

    fn types() -> Types {
        Types::from_schema(&schema())
    }

    fn object(spec: &Value) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": spec
        })
    }

    fn containers(items: &Value) -> Value {
        object(&json!({"template": {"spec": {"containers": items}}}))
    }

    fn apply_as(live: Option<&Value>, config: &Value, manager: &str, now: &str) -> Value {
        match apply(live, config, manager, false, None, &types(), now) {
            Ok(applied) => applied.object,
            Err(conflicts) => panic!("unexpected conflicts: {conflicts:?}"),
        }
    }

    fn force_as(live: &Value, config: &Value, manager: &str, now: &str) -> Value {
        match apply(Some(live), config, manager, true, None, &types(), now) {
            Ok(applied) => applied.object,
            Err(conflicts) => panic!("forced apply reported conflicts: {conflicts:?}"),
        }
    }

    fn conflicts_of(live: &Value, config: &Value, manager: &str) -> Vec<Conflict> {
        apply(Some(live), config, manager, false, None, &types(), T4)
            .err()
            .unwrap_or_default()
    }

    fn entry(object: &Value, manager: &str, operation: &str) -> Value {
        managed_fields(object)
            .into_iter()
            .find(|entry| entry["manager"] == manager && entry["operation"] == operation)
            .unwrap_or(Value::Null)
    }

    fn fields(object: &Value, manager: &str, operation: &str) -> Value {
        entry(object, manager, operation)["fieldsV1"].clone()
    }

    fn conflict(manager: &str, field: &str) -> Conflict {
        Conflict {
            manager: manager.to_owned(),
            field: field.to_owned(),
        }
    }

    #[test]
    fn create_on_apply_takes_the_configuration_and_records_an_apply_entry() {
        let config = object(&json!({"replicas": 2}));
        let created = apply_as(None, &config, "op", T1);
        let mut expected = config.clone();
        expected["metadata"]["managedFields"] = json!([{
            "manager": "op",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}}}
        }]);
        assert_eq!(created, expected);
    }

    #[test]
    fn a_second_apply_by_the_same_manager_that_drops_a_field_removes_it() {
        let first = apply_as(
            None,
            &object(&json!({"replicas": 2, "paused": true})),
            "op",
            T1,
        );
        let second = apply_as(Some(&first), &object(&json!({"replicas": 2})), "op", T2);
        assert_eq!(second["spec"], json!({"replicas": 2}));
        assert_eq!(
            fields(&second, "op", "Apply"),
            json!({"f:spec": {"f:replicas": {}}})
        );
        assert_eq!(entry(&second, "op", "Apply")["time"], T2);
    }

    #[test]
    fn a_field_co_owned_with_an_equal_value_is_kept_when_one_manager_drops_it() {
        let a = apply_as(
            None,
            &object(&json!({"replicas": 2, "paused": true})),
            "a",
            T1,
        );
        let b = apply_as(Some(&a), &object(&json!({"paused": true})), "b", T2);
        let dropped = apply_as(Some(&b), &object(&json!({"replicas": 2})), "a", T3);
        assert_eq!(dropped["spec"], json!({"replicas": 2, "paused": true}));
        assert_eq!(
            fields(&dropped, "a", "Apply"),
            json!({"f:spec": {"f:replicas": {}}})
        );
        assert_eq!(
            fields(&dropped, "b", "Apply"),
            json!({"f:spec": {"f:paused": {}}})
        );
    }

    #[test]
    fn a_different_value_for_a_field_another_manager_owns_is_a_conflict() {
        let mut a_config = containers(&json!([{"name": "app", "image": "nginx:1"}]));
        a_config["spec"]["replicas"] = json!(2);
        let live = apply_as(None, &a_config, "a", T1);
        let edited = {
            let mut new = live.clone();
            new["spec"]["paused"] = json!(true);
            record_update(Some(&live), &new, "kubectl-edit", None, &types(), T3)
        };
        let cases = [
            (
                "an Apply manager's scalar",
                object(&json!({"replicas": 3})),
                vec![conflict("a", ".spec.replicas")],
            ),
            (
                "an Update manager's scalar",
                object(&json!({"paused": false})),
                vec![conflict("kubectl-edit", ".spec.paused")],
            ),
            (
                "a field of a list-map item",
                containers(&json!([{"name": "app", "image": "nginx:2"}])),
                vec![conflict(
                    "a",
                    ".spec.template.spec.containers[name=\"app\"].image",
                )],
            ),
            (
                "no field of another manager",
                object(&json!({"strategy": {"type": "Recreate"}})),
                vec![],
            ),
        ];
        for (case, config, expected) in cases {
            assert_eq!(conflicts_of(&edited, &config, "b"), expected, "{case}");
        }
    }

    #[test]
    fn force_moves_ownership_to_the_applier_and_drops_an_emptied_entry() {
        let a = apply_as(None, &object(&json!({"replicas": 2})), "a", T1);
        let forced = force_as(&a, &object(&json!({"replicas": 3})), "b", T2);
        assert_eq!(forced["spec"]["replicas"], 3);
        assert_eq!(entry(&forced, "a", "Apply"), Value::Null);
        assert_eq!(
            fields(&forced, "b", "Apply"),
            json!({"f:spec": {"f:replicas": {}}})
        );

        let a = apply_as(
            None,
            &object(&json!({"replicas": 2, "paused": true})),
            "a",
            T1,
        );
        let forced = force_as(&a, &object(&json!({"replicas": 3})), "b", T2);
        assert_eq!(
            fields(&forced, "a", "Apply"),
            json!({"f:spec": {"f:paused": {}}})
        );
        assert_eq!(
            entry(&forced, "a", "Apply")["time"],
            T1,
            "the loser keeps its time"
        );
    }

    #[test]
    fn equal_values_are_shared_without_conflict() {
        let a = apply_as(None, &object(&json!({"replicas": 2})), "a", T1);
        let shared = apply_as(Some(&a), &object(&json!({"replicas": 2})), "b", T2);
        assert_eq!(
            fields(&shared, "a", "Apply"),
            json!({"f:spec": {"f:replicas": {}}})
        );
        assert_eq!(
            fields(&shared, "b", "Apply"),
            json!({"f:spec": {"f:replicas": {}}})
        );
        assert_eq!(shared["spec"], a["spec"]);
    }

    #[test]
    fn list_map_items_merge_by_key_and_an_item_dropped_by_its_only_owner_is_removed() {
        let app = json!({"name": "app", "image": "nginx:1"});
        let a = apply_as(None, &containers(&json!([app])), "a", T1);
        let b_config = containers(&json!([
            {"name": "app", "command": ["run"]},
            {"name": "sidecar", "image": "envoy"}
        ]));
        let b = apply_as(Some(&a), &b_config, "b", T2);
        assert_eq!(
            b["spec"]["template"]["spec"]["containers"],
            json!([{"name": "app", "image": "nginx:1", "command": ["run"]},
                   {"name": "sidecar", "image": "envoy"}])
        );
        let b_drops = containers(&json!([{"name": "app", "command": ["run"]}]));
        let dropped = apply_as(Some(&b), &b_drops, "b", T3);
        assert_eq!(
            dropped["spec"]["template"]["spec"]["containers"],
            json!([{"name": "app", "image": "nginx:1", "command": ["run"]}])
        );
        let a_drops = apply_as(Some(&dropped), &containers(&json!([])), "a", T4);
        assert_eq!(
            a_drops["spec"]["template"]["spec"]["containers"],
            json!([{"name": "app", "command": ["run"]}]),
            "the item is co-owned by b, only a's image goes"
        );
    }

    #[test]
    fn sets_merge_by_value_and_a_member_dropped_by_its_only_owner_is_removed() {
        let with_finalizer = |name: &str| {
            let mut config = object(&json!({}));
            config["metadata"]["finalizers"] = json!([name]);
            config
        };
        let a = apply_as(None, &with_finalizer("ferry.dev/cleanup"), "a", T1);
        let b = apply_as(Some(&a), &with_finalizer("other.dev/keep"), "b", T2);
        assert_eq!(
            b["metadata"]["finalizers"],
            json!(["ferry.dev/cleanup", "other.dev/keep"])
        );
        assert_eq!(
            fields(&b, "a", "Apply"),
            json!({"f:metadata": {"f:finalizers": {"v:\"ferry.dev/cleanup\"": {}}}, "f:spec": {}})
        );
        let dropped = apply_as(Some(&b), &object(&json!({})), "a", T3);
        assert_eq!(dropped["metadata"]["finalizers"], json!(["other.dev/keep"]));
    }

    #[test]
    fn atomic_lists_and_maps_are_replaced_whole_and_owned_as_one_field() {
        let config = object(&json!({"args": ["a", "b"], "selector": {"app": "web", "tier": "x"}}));
        let a = apply_as(None, &config, "a", T1);
        assert_eq!(
            fields(&a, "a", "Apply"),
            json!({"f:spec": {"f:args": {}, "f:selector": {}}})
        );
        let b_config = object(&json!({"args": ["c"], "selector": {"app": "web"}}));
        assert_eq!(
            conflicts_of(&a, &b_config, "b"),
            vec![conflict("a", ".spec.args"), conflict("a", ".spec.selector")]
        );
        let forced = force_as(&a, &b_config, "b", T2);
        assert_eq!(
            forced["spec"],
            json!({"args": ["c"], "selector": {"app": "web"}})
        );
        assert_eq!(entry(&forced, "a", "Apply"), Value::Null);
    }

    #[test]
    fn a_no_op_apply_returns_the_live_object_unchanged() {
        let a_config = containers(&json!([{"name": "app", "image": "nginx:1"}]));
        let a = apply_as(None, &a_config, "a", T1);
        let b = apply_as(
            Some(&a),
            &object(&json!({"replicas": 1, "tags": ["x"]})),
            "b",
            T2,
        );
        assert_eq!(apply_as(Some(&b), &a_config, "a", T3), b);
        let b_again = object(&json!({"replicas": 1, "tags": ["x"]}));
        assert_eq!(apply_as(Some(&b), &b_again, "b", T4), b);
    }

    #[test]
    fn the_applier_entry_time_moves_only_when_its_apply_changes_something() {
        let first = apply_as(None, &object(&json!({"replicas": 2})), "a", T1);
        let same = apply_as(Some(&first), &object(&json!({"replicas": 2})), "a", T2);
        assert_eq!(entry(&same, "a", "Apply")["time"], T1);
        let changed = apply_as(Some(&first), &object(&json!({"replicas": 3})), "a", T2);
        assert_eq!(entry(&changed, "a", "Apply")["time"], T2);
    }

    #[test]
    fn record_update_takes_ownership_so_the_next_apply_of_another_value_conflicts() {
        let applied = apply_as(None, &object(&json!({"replicas": 2})), "op", T1);
        let mut scaled = applied.clone();
        scaled["spec"]["replicas"] = json!(5);
        let updated = record_update(Some(&applied), &scaled, "hpa", None, &types(), T2);
        assert_eq!(entry(&updated, "op", "Apply"), Value::Null);
        assert_eq!(
            entry(&updated, "hpa", "Update"),
            json!({"manager": "hpa", "operation": "Update", "apiVersion": "apps/v1",
                   "time": T2, "fieldsType": "FieldsV1",
                   "fieldsV1": {"f:spec": {"f:replicas": {}}}})
        );
        assert_eq!(
            conflicts_of(&updated, &object(&json!({"replicas": 2})), "op"),
            vec![conflict("hpa", ".spec.replicas")]
        );
        let agreeing = apply_as(Some(&updated), &object(&json!({"replicas": 5})), "op", T3);
        assert_eq!(
            fields(&agreeing, "op", "Apply"),
            json!({"f:spec": {"f:replicas": {}}})
        );
        assert_eq!(
            fields(&agreeing, "hpa", "Update"),
            json!({"f:spec": {"f:replicas": {}}})
        );
    }

    #[test]
    fn record_update_on_create_owns_every_field_and_marks_new_structs_with_a_dot() {
        let mut new = object(&json!({"replicas": 1, "strategy": {"type": "Recreate"}}));
        new["metadata"]["labels"] = json!({"app": "web"});
        let created = record_update(None, &new, "kubectl-create", None, &types(), T1);
        assert_eq!(
            fields(&created, "kubectl-create", "Update"),
            json!({
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {".": {}, "f:replicas": {}, "f:strategy": {".": {}, "f:type": {}}}
            })
        );
        assert_eq!(created["spec"], new["spec"]);
    }

    #[test]
    fn record_update_removes_deleted_fields_from_every_entry_and_a_no_op_changes_nothing() {
        let a = apply_as(
            None,
            &object(&json!({"replicas": 2, "paused": true})),
            "a",
            T1,
        );
        let mut new = a.clone();
        new["spec"]
            .as_object_mut()
            .map(|spec| spec.remove("paused"));
        let updated = record_update(Some(&a), &new, "editor", None, &types(), T2);
        assert_eq!(
            fields(&updated, "a", "Apply"),
            json!({"f:spec": {"f:replicas": {}}})
        );
        assert_eq!(entry(&updated, "a", "Apply")["time"], T1);
        assert_eq!(
            entry(&updated, "editor", "Update"),
            Value::Null,
            "removing owns nothing"
        );
        let unchanged = record_update(Some(&updated), &updated, "editor", None, &types(), T3);
        assert_eq!(unchanged, updated);
    }

    #[test]
    fn record_update_merges_into_the_managers_earlier_update_entry() {
        let created = record_update(
            None,
            &object(&json!({"replicas": 1})),
            "ctl",
            None,
            &types(),
            T1,
        );
        let mut new = created.clone();
        new["spec"]["paused"] = json!(true);
        let updated = record_update(Some(&created), &new, "ctl", None, &types(), T2);
        assert_eq!(managed_fields(&updated).len(), 1);
        assert_eq!(
            fields(&updated, "ctl", "Update"),
            json!({"f:spec": {".": {}, "f:paused": {}, "f:replicas": {}}})
        );
        assert_eq!(entry(&updated, "ctl", "Update")["time"], T2);
    }

    #[test]
    fn managed_fields_sent_with_a_write_are_used_and_one_empty_entry_resets_them() {
        let a = apply_as(None, &object(&json!({"replicas": 2})), "a", T1);
        let mut without = a.clone();
        without["metadata"]
            .as_object_mut()
            .map(|meta| meta.remove("managedFields"));
        let kept = record_update(Some(&a), &without, "ctl", None, &types(), T2);
        assert_eq!(managed_fields(&kept), managed_fields(&a));
        let mut reset = a.clone();
        reset["metadata"]["managedFields"] = json!([{}]);
        let cleared = record_update(Some(&a), &reset, "ctl", None, &types(), T2);
        assert_eq!(cleared["metadata"].get("managedFields"), None);
    }

    #[test]
    fn subresource_entries_are_separate() {
        let spec = apply_as(None, &object(&json!({"replicas": 2})), "op", T1);
        let status_config = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"}, "status": {"ready": true, "phase": "Up"}});
        let with_status = match apply(
            Some(&spec),
            &status_config,
            "op",
            false,
            Some("status"),
            &types(),
            T2,
        ) {
            Ok(applied) => applied.object,
            Err(conflicts) => panic!("{conflicts:?}"),
        };
        assert_eq!(with_status["spec"], json!({"replicas": 2}));
        let entries = managed_fields(&with_status);
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0]["fieldsV1"],
            json!({"f:spec": {"f:replicas": {}}})
        );
        assert_eq!(entries[0].get("subresource"), None);
        assert_eq!(entries[1]["subresource"], "status");
        assert_eq!(
            entries[1]["fieldsV1"],
            json!({"f:status": {"f:phase": {}, "f:ready": {}}})
        );

        let mut status_only = status_config.clone();
        status_only["status"] = json!({"ready": true});
        let dropped = match apply(
            Some(&with_status),
            &status_only,
            "op",
            false,
            Some("status"),
            &types(),
            T3,
        ) {
            Ok(applied) => applied.object,
            Err(conflicts) => panic!("{conflicts:?}"),
        };
        assert_eq!(dropped["status"], json!({"ready": true}));
        assert_eq!(dropped["spec"], json!({"replicas": 2}));
    }

    #[test]
    fn fields_v1_matches_the_kubernetes_encoding() {
        let mut config = containers(&json!([{"name": "app", "image": "nginx",
            "ports": [{"containerPort": 80, "protocol": "TCP"}]}]));
        config["metadata"]["labels"] = json!({"app": "web"});
        config["spec"]["replicas"] = json!(2);
        let created = apply_as(None, &config, "op", T1);
        let encoded = fields(&created, "op", "Apply").to_string();
        let expected = concat!(
            r#"{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"#,
            r#""f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"#,
            r#""f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":"#,
            r#"{".":{},"f:containerPort":{},"f:protocol":{}}}}}}}}}"#
        );
        assert_eq!(encoded, expected);
    }

    #[test]
    fn map_entries_and_preserved_unknown_objects_are_owned_as_a_whole() {
        let config = object(&json!({
            "limits": {"small": {"cpu": "1"}},
            "extra": {"nested": {"deep": 1}, "list": [1, 2]}
        }));
        let created = apply_as(None, &config, "op", T1);
        assert_eq!(
            fields(&created, "op", "Apply"),
            json!({"f:spec": {
                "f:extra": {"f:list": {}, "f:nested": {".": {}, "f:deep": {}}},
                "f:limits": {"f:small": {".": {}, "f:cpu": {}}}
            }})
        );
    }

    #[test]
    fn a_dropped_struct_keeps_what_another_manager_owns_inside_it() {
        let strategy = object(&json!({"strategy": {"type": "Rolling", "maxSurge": 1}}));
        let a = apply_as(None, &strategy, "a", T1);
        let b = apply_as(
            Some(&a),
            &object(&json!({"strategy": {"type": "Rolling"}})),
            "b",
            T2,
        );
        let dropped = apply_as(Some(&b), &object(&json!({"replicas": 1})), "a", T3);
        assert_eq!(
            dropped["spec"],
            json!({"replicas": 1, "strategy": {"type": "Rolling"}})
        );
        let alone = apply_as(Some(&a), &object(&json!({"replicas": 1})), "a", T2);
        assert_eq!(alone["spec"], json!({"replicas": 1}));
    }

    #[test]
    fn dropping_every_label_removes_the_labels_but_keeps_the_rest_of_metadata() {
        let mut config = object(&json!({"replicas": 1}));
        config["metadata"]["labels"] = json!({"app": "web"});
        let labelled = apply_as(None, &config, "op", T1);
        let dropped = apply_as(Some(&labelled), &object(&json!({"replicas": 1})), "op", T2);
        assert_eq!(dropped["metadata"]["name"], "web");
        assert_eq!(dropped["metadata"].get("labels"), None);
    }

    #[test]
    fn untracked_metadata_is_taken_on_create_but_never_owned_or_merged_later() {
        let mut config = object(&json!({"replicas": 1}));
        config["metadata"]["uid"] = json!("u-1");
        config["metadata"]["resourceVersion"] = json!("7");
        let created = apply_as(None, &config, "op", T1);
        assert_eq!(created["metadata"]["uid"], "u-1");
        assert_eq!(
            fields(&created, "op", "Apply"),
            json!({"f:spec": {"f:replicas": {}}})
        );
        config["metadata"]["uid"] = json!("u-2");
        config["metadata"]["resourceVersion"] = json!("99");
        config["kind"] = json!("Other");
        let again = apply_as(Some(&created), &config, "op", T2);
        assert_eq!(again, created);
    }

    #[test]
    fn the_applied_value_replaces_a_live_value_of_another_type() {
        let live = apply_as(
            None,
            &object(&json!({"extra": {"a": "text", "b": {"c": 1}}})),
            "a",
            T1,
        );
        let config = object(&json!({"extra": {"a": {"now": "object"}, "b": 3}}));
        let replaced = force_as(&live, &config, "b", T2);
        assert_eq!(
            replaced["spec"]["extra"],
            json!({"a": {"now": "object"}, "b": 3})
        );
        assert_eq!(entry(&replaced, "a", "Apply"), Value::Null);
    }

    #[test]
    fn a_configuration_that_is_not_an_object_changes_nothing() {
        let live = apply_as(None, &object(&json!({"replicas": 1})), "a", T1);
        for config in [json!(null), json!([1]), json!("text")] {
            assert_eq!(apply_as(Some(&live), &config, "b", T2), live, "{config}");
        }
        assert_eq!(
            record_update(Some(&live), &json!(null), "b", None, &types(), T2),
            json!(null)
        );
    }

    #[test]
    fn a_configuration_whose_metadata_is_not_an_object_leaves_the_live_metadata_alone() {
        let live = apply_as(None, &object(&json!({"replicas": 1})), "a", T1);
        let mut config = object(&json!({"replicas": 1}));
        config["metadata"] = json!("oops");
        assert_eq!(apply_as(Some(&live), &config, "a", T2), live);
    }

    #[test]
    fn an_object_without_managed_fields_gets_a_before_first_apply_entry() {
        let seeded = object(&json!({"replicas": 1}));
        assert_eq!(
            conflicts_of(&seeded, &object(&json!({"replicas": 2})), "op"),
            vec![conflict("before-first-apply", ".spec.replicas")]
        );
        let applied = apply_as(Some(&seeded), &object(&json!({"paused": true})), "op", T2);
        assert_eq!(
            fields(&applied, "before-first-apply", "Update"),
            json!({"f:spec": {".": {}, "f:replicas": {}}})
        );
    }

    #[test]
    fn entries_are_ordered_apply_first_then_by_time_then_by_manager() {
        let z = apply_as(None, &object(&json!({"replicas": 1})), "z", T1);
        let mut new = z.clone();
        new["spec"]["paused"] = json!(true);
        let updated = record_update(Some(&z), &new, "editor", None, &types(), T2);
        let a = apply_as(Some(&updated), &object(&json!({"tags": ["x"]})), "a", T3);
        let b = apply_as(Some(&a), &object(&json!({"args": ["y"]})), "b", T3);
        let order: Vec<Value> = managed_fields(&b)
            .iter()
            .map(|entry| entry["manager"].clone())
            .collect();
        assert_eq!(
            order,
            vec![json!("z"), json!("a"), json!("b"), json!("editor")]
        );
    }

    #[test]
    fn applied_order_wins_for_shared_items_and_live_only_items_keep_their_place() {
        let cases = [
            (
                json!(["a", "b", "c"]),
                json!(["c", "a"]),
                json!(["b", "c", "a"]),
            ),
            (json!(["a", "b"]), json!(["b", "c"]), json!(["a", "b", "c"])),
            (json!(["a"]), json!(["c"]), json!(["a", "c"])),
            (json!(["a", "b"]), json!(["b", "a"]), json!(["b", "a"])),
            (json!(["a", "a", "b"]), json!(["b", "b"]), json!(["a", "b"])),
        ];
        for (live, config, expected) in cases {
            let live_object = apply_as(None, &object(&json!({"tags": live})), "a", T1);
            let merged = force_as(&live_object, &object(&json!({"tags": config})), "b", T2);
            assert_eq!(merged["spec"]["tags"], expected, "{live} + {config}");
        }
    }

    #[test]
    fn types_answer_from_the_schema_and_know_object_meta() {
        let typed = types();
        let untyped = Types::untyped();
        let map_keys =
            |keys: &[&str]| ListType::Map(keys.iter().map(|key| (*key).to_owned()).collect());
        let list_cases = [
            (
                &typed,
                vec!["spec", "template", "spec", "containers"],
                map_keys(&["name"]),
            ),
            (
                &typed,
                vec!["spec", "template", "spec", "containers", "[]", "ports"],
                map_keys(&["containerPort", "protocol"]),
            ),
            (&typed, vec!["spec", "tags"], ListType::Set),
            (&typed, vec!["spec", "args"], ListType::Atomic),
            (&typed, vec!["spec", "extra", "anything"], ListType::Atomic),
            (&typed, vec!["metadata", "finalizers"], ListType::Set),
            (
                &untyped,
                vec!["metadata", "ownerReferences"],
                map_keys(&["uid"]),
            ),
            (
                &untyped,
                vec!["spec", "template", "spec", "containers"],
                ListType::Atomic,
            ),
        ];
        for (types, path, expected) in list_cases {
            assert_eq!(types.list_type(&path), expected, "{path:?}");
        }
        let map_cases = [
            (&typed, vec!["spec", "selector"], MapType::Atomic),
            (&typed, vec!["spec", "limits", "small"], MapType::Granular),
            (&typed, vec!["metadata", "labels"], MapType::Granular),
            (&untyped, vec!["spec", "unknown"], MapType::Granular),
        ];
        for (types, path, expected) in map_cases {
            assert_eq!(types.map_type(&path), expected, "{path:?}");
        }
    }

    /// What structured-merge-diff's `typed/validate.go` (`visitListItems`, `visitMapItems`) and
    /// `typed/helpers.go` (`keyedAssociativeListItemToPathElement`, `setItemToPathElement`)
    /// refuse in an applied configuration, with `fieldpath.PathElement.String()` paths.
    #[test]
    fn validate_refuses_what_structured_merge_diff_refuses_when_typing_a_configuration() {
        let app = json!({"name": "app", "image": "a"});
        let cases = [
            (object(&json!({"replicas": 1, "tags": ["a", "b"]})), vec![]),
            (
                containers(&json!([app, {"name": "app", "image": "b"}])),
                vec![(
                    ".spec.template.spec.containers",
                    r#"duplicate entries for key [name="app"]"#,
                )],
            ),
            (
                containers(&json!([{"name": "app", "ports": [
                    {"protocol": "TCP", "containerPort": 80},
                    {"containerPort": 80, "protocol": "TCP"},
                    {"containerPort": 80, "protocol": "UDP"}]}])),
                vec![(
                    r#".spec.template.spec.containers[name="app"].ports"#,
                    r#"duplicate entries for key [containerPort=80,protocol="TCP"]"#,
                )],
            ),
            (
                object(&json!({"tags": ["a", "b", "a", "a"]})),
                vec![
                    (".spec.tags", r#"duplicate entries for key [="a"]"#),
                    (".spec.tags", r#"duplicate entries for key [="a"]"#),
                ],
            ),
            (
                containers(&json!([app, {"image": "b"}, {"name": "app"}])),
                vec![(
                    ".spec.template.spec.containers",
                    r#"element 1: associative list with keys has an element that omits key field "name" (and doesn't have default value)"#,
                )],
            ),
            (
                containers(&json!(["app"])),
                vec![(
                    ".spec.template.spec.containers",
                    "element 0: associative list with keys may not have non-map elements",
                )],
            ),
            (
                object(&json!({"tags": ["a", {"b": 1}]})),
                vec![(
                    ".spec.tags",
                    "element 1: associative list without keys has an element that's a map type",
                )],
            ),
            (
                object(&json!({"replica": 2, "strategy": {"typ": "Recreate"}})),
                // The first undeclared key ends the walk of its object.
                vec![(".spec.replica", "field not declared in schema")],
            ),
            (
                object(&json!({"strategy": {"typ": "Recreate"}})),
                vec![(".spec.strategy.typ", "field not declared in schema")],
            ),
            (
                containers(&json!([{"name": "app", "imag": "x"}])),
                vec![(
                    r#".spec.template.spec.containers[name="app"].imag"#,
                    "field not declared in schema",
                )],
            ),
            // Map entries, preserved unknown fields, metadata and the type fields are declared.
            (
                object(&json!({"limits": {"small": {"cpu": "1"}}, "extra": {"any": {"thing": 1}}})),
                vec![],
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": "web", "labels": {"a": "b"}, "finalizers": ["x"]},
                       "status": {"phase": "Up", "reason": "?"}}),
                vec![(".status.reason", "field not declared in schema")],
            ),
        ];
        for (config, expected) in cases {
            let found: Vec<(String, String)> = validate(&types(), &config)
                .into_iter()
                .map(|e| (e.path, e.message))
                .collect();
            let expected: Vec<(String, String)> = expected
                .into_iter()
                .map(|(path, message)| (path.to_owned(), message.to_owned()))
                .collect();
            assert_eq!(found, expected, "{config}");
        }
        // Kinds without a schema declare every field.
        let untyped = containers(&json!([app, app]));
        assert_eq!(validate(&Types::untyped(), &untyped), vec![]);
    }

    #[test]
    fn validate_keys_a_list_map_item_by_the_default_of_a_key_field_it_omits() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"ports": {"type": "array", "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["port", "protocol"],
                "items": {"type": "object", "properties": {
                    "port": {"type": "integer"},
                    "protocol": {"type": "string", "default": "TCP"}}}}}}}});
        let config = object(&json!({"ports": [{"port": 80}, {"port": 80, "protocol": "TCP"}]}));
        let errors = validate(&Types::from_schema(&schema), &config);
        assert_eq!(
            errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [r#".spec.ports: duplicate entries for key [port=80,protocol="TCP"]"#]
        );
    }

    #[test]
    fn managed_fields_reads_the_stored_entries() {
        assert_eq!(managed_fields(&object(&json!({}))), Vec::<Value>::new());
        let created = apply_as(None, &object(&json!({"replicas": 1})), "op", T1);
        assert_eq!(managed_fields(&created).len(), 1);
        assert_eq!(managed_fields(&created)[0]["manager"], "op");
    }

    mod idempotence {
        use super::*;
        use proptest::prelude::*;
        use proptest::sample::select;

        fn scalar() -> impl Strategy<Value = Value> {
            prop_oneof![
                (0i64..3).prop_map(Value::from),
                select(vec!["x", "y"]).prop_map(Value::from),
                any::<bool>().prop_map(Value::from),
            ]
        }

        fn container() -> impl Strategy<Value = Value> {
            let port = (select(vec![80, 443]), select(vec!["TCP", "UDP"]))
                .prop_map(|(port, protocol)| json!({"containerPort": port, "protocol": protocol}));
            (
                select(vec!["app", "side", "init"]),
                prop::option::of(select(vec!["v1", "v2"])),
                prop::option::of(prop::collection::vec(port, 0..3)),
            )
                .prop_map(|(name, image, ports)| {
                    let mut item = json!({"name": name});
                    if let Some(image) = image {
                        item["image"] = json!(image);
                    }
                    if let Some(ports) = ports {
                        item["ports"] = json!(ports);
                    }
                    item
                })
        }

        fn config() -> impl Strategy<Value = Value> {
            let keys = || select(vec!["p", "q", "r"]);
            (
                prop::option::of(0i64..3),
                prop::option::of(prop::collection::vec(container(), 0..4)),
                prop::option::of(prop::collection::vec(select(vec!["s", "t", "u"]), 0..3)),
                prop::option::of(prop::collection::vec(scalar(), 0..3)),
                prop::option::of(prop::collection::btree_map(keys(), scalar(), 0..3)),
                prop::option::of(prop::collection::btree_map(
                    keys(),
                    select(vec!["1", "2"]),
                    0..3,
                )),
            )
                .prop_map(|(replicas, items, tags, args, extra, labels)| {
                    // Something must be owned: an object left without managed fields gets a
                    // before-first-apply entry on the next apply, as in the apiserver.
                    let mut config = object(&json!({"paused": true}));
                    let optional = [
                        ("replicas", replicas.map(Value::from)),
                        ("tags", tags.map(|tags| json!(tags))),
                        ("args", args.map(Value::from)),
                        ("extra", extra.map(|extra| json!(extra))),
                    ];
                    for (key, value) in optional {
                        if let Some(value) = value {
                            config["spec"][key] = value;
                        }
                    }
                    if let Some(items) = items {
                        config["spec"]["template"] = json!({"spec": {"containers": items}});
                    }
                    if let Some(labels) = labels {
                        config["metadata"]["labels"] = json!(labels);
                    }
                    config
                })
        }

        proptest! {
            #[test]
            fn applying_the_same_configuration_twice_changes_nothing(
                first in config(),
                second in config(),
            ) {
                let created = apply_as(None, &first, "a", T1);
                prop_assert_eq!(apply_as(Some(&created), &first, "a", T2), created.clone());
                let forced = force_as(&created, &second, "b", T2);
                prop_assert_eq!(force_as(&forced, &second, "b", T3), forced.clone());
                let back = force_as(&forced, &first, "a", T3);
                prop_assert_eq!(force_as(&back, &first, "a", T4), back);
            }
        }
    }
}
