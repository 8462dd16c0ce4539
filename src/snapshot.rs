//! Read-copy-update publication of immutable tables from the management thread to the
//! workers: the service table, the mark rules and the appliance's VIP/route tables all
//! reach workers this way.
//!
//! The management thread owns the [`Publisher`]: it builds a new table off the fast path
//! and publishes it. Each worker owns one [`Reader`] per table and calls
//! [`Reader::refresh`] once per loop: one atomic load (the empty mailbox) when nothing
//! changed, no lock, no allocation, never a free. The reader announces the generation it
//! moved to; the publisher frees retired tables only when every reader has moved past
//! them ([`Publisher::reclaim`], called on publish and on the management tick), so memory
//! is released on the management thread only, and an idle worker that refreshes every
//! loop pins at most the table it currently uses.

use crossbeam::queue::ArrayQueue;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Snapshots a reader's mailbox holds before the publisher drops the oldest one (on the
/// management thread): a reader only ever wants the newest.
const INBOX: usize = 4;

/// One reader's mailbox: new snapshots in, the generation it has moved to out.
#[derive(Debug)]
struct Mailbox<T> {
    inbox: ArrayQueue<(u64, Arc<T>)>,
    /// Generation of the table this reader holds. Release by the reader after it
    /// replaced its table, Acquire by the publisher before freeing older tables.
    seen: AtomicU64,
}

/// Management side of snapshot publication: the one owner of the live table and of
/// every retired table some reader may still hold.
#[derive(Debug)]
pub struct Publisher<T> {
    current: Arc<T>,
    gen: u64,
    readers: Vec<Arc<Mailbox<T>>>,
    retired: Vec<(u64, Arc<T>)>,
}

impl<T> Publisher<T> {
    /// Starts with `table` as generation 0.
    pub fn new(table: T) -> Self {
        Publisher {
            current: Arc::new(table),
            gen: 0,
            readers: Vec::new(),
            retired: Vec::new(),
        }
    }

    /// The live table (the management thread clones it to make the next one).
    pub fn current(&self) -> &Arc<T> {
        &self.current
    }

    /// Generation of the live table: 0 at start, +1 per [`Publisher::publish`].
    pub fn generation(&self) -> u64 {
        self.gen
    }

    /// A reader for one worker, starting at the live table.
    pub fn reader(&mut self) -> Reader<T> {
        let mb = Arc::new(Mailbox {
            inbox: ArrayQueue::new(INBOX),
            seen: AtomicU64::new(self.gen),
        });
        self.readers.push(mb.clone());
        Reader {
            mailbox: mb,
            table: self.current.clone(),
            gen: self.gen,
        }
    }

    /// Publishes `table`; readers pick it up at their next refresh.
    pub fn publish(&mut self, table: T) {
        self.gen += 1;
        let new = Arc::new(table);
        let old = std::mem::replace(&mut self.current, new.clone());
        self.retired.push((self.gen - 1, old));
        for r in &self.readers {
            // A full inbox drops its oldest snapshot here, on this thread.
            drop(r.inbox.force_push((self.gen, new.clone())));
        }
        self.reclaim();
    }

    /// Frees the tables no reader can hold any more (call from the management tick too).
    /// A reader that was dropped (its worker stopped) no longer holds anything back.
    pub fn reclaim(&mut self) {
        // A mailbox only the publisher still references belongs to a dropped reader.
        self.readers.retain(|r| Arc::strong_count(r) > 1);
        let min_seen = self
            .readers
            .iter()
            .map(|r| r.seen.load(Ordering::Acquire))
            .min()
            .unwrap_or(self.gen);
        self.retired.retain(|(g, _)| *g >= min_seen);
    }

    /// The oldest generation some live reader may still use (the live generation when
    /// every reader is up to date or none exists): anything only tables older than this
    /// contained is out of every reader's reach.
    pub fn oldest_held(&self) -> u64 {
        self.readers
            .iter()
            .filter(|r| Arc::strong_count(r) > 1)
            .map(|r| r.seen.load(Ordering::Acquire))
            .min()
            .unwrap_or(self.gen)
    }

    /// Retired tables still held because some reader has not moved past them.
    pub fn retired(&self) -> usize {
        self.retired.len()
    }
}

/// Worker side: the table this worker uses, refreshed lock-free once per loop.
#[derive(Debug)]
pub struct Reader<T> {
    mailbox: Arc<Mailbox<T>>,
    table: Arc<T>,
    gen: u64,
}

impl<T> Reader<T> {
    /// Takes the newest published table if there is one (one atomic load otherwise).
    /// The replaced table is never freed here: the publisher still holds it.
    #[inline]
    pub fn refresh(&mut self) -> &T {
        let mut newest = None;
        while let Some(x) = self.mailbox.inbox.pop() {
            newest = Some(x);
        }
        if let Some((g, t)) = newest {
            // Drop our reference to the old table before announcing the move, so the
            // publisher (which frees only tables older than every `seen`) always
            // holds the last reference.
            drop(std::mem::replace(&mut self.table, t));
            self.gen = g;
            self.mailbox.seen.store(g, Ordering::Release);
        }
        &self.table
    }

    /// The table as of the last refresh.
    #[inline]
    pub fn table(&self) -> &T {
        &self.table
    }

    /// Generation of the table as of the last refresh.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.gen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Weak;

    #[test]
    fn readers_see_the_newest_and_old_tables_are_freed_after_every_reader_moved() {
        let mut p = Publisher::new(0u32);
        let mut a = p.reader();
        let mut b = p.reader();
        let first: Weak<u32> = Arc::downgrade(p.current());
        for v in 1..=10 {
            p.publish(v);
        }
        assert_eq!(*a.refresh(), 10);
        assert_eq!(a.generation(), 10);
        p.reclaim();
        // b still holds generation 0.
        assert!(first.upgrade().is_some());
        assert_eq!(*b.table(), 0);
        assert_eq!(*b.refresh(), 10);
        p.reclaim();
        assert!(first.upgrade().is_none(), "generation 0 freed");
        assert_eq!(p.retired(), 0);
        // A dropped reader holds nothing back.
        drop(b);
        p.publish(11);
        assert_eq!(*a.refresh(), 11);
        p.reclaim();
        assert_eq!(p.retired(), 0);
    }
}
