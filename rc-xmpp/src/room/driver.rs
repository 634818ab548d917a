//! The task behind a [`ChangeStream`](crate::ChangeStream): connects, joins the rooms,
//! recovers what was missed, turns messages into changes, and starts over when the
//! connection is lost.

use std::io;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use minidom::Element;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;
use tokio_xmpp::jid::{BareJid, FullJid, Jid, ResourcePart};
use tokio_xmpp::xmlstream::StreamElementError;
use tokio_xmpp::Stanza;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::muc::user::Status as MucStatus;
use xmpp_parsers::presence::{Presence, Type as PresenceType};

use super::config::{Config, History, RoomConfig};
use super::dedup::Window;
use super::resume::ResumePosition;
use super::stanzas::{self, HistoryRequest, MucUser, Page, RoomMessage};
use super::RoomChange;
use crate::error::{Disconnect, Fatal, RoomError, StreamError};
use crate::session::connect::{self, send, Response, Session};
use crate::session::feed::Feeder;
use crate::session::position::Position;
use crate::session::shortcut::{Groupchat, Shortcut};
use crate::session::stanzas::{self as common, Ids};
use crate::session::task::{serve_session, Ended, InSession, Serve};
use crate::session::waiting::Waiting;
use crate::status::{RoomState, Status};

/// What a room client's stream yields.
pub(crate) type Item = Result<RoomChange, StreamError>;

/// A delivered message's place in its room.
#[derive(Clone)]
pub(crate) struct Mark {
    pub room: String,
    pub stanza_id: Option<String>,
    pub time: Option<DateTime<Utc>>,
}

impl Position for ResumePosition {
    type Mark = Mark;

    fn advance(&mut self, m: &Mark) {
        self.record(&m.room, m.stanza_id.as_deref(), m.time);
    }

    fn load(path: &Path) -> io::Result<Self> {
        ResumePosition::load(path)
    }
}

/// Archive page size for catch-up.
const MAM_PAGE: u32 = 250;
/// Nicks tried on conflicts before giving up on a room.
const MAX_NICKS: u32 = 5;
/// How far before a position's time a room without an archive replays its history:
/// a live message's server time is estimated (this clock plus the server's offset, known
/// to the second), and the server compares whole seconds; what comes twice is dropped
/// by (wiki, rcid).
const HISTORY_MARGIN: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

pub(crate) struct Driver {
    cfg: Config,
    out: Feeder<ResumePosition, Item>,
    status: watch::Sender<Status>,
    dedup: Window,
    ids: Ids,
    /// The server's clock minus this one (XEP-0202, asked at each session's start);
    /// zero until the server answers, or if it does not.
    server_offset: chrono::TimeDelta,
    /// The id of the pending server time request.
    time_query: Option<String>,
}

/// One room in one session.
struct Room {
    cfg: RoomConfig,
    /// The room keeps an archive (XEP-0313), as its disco#info said.
    archive: bool,
    /// The query asking the archive for its newest id, to start from there.
    baseline: Option<String>,
    /// The last self-ping's id, while its answer is due.
    self_ping: Option<String>,
    nicks_tried: u32,
    /// Joins refused in a row for a reason that passes (the MUC service is down...).
    join_retries: u32,
    occupant: FullJid,
    phase: Phase,
    recovered: u64,
    /// The disco#info, join or archive page the room waits for.
    waiting: Waiting,
}

enum Phase {
    /// Asked the room what it supports.
    Disco {
        id: String,
    },
    /// Join sent.
    Joining {
        archive: bool,
    },
    /// Replaying the archive after the last stanza id; live messages wait in `held`.
    /// `query` is the id of the page's request, `queryid` the secret that marks its
    /// results (the same for every page).
    /// `by_time`: the replay started from the position's time, not its stanza id.
    /// `overflowed`: `held` outgrew the stream's buffer size and was let go; the archive
    /// has those messages too, so the replay goes on past its end (see [`Driver::hold`]).
    CatchingUp {
        query: String,
        queryid: String,
        held: Vec<RoomMessage>,
        by_time: bool,
        overflowed: bool,
    },
    Joined,
    /// Kicked or dropped; join again at this time.
    RejoinAt(Instant),
    Failed,
}

