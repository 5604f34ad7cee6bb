//! Leader election through a `coordination.k8s.io` Lease: of several replicas only the holder
//! reconciles; on a stop it lets the Lease go at once, so the next replica leads without
//! waiting for it to expire.

use std::sync::Arc;

use kube_lease_manager::{LeaseManager, LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::context::Context;
use crate::run::run;
use crate::shutdown::{self, stopped, unless_stopped};

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

/// The operator: leads (or runs without leader election), reconciles while leading, and returns
/// when `shutdown` turns true, releasing the lease; or with [`Stop::LostLease`] when another
/// replica took over. A shutdown at any moment, even before leading, ends it within
/// [`shutdown::bound`] of the grace.
pub async fn operate(
    ctx: Arc<Context>,
    lease: Option<Lease>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), Stop> {
    let Some(lease) = lease else {
        ctx.metrics.leader.set(1);
        run(ctx, shutdown).await;
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
    run(ctx.clone(), stop_rx).await;
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
