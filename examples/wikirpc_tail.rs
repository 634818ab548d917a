//! Print a DokuWiki's or JSPWiki's recent changes as they come, polled over WikiRPC
//! (XML-RPC `getRecentChanges`): the human line, or JSON lines.
//!
//! ```sh
//! eval "$(scripts/dokuwiki/start.sh)"
//! WIKI_PASSWORD="$DOKUWIKI_PASSWORD" cargo run --example wikirpc_tail -- \
//!     "$DOKUWIKI_XMLRPC_URL" --user "$DOKUWIKI_USER" --wiki testwiki --from-beginning --position dw.pos
//! cargo run --example wikirpc_tail -- https://jspwiki.example.org/RPC2/ --dialect jspwiki --wiki jsp
//! ```
//!
//! The password of `--user` comes from `WIKI_PASSWORD` (never from the command line).
//! Unusable entries and failed polls go to stderr; the tail goes on.

// The CLI options, logging and printing the examples share: examples/common/mod.rs.
mod common;

use std::time::Duration;

use clap::Parser;
use common::{Output, PollStart};
use recentchanges::http::wikirpc::{
    Client, Credentials, Dialect, Poller, PollerConfig, Position, RpcError,
};

#[derive(Parser)]
#[command(about = "Print a wiki's recent changes polled over WikiRPC (DokuWiki, JSPWiki)")]
struct Args {
    /// The XML-RPC endpoint (DokuWiki: .../lib/exe/xmlrpc.php; JSPWiki: .../RPC2/).
    url: String,
    /// dokuwiki or jspwiki.
    #[arg(long, default_value = "dokuwiki")]
    dialect: Dialect,
    /// The name stamped on each change as its wiki.
    #[arg(long, default_value = "wiki")]
    wiki: String,
    /// Log in with HTTP basic auth as this user (password in WIKI_PASSWORD).
    #[arg(long)]
    user: Option<String>,
    #[command(flatten)]
    from: PollStart,
    /// Seconds between polls.
    #[arg(long, default_value_t = 30)]
    interval: u64,
    #[command(flatten)]
    output: Output,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logging("warn");
    let args = Args::parse();
    let mut builder = Client::builder(&args.url, args.dialect);
    if let Some(user) = &args.user {
        builder = builder.credentials(Credentials::new(user, common::password("WIKI_PASSWORD")?));
    }
    let cfg = PollerConfig::new(&args.wiki)
        .interval(Duration::from_secs(args.interval.max(1)))
        .start(args.from.start());
    let mut poller = Poller::new(builder.build()?, cfg);
    if let Some(path) = &args.from.position {
        poller = poller.resume(Position::load(path)?);
    }
    loop {
        tokio::select! {
            item = poller.next() => {
                match item {
                    Ok(rc) => args.output.print(&rc),
                    Err(e @ RpcError::Auth { .. }) => return Err(e.into()),
                    Err(e) => eprintln!("{e}"),
                }
                if let Some(path) = &args.from.position {
                    poller.position().save(path)?;
                }
            }
            _ = common::shutdown() => break,
        }
    }
    Ok(())
}
