//! `mirror`: keeps a local directory of page texts in step with a wiki, following the
//! wiki's changes in its XMPP room (as the udp2xmpp bridge posts them) and fetching texts
//! from its API. A thin command line over `recentchanges::http::mirror::run`.
//!
//! ```sh
//! MIRROR_XMPP_PASSWORD=secret cargo run --example mirror -- \
//!     --api http://127.0.0.1:8080/api.php --dir ./pages \
//!     --jid mirror@localhost --server 127.0.0.1:25222 --tls plaintext-loopback \
//!     wikidb@conference.localhost
//! ```
//!
//! One file per page holding its current text, named by percent-encoding the title
//! (`Talk:Café au lait` is `Talk%3ACaf%C3%A9_au_lait`; see `rc_http::mirror::file_name`).
//! Files are replaced atomically. An empty directory is filled by a full sync first; a
//! restart continues from the position saved in `DIR/.mirror-state.json` (the room's
//! archive replays what was missed). Stop it with Ctrl-C, or kill it: nothing is lost.

use std::time::Duration;

use clap::Parser;
use recentchanges::http::mirror::{run, MirrorConfig, MirrorOptions};
use recentchanges::http::Api;
use recentchanges::xmpp::{Client, Tls};

#[derive(Parser)]
#[command(about = "Keep a directory of a wiki's page texts up to date from its XMPP room")]
struct Args {
    /// The wiki's room (bare JID).
    room: String,
    /// The wiki's api.php URL.
    #[arg(long)]
    api: String,
    /// The mirror directory.
    #[arg(long)]
    dir: std::path::PathBuf,
    /// XMPP account (password in MIRROR_XMPP_PASSWORD).
    #[arg(long, conflicts_with = "anonymous")]
    jid: Option<String>,
    /// Log in anonymously on this domain instead.
    #[arg(long)]
    anonymous: Option<String>,
    /// XMPP server address (host:port), instead of the DNS lookup.
    #[arg(long)]
    server: Option<String>,
    /// `required` (default), `plaintext-loopback`, or a CA file (PEM) to trust.
    #[arg(long, default_value = "required")]
    tls: String,
    /// Nick in the room.
    #[arg(long, default_value = "mirror")]
    nick: String,
    /// Only these namespaces (repeatable; default: all).
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut client = match (&args.jid, &args.anonymous) {
        (Some(jid), _) => Client::builder(
            jid,
            std::env::var("MIRROR_XMPP_PASSWORD").map_err(|_| "set MIRROR_XMPP_PASSWORD")?,
        )?,
        (None, Some(domain)) => Client::anonymous(domain)?,
        (None, None) => return Err("give --jid or --anonymous".into()),
    };
    client = client.room(&args.room, &args.nick)?;
    if let Some(server) = &args.server {
        client = client.server(server)?;
    }
    client = client.tls(match args.tls.as_str() {
        "required" => Tls::Required,
        "plaintext-loopback" => Tls::PlaintextLoopback,
        ca => Tls::RequiredWithRoots(vec![ca.into()]),
    });
    let mut config = MirrorConfig::default().debounce(
        Duration::from_millis(args.debounce_ms),
        Duration::from_millis(args.max_delay_ms),
    );
    if !args.namespace.is_empty() {
        config = config.namespaces(args.namespace.iter().copied());
    }
    let opts = MirrorOptions::new(Api::new(&args.api)?, &args.dir, client).config(config);
    run(opts, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
