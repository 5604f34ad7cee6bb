//! HTTP: the Kubernetes REST paths, verbs, query parameters and content types, over plain
//! HTTP/1.1 (no TLS, no authentication), answering with JSON objects, lists, watch streams,
//! discovery documents and `Status` errors; the faults a test injects (see [`crate::faults`]),
//! and the endpoint that injects them, `/standin/faults`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::faults::{Fault, Faults, RequestInfo, WatchAction};
use crate::registry::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{DeleteOptions, ListOptions, PatchType, Store, WriteOptions, Written};
use crate::watch::{self, Chunk, WatchRequest};

/// The response body type: whole JSON documents, or a watch stream.
pub type Body = UnsyncBoxBody<Bytes, BodyError>;

/// Why a response body ends early: only a watch whose connection a test drops.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// Where the fault endpoint is served.
pub const FAULTS_PATH: &str = "/standin/faults";

/// Shared by every connection.
pub struct Server {
    /// The objects.
    pub store: Arc<Store>,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
    /// Where each request's authorization attributes are recorded, if anywhere.
    pub audit: Option<crate::audit::Log>,
    /// The faults injected into requests.
    pub faults: Faults,
}

type Query = BTreeMap<String, String>;

/// A path, resolved.
enum Route {
    Version,
    CoreVersions,
    Groups,
    Group(String),
    Resources(String, String),
    OpenApiRoot,
    OpenApiGroupVersion(String, String),
    Collection {
        rt: Arc<ResourceType>,
        namespace: Option<String>,
    },
    Object {
        rt: Arc<ResourceType>,
        namespace: Option<String>,
        name: String,
        subresource: Option<String>,
    },
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed_unsync()
}

fn json_response(code: StatusCode, value: &Value, warnings: &[String]) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(full(body));
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    for w in warnings {
        let text = format!("299 - \"{}\"", w.replace('"', "\\\""));
        if let Ok(value) = header::HeaderValue::from_str(&text) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

fn error_response(e: &ApiError) -> Response<Body> {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(code, &e.to_status(), &[]);
    // As `responsewriters.ErrorNegotiated` does for any `Status` asking for a wait.
    if let Some(seconds) = e.retry_after_seconds() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
    }
    response
}

/// API Priority and Fairness's rejection: Go's `http.Error` writes the text with a newline,
/// `text/plain; charset=utf-8` and `nosniff`, after the filter set `Retry-After`.
fn too_many_requests(retry_after_seconds: u32) -> Response<Body> {
    let mut response = Response::new(full(crate::faults::TOO_MANY_REQUESTS));
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(retry_after_seconds),
    );
    response
}

