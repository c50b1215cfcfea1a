//! The published ports a container's runtime state holds: what is bound
//! while it runs ([`super::open`] fills the slot, [`super::close`] empties it).

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};

use tokio::task::JoinHandle;

use super::bind::{Bound, Listeners};

/// The open publication of a running container.
#[derive(Debug)]
pub(super) struct Published {
    pub(super) exposed: BTreeSet<u16>,
    /// Holds the host ports in the allocator's registry (sockets moved out).
    pub(super) listeners: Listeners,
    pub(super) task: Option<JoinHandle<()>>,
}

/// A container's published ports, kept in its runtime state.
#[derive(Debug, Default)]
pub struct PortsSlot(Mutex<Option<Published>>);

impl PortsSlot {
    pub(super) fn lock(&self) -> MutexGuard<'_, Option<Published>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What is bound now (empty when the container does not run).
    pub fn bound(&self) -> Vec<Bound> {
        self.lock()
            .as_ref()
            .map(|p| p.listeners.bound.clone())
            .unwrap_or_default()
    }

    pub(super) fn view<T>(&self, f: impl FnOnce(Option<(&BTreeSet<u16>, &[Bound])>) -> T) -> T {
        let guard = self.lock();
        f(guard
            .as_ref()
            .map(|p| (&p.exposed, p.listeners.bound.as_slice())))
    }
}
