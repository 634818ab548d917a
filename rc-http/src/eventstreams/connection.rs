//! The task behind an [`EventStream`](super::EventStream): connect, read events, and
//! reconnect from the position when the connection ends.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use chrono::SecondsFormat;
use reqwest::header::{HeaderValue, ACCEPT, CACHE_CONTROL};
use reqwest::StatusCode;
use sse_parse::SseParser;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::error::{cut, EventStreamsError};
use super::event::{bad_event, decode, Body};
use super::position::{Assignment, At};
use super::{EventStreams, Message, Position, State, Status};
use crate::polling::Start;

/// How many `meta.id`s are remembered to drop an event delivered twice.
const SEEN_IDS: usize = 4096;

/// A connection that ends cleanly sooner than this without an event is treated as a
/// failure (backoff), so a server that closes at once cannot cause a reconnect storm.
const SHORTEST_USEFUL: Duration = Duration::from_secs(1);

pub(super) fn spawn(
    cfg: EventStreams,
    tx: mpsc::Sender<Message>,
    status: watch::Sender<Status>,
) -> Result<JoinHandle<()>, EventStreamsError> {
    let (url, http) = crate::http::client("stream URL", &cfg.url, &cfg.user_agent, None, false)
        .map_err(|e| EventStreamsError::Config(e.to_string()))?;
    let shown = without_query(&url);
    let task = Task {
        position: cfg.position.clone(),
        seen: Seen::default(),
        cfg,
        http,
        url,
        shown,
        tx,
        status,
    };
    Ok(tokio::spawn(task.run()))
}

