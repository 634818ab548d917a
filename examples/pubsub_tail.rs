//! Print the changes published to XMPP PubSub nodes (XEP-0060), one line per change: the
//! way DokuWiki's dokupubsub published each page edit, as an Atom entry.
//!
//! ```sh
//! cargo run --example pubsub_tail -- --jid reader@example.org pubsub.example.org wiki
//! cargo run --example pubsub_tail -- --anonymous anon.localhost --server 127.0.0.1:25222 \
//!     --tls plaintext-loopback --position wiki.pos pubsub.localhost wiki other-wiki
//! ```
//!
//! The password comes from `XMPP_PASSWORD`. With `--position` the run continues where the
//! previous one stopped: items published meanwhile are printed first. Error items (an
//! item that is not a change, a node the service refused) go to stderr; the tail goes on.

use clap::Parser;
use futures::StreamExt;
use recentchanges::xmpp::pubsub::{NodeStreamError, Subscriber};
use recentchanges::xmpp::{Connection, Tls};

#[derive(Parser)]
#[command(about = "Print the recent changes published to XMPP PubSub nodes")]
struct Args {
    /// The PubSub service, e.g. pubsub.example.org.
    service: String,
    /// Nodes to follow on that service.
    #[arg(required = true)]
    nodes: Vec<String>,
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
    /// Continue from (and keep up to date) this position file.
    #[arg(long)]
    position: Option<std::path::PathBuf>,
    /// On a node's first run, also print its newest N items.
    #[arg(long, default_value_t = 0)]
    last: u32,
    /// JSON lines instead of human lines.
    #[arg(long)]
    json: bool,
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
        (Some(jid), _) => Subscriber::builder(
            jid,
            std::env::var("XMPP_PASSWORD").map_err(|_| "set XMPP_PASSWORD")?,
        )?,
        (None, Some(domain)) => Subscriber::anonymous(domain)?,
        (None, None) => return Err("give --jid or --anonymous".into()),
    };
    for node in &args.nodes {
        builder = builder.node(&args.service, node)?;
    }
    if let Some(server) = &args.server {
        builder = builder.server(server)?;
    }
    builder = builder.tls(match args.tls.as_str() {
        "required" => Tls::Required,
        "plaintext-loopback" => Tls::PlaintextLoopback,
        ca => Tls::RequiredWithRoots(vec![ca.into()]),
    });
    if let Some(path) = &args.position {
        builder = builder.resume_from_file(path)?;
    }
    let mut changes = builder.last_items(args.last).try_connect()?;
    let mut status = changes.status();
    tokio::spawn(async move {
        let mut gaps = 0;
        while status.changed().await.is_ok() {
            let s = status.borrow().clone();
            if let Connection::Reconnecting { attempt, delay } = s.connection {
                eprintln!("reconnecting (attempt {attempt}) in {delay:?}");
            }
            if s.gaps > gaps {
                gaps = s.gaps;
                eprintln!("items may be missing: a node no longer held the last item seen");
            }
        }
    });
    loop {
        tokio::select! {
            item = changes.next() => match item {
                Some(Ok(c)) if args.json => println!("{}", serde_json::to_string(&c.change)?),
                Some(Ok(c)) => println!("{}", c.human_line(None)),
                Some(Err(NodeStreamError::Fatal(e))) => return Err(e.into()),
                Some(Err(e)) => eprintln!("{e}"),
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    changes.close().await;
    Ok(())
}
