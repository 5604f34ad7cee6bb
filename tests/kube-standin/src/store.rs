//! Objects in memory, and every write path with the API server's semantics: uid, creation time,
//! a cluster-wide `resourceVersion`, optimistic concurrency, `generation`, the status
//! subresource, finalizers and `deletionTimestamp`, server-side apply, no-op writes, validation
//! against CRD schemas, and a change log that watches replay from.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast};

use crate::apply;
use crate::error::{ApiError, Cause, cause_reason};
use crate::registry::{self, ResourceType};
use crate::selectors::{FieldSelector, LabelSelector};

/// Storage identity of an object: group, plural, namespace ("" when cluster-scoped), name.
type Key = (String, String, String, String);

/// Changes to replay, and a subscription for those that follow them.
pub type Replay = (Vec<Arc<Change>>, broadcast::Receiver<Arc<Change>>);

/// What a watch sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Removed.
    Deleted,
}

/// One committed write.
#[derive(Debug)]
pub struct Change {
    /// The `resourceVersion` it produced.
    pub rv: u64,
    /// Group and plural of the object.
    pub resource: (String, String),
    /// Namespace ("" when cluster-scoped).
    pub namespace: String,
    /// Added, modified or deleted.
    pub kind: ChangeKind,
    /// The object after the write (before it, for a deletion).
    pub object: Value,
    /// The object before a modification, so selector watches can tell an object leaving their
    /// selection.
    pub old: Option<Value>,
}

/// Tunables, small in tests that need to see their effects.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Changes kept for watches to resume from; older `resourceVersion`s get 410 Gone.
    pub history: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { history: 100_000 }
    }
}

/// How a write asked to be treated.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// `fieldManager`.
    pub manager: Option<String>,
    /// `force` (server-side apply).
    pub force: bool,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `fieldValidation=Strict`: unknown fields are refused instead of pruned.
    pub strict: bool,
}

/// A successful write: the object as stored and any warnings for the client.
#[derive(Clone, Debug)]
pub struct Written {
    /// The object.
    pub object: Value,
    /// `Warning` headers.
    pub warnings: Vec<String>,
    /// Whether it was created (201) rather than changed (200).
    pub created: bool,
}

/// Patch flavours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json`.
    Json,
    /// `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`, treated as a merge patch.
    Strategic,
    /// `application/apply-patch+yaml`.
    Apply,
}

/// How to delete.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    /// `propagationPolicy=Orphan` keeps dependents (their owner reference goes).
    pub orphan: bool,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
    /// `dryRun=All`.
    pub dry_run: bool,
}

/// A list request's filters and page.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// Label selector.
    pub labels: LabelSelector,
    /// Field selector.
    pub fields: FieldSelector,
    /// Page size; 0 for everything.
    pub limit: usize,
    /// Where the previous page stopped.
    pub continue_after: Option<String>,
}

struct State {
    rv: u64,
    types: Vec<Arc<ResourceType>>,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<Arc<Change>>,
    /// The newest `resourceVersion` no longer in `history`.
    compacted: u64,
}

/// The API server's memory.
pub struct Store {
    state: Mutex<State>,
    changes: broadcast::Sender<Arc<Change>>,
    limits: Limits,
    /// Woken after deletions, for the garbage collector and namespace finalizer.
    pub(crate) collector: Notify,
}

const MANAGER_GC: &str = "kube-standin-garbage-collector";
const SYSTEM_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn meta(object: &Value) -> &Value {
    &object["metadata"]
}

fn set_meta(object: &mut Value, key: &str, value: impl Into<Value>) {
    if let Some(obj) = object.as_object_mut() {
        let metadata = obj.entry("metadata").or_insert_with(|| json!({}));
        if let Some(m) = metadata.as_object_mut() {
            m.insert(key.into(), value.into());
        }
    }
}

fn remove_meta(object: &mut Value, key: &str) {
    if let Some(m) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove(key);
    }
}

fn str_at<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object.pointer(pointer).and_then(Value::as_str)
}

