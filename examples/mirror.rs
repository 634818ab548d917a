//! `mirror`: keeps a local directory of page texts in step with a wiki, following its
//! changes from any source (the wiki's own API by default, EventStreams filtered to the
//! wiki, its XMPP room as the udp2xmpp bridge posts them, or a DokuWiki's or JSPWiki's
//! WikiRPC endpoint) and fetching texts from its API (or, for a WikiRPC source, from the
//! same endpoint). A thin command line over `recentchanges::mirror::run`.
//!
//! ```sh
//! # No push feed needed: poll the API itself.
//! cargo run --example mirror -- --api https://wiki.example/w/api.php --dir ./pages
//! # A DokuWiki: changes and texts over WikiRPC (a page saved empty is deleted there, and
//! # loses its file); only its `wiki:` namespace.
//! MIRROR_WIKI_PASSWORD=secret cargo run --example mirror -- --dir ./pages \
//!     --source dokuwiki:http://127.0.0.1:8090/lib/exe/xmlrpc.php --user editor --prefix wiki:
//! # A Wikimedia wiki: EventStreams, filtered to the wiki.
//! cargo run --example mirror -- --api https://en.wikipedia.org/w/api.php --dir ./pages \
//!     --source eventstreams:recentchange --wiki enwiki --namespace 0 --prefix 'Rust'
//! # An XMLRC room.
//! MIRROR_XMPP_PASSWORD=secret cargo run --example mirror -- \
//!     --api http://127.0.0.1:8080/api.php --dir ./pages --source xmpp:wikidb@conference.localhost \
//!     --jid mirror@localhost --server 127.0.0.1:25222 --tls plaintext-loopback
//! ```
//!
//! One file per page holding its current text, named by percent-encoding the title
//! (`Talk:Café au lait` is `Talk%3ACaf%C3%A9_au_lait`; see `recentchanges_http::mirror::file_name`).
//! Files are replaced atomically. An empty directory is filled by a full sync first; a
//! restart continues from the position saved in `DIR/.mirror-state.json` (saved with the
//! sync, then after each batch; the room's archive replays what was missed). Stop it with
//! Ctrl-C, or kill it: nothing is lost.

// The CLI options, logging and printing the examples share: examples/common/mod.rs.
mod common;

use std::time::Duration;

use clap::Parser;
use common::{Login, XmppLogin};
use recentchanges::http::mirror::{MirrorConfig, TextSource};
use recentchanges::http::Api;
use recentchanges::source::Source;
use recentchanges::Filter;

#[derive(Parser)]
#[command(
    about = "Keep a directory of a wiki's page texts up to date from any source of its changes"
)]
// The account's password has a variable of its own here.
#[command(mut_arg("jid", |a| a.help("XMPP account, for xmpp: sources (password in MIRROR_XMPP_PASSWORD)")))]
struct Args {
    /// The wiki's api.php URL (not needed with a mediawiki:, dokuwiki: or jspwiki: source,
    /// whose endpoint gives the texts too).
    #[arg(long)]
    api: Option<String>,
    /// Where its changes come from (default: mediawiki:API, polling the API itself).
    #[arg(long)]
    source: Option<String>,
    /// WikiRPC sources: log in with HTTP basic auth as this user (password in
    /// MIRROR_WIKI_PASSWORD).
    #[arg(long)]
    user: Option<String>,
    /// The wiki's id (database name, e.g. enwiki): with a shared source such as
    /// EventStreams, only its changes are applied.
    #[arg(long)]
    wiki: Option<String>,
    /// Only pages whose title starts with this.
    #[arg(long)]
    prefix: Option<String>,
    /// Only these pages (repeatable).
    #[arg(long)]
    page: Vec<String>,
    /// Only the pages in this category. MediaWiki only.
    #[arg(long)]
    category: Option<String>,
    /// Keep each page's metadata in .meta/ (MediaWiki: revision id, timestamp, SHA-1;
    /// WikiRPC: version, timestamp, author).
    #[arg(long)]
    metadata: bool,
    /// Seconds between polls, for polling sources.
    #[arg(long, default_value_t = 5.0)]
    interval: f64,
    /// The mirror directory.
    #[arg(long)]
    dir: std::path::PathBuf,
    #[command(flatten)]
    xmpp: XmppLogin,
    /// Nick in the room.
    #[arg(long, default_value = "mirror")]
    nick: String,
    /// Only these namespaces (repeatable; default: all). MediaWiki only.
    #[arg(long)]
    namespace: Vec<i32>,
    /// Apply a batch once no change came for this many milliseconds...
    #[arg(long, default_value_t = 500)]
    debounce_ms: u64,
    /// ...or this many after its first change.
    #[arg(long, default_value_t = 5000)]
    max_delay_ms: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logging("info");
    let args = Args::parse();
    let name = match (&args.source, &args.api) {
        (Some(source), _) => source.clone(),
        (None, Some(api)) => format!("mediawiki:{api}"),
        (None, None) => return Err("give --api URL, or a --source".into()),
    };
    let mut source = Source::new(&name)?
        .nick(&args.nick)
        .interval(Duration::from_secs_f64(args.interval.clamp(0.1, 86_400.0)));
    if name.starts_with("xmpp:") {
        source = match args.xmpp.login("MIRROR_XMPP_PASSWORD")? {
            Login::Account { jid, password } => source.account(jid, password),
            Login::Anonymous { domain } => source.anonymous(domain),
        };
        if let Some(server) = &args.xmpp.connect.server {
            source = source.server(server);
        }
        source = source.tls(args.xmpp.connect.tls.clone());
    }
    if let Some(user) = &args.user {
        source = source.credentials(user, common::password("MIRROR_WIKI_PASSWORD")?);
    }
    if let Some(wiki) = &args.wiki {
        source = source.wiki(wiki).filter(Filter::new().wiki(wiki.clone()));
    }
    let mut config = MirrorConfig::default().debounce(
        Duration::from_millis(args.debounce_ms),
        Duration::from_millis(args.max_delay_ms),
    );
    if !args.namespace.is_empty() {
        config = config.namespaces(args.namespace.iter().copied());
    }
    if let Some(prefix) = &args.prefix {
        config = config.prefix(prefix.clone());
    }
    if !args.page.is_empty() {
        config = config.pages(args.page.iter().cloned());
    }
    if let Some(category) = &args.category {
        config = config.category(category.clone());
    }
    config = config.metadata(args.metadata);
    // The texts: the API given, else the source's own endpoint (MediaWiki, WikiRPC).
    let texts: Box<dyn TextSource> = match &args.api {
        Some(api) => Box::new(Api::new(api)?),
        None => source
            .texts()?
            .ok_or_else(|| format!("the source {name} gives no page texts: give --api URL"))?,
    };
    let stats =
        recentchanges::mirror::run(texts, &args.dir, source, config, common::shutdown()).await?;
    eprintln!(
        "{} changes applied, {} files written, {} removed",
        stats.changes, stats.written, stats.removed
    );
    Ok(())
}
