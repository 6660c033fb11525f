//! Behaviour of the on-disk queue against a real SQLite file: order, durability, ack, threads, crashes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use disk_queue::{DiskQueue, QueueError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Reading {
    seq: u64,
    text: String,
}

fn reading(seq: u64) -> Reading {
    Reading {
        seq,
        text: format!("reading {seq}"),
    }
}

fn open(path: &Path) -> DiskQueue<Reading> {
    DiskQueue::open(path).unwrap()
}

fn seqs(items: &[(u64, Reading)]) -> Vec<u64> {
    items.iter().map(|(_, r)| r.seq).collect()
}

#[test]
fn items_come_out_in_push_order_across_batches() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(&dir.path().join("q.db"));
    q.push(&[reading(1), reading(2)]).unwrap();
    q.push(&[reading(3)]).unwrap();
    q.push(&[]).unwrap();
    q.push(&[reading(4), reading(5)]).unwrap();
    assert_eq!(q.len().unwrap(), 5);
    let all = q.peek(100).unwrap();
    assert_eq!(seqs(&all), vec![1, 2, 3, 4, 5]);
    let ids: Vec<u64> = all.iter().map(|(id, _)| *id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids not increasing: {ids:?}"
    );
    assert_eq!(seqs(&q.peek(2).unwrap()), vec![1, 2]);
    assert_eq!(all[2].1, reading(3));
}

#[test]
fn peek_does_not_remove_and_ack_removes_up_to_the_id() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(&dir.path().join("q.db"));
    q.push(&(1..=6).map(reading).collect::<Vec<_>>()).unwrap();
    let first = q.peek(3).unwrap();
    assert_eq!(q.peek(3).unwrap(), first, "peek must be repeatable");
    q.ack(first[2].0).unwrap();
    assert_eq!(q.len().unwrap(), 3);
    assert_eq!(seqs(&q.peek(10).unwrap()), vec![4, 5, 6]);
    // An old ack is harmless.
    q.ack(first[0].0).unwrap();
    assert_eq!(q.len().unwrap(), 3);
    q.ack(u64::MAX).unwrap();
    assert!(q.is_empty().unwrap());
    assert!(q.peek(10).unwrap().is_empty());
}

#[test]
fn ids_are_never_reused_after_the_queue_empties() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    let q = open(&path);
    q.push(&[reading(1), reading(2)]).unwrap();
    let last_id = q.peek(10).unwrap()[1].0;
    q.ack(last_id).unwrap();
    drop(q);
    let q = open(&path);
    q.push(&[reading(3)]).unwrap();
    let (id, _) = q.peek(1).unwrap()[0];
    assert!(id > last_id, "id {id} reused (last acked {last_id})");
    // A stale ack from before the restart must not remove the new item.
    q.ack(last_id).unwrap();
    assert_eq!(q.len().unwrap(), 1);
}

#[test]
fn items_survive_closing_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    {
        let q = open(&path);
        q.push(&[reading(10), reading(11), reading(12)]).unwrap();
        let first = q.peek(1).unwrap()[0].0;
        q.ack(first).unwrap();
    }
    let q = open(&path);
    assert_eq!(seqs(&q.peek(10).unwrap()), vec![11, 12]);
}

#[test]
fn concurrent_pushers_lose_nothing_and_keep_each_batch_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let q = Arc::new(open(&dir.path().join("q.db")));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let q = Arc::clone(&q);
            std::thread::spawn(move || {
                for batch in 0..10u64 {
                    let base = t * 1000 + batch * 10;
                    q.push(&(base..base + 5).map(reading).collect::<Vec<_>>())
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let all = seqs(&q.peek(1000).unwrap());
    assert_eq!(all.len(), 4 * 10 * 5);
    // Each thread's items appear in the order it pushed them.
    for t in 0..4u64 {
        let mine: Vec<u64> = all.iter().copied().filter(|s| s / 1000 == t).collect();
        assert_eq!(mine.len(), 50);
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "thread {t}: {mine:?}");
    }
    // Batches are transactions: the 5 items of one push stay contiguous.
    for chunk in all.chunks(5) {
        assert!(
            chunk.windows(2).all(|w| w[1] == w[0] + 1),
            "split batch: {chunk:?}"
        );
    }
}

#[test]
fn a_row_that_does_not_decode_is_reported_with_its_id_and_can_be_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    let q = open(&path);
    q.push(&[reading(1)]).unwrap();
    {
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute("INSERT INTO items (item) VALUES (x'7b6e6f74')", [])
            .unwrap();
    }
    q.push(&[reading(3)]).unwrap();
    let bad_id = match q.peek(10) {
        Err(QueueError::Corrupt { id, .. }) => id,
        other => panic!("expected a corrupt row error, got {other:?}"),
    };
    let good_first = q.peek(1).unwrap()[0].0;
    assert!(bad_id > good_first);
    assert_eq!(
        q.len().unwrap(),
        3,
        "the corrupt row must not be dropped silently"
    );
    assert!(q.discard(bad_id).unwrap());
    assert!(!q.discard(bad_id).unwrap());
    assert_eq!(seqs(&q.peek(10).unwrap()), vec![1, 3]);
}

const CRASH_ENV: &str = "DISK_QUEUE_CRASH_CHILD_PATH";

/// The test re-runs itself as a child process, which pushes, peeks as if sending, then
/// dies (abort: no destructor, no ack); the parent reopens the file and expects it all back.
#[test]
fn a_crash_between_peek_and_ack_redelivers() {
    if let Ok(path) = std::env::var(CRASH_ENV) {
        let q = open(Path::new(&path));
        q.push(&[reading(1), reading(2), reading(3)]).unwrap();
        assert_eq!(seqs(&q.peek(2).unwrap()), vec![1, 2]);
        std::process::abort();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_crash_between_peek_and_ack_redelivers",
            "--test-threads=1",
        ])
        .env(CRASH_ENV, &path)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child was meant to abort");
    let q = open(&path);
    assert_eq!(seqs(&q.peek(10).unwrap()), vec![1, 2, 3]);
}
