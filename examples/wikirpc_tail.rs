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

use std::time::Duration;

use clap::Parser;
use recentchanges::http::wikirpc::{Client, Credentials, Dialect, Poller, PollerConfig, Position};
use recentchanges::http::Start;

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
    /// Continue from (and keep up to date) this position file.
    #[arg(long)]
    position: Option<std::path::PathBuf>,
    /// Without a saved position, start with the oldest change the wiki lists (default: now).
    #[arg(long)]
    from_beginning: bool,
    /// Seconds between polls.
    #[arg(long, default_value_t = 30)]
    interval: u64,
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
    let mut builder = Client::builder(&args.url, args.dialect);
    if let Some(user) = &args.user {
        let password = std::env::var("WIKI_PASSWORD").map_err(|_| "set WIKI_PASSWORD")?;
        builder = builder.credentials(Credentials::new(user, password));
    }
    let start = if args.from_beginning {
        Start::Beginning
    } else {
        Start::Now
    };
    let cfg = PollerConfig::new(&args.wiki)
        .interval(Duration::from_secs(args.interval.max(1)))
        .start(start);
    let mut poller = Poller::new(builder.build()?, cfg);
    if let Some(path) = &args.position {
        poller = poller.resume(Position::load(path)?);
    }
    loop {
        tokio::select! {
            item = poller.next() => {
                match item {
                    Ok(rc) if args.json => println!("{}", serde_json::to_string(&rc)?),
                    Ok(rc) => println!("{}", rc.human_line(None)),
                    Err(e @ recentchanges::http::wikirpc::RpcError::Auth { .. }) => return Err(e.into()),
                    Err(e) => eprintln!("{e}"),
                }
                if let Some(path) = &args.position {
                    poller.position().save(path)?;
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    Ok(())
}