/// A watch answered with one `ERROR` event and its end, as the watch cache answers a watch it
/// cannot serve once the request is accepted (`newErrWatcher`): `200`, then the `Status`.
fn error_event_response(e: &ApiError) -> Response<Body> {
    let mut response = Response::new(full(watch::line("ERROR", &e.to_status())));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

impl Server {
    /// Answers one request.
    pub async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Result<Response<Body>, Infallible> {
        let (parts, body) = request.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => return Ok(error_response(&ApiError::bad_request(e.to_string()))),
        };
        let (arrived, started) = (std::time::SystemTime::now(), std::time::Instant::now());
        let query: Query = parts
            .uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let header_value = |name| {
            parts
                .headers
                .get(name)
                .and_then(|v: &header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        if let Some(rest) = parts.uri.path().strip_prefix(FAULTS_PATH)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            let (code, answer) = crate::faults::admin(&self.faults, &parts.method, rest, &body);
            let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Ok(json_response(code, &answer, &[]));
        }
        let watch = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
        let user = crate::audit::user(header_value(header::AUTHORIZATION).as_deref());
        let attributes = crate::audit::with_selected_name(
            crate::audit::attributes(user, &parts.method, parts.uri.path(), watch),
            query.get("fieldSelector").map(String::as_str),
        );
        let request_info = RequestInfo {
            attributes,
            user_agent: header_value(header::USER_AGENT).unwrap_or_default(),
            resume_from: resume_from(&query),
        };
        let content_type =
            header_value(header::CONTENT_TYPE).unwrap_or_else(|| "application/json".into());
        // kube-runtime's metadata watchers ask for PartialObjectMetadata this way.
        let partial =
            header_value(header::ACCEPT).is_some_and(|a| a.contains("as=PartialObjectMetadata"));
        // Faults come first, as API Priority and Fairness and storage errors come before the
        // request is carried out: a faulted request changes nothing.
        let fault = self.faults.choose(&request_info, std::time::Instant::now());
        let armed = match &fault {
            Some(Fault::DropWatch) => Some(WatchAction::Drop),
            _ => None,
        };
        let status = fault.as_ref().and_then(|f| f.status(&request_info));
        let response = match (status, fault) {
            (Some(e), _) => error_response(&e),
            (
                None,
                Some(Fault::TooManyRequests {
                    retry_after_seconds,
                }),
            ) => too_many_requests(retry_after_seconds),
            (None, Some(Fault::ExpireWatch)) => {
                // As if the history began after the store's current version.
                let requested = request_info.resume_from.unwrap_or_default();
                let current = self.store.resource_version().max(requested + 1);
                error_event_response(&ApiError::expired(requested, current))
            }
            // Protobuf is the one encoding real clients may send that this server does not
            // speak; say so as the real server says it of an encoding it lacks.
            (None, _) => if content_type.starts_with("application/vnd.kubernetes.protobuf") {
                Err(ApiError::unsupported_media_type(&content_type))
            } else {
                Ok(())
            }
            .and_then(|()| {
                self.respond(
                    &Asked {
                        method: &parts.method,
                        path: parts.uri.path(),
                        query: &query,
                        content_type: &content_type,
                        body: &body,
                        partial,
                    },
                    &request_info,
                    armed,
                )
            })
            .unwrap_or_else(|e| error_response(&e)),
        };
        if let Some(log) = &self.audit {
            let attributes = request_info.attributes;
            let code = response.status().as_u16();
            // A PUT or an apply PATCH that creates the object is also authorized as a create
            // by the real API server (its create-on-update check).
            let created = (code == 201 && matches!(attributes.verb.as_str(), "update" | "patch"))
                .then(|| crate::audit::Attributes {
                    verb: "create".into(),
                    ..attributes.clone()
                });
            let at_us = crate::audit::micros_since_epoch(arrived);
            let took_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            log.write(&crate::audit::Record {
                attributes,
                code,
                implied: false,
                at_us,
                took_us,
            });
            if let Some(attributes) = created {
                log.write(&crate::audit::Record {
                    attributes,
                    code,
                    implied: true,
                    at_us,
                    took_us,
                });
            }
        }
        Ok(response)
    }

    fn respond(
        &self,
        asked: &Asked<'_>,
        request_info: &RequestInfo,
        armed: Option<WatchAction>,
    ) -> Result<Response<Body>, ApiError> {
        let Asked {
            method,
            path,
            query,
            content_type,
            body,
            partial,
        } = *asked;
        let ok = |v: &Value| Ok(json_response(StatusCode::OK, v, &[]));
        match (self.route(path)?, method.clone()) {
            (Route::Version, Method::GET) => ok(&json!({
                "major": "1", "minor": "33", "gitVersion": "v1.33.0-kube-standin",
                "gitCommit": "", "gitTreeState": "clean", "buildDate": "",
                "goVersion": "", "compiler": "rustc", "platform": "linux/amd64",
            })),
            (Route::CoreVersions, Method::GET) => ok(&json!({
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
            })),
            (Route::Groups, Method::GET) => ok(&self.group_list()),
            (Route::Group(group), Method::GET) => self.group_list()["groups"]
                .as_array()
                .and_then(|groups| groups.iter().find(|g| g["name"] == group.as_str()))
                .map(|g| {
                    let mut g = g.clone();
                    g["kind"] = json!("APIGroup");
                    g["apiVersion"] = json!("v1");
                    g
                })
                .map_or_else(|| Err(ApiError::no_route(path)), |g| ok(&g)),
            (Route::Resources(group, version), Method::GET) => {
                ok(&self.resource_list(&group, &version))
            }
            (Route::OpenApiRoot, Method::GET) => ok(&self.openapi_root()),
            (Route::OpenApiGroupVersion(group, version), Method::GET) => {
                ok(&self.openapi_group_version(&group, &version))
            }
            (Route::Collection { rt, namespace }, Method::GET) => {
                if matches!(query.get("watch").map(String::as_str), Some("true" | "1")) {
                    let guard = self.faults.watch_opened(request_info.clone(), armed);
                    self.watch(rt, namespace, query, partial, guard)
                } else {
                    ok(&self.list(&rt, namespace.as_deref(), query, partial)?)
                }
            }
            (Route::Collection { rt, namespace }, Method::POST) => {
                let object = parse_json(body)?;
                let written =
                    self.store
                        .create(&rt, namespace.as_deref(), object, &write_options(query))?;
                Ok(written_response(&written))
            }
            (Route::Collection { rt, namespace }, Method::DELETE) => {
                let (items, _, _) =
                    self.store
                        .list(&rt, namespace.as_deref(), &list_options(query)?);
                let options = delete_options(query, body)?;
                let mut deleted = Vec::new();
                for item in items {
                    let name = item["metadata"]["name"].as_str().unwrap_or_default();
                    let ns = item["metadata"]["namespace"].as_str();
                    deleted.push(self.store.delete(&rt, ns, name, &options)?);
                }
                ok(
                    &json!({"apiVersion": rt.api_version(), "kind": format!("{}List", rt.kind), "metadata": {}, "items": deleted}),
                )
            }
            (
                Route::Object {
                    rt,
                    namespace,
                    name,
                    subresource,
                },
                Method::GET,
            ) => ok(&metadata_only(
                self.store.get(&rt, namespace.as_deref(), &name)?,
                partial,
            ))
            .and_then(|r| {
                if subresource.is_some_and(|s| s != "status") {
                    Err(ApiError::no_route(path))
                } else {
                    Ok(r)
                }
            }),
            (
                Route::Object {
                    rt,
                    namespace,
                    name,
                    subresource,
                },
                Method::PUT,
            ) => {
                let object = parse_json(body)?;
                let written = self.store.update(
                    &rt,
                    namespace.as_deref(),
                    &name,
                    subresource.as_deref(),
                    object,
                    &write_options(query),
                )?;
                Ok(written_response(&written))
            }
            (
                Route::Object {
                    rt,
                    namespace,
                    name,
                    subresource,
                },
                Method::PATCH,
            ) => {
                let patch_type = match content_type.split(';').next().unwrap_or("").trim() {
                    "application/json-patch+json" => PatchType::Json,
                    "application/merge-patch+json" => PatchType::Merge,
                    "application/strategic-merge-patch+json" => PatchType::Strategic,
                    "application/apply-patch+yaml" | "application/apply-patch+yml" => {
                        PatchType::Apply
                    }
                    other => return Err(ApiError::unsupported_media_type(other)),
                };
                let patch_body = if patch_type == PatchType::Apply {
                    parse_yaml(body)?
                } else {
                    parse_json(body)?
                };
                let written = self.store.patch(
                    &rt,
                    namespace.as_deref(),
                    &name,
                    subresource.as_deref(),
                    patch_type,
                    &patch_body,
                    &write_options(query),
                )?;
                Ok(written_response(&written))
            }
            (
                Route::Object {
                    rt,
                    namespace,
                    name,
                    subresource: None,
                },
                Method::DELETE,
            ) => {
                let options = delete_options(query, body)?;
                ok(&self
                    .store
                    .delete(&rt, namespace.as_deref(), &name, &options)?)
            }
            (_, method) => Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({method} {path})"
            ))),
        }
    }

    fn route(&self, path: &str) -> Result<Route, ApiError> {
        let segments: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let resource = |group: &str, version: &str, rest: &[&str]| -> Result<Route, ApiError> {
            let lookup = |plural: &str| self.store.resource(group, version, plural);
            let object = |rt: Arc<ResourceType>,
                          namespace: Option<String>,
                          name: &str,
                          sub: Option<&str>| Route::Object {
                rt,
                namespace,
                name: name.to_owned(),
                subresource: sub.map(str::to_owned),
            };
            match rest {
                // The core group's own `namespaces` resource and its subresources.
                ["namespaces", name] if group.is_empty() => {
                    Ok(object(lookup("namespaces")?, None, name, None))
                }
                ["namespaces", name, sub @ ("status" | "finalize")] if group.is_empty() => {
                    Ok(object(lookup("namespaces")?, None, name, Some(sub)))
                }
                ["namespaces", ns, plural, tail @ ..] => {
                    let rt = lookup(plural)?;
                    if !rt.namespaced {
                        return Err(ApiError::no_route(path));
                    }
                    let namespace = Some((*ns).to_owned());
                    match tail {
                        [] => Ok(Route::Collection { rt, namespace }),
                        [name] => Ok(object(rt, namespace, name, None)),
                        [name, sub] => Ok(object(rt, namespace, name, Some(sub))),
                        _ => Err(ApiError::no_route(path)),
                    }
                }
                [plural, tail @ ..] => {
                    let rt = lookup(plural)?;
                    match tail {
                        [] => Ok(Route::Collection {
                            rt,
                            namespace: None,
                        }),
                        [name] if !rt.namespaced => Ok(object(rt, None, name, None)),
                        [name, sub] if !rt.namespaced => Ok(object(rt, None, name, Some(sub))),
                        _ => Err(ApiError::no_route(path)),
                    }
                }
                [] => Ok(Route::Resources(group.to_owned(), version.to_owned())),
            }
        };
        match segments.as_slice() {
            ["version"] => Ok(Route::Version),
            ["api"] => Ok(Route::CoreVersions),
            ["api", "v1", rest @ ..] => resource("", "v1", rest),
            ["apis"] => Ok(Route::Groups),
            ["apis", group] => Ok(Route::Group((*group).to_owned())),
            ["apis", group, version, rest @ ..] => resource(group, version, rest),
            ["openapi", "v3"] => Ok(Route::OpenApiRoot),
            ["openapi", "v3", "api", "v1"] => {
                Ok(Route::OpenApiGroupVersion(String::new(), "v1".into()))
            }
            ["openapi", "v3", "apis", group, version] => Ok(Route::OpenApiGroupVersion(
                (*group).to_owned(),
                (*version).to_owned(),
            )),
            _ => Err(ApiError::no_route(path)),
        }
    }

    fn group_list(&self) -> Value {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in self.store.types() {
            if t.group.is_empty() {
                continue;
            }
            let versions = groups.entry(t.group.clone()).or_default();
            if !versions.contains(&t.version) {
                versions.push(t.version.clone());
            }
        }
        let groups: Vec<Value> = groups
            .into_iter()
            .map(|(name, versions)| {
                let versions: Vec<Value> = versions
                    .iter()
                    .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
                    .collect();
                json!({"name": name, "versions": versions, "preferredVersion": versions[0]})
            })
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    /// OpenAPI v3 discovery: one document per served group/version. kubectl reads it to learn
    /// whether a kind's PATCH takes `fieldValidation` (server-side field validation); without
    /// it, `kubectl apply` refuses to validate at all.
    fn openapi_root(&self) -> Value {
        let mut paths = serde_json::Map::new();
        for t in self.store.types() {
            let prefix = if t.group.is_empty() {
                "api/v1".to_owned()
            } else {
                format!("apis/{}/{}", t.group, t.version)
            };
            let url = format!(
                "/openapi/v3/{prefix}?hash={}",
                self.store.resource_version()
            );
            paths.insert(prefix, json!({"serverRelativeURL": url}));
        }
        json!({"paths": paths})
    }

    /// One group/version's OpenAPI v3 document: each kind's object path with its PATCH and the
    /// query parameters this server honours. Schemas are left out (no client here needs them).
    fn openapi_group_version(&self, group: &str, version: &str) -> Value {
        let parameters: Vec<Value> = ["dryRun", "fieldManager", "fieldValidation", "force"]
            .iter()
            .map(|name| json!({"name": name, "in": "query", "schema": {"type": "string"}, "uniqueItems": true}))
            .collect();
        let mut paths = serde_json::Map::new();
        for t in self
            .store
            .types()
            .iter()
            .filter(|t| t.group == group && t.version == version)
        {
            let base = if group.is_empty() {
                "/api/v1".to_owned()
            } else {
                format!("/apis/{group}/{version}")
            };
            let path = if t.namespaced {
                format!("{base}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
            } else {
                format!("{base}/{}/{{name}}", t.plural)
            };
            paths.insert(
                path,
                json!({"patch": {
                    "operationId": format!("patch{}", t.kind),
                    "parameters": parameters,
                    "responses": {"200": {"description": "OK"}},
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": t.kind},
                }}),
            );
        }
        json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.33.0-kube-standin"},
            "paths": paths,
            "components": {"schemas": {}},
        })
    }

    fn resource_list(&self, group: &str, version: &str) -> Value {
        let verbs = [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ];
        let mut resources = Vec::new();
        for t in self
            .store
            .types()
            .iter()
            .filter(|t| t.group == group && t.version == version)
        {
            resources.push(json!({
                "name": t.plural, "singularName": t.singular, "namespaced": t.namespaced,
                "kind": t.kind, "verbs": verbs, "shortNames": t.short_names, "categories": t.categories,
            }));
            if t.status_subresource {
                resources.push(json!({
                    "name": format!("{}/status", t.plural), "singularName": "", "namespaced": t.namespaced,
                    "kind": t.kind, "verbs": ["get", "patch", "update"],
                }));
            }
        }
        let group_version = if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        };
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
    }

    fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        query: &Query,
        partial: bool,
    ) -> Result<Value, ApiError> {
        let (items, rv, more) = self.store.list(rt, namespace, &list_options(query)?);
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if let Some(token) = more {
            metadata["continue"] = json!(token);
        }
        let (api_version, kind) = if partial {
            (
                "meta.k8s.io/v1".to_owned(),
                "PartialObjectMetadataList".to_owned(),
            )
        } else {
            (rt.api_version(), format!("{}List", rt.kind))
        };
        let items: Vec<Value> = items
            .into_iter()
            .map(|i| metadata_only(i, partial))
            .collect();
        Ok(json!({"apiVersion": api_version, "kind": kind, "metadata": metadata, "items": items}))
    }

    fn watch(
        &self,
        rt: Arc<ResourceType>,
        namespace: Option<String>,
        query: &Query,
        partial: bool,
        guard: crate::faults::WatchGuard,
    ) -> Result<Response<Body>, ApiError> {
        let flag = |k: &str| matches!(query.get(k).map(String::as_str), Some("true" | "1"));
        let send_initial_events = flag("sendInitialEvents");
        if send_initial_events
            && query
                .get("resourceVersionMatch")
                .is_some_and(|m| m != "NotOlderThan")
        {
            return Err(ApiError::invalid(&rt, "", &[crate::error::Cause {
                reason: "FieldValueNotSupported",
                field: "resourceVersionMatch".into(),
                message: "Unsupported value: sendInitialEvents requires resourceVersionMatch=NotOlderThan".into(),
            }]));
        }
        let options = list_options(query)?;
        let request = WatchRequest {
            resource: rt,
            namespace,
            labels: options.labels,
            fields: options.fields,
            resource_version: query.get("resourceVersion").cloned(),
            send_initial_events,
            metadata_only: partial,
            bookmarks: flag("allowWatchBookmarks"),
            timeout: query
                .get("timeoutSeconds")
                .and_then(|t| t.parse().ok())
                .map(Duration::from_secs),
        };
        let events = match watch::start(&self.store, request, self.bookmark_interval, guard) {
            Ok(events) => events,
            // Too old a resourceVersion: the watch cache accepts the watch and sends the 410
            // as its one event.
            Err(e) if e.code == 410 => return Ok(error_event_response(&e)),
            Err(e) => return Err(e),
        };
        let stream = futures::stream::unfold(events, |mut rx| async move {
            match rx.recv().await? {
                Chunk::Data(bytes) => Some((Ok(Frame::data(bytes)), rx)),
                // An error from the body makes hyper close the connection without the last
                // chunk: the client sees the stream cut short.
                Chunk::Cut => Some((Err(BodyError::from("the watch was dropped")), rx)),
            }
        });
        let mut response = Response::new(StreamBody::new(stream).boxed_unsync());
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        response.headers_mut().insert(
            header::TRANSFER_ENCODING,
            header::HeaderValue::from_static("chunked"),
        );
        Ok(response)
    }
}

