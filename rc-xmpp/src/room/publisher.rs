//! Posting changes into rooms the way XMLRC did: the human line in `<body>`, the `<rc>`
//! element beside it.
//!
//! Delivery is at least once: a message stays in the outbox until the room reflects it
//! back (every MUC echoes a groupchat message to its sender), and everything still in the
//! outbox is sent again after a reconnect. Consumers drop the rare duplicate by
//! (wiki, rcid), as [`ChangeStream`](crate::ChangeStream) does.

use std::collections::VecDeque;
use std::time::Duration;

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
use crate::session::connect::{self, send, Session};
use crate::session::options::{self, Transport};
use crate::session::outbox::{Outbox, Posts};
use crate::session::stanzas::Ids;
use crate::session::task::{serve_session, Ended, InSession, Serve};
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
        serve_session(self, session, stop).await
    }
}

/// The publisher's rooms in one session, and how much of the outbox went out on it.
pub(crate) struct Joined {
    occupants: Vec<Occupant>,
    /// Outbox entries sent on this connection.
    sent_upto: usize,
}

impl InSession for Worker {
    type State = Joined;
    type Work = Post;

    /// Joins every room, asking for no history.
    async fn start(
        &mut self,
        stream: &mut connect::Stream,
        _jid: &FullJid,
    ) -> Result<Joined, Ended> {
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
            send(stream, Stanza::Presence(join))
                .await
                .map_err(Ended::Lost)?;
            occupants.push((room.jid.clone(), occupant, false));
            self.status.send_modify(|s| {
                s.rooms.insert(room.jid.to_string(), RoomState::Joining);
            });
        }
        Ok(Joined {
            occupants,
            sent_upto: 0,
        })
    }

    /// Sends what waits, once its room is joined.
    async fn flush(
        &mut self,
        state: &mut Joined,
        stream: &mut connect::Stream,
    ) -> Result<(), Ended> {
        while state.sent_upto < self.outbox.len() {
            let (id, post) = &self.outbox[state.sent_upto];
            if !state
                .occupants
                .iter()
                .any(|(r, _, joined)| *joined && *r == post.room)
            {
                break;
            }
            let mut m = stanzas::groupchat(&post.room, &post.body, post.payloads.clone());
            m.id = Some(Id(id.clone()));
            send(stream, Stanza::Message(m))
                .await
                .map_err(Ended::Lost)?;
            state.sent_upto += 1;
        }
        Ok(())
    }

    /// The next post, while the outbox has room.
    async fn next_work(&mut self) -> Option<Post> {
        if !self.posts.room_for_more(self.outbox.len()) {
            std::future::pending::<()>().await;
        }
        self.posts.recv().await
    }

    async fn work(&mut self, _state: &mut Joined, post: Post) -> Result<(), Ended> {
        let id = self
            .ids
            .next(format_args!("rcpub-{:08x}", rand::random::<u32>()));
        self.outbox.push_back((id, post));
        Ok(())
    }

    /// A reflection confirms a message; presences say whether a room is joined.
    async fn stanza(
        &mut self,
        state: &mut Joined,
        stream: &mut connect::Stream,
        _jid: &FullJid,
        stanza: Stanza,
    ) -> Result<(), Ended> {
        match stanza {
            Stanza::Message(m) => {
                if let (MessageType::Groupchat, Some(Id(id))) = (&m.type_, &m.id) {
                    self.confirm(id, &mut state.sent_upto);
                }
            }
            Stanza::Presence(p) => self.on_presence(&mut state.occupants, p),
            Stanza::Iq(iq) => {
                connect::answer_requests(stream, iq)
                    .await
                    .map_err(Ended::Lost)?;
            }
        }
        Ok(())
    }

    /// A reflection our parser refuses (we posted something odd): its id still confirms
    /// it.
    async fn invalid(
        &mut self,
        state: &mut Joined,
        _from: Option<BareJid>,
        error: StreamElementError,
    ) -> Result<(), Ended> {
        if let StreamElementError::InvalidStanza { header, .. } = error {
            if let Some(id) = header.id.as_deref() {
                self.confirm(id, &mut state.sent_upto);
            }
        }
        Ok(())
    }

    /// Leaves every room.
    async fn goodbye(&mut self, state: &Joined, stream: &mut connect::Stream, _jid: &FullJid) {
        for (_, occupant, _) in &state.occupants {
            let _ = send(stream, Stanza::Presence(stanzas::leave(occupant))).await;
        }
    }

    /// The application going away ends [`next_work`](Self::next_work) instead.
    fn consumer_gone(&self) -> bool {
        false
    }

    fn ids(&mut self) -> &mut Ids {
        &mut self.ids
    }
}
