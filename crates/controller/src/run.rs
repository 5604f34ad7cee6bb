//! The kube-runtime controllers over `ServerlessService`s and `ServerlessJob`s, and the one over
//! the ProviderConfigs they use: what triggers a reconcile (the objects themselves, the kinds the
//! backends own while the cluster serves them, ProviderConfigs and the credential Secrets they
//! name, the prices ConfigMap), and a shutdown that cannot hang.

use std::sync::Arc;
use std::time::Duration;

use ferry_api::{ProviderConfig, ServerlessJob, ServerlessService};
use ferry_provider::backend::{Backend, Owned, Registry};
use ferry_provider::job::JOB_LABEL;
use futures::{FutureExt as _, StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::context::Context;
use crate::jobs::{job_error_policy, reconcile_job};
use crate::prices;
use crate::provider_configs::{self, ConfigUser, UsageContext, UsageTriggers};
use crate::reconcile::{error_policy, reconcile};
use crate::shutdown::{stopped, unless_stopped};

/// How often to look again whether the cluster serves the kinds the backends own (Knative
/// Serving installed later, or removed).
const DISCOVERY_INTERVAL: Duration = Duration::from_secs(60);

/// Whether the cluster serves each of `owned`.
async fn served(client: &kube::Client, owned: &[Owned]) -> Vec<bool> {
    let mut out = Vec::with_capacity(owned.len());
    for kind in owned {
        let resource = &kind.resource;
        // The core group is discovered at /api/v1, every other group at /apis/GROUP/VERSION.
        let list = if resource.group.is_empty() {
            client.list_core_api_resources(&resource.version).await
        } else {
            client.list_api_group_resources(&resource.api_version).await
        };
        out.push(list.is_ok_and(|list| list.resources.iter().any(|r| r.name == resource.plural)));
    }
    out
}

/// Resolves when what the cluster serves of `owned` differs from `before`.
async fn serving_changes(client: kube::Client, owned: Vec<Owned>, before: Vec<bool>) {
    loop {
        tokio::time::sleep(DISCOVERY_INTERVAL).await;
        if served(&client, &owned).await != before {
            return;
        }
    }
}

/// Runs the controller until `stop` turns true. What the backends own (Knative Services) is
/// watched only while the cluster serves it: a watch on a resource the cluster does not serve
/// would stall every other trigger of the controller behind its error backoff.
///
/// A stop is seen at every point: while discovering Knative and loading prices (those waits
/// give way to it), and once the controller runs. There, kube-runtime's graceful shutdown
/// stops new work and waits for reconciles in flight; but its runner holds all work until the
/// watch cache of ServerlessServices has listed once, and after a stop that list never
/// completes, so the graceful shutdown alone would wait forever when the stop came during
/// the first list. The controller is therefore also dropped once no reconcile runs (or the
/// grace has passed), which cancels whatever it still holds.
pub async fn run(ctx: Arc<Context>, stop: watch::Receiver<bool>) {
    let client = ctx.client.clone();
    let namespace = ctx.settings.namespace.as_deref();
    let owned: Vec<Owned> = ctx.backends.iter().flat_map(Backend::owned).collect();
    loop {
        let Some(serving) = unless_stopped(&stop, served(&client, &owned)).await else {
            return;
        };
        let (watched, missing): (Vec<_>, Vec<_>) =
            owned.iter().zip(&serving).partition(|(_, served)| **served);
        for (kind, _) in &missing {
            info!(
                "{}: not watching {}s until it is",
                kind.missing, kind.resource.kind
            );
        }
        let kinds: Vec<String> = watched
            .iter()
            .map(|(o, _)| format!("{}s", o.resource.kind))
            .collect();
        if kinds.is_empty() {
            info!("watching ServerlessServices");
        } else {
            info!(
                "watching ServerlessServices and the {} Ferry owns",
                kinds.join(", ")
            );
        }
        let services: Api<ServerlessService> = match namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        let jobs: Api<ServerlessJob> = match namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        let (triggers, usage_changes) = UsageTriggers::new(ctx.backends.clone());
        let job_triggers = triggers.for_kind();
        let config = controller::Config::default().concurrency(ctx.settings.concurrency);
        let mut controller =
            controller_for(services, ctx.clone(), triggers).with_config(config.clone());
        let mut job_controller =
            controller_for(jobs, ctx.clone(), job_triggers).with_config(config);
        let (configs, configs_writer) = reflector::store::<ProviderConfig>();
        let config_changes = watcher(Api::all(client.clone()), watcher::Config::default())
            .default_backoff()
            .reflect(configs_writer)
            .applied_objects();
        ctx.pricing.use_provider_configs(configs.clone());
        let (usage, usage_ctx) = usage_controller(
            &ctx,
            (controller.store(), job_controller.store()),
            (configs.clone(), config_changes),
            usage_changes,
        );
        controller = watch_configuration(
            controller,
            &client,
            &ctx.settings.operator_namespace,
            configs.clone(),
            &ctx.backends,
        );
        job_controller = watch_configuration(
            job_controller,
            &client,
            &ctx.settings.operator_namespace,
            configs,
            &ctx.backends,
        );
        let mut tasks = Tasks::default();
        if let Some(name) = &ctx.settings.prices_config_map {
            let namespace = &ctx.settings.operator_namespace;
            let load = prices::load(&client, namespace, name, &ctx.pricing, &ctx.events);
            if unless_stopped(&stop, load).await.is_none() {
                return;
            }
            let (changed, reprice) = futures::channel::mpsc::channel(1);
            controller = controller.reconcile_all_on(reprice);
            tasks.0.push(tokio::spawn(prices::watch(
                client.clone(),
                namespace.clone(),
                name.clone(),
                ctx.pricing.clone(),
                ctx.events.clone(),
                changed,
            )));
        }
        let caches = ctx.connectors.caches().clone();
        for (kind, _) in &watched {
            let resource = &kind.resource;
            let api: Api<DynamicObject> = match namespace {
                Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
                None => Api::all_with(client.clone(), resource),
            };
            // A change to one reconciles its owner; the backend reads it from this cache
            // rather than asking the API server on every reconcile. Each is kept trimmed to
            // what the backend reads, without managedFields (nothing reads them).
            let writer = reflector::store::Writer::new(resource.clone());
            caches.set(resource, Some(writer.as_reader()));
            let keep = kind.keep;
            let stream = watcher(api, watcher::Config::default().labels(&kind.labels))
                .default_backoff()
                .modify(move |o| {
                    o.managed_fields_mut().clear();
                    keep(o);
                })
                .reflect(writer)
                .touched_objects();
            controller = controller.owns_stream_with(stream, resource.clone());
        }
        let restart = serving_changes(client.clone(), owned.clone(), serving.clone());
        let shutdown = stopped(stop.clone());
        let end = async move {
            tokio::select! {
                () = shutdown => {}
                () = restart => {}
            }
        }
        .shared();
        let grace = ctx.settings.shutdown_grace;
        let drained = {
            let (end, ctx) = (end.clone(), ctx.clone());
            async move {
                end.await;
                if ctx.in_flight.drain(grace).await {
                    warn!(
                        ?grace,
                        in_flight = ctx.in_flight.count(),
                        "reconciles still running after the shutdown grace: cancelling them"
                    );
                }
            }
        }
        .shared();
        let usage = usage
            .graceful_shutdown_on(end.clone())
            .run(
                provider_configs::reconcile,
                provider_configs::error_policy,
                usage_ctx,
            )
            .take_until(drained.clone())
            .for_each(|result| async move {
                match result {
                    Ok((config, _)) => debug!(%config, "ProviderConfig reconciled"),
                    Err(e) => debug!(error = %e, "ProviderConfig reconcile"),
                }
            });
        let services = controller
            .graceful_shutdown_on(end.clone())
            .run(reconcile, error_policy, ctx.clone())
            .take_until(drained.clone())
            .for_each(|result| async move {
                match result {
                    Ok((object, _)) => debug!(%object, "reconciled"),
                    Err(kube::runtime::controller::Error::ReconcilerFailed(e, object)) => {
                        debug!(%object, error = %e, "reconcile failed");
                    }
                    Err(kube::runtime::controller::Error::ObjectNotFound(object)) => {
                        debug!(%object, "object went before its reconcile");
                    }
                    Err(e) => warn!(error = %e, "controller"),
                }
            });
        let jobs = jobs_controller(&ctx, &client, job_controller, end.clone())
            .await
            .take_until(drained)
            .for_each(|result| async move {
                match result {
                    Ok((object, _)) => debug!(%object, "job reconciled"),
                    Err(e) => debug!(error = %e, "job reconcile"),
                }
            });
        futures::future::join3(services, usage, jobs).await;
        drop(tasks);
        for (kind, _) in &watched {
            caches.set(&kind.resource, None);
        }
        if *stop.borrow() {
            return;
        }
        info!("a kind the backends own was installed or removed: restarting the controller");
    }
}

/// Runs `controller` over `ServerlessJob`s, which also reconciles a job when an object a
/// backend made for it changes (found by its [`JOB_LABEL`], as a CronJob's Jobs are owned by
/// the CronJob). Stops new work once `end` resolves.
async fn jobs_controller(
    ctx: &Arc<Context>,
    client: &kube::Client,
    mut controller: Controller<ServerlessJob>,
    end: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> impl futures::Stream<
    Item = Result<
        (ObjectRef<ServerlessJob>, kube::runtime::controller::Action),
        kube::runtime::controller::Error<crate::reconcile::Error, watcher::Error>,
    >,
> {
    let namespace = ctx.settings.namespace.as_deref();
    let owned: Vec<Owned> = ctx.backends.iter().flat_map(Backend::job_owned).collect();
    let serving = served(client, &owned).await;
    for (kind, _) in owned.iter().zip(serving).filter(|(_, served)| *served) {
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &kind.resource),
            None => Api::all_with(client.clone(), &kind.resource),
        };
        let keep = kind.keep;
        let changes = watcher(api, watcher::Config::default().labels(&kind.labels))
            .default_backoff()
            .modify(move |o| {
                o.managed_fields_mut().clear();
                keep(o);
            })
            .touched_objects();
        controller = controller.watches_stream_with(
            changes,
            |object: DynamicObject| {
                let name = object.labels().get(JOB_LABEL)?.clone();
                let namespace = object.namespace()?;
                Some(ObjectRef::new(&name).within(&namespace))
            },
            kind.resource.clone(),
        );
    }
    controller
        .graceful_shutdown_on(end)
        .run(reconcile_job, job_error_policy, ctx.clone())
}

