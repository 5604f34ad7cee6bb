//! The kube-runtime controller over `ServerlessService`s: what triggers a reconcile (the objects
//! themselves, the kinds the backends own while the cluster serves them, ProviderConfigs and
//! the credential Secrets they name, the prices ConfigMap), and a shutdown that cannot hang.

use std::sync::Arc;
use std::time::Duration;

use ferry_api::{ProviderConfig, ServerlessService};
use ferry_provider::backend::{Backend, Owned, Registry};
use ferry_provider::provider_config;
use futures::{FutureExt as _, StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::context::Context;
use crate::prices;
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
        out.push(
            client
                .list_api_group_resources(&resource.api_version)
                .await
                .is_ok_and(|list| list.resources.iter().any(|r| r.name == resource.plural)),
        );
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
pub async fn run(ctx: Arc<Context>, namespace: Option<&str>, stop: watch::Receiver<bool>) {
    let client = ctx.client.clone();
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
        let mut controller = controller_for(services, ctx.clone())
            .with_config(controller::Config::default().concurrency(ctx.settings.concurrency));
        let configs = reflector::store::<ProviderConfig>();
        let mut tasks = Tasks::default();
        tasks.0.push(tokio::spawn(
            reflector(
                configs.1,
                watcher(Api::all(client.clone()), watcher::Config::default()),
            )
            .default_backoff()
            .for_each(|_| async {}),
        ));
        ctx.pricing.use_provider_configs(configs.0.clone());
        controller = watch_configuration(
            controller,
            &client,
            &ctx.settings.operator_namespace,
            configs.0,
            &ctx.backends,
        );
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
        };
        controller
            .graceful_shutdown_on(end)
            .run(reconcile, error_policy, ctx.clone())
            .take_until(drained)
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
            })
            .await;
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

/// A controller over `services` that caches them without `metadata.managedFields`: the field
/// managers' records are often the larger part of an object, and nothing in a reconcile reads
/// them. What the context remembers per object goes when the object does (most objects go
/// without a finalizer, so no reconcile sees them leave).
fn controller_for(
    services: Api<ServerlessService>,
    ctx: Arc<Context>,
) -> Controller<ServerlessService> {
    let (reader, writer) = reflector::store();
    let cached = reader.clone();
    let stream = watcher(services, watcher::Config::default())
        .default_backoff()
        .modify(|svc| svc.managed_fields_mut().clear())
        .reflect(writer)
        .inspect_ok(move |event| match event {
            watcher::Event::Delete(svc) => ctx.forget(svc),
            // A relisting may have missed deletions.
            watcher::Event::InitDone => ctx.forget_all_but(&cached.state()),
            _ => {}
        })
        .applied_objects();
    Controller::for_stream(stream, reader)
}

/// Objects whose backend uses a ProviderConfig and whose ProviderConfig is `name`.
fn using_config(
    services: &Store<ServerlessService>,
    backends: &Registry,
    name: &str,
) -> Vec<ObjectRef<ServerlessService>> {
    services
        .state()
        .iter()
        .filter(|s| {
            backends.get(s.spec.provider).uses_provider_config()
                && provider_config::name_for(s) == name
        })
        .map(|s| ObjectRef::from_obj(s.as_ref()))
        .collect()
}

/// Reconciles the objects a ProviderConfig serves when it changes, and when a Secret in the
/// operator's namespace that one names changes: new credentials apply at once, not at the next
/// resync.
fn watch_configuration(
    controller: Controller<ServerlessService>,
    client: &kube::Client,
    operator_namespace: &str,
    configs: Store<ProviderConfig>,
    backends: &Registry,
) -> Controller<ServerlessService> {
    let services = controller.store();
    let (by_config, registry) = (services.clone(), backends.clone());
    let controller = controller.watches(
        Api::<ProviderConfig>::all(client.clone()),
        watcher::Config::default(),
        move |config| using_config(&by_config, &registry, &config.name_any()),
    );
    let backends = backends.clone();
    let namespace = operator_namespace.to_owned();
    controller.watches(
        Api::<Secret>::namespaced(client.clone(), operator_namespace),
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
                .flat_map(|c| using_config(&services, &backends, &c.name_any()))
                .collect::<Vec<_>>()
        },
    )
}