fn finalizers(object: &Value) -> BTreeSet<String> {
    meta(object)["finalizers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// Everything but metadata and status: what `generation` counts.
fn spec_part(object: &Value) -> Value {
    let mut rest = object.clone();
    if let Some(obj) = rest.as_object_mut() {
        for key in ["metadata", "status", "apiVersion", "kind"] {
            obj.remove(key);
        }
    }
    rest
}

fn without_resource_version(object: &Value) -> Value {
    let mut o = object.clone();
    remove_meta(&mut o, "resourceVersion");
    o
}

fn is_dns_subdomain(name: &str) -> bool {
    ferry_core::names::is_dns_subdomain(name)
}

impl Store {
    /// An empty API server serving the built-in kinds and `crds`, with the system namespaces.
    pub fn new(crds: &[CustomResourceDefinition], limits: Limits) -> Result<Self, ApiError> {
        let (changes, _) = broadcast::channel(65_536);
        let builtins = registry::builtins()
            .map_err(|e| ApiError::bad_request(format!("a built-in kind's schema: {e}")))?;
        let store = Self {
            state: Mutex::new(State {
                rv: 0,
                types: builtins.into_iter().map(Arc::new).collect(),
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                compacted: 0,
            }),
            changes,
            limits,
            collector: Notify::new(),
        };
        let system = WriteOptions {
            manager: Some("kube-standin".into()),
            ..WriteOptions::default()
        };
        let namespaces = store.resource("", "v1", "namespaces")?;
        for ns in SYSTEM_NAMESPACES {
            store.create(
                &namespaces,
                None,
                json!({"metadata": {"name": ns}}),
                &system,
            )?;
        }
        let crd_type = store.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")?;
        for crd in crds {
            let object =
                serde_json::to_value(crd).map_err(|e| ApiError::bad_request(e.to_string()))?;
            store.create(&crd_type, None, object, &system)?;
        }
        Ok(store)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock would be a bug in this crate; serving the data as it
        // stands keeps the other tests going rather than cascading the panic.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current `resourceVersion`.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// Every served type.
    pub fn types(&self) -> Vec<Arc<ResourceType>> {
        self.lock().types.clone()
    }

    /// The type served at `group/version/plural`.
    pub fn resource(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Result<Arc<ResourceType>, ApiError> {
        self.lock()
            .types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
            .ok_or_else(|| {
                let path = if group.is_empty() {
                    format!("/api/{version}/{plural}")
                } else {
                    format!("/apis/{group}/{version}/{plural}")
                };
                ApiError::no_route(&path)
            })
    }

    /// New changes, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.changes.subscribe()
    }

    fn key(rt: &ResourceType, namespace: Option<&str>, name: &str) -> Key {
        (
            rt.group.clone(),
            rt.plural.clone(),
            if rt.namespaced {
                namespace.unwrap_or("").to_owned()
            } else {
                String::new()
            },
            name.to_owned(),
        )
    }

    /// The object as served at `rt`'s version.
    fn served(rt: &ResourceType, object: &Value) -> Value {
        let mut o = object.clone();
        if let Some(obj) = o.as_object_mut() {
            obj.insert("apiVersion".into(), rt.api_version().into());
            obj.insert("kind".into(), rt.kind.clone().into());
        }
        o
    }

    /// One object.
    pub fn get(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        self.lock()
            .objects
            .get(&Self::key(rt, namespace, name))
            .map(|o| Self::served(rt, o))
            .ok_or_else(|| ApiError::not_found(rt, name))
    }

    /// A page of objects and the list's `resourceVersion`; the continue token is the last
    /// name returned when more remain.
    pub fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> (Vec<Value>, u64, Option<String>) {
        let state = self.lock();
        let mut items = Vec::new();
        let mut last = None;
        let mut more = None;
        let after = options.continue_after.as_deref();
        for ((group, plural, ns, name), object) in &state.objects {
            if *group != rt.group || *plural != rt.plural || namespace.is_some_and(|w| w != ns) {
                continue;
            }
            let position = format!("{ns}/{name}");
            if after.is_some_and(|a| position.as_str() <= a)
                || !options.labels.matches(object)
                || !options.fields.matches(object)
            {
                continue;
            }
            if options.limit > 0 && items.len() == options.limit {
                more = last;
                break;
            }
            items.push(Self::served(rt, object));
            last = Some(position);
        }
        (items, state.rv, more)
    }

    /// Current objects of `rt` matching the filters, with the `resourceVersion` they are at,
    /// for a watch that starts with them; and a subscription taken at that same point.
    pub fn snapshot(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        filter: &dyn Fn(&Value) -> bool,
    ) -> (Vec<Value>, u64, broadcast::Receiver<Arc<Change>>) {
        let state = self.lock();
        let items = state
            .objects
            .iter()
            .filter(|((g, p, ns, _), o)| {
                *g == rt.group && *p == rt.plural && namespace.is_none_or(|w| w == ns) && filter(o)
            })
            .map(|(_, o)| Self::served(rt, o))
            .collect();
        (items, state.rv, self.changes.subscribe())
    }

    /// Changes after `since` and a subscription for the ones to come, or 410 when `since` is
    /// older than the history kept.
    pub fn changes_since(&self, since: u64) -> Result<Replay, ApiError> {
        let state = self.lock();
        if since < state.compacted {
            return Err(ApiError::expired(since, state.compacted));
        }
        let replay = state
            .history
            .iter()
            .filter(|c| c.rv > since)
            .cloned()
            .collect();
        Ok((replay, self.changes.subscribe()))
    }

    fn commit(
        &self,
        state: &mut State,
        rt: &ResourceType,
        key: Key,
        old: Option<Value>,
        new: Option<Value>,
    ) -> Option<Value> {
        state.rv += 1;
        let rv = state.rv;
        let (kind, object) = match (&old, new) {
            (_, Some(mut new)) => {
                set_meta(&mut new, "resourceVersion", rv.to_string());
                let kind = if old.is_some() {
                    ChangeKind::Modified
                } else {
                    ChangeKind::Added
                };
                (kind, new)
            }
            (Some(gone), None) => {
                let mut gone = gone.clone();
                set_meta(&mut gone, "resourceVersion", rv.to_string());
                (ChangeKind::Deleted, gone)
            }
            (None, None) => return None,
        };
        let change = Arc::new(Change {
            rv,
            resource: (key.0.clone(), key.1.clone()),
            namespace: key.2.clone(),
            kind,
            object: Self::served(rt, &object),
            old: old
                .filter(|_| kind == ChangeKind::Modified)
                .map(|o| Self::served(rt, &o)),
        });
        if kind == ChangeKind::Deleted {
            state.objects.remove(&key);
        } else {
            state.objects.insert(key, object.clone());
        }
        state.history.push_back(change.clone());
        while state.history.len() > self.limits.history {
            if let Some(dropped) = state.history.pop_front() {
                state.compacted = dropped.rv;
            }
        }
        // No receivers is normal; a full channel drops the oldest for lagging watchers, which
        // then end their watch as the real API server ends a slow one.
        let _ = self.changes.send(change);
        (kind != ChangeKind::Deleted).then(|| Self::served(rt, &object))
    }

    /// Create (`POST`).
    pub fn create(
        &self,
        rt: &Arc<ResourceType>,
        namespace: Option<&str>,
        object: Value,
        options: &WriteOptions,
    ) -> Result<Written, ApiError> {
        check_kind(rt, &object)?;
        let mut state = self.lock();
        self.insert(&mut state, rt, namespace, object, options, None)
    }

    /// Stores a new object. Ownership is recorded as the creator's Update entry, or taken from
    /// `apply_fields` when server-side apply created it.
    fn insert(
        &self,
        state: &mut State,
        rt: &Arc<ResourceType>,
        namespace: Option<&str>,
        mut object: Value,
        options: &WriteOptions,
        apply_fields: Option<Value>,
    ) -> Result<Written, ApiError> {
        let namespace = resolve_namespace(rt, namespace, &object)?;
        if let Some(ns) = &namespace {
            namespace_accepts_writes(state, ns)?;
        }
        let mut name = str_at(&object, "/metadata/name").unwrap_or("").to_owned();
        if name.is_empty() {
            let Some(prefix) = str_at(&object, "/metadata/generateName").map(str::to_owned) else {
                return Err(ApiError::invalid(
                    rt,
                    "",
                    &[Cause {
                        reason: "FieldValueRequired",
                        field: "metadata.name".into(),
                        message: "Required value: name or generateName is required".into(),
                    }],
                ));
            };
            let suffix: String = uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .chars()
                .take(5)
                .collect();
            name = format!("{prefix}{suffix}");
        }
        set_meta(&mut object, "name", name.clone());
        if let Some(ns) = &namespace {
            set_meta(&mut object, "namespace", ns.clone());
        }
        set_meta(&mut object, "uid", uuid::Uuid::new_v4().to_string());
        set_meta(&mut object, "creationTimestamp", now());
        for key in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
            "managedFields",
            "generation",
        ] {
            remove_meta(&mut object, key);
        }
        if rt.generation {
            set_meta(&mut object, "generation", 1);
        }
        if rt.status_subresource
            && rt.kind != "Namespace"
            && let Some(obj) = object.as_object_mut()
        {
            obj.remove("status");
        }
        let key = Self::key(rt, namespace.as_deref(), &name);
        if state.objects.contains_key(&key) {
            return Err(ApiError::already_exists(rt, &name));
        }
        let mut warnings = Vec::new();
        Self::admit(state, rt, &name, &mut object, options, &mut warnings)?;
        match apply_fields {
            Some(fields) => set_meta(&mut object, "managedFields", fields),
            None => {
                object =
                    apply::record_update(None, &object, manager(options), None, &rt.types, &now());
            }
        }
        if options.dry_run {
            return Ok(Written {
                object: Self::served(rt, &object),
                warnings,
                created: true,
            });
        }
        let stored = self
            .commit(state, rt, key, None, Some(object))
            .unwrap_or_default();
        self.after_write(state, rt, &stored)?;
        Ok(Written {
            object: stored,
            warnings,
            created: true,
        })
    }

    /// Replace (`PUT`), of the object or its `status` subresource.
    pub fn update(
        &self,
        rt: &Arc<ResourceType>,
        namespace: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        object: Value,
        options: &WriteOptions,
    ) -> Result<Written, ApiError> {
        check_kind(rt, &object)?;
        check_subresource(rt, subresource)?;
        if str_at(&object, "/metadata/name").is_some_and(|n| n != name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                str_at(&object, "/metadata/name").unwrap_or("")
            )));
        }
        let mut state = self.lock();
        let key = Self::key(rt, namespace, name);
        let old = state
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, name))?;
        self.write_back(&mut state, rt, key, old, object, subresource, options)
    }

    /// Patch, of the object or its `status` subresource; an apply patch creates the object
    /// when it does not exist.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        rt: &Arc<ResourceType>,
        namespace: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        patch_type: PatchType,
        body: &Value,
        options: &WriteOptions,
    ) -> Result<Written, ApiError> {
        check_subresource(rt, subresource)?;
        let mut state = self.lock();
        let key = Self::key(rt, namespace, name);
        let old = state.objects.get(&key).cloned();
        if patch_type == PatchType::Apply {
            let Some(manager) = options.manager.as_deref() else {
                return Err(ApiError::bad_request(
                    "PATCH, application/apply-patch+yaml: fieldManager is required for apply requests",
                ));
            };
            check_kind(rt, body)?;
            // A subresource is never created: the store answers 404 before the patch is looked
            // at.
            if subresource.is_some() && old.is_none() {
                return Err(ApiError::not_found(rt, name));
            }
            // Typing the configuration comes first, on create and on update alike (the
            // apiserver's `applyPatcher.createNewObject` applies to an empty object).
            let errors = apply::validate(&rt.types, body);
            if !errors.is_empty() {
                return Err(ApiError::typed_patch_object(rt, body, &errors));
            }
            if str_at(body, "/metadata/name").is_some_and(|n| n != name) {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    str_at(body, "/metadata/name").unwrap_or("")
                )));
            }
            let Some(old) = old else {
                let mut config = body.clone();
                set_meta(&mut config, "name", name);
                let created = apply::apply(
                    None,
                    &config,
                    manager,
                    options.force,
                    None,
                    &rt.types,
                    &now(),
                )
                .map_err(|conflicts| conflict_error(rt, name, &conflicts))?
                .object;
                let fields = created["metadata"]["managedFields"].clone();
                return self.insert(&mut state, rt, namespace, created, options, Some(fields));
            };
            let config = scope_to_subresource(rt, body, subresource);
            let live = scope_to_subresource(rt, &old, subresource);
            let applied = apply::apply(
                Some(&live),
                &config,
                manager,
                options.force,
                subresource,
                &rt.types,
                &now(),
            )
            .map_err(|conflicts| conflict_error(rt, name, &conflicts))?
            .object;
            let mut new = merge_write(rt, &old, applied.clone(), subresource);
            set_meta(
                &mut new,
                "managedFields",
                applied["metadata"]["managedFields"].clone(),
            );
            return self.finish(&mut state, rt, key, old, new, subresource, options);
        }
        let old = old.ok_or_else(|| ApiError::not_found(rt, name))?;
        let mut patched = Self::served(rt, &old);
        match patch_type {
            PatchType::Json => {
                let ops: json_patch::Patch = serde_json::from_value(body.clone())
                    .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
                json_patch_like_kubernetes(&mut patched, &ops)?;
            }
            PatchType::Merge | PatchType::Strategic => json_patch::merge(&mut patched, body),
            PatchType::Apply => {}
        }
        self.write_back(&mut state, rt, key, old, patched, subresource, options)
    }

    /// A replacement or a non-apply patch: `resourceVersion` precondition, the subresource's
    /// share of the new object, ownership of what changed, then the shared end.
    #[allow(clippy::too_many_arguments)]
    fn write_back(
        &self,
        state: &mut State,
        rt: &Arc<ResourceType>,
        key: Key,
        old: Value,
        object: Value,
        subresource: Option<&str>,
        options: &WriteOptions,
    ) -> Result<Written, ApiError> {
        if let Some(rv) = str_at(&object, "/metadata/resourceVersion")
            && Some(rv) != str_at(&old, "/metadata/resourceVersion")
        {
            return Err(ApiError::stale(rt, &key.3));
        }
        let new = merge_write(rt, &old, object, subresource);
        let new = apply::record_update(
            Some(&old),
            &new,
            manager(options),
            subresource,
            &rt.types,
            &now(),
        );
        self.finish(state, rt, key, old, new, subresource, options)
    }

    /// Shared end of update and patch: generation, finalizer rules, validation, no-op
    /// detection, commit, and removal once the last finalizer of a deleted object goes.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        state: &mut State,
        rt: &Arc<ResourceType>,
        key: Key,
        old: Value,
        mut new: Value,
        subresource: Option<&str>,
        options: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let name = key.3.clone();
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "namespace",
            "name",
            "generation",
            "resourceVersion",
        ] {
            match old["metadata"].get(field) {
                Some(v) => set_meta(&mut new, field, v.clone()),
                None => remove_meta(&mut new, field),
            }
        }
        if rt.generation && subresource.is_none() && spec_part(&old) != spec_part(&new) {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            set_meta(&mut new, "generation", generation);
        }
        let deleting = old["metadata"].get("deletionTimestamp").is_some();
        if deleting && !finalizers(&new).is_subset(&finalizers(&old)) {
            return Err(ApiError::invalid(
                rt,
                &name,
                &[Cause {
                    reason: "FieldValueForbidden",
                    field: "metadata.finalizers".into(),
                    message:
                        "Forbidden: no new finalizers can be added if the object is being deleted"
                            .into(),
                }],
            ));
        }
        let mut warnings = Vec::new();
        Self::admit(state, rt, &name, &mut new, options, &mut warnings)?;
        let served = Self::served(rt, &old);
        if without_resource_version(&Self::served(rt, &new)) == without_resource_version(&served) {
            return Ok(Written {
                object: served,
                warnings,
                created: false,
            });
        }
        if options.dry_run {
            return Ok(Written {
                object: Self::served(rt, &new),
                warnings,
                created: false,
            });
        }
        if deleting && finalizers(&new).is_empty() {
            self.commit(state, rt, key, Some(new.clone()), None);
            self.collector.notify_one();
            return Ok(Written {
                object: Self::served(rt, &new),
                warnings,
                created: false,
            });
        }
        let stored = self
            .commit(state, rt, key, Some(old), Some(new))
            .unwrap_or_default();
        self.after_write(state, rt, &stored)?;
        Ok(Written {
            object: stored,
            warnings,
            created: false,
        })
    }

    /// Type-specific admission: Secret `stringData`, CRD registration checks, schema
    /// validation of custom resources.
    fn admit(
        state: &State,
        rt: &ResourceType,
        name: &str,
        object: &mut Value,
        options: &WriteOptions,
        warnings: &mut Vec<String>,
    ) -> Result<(), ApiError> {
        let name_ok = if rt.kind == "Namespace" {
            ferry_core::names::is_dns_label(name)
        } else {
            is_dns_subdomain(name)
        };
        if !name_ok {
            return Err(ApiError::invalid(
                rt,
                name,
                &[Cause {
                    reason: "FieldValueInvalid",
                    field: "metadata.name".into(),
                    message: format!(
                        "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
                    ),
                }],
            ));
        }
        match (rt.group.as_str(), rt.kind.as_str()) {
            ("", "Secret") => secret_string_data(object),
            ("", "Namespace") => {
                if let Some(obj) = object.as_object_mut() {
                    obj.entry("spec")
                        .or_insert_with(|| json!({"finalizers": ["kubernetes"]}));
                    let terminating = obj
                        .get("metadata")
                        .and_then(|m| m.get("deletionTimestamp"))
                        .is_some();
                    obj.insert(
                        "status".into(),
                        json!({"phase": if terminating { "Terminating" } else { "Active" }}),
                    );
                }
            }
            ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                admit_crd(state, rt, name, object)?;
            }
            _ => {}
        }
        let Some(schema) = &rt.schema else {
            return Ok(());
        };
        let pruned = schema.prune(object);
        if options.strict && !pruned.is_empty() {
            let fields: Vec<String> = pruned
                .iter()
                .map(|p| format!("unknown field \"{p}\""))
                .collect();
            return Err(ApiError::bad_request(format!(
                "strict decoding error: {}",
                fields.join(", ")
            )));
        }
        warnings.extend(pruned.iter().map(|p| format!("unknown field \"{p}\"")));
        *object = schema.with_defaults(object);
        // The schema's checker words duplicates its own way; the apiserver finds them after the
        // schema's validation and prints them as Go does.
        let mut causes: Vec<Cause> = schema
            .check(object)
            .into_iter()
            .filter(|v| !v.message.starts_with("Duplicate value"))
            .map(|v| Cause {
                reason: cause_reason(&v.message),
                field: v.field,
                message: v.message,
            })
            .collect();
        causes.extend(list_type_duplicates(&rt.types, object));
        if causes.is_empty() {
            return Ok(());
        }
        Err(ApiError::invalid(rt, name, &causes))
    }

    /// What follows a stored write: serving a new CRD's resources.
    fn after_write(
        &self,
        state: &mut State,
        rt: &ResourceType,
        stored: &Value,
    ) -> Result<(), ApiError> {
        if rt.kind != "CustomResourceDefinition" {
            return Ok(());
        }
        let crd: CustomResourceDefinition = serde_json::from_value(stored.clone())
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let name = crd.metadata.name.clone().unwrap_or_default();
        let types = registry::from_crd(&crd).map_err(|e| ApiError::bad_request(e.to_string()))?;
        state
            .types
            .retain(|t| t.crd.as_deref() != Some(name.as_str()));
        state.types.extend(types.into_iter().map(Arc::new));
        // Accepted and established at once, as a real server does within moments.
        let key = (rt.group.clone(), rt.plural.clone(), String::new(), name);
        if let Some(object) = state.objects.get(&key).cloned() {
            let mut established = object.clone();
            let conditions: Vec<Value> = ["NamesAccepted", "Established"]
                .iter()
                .map(|t| json!({"type": t, "status": "True", "reason": if *t == "Established" { "InitialNamesAccepted" } else { "NoConflicts" }, "message": "", "lastTransitionTime": now()}))
                .collect();
            if established["status"]["conditions"]
                .as_array()
                .is_none_or(|c| c.len() != 2)
            {
                if let Some(obj) = established.as_object_mut() {
                    obj.insert(
                        "status".into(),
                        json!({"conditions": conditions, "acceptedNames": crd.spec.names, "storedVersions": crd.spec.versions.iter().filter(|v| v.storage).map(|v| v.name.clone()).collect::<Vec<_>>()}),
                    );
                }
                self.commit(state, rt, key, Some(object), Some(established));
            }
        }
        Ok(())
    }

    /// Delete (`DELETE`): marks the object deleted while finalizers remain, removes it
    /// otherwise; dependents are collected in the background (or orphaned).
    pub fn delete(
        &self,
        rt: &Arc<ResourceType>,
        namespace: Option<&str>,
        name: &str,
        options: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let mut state = self.lock();
        let key = Self::key(rt, namespace, name);
        let old = state
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, name))?;
        if options
            .uid
            .as_deref()
            .is_some_and(|uid| Some(uid) != str_at(&old, "/metadata/uid"))
        {
            return Err(ApiError::conflict(
                rt,
                name,
                "Precondition failed: UID in precondition does not match the UID of the object",
            ));
        }
        if options
            .resource_version
            .as_deref()
            .is_some_and(|rv| Some(rv) != str_at(&old, "/metadata/resourceVersion"))
        {
            return Err(ApiError::conflict(
                rt,
                name,
                "Precondition failed: ResourceVersion in precondition does not match the ResourceVersion of the object",
            ));
        }
        if options.dry_run {
            return Ok(Self::served(rt, &old));
        }
        let uid = str_at(&old, "/metadata/uid").unwrap_or("").to_owned();
        if options.orphan {
            self.orphan_dependents(&mut state, &uid);
        }
        let keeps = !finalizers(&old).is_empty() || (rt.kind == "Namespace" && rt.group.is_empty());
        if keeps {
            if old["metadata"].get("deletionTimestamp").is_some() {
                return Ok(Self::served(rt, &old));
            }
            let mut marked = old.clone();
            set_meta(&mut marked, "deletionTimestamp", now());
            set_meta(&mut marked, "deletionGracePeriodSeconds", 0);
            if rt.kind == "Namespace" {
                marked["status"] = json!({"phase": "Terminating"});
            }
            let stored = self
                .commit(&mut state, rt, key, Some(old), Some(marked))
                .unwrap_or_default();
            self.collector.notify_one();
            return Ok(stored);
        }
        if rt.kind == "CustomResourceDefinition" {
            self.remove_crd_resources(&mut state, name);
        }
        self.commit(&mut state, rt, key, Some(old.clone()), None);
        self.collector.notify_one();
        Ok(Self::served(rt, &old))
    }

    fn remove_crd_resources(&self, state: &mut State, crd: &str) {
        let removed: Vec<Arc<ResourceType>> = state
            .types
            .iter()
            .filter(|t| t.crd.as_deref() == Some(crd))
            .cloned()
            .collect();
        state.types.retain(|t| t.crd.as_deref() != Some(crd));
        if let Some(rt) = removed.first() {
            let keys: Vec<Key> = state
                .objects
                .keys()
                .filter(|(g, p, _, _)| *g == rt.group && *p == rt.plural)
                .cloned()
                .collect();
            for key in keys {
                let old = state.objects.get(&key).cloned();
                self.commit(state, rt, key, old, None);
            }
        }
    }

    fn orphan_dependents(&self, state: &mut State, uid: &str) {
        let dependents: Vec<(Key, Value)> = state
            .objects
            .iter()
            .filter(|(_, o)| owner_uids(o).contains(uid))
            .map(|(k, o)| (k.clone(), o.clone()))
            .collect();
        for (key, old) in dependents {
            let Some(rt) = self.type_of(state, &key) else {
                continue;
            };
            let mut new = old.clone();
            retain_owners(&mut new, |owner| owner != uid);
            let new = apply::record_update(Some(&old), &new, MANAGER_GC, None, &rt.types, &now());
            self.commit(state, &rt, key, Some(old), Some(new));
        }
    }

    fn type_of(&self, state: &State, key: &Key) -> Option<Arc<ResourceType>> {
        let _ = self;
        state
            .types
            .iter()
            .find(|t| t.group == key.0 && t.plural == key.1)
            .cloned()
    }

    /// One pass of the garbage collector and the namespace finalizer: dependents whose owners
    /// are all gone are deleted, references to gone owners are dropped, and terminating
    /// namespaces are emptied and then removed. Returns whether anything changed.
    pub fn collect_garbage(&self) -> bool {
        let mut state = self.lock();
        // Decided over borrowed objects first (this runs several times a second under the
        // store's lock: cloning every object with owners stalled every request at scale), then
        // applied to the few that change.
        let mut to_delete = Vec::new();
        let mut to_trim: Vec<(Key, BTreeSet<String>)> = Vec::new();
        {
            let uids: std::collections::HashSet<&str> = state
                .objects
                .values()
                .filter_map(|o| str_at(o, "/metadata/uid"))
                .collect();
            for (key, object) in &state.objects {
                let owners = owner_uids(object);
                if owners.is_empty() {
                    continue;
                }
                let alive: BTreeSet<String> = owners
                    .iter()
                    .filter(|u| uids.contains(u.as_str()))
                    .cloned()
                    .collect();
                if alive.is_empty() {
                    to_delete.push(key.clone());
                } else if alive.len() < owners.len() {
                    to_trim.push((key.clone(), alive));
                }
            }
        }
        let mut changed = false;
        for (key, alive) in to_trim {
            let (Some(rt), Some(object)) =
                (self.type_of(&state, &key), state.objects.get(&key).cloned())
            else {
                continue;
            };
            let mut new = object.clone();
            retain_owners(&mut new, |owner| alive.contains(owner));
            let new =
                apply::record_update(Some(&object), &new, MANAGER_GC, None, &rt.types, &now());
            self.commit(&mut state, &rt, key, Some(object), Some(new));
            changed = true;
        }
        let terminating: Vec<String> = state
            .objects
            .iter()
            .filter(|((g, p, _, _), o)| {
                g.is_empty()
                    && p == "namespaces"
                    && o["metadata"].get("deletionTimestamp").is_some()
            })
            .map(|(k, _)| k.3.clone())
            .collect();
        for ns in &terminating {
            let contents: Vec<Key> = state
                .objects
                .keys()
                .filter(|k| k.2 == *ns)
                .cloned()
                .collect();
            if contents.is_empty() {
                if let Some(rt) = state
                    .types
                    .iter()
                    .find(|t| t.group.is_empty() && t.plural == "namespaces")
                    .cloned()
                {
                    let key = (
                        String::new(),
                        "namespaces".to_owned(),
                        String::new(),
                        ns.clone(),
                    );
                    let old = state.objects.get(&key).cloned();
                    self.commit(&mut state, &rt, key, old, None);
                    changed = true;
                }
            } else {
                to_delete.extend(contents);
            }
        }
        drop(state);
        for key in to_delete {
            let Some(rt) = self.type_of(&self.lock(), &key) else {
                continue;
            };
            let namespace = (!key.2.is_empty()).then_some(key.2.as_str());
            let already = self
                .lock()
                .objects
                .get(&key)
                .is_some_and(|o| o["metadata"].get("deletionTimestamp").is_some());
            if !already
                && self
                    .delete(&rt, namespace, &key.3, &DeleteOptions::default())
                    .is_ok()
            {
                changed = true;
            }
        }
        changed
    }
}