/// Background tasks of one controller run, aborted when it ends.
#[derive(Default)]
struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// A controller over `objects` (ServerlessServices or ServerlessJobs) that caches them without
/// `metadata.managedFields`: the field managers' records are often the larger part of an
/// object, and nothing in a reconcile reads them. What the context remembers per object goes
/// when the object does (most objects go without a finalizer, so no reconcile sees them leave).
///
/// Every change also tells `triggers`, which reconciles the ProviderConfigs whose users it
/// changed.
fn controller_for<K: ConfigUser>(
    objects: Api<K>,
    ctx: Arc<Context>,
    triggers: UsageTriggers<K>,
) -> Controller<K> {
    let (reader, writer) = reflector::store();
    let cached = reader.clone();
    let stream = watcher(objects, watcher::Config::default())
        .default_backoff()
        .modify(|object| object.managed_fields_mut().clear())
        .reflect(writer)
        .inspect_ok(move |event| match event {
            watcher::Event::Apply(object) | watcher::Event::InitApply(object) => {
                triggers.applied(object);
            }
            watcher::Event::Delete(object) => {
                ctx.forget(object);
                triggers.deleted(object);
            }
            // A relisting may have missed deletions.
            watcher::Event::InitDone => {
                let objects = cached.state();
                ctx.forget_all_but(&objects);
                triggers.relisted(&objects);
            }
            watcher::Event::Init => {}
        })
        .applied_objects();
    Controller::for_stream(stream, reader)
}