impl Driver {
    pub fn new(
        cfg: Config,
        out: Feeder<ResumePosition, Item>,
        status: watch::Sender<Status>,
    ) -> Self {
        let dedup = Window::new(cfg.stream.delivery.dedup_window);
        Driver {
            cfg,
            out,
            status,
            dedup,
            ids: Ids::default(),
            server_offset: chrono::TimeDelta::zero(),
            time_query: None,
        }
    }

    /// This machine's clock (with the test hook's offset).
    fn local_now(&self) -> DateTime<Utc> {
        Utc::now() + self.cfg.local_clock_offset
    }

    /// The server's time now, as well as it is known: what positions record for
    /// messages the server did not stamp, so that `since` is in the server's terms.
    fn server_now(&self) -> DateTime<Utc> {
        self.local_now() + self.server_offset
    }

    /// The answer to the server time request: the offset of the server's clock. Taken
    /// against the time the answer arrived and with the server's truncation to the
    /// second, it errs early (up to a second plus the round trip), never late.
    fn on_server_time(&mut self, payload: Option<Element>) {
        let time = payload.and_then(|p| xmpp_parsers::time::TimeResult::try_from(p).ok());
        match time {
            Some(t) => {
                self.server_offset = t.utc - self.local_now();
                tracing::debug!(offset = ?self.server_offset, "server clock");
            }
            None => tracing::debug!("the server did not say its time; using this clock"),
        }
    }

    fn set_room(&self, room: &BareJid, state: RoomState) {
        self.status.send_modify(|s| {
            s.rooms.insert(room.to_string(), state);
        });
    }
}

impl Serve for Driver {
    /// The consumer reads the fatal error last.
    async fn failed(&mut self, fatal: Fatal) {
        self.out.finish(Err(StreamError::Fatal(fatal))).await;
    }

    /// Runs one session until it ends.
    async fn serve(&mut self, session: Session, shutdown: &mut oneshot::Receiver<()>) -> Ended {
        serve_session(self, session, shutdown).await
    }
}

/// The rooms in one session, and when they are next self-pinged.
pub(crate) struct Rooms {
    rooms: Vec<Room>,
    next_self_ping: Instant,
}

impl InSession for Driver {
    type State = Rooms;
    type Work = std::convert::Infallible;

    /// Asks the server its time, and each room what it supports (the join follows).
    async fn start(&mut self, stream: &mut connect::Stream, jid: &FullJid) -> Result<Rooms, Ended> {
        let mut rooms: Vec<Room> = Vec::with_capacity(self.cfg.rooms.len());
        let id = self.ids.next("time");
        self.time_query = Some(id.clone());
        let server = Jid::from(BareJid::from_parts(None, jid.domain()));
        let query = Iq::from_get(id, xmpp_parsers::time::TimeQuery).with_to(server);
        send(stream, Stanza::Iq(query)).await.map_err(Ended::Lost)?;
        for cfg in self.cfg.rooms.clone() {
            let occupant = occupant(&cfg.jid, &cfg.nick);
            let id = self.ids.next("disco");
            self.set_room(&cfg.jid, RoomState::Joining);
            let disco = common::disco_info(&cfg.jid, &id);
            rooms.push(Room {
                cfg,
                archive: false,
                baseline: None,
                self_ping: None,
                nicks_tried: 1,
                join_retries: 0,
                occupant,
                phase: Phase::Disco { id },
                recovered: 0,
                waiting: Waiting::default(),
            });
            send(stream, Stanza::Iq(disco)).await.map_err(Ended::Lost)?;
        }
        Ok(Rooms {
            rooms,
            next_self_ping: Instant::now() + self.cfg.self_ping_interval,
        })
    }

