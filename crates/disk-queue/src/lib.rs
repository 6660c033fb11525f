//! A durable FIFO queue on disk for store-and-forward: items survive crashes until acknowledged.
//!
//! Items are pushed (durably, in one transaction), peeked oldest first with their ids,
//! and removed only when the caller acknowledges them after delivery. A crash between
//! peek and ack therefore redelivers: delivery is at-least-once, and receivers dedupe.

mod error;
mod queue;

pub use error::QueueError;
pub use queue::DiskQueue;