/// The controller over ProviderConfigs ([`provider_configs`]): reconciles one when it changes,
/// when a ServerlessService or a ServerlessJob starts or stops using it (`usage_changes`), and
/// when a Secret in the operator's namespace that it names changes (watched as metadata: only
/// the version matters). Bursts of changes (a fleet converging) are taken together.
fn usage_controller(
    ctx: &Context,
    (services, jobs): (Store<ServerlessService>, Store<ServerlessJob>),
    (configs, config_changes): (
        Store<ProviderConfig>,
        impl futures::Stream<Item = Result<ProviderConfig, watcher::Error>> + Send + 'static,
    ),
    usage_changes: impl futures::Stream<Item = ObjectRef<ProviderConfig>> + Send + 'static,
) -> (Controller<ProviderConfig>, Arc<UsageContext>) {
    let namespace = &ctx.settings.operator_namespace;
    let (secrets, secrets_writer) = reflector::store();
    let secret_changes = watcher(
        Api::<PartialObjectMeta<Secret>>::namespaced(ctx.client.clone(), namespace),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(secrets_writer)
    .touched_objects();
    let usage = Arc::new(UsageContext::new(ctx, services, jobs, secrets));
    let (naming, all) = (usage.clone(), configs.clone());
    let controller = Controller::for_stream(config_changes, configs)
        .with_config(controller::Config::default().debounce(Duration::from_secs(1)))
        .watches_stream(secret_changes, move |secret| {
            naming
                .naming_secret(&all.state(), &secret.name_any())
                .into_iter()
                .map(|name| ObjectRef::new(&name))
        })
        .reconcile_on(usage_changes);
    (controller, usage)
}

/// Objects whose backend uses a ProviderConfig and whose ProviderConfig is `name`.
fn using_config<K: ConfigUser>(
    objects: &Store<K>,
    backends: &Registry,
    name: &str,
) -> Vec<ObjectRef<K>> {
    objects
        .state()
        .iter()
        .filter(|o| o.config_named(backends) == Some(name))
        .map(|o| ObjectRef::from_obj(o.as_ref()))
        .collect()
}

/// Reconciles the objects (services or jobs) a ProviderConfig serves when it changes, and when
/// a Secret in the operator's namespace that one names changes: new credentials apply at once,
/// not at the next resync. The Secrets are decoded as metadata only: their names are all that
/// matters here.
fn watch_configuration<K: ConfigUser>(
    controller: Controller<K>,
    client: &kube::Client,
    operator_namespace: &str,
    configs: Store<ProviderConfig>,
    backends: &Registry,
) -> Controller<K> {
    let objects = controller.store();
    let (by_config, registry) = (objects.clone(), backends.clone());
    let controller = controller.watches(
        Api::<ProviderConfig>::all(client.clone()),
        watcher::Config::default(),
        move |config| using_config(&by_config, &registry, &config.name_any()),
    );
    let backends = backends.clone();
    let namespace = operator_namespace.to_owned();
    controller.watches(
        Api::<PartialObjectMeta<Secret>>::namespaced(client.clone(), operator_namespace),
        watcher::Config::default(),
        move |secret| {
            let secret_name = secret.name_any();
            configs
                .state()
                .iter()
                .filter(|c| {
                    backends
                        .iter()
                        .flat_map(|b| b.secret_refs(&c.spec))
                        .any(|r| r.namespace == namespace && r.name == secret_name)
                })
                .flat_map(|c| using_config(&objects, &backends, &c.name_any()))
                .collect::<Vec<_>>()
        },
    )
}
