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

// The CLI options, logging and printing the examples share: examples/common/mod.rs.
mod common;

use std::time::Duration;

use clap::Parser;
use common::{Login, Output, XmppLogin};
use futures::StreamExt;
use recentchanges::http::Start;
use recentchanges::source::Source;
use recentchanges::Filter;

#[derive(Parser)]
#[command(about = "Print the recent changes of any source, by name")]
struct Args {
    /// xmpp:ROOM@SERVICE, xmpp:SERVICE?;node=NODE, mediawiki:URL, dokuwiki:URL, jspwiki:URL
    /// or wikiping:HOST:PORT.
    source: String,
    #[command(flatten)]
    xmpp: XmppLogin,
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
    #[command(flatten)]
    output: Output,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logging("warn");
    let args = Args::parse();
    let mut source = Source::new(&args.source)?
        .nick(&args.nick)
        .tls(args.xmpp.connect.tls.clone())
        .start(match args.start.as_str() {
            "beginning" => Start::Beginning,
            _ => Start::Now,
        });
    match args.xmpp.login_if_any("XMPP_PASSWORD")? {
        Some(Login::Account { jid, password }) => source = source.account(jid, password),
        Some(Login::Anonymous { domain }) => source = source.anonymous(domain),
        None => {}
    }
    if let Some(server) = &args.xmpp.connect.server {
        source = source.server(server);
    }
    if let Some(wiki) = &args.wiki {
        source = source.wiki(wiki);
    }
    if let Some(api) = &args.backfill {
        source = source.backfill(api);
    }
    if let Some(user) = &args.user {
        source = source.credentials(user, common::password("WIKI_PASSWORD")?);
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
            _ = common::shutdown() => break,
        };
        match item {
            None => break,
            Some(Ok(change)) => args.output.print(&change),
            Some(Err(e)) if e.is_fatal() => return Err(e.into()),
            Some(Err(e)) => eprintln!("{e}"),
        }
    }
    changes.close(); // saves the position file
    Ok(())
}
