//! An audit log: one JSON line per request, with the attributes the real API server's
//! authorizer sees (user, verb, API group, resource, subresource, namespace, name), so a test
//! run can be checked against RBAC rules afterwards (see [`crate::rbac`]).
//!
//! The stand-in authenticates no one; the user is whatever bearer token the client sends (the
//! e2e suite gives the operator `system:serviceaccount:NAMESPACE:ferry`), or
//! `system:anonymous`.

use std::fs::File;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::sync::Mutex;

use http::Method;
use serde::{Deserialize, Serialize};

/// What an authorizer decides on: Kubernetes' request attributes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attributes {
    /// The user name.
    pub user: String,
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verb: String,
    /// Whether the path names a resource (otherwise discovery, `/version`, `/openapi`...).
    pub resource_request: bool,
    /// The API group; empty for the core group.
    #[serde(default)]
    pub api_group: String,
    /// The resource, e.g. `serverlessservices`.
    #[serde(default)]
    pub resource: String,
    /// The subresource, e.g. `status`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subresource: String,
    /// The namespace; empty for cluster-scoped requests and requests across namespaces.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The object's name; empty for collections.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The path, for non-resource requests and messages.
    pub path: String,
}

/// One audited request: its attributes and the status code answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Who asked for what.
    #[serde(flatten)]
    pub attributes: Attributes,
    /// The HTTP status code of the answer.
    pub code: u16,
    /// Whether this is the `create` the API server also authorizes when a PUT or an apply
    /// creates the object (the request itself has its own record).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub implied: bool,
    /// When the request's body had arrived, in microseconds since the Unix epoch: with
    /// `took_us`, where a request's time went (a benchmark splits a change's latency by it).
    #[serde(default)]
    pub at_us: u64,
    /// Microseconds from then until the answer was ready (for a watch, until it started):
    /// waiting for the store's lock included.
    #[serde(default)]
    pub took_us: u64,
}

/// Microseconds since the Unix epoch.
pub fn micros_since_epoch(at: std::time::SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The user a request's `Authorization` header names.
pub fn user(authorization: Option<&str>) -> String {
    authorization
        .and_then(|a| a.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map_or_else(|| "system:anonymous".to_owned(), str::to_owned)
}

/// The authorizer's attributes of a request, as the API server's request-info parser derives
/// them from the method, the path and the query.
pub fn attributes(user: String, method: &Method, path: &str, watch: bool) -> Attributes {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest = match segments.as_slice() {
        ["api", "v1", rest @ ..] => Some(("", rest)),
        ["apis", group, _version, rest @ ..] => Some((*group, rest)),
        _ => None,
    };
    let non_resource = |verb: &str| Attributes {
        user: user.clone(),
        verb: verb.to_owned(),
        path: path.to_owned(),
        ..Attributes::default()
    };
    let lower = method.as_str().to_ascii_lowercase();
    let Some((group, rest)) = rest.filter(|(_, rest)| !rest.is_empty()) else {
        return non_resource(&lower);
    };
    // `namespaces/NAME/RESOURCE/...` is a namespaced request, except for the namespace object
    // itself and its subresources.
    let (namespace, parts) = match rest {
        ["namespaces", ns, resource, ..]
            if !(group.is_empty() && matches!(*resource, "status" | "finalize")) =>
        {
            (*ns, &rest[2..])
        }
        _ => ("", rest),
    };
    let (resource, name, subresource) = match parts {
        [resource] => (*resource, "", ""),
        [resource, name] => (*resource, *name, ""),
        [resource, name, sub, ..] => (*resource, *name, *sub),
        [] => ("", "", ""),
    };
    // A namespace's own path names the namespace as both namespace and name.
    let namespace = if group.is_empty() && resource == "namespaces" && !name.is_empty() {
        name
    } else {
        namespace
    };
    let verb = match (method, name.is_empty()) {
        (&Method::GET | &Method::HEAD, _) if watch => "watch",
        (&Method::GET | &Method::HEAD, true) => "list",
        (&Method::GET | &Method::HEAD, false) => "get",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, true) => "deletecollection",
        (&Method::DELETE, false) => "delete",
        _ => lower.as_str(),
    };
    Attributes {
        user,
        verb: verb.to_owned(),
        resource_request: true,
        api_group: group.to_owned(),
        resource: resource.to_owned(),
        subresource: subresource.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        path: path.to_owned(),
    }
}

/// For a list or a watch, the object a `metadata.name=NAME` field selector names, as the API
/// server's request info takes it (so RBAC `resourceNames` can allow the request).
#[must_use]
pub fn with_selected_name(mut attributes: Attributes, field_selector: Option<&str>) -> Attributes {
    if attributes.resource_request
        && attributes.name.is_empty()
        && matches!(attributes.verb.as_str(), "list" | "watch")
        && let Some(name) = field_selector.and_then(|f| f.strip_prefix("metadata.name="))
        && !name.contains(',')
    {
        name.clone_into(&mut attributes.name);
    }
    attributes
}

/// Appends records to a file, one JSON object per line.
#[derive(Debug)]
pub struct Log {
    file: Mutex<File>,
}

impl Log {
    /// Appends to `path`, creating it.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = File::options().create(true).append(true).open(path)?;
        Ok(Self {
            file: Mutex::new(file),
        })
    }

    /// Writes one record; a failed write is reported on standard error and not retried (an
    /// audit log must not take requests down with it).
    pub fn write(&self, record: &Record) {
        let Ok(mut line) = serde_json::to_vec(record) else {
            return;
        };
        line.push(b'\n');
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = file.write_all(&line) {
            eprintln!("kube-standin: audit log: {e}");
        }
    }
}

