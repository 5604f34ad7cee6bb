//! Publishing Events without kube's `Recorder` cache.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, Recorder, Reporter};

/// Publishes Ferry's Events, each through a fresh `Recorder`. kube's `Recorder` keeps every
/// Event it published for six minutes, to count repeats into a series (a PATCH of the first
/// Event), and scans all it keeps on every publish. Ferry publishes state changes, which
/// rarely repeat: at 10,000 objects that scan was a fifth of the operator's CPU and the kept
/// Events most of its memory (docs/performance.md). Every Event is a create, so Ferry needs
/// no `patch` on Events either.
#[derive(Clone)]
pub struct Events {
    client: kube::Client,
    reporter: Reporter,
}

impl Events {
    /// Events reported by `reporter`.
    pub fn new(client: kube::Client, reporter: Reporter) -> Self {
        Self { client, reporter }
    }

    /// Creates `event` about `reference`.
    pub async fn publish(
        &self,
        event: &Event,
        reference: &ObjectReference,
    ) -> Result<(), kube::Error> {
        Recorder::new(self.client.clone(), self.reporter.clone())
            .publish(event, reference)
            .await
    }
}
