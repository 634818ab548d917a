//! Posting changes into rooms the way XMLRC did: the human line in `<body>`, the `<rc>`
//! element beside it.
//!
//! Delivery is at least once: a message stays in the outbox until the room reflects it
//! back (every MUC echoes a groupchat message to its sender), and everything still in the
//! outbox is sent again after a reconnect. Consumers drop the rare duplicate by
//! (wiki, rcid), as [`ChangeStream`](crate::ChangeStream) does.

use std::collections::VecDeque;
use std::time::Duration;

use futures::StreamExt;
use minidom::Element;
use recentchanges_core::RecentChange;
use tokio::sync::{oneshot, watch};
use tokio_xmpp::jid::{BareJid, FullJid, ResourcePart};
use tokio_xmpp::xmlstream::StreamElementError;
use tokio_xmpp::Stanza;
use xmpp_parsers::message::{Id, MessageType};
use xmpp_parsers::muc::user::Status as MucStatus;
use xmpp_parsers::presence::{Presence, Type as PresenceType};

use super::config::RoomConfig;
use super::stanzas::{self, HistoryRequest, MucUser};
use crate::error::{ConfigError, PublishError};
use crate::session::account::Account;
use crate::session::connect::{self, send, Incoming, Session};
use crate::session::options::{self, Transport};
use crate::session::outbox::{Outbox, Posts};
use crate::session::stanzas::Ids;
use crate::session::task::{Ended, Serve};
use crate::status::{RoomState, Status};

/// Configures a [`Publisher`]: the same account, server and TLS options as the client.
#[derive(Debug)]
#[must_use]
pub struct PublisherBuilder {
    transport: Transport,
    rooms: Vec<RoomConfig>,
    outbox: usize,
}

impl Publisher {
    /// A publisher for a registered account.
    pub fn builder(
        jid: &str,
        password: impl Into<String>,
    ) -> Result<PublisherBuilder, ConfigError> {
        Ok(PublisherBuilder {
            transport: Transport::new(Account::password(jid, password)?),
            rooms: Vec::new(),
            outbox: 10_000,
        })
    }
}

options::transport_options!(PublisherBuilder => transport);

impl PublisherBuilder {
    /// Joins a room to post in, with this nick.
    pub fn room(mut self, room: &str, nick: &str) -> Result<Self, ConfigError> {
        self.rooms.push(RoomConfig::new(room, nick, None)?);
        Ok(self)
    }

    /// Messages held until the room confirms them; [`Publisher::post`] waits when full.
    pub fn outbox(mut self, size: usize) -> Self {
        self.outbox = size.max(1);
        self
    }

    /// Starts publishing in the background.
    pub fn start(self) -> Result<Publisher, ConfigError> {
        if self.rooms.is_empty() {
            return Err(ConfigError::NoRooms);
        }
        self.transport.check()?;
        let rooms = self.rooms;
        let outbox = Outbox::start(self.transport, self.outbox, |posts, status| Worker {
            rooms,
            outbox: VecDeque::new(),
            posts,
            status,
            ids: Ids::default(),
        })?;
        Ok(Publisher { outbox })
    }
}

/// Posts changes into rooms; see the module docs for the delivery guarantee.
pub struct Publisher {
    outbox: Outbox<Post>,
}

/// One message to post.
#[derive(Debug, Clone)]
struct Post {
    room: BareJid,
    body: String,
    payloads: Vec<Element>,
}

impl Publisher {
    /// Posts a change the XMLRC way: its human line as the body, its `<rc>` element as
    /// the payload. Returns once queued.
    pub async fn publish(&mut self, room: &BareJid, rc: &RecentChange) -> Result<(), PublishError> {
        // Inside the stanza the element lives in the client namespace, like any
        // unqualified child of a message.
        let xml = rc.to_rc_xml().replacen(
            "<rc",
            &format!(r#"<rc xmlns="{}""#, xmpp_parsers::ns::DEFAULT_NS),
            1,
        );
        let payload: Element = xml
            .parse()
            .map_err(|e| PublishError(format!("cannot build the <rc> payload: {e}")))?;
        self.post(room, &rc.human_line(None), vec![payload]).await
    }

    /// Posts any message: a body and payload elements (tests use it for malformed input).
    pub async fn post(
        &mut self,
        room: &BareJid,
        body: &str,
        payloads: Vec<Element>,
    ) -> Result<(), PublishError> {
        let post = Post {
            room: room.clone(),
            body: body.to_owned(),
            payloads,
        };
        self.outbox.send(post).await
    }

    /// Waits until the rooms confirmed everything posted so far, or `timeout` passes.
    /// Returns whether everything was confirmed.
    pub async fn flush(&mut self, timeout: Duration) -> bool {
        self.outbox.flush(timeout).await
    }

    /// The publisher's state.
    pub fn status(&self) -> watch::Receiver<Status> {
        self.outbox.status()
    }

    /// Messages the rooms confirmed so far.
    pub fn confirmed(&self) -> u64 {
        self.outbox.confirmed()
    }

    /// Leaves the rooms and disconnects; unconfirmed messages are dropped.
    pub async fn close(mut self) {
        self.outbox.close().await;
    }
}

/// The task behind a publisher.
struct Worker {
    rooms: Vec<RoomConfig>,
    /// Sent or waiting, not yet reflected by the room: (message id, post).
    outbox: VecDeque<(String, Post)>,
    /// What the application posts.
    posts: Posts<Post>,
    status: watch::Sender<Status>,
    ids: Ids,
}

impl Worker {
    /// The room reflected message `id`: it is delivered. Messages sent on this connection
    /// before `sent_upto` shift down by one when an earlier one leaves the outbox.
    fn confirm(&mut self, id: &str, sent_upto: &mut usize) {
        if let Some(pos) = self.outbox.iter().position(|(i, _)| i == id) {
            self.outbox.remove(pos);
            if pos < *sent_upto {
                *sent_upto -= 1;
            }
            self.posts.confirmed();
        }
    }

