//! The background task behind every stream and publisher: one session after another
//! ([`Sessions`]) around the task's own work in each ([`Serve::serve`]), until the
//! consumer closes it or it fails for good; and the [`Handle`] that stops it.
//!
//! Within one session, the room client and the PubSub subscriber share one loop
//! ([`serve_session`]): read the server's stream, keep time, say goodbye when told to;
//! what differs between them is their [`InSession`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_xmpp::jid::{BareJid, FullJid};
use tokio_xmpp::xmlstream::{FallibleStreamElement, ReadError, StreamElementError};
use tokio_xmpp::Stanza;

use super::shortcut::{Groupchat, Shortcut};
use super::stanzas::Ids;
use crate::error::{ConfigError, Disconnect, Fatal};
use crate::session::connect::{self, Incoming, Next, Session, Sessions, Stream};
use crate::session::options::Transport;
use crate::status::{Connection, Status};

/// How a session ended.
pub(crate) enum Ended {
    /// Closed by the consumer; the session said goodbye.
    Shutdown,
    /// The consumer is gone (its stream or publisher was dropped): nobody is left to tell.
    ConsumerGone,
    /// The connection was lost, for this reason: the next session follows.
    Lost(Disconnect),
}

/// A task's own work, session by session: the room client, the PubSub subscriber and the
/// two publishers.
pub(crate) trait Serve {
    /// Works in one session until it ends, or until `shutdown` says to stop.
    fn serve(
        &mut self,
        session: Session,
        shutdown: &mut oneshot::Receiver<()>,
    ) -> impl Future<Output = Ended> + Send;

    /// The task gives up for good (it is logged and in the status already): tell the
    /// consumer, where the status is not all it reads. Nothing more by default.
    fn failed(&mut self, fatal: Fatal) -> impl Future<Output = ()> + Send {
        let _ = fatal;
        async {}
    }
}

/// How often a session's clock ticks ([`InSession::tick`]).
const TICK: Duration = Duration::from_millis(250);

/// What a task does within one session, driven by [`serve_session`]: the room client
/// joins rooms, the subscriber subscribes to nodes, the publishers post what the
/// application hands them; the loop around them is the same. `Self::State` is what the
/// task keeps for one session (its rooms, its nodes, what it sent).
pub(crate) trait InSession: Send {
    /// What lives as long as one session.
    type State: Send;

    /// Work the application hands the task besides the server's stanzas (a publisher's
    /// posts); `Infallible` for the streams.
    type Work: Send;

    /// The session has begun: send the first requests.
    fn start(
        &mut self,
        stream: &mut Stream,
        jid: &FullJid,
    ) -> impl Future<Output = Result<Self::State, Ended>> + Send;

    /// The clock ticked: whatever is due (rejoins, retries, self-pings, requests waiting
    /// too long). Nothing, by default.
    fn tick(
        &mut self,
        state: &mut Self::State,
        stream: &mut Stream,
        jid: &FullJid,
        now: Instant,
    ) -> impl Future<Output = Result<(), Ended>> + Send {
        let _ = (state, stream, jid, now);
        async { Ok(()) }
    }

    /// A stanza from the server.
    fn stanza(
        &mut self,
        state: &mut Self::State,
        stream: &mut Stream,
        jid: &FullJid,
        stanza: Stanza,
    ) -> impl Future<Output = Result<(), Ended>> + Send;

    /// A stanza the XMPP parser refused, with its sender when its header names one.
    fn invalid(
        &mut self,
        state: &mut Self::State,
        from: Option<BareJid>,
        error: StreamElementError,
    ) -> impl Future<Output = Result<(), Ended>> + Send;

    /// The consumer closes the stream: leave politely (the stream footer follows).
    fn goodbye(
        &mut self,
        state: &Self::State,
        stream: &mut Stream,
        jid: &FullJid,
    ) -> impl Future<Output = ()> + Send;

    /// Whether the consumer is gone (checked as the clock ticks).
    fn consumer_gone(&self) -> bool;

    /// The next piece of work from the application, when there is room for it; `None`
    /// when the application is gone. Never, by default.
    fn next_work(&mut self) -> impl Future<Output = Option<Self::Work>> + Send {
        std::future::pending()
    }

    /// Takes a piece of work from [`next_work`](Self::next_work).
    fn work(
        &mut self,
        state: &mut Self::State,
        work: Self::Work,
    ) -> impl Future<Output = Result<(), Ended>> + Send {
        let _ = (state, work);
        async { Ok(()) }
    }

    /// Before each wait: sends what is ready to go (a publisher's outbox). Nothing, by
    /// default.
    fn flush(
        &mut self,
        state: &mut Self::State,
        stream: &mut Stream,
    ) -> impl Future<Output = Result<(), Ended>> + Send {
        let _ = (state, stream);
        async { Ok(()) }
    }

    /// The ids for this task's requests (the keepalive ping takes one).
    fn ids(&mut self) -> &mut Ids;

