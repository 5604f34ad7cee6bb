//! Kubernetes RBAC, evaluated offline: which bound rules allow a request, following the RBAC
//! authorizer (`rbac.authorization.k8s.io/v1` Roles and ClusterRoles, their bindings, wildcards,
//! `resource/subresource`, `resourceNames`, non-resource URLs). With [`Coverage`] it answers
//! both questions of a least-privilege check: is every call made allowed, and is every grant
//! used by some call.
//!
//! Discovery (`/api`, `/apis`, `/version`, `/openapi`...) is allowed to everyone, as the
//! default `system:discovery` and `system:public-info-viewer` roles allow it.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use serde_json::Value;

use crate::audit::Attributes;

/// The RBAC objects of a cluster (or of a set of manifests).
#[derive(Clone, Debug, Default)]
pub struct Policy {
    cluster_roles: Vec<ClusterRole>,
    cluster_role_bindings: Vec<ClusterRoleBinding>,
    roles: Vec<Role>,
    role_bindings: Vec<RoleBinding>,
}

/// A manifest that is an RBAC kind but not a valid one.
#[derive(Debug, thiserror::Error)]
#[error("{kind} {name}: {source}")]
pub struct Invalid {
    kind: String,
    name: String,
    source: serde_json::Error,
}

/// One granted permission: a verb on a resource (or a non-resource URL) of one rule of one
/// role, wildcards kept as written.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    /// `ClusterRole NAME` or `Role NAMESPACE/NAME`.
    pub role: String,
    /// The API group (`""` for core), or empty for a non-resource URL.
    pub api_group: String,
    /// The resource (`resource/subresource`), or the non-resource URL.
    pub resource: String,
    /// The verb.
    pub verb: String,
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = if self.api_group.is_empty() {
            "core"
        } else {
            &self.api_group
        };
        write!(
            f,
            "{}: {} {}/{}",
            self.role, self.verb, group, self.resource
        )
    }
}

