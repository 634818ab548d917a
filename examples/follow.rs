//! Follow any source of recent changes by name, one line per change (or JSON lines):
//! an XMLRC room (optionally backfilled from the wiki's API), a PubSub node, MediaWiki's
//! API, DokuWiki or JSPWiki over WikiRPC, or a WikiPing listener.
//!
//! ```sh
//! cargo run --example follow -- xmpp:wikidb@conference.localhost --anonymous anon.localhost \
//!     --server 127.0.0.1:25222 --tls plaintext-loopback --backfill http://127.0.0.1:8080/api.php --wiki wikidb
//! cargo run --example follow -- "xmpp:pubsub.localhost?;node=wiki" --jid reader@localhost
//! cargo run --example follow -- mediawiki:https://en.wikipedia.org/w/api.php --wiki enwiki --namespace 0
//! cargo run --example follow -- dokuwiki:http://127.0.0.1:8090/lib/exe/xmlrpc.php --user editor --start beginning
//! cargo run --example follow -- wikiping:127.0.0.1:8091
//! ```
//!
//! Passwords come from the environment: `XMPP_PASSWORD` for `--jid`, `WIKI_PASSWORD` for
//! `--user`. `--position FILE` keeps the position there and continues from it. Error
//! items go to stderr and the stream goes on; a fatal one ends the program.

use std::time::Duration;

use clap::Parser;
use futures::StreamExt;
use recentchanges::http::Start;
use recentchanges::source::Source;
use recentchanges::xmpp::Tls;
use recentchanges::Filter;

#[derive(Parser)]
#[command(about = "Print the recent changes of any source, by name")]
struct Args {
    /// xmpp:ROOM@SERVICE, xmpp:SERVICE?;node=NODE, mediawiki:URL, dokuwiki:URL, jspwiki:URL
    /// or wikiping:HOST:PORT.
    source: String,
    /// XMPP account (password in XMPP_PASSWORD).
    #[arg(long, conflicts_with = "anonymous")]
    jid: Option<String>,
    /// Log in anonymously on this XMPP domain instead.
    #[arg(long)]
    anonymous: Option<String>,
    /// XMPP server address (host:port), instead of the DNS lookup.
    #[arg(long)]
    server: Option<String>,
    /// `required` (default), `plaintext-loopback`, or a CA file (PEM) to trust.
    #[arg(long, default_value = "required")]
    tls: String,
    /// Nick in rooms.
    #[arg(long, default_value = "rc-follow")]
    nick: String,
    /// The wiki id stamped on changes (API, WikiRPC) or backfilled (rooms).
    #[arg(long)]
    wiki: Option<String>,
    /// Rooms: fill what the room's archive lacks from this MediaWiki api.php.
    #[arg(long)]
    backfill: Option<String>,
    /// WikiRPC user (password in WIKI_PASSWORD).
    #[arg(long)]
    user: Option<String>,
    /// Polling sources: `now` (default) or `beginning`.
    #[arg(long, default_value = "now")]
    start: String,
    /// Polling sources: seconds between polls.
    #[arg(long)]
    interval: Option<f64>,
    /// Keep the position in this file and continue from it.
    #[arg(long)]
    position: Option<std::path::PathBuf>,
    /// Only these namespaces (repeatable).
    #[arg(long)]
    namespace: Vec<i32>,
    /// JSON lines instead of human lines.
    #[arg(long)]
    json: bool,
}

fn password(var: &str) -> Result<String, String> {
    std::env::var(var).map_err(|_| format!("set {var} to the password"))
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
    let mut source = Source::new(&args.source)?
        .nick(&args.nick)
        .tls(match args.tls.as_str() {
            "required" => Tls::Required,
            "plaintext-loopback" => Tls::PlaintextLoopback,
            ca => Tls::RequiredWithRoots(vec![ca.into()]),
        })
        .start(match args.start.as_str() {
            "beginning" => Start::Beginning,
            _ => Start::Now,
        });
    if let Some(jid) = &args.jid {
        source = source.account(jid, password("XMPP_PASSWORD")?);
    }
    if let Some(domain) = &args.anonymous {
        source = source.anonymous(domain);
    }
    if let Some(server) = &args.server {
        source = source.server(server);
    }
    if let Some(wiki) = &args.wiki {
        source = source.wiki(wiki);
    }
    if let Some(api) = &args.backfill {
        source = source.backfill(api);
    }
    if let Some(user) = &args.user {
        source = source.credentials(user, password("WIKI_PASSWORD")?);
    }
    if let Some(every) = args.interval {
        source = source.interval(Duration::from_secs_f64(every));
    }
    if let Some(path) = &args.position {
        source = source.resume_from_file(path);
    }
    if !args.namespace.is_empty() {
        source = source.filter(Filter::new().namespaces(args.namespace.clone()));
    }
    let mut changes = source.open()?;
    loop {
        let item = tokio::select! {
            item = changes.next() => item,
            _ = tokio::signal::ctrl_c() => break,
        };
        match item {
            None => break,
            Some(Ok(change)) if args.json => println!("{}", serde_json::to_string(&change.change)?),
            Some(Ok(change)) => println!("{change}"),
            Some(Err(e)) if e.is_fatal() => return Err(e.into()),
            Some(Err(e)) => eprintln!("{e}"),
        }
    }
    changes.close(); // saves the position file
    Ok(())
}
