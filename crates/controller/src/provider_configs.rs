//! ProviderConfigs in use cannot vanish: Crossplane's ProviderConfigUsage idea, done with the
//! watch caches of ServerlessServices and ServerlessJobs the controllers keep anyway. A
//! ProviderConfig that any object uses carries the finalizer [`IN_USE_FINALIZER`] until the last
//! of them is gone, so deleting a namespace together with its ProviderConfig deletes the cloud
//! resources through it instead of stranding the objects. A service uses the ProviderConfig it
//! names, and every one it still has a side on during a move or a deletion; a job uses the one
//! it names until Ferry has cleaned up after it ([`ConfigUser`] says which, for either kind).
//! Its status counts the users and says, in `Ready`, whether each cloud it configures answers
//! with its credentials.
//!
//! The pure parts decide (who uses what, the finalizer, the status); [`reconcile`] does the
//! I/O: one finalizer patch when it must change, the checks, one status patch when it changed.

use std::collections::{BTreeSet, HashMap};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ferry_api::conditions::{reasons, types};
use ferry_api::{ProviderConfig, ProviderConfigStatus, ServerlessJob, ServerlessService};
use ferry_provider::ProviderError;
use ferry_provider::backend::{Connectors, Registry};
use ferry_provider::provider_config::{self, DEFAULT_NAME};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::{Instrument as _, info, info_span, warn};

use crate::context::Context;
use crate::migration::{sides_of, wanted_side};
use crate::reconcile::{FINALIZER, MANAGER};

/// The finalizer that keeps a ProviderConfig while objects use it.
pub const IN_USE_FINALIZER: &str = "ferry.dev/in-use";

/// How many users a message names before it says "and N more".
const NAMED_USERS: usize = 3;

/// The ProviderConfigs `svc` uses: the one its spec names (for a provider that uses one), and
/// those of the sides it still has during a move or a deletion.
pub fn configs_used(svc: &ServerlessService, backends: &Registry) -> BTreeSet<String> {
    sides_of(svc, &wanted_side(svc, backends))
        .into_iter()
        .filter_map(|side| side.config)
        .collect()
}

/// The ProviderConfig `job` uses: the one its spec names, for a provider that uses one, until
/// Ferry's finalizer is off a job being deleted (its cleanup, which goes through the
/// ProviderConfig, is done then, or was never needed). A job has no sides: it never moves.
pub fn job_config_used<'a>(job: &'a ServerlessJob, backends: &Registry) -> Option<&'a str> {
    let cleaned_up = job.metadata.deletion_timestamp.is_some()
        && !job.finalizers().iter().any(|f| f == FINALIZER);
    if cleaned_up {
        return None;
    }
    job_config_named(job, backends)
}

/// The ProviderConfig `job`'s spec names, for a provider that uses one: the one its connector
/// resolves.
fn job_config_named<'a>(job: &'a ServerlessJob, backends: &Registry) -> Option<&'a str> {
    backends
        .get(job.spec.provider)
        .uses_provider_config()
        .then(|| {
            job.spec
                .provider_config_ref
                .as_ref()
                .map_or(DEFAULT_NAME, |r| r.name.as_str())
        })
}

/// A kind whose objects use ProviderConfigs. Counting users, turning watch events into
/// ProviderConfig reconciles, holding a ProviderConfig before the first create, and
/// reconciling the users of a ProviderConfig that changed take any such kind.
pub trait ConfigUser:
    Resource<DynamicType = ()>
    + Clone
    + serde::de::DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
    /// The ProviderConfig the spec names, for a provider that uses one: the one the object's
    /// connector resolves now, whose change should reach it at once.
    fn config_named(&self, backends: &Registry) -> Option<&str>;

    /// Every ProviderConfig the object needs kept: the one it names, and any its cleanup
    /// still goes through.
    fn configs_used(&self, backends: &Registry) -> BTreeSet<String>;

    /// Whether the object needs ProviderConfig `name` kept.
    fn uses(&self, backends: &Registry, name: &str) -> bool {
        self.configs_used(backends).contains(name)
    }
}

impl ConfigUser for ServerlessService {
    fn config_named(&self, backends: &Registry) -> Option<&str> {
        backends
            .get(self.spec.provider)
            .uses_provider_config()
            .then(|| provider_config::name_for(self))
    }