impl Policy {
    /// The RBAC objects among `documents` (other kinds are skipped).
    pub fn from_manifests(documents: &[Value]) -> Result<Self, Invalid> {
        let mut policy = Self::default();
        for document in documents {
            let kind = document["kind"].as_str().unwrap_or_default();
            let invalid = |source| Invalid {
                kind: kind.to_owned(),
                name: document["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                source,
            };
            if document["apiVersion"] != "rbac.authorization.k8s.io/v1" {
                continue;
            }
            let value = document.clone();
            match kind {
                "ClusterRole" => policy
                    .cluster_roles
                    .push(serde_json::from_value(value).map_err(invalid)?),
                "ClusterRoleBinding" => policy
                    .cluster_role_bindings
                    .push(serde_json::from_value(value).map_err(invalid)?),
                "Role" => policy
                    .roles
                    .push(serde_json::from_value(value).map_err(invalid)?),
                "RoleBinding" => policy
                    .role_bindings
                    .push(serde_json::from_value(value).map_err(invalid)?),
                _ => {}
            }
        }
        Ok(policy)
    }

    /// The same objects installed in `namespace` instead of `from`: namespaced objects and
    /// service-account subjects of `from` move, as `helm install --namespace` would place them.
    #[must_use]
    pub fn moved(&self, from: &str, namespace: &str) -> Self {
        let mut moved = self.clone();
        let subjects = |subjects: &mut Option<Vec<Subject>>| {
            for s in subjects.iter_mut().flatten() {
                if s.kind == "ServiceAccount" && s.namespace.as_deref() == Some(from) {
                    s.namespace = Some(namespace.to_owned());
                }
            }
        };
        for b in &mut moved.cluster_role_bindings {
            subjects(&mut b.subjects);
        }
        for b in &mut moved.role_bindings {
            subjects(&mut b.subjects);
            if b.metadata.namespace.as_deref() == Some(from) {
                b.metadata.namespace = Some(namespace.to_owned());
            }
        }
        for r in &mut moved.roles {
            if r.metadata.namespace.as_deref() == Some(from) {
                r.metadata.namespace = Some(namespace.to_owned());
            }
        }
        moved
    }

    /// Every grant of every role, for coverage.
    pub fn grants(&self) -> Vec<Grant> {
        let mut out = Vec::new();
        for (role, rules) in self.roles_with_rules() {
            for rule in rules {
                out.extend(grants_of(&role, rule));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn roles_with_rules(&self) -> Vec<(String, &[PolicyRule])> {
        let cluster = self.cluster_roles.iter().map(|r| {
            (
                format!("ClusterRole {}", name(r.metadata.name.as_deref())),
                r.rules.as_deref().unwrap_or_default(),
            )
        });
        let namespaced = self.roles.iter().map(|r| {
            (
                format!(
                    "Role {}/{}",
                    name(r.metadata.namespace.as_deref()),
                    name(r.metadata.name.as_deref())
                ),
                r.rules.as_deref().unwrap_or_default(),
            )
        });
        cluster.chain(namespaced).collect()
    }

    /// The grants that allow `request` (empty: forbidden). Discovery is always allowed, and
    /// answers with no grant.
    pub fn allowing(&self, request: &Attributes) -> Result<Vec<Grant>, Forbidden> {
        if !request.resource_request && is_discovery(&request.path) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for binding in &self.cluster_role_bindings {
            if binds(binding.subjects.as_deref(), &request.user) {
                out.extend(self.role_grants(&binding.role_ref, None, request));
            }
        }
        for binding in &self.role_bindings {
            let ns = binding.metadata.namespace.as_deref().unwrap_or_default();
            if ns == request.namespace && binds(binding.subjects.as_deref(), &request.user) {
                out.extend(self.role_grants(&binding.role_ref, Some(ns), request));
            }
        }
        if out.is_empty() {
            return Err(Forbidden(Box::new(request.clone())));
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    fn role_grants(
        &self,
        role_ref: &RoleRef,
        namespace: Option<&str>,
        request: &Attributes,
    ) -> Vec<Grant> {
        let (role, rules): (String, &[PolicyRule]) = match (role_ref.kind.as_str(), namespace) {
            ("ClusterRole", _) => {
                let Some(r) = self
                    .cluster_roles
                    .iter()
                    .find(|r| r.metadata.name.as_deref() == Some(&role_ref.name))
                else {
                    return Vec::new();
                };
                (
                    format!("ClusterRole {}", role_ref.name),
                    r.rules.as_deref().unwrap_or_default(),
                )
            }
            ("Role", Some(ns)) => {
                let Some(r) = self.roles.iter().find(|r| {
                    r.metadata.name.as_deref() == Some(&role_ref.name)
                        && r.metadata.namespace.as_deref() == Some(ns)
                }) else {
                    return Vec::new();
                };
                (
                    format!("Role {ns}/{}", role_ref.name),
                    r.rules.as_deref().unwrap_or_default(),
                )
            }
            _ => return Vec::new(),
        };
        rules
            .iter()
            .filter(|rule| allows(rule, request))
            .flat_map(|rule| grants_of(&role, rule))
            .filter(|g| g.covers(request))
            .collect()
    }
}

/// A request no binding allows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("forbidden: {0}")]
pub struct Forbidden(pub Box<Attributes>);

impl fmt::Display for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.resource_request {
            return write!(f, "{} {} {}", self.user, self.verb, self.path);
        }
        let group = if self.api_group.is_empty() {
            "core"
        } else {
            &self.api_group
        };
        let sub = if self.subresource.is_empty() {
            String::new()
        } else {
            format!("/{}", self.subresource)
        };
        let scope = if self.namespace.is_empty() {
            "cluster-wide".to_owned()
        } else {
            format!("in namespace {}", self.namespace)
        };
        write!(
            f,
            "{} {} {group}/{}{sub} {scope}",
            self.user, self.verb, self.resource
        )
    }
}

impl Grant {
    fn covers(&self, request: &Attributes) -> bool {
        let any = |granted: &str, wanted: &str| granted == "*" || granted == wanted;
        if !request.resource_request {
            return any(&self.verb, &request.verb) && url_matches(&self.resource, &request.path);
        }
        let resource = resource_name(request);
        any(&self.verb, &request.verb)
            && any(&self.api_group, &request.api_group)
            && (self.resource == "*"
                || self.resource == resource
                || (!request.subresource.is_empty()
                    && self.resource == format!("*/{}", request.subresource)))
    }
}

fn name(n: Option<&str>) -> &str {
    n.unwrap_or_default()
}

fn resource_name(request: &Attributes) -> String {
    if request.subresource.is_empty() {
        request.resource.clone()
    } else {
        format!("{}/{}", request.resource, request.subresource)
    }
}

fn grants_of(role_name: &str, rule: &PolicyRule) -> Vec<Grant> {
    let mut out = Vec::new();
    for verb in &rule.verbs {
        for url in rule.non_resource_urls.iter().flatten() {
            out.push(Grant {
                role: role_name.to_owned(),
                api_group: String::new(),
                resource: url.clone(),
                verb: verb.clone(),
            });
        }
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                out.push(Grant {
                    role: role_name.to_owned(),
                    api_group: group.clone(),
                    resource: resource.clone(),
                    verb: verb.clone(),
                });
            }
        }
    }
    out
}

/// Whether `rule` allows `request`, as the RBAC authorizer's `RuleAllows`.
fn allows(rule: &PolicyRule, request: &Attributes) -> bool {
    let has = |list: Option<&Vec<String>>, wanted: &str| {
        list.is_some_and(|l| l.iter().any(|x| x == "*" || x == wanted))
    };
    if !has(Some(&rule.verbs), &request.verb) {
        return false;
    }
    if !request.resource_request {
        return rule
            .non_resource_urls
            .iter()
            .flatten()
            .any(|u| url_matches(u, &request.path));
    }
    let resource = resource_name(request);
    let resource_ok = rule.resources.iter().flatten().any(|r| {
        r == "*"
            || *r == resource
            || (!request.subresource.is_empty() && *r == format!("*/{}", request.subresource))
    });
    let names_ok = rule
        .resource_names
        .as_ref()
        .is_none_or(|names| names.is_empty() || names.contains(&request.name));
    has(rule.api_groups.as_ref(), &request.api_group) && resource_ok && names_ok
}

fn url_matches(granted: &str, path: &str) -> bool {
    granted == "*"
        || granted == path
        || granted
            .strip_suffix('*')
            .is_some_and(|prefix| path.starts_with(prefix))
}

fn is_discovery(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    matches!(
        path,
        "/api" | "/apis" | "/version" | "/healthz" | "/livez" | "/readyz"
    ) || path.starts_with("/api/")
        || path.starts_with("/apis/")
        || path.starts_with("/openapi")
}

/// Whether `subjects` name `user`: a service account by its user name
/// `system:serviceaccount:NAMESPACE:NAME`, a user by name, or the service-account groups.
fn binds(subjects: Option<&[Subject]>, user: &str) -> bool {
    let sa = user
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'));
    subjects
        .into_iter()
        .flatten()
        .any(|s| match s.kind.as_str() {
            "ServiceAccount" => {
                sa.is_some_and(|(ns, name)| s.name == name && s.namespace.as_deref() == Some(ns))
            }
            "User" => s.name == user,
            "Group" => match sa {
                Some((ns, _)) => {
                    s.name == "system:serviceaccounts"
                        || s.name == format!("system:serviceaccounts:{ns}")
                        || s.name == "system:authenticated"
                }
                None => s.name == "system:authenticated" && user != "system:anonymous",
            },
            _ => false,
        })
}

/// Calls checked against a policy: which were forbidden, and how often each grant was used.
#[derive(Debug, Default)]
pub struct Coverage {
    /// How many calls each grant allowed (zero: granted but never needed).
    pub used: BTreeMap<Grant, usize>,
    /// Calls no grant allowed, with how often each was made.
    pub forbidden: BTreeMap<String, usize>,
    /// How many calls were checked.
    pub calls: usize,
}

impl Coverage {
    /// Starts with every grant of `policy` unused.
    pub fn of(policy: &Policy) -> Self {
        Self {
            used: policy.grants().into_iter().map(|g| (g, 0)).collect(),
            ..Self::default()
        }
    }

    /// Checks one call against `policy`, which may be the policy [`Policy::moved`] to the
    /// caller's namespace: `rename` gives a grant's role its name in the original policy.
    pub fn check(
        &mut self,
        policy: &Policy,
        request: &Attributes,
        rename: &dyn Fn(&str) -> String,
    ) {
        self.calls += 1;
        match policy.allowing(request) {
            Ok(grants) => {
                for g in grants {
                    let g = Grant {
                        role: rename(&g.role),
                        ..g
                    };
                    *self.used.entry(g).or_default() += 1;
                }
            }
            Err(Forbidden(a)) => *self.forbidden.entry(a.to_string()).or_default() += 1,
        }
    }

    /// Grants no call needed.
    pub fn unused(&self) -> Vec<&Grant> {
        self.used
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(g, _)| g)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use http::Method;
    use serde_json::json;

    use super::*;
    use crate::audit::attributes;

    const SA: &str = "system:serviceaccount:ferry-system:ferry";

    fn policy() -> Policy {
        let subjects =
            json!([{"kind": "ServiceAccount", "name": "ferry", "namespace": "ferry-system"}]);
        Policy::from_manifests(&[
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": "ferry"},
                "rules": [
                    {"apiGroups": ["ferry.dev"], "resources": ["serverlessservices"], "verbs": ["list", "watch"]},
                    {"apiGroups": ["ferry.dev"], "resources": ["serverlessservices/status"], "verbs": ["patch"]},
                    {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["prices"], "verbs": ["get"]},
                ]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "ferry"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "ferry"},
                "subjects": subjects}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": "ferry", "namespace": "ferry-system"},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "ferry", "namespace": "ferry-system"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ferry"},
                "subjects": subjects}),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "ferry"}}),
        ])
        .unwrap()
    }

    fn call(user: &str, method: &Method, path: &str) -> Attributes {
        attributes(user.to_owned(), method, path, false)
    }

    fn allowed(policy: &Policy, request: &Attributes) -> bool {
        policy.allowing(request).is_ok()
    }

    #[test]
    fn a_cluster_role_binding_allows_its_rules_everywhere_and_nothing_else() {
        let p = policy();
        let ssv = "/apis/ferry.dev/v1alpha1/namespaces/shop/serverlessservices";
        assert!(allowed(&p, &call(SA, &Method::GET, ssv)));
        assert!(allowed(
            &p,
            &call(
                SA,
                &Method::GET,
                "/apis/ferry.dev/v1alpha1/serverlessservices"
            )
        ));
        assert!(allowed(
            &p,
            &call(SA, &Method::PATCH, &format!("{ssv}/web/status"))
        ));
        // The main resource's patch is not the status subresource's.
        assert!(!allowed(
            &p,
            &call(SA, &Method::PATCH, &format!("{ssv}/web"))
        ));
        assert!(!allowed(&p, &call(SA, &Method::GET, &format!("{ssv}/web"))));
        // Another service account, or nobody.
        let other = "system:serviceaccount:shop:ferry";
        assert!(!allowed(&p, &call(other, &Method::GET, ssv)));
        assert!(!allowed(&p, &call("system:anonymous", &Method::GET, ssv)));
    }

    #[test]
    fn a_role_binding_allows_only_in_its_namespace() {
        let p = policy();
        assert!(allowed(
            &p,
            &call(
                SA,
                &Method::GET,
                "/api/v1/namespaces/ferry-system/secrets/aws"
            )
        ));
        assert!(!allowed(
            &p,
            &call(SA, &Method::GET, "/api/v1/namespaces/shop/secrets/aws")
        ));
        assert!(!allowed(
            &p,
            &call(SA, &Method::GET, "/api/v1/namespaces/ferry-system/secrets")
        ));
    }

    #[test]
    fn resource_names_limit_a_rule_to_those_objects() {
        let p = policy();
        assert!(allowed(
            &p,
            &call(SA, &Method::GET, "/api/v1/namespaces/a/configmaps/prices")
        ));
        assert!(!allowed(
            &p,
            &call(SA, &Method::GET, "/api/v1/namespaces/a/configmaps/other")
        ));
        assert!(!allowed(
            &p,
            &call(SA, &Method::GET, "/api/v1/namespaces/a/configmaps")
        ));
    }

    #[test]
    fn wildcards_and_discovery() {
        let p = Policy::from_manifests(&[
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": "all"},
                "rules": [{"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["*"]},
                          {"nonResourceURLs": ["/metrics", "/debug/*"], "verbs": ["get"]}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "all"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "all"},
                "subjects": [{"kind": "Group", "name": "system:serviceaccounts"}]}),
        ])
        .unwrap();
        let any = "system:serviceaccount:x:y";
        assert!(allowed(
            &p,
            &call(
                any,
                &Method::PUT,
                "/apis/apps/v1/namespaces/a/deployments/d/status"
            )
        ));
        assert!(!allowed(
            &p,
            &call(
                any,
                &Method::PUT,
                "/apis/apps/v1/namespaces/a/deployments/d"
            )
        ));
        assert!(allowed(&p, &call(any, &Method::GET, "/metrics")));
        assert!(allowed(&p, &call(any, &Method::GET, "/debug/pprof")));
        assert!(!allowed(&p, &call(any, &Method::GET, "/logs")));
        // Discovery needs no grant.
        assert!(allowed(
            &Policy::default(),
            &call(any, &Method::GET, "/apis")
        ));
        assert!(allowed(
            &Policy::default(),
            &call(any, &Method::GET, "/api/v1")
        ));
    }

    #[test]
    fn a_moved_policy_binds_the_service_account_of_the_new_namespace() {
        let moved = policy().moved("ferry-system", "shop");
        let sa = "system:serviceaccount:shop:ferry";
        assert!(allowed(
            &moved,
            &call(sa, &Method::GET, "/api/v1/namespaces/shop/secrets/aws")
        ));
        assert!(!allowed(
            &moved,
            &call(
                sa,
                &Method::GET,
                "/api/v1/namespaces/ferry-system/secrets/aws"
            )
        ));
        assert!(!allowed(
            &moved,
            &call(
                SA,
                &Method::GET,
                "/apis/ferry.dev/v1alpha1/serverlessservices"
            )
        ));
        assert!(allowed(
            &moved,
            &call(
                sa,
                &Method::GET,
                "/apis/ferry.dev/v1alpha1/serverlessservices"
            )
        ));
    }

    #[test]
    fn coverage_counts_each_grant_and_reports_the_unused_and_the_forbidden() {
        let p = policy();
        let mut coverage = Coverage::of(&p);
        let same = |role: &str| role.to_owned();
        coverage.check(
            &p,
            &call(
                SA,
                &Method::GET,
                "/apis/ferry.dev/v1alpha1/serverlessservices",
            ),
            &same,
        );
        coverage.check(
            &p,
            &call(
                SA,
                &Method::GET,
                "/api/v1/namespaces/ferry-system/secrets/a",
            ),
            &same,
        );
        coverage.check(
            &p,
            &call(
                SA,
                &Method::DELETE,
                "/api/v1/namespaces/ferry-system/secrets/a",
            ),
            &same,
        );
        assert_eq!(coverage.calls, 3);
        let unused: Vec<String> = coverage.unused().iter().map(ToString::to_string).collect();
        assert_eq!(
            unused,
            [
                "ClusterRole ferry: get core/configmaps",
                "ClusterRole ferry: watch ferry.dev/serverlessservices",
                "ClusterRole ferry: patch ferry.dev/serverlessservices/status",
            ]
        );
        assert_eq!(
            coverage.forbidden.keys().collect::<Vec<_>>(),
            [&format!(
                "{SA} delete core/secrets in namespace ferry-system"
            )]
        );
    }
}
