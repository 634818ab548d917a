//! ejabberd (Debian's package), run by `scripts/ejabberd/`.

use crate::process::{derefs_to_server, init_tracing, ScriptedServer};
use crate::prosody::password;

/// The accounts [`Ejabberd::start`] creates, each with the [`password`] of its name.
pub const EJABBERD_ACCOUNTS: [&str; 4] = ["alice", "bob", "carol", "publisher"];

/// A running ejabberd on 127.0.0.1, an Erlang node of its own (name, cookie, distribution
/// port, Mnesia spool in its state directory: fields of the [`ScriptedServer`] it derefs
/// to); stopped when dropped. The same domains as [`Prosody`](crate::Prosody)'s:
/// accounts on `localhost`, rooms on `conference.localhost` (every room archived by
/// mod_mam, a history of 20 at join), PubSub on `pubsub.localhost`.
pub struct Ejabberd {
    server: ScriptedServer,
}

derefs_to_server!(Ejabberd);

impl Ejabberd {
    /// A fresh instance with the test [`EJABBERD_ACCOUNTS`]; panics if it does not start.
    pub fn start() -> Ejabberd {
        init_tracing();
        let e = Ejabberd::try_start().unwrap_or_else(|e| panic!("{e}"));
        e.try_add_users(&EJABBERD_ACCOUNTS)
            .unwrap_or_else(|e| panic!("{e}"));
        e
    }

    /// A fresh instance without accounts, or why it did not start.
    pub fn try_start() -> Result<Ejabberd, String> {
        Ejabberd::try_start_with(&[])
    }

    /// The same, with more of `scripts/ejabberd/start.sh`'s variables set (e.g.
    /// `EJABBERD_ROOM_MAM`).
    pub fn try_start_with(env: &[(&str, &str)]) -> Result<Ejabberd, String> {
        let server = ScriptedServer::try_start(
            "ejabberd",
            "EJABBERD_C2S_PORT",
            "EJABBERD_STATE_DIR",
            &|c| {
                c.env("EJABBERD_FRESH", "1")
                    .env("EJABBERD_DIST_PORT", crate::free_port().to_string())
                    .envs(env.iter().copied());
            },
        )?;
        Ok(Ejabberd { server })
    }

    /// Creates the accounts (`ejabberdctl register`), each with the [`password`] of its
    /// name, side by side.
    pub fn try_add_users(&self, users: &[&str]) -> Result<(), String> {
        self.server
            .run("adduser.sh", &|c| {
                for u in users {
                    c.arg(u).arg(password(u));
                }
            })
            .map(drop)
    }

    /// Runs `ejabberdctl` on this node, as an administrator would: what it printed, or
    /// what it printed when it failed.
    pub fn ctl(&self, args: &[&str]) -> Result<String, String> {
        self.server.run("ctl.sh", &|c| {
            c.args(args);
        })
    }

    /// Stops cleanly and starts again (same port, node and data), so that everything
    /// written so far is on disk. Mnesia, ejabberd's store, holds the last 2-3 s of writes
    /// in write caches (dets, disk_log) that a SIGKILL loses: accounts registered just
    /// before a [`kill`](crate::ScriptedServer::kill) are gone after it, and so are the newest archived
    /// messages. Call it before a test kills the server.
    pub fn settle(&mut self) {
        self.server
            .run("stop.sh", &|_| {})
            .unwrap_or_else(|e| panic!("{e}"));
        self.restart();
    }

    /// The server's main log (`logs/ejabberd.log` in the state directory), for a failing
    /// test to show.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state_dir.join("logs/ejabberd.log")).unwrap_or_default()
    }
}
