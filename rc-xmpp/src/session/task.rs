//! The background task behind every stream and publisher: one session after another
//! ([`Sessions`]) around the task's own work in each ([`Serve::serve`]), until the
//! consumer closes it or it fails for good; and the [`Handle`] that stops it.

use std::future::Future;
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::error::{ConfigError, Disconnect, Fatal};
use crate::session::connect::{Next, Session, Sessions};
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