    fn configs_used(&self, backends: &Registry) -> BTreeSet<String> {
        configs_used(self, backends)
    }
}

impl ConfigUser for ServerlessJob {
    fn config_named(&self, backends: &Registry) -> Option<&str> {
        job_config_named(self, backends)
    }

    fn configs_used(&self, backends: &Registry) -> BTreeSet<String> {
        job_config_used(self, backends)
            .map(str::to_owned)
            .into_iter()
            .collect()
    }

    // Without the set: a count looks at every job in the cache.
    fn uses(&self, backends: &Registry, name: &str) -> bool {
        job_config_used(self, backends) == Some(name)
    }
}

/// The objects that use a ProviderConfig, by kind, each as `namespace/name`, sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Users {
    /// The ServerlessServices.
    pub services: Vec<String>,
    /// The ServerlessJobs.
    pub jobs: Vec<String>,
}

impl Users {
    /// How many there are, of both kinds.
    pub fn len(&self) -> usize {
        self.services.len() + self.jobs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many of each kind, as a message says it: `2 ServerlessServices and 1 ServerlessJob`.
    fn counted(&self) -> String {
        [
            (self.services.len(), "ServerlessService"),
            (self.jobs.len(), "ServerlessJob"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| count(n, what))
        .collect::<Vec<_>>()
        .join(" and ")
    }

    /// The first few of them, services first, and how many more there are. A name carries its
    /// kind only when both kinds use the ProviderConfig (the count names the kind otherwise).
    fn named(&self) -> String {
        let mixed = !self.services.is_empty() && !self.jobs.is_empty();
        let label = |kind: &str, name: &String| {
            if mixed {
                format!("{kind} {name}")
            } else {
                name.clone()
            }
        };
        let shown: Vec<String> = self
            .services
            .iter()
            .map(|n| label("ServerlessService", n))
            .chain(self.jobs.iter().map(|n| label("ServerlessJob", n)))
            .take(NAMED_USERS)
            .collect();
        match self.len().saturating_sub(NAMED_USERS) {
            0 => shown.join(", "),
            more => format!("{} and {more} more", shown.join(", ")),
        }
    }
}

/// Who among `services` and `jobs` uses ProviderConfig `name`.
pub fn users_of(
    services: &[Arc<ServerlessService>],
    jobs: &[Arc<ServerlessJob>],
    backends: &Registry,
    name: &str,
) -> Users {
    Users {
        services: using(services, backends, name),
        jobs: using(jobs, backends, name),
    }
}

/// `namespace/name` of the objects among `objects` that use ProviderConfig `name`, sorted.
fn using<K: ConfigUser>(objects: &[Arc<K>], backends: &Registry, name: &str) -> Vec<String> {
    let mut users: Vec<String> = objects
        .iter()
        .filter(|o| o.uses(backends, name))
        .map(|o| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()))
        .collect();
    users.sort();
    users
}

/// A change to a ProviderConfig's finalizers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinalizerChange {
    /// It is used: keep it until its users are gone.
    Add,
    /// Nothing uses it any more.
    Remove,
}

/// What the in-use finalizer needs. An object being deleted cannot gain finalizers (the API
/// server refuses), so one deleted before Ferry saw a user is not held.
pub fn finalizer_change(has: bool, users: usize, deleting: bool) -> Option<FinalizerChange> {
    match (has, users) {
        (false, 1..) if !deleting => Some(FinalizerChange::Add),
        (true, 0) => Some(FinalizerChange::Remove),
        _ => None,
    }
}

