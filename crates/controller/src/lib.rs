//! The Ferry reconciler: a kube-runtime `Controller` over `ServerlessService`, owning Knative
//! Services; the finalizer; the error policy; Events; Prometheus metrics and health probes;
//! leader election through a Lease, so that of several replicas only one reconciles; graceful
//! shutdown; the prices behind the status's cost estimate.
//!
//! [`operate`] is the whole operator: it waits to lead, runs the controller while it leads, and
//! stops on shutdown or when it loses the lease.

pub mod events;
pub mod http;
pub mod metrics;
pub mod prices;
pub mod reconcile;
pub mod shutdown;

use std::sync::Arc;
use std::time::Duration;

use ferry_api::{
    Provider, ProviderConfig, ProviderConfigSpec, SecretKeySelector, ServerlessService,
};
use ferry_provider::provider_config;
use futures::{FutureExt as _, StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::{WatchStreamExt, watcher};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;
use tracing::{debug, info, warn};

pub use reconcile::{Context, Error, FINALIZER, MANAGER, Settings, error_policy, reconcile};
use shutdown::{stopped, unless_stopped};

/// Leader election settings.
#[derive(Clone, Debug)]
pub struct Lease {
    /// The Lease's namespace (Ferry's own).
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This replica's identity (its pod name).
    pub identity: String,
    /// How long a holder keeps the lease without renewing it, seconds.
    pub duration: u64,
    /// How long before expiry the holder renews, seconds.
    pub grace: u64,
}

/// Why the operator stopped.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    /// Another replica took the lease: stop reconciling at once and let the process restart.
    #[error("lost the leader lease")]
    LostLease,
    /// Leader election could not start.
    #[error("leader election: {0}")]
    Lease(String),
    /// The namespace of the leader Lease does not exist.
    #[error("namespace {0} does not exist")]
    NoNamespace(String),
}

/// How often to look for Knative Serving when it is not installed, and whether it went away.
const KNATIVE_DISCOVERY_INTERVAL: Duration = Duration::from_secs(60);

async fn knative_served(client: &kube::Client) -> bool {
    client
        .list_api_group_resources("serving.knative.dev/v1")
        .await
        .is_ok_and(|list| list.resources.iter().any(|r| r.name == "services"))
}

/// Resolves when Knative Serving's installed state differs from `installed`.
async fn knative_changes(client: kube::Client, installed: bool) {
    loop {
        tokio::time::sleep(KNATIVE_DISCOVERY_INTERVAL).await;
        if knative_served(&client).await != installed {
            return;
        }
    }
}

/// Runs the controller until `stop` turns true. Knative Services are watched only while Knative
/// Serving is installed: a watch on a resource the cluster does not serve would stall every
/// other trigger of the controller behind its error backoff.
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
    loop {
        let Some(knative) = unless_stopped(&stop, knative_served(&client)).await else {
            return;
        };
        if knative {
            info!("watching ServerlessServices and the Knative Services Ferry owns");
        } else {
            info!("Knative Serving is not installed: watching ServerlessServices only");
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
        if knative {
            let resource = ferry_provider_knative::client::api_resource();
            // Only the owner references matter here: metadata is a fraction of a Knative
            // Service, and the reconcile reads the Service itself.
            let owned: Api<PartialObjectMeta<DynamicObject>> = match namespace {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
                None => Api::all_with(client.clone(), &resource),
            };
            let labels = format!(
                "{}={}",
                ferry_provider_knative::build::MANAGED_BY.0,
                ferry_provider_knative::build::MANAGED_BY.1
            );
            let owned = watcher(owned, watcher::Config::default().labels(&labels))
                .default_backoff()
                .touched_objects();
            controller = controller.owns_stream_with(owned, resource);
        }
        let restart = knative_changes(client.clone(), knative);
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
        if *stop.borrow() {
            return;
        }
        info!("Knative Serving was installed or removed: restarting the controller");
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

/// Objects of a cloud provider whose ProviderConfig is `name`.
fn using_config(
    services: &Store<ServerlessService>,
    name: &str,
) -> Vec<ObjectRef<ServerlessService>> {
    services
        .state()
        .iter()
        .filter(|s| s.spec.provider != Provider::Knative && provider_config::name_for(s) == name)
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
) -> Controller<ServerlessService> {
    let services = controller.store();
    let by_config = services.clone();
    let controller = controller.watches(
        Api::<ProviderConfig>::all(client.clone()),
        watcher::Config::default(),
        move |config| using_config(&by_config, &config.name_any()),
    );
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
                    secret_refs(&c.spec).any(|r| r.namespace == namespace && r.name == secret_name)
                })
                .flat_map(|c| using_config(&services, &c.name_any()))
                .collect::<Vec<_>>()
        },
    )
}

