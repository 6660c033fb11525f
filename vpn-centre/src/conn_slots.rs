//! A listener's connection slots: a cap, and when it is full the connection that has waited longest without sending a request gives its slot to a newcomer.
//!
//! Refusing newcomers at the cap would let a flood of silent connections lock everyone out until
//! they time out. Shedding instead: first the oldest connection that has not sent a complete
//! request yet (still in its TLS handshake or headers), else the connection idle the longest
//! between requests; a connection with a request in progress is never shed. Only when every
//! slot is busy with a request is the newcomer refused.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::idle::Activity;

/// The open connections of one listener.
pub struct Slots {
    cap: usize,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    /// By admission order: the first entry is the oldest connection.
    entries: BTreeMap<u64, Entry>,
}

struct Entry {
    activity: Arc<Activity>,
    shed: Arc<Notify>,
}

/// What [`Slots::admit`] decided.
pub enum Admission {
    /// Room was free.
    Admitted(Slot),
    /// Admitted in the place of an older connection, which is being closed.
    Shed(Slot),
    /// Every slot has a request in progress.
    Refused,
}

impl Slots {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.max(1),
            open: Mutex::new(Open::default()),
        })
    }

    /// Connections holding a slot.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for a new connection whose traffic `activity` records, shedding one if full.
    pub fn admit(self: &Arc<Self>, activity: Arc<Activity>) -> Admission {
        let mut open = self.lock();
        let mut shed = false;
        if open.entries.len() >= self.cap {
            let Some(victim) = victim(&open.entries) else {
                return Admission::Refused;
            };
            if let Some(entry) = open.entries.remove(&victim) {
                // A stored permit: the victim closes even if it is not waiting yet.
                entry.shed.notify_one();
            }
            shed = true;
        }
        let id = open.next_id;
        open.next_id += 1;
        let notify = Arc::new(Notify::new());
        open.entries.insert(
            id,
            Entry {
                activity,
                shed: notify.clone(),
            },
        );
        let slot = Slot {
            slots: self.clone(),
            id,
            shed: notify,
        };
        if shed {
            Admission::Shed(slot)
        } else {
            Admission::Admitted(slot)
        }
    }
}

/// The oldest connection that never sent a request, else the longest idle between requests.
fn victim(entries: &BTreeMap<u64, Entry>) -> Option<u64> {
    if let Some((id, _)) = entries.iter().find(|(_, e)| !e.activity.has_requested()) {
        return Some(*id);
    }
    entries
        .iter()
        .filter(|(_, e)| e.activity.in_flight() == 0)
        .max_by_key(|(_, e)| e.activity.quiet_for())
        .map(|(id, _)| *id)
}

/// One connection's slot, freed when dropped.
pub struct Slot {
    slots: Arc<Slots>,
    id: u64,
    shed: Arc<Notify>,
}

impl Slot {
    /// Resolves when a newcomer took this slot: the connection must close.
    pub async fn shed(&self) {
        self.shed.notified().await;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.lock().entries.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn admitted(a: Admission) -> Slot {
        match a {
            Admission::Admitted(s) | Admission::Shed(s) => s,
            Admission::Refused => panic!("refused"),
        }
    }

    #[tokio::test]
    async fn a_full_listener_sheds_the_oldest_silent_connection_first() {
        let slots = Slots::new(3);
        let acts: Vec<Arc<Activity>> = (0..3).map(|_| Arc::new(Activity::new())).collect();
        let held: Vec<Slot> = acts
            .iter()
            .map(|a| admitted(slots.admit(a.clone())))
            .collect();
        // The oldest is busy with a request: the second, silent, goes.
        let busy = acts[0].start_request();
        let fourth = slots.admit(Arc::new(Activity::new()));
        assert!(matches!(fourth, Admission::Shed(_)));
        tokio::time::timeout(Duration::from_secs(1), held[1].shed())
            .await
            .expect("the oldest silent connection is told to close");
        assert_eq!(slots.len(), 3);
        drop(busy);
        // Served and idle now: it goes before any busy one, after the silent ones.
        let _fifth = admitted(slots.admit(Arc::new(Activity::new())));
        tokio::time::timeout(Duration::from_secs(1), held[2].shed())
            .await
            .expect("the next silent one goes");
        drop(fourth);
        drop(held);
        assert_eq!(slots.len(), 1);
    }

    #[tokio::test]
    async fn every_slot_busy_with_a_request_refuses_the_newcomer() {
        let slots = Slots::new(2);
        let acts: Vec<Arc<Activity>> = (0..2).map(|_| Arc::new(Activity::new())).collect();
        let _held: Vec<Slot> = acts
            .iter()
            .map(|a| admitted(slots.admit(a.clone())))
            .collect();
        let _busy: Vec<_> = acts.iter().map(|a| a.start_request()).collect();
        assert!(matches!(
            slots.admit(Arc::new(Activity::new())),
            Admission::Refused
        ));
    }
}
