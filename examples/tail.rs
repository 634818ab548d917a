//! Print the live changes of one or more rooms, one line per change: the bridge's human
//! line, or JSON lines.
//!
//! ```sh
//! cargo run --example tail -- --jid reader@example.org enwiki@conference.example.org --namespace 0 --no-bots
//! cargo run --example tail -- --anonymous anon.localhost --server 127.0.0.1:25222 --tls plaintext-loopback wikidb@conference.localhost
//! ```
//!
//! The password comes from `XMPP_PASSWORD`. Error items (a message that is not a change,
//! a room that failed) go to stderr; the tail goes on.

// The CLI options, logging and printing the examples share: examples/common/mod.rs.
mod common;

use clap::Parser;
use common::{FilterArgs, Login, Output, XmppLogin};
use futures::StreamExt;
use recentchanges::xmpp::{Client, History, StreamError};

#[derive(Parser)]
#[command(about = "Print the recent changes posted in XMPP rooms")]
struct Args {
    /// Rooms to follow (bare JIDs).
    #[arg(required = true)]
    rooms: Vec<String>,
    #[command(flatten)]
    xmpp: XmppLogin,
    /// Nick in the rooms.
    #[arg(long, default_value = "rc-tail")]
    nick: String,
    /// Also print the last N messages each room kept.
    #[arg(long)]
    history: Option<u32>,
    /// Continue from (and keep up to date) this position file.
    #[arg(long)]
    resume: Option<std::path::PathBuf>,
    #[command(flatten)]
    output: Output,
    #[command(flatten)]
    filter: FilterArgs,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logging("warn");
    let args = Args::parse();
    let mut builder = match args.xmpp.login("XMPP_PASSWORD")? {
        Login::Account { jid, password } => Client::builder(jid, password)?,
        Login::Anonymous { domain } => Client::anonymous(domain)?,
    };
    for room in &args.rooms {
        builder = builder.room(room, &args.nick)?;
    }
    if let Some(server) = &args.xmpp.connect.server {
        builder = builder.server(server)?;
    }
    builder = builder.tls(args.xmpp.connect.tls.clone());
    if let Some(n) = args.history {
        builder = builder.history(History::Last(n));
    }
    if let Some(path) = &args.resume {
        builder = builder.resume_from_file(path)?;
    }
    let mut changes = builder.filter(args.filter.filter()).connect()?;
    let mut status = changes.status();
    tokio::spawn(async move {
        while status.changed().await.is_ok() {
            let connection = status.borrow().connection.clone();
            common::report_reconnecting(&connection);
        }
    });
    loop {
        tokio::select! {
            item = changes.next() => match item {
                Some(Ok(c)) => args.output.print(&c),
                Some(Err(StreamError::Fatal(e))) => return Err(e.into()),
                Some(Err(e)) => eprintln!("{e}"),
                None => break,
            },
            _ = common::shutdown() => break,
        }
    }
    changes.close().await;
    Ok(())
}