    /// Rejoins what is due, and self-pings the joined rooms when it is time.
    async fn tick(
        &mut self,
        state: &mut Rooms,
        stream: &mut connect::Stream,
        _jid: &FullJid,
        now: Instant,
    ) -> Result<(), Ended> {
        for room in state.rooms.iter_mut() {
            let jid = &room.cfg.jid;
            let request = match &room.phase {
                Phase::Disco { id } => Some(format!("the disco#info request {id} of {jid}")),
                Phase::Joining { .. } => Some(format!("the join of {jid}")),
                Phase::CatchingUp { query, .. } => {
                    Some(format!("the archive page {query} of {jid}"))
                }
                _ => None,
            };
            room.waiting
                .check(request, now, self.cfg.stream.transport.request_timeout)
                .map_err(Ended::Lost)?;
            if matches!(room.phase, Phase::RejoinAt(at) if at <= now) {
                // Without an archive known, ask again: the room (or the service) may
                // not have answered before.
                if room.archive {
                    self.join(stream, room, true).await
                } else {
                    let id = self.ids.next("disco");
                    let disco = common::disco_info(&room.cfg.jid, &id);
                    room.phase = Phase::Disco { id };
                    send(stream, Stanza::Iq(disco)).await
                }
                .map_err(Ended::Lost)?;
            }
        }
        if now >= state.next_self_ping {
            state.next_self_ping = now + self.cfg.self_ping_interval;
            for room in state
                .rooms
                .iter_mut()
                .filter(|r| matches!(r.phase, Phase::Joined))
            {
                let id = self.ids.next("selfping");
                let ping = common::ping(Some(Jid::from(room.occupant.clone())), &id);
                room.self_ping = Some(id);
                send(stream, Stanza::Iq(ping)).await.map_err(Ended::Lost)?;
            }
        }
        Ok(())
    }

    async fn stanza(
        &mut self,
        state: &mut Rooms,
        stream: &mut connect::Stream,
        jid: &FullJid,
        stanza: Stanza,
    ) -> Result<(), Ended> {
        let rooms = &mut state.rooms;
        match stanza {
            Stanza::Message(m) => self.on_message(rooms, m).await,
            Stanza::Presence(p) => self.on_presence(stream, rooms, p).await,
            Stanza::Iq(iq) => self.on_iq(stream, rooms, jid, iq).await,
        }
    }

    async fn invalid(
        &mut self,
        state: &mut Rooms,
        from: Option<BareJid>,
        error: StreamElementError,
    ) -> Result<(), Ended> {
        self.on_invalid(&state.rooms, from, error).await
    }

    /// Leaves every room.
    async fn goodbye(&mut self, state: &Rooms, stream: &mut connect::Stream, _jid: &FullJid) {
        for room in &state.rooms {
            let _ = send(stream, Stanza::Presence(stanzas::leave(&room.occupant))).await;
        }
    }

    fn consumer_gone(&self) -> bool {
        self.out.is_closed()
    }

    fn ids(&mut self) -> &mut Ids {
        &mut self.ids
    }

    /// Reads the rooms' groupchat changes the short way from now on.
    fn shortcut(&mut self, shortcut: Arc<Shortcut>) {
        shortcut.enable();
    }

    async fn short(&mut self, state: &mut Rooms, read: Groupchat) -> Result<(), Ended> {
        self.on_groupchat(&mut state.rooms, read).await
    }
}

impl Driver {
    /// A stanza the XMPP parser rejected: an error item when it came from one of our rooms.
    async fn on_invalid(
        &mut self,
        rooms: &[Room],
        from: Option<BareJid>,
        e: StreamElementError,
    ) -> Result<(), Ended> {
        match from.and_then(|f| rooms.iter().find(|r| f == r.cfg.jid)) {
            Some(room) => {
                let item = Err(StreamError::InvalidStanza {
                    room: room.cfg.jid.clone(),
                    reason: e.to_string(),
                });
                self.out.deliver(item, None).await
            }
            None => {
                tracing::warn!("skipping an element that does not parse: {e}");
                Ok(())
            }
        }
    }

