//! EventStreams (SSE) consumer benchmark: CPU time per event and events/s of
//! [`recentchanges::http::eventstreams::EventStreams`] reading the stand-in server, against
//! the Python way (`requests-sse` + `json.loads`) and the `rcclient` module, in one run.
//!
//! `cargo bench --bench eventstreams` builds this binary and runs the driver,
//! `benches/eventstreams/run.py` (stdlib Python), which starts the stand-in
//! (`eventstreams-standin`) and every consumer as a process of its own. This binary is
//! also the Rust consumer, `eventstreams consume --url URL ...` (see [`Consume`]); it
//! prints one JSON line when done. See `benches/README.md`.

use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use recentchanges::http::eventstreams::{At, EventStreams, Position};
use recentchanges::http::Start;
use recentchanges::Filter;
use serde_json::json;

const DRIVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/eventstreams/run.py");

/// One Rust consumer process: reads the stream until `--n` events were consumed (the
/// position moved past them, whether the filter kept them or not) or for `--seconds`.
#[derive(Parser, Debug)]
#[command(name = "eventstreams consume")]
struct Consume {
    /// The stream URL (`http://127.0.0.1:PORT/v2/stream/recentchange`).
    #[arg(long)]
    url: String,
    /// Stop after this many events consumed (throughput mode, from the beginning).
    #[arg(long)]
    n: Option<u64>,
    /// Follow live events (from now) for this long, measured from the first one read.
    #[arg(long)]
    seconds: Option<f64>,
    /// Keep only namespace 0 and not bot (`Filter::new().namespace(0).not_bot()`).
    #[arg(long)]
    filter: bool,
    /// Tokio worker threads: 1 runs a current-thread runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("consume") {
        args.remove(1);
        let c = Consume::parse_from(args);
        std::process::exit(consume(c));
    }
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test --benches` runs bench targets without `--bench`: nothing to check.
        eprintln!("eventstreams bench: run it with `cargo bench --bench eventstreams`");
        return;
    }
    // The driver: run.py with this binary as the Rust consumer; other arguments pass on.
    let exe = std::env::current_exe().expect("the bench binary's path");
    let rest: Vec<&String> = args[1..].iter().filter(|a| *a != "--bench").collect();
    let status = std::process::Command::new(
        std::env::var("RC_BENCH_DRIVER_PYTHON").unwrap_or_else(|_| "python3".into()),
    )
    .arg(DRIVER)
    .arg("--consumer-bin")
    .arg(exe)
    .args(rest)
    .status();
    match status {
        Ok(s) => std::process::exit(s.code().unwrap_or(1)),
        Err(e) => {
            eprintln!("eventstreams bench: cannot run python3 {DRIVER}: {e}");
            std::process::exit(1);
        }
    }
}

/// User + system CPU time of this process (all threads), in seconds.
fn cpu_s() -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Events consumed up to the position: the sum of the next offsets (topics assigned by
/// time count 0 until their first event).
fn consumed(p: &Position) -> u64 {
    p.assignments()
        .iter()
        .map(|a| match a.at {
            At::Offset(o) => o.max(0) as u64,
            At::Timestamp(_) => 0,
        })
        .sum()
}

fn consume(c: Consume) -> i32 {
    let mut rt = if c.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(c.threads);
        b
    };
    let rt = rt.enable_all().build().expect("a tokio runtime");
    match rt.block_on(run(&c)) {
        Ok(report) => {
            println!("{report}");
            0
        }
        Err(e) => {
            eprintln!("eventstreams consume: {e}");
            1
        }
    }
}

async fn run(c: &Consume) -> Result<serde_json::Value, String> {
    let filter = if c.filter {
        Filter::new().namespace(0).not_bot()
    } else {
        Filter::new()
    };
    let since = if c.seconds.is_some() {
        Start::Now
    } else {
        Start::Beginning
    };
    let cpu0 = cpu_s();
    let t0 = Instant::now();
    let mut stream = EventStreams::new(&c.url)
        .map_err(|e| e.to_string())?
        .since(since)
        .filter(filter)
        .connect()
        .map_err(|e| e.to_string())?;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut yielded = 0u64;
    let mut errors = 0u64;
    let mut titles = 0usize;
    // Follow mode: the window opens at the first event read.
    let mut window: Option<(Instant, f64, u64, u64)> = None;
    let limit = Duration::from_secs_f64(c.seconds.unwrap_or(0.0));
    loop {
        let item = tokio::select! {
            item = stream.next() => Some(item),
            _ = tick.tick() => None,
        };
        match item {
            Some(Some(Ok(ev))) => {
                yielded += 1;
                // Touch the change as an application would.
                if let Some(rc) = ev.change() {
                    titles += rc.title_or("").len();
                }
            }
            Some(Some(Err(e))) => {
                if e.is_fatal() {
                    return Err(e.to_string());
                }
                errors += 1;
            }
            Some(None) => return Err("the stream ended".into()),
            None => {} // a tick
        }
        let done = consumed(stream.position());
        if let Some(n) = c.n {
            if done >= n {
                break;
            }
        } else if let Some((t, _, _, _)) = window {
            if t.elapsed() >= limit {
                break;
            }
        } else if done > 0 {
            window = Some((Instant::now(), cpu_s(), done, yielded));
        }
    }
    let (wall, cpu, events, kept) = match window {
        Some((t, cpu, done, kept)) => (
            t.elapsed().as_secs_f64(),
            cpu_s() - cpu,
            consumed(stream.position()) - done,
            yielded - kept,
        ),
        None => (
            t0.elapsed().as_secs_f64(),
            cpu_s() - cpu0,
            consumed(stream.position()),
            yielded,
        ),
    };
    Ok(json!({
        "events": events, "yielded": kept, "errors": errors,
        "cpu_s": cpu, "wall_s": wall, "titles": titles,
    }))
}
