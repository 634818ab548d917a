//! Prosody, run by `scripts/prosody/`.

use std::process::{Command, Stdio};

use crate::process::{derefs_to_server, init_tracing, ScriptedServer};

/// The accounts [`Prosody::start`] creates, each with the [`password`] of its name.
pub const ACCOUNTS: [&str; 6] = ["alice", "bob", "carol", "publisher", "publisher2", "mirror"];

/// The password of a test account: its name twice.
pub fn password(user: &str) -> String {
    format!("{user}{user}")
}

/// The JID of room `name` on the MUC service, `{name}@conference.localhost`.
pub fn room_jid(name: &str) -> String {
    format!("{name}@conference.localhost")
}

/// A running Prosody on 127.0.0.1 with a port and state directory of its own (fields of
/// the [`ScriptedServer`] it derefs to); stopped when dropped.
pub struct Prosody {
    server: ScriptedServer,
}

derefs_to_server!(Prosody);

impl Prosody {
    /// A fresh instance with the test [`ACCOUNTS`]; panics if it does not start.
    pub fn start() -> Prosody {
        init_tracing();
        let p = Prosody::try_start().unwrap_or_else(|e| panic!("{e}"));
        p.try_add_users(&ACCOUNTS).unwrap_or_else(|e| panic!("{e}"));
        p
    }

    /// A fresh instance without accounts, or why it did not start.
    pub fn try_start() -> Result<Prosody, String> {
        let server =
            ScriptedServer::try_start("prosody", "PROSODY_C2S_PORT", "PROSODY_STATE_DIR", &|c| {
                c.env("PROSODY_FRESH", "1");
            })?;
        Ok(Prosody { server })
    }

    /// Creates the accounts, each with the [`password`] of its name, all at once.
    pub fn try_add_users(&self, users: &[&str]) -> Result<(), String> {
        let children = users
            .iter()
            .map(|u| {
                self.script("adduser.sh")
                    .arg(u)
                    .arg(password(u))
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .map(|c| (u, c))
                    .map_err(|e| format!("adduser.sh: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut failed = Vec::new();
        for (u, c) in children {
            let out = c.wait_with_output().map_err(|e| e.to_string())?;
            if !out.status.success() {
                failed.push(format!(
                    "adduser {u}: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed.join("\n"))
        }
    }

    /// Runs Lua in the server through its admin shell, as an administrator would; what it
    /// printed. Panics when it fails or prints an error.
    pub fn lua(&self, code: &str) -> String {
        self.try_lua(code).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`lua`](Self::lua), with the failure as an error.
    pub fn try_lua(&self, code: &str) -> Result<String, String> {
        let out = Command::new("prosodyctl")
            .arg("--config")
            .arg(self.state_dir.join("prosody.cfg.lua"))
            .arg("shell")
            .arg(format!(">{code}"))
            .output()
            .map_err(|e| format!("prosodyctl shell: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        if out.status.success() && !text.contains("Error") {
            Ok(text)
        } else {
            Err(format!("lua failed: {code}\n{text}"))
        }
    }

    /// The Lua expression for the object of room `name`, for [`lua`](Self::lua).
    pub fn room_lua(&self, name: &str) -> String {
        format!(
            "prosody.hosts['conference.localhost'].modules.muc.get_room_from_jid('{}')",
            room_jid(name)
        )
    }
}
