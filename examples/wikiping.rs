//! Listen for WikiPing `wiki.ping` XML-RPC calls and print each ping as a change: the
//! human line, or JSON lines. Refused requests go to stderr.
//!
//! ```sh
//! cargo run --example wikiping -- --listen 127.0.0.1:8099
//! curl -s -H 'Content-Type: text/xml' --data '<?xml version="1.0"?><methodCall><methodName>wiki.ping</methodName><params><param><value><struct><member><name>wiki</name><value>mindWiki</value></member><member><name>tag</name><value>HomePage</value></member><member><name>url</name><value>http://mindwiki.de/HomePage</value></member></struct></value></param></params></methodCall>' http://127.0.0.1:8099/
//! ```

// The CLI options, logging and printing the examples share: examples/common/mod.rs.
mod common;

use clap::Parser;
use common::Output;
use recentchanges::http::wikiping::{PingConfig, PingListener};

#[derive(Parser)]
#[command(about = "Print the WikiPing pings a wiki sends")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8099")]
    listen: String,
    /// Pings buffered before requests wait for this printer.
    #[arg(long, default_value_t = 1024)]
    capacity: usize,
    #[command(flatten)]
    output: Output,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logging("warn");
    let args = Args::parse();
    let cfg = PingConfig::default().capacity(args.capacity);
    let mut pings = PingListener::bind_with(args.listen.as_str(), cfg).await?;
    eprintln!("listening for wiki.ping on http://{}/", pings.local_addr());
    loop {
        tokio::select! {
            item = pings.next() => match item {
                Some(Ok(rc)) => args.output.print(&rc),
                Some(Err(e)) => eprintln!("{e}"),
                None => break,
            },
            _ = common::shutdown() => break,
        }
    }
    Ok(())
}
