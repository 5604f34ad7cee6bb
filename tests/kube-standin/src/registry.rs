//! The resource types served: a fixed set of built-in kinds, and every version of every CRD
//! installed (at start, or later through the API).

use std::sync::Arc;

use ferry_core::schema::{CrdSchema, SchemaError, openapi_schema};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

use crate::apply::Types;
use crate::builtin;

/// One served resource of one group/version.
#[derive(Debug)]
pub struct ResourceType {
    /// API group; empty for the core group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Plural resource name.
    pub plural: String,
    /// Singular resource name.
    pub singular: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// `kubectl` short names.
    pub short_names: Vec<String>,
    /// Categories (`kubectl get all` and friends).
    pub categories: Vec<String>,
    /// Whether `/status` is a subresource (status is then written only through it).
    pub status_subresource: bool,
    /// Whether `metadata.generation` is maintained (custom resources, CRDs, and the built-in
    /// kinds whose registry strategy sets it).
    pub generation: bool,
    /// The CRD's schema, for validation, pruning and defaults.
    pub schema: Option<Arc<CrdSchema>>,
    /// The merge types server-side apply uses.
    pub types: Types,
    /// The CRD that defines it, for custom resources.
    pub crd: Option<String>,
}

impl ResourceType {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural.group`, or `plural` for the core group, as messages name it.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Where objects of this type are stored: versions of one group and resource share it.
    pub fn storage_key(&self) -> (String, String) {
        (self.group.clone(), self.plural.clone())
    }

    /// A built-in kind, checked against its Kubernetes OpenAPI schema.
    fn builtin<K>(short_names: &[&str]) -> Result<Self, SchemaError>
    where
        K: k8s_openapi::Resource + schemars::JsonSchema,
        K::Scope: builtin::Scope,
    {
        let mut rt = Self::untyped(
            K::GROUP,
            K::VERSION,
            K::KIND,
            K::URL_PATH_SEGMENT,
            <K::Scope as builtin::Scope>::NAMESPACED,
            short_names,
        );
        rt.schema = Some(builtin::schema_of::<K>()?);
        Ok(rt)
    }

    /// A kind served without a schema.
    fn untyped(
        group: &str,
        version: &str,
        kind: &str,
        plural: &str,
        namespaced: bool,
        short_names: &[&str],
    ) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            namespaced,
            short_names: short_names.iter().map(|s| (*s).to_owned()).collect(),
            categories: Vec::new(),
            status_subresource: false,
            generation: false,
            schema: None,
            types: Types::untyped(),
            crd: None,
        }
    }

    /// With a `/status` subresource, and a `metadata.generation` that follows the spec when
    /// `generation` (workload kinds).
    fn with_status(mut self, generation: bool) -> Self {
        self.status_subresource = true;
        self.generation = generation;
        self
    }

    /// With a `metadata.generation` that follows the spec, for a kind without a status.
    fn with_generation(mut self) -> Self {
        self.generation = true;
        self
    }
}

/// The built-in kinds served: those the operator touches and those its installation
/// (`deploy/`, the Helm chart) creates.
pub fn builtins() -> Result<Vec<ResourceType>, SchemaError> {
    use k8s_openapi::api::{
        apps, autoscaling, batch, coordination, core, events, networking, policy, rbac,
    };
    // A CRD's own schema is recursive (JSONSchemaProps), which a structural schema cannot
    // express; CRDs are checked by the registration rules in the store instead.
    let crds = ResourceType::untyped(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        &["crd", "crds"],
    )
    .with_status(true);
    Ok(vec![
        ResourceType::builtin::<core::v1::Namespace>(&["ns"])?.with_status(false),
        ResourceType::builtin::<core::v1::Secret>(&[])?,
        ResourceType::builtin::<core::v1::ConfigMap>(&["cm"])?,
        ResourceType::builtin::<core::v1::Event>(&["ev"])?,
        ResourceType::builtin::<events::v1::Event>(&["ev"])?,
        ResourceType::builtin::<coordination::v1::Lease>(&[])?,
        ResourceType::builtin::<core::v1::ServiceAccount>(&["sa"])?,
        ResourceType::builtin::<core::v1::Service>(&["svc"])?.with_status(false),
        // The real server counts a Pod's generation since 1.33 (kubernetes#130181), and an
        // HPA's only behind the later `HPAGeneration` feature gate.
        ResourceType::builtin::<core::v1::Pod>(&["po"])?.with_status(true),
        // For the volumes Ferry mounts through a claim: a PersistentVolume is cluster-scoped.
        // Nothing binds them here (a test plays the binder where it must); with a `/status`
        // and no generation, as the real ones.
        ResourceType::builtin::<core::v1::PersistentVolume>(&["pv"])?.with_status(false),
        ResourceType::builtin::<core::v1::PersistentVolumeClaim>(&["pvc"])?.with_status(false),
        ResourceType::builtin::<apps::v1::Deployment>(&["deploy"])?.with_status(true),
        ResourceType::builtin::<batch::v1::Job>(&[])?.with_status(true),
        ResourceType::builtin::<batch::v1::CronJob>(&["cj"])?.with_status(true),
        ResourceType::builtin::<policy::v1::PodDisruptionBudget>(&["pdb"])?.with_status(true),
        ResourceType::builtin::<autoscaling::v2::HorizontalPodAutoscaler>(&["hpa"])?
            .with_status(false),
        ResourceType::builtin::<networking::v1::Ingress>(&["ing"])?.with_status(true),
        ResourceType::builtin::<networking::v1::IngressClass>(&[])?.with_generation(),
        ResourceType::builtin::<rbac::v1::ClusterRole>(&[])?,
        ResourceType::builtin::<rbac::v1::ClusterRoleBinding>(&[])?,
        ResourceType::builtin::<rbac::v1::Role>(&[])?,
        ResourceType::builtin::<rbac::v1::RoleBinding>(&[])?,
        crds,
    ])
}

/// The resource types of every served version of `crd`.
pub fn from_crd(crd: &CustomResourceDefinition) -> Result<Vec<ResourceType>, SchemaError> {
    let names = &crd.spec.names;
    let name = crd.metadata.name.clone().unwrap_or_default();
    let mut out = Vec::new();
    for version in crd.spec.versions.iter().filter(|v| v.served) {
        let schema = CrdSchema::new(crd, &version.name)?;
        let types = openapi_schema(crd, &version.name)
            .map_or_else(Types::untyped, |s| Types::from_schema(&s));
        out.push(ResourceType {
            group: crd.spec.group.clone(),
            version: version.name.clone(),
            kind: names.kind.clone(),
            plural: names.plural.clone(),
            singular: names
                .singular
                .clone()
                .unwrap_or_else(|| names.kind.to_lowercase()),
            namespaced: crd.spec.scope == "Namespaced",
            short_names: names.short_names.clone().unwrap_or_default(),
            categories: names.categories.clone().unwrap_or_default(),
            status_subresource: version
                .subresources
                .as_ref()
                .is_some_and(|s| s.status.is_some()),
            generation: true,
            schema: Some(Arc::new(schema)),
            types,
            crd: Some(name.clone()),
        });
    }
    Ok(out)
}