/// The result of checking one cloud a ProviderConfig configures: its display name and what
/// answered, or why not.
pub type Check = (&'static str, Result<String, ProviderError>);

/// The status for a ProviderConfig used by `users`, whose clouds answered `checks`, carrying
/// over the transition time of a `Ready` that did not flip.
pub fn desired_status(
    old: Option<&ProviderConfigStatus>,
    generation: Option<i64>,
    users: &Users,
    deleting: bool,
    checks: &[Check],
    now: &Time,
) -> ProviderConfigStatus {
    let (status, reason, message) = if deleting && !users.is_empty() {
        (
            "False",
            reasons::IN_USE,
            format!(
                "being deleted: it stays until the {} that use it are gone ({}), so their \
                 cloud resources are deleted through it",
                users.counted(),
                users.named()
            ),
        )
    } else if let Some((cloud, Err(e))) = checks.iter().find(|(_, r)| r.is_err()) {
        ("False", e.reason(), format!("{cloud}: {e}"))
    } else {
        let answered: Vec<String> = checks
            .iter()
            .filter_map(|(cloud, r)| r.as_ref().ok().map(|what| format!("{cloud}: {what}")))
            .collect();
        ("True", reasons::AVAILABLE, answered.join("; "))
    };
    let before = old.and_then(|s| s.conditions.iter().find(|c| c.type_ == types::READY));
    let last_transition_time = match before {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => now.clone(),
    };
    ProviderConfigStatus {
        observed_generation: generation,
        users: Some(i32::try_from(users.len()).unwrap_or(i32::MAX)),
        conditions: vec![Condition {
            type_: types::READY.to_owned(),
            status: status.to_owned(),
            reason: reason.to_owned(),
            message,
            observed_generation: generation,
            last_transition_time,
        }],
    }
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Which ProviderConfigs each object of one kind used when Ferry last saw it (by UID), so that
/// a change to an object reconciles exactly the ProviderConfigs whose user count it changed
/// (the one it moved off as well as the one it moved to). Objects that use none are not
/// remembered: a fleet on in-cluster providers costs nothing here. One per kind: a relist of
/// one kind forgets what that kind's cache no longer holds.
#[derive(Debug, Default)]
pub struct Memberships(Mutex<HashMap<String, BTreeSet<String>>>);

impl Memberships {
    /// The ProviderConfigs whose users changed now that `object` is as given.
    pub fn changed<K: ConfigUser>(&self, object: &K, backends: &Registry) -> Vec<String> {
        let uid = object.uid().unwrap_or_default();
        let now = object.configs_used(backends);
        let mut known = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let before = if now.is_empty() {
            known.remove(&uid).unwrap_or_default()
        } else {
            known.insert(uid, now.clone()).unwrap_or_default()
        };
        before.symmetric_difference(&now).cloned().collect()
    }

    /// The ProviderConfigs `object`, now gone, used.
    pub fn gone<K: Resource>(&self, object: &K) -> Vec<String> {
        let uid = object.uid().unwrap_or_default();
        let mut known = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        known
            .remove(&uid)
            .map(|c| c.into_iter().collect())
            .unwrap_or_default()
    }

    /// Forgets every object but `objects` (after a relist, which may have missed deletions),
    /// returning the ProviderConfigs the forgotten ones used.
    pub fn retain<K: Resource>(&self, objects: &[Arc<K>]) -> Vec<String> {
        let uids: BTreeSet<String> = objects.iter().filter_map(|o| o.uid()).collect();
        let mut known = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut freed = BTreeSet::new();
        known.retain(|uid, configs| {
            let keep = uids.contains(uid);
            if !keep {
                freed.extend(configs.iter().cloned());
            }
            keep
        });
        freed.into_iter().collect()
    }
}

/// Turns changes to objects of kind `K` (ServerlessServices, ServerlessJobs) into reconciles
/// of the ProviderConfigs whose users changed.
pub struct UsageTriggers<K> {
    memberships: Memberships,
    backends: Registry,
    send: futures::channel::mpsc::UnboundedSender<ObjectRef<ProviderConfig>>,
    kind: PhantomData<fn(&K)>,
}

impl<K: ConfigUser> UsageTriggers<K> {
    /// Triggers for `backends`' objects, and the stream of ProviderConfigs to reconcile.
    pub fn new(
        backends: Registry,
    ) -> (
        Self,
        futures::channel::mpsc::UnboundedReceiver<ObjectRef<ProviderConfig>>,
    ) {
        let (send, receive) = futures::channel::mpsc::unbounded();
        let triggers = Self {
            memberships: Memberships::default(),
            backends,
            send,
            kind: PhantomData,
        };
        (triggers, receive)
    }

    /// Triggers for another kind's objects, into the same stream.
    pub fn for_kind<L: ConfigUser>(&self) -> UsageTriggers<L> {
        UsageTriggers {
            memberships: Memberships::default(),
            backends: self.backends.clone(),
            send: self.send.clone(),
            kind: PhantomData,
        }
    }

    fn trigger(&self, names: Vec<String>) {
        for name in names {
            // Fails only once the ProviderConfig controller has stopped, when nothing is left
            // to trigger.
            let _ = self.send.unbounded_send(ObjectRef::new(&name));
        }
    }

    /// `object` was created or changed.
    pub fn applied(&self, object: &K) {
        self.trigger(self.memberships.changed(object, &self.backends));
    }

    /// `object` is gone.
    pub fn deleted(&self, object: &K) {
        self.trigger(self.memberships.gone(object));
    }

    /// The cache relisted and holds `objects`: what it no longer holds is gone.
    pub fn relisted(&self, objects: &[Arc<K>]) {
        self.trigger(self.memberships.retain(objects));
    }
}

/// What the ProviderConfig controller works with.
pub struct UsageContext {
    /// The API server.
    client: kube::Client,
    /// Every backend, to know which providers use a ProviderConfig.
    backends: Registry,
    /// Their connectors, which check a ProviderConfig's clouds.
    connectors: Connectors,
    /// The service controller's cache of ServerlessServices: who uses what.
    services: Store<ServerlessService>,
    /// The job controller's cache of ServerlessJobs: who else uses what.
    jobs: Store<ServerlessJob>,
    /// The operator namespace's Secrets, as metadata: a credentials Secret's version.
    secrets: Store<PartialObjectMeta<Secret>>,
    /// The operator's namespace (where credential Secrets live).
    operator_namespace: String,
    /// The in-use finalizer this operator holds (`Settings::in_use_finalizer`).
    finalizer: String,
    /// How long a check's result holds when nothing it depends on changed.
    recheck: Duration,
    /// The clock.
    now: fn() -> Time,
    checked: Mutex<HashMap<String, Checked>>,
}

/// A check's results and what they depended on.
struct Checked {
    key: CheckKey,
    at: Instant,
    checks: Vec<Check>,
}

/// What a check depends on: the ProviderConfig's spec and its credentials Secrets' versions.
type CheckKey = (Option<i64>, Vec<Option<String>>);

impl UsageContext {
    /// A context over the controllers' caches, with `ctx`'s client, backends and settings.
    pub fn new(
        ctx: &Context,
        services: Store<ServerlessService>,
        jobs: Store<ServerlessJob>,
        secrets: Store<PartialObjectMeta<Secret>>,
    ) -> Self {
        Self {
            client: ctx.client.clone(),
            backends: ctx.backends.clone(),
            connectors: ctx.connectors.clone(),
            services,
            jobs,
            secrets,
            operator_namespace: ctx.settings.operator_namespace.clone(),
            finalizer: ctx.settings.in_use_finalizer(),
            recheck: ctx.settings.resync,
            now: ctx.now,
            checked: Mutex::default(),
        }
    }

    /// The ProviderConfigs that name the Secret `name` in the operator's namespace.
    pub fn naming_secret(&self, configs: &[Arc<ProviderConfig>], name: &str) -> Vec<String> {
        configs
            .iter()
            .filter(|c| {
                self.backends
                    .iter()
                    .flat_map(|b| b.secret_refs(&c.spec))
                    .any(|r| r.namespace == self.operator_namespace && r.name == name)
            })
            .map(|c| c.name_any())
            .collect()
    }

    fn key(&self, config: &ProviderConfig) -> CheckKey {
        let versions = self
            .backends
            .iter()
            .flat_map(|b| b.secret_refs(&config.spec))
            .map(|r| {
                self.secrets
                    .get(&ObjectRef::new(&r.name).within(&r.namespace))
                    .and_then(|s| s.resource_version())
            })
            .collect();
        (config.metadata.generation, versions)
    }

    /// Each cloud's check of `config`: remembered while its spec and Secrets stay the same,
    /// for at most `recheck`; the user count changes far more often than they do.
    async fn checks(&self, config: &ProviderConfig) -> Vec<Check> {
        let name = config.name_any();
        let key = self.key(config);
        {
            let checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(c) = checked.get(&name)
                && c.key == key
                && c.at.elapsed() < self.recheck
            {
                return c.checks.clone();
            }
        }
        let mut checks = Vec::new();
        for backend in self.backends.iter() {
            let provider = backend.provider();
            if let Some(result) = self.connectors.get(provider).check(config).await {
                checks.push((provider.display_name(), result));
            }
        }
        let mut checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
        checked.insert(
            name,
            Checked {
                key,
                at: Instant::now(),
                checks: checks.clone(),
            },
        );
        checks
    }

    fn forget(&self, name: &str) {
        let mut checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
        checked.remove(name);
    }
}

/// Reconciles one ProviderConfig: its in-use finalizer, then its status.
pub async fn reconcile(
    config: Arc<ProviderConfig>,
    ctx: Arc<UsageContext>,
) -> Result<Action, kube::Error> {
    let name = config.name_any();
    let span = info_span!("provider_config", name = %name);
    async move {
        // Counting users before both caches have listed once would miss some, and let a
        // ProviderConfig being deleted go while objects still need it.
        if ctx.services.wait_until_ready().await.is_err()
            || ctx.jobs.wait_until_ready().await.is_err()
        {
            return Ok(Action::await_change());
        }
        let users = users_of(
            &ctx.services.state(),
            &ctx.jobs.state(),
            &ctx.backends,
            &name,
        );
        let deleting = config.metadata.deletion_timestamp.is_some();
        let has = config.finalizers().iter().any(|f| *f == ctx.finalizer);
        let api: Api<ProviderConfig> = Api::all(ctx.client.clone());
        match finalizer_change(has, users.len(), deleting) {
            Some(FinalizerChange::Add) => {
                add_in_use(&api, &config, &ctx.finalizer).await?;
            }
            Some(FinalizerChange::Remove) => {
                remove_in_use(&api, &config, &ctx.finalizer).await?;
                if deleting {
                    info!("no object uses it any more: letting it go");
                    ctx.forget(&name);
                    return Ok(Action::await_change());
                }
            }
            None => {}
        }
        let checks = if deleting && !users.is_empty() {
            Vec::new()
        } else {
            ctx.checks(&config).await
        };
        let old = config.status.as_ref();
        let now = (ctx.now)();
        let status = desired_status(
            old,
            config.metadata.generation,
            &users,
            deleting,
            &checks,
            &now,
        );
        if old != Some(&status) {
            let body = json!({
                "apiVersion": ferry_api::API_VERSION,
                "kind": "ProviderConfig",
                "status": status,
            });
            api.patch_status(
                &name,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&body),
            )
            .await?;
        }
        let failing = checks.iter().any(|(_, r)| r.is_err());
        Ok(if failing {
            Action::requeue(ctx.recheck.min(Duration::from_secs(60)))
        } else {
            Action::requeue(ctx.recheck)
        })
    }
    .instrument(span)
    .await
}

/// The ProviderConfig controller's error policy: look again soon.
#[allow(clippy::needless_pass_by_value)] // kube-runtime's error-policy signature
pub fn error_policy(
    _config: Arc<ProviderConfig>,
    error: &kube::Error,
    _ctx: Arc<UsageContext>,
) -> Action {
    warn!(%error, "ProviderConfig reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

/// Adds the in-use `finalizer` to `config` if its finalizers are still what Ferry saw.
pub(crate) async fn add_in_use(
    api: &Api<ProviderConfig>,
    config: &ProviderConfig,
    finalizer: &str,
) -> kube::Result<()> {
    let patch = match &config.metadata.finalizers {
        None => json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [finalizer]},
        ]),
        Some(list) => json!([
            {"op": "test", "path": "/metadata/finalizers", "value": list},
            {"op": "add", "path": "/metadata/finalizers/-", "value": finalizer},
        ]),
    };
    let patch = json_patch(patch)?;
    api.patch(
        &config.name_any(),
        &PatchParams::default(),
        &Patch::Json::<()>(patch),
    )
    .await?;
    Ok(())
}

async fn remove_in_use(
    api: &Api<ProviderConfig>,
    config: &ProviderConfig,
    finalizer: &str,
) -> kube::Result<()> {
    let Some(index) = config.finalizers().iter().position(|f| f == finalizer) else {
        return Ok(());
    };
    let patch = json_patch(json!([
        {"op": "test", "path": format!("/metadata/finalizers/{index}"), "value": finalizer},
        {"op": "remove", "path": format!("/metadata/finalizers/{index}")},
    ]))?;
    api.patch(
        &config.name_any(),
        &PatchParams::default(),
        &Patch::Json::<()>(patch),
    )
    .await?;
    Ok(())
}

fn json_patch(ops: serde_json::Value) -> kube::Result<json_patch::Patch> {
    serde_json::from_value(ops).map_err(kube::Error::SerdeError)
}

#[cfg(test)]
mod tests;
