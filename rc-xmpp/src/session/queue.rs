//! The bounded buffer between the connection task and the consumer, with the builder's
//! backpressure policy.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;

use crate::session::options::Backpressure;

struct State<T> {
    items: VecDeque<T>,
    waker: Option<Waker>,
    receiver_gone: bool,
    sender_gone: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    space: Notify,
    capacity: usize,
    policy: Backpressure,
}

pub(crate) struct Sender<T>(Arc<Shared<T>>);
pub(crate) struct Receiver<T>(Arc<Shared<T>>);

/// The consumer went away.
#[derive(Debug)]
pub(crate) struct Closed;

pub(crate) fn channel<T>(capacity: usize, policy: Backpressure) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            // Grown as items wait, not reserved: a consumer that keeps up holds one or two,
            // and a ring reserved for thousands of changes (each several hundred bytes)
            // page-faults its way through megabytes of memory it never needs.
            items: VecDeque::new(),
            waker: None,
            receiver_gone: false,
            sender_gone: false,
        }),
        space: Notify::new(),
        capacity,
        policy,
    });
    (Sender(shared.clone()), Receiver(shared))
}

impl<T> Sender<T> {
    /// Queues an item. With [`Backpressure::Wait`] waits for room; with
    /// [`Backpressure::DropOldest`] returns the old item it dropped to make room, if any.
    pub async fn push(&self, item: T) -> Result<Option<T>, Closed> {
        let mut item = Some(item);
        loop {
            let space = self.0.space.notified();
            {
                let mut st = self.0.state.lock().unwrap();
                if st.receiver_gone {
                    return Err(Closed);
                }
                let mut dropped = None;
                if st.items.len() >= self.0.capacity {
                    match self.0.policy {
                        Backpressure::Wait => {}
                        Backpressure::DropOldest => dropped = st.items.pop_front(),
                    }
                }
                if st.items.len() < self.0.capacity {
                    st.items.push_back(item.take().expect("pushed once"));
                    if let Some(w) = st.waker.take() {
                        w.wake();
                    }
                    return Ok(dropped);
                }
            }
            space.await;
        }
    }

    /// Whether the consumer is gone.
    pub fn is_closed(&self) -> bool {
        self.0.state.lock().unwrap().receiver_gone
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut st = self.0.state.lock().unwrap();
        st.sender_gone = true;
        if let Some(w) = st.waker.take() {
            w.wake();
        }
    }
}

impl<T> Receiver<T> {
    pub fn poll_recv(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut st = self.0.state.lock().unwrap();
        if let Some(item) = st.items.pop_front() {
            drop(st);
            self.0.space.notify_one();
            return Poll::Ready(Some(item));
        }
        if st.sender_gone {
            return Poll::Ready(None);
        }
        st.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.0.state.lock().unwrap().items.len()
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.0.state.lock().unwrap().receiver_gone = true;
        self.0.space.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;

    #[tokio::test]
    async fn drop_oldest_keeps_the_newest_and_counts() {
        let (tx, mut rx) = channel(2, Backpressure::DropOldest);
        assert_eq!(tx.push(1).await.unwrap(), None);
        assert_eq!(tx.push(2).await.unwrap(), None);
        assert_eq!(tx.push(3).await.unwrap(), Some(1));
        let mut got = vec![];
        drop(tx);
        while let Some(i) = poll_fn(|cx| Pin::new(&mut rx).poll_recv(cx)).await {
            got.push(i);
        }
        assert_eq!(got, [2, 3]);
    }

    #[tokio::test]
    async fn wait_blocks_until_the_consumer_reads() {
        let (tx, mut rx) = channel(1, Backpressure::Wait);
        tx.push(1).await.unwrap();
        let pusher = tokio::spawn(async move {
            tx.push(2).await.unwrap();
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!pusher.is_finished(), "the second push waits for room");
        assert_eq!(rx.len(), 1);
        assert_eq!(poll_fn(|cx| Pin::new(&mut rx).poll_recv(cx)).await, Some(1));
        pusher.await.unwrap();
        assert_eq!(poll_fn(|cx| Pin::new(&mut rx).poll_recv(cx)).await, Some(2));
    }

    #[tokio::test]
    async fn a_consumer_that_keeps_up_holds_a_small_buffer() {
        let (tx, mut rx) = channel(10_000, Backpressure::Wait);
        for i in 0..10_000 {
            tx.push(i).await.unwrap();
            assert_eq!(poll_fn(|cx| Pin::new(&mut rx).poll_recv(cx)).await, Some(i));
        }
        let reserved = tx.0.state.lock().unwrap().items.capacity();
        assert!(
            reserved <= 8,
            "{reserved} items reserved for one waiting at a time"
        );
    }

    #[tokio::test]
    async fn a_gone_consumer_closes_the_sender() {
        let (tx, rx) = channel::<u8>(1, Backpressure::Wait);
        drop(rx);
        assert!(tx.push(1).await.is_err());
        assert!(tx.is_closed());
    }
}
