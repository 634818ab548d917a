//! The plumbing the example programs share: their common command-line options (XMPP login,
//! output, filter, polling start), logging, the line printed per change, passwords from the
//! environment, and Ctrl-C. Nothing here is SDK API: each example still makes its own calls
//! to `recentchanges` in its `main`, which is what it is there to show.
//!
//! Each example includes this file with `mod common;`. Cargo builds only the files directly
//! in `examples/` as examples, so this directory is not one of its own.

// Every example uses only part of this module, and the compiler sees a separate copy in
// each: without this, each example would warn about the parts it leaves alone.
#![allow(dead_code)]

use std::path::PathBuf;

use recentchanges::http::Start;
use recentchanges::xmpp::{Connection, Tls};
use recentchanges::{Filter, Kind, RecentChange};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Logs to stderr (stdout is for the changes), at `RUST_LOG` or else `default` ("warn").
pub fn init_logging(default: &str) {
    init_logging_to(default, std::io::stderr);
}

/// [`init_logging`], to another writer.
pub fn init_logging_to<W>(default: &str, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into()))
        .with_writer(writer)
        .init();
}

/// A password from the environment variable `var` (a command line is visible to `ps`).
pub fn password(var: &str) -> Result<String, String> {
    std::env::var(var).map_err(|_| format!("set {var} to the password"))
}

/// Resolves at Ctrl-C: the examples stop there, closing their streams cleanly.
pub async fn shutdown() {
    let _ = tokio::signal::ctrl_c().await;
}

/// A `tls` setting: `required`, `plaintext-loopback`, or else the path of a CA file (PEM)
/// to trust.
pub fn tls(setting: &str) -> Tls {
    match setting {
        "required" => Tls::Required,
        "plaintext-loopback" => Tls::PlaintextLoopback,
        ca => Tls::RequiredWithRoots(vec![ca.into()]),
    }
}

fn parse_tls(setting: &str) -> Result<Tls, std::convert::Infallible> {
    Ok(tls(setting))
}

/// Where and how to reach the XMPP server: `--server`, `--tls`.
#[derive(clap::Args)]
pub struct XmppConnect {
    /// XMPP server address (host:port), instead of the DNS lookup.
    #[arg(long)]
    pub server: Option<String>,
    /// `required` (default), `plaintext-loopback`, or a CA file (PEM) to trust.
    #[arg(long, default_value = "required", value_parser = parse_tls)]
    pub tls: Tls,
}

/// Who logs in to XMPP (`--jid` or `--anonymous`), and where ([`XmppConnect`]).
#[derive(clap::Args)]
pub struct XmppLogin {
    /// XMPP account (password in XMPP_PASSWORD).
    #[arg(long, conflicts_with = "anonymous")]
    pub jid: Option<String>,
    /// Log in anonymously on this XMPP domain instead.
    #[arg(long)]
    pub anonymous: Option<String>,
    #[command(flatten)]
    pub connect: XmppConnect,
}

/// An XMPP login, as [`XmppLogin`] asks for it.
pub enum Login<'a> {
    /// A registered account and its password.
    Account { jid: &'a str, password: String },
    /// SASL ANONYMOUS on this domain.
    Anonymous { domain: &'a str },
}

impl XmppLogin {
    /// The login asked for, the account's password taken from `password_var`; an error
    /// when there is neither `--jid` nor `--anonymous`.
    pub fn login(&self, password_var: &str) -> Result<Login<'_>, String> {
        self.login_if_any(password_var)?
            .ok_or_else(|| "give --jid or --anonymous".into())
    }

    /// [`login`](Self::login), for programs that need XMPP only for some sources.
    pub fn login_if_any(&self, password_var: &str) -> Result<Option<Login<'_>>, String> {
        Ok(match (&self.jid, &self.anonymous) {
            (Some(jid), _) => Some(Login::Account {
                jid,
                password: password(password_var)?,
            }),
            (None, Some(domain)) => Some(Login::Anonymous { domain }),
            (None, None) => None,
        })
    }
}

/// Says on stderr when a connection is being retried.
pub fn report_reconnecting(connection: &Connection) {
    if let Connection::Reconnecting { attempt, delay } = connection {
        eprintln!("reconnecting (attempt {attempt}) in {delay:?}");
    }
}

/// How each change is printed: `--json`.
#[derive(clap::Args)]
pub struct Output {
    /// JSON lines instead of human lines.
    #[arg(long)]
    pub json: bool,
}

impl Output {
    /// One line on stdout: the change as JSON, or its human line.
    pub fn print(&self, rc: &RecentChange) {
        self.print_linked(rc, None);
    }

    /// [`print`](Self::print), with links to `base_url` where the change carries none.
    pub fn print_linked(&self, rc: &RecentChange, base_url: Option<&str>) {
        if self.json {
            let json = serde_json::to_string(rc).expect("a change always serialises");
            println!("{json}");
        } else {
            println!("{}", rc.human_line(base_url));
        }
    }
}

/// Which changes to show: `--namespace`, `--kind`, `--no-bots`.
#[derive(clap::Args)]
pub struct FilterArgs {
    /// Only these namespaces (repeatable).
    #[arg(long)]
    pub namespace: Vec<i32>,
    /// Only these kinds: edit, new, log, categorize, external (repeatable).
    #[arg(long)]
    pub kind: Vec<String>,
    /// Hide bot changes.
    #[arg(long)]
    pub no_bots: bool,
}

impl FilterArgs {
    /// The [`Filter`] these options describe (everything, without any).
    pub fn filter(&self) -> Filter {
        let mut filter = Filter::new();
        if !self.namespace.is_empty() {
            filter = filter.namespaces(self.namespace.iter().copied());
        }
        if !self.kind.is_empty() {
            filter = filter.kinds(self.kind.iter().map(|k| Kind::from_wire(k)));
        }
        if self.no_bots {
            filter = filter.not_bot();
        }
        filter
    }
}

/// Where a poller starts: `--position FILE`, `--from-beginning`.
#[derive(clap::Args)]
pub struct PollStart {
    /// Continue from (and keep up to date) this position file.
    #[arg(long)]
    pub position: Option<PathBuf>,
    /// Without a saved position, start with the oldest change the wiki lists (default: now).
    #[arg(long)]
    pub from_beginning: bool,
}

impl PollStart {
    /// Where to start when there is no saved position.
    pub fn start(&self) -> Start {
        if self.from_beginning {
            Start::Beginning
        } else {
            Start::Now
        }
    }
}