/// Every record in the `.jsonl` files of `dir` (or in the file `dir`).
pub fn read(path: &Path) -> std::io::Result<Vec<Record>> {
    let files: Vec<_> = if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_owned()]
    };
    let mut records = Vec::new();
    for file in files {
        for (n, line) in BufReader::new(File::open(&file)?).lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let record = serde_json::from_str(&line).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}:{}: {e}", file.display(), n + 1),
                )
            })?;
            records.push(record);
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Verb, group, resource, subresource, namespace and name.
    fn attrs(method: &Method, path: &str, watch: bool) -> Vec<String> {
        let a = attributes("u".into(), method, path, watch);
        vec![
            a.verb,
            a.api_group,
            a.resource,
            a.subresource,
            a.namespace,
            a.name,
        ]
    }

    #[test]
    fn resource_requests_get_the_api_servers_attributes() {
        let ssv = "/apis/ferry.dev/v1alpha1/namespaces/shop/serverlessservices";
        let web = format!("{ssv}/web");
        let cases: [(Method, &str, bool, [&str; 6]); 8] = [
            (
                Method::GET,
                ssv,
                false,
                ["list", "ferry.dev", "serverlessservices", "", "shop", ""],
            ),
            (
                Method::GET,
                ssv,
                true,
                ["watch", "ferry.dev", "serverlessservices", "", "shop", ""],
            ),
            (
                Method::PATCH,
                &format!("{web}/status"),
                false,
                [
                    "patch",
                    "ferry.dev",
                    "serverlessservices",
                    "status",
                    "shop",
                    "web",
                ],
            ),
            (
                Method::GET,
                "/apis/ferry.dev/v1alpha1/serverlessservices",
                true,
                ["watch", "ferry.dev", "serverlessservices", "", "", ""],
            ),
            (
                Method::DELETE,
                ssv,
                false,
                [
                    "deletecollection",
                    "ferry.dev",
                    "serverlessservices",
                    "",
                    "shop",
                    "",
                ],
            ),
            (
                Method::DELETE,
                &web,
                false,
                [
                    "delete",
                    "ferry.dev",
                    "serverlessservices",
                    "",
                    "shop",
                    "web",
                ],
            ),
            (
                Method::POST,
                ssv,
                false,
                ["create", "ferry.dev", "serverlessservices", "", "shop", ""],
            ),
            (
                Method::PUT,
                &web,
                false,
                [
                    "update",
                    "ferry.dev",
                    "serverlessservices",
                    "",
                    "shop",
                    "web",
                ],
            ),
        ];
        for (method, path, watch, expected) in cases {
            assert_eq!(attrs(&method, path, watch), expected, "{method} {path}");
        }
    }

    #[test]
    fn the_core_group_and_namespaces_themselves() {
        let cases: [(Method, &str, [&str; 6]); 4] = [
            (
                Method::GET,
                "/api/v1/namespaces/ferry-system/secrets/aws",
                ["get", "", "secrets", "", "ferry-system", "aws"],
            ),
            (
                Method::GET,
                "/api/v1/namespaces/shop",
                ["get", "", "namespaces", "", "shop", "shop"],
            ),
            (
                Method::PUT,
                "/api/v1/namespaces/shop/finalize",
                ["update", "", "namespaces", "finalize", "shop", "shop"],
            ),
            (
                Method::GET,
                "/api/v1/namespaces",
                ["list", "", "namespaces", "", "", ""],
            ),
        ];
        for (method, path, expected) in cases {
            assert_eq!(attrs(&method, path, false), expected, "{method} {path}");
        }
    }

    #[test]
    fn discovery_is_not_a_resource_request() {
        for path in [
            "/api",
            "/apis",
            "/api/v1",
            "/apis/ferry.dev/v1alpha1",
            "/version",
            "/openapi/v3",
        ] {
            let a = attributes("u".into(), &Method::GET, path, false);
            assert!(!a.resource_request, "{path}");
            assert_eq!(a.verb, "get");
        }
    }

    #[test]
    fn a_name_field_selector_names_the_object_of_a_list_or_watch() {
        let cms = "/api/v1/namespaces/ferry-system/configmaps";
        let watch = attributes("u".into(), &Method::GET, cms, true);
        let named = with_selected_name(watch.clone(), Some("metadata.name=prices"));
        assert_eq!(
            (named.verb.as_str(), named.name.as_str()),
            ("watch", "prices")
        );
        let two = with_selected_name(watch.clone(), Some("metadata.name=a,metadata.namespace=b"));
        assert_eq!(two.name, "");
        assert_eq!(with_selected_name(watch, Some("spec.x=y")).name, "");
    }

    #[test]
    fn the_user_is_the_bearer_token() {
        assert_eq!(
            user(Some("Bearer system:serviceaccount:a:b")),
            "system:serviceaccount:a:b"
        );
        assert_eq!(user(None), "system:anonymous");
        assert_eq!(user(Some("Basic eA==")), "system:anonymous");
    }

    #[test]
    fn records_round_trip_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let log = Log::open(&path).unwrap();
        let record = Record {
            attributes: attributes(
                "u".into(),
                &Method::GET,
                "/api/v1/namespaces/x/secrets/y",
                false,
            ),
            code: 404,
            implied: false,
            at_us: 1_795_000_000_000_000,
            took_us: 250,
        };
        log.write(&record);
        log.write(&record);
        assert_eq!(read(dir.path()).unwrap(), vec![record.clone(), record]);
    }
}