    /// The session's [`Shortcut`], before [`start`](Self::start): a task that reads
    /// groupchat changes enables it. Unused, by default.
    fn shortcut(&mut self, shortcut: Arc<Shortcut>) {
        let _ = shortcut;
    }

    /// A groupchat change read the short way, in its place among the stanzas. Only a
    /// task that enabled its [`Shortcut`] gets one.
    fn short(
        &mut self,
        state: &mut Self::State,
        read: Groupchat,
    ) -> impl Future<Output = Result<(), Ended>> + Send {
        let _ = (state, read);
        async { Ok(()) }
    }
}

/// What woke a session up. (Matched at once: boxing the read would cost an allocation
/// per stanza.)
#[allow(clippy::large_enum_variant)]
enum Wake<W> {
    Read(Option<Result<FallibleStreamElement, ReadError>>),
    Tick,
    Shutdown,
    Work(Option<W>),
    Short(Groupchat),
}

/// One session of a task, until it ends: the loop every client shares.
pub(crate) async fn serve_session<T: InSession>(
    task: &mut T,
    session: Session,
    shutdown: &mut oneshot::Receiver<()>,
) -> Ended {
    let Session {
        mut stream,
        jid,
        shortcut,
    } = session;
    task.shortcut(shortcut.clone());
    let mut state = match task.start(&mut stream, &jid).await {
        Ok(state) => state,
        Err(end) => return end,
    };
    let mut ticker = tokio::time::interval(TICK);
    loop {
        if let Err(end) = task.flush(&mut state, &mut stream).await {
            return end;
        }
        let wake = tokio::select! {
            el = stream.next() => Wake::Read(el),
            _ = ticker.tick() => Wake::Tick,
            _ = &mut *shutdown => Wake::Shutdown,
            work = task.next_work() => Wake::Work(work),
            read = shortcut.ready() => Wake::Short(read),
        };
        let result = match wake {
            Wake::Read(element) => {
                match connect::incoming(&mut stream, element, task.ids()).await {
                    Incoming::Stanza(s) => task.stanza(&mut state, &mut stream, &jid, s).await,
                    Incoming::Invalid { from, error } => {
                        task.invalid(&mut state, from, error).await
                    }
                    Incoming::Skip => Ok(()),
                    Incoming::Lost(reason) => Err(Ended::Lost(reason)),
                }
            }
            Wake::Tick if task.consumer_gone() => Err(Ended::ConsumerGone),
            Wake::Tick => {
                task.tick(&mut state, &mut stream, &jid, Instant::now())
                    .await
            }
            Wake::Shutdown => {
                task.goodbye(&state, &mut stream, &jid).await;
                connect::close(&mut stream).await;
                Err(Ended::Shutdown)
            }
            Wake::Work(Some(work)) => task.work(&mut state, work).await,
            Wake::Short(read) => task.short(&mut state, read).await,
            Wake::Work(None) => {
                connect::close(&mut stream).await;
                Err(Ended::ConsumerGone)
            }
        };
        if let Err(end) = result {
            return end;
        }
    }
}

/// Connects with `transport`, serves, and reconnects until closed or failed for good,
/// publishing the connection's state in `status` as it goes.
async fn run(
    transport: Transport,
    status: watch::Sender<Status>,
    mut task: impl Serve,
    mut shutdown: oneshot::Receiver<()>,
) {
    let mut sessions = Sessions::default();
    let mut lost = None;
    loop {
        match sessions
            .next(&transport, &status, lost.take(), &mut shutdown)
            .await
        {
            Next::Session(session) => match task.serve(*session, &mut shutdown).await {
                Ended::Shutdown => break,
                Ended::ConsumerGone => return,
                Ended::Lost(reason) => lost = Some(reason),
            },
            Next::Closed => break,
            Next::Failed(fatal) => {
                tracing::error!(error = %fatal, "giving up");
                status.send_modify(|s| {
                    s.connection = Connection::Failed {
                        reason: fatal.to_string(),
                    }
                });
                return task.failed(fatal).await;
            }
        }
    }
    status.send_modify(|s| s.connection = Connection::Closed);
}

/// A started task, stopped when closed or dropped.
pub(crate) struct Handle {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Handle {
    /// Starts `task` in the background ([`run`]): its sessions are opened with
    /// `transport`, the connection's state goes to `status`. Outside a tokio runtime,
    /// [`ConfigError::NoRuntime`].
    pub fn spawn(
        transport: Transport,
        status: watch::Sender<Status>,
        task: impl Serve + Send + 'static,
    ) -> Result<Handle, ConfigError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        let (stop, shutdown) = oneshot::channel();
        let task = runtime.spawn(run(transport, status, task, shutdown));
        Ok(Handle {
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Tells the task to stop, and waits until it has said goodbye (5 s at the most).
    pub async fn close(&mut self) {
        self.stop();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    /// Tells the task to stop.
    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop();
    }
}
