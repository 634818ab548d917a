//! Listen for WikiPing `wiki.ping` XML-RPC calls and print each ping as a change: the
//! human line, or JSON lines. Refused requests go to stderr.
//!
//! ```sh
//! cargo run --example wikiping -- --listen 127.0.0.1:8099
//! curl -s -H 'Content-Type: text/xml' --data '<?xml version="1.0"?><methodCall><methodName>wiki.ping</methodName><params><param><value><struct><member><name>wiki</name><value>mindWiki</value></member><member><name>tag</name><value>HomePage</value></member><member><name>url</name><value>http://mindwiki.de/HomePage</value></member></struct></value></param></params></methodCall>' http://127.0.0.1:8099/
//! ```

use clap::Parser;
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
    let cfg = PingConfig::default().capacity(args.capacity);
    let mut pings = PingListener::bind_with(args.listen.as_str(), cfg).await?;
    eprintln!("listening for wiki.ping on http://{}/", pings.local_addr());
    loop {
        tokio::select! {
            item = pings.next() => match item {
                Some(Ok(rc)) if args.json => println!("{}", serde_json::to_string(&rc)?),
                Some(Ok(rc)) => println!("{}", rc.human_line(None)),
                Some(Err(e)) => eprintln!("{e}"),
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    Ok(())
}
