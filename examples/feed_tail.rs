//! Print the changes a wiki sends to an RC feed over UDP (`$wgRCFeeds` with the XML or
//! JSON formatter, or XMLRC's `<rc>` packets), one line per change.
//!
//! ```sh
//! cargo run --example feed_tail -- --listen 127.0.0.1:9390 --namespace 0 --json
//! ```
//!
//! A packet that is not a change is reported on stderr with the reason, and the tail goes on.

use std::net::UdpSocket;

use clap::Parser;
use recentchanges::{Filter, Kind};

#[derive(Parser)]
#[command(about = "Print recent changes arriving as UDP packets")]
struct Args {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1:9390")]
    listen: String,
    /// Print each change as a JSON line instead of the human line.
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
    /// Base URL of the wiki for links when the packets carry none (the `<rc>` form).
    #[arg(long)]
    base_url: Option<String>,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
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
    let socket = UdpSocket::bind(&args.listen)?;
    eprintln!("listening for changes on udp://{}", socket.local_addr()?);
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, from) = socket.recv_from(&mut buf)?;
        match recentchanges::parse(&buf[..n]) {
            Ok(rc) if filter.matches(&rc) => {
                if args.json {
                    println!(
                        "{}",
                        serde_json::to_string(&rc).expect("a change always serialises")
                    );
                } else {
                    println!("{}", rc.human_line(args.base_url.as_deref()));
                }
            }
            Ok(_) => {}
            Err(e) => eprintln!("bad packet from {from}: {e}"),
        }
    }
}
