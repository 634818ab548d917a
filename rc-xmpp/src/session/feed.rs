//! The way from a client task to its stream, the same for rooms and PubSub nodes:
//! [`Envelope`]s on the bounded [`queue`], each an item and the place it moves the
//! stream's [`Position`] to. The task delivers them through its [`Feeder`]; the stream's
//! [`Feed`] yields the items, moves the position as it does, and keeps the resume file.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use recentchanges_core::state::Committer;
use tokio::sync::watch;

use super::position::{Position, Resume};

use super::options::StreamOptions;
use super::queue;
use super::task::{Ended, Handle, Serve};
use crate::error::ConfigError;
use crate::status::Status;

/// What travels to the consumer: an item, and the place it moves the position to. An
/// envelope without an item only moves the position (a filtered or duplicate change, a
/// baseline).
pub(crate) struct Envelope<T, M> {
    pub item: Option<T>,
    pub mark: Option<M>,
}

/// The task's end: delivers envelopes, and knows the position of everything it delivered
/// (read by the stream or still buffered), where the next session continues from.
pub(crate) struct Feeder<P: Position, T> {
    queue: queue::Sender<Envelope<T, P::Mark>>,
    status: watch::Sender<Status>,
    received: P,
}

impl<P: Position, T> Feeder<P, T> {
    /// The position of everything delivered.
    pub fn received(&self) -> &P {
        &self.received
    }

    /// Hands an item to the stream, with the place it moves the position to. When the
    /// buffer is full this waits, or drops the oldest envelope and counts it in
    /// [`Status::dropped`] if it carried an item, as the builder said.
    pub async fn deliver(&mut self, item: T, mark: Option<P::Mark>) -> Result<(), Ended> {
        self.push(Some(item), mark).await
    }

    /// Moves the stream's position without an item (nothing when there is no mark).
    pub async fn advance(&mut self, mark: impl Into<Option<P::Mark>>) -> Result<(), Ended> {
        match mark.into() {
            Some(mark) => self.push(None, Some(mark)).await,
            None => Ok(()),
        }
    }

    async fn push(&mut self, item: Option<T>, mark: Option<P::Mark>) -> Result<(), Ended> {
        if let Some(mark) = &mark {
            self.received.advance(mark);
        }
        match self.queue.push(Envelope { item, mark }).await {
            Ok(Some(Envelope { item: Some(_), .. })) => {
                self.status.send_modify(|s| s.dropped += 1);
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(queue::Closed) => Err(Ended::ConsumerGone),
        }
    }

    /// Hands the stream its last item: why the task stopped for good.
    pub async fn finish(&self, item: T) {
        let _ = self
            .queue
            .push(Envelope {
                item: Some(item),
                mark: None,
            })
            .await;
    }

    /// Whether the stream is gone.
    pub fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }
}

/// The stream's end: yields the items, moves the position as it does, commits it to the
/// resume file when the consumer asks for the next item (the one before is handled then:
/// a consumer killed and restarted sees again at most the item it was handling) and when
/// closed or dropped, and stops the task when closed or dropped.
pub(crate) struct Feed<P: Position, T> {
    rx: queue::Receiver<Envelope<T, P::Mark>>,
    status: watch::Receiver<Status>,
    position: P,
    file: Option<Committer>,
    dirty: bool,
    task: Handle,
}

impl<P: Position, T> Feed<P, T> {
    /// Starts the task that `start` makes of the configuration (with its stream options),
    /// the task's end of the feed and a status sender; returns the stream's end. `status`
    /// is the state before the task starts. Outside a tokio runtime,
    /// [`ConfigError::NoRuntime`].
    pub fn start<C, S>(
        cfg: C,
        status: Status,
        start: impl FnOnce(C, Feeder<P, T>, watch::Sender<Status>) -> S,
    ) -> Result<Self, ConfigError>
    where
        C: AsRef<StreamOptions<P>>,
        S: Serve + Send + 'static,
    {
        let StreamOptions {
            transport,
            delivery,
            resume,
        } = cfg.as_ref();
        let (tx, rx) = queue::channel(delivery.buffer, delivery.backpressure);
        let (status_tx, status_rx) = watch::channel(status);
        let transport = transport.clone();
        let Resume { position, file } = resume.clone();
        let out = Feeder {
            queue: tx,
            status: status_tx.clone(),
            received: position.clone(),
        };
        let task = Handle::spawn(transport, status_tx.clone(), start(cfg, out, status_tx))?;
        Ok(Feed {
            rx,
            status: status_rx,
            position,
            file: file.map(Committer::new),
            dirty: false,
            task,
        })
    }

    /// The next item: commits the position (the item before is handled), then moves it
    /// past every envelope up to the next item.
    pub fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.commit();
        loop {
            let Some(Envelope { item, mark }) = ready!(Pin::new(&mut self.rx).poll_recv(cx)) else {
                return Poll::Ready(None);
            };
            if let Some(mark) = mark {
                self.position.advance(&mark);
                self.dirty = true;
            }
            if let Some(item) = item {
                return Poll::Ready(Some(item));
            }
        }
    }

    /// The task's state, updated as it changes.
    pub fn status(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// The position after the last item yielded.
    pub fn position(&self) -> &P {
        &self.position
    }

    /// Items buffered and not yet read.
    pub fn backlog(&self) -> usize {
        self.rx.len()
    }

    /// Stops the task, waits until it said goodbye, and saves the resume file.
    pub async fn close(mut self) {
        self.task.close().await;
        self.save();
    }

    /// Writes the position if it moved since the last write (atomically; durably at most
    /// once a second).
    fn commit(&mut self) {
        if let (Some(file), true) = (&mut self.file, self.dirty) {
            match file.commit(&self.position) {
                Ok(()) => self.dirty = file.unflushed(),
                Err(e) => {
                    tracing::error!(path = %file.path().display(), "cannot save the resume position: {e}")
                }
            }
        }
    }

    /// Writes the position durably (closing).
    fn save(&mut self) {
        if let (Some(file), true) = (&mut self.file, self.dirty) {
            if let Err(e) = file.close(&self.position) {
                tracing::error!(path = %file.path().display(), "cannot save the resume position: {e}");
            } else {
                self.dirty = false;
            }
        }
    }
}

impl<P: Position, T> Drop for Feed<P, T> {
    fn drop(&mut self) {
        self.save();
    }
}
