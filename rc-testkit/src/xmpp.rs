//! rc-xmpp clients, publishers and subscribers for the [`Prosody`] fixture's accounts,
//! over plaintext loopback and quick to reconnect.

use std::time::Duration;

use recentchanges_xmpp::pubsub::{
    NodePublisher, NodePublisherBuilder, Subscriber, SubscriberBuilder,
};
use recentchanges_xmpp::{
    BareJid, ChangeStream, Client, ClientBuilder, Publisher, PublisherBuilder, ReconnectPolicy,
    RoomState, Status, Tls,
};

use crate::prosody::{password, room_jid, Prosody};
use crate::wait::wait_status;

/// How long [`Prosody::consumer`] waits for the join.
pub const JOIN_SECS: u64 = 15;

/// Reconnects from 100 ms to 1 s, forever: a test need not wait for the default backoff.
pub fn quick_reconnect() -> ReconnectPolicy {
    ReconnectPolicy {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(1),
        factor: 2.0,
        jitter: 0.1,
        max_attempts: None,
    }
}

/// The bare JID of room `name` ([`room_jid`]).
pub fn room_bare(name: &str) -> BareJid {
    room_jid(name).parse().expect("a room JID")
}

/// True when there are rooms and every one is joined.
pub fn all_joined(status: &Status) -> bool {
    !status.rooms.is_empty()
        && status
            .rooms
            .values()
            .all(|r| matches!(r, RoomState::Joined { .. }))
}

/// Waits until every room of the stream is joined; panics after `secs`.
pub async fn joined(stream: &ChangeStream, secs: u64) {
    wait_status(stream.status(), secs, "rooms joined", all_joined).await;
}

impl Prosody {
    /// Makes room `name` (created, persistent, if it does not exist) a room without an
    /// archive, through mod_muc_mam's own per-room setting (`muc#roomconfig_enablearchiving`,
    /// which the fixture's `muc_log_all_rooms` hides: it is turned off and the module
    /// reloaded first; the other rooms keep their archive by `muc_log_by_default`). The
    /// room's disco#info then lacks `urn:xmpp:mam:2` and its messages carry no stanza id.
    pub fn room_without_archive(&self, name: &str) {
        self.lua(
            "require'core.configmanager'.set('conference.localhost', 'muc_log_all_rooms', false)",
        );
        self.lua("require'core.modulemanager'.reload('conference.localhost', 'muc_mam')");
        let muc = "prosody.hosts['conference.localhost'].modules.muc";
        let jid = room_jid(name);
        self.lua(&format!(
            "do local r = {muc}.get_room_from_jid('{jid}') or {muc}.create_room('{jid}'); \
             r._data.archiving = false; r:save(true) end"
        ));
        let archiving = self.lua(&format!("{}._data.archiving", self.room_lua(name)));
        assert!(
            archiving.contains("false"),
            "archiving still on: {archiving}"
        );
    }
}

/// A bare-bones client of the [`Prosody`] fixture for account `user` (plaintext, SASL
/// PLAIN) that sends raw XML: a second real account forging stanzas, or sending ones no
/// library would build (deep nesting). What the server sends it is kept as text.
pub struct RawClient {
    write: tokio::net::tcp::OwnedWriteHalf,
    received: std::sync::Arc<std::sync::Mutex<String>>,
    reader: tokio::task::JoinHandle<()>,
    /// The full JID the server bound.
    pub jid: String,
}

impl Prosody {
    /// A logged-in [`RawClient`] for account `user`.
    pub async fn raw_client(&self, user: &str) -> RawClient {
        use tokio::io::AsyncReadExt;
        let tcp = tokio::net::TcpStream::connect(self.addr())
            .await
            .expect("connect");
        let (mut read, write) = tcp.into_split();
        let received = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = received.clone();
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            while let Ok(n @ 1..) = read.read(&mut buf).await {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut c = RawClient {
            write,
            received,
            reader,
            jid: String::new(),
        };
        let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";
        c.send(header).await;
        c.wait_for("</stream:features>", 10).await;
        let token = base64(format!("\0{user}\0{}", password(user)).as_bytes());
        c.clear();
        c.send(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>"
        ))
        .await;
        c.wait_for("<success", 10).await;
        c.clear();
        c.send(header).await;
        c.wait_for("</stream:features>", 10).await;
        c.send("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>").await;
        let text = c.wait_for("</jid>", 10).await;
        let start = text.find("<jid>").expect("a bound jid") + 5;
        let end = text.find("</jid>").expect("a bound jid");
        c.jid = text[start..end].to_owned();
        c.clear();
        c
    }
}

impl RawClient {
    /// Sends raw XML.
    pub async fn send(&mut self, xml: &str) {
        use tokio::io::AsyncWriteExt;
        self.write.write_all(xml.as_bytes()).await.expect("send");
        self.write.flush().await.expect("flush");
    }

