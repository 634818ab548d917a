//! The way from the application to a publisher's task, the same for rooms and PubSub
//! nodes: posts go through a bounded channel ([`Outbox`], the application's end) to the
//! task ([`Posts`], the task's end), which counts what the server settled, so that the
//! application can wait until everything it posted was confirmed.

use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::error::{ConfigError, PublishError};
use crate::session::options::Transport;
use crate::session::task::{Handle, Serve};
use crate::status::{Connection, Status};

/// What the server settled so far.
#[derive(Debug, Clone, Copy, Default)]
struct Settled {
    /// Confirmed: reflected by the room, or acknowledged by the PubSub service.
    confirmed: u64,
    /// Refused for good.
    rejected: u64,
}

/// The application's end: queues posts, and tells what became of them.
pub(crate) struct Outbox<P> {
    tx: mpsc::Sender<P>,
    status: watch::Receiver<Status>,
    settled: watch::Receiver<Settled>,
    posted: u64,
    /// Refusals already reported by [`flush`](Self::flush).
    rejected_seen: u64,
    task: Handle,
}

impl<P> Outbox<P> {
    /// Starts the task that `start` makes of the task's end (holding at most `capacity`
    /// posts) and a status sender; its sessions are opened with `transport`.
    pub fn start<S>(
        transport: Transport,
        capacity: usize,
        start: impl FnOnce(Posts<P>, watch::Sender<Status>) -> S,
    ) -> Result<Self, ConfigError>
    where
        S: Serve + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(capacity);
        let (status_tx, status_rx) = watch::channel(Status::default());
        let (settled_tx, settled_rx) = watch::channel(Settled::default());
        let posts = Posts {
            rx,
            capacity,
            settled: settled_tx,
        };
        let task = Handle::spawn(transport, status_tx.clone(), start(posts, status_tx))?;
        Ok(Outbox {
            tx,
            status: status_rx,
            settled: settled_rx,
            posted: 0,
            rejected_seen: 0,
            task,
        })
    }

    /// Queues a post; waits while the outbox is full. Fails once the task has stopped,
    /// with the reason it failed for, if it did.
    pub async fn send(&mut self, post: P) -> Result<(), PublishError> {
        if self.tx.send(post).await.is_err() {
            let reason = match &self.status.borrow().connection {
                Connection::Failed { reason } => reason.clone(),
                _ => "closed".into(),
            };
            return Err(PublishError(reason));
        }
        self.posted += 1;
        Ok(())
    }

    /// Waits until the server settled everything posted so far, or `timeout` passes.
    /// Returns whether everything posted since the previous flush was confirmed.
    pub async fn flush(&mut self, timeout: Duration) -> bool {
        let target = self.posted;
        let settled = tokio::time::timeout(
            timeout,
            self.settled
                .wait_for(|c| c.confirmed + c.rejected >= target),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        let rejected = self.settled.borrow().rejected;
        let clean = settled && rejected == self.rejected_seen;
        self.rejected_seen = rejected;
        clean
    }

    /// The task's state.
    pub fn status(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// Posts the server confirmed so far.
    pub fn confirmed(&self) -> u64 {
        self.settled.borrow().confirmed
    }

    /// Posts the server refused for good so far.
    pub fn rejected(&self) -> u64 {
        self.settled.borrow().rejected
    }

    /// Stops the task and waits until it said goodbye; what was not confirmed is dropped.
    pub async fn close(&mut self) {
        self.task.close().await;
    }
}

/// The task's end: the posts the application queued, and the counts of what the server
/// settled.
pub(crate) struct Posts<P> {
    rx: mpsc::Receiver<P>,
    capacity: usize,
    settled: watch::Sender<Settled>,
}

impl<P> Posts<P> {
    /// Whether the task may take another post while it holds `held` unconfirmed ones.
    pub fn room_for_more(&self, held: usize) -> bool {
        held < self.capacity
    }

    /// The next post; `None` once the application's end is gone.
    pub async fn recv(&mut self) -> Option<P> {
        self.rx.recv().await
    }

    /// The server confirmed a post.
    pub fn confirmed(&self) {
        self.settled.send_modify(|c| c.confirmed += 1);
    }

    /// The server refused a post for good.
    pub fn rejected(&self) {
        self.settled.send_modify(|c| c.rejected += 1);
    }
}
