//! What every client shares: the account and options it is built with, one session after
//! another (connect, serve, reconnect), the stanzas every session needs, and the way from
//! a task to its stream (feed, queue, position) or from a publisher to its task (outbox).

pub(crate) mod account;
pub(crate) mod connect;
mod depth;
pub(crate) mod feed;
pub(crate) mod options;
pub(crate) mod outbox;
pub(crate) mod position;
pub(crate) mod queue;
pub(crate) mod shortcut;
pub(crate) mod stanzas;
pub(crate) mod task;
pub(crate) mod waiting;
