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
//! (`Talk:Café au lait` is `Talk%3ACaf%C3%A9_au_lait`; see `recentchanges_http::mirror::file_name`).
//! Files are replaced atomically. An empty directory is filled by a full sync first; a
//! restart continues from the position saved in `DIR/.mirror-state.json` (the room's
//! archive replays what was missed). Stop it with Ctrl-C, or kill it: nothing is lost.

// The CLI options, logging and printing the examples share: examples/common/mod.rs.
mod common;

use std::time::Duration;

use clap::Parser;
use common::{Login, XmppLogin};
use recentchanges::http::mirror::{run, MirrorConfig, MirrorOptions};
use recentchanges::http::Api;
use recentchanges::xmpp::Client;

#[derive(Parser)]
#[command(about = "Keep a directory of a wiki's page texts up to date from its XMPP room")]
// The account's password has a variable of its own here.
#[command(mut_arg("jid", |a| a.help("XMPP account (password in MIRROR_XMPP_PASSWORD)")))]
struct Args {
    /// The wiki's room (bare JID).
    room: String,
    /// The wiki's api.php URL.
    #[arg(long)]
    api: String,
    /// The mirror directory.
    #[arg(long)]
    dir: std::path::PathBuf,
    #[command(flatten)]
    xmpp: XmppLogin,
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
    common::init_logging("info");
    let args = Args::parse();
    let mut client = match args.xmpp.login("MIRROR_XMPP_PASSWORD")? {
        Login::Account { jid, password } => Client::builder(jid, password)?,
        Login::Anonymous { domain } => Client::anonymous(domain)?,
    };
    client = client.room(&args.room, &args.nick)?;
    if let Some(server) = &args.xmpp.connect.server {
        client = client.server(server)?;
    }
    client = client.tls(args.xmpp.connect.tls.clone());
    let mut config = MirrorConfig::default().debounce(
        Duration::from_millis(args.debounce_ms),
        Duration::from_millis(args.max_delay_ms),
    );
    if !args.namespace.is_empty() {
        config = config.namespaces(args.namespace.iter().copied());
    }
    let opts = MirrorOptions::new(Api::new(&args.api)?, &args.dir, client).config(config);
    run(opts, common::shutdown()).await?;
    Ok(())
}