fn without_query(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

struct Task {
    cfg: EventStreams,
    http: reqwest::Client,
    url: reqwest::Url,
    shown: String,
    position: Position,
    seen: Seen,
    tx: mpsc::Sender<Message>,
    status: watch::Sender<Status>,
}

/// How one connection ended.
enum Ended {
    /// The server ended the body. `events`: events read on it.
    Closed { events: u64 },
    /// Nothing arrived for the stall timeout.
    Stalled,
    /// Reading failed (connection reset...).
    Broken(String),
    /// The consumer is gone: stop.
    Gone,
}

/// What to do after an attempt.
enum Next {
    /// Reconnect after this delay; `reset`: the backoff starts over.
    Retry {
        delay: Option<Duration>,
        reason: String,
        reset: bool,
    },
    Stop,
}

impl Task {
    async fn run(mut self) {
        let (initial, max) = self.cfg.backoff;
        let mut backoff = initial;
        loop {
            self.set_state(State::Connecting);
            match self.attempt().await {
                Next::Stop => return,
                Next::Retry {
                    delay,
                    reason,
                    reset,
                } => {
                    if reset {
                        backoff = initial;
                    }
                    // `None`: the backoff's turn; a server-given delay is never shortened.
                    let wait = match delay {
                        Some(d) => d,
                        None => {
                            let d = jitter(backoff).min(max);
                            backoff = (backoff * 2).min(max);
                            d
                        }
                    };
                    if !wait.is_zero() {
                        info!(url = %self.shown, "{reason}; reconnecting in {:.1}s", wait.as_secs_f64());
                        self.set_state(State::Waiting {
                            reason,
                            delay: wait,
                        });
                        tokio::time::sleep(wait).await;
                    } else {
                        debug!(url = %self.shown, "{reason}; reconnecting");
                    }
                    if self.tx.is_closed() {
                        return;
                    }
                }
            }
        }
    }

    /// One connection: request, read until it ends, say what to do next.
    async fn attempt(&mut self) -> Next {
        let mut url = self.url.clone();
        let last_event_id = self.position.last_event_id();
        if last_event_id.is_none() {
            match self.cfg.start {
                Start::Now => {}
                Start::At(t) => {
                    url.query_pairs_mut()
                        .append_pair("since", &t.to_rfc3339_opts(SecondsFormat::Millis, true));
                }
                Start::Beginning => {
                    url.query_pairs_mut().append_pair("since", "0");
                }
            }
        }
        let mut req = self
            .http
            .get(url)
            .header(ACCEPT, HeaderValue::from_static("text/event-stream"))
            .header(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if let Some(id) = &last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let started = Instant::now();
        let resp = match tokio::time::timeout(self.cfg.stall_timeout, req.send()).await {
            Err(_) => return retry(None, "no answer to the request".into()),
            Ok(Err(e)) => return retry(None, format!("request failed: {}", e.without_url())),
            Ok(Ok(resp)) => resp,
        };
        let status = resp.status();
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            if status == StatusCode::TOO_MANY_REQUESTS {
                self.status.send_modify(|s| s.throttled += 1);
            }
            let after = crate::http::retry_after(resp.headers());
            let reason = format!("HTTP {}", status.as_u16());
            // Never before Retry-After; without one, the backoff.
            return match after {
                Some(after) => retry(Some(after.max(self.cfg.backoff.0)), reason),
                None => retry(None, reason),
            };
        }
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            return retry(None, format!("HTTP {}", status.as_u16()));
        }
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            let error = EventStreamsError::Refused {
                url: self.shown.clone(),
                status: status.as_u16(),
                body: cut(body.trim(), 500),
            };
            warn!("{error}");
            self.set_state(State::Failed {
                reason: error.to_string(),
            });
            self.status.send_modify(|s| s.errors += 1);
            let _ = self
                .tx
                .send(Message {
                    item: Some(Err(error)),
                    position: None,
                })
                .await;
            return Next::Stop;
        }
        self.status.send_modify(|s| {
            s.connections += 1;
            s.state = State::Live;
        });
        info!(url = %self.shown, resumed = last_event_id.is_some(), "connected");
        let mut parser = SseParser::new().max_buffer(self.cfg.max_event_bytes);
        match self.read(resp, &mut parser).await {
            Ended::Gone => Next::Stop,
            Ended::Closed { events } if events > 0 || started.elapsed() >= SHORTEST_USEFUL => {
                // EventStreams ends every connection after a while: go on at once, or after
                // the server's `retry:` time.
                Next::Retry {
                    delay: Some(parser.retry().unwrap_or(Duration::ZERO)),
                    reason: "the server closed the connection".into(),
                    reset: events > 0,
                }
            }
            Ended::Closed { .. } => Next::Retry {
                delay: parser.retry(),
                reason: "the server closed the connection at once".into(),
                reset: false,
            },
            Ended::Stalled => {
                self.status.send_modify(|s| s.stalls += 1);
                let reason = format!(
                    "nothing received for {:.0}s",
                    self.cfg.stall_timeout.as_secs_f64()
                );
                warn!(url = %self.shown, "{reason}: the connection is dead, reconnecting");
                Next::Retry {
                    delay: Some(parser.retry().unwrap_or(Duration::ZERO)),
                    reason,
                    reset: false,
                }
            }
            Ended::Broken(why) => retry(parser.retry(), format!("connection lost: {why}")),
        }
    }

    /// Reads the body until it ends, handing each event over.
    async fn read(&mut self, mut resp: reqwest::Response, parser: &mut SseParser) -> Ended {
        let mut events = 0u64;
        loop {
            let chunk = match tokio::time::timeout(self.cfg.stall_timeout, resp.chunk()).await {
                Err(_) => return Ended::Stalled,
                Ok(Err(e)) => return Ended::Broken(e.without_url().to_string()),
                Ok(Ok(None)) => {
                    parser.finish();
                    if !self.drain(parser, &mut events).await {
                        return Ended::Gone;
                    }
                    return Ended::Closed { events };
                }
                Ok(Ok(Some(chunk))) => chunk,
            };
            let overflows = parser.overflows();
            parser.feed(&chunk);
            if !self.drain(parser, &mut events).await {
                return Ended::Gone;
            }
            for _ in overflows..parser.overflows() {
                // The dropped event's `id` (sent before its data) still moves the position.
                if let Ok(id) = serde_json::from_str::<Vec<Assignment>>(parser.last_event_id()) {
                    self.position.advance(&id, None);
                }
                let error = EventStreamsError::TooLarge {
                    limit: self.cfg.max_event_bytes,
                    after: parser.last_event_id().to_owned(),
                };
                warn!("{error}");
                if !self.send(Some(Err(error))).await {
                    return Ended::Gone;
                }
            }
        }
    }

    /// Hands over every complete event of the parser; `false` once the consumer is gone.
    async fn drain(&mut self, parser: &mut SseParser, events: &mut u64) -> bool {
        while let Some(ev) = parser.next_event() {
            *events += 1;
            let item = self.event(ev);
            if !self.send(item).await {
                return false;
            }
        }
        true
    }

    /// One SSE event: the item to hand over (`None`: dropped), the position moved past it.
    fn event(&mut self, ev: sse_parse::Event) -> Option<Result<super::Event, EventStreamsError>> {
        if ev.event != "message" {
            return Some(Err(EventStreamsError::Server {
                kind: ev.event,
                data: cut(&ev.data, 500),
            }));
        }
        let id: Vec<Assignment> = if ev.id.is_empty() {
            Vec::new()
        } else {
            match serde_json::from_str(&ev.id) {
                Ok(id) => id,
                Err(e) => {
                    warn!(id = %cut(&ev.id, 200), "an event id that is not EventStreams' array of topic-partitions ({e}): the position moves by the event's meta only");
                    Vec::new()
                }
            }
        };
        let decoded = decode(&ev.data, self.cfg.all_changes);
        let delivery = match &decoded {
            Ok(e) => &e.delivery,
            Err(bad) => &bad.0,
        };
        let own = delivery.topic.clone().zip(delivery.partition);
        // Already read? By offset against the position, then by event id.
        let duplicate = match (&own, delivery.offset) {
            (Some((t, p)), Some(o)) if self.position.covers(t, *p, o) => true,
            _ => delivery
                .event_id
                .as_deref()
                .is_some_and(|id| !self.seen.insert(id)),
        };
        let own_ref = own.as_ref().map(|(t, p)| (t.as_str(), *p));
        self.position.advance(&id, own_ref);
        if let (Some((t, p)), Some(o), true) = (&own, delivery.offset, id.is_empty()) {
            let next = [Assignment {
                topic: t.clone(),
                partition: *p,
                at: At::Offset(o + 1),
            }];
            self.position.advance(&next, own_ref);
        }
        if duplicate {
            self.status.send_modify(|s| s.duplicates += 1);
            return None;
        }
        match decoded {
            Err(bad) => {
                let (delivery, reason) = *bad;
                Some(Err(bad_event(&delivery, &ev.id, reason)))
            }
            Ok(event) if event.delivery.is_canary() => {
                self.status.send_modify(|s| s.canaries += 1);
                None
            }
            Ok(event) => {
                if event.delivery.dt.is_some() {
                    self.status
                        .send_modify(|s| s.last_event_at = event.delivery.dt);
                }
                match &event.body {
                    Body::Change(c) if !self.cfg.filter.matches(c) => None,
                    _ => Some(Ok(event)),
                }
            }
        }
    }

    /// Hands one item (or only the position) over; `false` once the consumer is gone.
    async fn send(&mut self, item: Option<Result<super::Event, EventStreamsError>>) -> bool {
        match &item {
            Some(Ok(_)) => self.status.send_modify(|s| s.events += 1),
            Some(Err(_)) => self.status.send_modify(|s| s.errors += 1),
            None => {}
        }
        self.tx
            .send(Message {
                item,
                position: Some(self.position.clone()),
            })
            .await
            .is_ok()
    }

    fn set_state(&self, state: State) {
        self.status.send_if_modified(|s| {
            let changed = s.state != state;
            s.state = state;
            changed
        });
    }
}

fn retry(delay: Option<Duration>, reason: String) -> Next {
    Next::Retry {
        delay,
        reason,
        reset: false,
    }
}

fn jitter(d: Duration) -> Duration {
    d.mul_f64(rand::random_range(0.8..1.2))
}

/// The `meta.id`s of the last [`SEEN_IDS`] events.
#[derive(Default)]
struct Seen {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl Seen {
    /// Remembers `id`; `false` if it was there already.
    fn insert(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() == SEEN_IDS {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.set.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        true
    }
}