    /// Sends the join presence for a room, asking for what it missed.
    async fn join(
        &mut self,
        stream: &mut connect::Stream,
        room: &mut Room,
        archive: bool,
    ) -> Result<(), Disconnect> {
        let position = self.out.received().room(room.cfg.jid.as_str()).cloned();
        let history = match (&position, archive) {
            // The archive replays what was missed, by id or by time.
            (Some(p), true) if p.stanza_id.is_some() || p.time.is_some() => HistoryRequest::Nothing,
            // The history, by the server's time of the last message (a margin early).
            (Some(p), _) if p.time.is_some() => {
                HistoryRequest::Since(p.time.expect("checked") - HISTORY_MARGIN)
            }
            _ => match self.cfg.history {
                History::None => HistoryRequest::Nothing,
                History::Last(n) => HistoryRequest::Last(n),
                History::Since(t) => HistoryRequest::Since(t),
            },
        };
        room.phase = Phase::Joining { archive };
        room.archive = archive;
        room.recovered = 0;
        self.set_room(&room.cfg.jid, RoomState::Joining);
        let password = room.cfg.password.as_ref().map(|p| p.expose().to_owned());
        send(
            stream,
            Stanza::Presence(stanzas::join(&room.occupant, history, password.as_deref())),
        )
        .await
    }

