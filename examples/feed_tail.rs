//! Print the changes a wiki sends to an RC feed over UDP (`$wgRCFeeds` with the XML or
//! JSON formatter, or XMLRC's `<rc>` packets), one line per change.
//!
//! ```sh
//! cargo run --example feed_tail -- --listen 127.0.0.1:9390 --namespace 0 --json
//! ```
//!
//! A packet that is not a change is reported on stderr with the reason, and the tail goes on.

// The CLI options, logging and printing the examples share: examples/common/mod.rs.
mod common;

use std::net::UdpSocket;

use clap::Parser;
use common::{FilterArgs, Output};

#[derive(Parser)]
#[command(about = "Print recent changes arriving as UDP packets")]
struct Args {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1:9390")]
    listen: String,
    #[command(flatten)]
    output: Output,
    #[command(flatten)]
    filter: FilterArgs,
    /// Base URL of the wiki for links when the packets carry none (the `<rc>` form).
    #[arg(long)]
    base_url: Option<String>,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let filter = args.filter.filter();
    let socket = UdpSocket::bind(&args.listen)?;
    eprintln!("listening for changes on udp://{}", socket.local_addr()?);
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, from) = socket.recv_from(&mut buf)?;
        match recentchanges::parse(&buf[..n]) {
            Ok(rc) if filter.matches(&rc) => {
                args.output.print_linked(&rc, args.base_url.as_deref())
            }
            Ok(_) => {}
            Err(e) => eprintln!("bad packet from {from}: {e}"),
        }
    }
}
