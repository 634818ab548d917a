//! The EventStreams stand-in (`rc_testkit::eventstreams`) as a process, for the Python
//! tests: serves on 127.0.0.1, prints `listening on http://127.0.0.1:PORT` on stdout, and
//! runs until killed. Controlled over HTTP under `/_control/` on the same port: `POST
//! /_control/publish?n=N[&stream=S]`, `POST /_control/publish_raw?topic=T` (body = data),
//! `POST /_control/freeze?on=1|0`, `POST /_control/close_all`, `GET /_control/requests`,
//! `GET /_control/events?stream=S`, `GET /_control/stats`. `--publish-rate N` publishes N
//! recentchange events a second, live (the EventStreams bench's firehose).

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant, UNIX_EPOCH};

use clap::Parser;
use rc_testkit::eventstreams::{Config, EventStreams, RateLimit};
use tokio::time::MissedTickBehavior;

/// A stand-in for Wikimedia EventStreams on 127.0.0.1 (tests only).
#[derive(Parser, Debug)]
#[command(name = "eventstreams-standin")]
struct Args {
    /// Port on 127.0.0.1 (0: a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Events each stream holds at start.
    #[arg(long, default_value_t = 100)]
    initial_events: usize,
    /// Spacing of the initial events' meta.dt, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    event_interval_ms: u64,
    /// meta.dt of the last initial event, in milliseconds since the epoch (default: now).
    #[arg(long)]
    start_time_ms: Option<u64>,
    /// The id (rcid) of the first recentchange event.
    #[arg(long, default_value_t = 1)]
    first_rcid: u64,
    /// Every Nth event of a stream goes to codfw (0: none).
    #[arg(long, default_value_t = 7)]
    codfw_every: u64,
    /// Every Kth recentchange event is a canary (0: none).
    #[arg(long, default_value_t = 0)]
    canary_every: u64,
    /// Heartbeat comment after this much silence, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    heartbeat_ms: u64,
    /// Connections end after this, in milliseconds (EventStreams: ~15 minutes).
    #[arg(long, default_value_t = 900_000)]
    lifetime_ms: u64,
    /// Connection attempts accepted within --rate-window-ms; more get 429 (0: no limit).
    #[arg(long, default_value_t = 0)]
    rate_limit: usize,
    /// The rate limit's sliding window, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    rate_window_ms: u64,
    /// Directory of *.feed.json files (default: $RC_EVENTSTREAMS_FIXTURES, else
    /// rc-core/tests/fixtures/mediawiki-1.39).
    #[arg(long)]
    fixtures: Option<PathBuf>,
    /// Freeze silences open connections only; new requests are answered.
    #[arg(long)]
    freeze_open_only: bool,
    /// Publish this many recentchange events per second, live, from the start (0: none;
    /// the benchmark's firehose). Spread evenly: the events due are published every
    /// --publish-tick-ms.
    #[arg(long, default_value_t = 0.0)]
    publish_rate: f64,
    /// How often --publish-rate publishes the events due, in milliseconds (1: at 1,000/s
    /// every event goes out on its own; more: in bursts, as a batching server would).
    #[arg(long, default_value_t = 1)]
    publish_tick_ms: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a = Args::parse();
    let config = Config {
        initial_events: a.initial_events,
        event_interval: Duration::from_millis(a.event_interval_ms),
        start_time: a
            .start_time_ms
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms)),
        first_rcid: a.first_rcid,
        codfw_every: a.codfw_every,
        canary_every: a.canary_every,
        heartbeat: Duration::from_millis(a.heartbeat_ms),
        lifetime: Duration::from_millis(a.lifetime_ms),
        rate_limit: (a.rate_limit > 0).then(|| RateLimit {
            max: a.rate_limit,
            window: Duration::from_millis(a.rate_window_ms),
        }),
        fixtures_dir: a.fixtures,
        freeze_new_connections: !a.freeze_open_only,
    };
    let es = match EventStreams::start_on(config, a.port).await {
        Ok(es) => es,
        Err(e) => {
            eprintln!("eventstreams-standin: {e}");
            std::process::exit(1);
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {}", es.base_url());
    let _ = out.flush();
    drop(out);
    if a.publish_rate > 0.0 {
        let start = Instant::now();
        let mut published = 0u64;
        let mut tick = tokio::time::interval(Duration::from_millis(a.publish_tick_ms.max(1)));
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let due = (start.elapsed().as_secs_f64() * a.publish_rate) as u64;
            if due > published {
                es.publish((due - published) as usize);
                published = due;
            }
        }
    }
    std::future::pending::<()>().await;
}
