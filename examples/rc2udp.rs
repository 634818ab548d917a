//! `rc2udp`: polls a wiki's `api.php` and sends each change, as an XMLRC `<rc>` element with
//! `wikiid`, in a UDP packet: feed the `udp2xmpp` bridge from a wiki that has neither the
//! XMLRC extension nor `$wgRCFeeds`.
//!
//! ```sh
//! cargo run --example rc2udp -- --api http://127.0.0.1:8080/api.php --wiki wikidb \
//!     --to 127.0.0.1:9390 --state /var/lib/rc2udp/wikidb.json
//! ```
//!
//! The state file holds the poller's position (rcid, timestamp, the rcids of the last
//! second, the API's continuation): it is written after every page of changes sent, and a
//! restart continues right after the last change sent. Without it, `--start` says where to
//! begin: `now` (default), `beginning` (everything the wiki still lists), or a time
//! (`2026-11-23T10:00:00Z`). To see the patrolled flag, log in as a patroller or bot:
//! `--user Name@bot` with the password in `RC2UDP_PASSWORD`.

// The CLI options, logging and printing the examples share: examples/common/mod.rs.
mod common;

use std::time::Duration;

use clap::Parser;
use recentchanges::http::relay::Relay;
use recentchanges::http::{Api, Poller, PollerConfig, Start};

#[derive(Parser)]
#[command(about = "Poll a wiki's API and send its recent changes as XMLRC <rc> UDP packets")]
struct Args {
    /// The wiki's api.php URL.
    #[arg(long)]
    api: String,
    /// The wiki id put in every change (`wikiid`): the bridge routes by it.
    #[arg(long)]
    wiki: String,
    /// Where to send the packets (host:port).
    #[arg(long)]
    to: std::net::SocketAddr,
    /// The state file (created if missing).
    #[arg(long)]
    state: Option<std::path::PathBuf>,
    /// Where to start without a state: now, beginning, or an RFC 3339 time.
    #[arg(long, default_value = "now")]
    start: String,
    /// Seconds between polls.
    #[arg(long, default_value_t = 5.0)]
    interval: f64,
    /// Seconds each poll looks back again, for changes committed late (categorize rows
    /// from the job queue, saves committed out of order).
    #[arg(long, default_value_t = 120.0)]
    overlap: f64,
    /// Changes per request.
    #[arg(long, default_value_t = 500)]
    limit: u32,
    /// The maxlag parameter (0: not sent).
    #[arg(long, default_value_t = 5)]
    maxlag: u32,
    /// At most this many packets a second.
    #[arg(long, default_value_t = 2000)]
    rate: u32,
    /// Log in as this user (password in RC2UDP_PASSWORD).
    #[arg(long)]
    user: Option<String>,
    /// Poll until caught up once, then exit.
    #[arg(long)]
    once: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logging("info");
    let args = Args::parse();
    let start = match args.start.as_str() {
        "now" => Start::Now,
        "beginning" => Start::Beginning,
        t => Start::At(
            t.parse()
                .map_err(|e| format!("--start {t:?}: not now, beginning or a time: {e}"))?,
        ),
    };
    let api = Api::builder(&args.api)
        .maxlag((args.maxlag > 0).then_some(args.maxlag))
        .build()?;
    if let Some(user) = &args.user {
        api.login(user, &common::password("RC2UDP_PASSWORD")?)
            .await?;
    }
    let cfg = PollerConfig::new(&args.wiki)
        .start(start)
        .limit(args.limit)
        .interval(Duration::from_secs_f64(args.interval.max(0.05)))
        .overlap(Duration::from_secs_f64(args.overlap.max(0.0)));
    let mut relay = Relay::new(Poller::new(api, cfg), args.to, args.state.clone())
        .await?
        .rate(args.rate);
    if args.once {
        let sent = relay.run_once().await?;
        tracing::info!(sent, "caught up");
    } else {
        relay.run(common::shutdown()).await?;
    }
    let stats = relay.stats();
    tracing::info!(
        sent = stats.sent,
        invalid = stats.invalid,
        too_large = stats.too_large,
        "done"
    );
    Ok(())
}
