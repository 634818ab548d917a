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

use clap::Parser;
use futures::StreamExt;
use recentchanges::xmpp::{Client, Connection, History, StreamError, Tls};
use recentchanges::{Filter, Kind};

#[derive(Parser)]
#[command(about = "Print the recent changes posted in XMPP rooms")]
struct Args {
    /// Rooms to follow (bare JIDs).
    #[arg(required = true)]
    rooms: Vec<String>,
    /// Account to log in with (password in XMPP_PASSWORD).
    #[arg(long, conflicts_with = "anonymous")]
    jid: Option<String>,
    /// Log in anonymously on this domain instead.
    #[arg(long)]
    anonymous: Option<String>,
    /// Server address (host:port), instead of the DNS lookup.
    #[arg(long)]
    server: Option<String>,
    /// `required` (default), `plaintext-loopback`, or a CA file (PEM) to trust.
    #[arg(long, default_value = "required")]
    tls: String,
    /// Nick in the rooms.
    #[arg(long, default_value = "rc-tail")]
    nick: String,
    /// Also print the last N messages each room kept.
    #[arg(long)]
    history: Option<u32>,
    /// Continue from (and keep up to date) this position file.
    #[arg(long)]
    resume: Option<std::path::PathBuf>,
    /// JSON lines instead of human lines.
    #[arg(long)]
    json: bool,
    /// Only these namespaces (repeatable).
    #[arg(long)]
    namespace: Vec<i32>,
    /// Only these kinds: edit, new, log, categorize, external (repeatable).
    #[arg(long)]
    kind: Vec<String>,
    /// Hide bot changes.
    #[arg(long)]
    no_bots: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut builder = match (&args.jid, &args.anonymous) {
        (Some(jid), _) => Client::builder(
            jid,
            std::env::var("XMPP_PASSWORD").map_err(|_| "set XMPP_PASSWORD")?,
        )?,
        (None, Some(domain)) => Client::anonymous(domain)?,
        (None, None) => return Err("give --jid or --anonymous".into()),
    };
    for room in &args.rooms {
        builder = builder.room(room, &args.nick)?;
    }
    if let Some(server) = &args.server {
        builder = builder.server(server)?;
    }
    builder = builder.tls(match args.tls.as_str() {
        "required" => Tls::Required,
        "plaintext-loopback" => Tls::PlaintextLoopback,
        ca => Tls::RequiredWithRoots(vec![ca.into()]),
    });
    if let Some(n) = args.history {
        builder = builder.history(History::Last(n));
    }
    if let Some(path) = &args.resume {
        builder = builder.resume_from_file(path)?;
    }
    let mut filter = Filter::new();
    if !args.namespace.is_empty() {
        filter = filter.namespaces(args.namespace.iter().copied());
    }
    if !args.kind.is_empty() {
        filter = filter.kinds(args.kind.iter().map(|k| Kind::from_wire(k)));
    }
    if args.no_bots {
        filter = filter.not_bot();
    }
    let mut changes = builder.filter(filter).connect();
    let mut status = changes.status();
    tokio::spawn(async move {
        while status.changed().await.is_ok() {
            let s = status.borrow().connection.clone();
            if let Connection::Reconnecting { attempt, delay } = s {
                eprintln!("reconnecting (attempt {attempt}) in {delay:?}");
            }
        }
    });
    loop {
        tokio::select! {
            item = changes.next() => match item {
                Some(Ok(c)) if args.json => println!("{}", serde_json::to_string(&c.change)?),
                Some(Ok(c)) => println!("{}", c.human_line(None)),
                Some(Err(StreamError::Fatal(e))) => return Err(e.into()),
                Some(Err(e)) => eprintln!("{e}"),
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    changes.close().await;
    Ok(())
}