/// The list-type invariants the apiserver checks on every write of a custom resource (create,
/// update, merge or JSON patch; an apply is refused earlier, see
/// [`ApiError::typed_patch_object`]), as `ValidateListSetsAndMaps` in
/// `k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype/validation.go` does after the
/// schema's own validation: the first repeat of each set value or list-map key is a
/// `field.Duplicate` at its index, its value printed as Go prints it
/// (`Duplicate value: map[string]interface {}{"name":"app"}` for a list-map keyed by `name`).
/// `metadata` is the apiserver's, not the schema's, and is not walked.
fn list_type_duplicates(types: &apply::Types, object: &Value) -> Vec<Cause> {
    fn walk(
        types: &apply::Types,
        value: &Value,
        path: &mut Vec<String>,
        field: &str,
        out: &mut Vec<Cause>,
    ) {
        match value {
            Value::Object(fields) => {
                for (name, child) in fields {
                    if path.is_empty()
                        && matches!(name.as_str(), "metadata" | "apiVersion" | "kind")
                    {
                        continue;
                    }
                    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
                    let child_field = if types.is_map_entry(&segments, name) {
                        format!("{field}[{name}]")
                    } else if field.is_empty() {
                        name.clone()
                    } else {
                        format!("{field}.{name}")
                    };
                    path.push(name.clone());
                    walk(types, child, path, &child_field, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                let segments: Vec<&str> = path.iter().map(String::as_str).collect();
                let shown: Vec<Option<Value>> = match types.list_type(&segments) {
                    apply::ListType::Set => items.iter().cloned().map(Some).collect(),
                    apply::ListType::Map(keys) => {
                        // Not an object: a type error the schema reports; no keys to compare.
                        if items.iter().any(|i| !i.is_object() && !i.is_null()) {
                            Vec::new()
                        } else {
                            items
                                .iter()
                                .map(|item| {
                                    let key: serde_json::Map<String, Value> = keys
                                        .iter()
                                        .filter_map(|k| Some((k.clone(), item.get(k)?.clone())))
                                        .collect();
                                    Some(Value::Object(key))
                                })
                                .collect()
                        }
                    }
                    apply::ListType::Atomic => Vec::new(),
                };
                let mut seen: BTreeMap<String, usize> = BTreeMap::new();
                for (i, value) in shown.iter().enumerate() {
                    let Some(value) = value else { continue };
                    let times = seen.entry(value.to_string()).or_default();
                    *times += 1;
                    if *times == 2 {
                        out.push(Cause {
                            reason: "FieldValueDuplicate",
                            field: format!("{field}[{i}]"),
                            message: format!("Duplicate value: {}", go_error_value(value)),
                        });
                    }
                }
                path.push("[]".into());
                for (i, item) in items.iter().enumerate() {
                    walk(types, item, path, &format!("{field}[{i}]"), out);
                }
                path.pop();
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(types, object, &mut Vec::new(), "", &mut out);
    out
}

/// A `field.Error`'s bad value as `ErrorBody` prints it: `null`, strings quoted, numbers and
/// booleans bare, anything else in Go syntax (`%#v`).
fn go_error_value(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Object(_) | Value::Array(_) => go_syntax(value),
        scalar => scalar.to_string(),
    }
}

/// Go's `%#v` of a value decoded from JSON into `interface{}`. (Go quotes strings with `%q`,
/// which differs from JSON only for control characters.)
fn go_syntax(value: &Value) -> String {
    match value {
        Value::Null => "interface {}(nil)".to_owned(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(go_syntax).collect();
            format!("[]interface {{}}{{{}}}", items.join(", "))
        }
        Value::Object(fields) => {
            let sorted: BTreeMap<&String, &Value> = fields.iter().collect();
            let fields: Vec<String> = sorted
                .into_iter()
                .map(|(name, value)| format!("{}:{}", Value::from(name.as_str()), go_syntax(value)))
                .collect();
            format!("map[string]interface {{}}{{{}}}", fields.join(", "))
        }
        scalar => scalar.to_string(),
    }
}

/// Applies a JSON patch as the API server does, where a `test` for `null` passes on a path that
/// does not exist (kube-runtime's `finalizer()` relies on it to add the first finalizer).
fn json_patch_like_kubernetes(doc: &mut Value, ops: &json_patch::Patch) -> Result<(), ApiError> {
    for op in &ops.0 {
        if let json_patch::PatchOperation::Test(test) = op
            && test.value.is_null()
            && doc.pointer(test.path.as_str()).is_none()
        {
            continue;
        }
        json_patch::patch(doc, std::slice::from_ref(op)).map_err(|e| ApiError {
            code: 422,
            reason: "Invalid",
            message: e.to_string(),
            details: None,
        })?;
    }
    Ok(())
}

fn manager(options: &WriteOptions) -> &str {
    options.manager.as_deref().unwrap_or("unknown")
}

fn conflict_error(rt: &ResourceType, name: &str, conflicts: &[apply::Conflict]) -> ApiError {
    let pairs: Vec<(String, String)> = conflicts
        .iter()
        .map(|c| (c.manager.clone(), c.field.clone()))
        .collect();
    ApiError::apply_conflict(rt, name, &pairs)
}

fn owner_uids(object: &Value) -> BTreeSet<String> {
    object["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["uid"].as_str().map(str::to_owned))
        .collect()
}

fn retain_owners(object: &mut Value, keep: impl Fn(&str) -> bool) {
    let Some(m) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(Value::Array(refs)) = m.get_mut("ownerReferences") {
        refs.retain(|r| r["uid"].as_str().is_some_and(&keep));
        if refs.is_empty() {
            m.remove("ownerReferences");
        }
    }
}

fn check_kind(rt: &ResourceType, object: &Value) -> Result<(), ApiError> {
    if !object.is_object() || object.get("metadata").is_some_and(|m| !m.is_object()) {
        return Err(ApiError::bad_request(
            "the body must be an object with metadata an object",
        ));
    }
    let api_version = object.get("apiVersion").and_then(Value::as_str);
    let kind = object.get("kind").and_then(Value::as_str);
    if api_version.is_some_and(|v| v != rt.api_version()) || kind.is_some_and(|k| k != rt.kind) {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({}) does not match the expected API version ({}), or the kind ({}) the expected kind ({})",
            api_version.unwrap_or(""),
            rt.api_version(),
            kind.unwrap_or(""),
            rt.kind
        )));
    }
    Ok(())
}

fn check_subresource(rt: &ResourceType, subresource: Option<&str>) -> Result<(), ApiError> {
    match subresource {
        None => Ok(()),
        Some("status") if rt.status_subresource => Ok(()),
        Some(other) => Err(ApiError::no_route(&format!(
            "{}/{other}",
            rt.group_resource()
        ))),
    }
}

fn resolve_namespace(
    rt: &ResourceType,
    url: Option<&str>,
    object: &Value,
) -> Result<Option<String>, ApiError> {
    if !rt.namespaced {
        return Ok(None);
    }
    let body = str_at(object, "/metadata/namespace").filter(|ns| !ns.is_empty());
    match (url, body) {
        (Some(u), Some(b)) if u != b => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        (Some(u), _) => Ok(Some(u.to_owned())),
        (None, _) => Err(ApiError::no_route(&rt.group_resource())),
    }
}

fn namespace_accepts_writes(state: &State, ns: &str) -> Result<(), ApiError> {
    let key = (
        String::new(),
        "namespaces".to_owned(),
        String::new(),
        ns.to_owned(),
    );
    match state.objects.get(&key) {
        None => Err(ApiError::namespace_not_found(ns)),
        Some(n) if n["metadata"].get("deletionTimestamp").is_some() => {
            Err(ApiError::forbidden(format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            )))
        }
        Some(_) => Ok(()),
    }
}

/// A write through the main resource keeps the stored status (when status is a subresource);
/// a status write keeps everything but the status.
fn merge_write(rt: &ResourceType, old: &Value, mut new: Value, subresource: Option<&str>) -> Value {
    match subresource {
        Some(_) => {
            let mut merged = old.clone();
            if let Some(obj) = merged.as_object_mut() {
                match new.get("status") {
                    Some(status) => obj.insert("status".into(), status.clone()),
                    None => obj.remove("status"),
                };
            }
            merged
        }
        None if rt.status_subresource && rt.kind != "Namespace" => {
            if let Some(obj) = new.as_object_mut() {
                match old.get("status") {
                    Some(status) => obj.insert("status".into(), status.clone()),
                    None => obj.remove("status"),
                };
            }
            new
        }
        None => new,
    }
}

/// What server-side apply sees of an object for one subresource: for the main resource,
/// everything but a subresource status; for `/status`, only the status.
fn scope_to_subresource(rt: &ResourceType, object: &Value, subresource: Option<&str>) -> Value {
    let mut scoped = object.clone();
    if let Some(obj) = scoped.as_object_mut() {
        match subresource {
            Some(_) => obj
                .retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status")),
            None if rt.status_subresource && rt.kind != "Namespace" => {
                obj.remove("status");
            }
            None => {}
        }
    }
    scoped
}

/// The API server stores `stringData` as base64 `data`.
fn secret_string_data(object: &mut Value) {
    use base64::Engine as _;
    let Some(obj) = object.as_object_mut() else {
        return;
    };
    let Some(Value::Object(string_data)) = obj.remove("stringData") else {
        return;
    };
    let data = obj.entry("data").or_insert_with(|| json!({}));
    if let Some(data) = data.as_object_mut() {
        for (k, v) in string_data {
            let text = v.as_str().unwrap_or_default();
            data.insert(
                k,
                base64::engine::general_purpose::STANDARD
                    .encode(text)
                    .into(),
            );
        }
    }
}

/// A CRD the API server would refuse (bad schema, CEL that does not compile, names that clash).
fn admit_crd(state: &State, rt: &ResourceType, name: &str, object: &Value) -> Result<(), ApiError> {
    let crd: CustomResourceDefinition = serde_json::from_value(object.clone())
        .map_err(|e| ApiError::bad_request(format!("not a CustomResourceDefinition: {e}")))?;
    let expected = format!("{}.{}", crd.spec.names.plural, crd.spec.group);
    if name != expected {
        return Err(ApiError::invalid(
            rt,
            name,
            &[Cause {
                reason: "FieldValueInvalid",
                field: "metadata.name".into(),
                message: format!(
                    "Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"
                ),
            }],
        ));
    }
    let taken = state.types.iter().any(|t| {
        t.group == crd.spec.group
            && t.plural == crd.spec.names.plural
            && t.crd.as_deref() != Some(name)
    });
    if taken {
        return Err(ApiError::invalid(
            rt,
            name,
            &[Cause {
                reason: "FieldValueInvalid",
                field: "spec.names.plural".into(),
                message: "Invalid value: the resource is already served".into(),
            }],
        ));
    }
    registry::from_crd(&crd).map(|_| ()).map_err(|e| {
        ApiError::invalid(
            rt,
            name,
            &[Cause {
                reason: "FieldValueInvalid",
                field: "spec.versions".into(),
                message: e.to_string(),
            }],
        )
    })
}