fn secret_refs(spec: &ProviderConfigSpec) -> impl Iterator<Item = &SecretKeySelector> {
    let fargate = spec.fargate.as_ref().and_then(|f| f.credentials.as_ref());
    let cloud_run = spec.cloud_run.as_ref().and_then(|c| c.credentials.as_ref());
    fargate
        .into_iter()
        .chain(cloud_run)
        .filter_map(|c| c.secret_ref.as_ref())
}

/// The operator: leads (or runs without leader election), reconciles while leading, and returns
/// when `shutdown` turns true, releasing the lease; or with [`Stop::LostLease`] when another
/// replica took over. A shutdown at any moment, even before leading, ends it within
/// [`shutdown::bound`] of the grace.
pub async fn operate(
    ctx: Arc<Context>,
    namespace: Option<String>,
    lease: Option<Lease>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), Stop> {
    let Some(lease) = lease else {
        ctx.metrics.leader.set(1);
        run(ctx, namespace.as_deref(), shutdown).await;
        return Ok(());
    };
    let manager = LeaseManagerBuilder::new(ctx.client.clone(), &lease.name)
        .with_namespace(&lease.namespace)
        .with_identity(&lease.identity)
        .with_duration(lease.duration)
        .with_grace(lease.grace)
        .with_field_manager(format!("ferry-leader-election-{}", lease.identity))
        .build();
    let Some(manager) = unless_stopped(&shutdown, manager).await else {
        return Ok(());
    };
    let manager = manager.map_err(|e| match e {
        // Creating a Lease is refused with 404 only when its namespace is missing.
        LeaseManagerError::KubeError(kube::Error::Api(status)) if status.code == 404 => {
            Stop::NoNamespace(lease.namespace.clone())
        }
        other => Stop::Lease(other.to_string()),
    })?;
    let (mut leading, election) = manager.watch().await;
    info!(lease = %lease.name, identity = %lease.identity, "waiting to lead");
    loop {
        if *leading.borrow_and_update() {
            break;
        }
        match unless_stopped(&shutdown, leading.changed()).await {
            Some(Ok(())) => {}
            Some(Err(_)) => return Err(Stop::Lease("leader election ended".into())),
            None => {
                release(leading, election).await;
                return Ok(());
            }
        }
    }
    info!(identity = %lease.identity, "leading");
    ctx.metrics.leader.set(1);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut lease_watch = leading.clone();
    let shutdown_watch = shutdown.clone();
    let lost = tokio::spawn(async move {
        let lost = tokio::select! {
            _ = lease_watch.wait_for(|leading| !*leading) => true,
            () = stopped(shutdown_watch) => false,
        };
        stop_tx.send_replace(true);
        lost
    });
    run(ctx.clone(), namespace.as_deref(), stop_rx).await;
    let lost = lost.await.unwrap_or(false);
    ctx.metrics.leader.set(0);
    release(leading, election).await;
    if lost { Err(Stop::LostLease) } else { Ok(()) }
}

/// Gives the lease up: dropping the last receiver makes the election release it, so another
/// replica takes over at once instead of after it expires. Bounded, so an unreachable API
/// server cannot hold the process; the lease then expires on its own.
async fn release(
    leading: watch::Receiver<bool>,
    election: tokio::task::JoinHandle<Result<LeaseManager, LeaseManagerError>>,
) {
    drop(leading);
    match tokio::time::timeout(shutdown::LEASE_RELEASE_TIMEOUT, election).await {
        Ok(Ok(Ok(_))) => debug!("released the leader lease"),
        Ok(Ok(Err(e))) => {
            warn!(error = %e, "could not release the leader lease; it expires on its own");
        }
        Ok(Err(e)) => warn!(error = %e, "leader election task failed"),
        Err(_) => warn!(
            timeout = ?shutdown::LEASE_RELEASE_TIMEOUT,
            "releasing the leader lease took too long; it expires on its own"
        ),
    }
}