    /// Our own presence in a room: joined, refused, or gone.
    fn on_presence(&self, occupants: &mut [Occupant], p: Presence) {
        let Some(from) = p.from.as_ref() else {
            return;
        };
        let muc = MucUser::of(&p.payloads);
        let nick = from.resource().map(|r| r.as_str());
        for (room, occupant, joined) in occupants.iter_mut() {
            if from.to_bare() != *room
                || !(muc.has(MucStatus::SelfPresence) || nick == Some(occupant.resource().as_str()))
            {
                continue;
            }
            let state = match p.type_ {
                PresenceType::None => {
                    *joined = true;
                    RoomState::Joined {
                        nick: occupant.resource().to_string(),
                        recovered: 0,
                    }
                }
                PresenceType::Error => {
                    let condition = stanzas::error_condition(&p.payloads).unwrap_or_default();
                    tracing::error!(%room, %condition, "publisher cannot join");
                    RoomState::Failed { reason: condition }
                }
                _ => {
                    *joined = false;
                    continue;
                }
            };
            self.status.send_modify(|s| {
                s.rooms.insert(room.to_string(), state);
            });
        }
    }
}

/// A room the publisher joins, as whom, and whether it is in.
type Occupant = (BareJid, FullJid, bool);

impl Serve for Worker {
    /// Sends what waits in the outbox, and settles it as the rooms reflect it.
    async fn serve(&mut self, session: Session, stop: &mut oneshot::Receiver<()>) -> Ended {
        let Session { mut stream, .. } = session;
        let mut occupants: Vec<Occupant> = Vec::new();
        for room in &self.rooms {
            let nick = ResourcePart::new(&room.nick)
                .unwrap_or_else(|_| ResourcePart::new("publisher").expect("valid"));
            let occupant = FullJid::from_parts(room.jid.node(), room.jid.domain(), &nick);
            let join = stanzas::join(
                &occupant,
                HistoryRequest::Nothing,
                room.password.as_ref().map(|p| p.expose()),
            );
            if let Err(e) = send(&mut stream, Stanza::Presence(join)).await {
                return Ended::Lost(e);
            }
            occupants.push((room.jid.clone(), occupant, false));
            self.status.send_modify(|s| {
                s.rooms.insert(room.jid.to_string(), RoomState::Joining);
            });
        }
        let mut sent_upto = 0usize; // outbox entries sent on this connection
        loop {
            // Send what waits, once its room is joined.
            while sent_upto < self.outbox.len() {
                let (id, post) = &self.outbox[sent_upto];
                if !occupants
                    .iter()
                    .any(|(r, _, joined)| *joined && *r == post.room)
                {
                    break;
                }
                let mut m = stanzas::groupchat(&post.room, &post.body, post.payloads.clone());
                m.id = Some(Id(id.clone()));
                if let Err(e) = send(&mut stream, Stanza::Message(m)).await {
                    return Ended::Lost(e);
                }
                sent_upto += 1;
            }
            let room_for_more = self.posts.room_for_more(self.outbox.len());
            let element = tokio::select! {
                post = self.posts.recv(), if room_for_more => match post {
                    Some(post) => {
                        let id = self.ids.next(format_args!("rcpub-{:08x}", rand::random::<u32>()));
                        self.outbox.push_back((id, post));
                        continue;
                    }
                    None => {
                        connect::close(&mut stream).await;
                        return Ended::ConsumerGone;
                    }
                },
                _ = &mut *stop => {
                    for (_, occupant, _) in &occupants {
                        let _ = send(&mut stream, Stanza::Presence(stanzas::leave(occupant))).await;
                    }
                    connect::close(&mut stream).await;
                    return Ended::Shutdown;
                }
                el = stream.next() => el,
            };
            match connect::incoming(&mut stream, element, &mut self.ids).await {
                Incoming::Stanza(Stanza::Message(m)) => {
                    if let (MessageType::Groupchat, Some(Id(id))) = (&m.type_, &m.id) {
                        self.confirm(id, &mut sent_upto);
                    }
                }
                // A reflection our parser refuses (we posted something odd): its id still
                // confirms it.
                Incoming::Invalid {
                    error: StreamElementError::InvalidStanza { header, .. },
                    ..
                } => {
                    if let Some(id) = header.id.as_deref() {
                        self.confirm(id, &mut sent_upto);
                    }
                }
                Incoming::Stanza(Stanza::Presence(p)) => self.on_presence(&mut occupants, p),
                Incoming::Stanza(Stanza::Iq(iq)) => {
                    if let Err(e) = connect::answer_requests(&mut stream, iq).await {
                        return Ended::Lost(e);
                    }
                }
                Incoming::Invalid { .. } | Incoming::Skip => {}
                Incoming::Lost(reason) => return Ended::Lost(reason),
            }
        }
    }
}