/// An object as `PartialObjectMetadata` when the client asked for metadata only.
pub fn metadata_only(object: Value, partial: bool) -> Value {
    if !partial {
        return object;
    }
    json!({
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// What a request asked, as [`Server::respond`] takes it.
#[derive(Clone, Copy)]
struct Asked<'a> {
    method: &'a Method,
    path: &'a str,
    query: &'a Query,
    content_type: &'a str,
    body: &'a [u8],
    partial: bool,
}

/// For a watch that resumes from a `resourceVersion` (not `0`, not a streaming list), that
/// version.
fn resume_from(query: &Query) -> Option<u64> {
    let flag = |k: &str| matches!(query.get(k).map(String::as_str), Some("true" | "1"));
    if !flag("watch") || flag("sendInitialEvents") {
        return None;
    }
    query
        .get("resourceVersion")
        .and_then(|rv| rv.parse().ok())
        .filter(|rv| *rv != 0)
}

fn written_response(written: &Written) -> Response<Body> {
    let code = if written.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    json_response(code, &written.object, &written.warnings)
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON in the request body: {e}")))
}

/// An apply body is YAML (JSON is YAML too).
fn parse_yaml(body: &[u8]) -> Result<Value, ApiError> {
    if let Ok(v) = serde_json::from_slice(body) {
        return Ok(v);
    }
    let text = std::str::from_utf8(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    serde_saphyr::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("invalid YAML in the request body: {e}")))
}

fn write_options(query: &Query) -> WriteOptions {
    WriteOptions {
        manager: query.get("fieldManager").cloned(),
        force: query.get("force").is_some_and(|f| f == "true"),
        dry_run: query.get("dryRun").is_some_and(|d| d == "All"),
        strict: query.get("fieldValidation").is_some_and(|v| v == "Strict"),
    }
}

fn list_options(query: &Query) -> Result<ListOptions, ApiError> {
    Ok(ListOptions {
        labels: LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str))
            .map_err(ApiError::bad_request)?,
        fields: FieldSelector::parse(query.get("fieldSelector").map_or("", String::as_str))
            .map_err(ApiError::bad_request)?,
        limit: query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(0),
        continue_after: query.get("continue").filter(|c| !c.is_empty()).cloned(),
    })
}

/// `DeleteOptions` from the body (kube-rs sends them there) or the query.
fn delete_options(query: &Query, body: &[u8]) -> Result<DeleteOptions, ApiError> {
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        parse_json(body)?
    };
    let policy = body["propagationPolicy"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| query.get("propagationPolicy").cloned());
    let dry_run = body["dryRun"]
        .as_array()
        .is_some_and(|d| d.iter().any(|v| v == "All"))
        || query.get("dryRun").is_some_and(|d| d == "All");
    Ok(DeleteOptions {
        orphan: policy.as_deref() == Some("Orphan") || body["orphanDependents"] == true,
        uid: body["preconditions"]["uid"].as_str().map(str::to_owned),
        resource_version: body["preconditions"]["resourceVersion"]
            .as_str()
            .map(str::to_owned),
        dry_run,
    })
}