    /// Waits up to `secs` until the text received contains `needle`; returns the text.
    pub async fn wait_for(&self, needle: &str, secs: u64) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let text = self.received.lock().unwrap().clone();
            if text.contains(needle) {
                return text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {needle:?} within {secs} s; got: {text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Forgets what was received so far.
    pub fn clear(&self) {
        self.received.lock().unwrap().clear();
    }

    /// Joins room `name` as `nick` (without history) and waits for the room's welcome.
    pub async fn join(&mut self, name: &str, nick: &str) {
        self.send(&format!(
            "<presence to='{}/{nick}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>",
            room_jid(name)
        ))
        .await;
        self.wait_for("code='110'", 10).await;
    }
}

impl Drop for RawClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn base64(data: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An XMPP server fixture of the project ([`Prosody`], [`Ejabberd`](crate::Ejabberd)):
/// the test accounts on `localhost` with the [`password`] of their name, rooms on
/// `conference.localhost`. The same rc-xmpp clients and publishers for each, over
/// plaintext loopback and quick to reconnect, so one test reads the same on both.
pub trait XmppServer: Sync {
    /// `127.0.0.1:port` of client connections.
    fn c2s_addr(&self) -> String;

    /// A client for account `user`.
    fn client(&self, user: &str) -> ClientBuilder {
        Client::builder(&format!("{user}@localhost"), password(user))
            .unwrap()
            .server(&self.c2s_addr())
            .unwrap()
            .tls(Tls::PlaintextLoopback)
            .reconnect(quick_reconnect())
    }

    /// A client for account `user` in room `name`, with the account's name as its nick.
    fn room_client(&self, user: &str, name: &str) -> ClientBuilder {
        self.client(user).room(&room_jid(name), user).unwrap()
    }

    /// A connected [`room_client`](Self::room_client) that joined (within [`JOIN_SECS`]).
    #[allow(async_fn_in_trait)] // tests await it in place
    async fn consumer(&self, user: &str, name: &str) -> ChangeStream {
        let stream = self.room_client(user, name).connect().unwrap();
        joined(&stream, JOIN_SECS).await;
        stream
    }

    /// A publisher for account `user`, in no room yet.
    fn publisher_builder(&self, user: &str) -> PublisherBuilder {
        Publisher::builder(&format!("{user}@localhost"), password(user))
            .unwrap()
            .server(&self.c2s_addr())
            .unwrap()
            .tls(Tls::PlaintextLoopback)
            .reconnect(quick_reconnect())
    }

    /// Account `publisher` posting into `rooms` (nick `xmlrc`).
    fn publisher(&self, rooms: &[&str]) -> Publisher {
        self.publisher_as("publisher", rooms)
    }

    /// Account `user` posting into `rooms` (nick `xmlrc`).
    fn publisher_as(&self, user: &str, rooms: &[&str]) -> Publisher {
        let mut b = self.publisher_builder(user);
        for name in rooms {
            b = b.room(&room_jid(name), "xmlrc").unwrap();
        }
        b.start().unwrap()
    }

    /// Account `user` in room `name`, resuming from (and saving to) `file`: a consumer
    /// process that stops and starts again.
    fn resuming(&self, user: &str, name: &str, file: &std::path::Path) -> ChangeStream {
        self.room_client(user, name)
            .resume_from_file(file)
            .unwrap()
            .connect()
            .unwrap()
    }

    /// A PubSub subscriber for account `user`.
    fn subscriber(&self, user: &str) -> SubscriberBuilder {
        Subscriber::builder(&format!("{user}@localhost"), password(user))
            .unwrap()
            .server(&self.c2s_addr())
            .unwrap()
            .tls(Tls::PlaintextLoopback)
            .reconnect(quick_reconnect())
    }

    /// A PubSub subscriber logging in anonymously on `anon.localhost`.
    fn anonymous_subscriber(&self) -> SubscriberBuilder {
        Subscriber::anonymous("anon.localhost")
            .unwrap()
            .server(&self.c2s_addr())
            .unwrap()
            .tls(Tls::PlaintextLoopback)
            .reconnect(quick_reconnect())
    }

    /// A PubSub publisher for account `publisher` (the service's administrator).
    fn node_publisher(&self) -> NodePublisherBuilder {
        NodePublisher::builder("publisher@localhost", password("publisher"))
            .unwrap()
            .server(&self.c2s_addr())
            .unwrap()
            .tls(Tls::PlaintextLoopback)
            .reconnect(quick_reconnect())
    }
}

impl XmppServer for Prosody {
    fn c2s_addr(&self) -> String {
        self.addr()
    }
}

impl XmppServer for crate::Ejabberd {
    fn c2s_addr(&self) -> String {
        self.addr()
    }
}