    async fn on_iq(
        &mut self,
        stream: &mut connect::Stream,
        rooms: &mut [Room],
        me: &FullJid,
        iq: Iq,
    ) -> Result<(), Ended> {
        let Some(iq) = connect::answer_requests(stream, iq)
            .await
            .map_err(Ended::Lost)?
        else {
            return Ok(());
        };
        let (Response::Result { id, .. } | Response::Error { id, .. }) = &iq;
        let server = Jid::from(BareJid::from_parts(None, me.domain()));
        if self.time_query.as_deref() == Some(id.as_str()) && iq.is_from(&server, me) {
            self.time_query = None;
            match iq {
                Response::Result { payload, .. } => self.on_server_time(payload),
                Response::Error { .. } => self.on_server_time(None),
            }
            return Ok(());
        }
        // Every request went to a room or to our occupant in it: the answer must come
        // from there (anyone who knows our full JID can send us an iq).
        let Some(room) = rooms.iter_mut().find(|r| {
            iq.is_from(&Jid::from(r.cfg.jid.clone()), me)
                || iq.is_from(&Jid::from(r.occupant.clone()), me)
        }) else {
            return Ok(());
        };
        let from_room = iq.is_from(&Jid::from(room.cfg.jid.clone()), me);
        match iq {
            Response::Result { id, payload, .. } => {
                if !from_room {
                    return Ok(());
                }
                if room.baseline.as_deref() == Some(id.as_str()) {
                    tracing::debug!(room = %room.cfg.jid, ?payload, "archive baseline");
                    room.baseline = None;
                    let name = room.cfg.jid.to_string();
                    if let (_, Some(newest)) = stanzas::mam_fin(payload) {
                        if self
                            .out
                            .received()
                            .room(&name)
                            .is_none_or(|p| p.stanza_id.is_none())
                        {
                            self.out
                                .advance(Mark {
                                    room: name,
                                    stanza_id: Some(newest),
                                    time: None,
                                })
                                .await?;
                        }
                    }
                    return Ok(());
                }
                match &room.phase {
                    Phase::Disco { id: d } if *d == id => {
                        let archive = common::has_feature(payload.as_ref(), xmpp_parsers::ns::MAM);
                        self.join(stream, room, archive)
                            .await
                            .map_err(Ended::Lost)?;
                    }
                    Phase::CatchingUp { query, .. } if *query == id => {
                        let (complete, last) = stanzas::mam_fin(payload);
                        match (complete, last) {
                            (false, Some(last)) => {
                                let query = self.ids.next("mam");
                                let Phase::CatchingUp { queryid, .. } = &room.phase else {
                                    unreachable!("matched above")
                                };
                                let iq = stanzas::mam_query(
                                    &room.cfg.jid,
                                    &query,
                                    queryid,
                                    Page::After(&last),
                                    MAM_PAGE,
                                );
                                if let Phase::CatchingUp { query: q, .. } = &mut room.phase {
                                    *q = query;
                                }
                                send(stream, Stanza::Iq(iq)).await.map_err(Ended::Lost)?;
                            }
                            _ => self.archive_end(stream, room).await?,
                        }
                    }
                    _ => {}
                }
            }
            Response::Error { id, error, .. } => {
                match &room.phase {
                    Phase::Disco { id: d } if *d == id && from_room => {
                        // The room may not exist yet: joining creates it.
                        self.join(stream, room, false).await.map_err(Ended::Lost)?;
                    }
                    Phase::CatchingUp { query, .. } if *query == id && from_room => {
                        self.catch_up_refused(stream, room, &error).await?;
                    }
                    Phase::Joined
                        if room.self_ping.as_deref() == Some(id.as_str()) && !from_room =>
                    {
                        room.self_ping = None;
                        let condition = format!("{:?}", error.defined_condition);
                        if condition.contains("NotAcceptable") || condition.contains("ItemNotFound")
                        {
                            tracing::warn!(room = %room.cfg.jid, "self-ping says we are no longer in the room; rejoining");
                            let archive = room.archive;
                            self.join(stream, room, archive)
                                .await
                                .map_err(Ended::Lost)?;
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    async fn on_presence(
        &mut self,
        stream: &mut connect::Stream,
        rooms: &mut [Room],
        p: Presence,
    ) -> Result<(), Ended> {
        let Some(from) = p.from.as_ref() else {
            return Ok(());
        };
        let Some(room) = rooms.iter_mut().find(|r| from.to_bare() == r.cfg.jid) else {
            return Ok(());
        };
        let muc = MucUser::of(&p.payloads);
        let is_self = muc.has(MucStatus::SelfPresence)
            || from.resource().map(|r| r.as_str()) == Some(room.occupant.resource().as_str());
        match p.type_ {
            PresenceType::Error if matches!(room.phase, Phase::Joining { .. }) => {
                let condition =
                    stanzas::error_condition(&p.payloads).unwrap_or_else(|| "unknown".into());
                if condition == "conflict" && room.nicks_tried < MAX_NICKS {
                    room.nicks_tried += 1;
                    let nick = format!("{}_{}", room.cfg.nick, room.nicks_tried);
                    tracing::info!(room = %room.cfg.jid, %nick, "nick taken; trying another");
                    room.occupant = occupant(&room.cfg.jid, &nick);
                    let archive = matches!(room.phase, Phase::Joining { archive: true });
                    return self.join(stream, room, archive).await.map_err(Ended::Lost);
                }
                if matches!(
                    condition.as_str(),
                    "service-unavailable"
                        | "remote-server-not-found"
                        | "remote-server-timeout"
                        | "internal-server-error"
                ) {
                    // The MUC service is down or restarting: it passes, try again later.
                    room.join_retries += 1;
                    let backoff = crate::session::options::ReconnectPolicy {
                        initial: self.cfg.rejoin_delay,
                        max: self
                            .cfg
                            .stream
                            .transport
                            .reconnect
                            .max
                            .max(self.cfg.rejoin_delay),
                        ..self.cfg.stream.transport.reconnect
                    };
                    let delay = backoff.delay(room.join_retries);
                    tracing::warn!(room = %room.cfg.jid, %condition, ?delay, "the join was refused for now; retrying");
                    room.phase = Phase::RejoinAt(Instant::now() + delay);
                    self.set_room(&room.cfg.jid, RoomState::Rejoining { reason: condition });
                    return Ok(());
                }
                let error = match condition.as_str() {
                    "conflict" => RoomError::NickConflict {
                        last: room.occupant.resource().to_string(),
                    },
                    "forbidden" => RoomError::Banned,
                    "registration-required" => RoomError::MembersOnly,
                    "not-authorized" => RoomError::PasswordRequired,
                    "item-not-found" | "not-allowed" => RoomError::NotFound,
                    other => RoomError::Refused {
                        condition: other.to_owned(),
                    },
                };
                self.room_failed(room, error).await
            }
            PresenceType::None if is_self => {
                if let Phase::Joining { archive } = room.phase {
                    let position = self.out.received().room(room.cfg.jid.as_str()).cloned();
                    let page = position
                        .as_ref()
                        .and_then(|p| match (&p.stanza_id, p.time) {
                            (Some(id), _) => Some(Page::After(id)),
                            (None, Some(t)) => Some(Page::Since(t)),
                            (None, None) => None,
                        });
                    match (archive, page) {
                        (true, Some(page)) => {
                            let query = self.ids.next("mam");
                            let queryid = Ids::secret();
                            let iq =
                                stanzas::mam_query(&room.cfg.jid, &query, &queryid, page, MAM_PAGE);
                            room.phase = Phase::CatchingUp {
                                query,
                                queryid,
                                held: Vec::new(),
                                by_time: matches!(page, Page::Since(_)),
                                overflowed: false,
                            };
                            send(stream, Stanza::Iq(iq)).await.map_err(Ended::Lost)?;
                        }
                        _ => {
                            room.phase = Phase::Joined;
                            self.joined(room);
                            self.take_baseline(stream, room).await?;
                        }
                    }
                }
                Ok(())
            }
            PresenceType::Unavailable if is_self => {
                if let Some(reason) = muc.destroyed.clone() {
                    return self
                        .room_failed(room, RoomError::Destroyed { reason })
                        .await;
                }
                if muc.has(MucStatus::Banned) {
                    return self.room_failed(room, RoomError::Banned).await;
                }
                if muc.has(MucStatus::NewNick) {
                    return Ok(()); // our nick changed
                }
                let reason = if muc.has(MucStatus::Kicked) {
                    "kicked"
                } else {
                    "removed from the room"
                };
                tracing::warn!(room = %room.cfg.jid, reason, "left the room; rejoining after a delay");
                room.phase = Phase::RejoinAt(Instant::now() + self.cfg.rejoin_delay);
                self.set_room(
                    &room.cfg.jid,
                    RoomState::Rejoining {
                        reason: reason.into(),
                    },
                );
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A room joined with no position yet gets one now, so that whatever is posted while
    /// a later connection is down is recovered: the archive's newest id, or the join time.
    async fn take_baseline(
        &mut self,
        stream: &mut connect::Stream,
        room: &mut Room,
    ) -> Result<(), Ended> {
        let name = room.cfg.jid.to_string();
        if self
            .out
            .received()
            .room(&name)
            .is_some_and(|p| p.stanza_id.is_some())
        {
            return Ok(());
        }
        if self
            .out
            .received()
            .room(&name)
            .is_none_or(|p| p.time.is_none())
        {
            let now = Some(self.server_now());
            self.out
                .advance(Mark {
                    room: name.clone(),
                    stanza_id: None,
                    time: now,
                })
                .await?;
        }
        if room.archive {
            let id = self.ids.next("mam-newest");
            room.baseline = Some(id.clone());
            send(
                stream,
                Stanza::Iq(stanzas::mam_query(
                    &room.cfg.jid,
                    &id,
                    &Ids::secret(),
                    Page::Newest,
                    1,
                )),
            )
            .await
            .map_err(Ended::Lost)?;
        }
        Ok(())
    }

    fn joined(&self, room: &mut Room) {
        room.join_retries = 0;
        tracing::info!(room = %room.cfg.jid, recovered = room.recovered, "joined");
        self.set_room(
            &room.cfg.jid,
            RoomState::Joined {
                nick: room.occupant.resource().to_string(),
                recovered: room.recovered,
            },
        );
    }

    async fn room_failed(&mut self, room: &mut Room, error: RoomError) -> Result<(), Ended> {
        tracing::error!(room = %room.cfg.jid, %error, "giving up on the room");
        room.phase = Phase::Failed;
        self.set_room(
            &room.cfg.jid,
            RoomState::Failed {
                reason: error.to_string(),
            },
        );
        let item = Err(StreamError::Room {
            room: room.cfg.jid.clone(),
            error,
        });
        self.out.deliver(item, None).await
    }

    /// The archive refused the catch-up (the saved stanza id is no longer in it): a gap,
    /// reported as an item and counted; what the archive holds since the position's
    /// time is replayed instead, if there is a time and that was not what failed.
    async fn catch_up_refused(
        &mut self,
        stream: &mut connect::Stream,
        room: &mut Room,
        error: &xmpp_parsers::stanza_error::StanzaError,
    ) -> Result<(), Ended> {
        let condition = common::condition(error);
        let since = self
            .out
            .received()
            .room(room.cfg.jid.as_str())
            .and_then(|p| p.time);
        tracing::warn!(room = %room.cfg.jid, %condition, ?since, "the room archive refused the catch-up; changes may be missing");
        self.status.send_modify(|s| s.gaps += 1);
        let item = Err(StreamError::Gap {
            room: room.cfg.jid.clone(),
            since,
            condition,
        });
        self.out.deliver(item, None).await?;
        if let (
            Phase::CatchingUp {
                query,
                queryid,
                by_time: by_time @ false,
                ..
            },
            Some(t),
        ) = (&mut room.phase, since)
        {
            *query = self.ids.next("mam");
            *by_time = true;
            let iq = stanzas::mam_query(&room.cfg.jid, query, queryid, Page::Since(t), MAM_PAGE);
            return send(stream, Stanza::Iq(iq)).await.map_err(Ended::Lost);
        }
        self.caught_up(room).await
    }

    /// Keeps a live message until the archive replay is over, at most the stream's buffer
    /// size of them: the room archived every one of them, so when there are more, they
    /// are let go and the replay continues past the end it had (until it ends with
    /// nothing held beyond the bound). Memory stays bounded, nothing is lost, and the
    /// order stays the archive's.
    fn hold(&mut self, room: &mut Room, m: RoomMessage) {
        let limit = self.cfg.stream.delivery.buffer.max(1);
        if let Phase::CatchingUp {
            held, overflowed, ..
        } = &mut room.phase
        {
            if held.len() >= limit {
                tracing::debug!(room = %room.cfg.jid, limit, "live messages held during the catch-up let go: the archive replays them");
                let let_go = held.len() as u64;
                self.status.send_modify(|s| s.refetched += let_go);
                held.clear();
                *overflowed = true;
            }
            held.push(m);
        }
    }

    /// The archive answered its last page: the replay is over, or, when live messages
    /// were let go meanwhile ([`hold`](Self::hold)), it goes on after the last change
    /// received (they are in the archive, after it).
    async fn archive_end(
        &mut self,
        stream: &mut connect::Stream,
        room: &mut Room,
    ) -> Result<(), Ended> {
        let Phase::CatchingUp {
            query,
            queryid,
            held,
            overflowed: overflowed @ true,
            ..
        } = &mut room.phase
        else {
            return self.caught_up(room).await;
        };
        let position = self.out.received().room(room.cfg.jid.as_str());
        let page = match position.map(|p| (p.stanza_id.as_deref(), p.time)) {
            Some((Some(id), _)) => Page::After(id),
            Some((None, Some(t))) => Page::Since(t),
            _ => return self.caught_up(room).await,
        };
        // Held from here on: what arrives after the replay's next end.
        held.clear();
        *overflowed = false;
        *query = self.ids.next("mam");
        let iq = stanzas::mam_query(&room.cfg.jid, query, queryid, page, MAM_PAGE);
        send(stream, Stanza::Iq(iq)).await.map_err(Ended::Lost)
    }

    /// The archive replay is over: release the live messages held meanwhile.
    async fn caught_up(&mut self, room: &mut Room) -> Result<(), Ended> {
        let held = match std::mem::replace(&mut room.phase, Phase::Joined) {
            Phase::CatchingUp { held, .. } => held,
            _ => Vec::new(),
        };
        for read in held {
            self.accept(&room.cfg.jid, read, false).await?;
        }
        self.status.send_modify(|s| s.recovered += room.recovered);
        self.joined(room);
        Ok(())
    }

    async fn on_message(&mut self, rooms: &mut [Room], mut m: Message) -> Result<(), Ended> {
        let Some(from) = m.from.clone() else {
            return Ok(());
        };
        let bare = from.to_bare();
        let Some(room) = rooms.iter_mut().find(|r| bare == r.cfg.jid) else {
            return Ok(());
        };
        // A page of the room archive: from the room itself (an occupant's address has a
        // resource), for the query id only the room was told.
        if let (Phase::CatchingUp { queryid, .. }, None) = (&room.phase, from.resource()) {
            if let Some(archived) = stanzas::mam_result(&mut m, queryid) {
                if self.accept(&room.cfg.jid, archived, true).await? {
                    room.recovered += 1;
                }
                return Ok(());
            }
        }
        if m.type_ != MessageType::Groupchat || from.resource().is_none() {
            return Ok(()); // room notices, errors, private messages
        }
        if m.bodies.is_empty() && !stanzas::has_change(&m) {
            return Ok(()); // subject changes and chat states
        }
        let read = RoomMessage::live(m, &room.cfg.jid);
        self.on_room_message(room, read).await
    }

    /// A groupchat change read the short way: from an occupant of one of our rooms (the
    /// scan saw a nick), as [`on_message`](Self::on_message) takes it.
    async fn on_groupchat(&mut self, rooms: &mut [Room], g: Groupchat) -> Result<(), Ended> {
        let room = match rooms.iter_mut().position(|r| r.cfg.jid.as_str() == g.room) {
            Some(at) => &mut rooms[at],
            // Written otherwise than the room's normalized address (case, Unicode).
            None => match BareJid::new(&g.room) {
                Ok(bare) => match rooms.iter_mut().find(|r| r.cfg.jid == bare) {
                    Some(room) => room,
                    None => return Ok(()),
                },
                Err(_) => return Ok(()),
            },
        };
        let read = RoomMessage::short(g, &room.cfg.jid);
        self.on_room_message(room, read).await
    }

    /// A live message of `room`, read: held during a catch-up, else accepted.
    async fn on_room_message(&mut self, room: &mut Room, read: RoomMessage) -> Result<(), Ended> {
        if let Phase::CatchingUp { .. } = room.phase {
            self.hold(room, read);
            return Ok(());
        }
        let replayed = read.delayed;
        let jid = room.cfg.jid.clone();
        if self.accept(&jid, read, replayed).await? && replayed {
            room.recovered += 1;
            self.status.send_modify(|s| s.recovered += 1);
        }
        Ok(())
    }

    /// Turns one message, read once, into an item: parses its payload, drops
    /// duplicates, filters, delivers. Returns whether a change was delivered.
    async fn accept(
        &mut self,
        room: &BareJid,
        message: RoomMessage,
        replayed: bool,
    ) -> Result<bool, Ended> {
        let RoomMessage {
            stanza_id,
            sent_at,
            payload,
            body,
            ..
        } = message;
        let mark = Mark {
            room: room.as_str().to_owned(),
            stanza_id: stanza_id.clone(),
            time: sent_at.or_else(|| Some(self.server_now())),
        };
        let item = match payload {
            None => Err(StreamError::NoPayload {
                room: room.clone(),
                body: body.as_deref().map(stanzas::body_snippet),
            }),
            Some(payload) => match payload.parse() {
                Err(error) => Err(StreamError::BadPayload {
                    room: room.clone(),
                    stanza_id: stanza_id.clone(),
                    error: Box::new(error),
                }),
                Ok(change) => {
                    if !self.dedup.first_time(change.wiki.as_deref(), change.rcid) {
                        self.status.send_modify(|s| s.duplicates += 1);
                        self.out.advance(mark).await?;
                        return Ok(false);
                    }
                    if !self.cfg.stream.delivery.filter.matches(&change) {
                        self.out.advance(mark).await?;
                        return Ok(false);
                    }
                    Ok(RoomChange {
                        change,
                        room: room.clone(),
                        stanza_id,
                        replayed,
                        sent_at,
                    })
                }
            },
        };
        let delivered = item.is_ok();
        self.out.deliver(item, Some(mark)).await?;
        Ok(delivered)
    }
}

fn occupant(room: &BareJid, nick: &str) -> FullJid {
    let resource = ResourcePart::new(nick)
        .unwrap_or_else(|_| ResourcePart::new("rc-xmpp").expect("a valid resource"));
    FullJid::from_parts(room.node(), room.domain(), &resource)
}
