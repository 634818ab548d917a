//! Opening one authenticated, resource-bound XMPP session: TCP, STARTTLS with the policy's
//! roots, SASL (SCRAM/PLAIN, or ANONYMOUS), resource binding.

use std::borrow::Cow;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use minidom::Element;
use tokio::io::BufStream;
use tokio_rustls::rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;
use tokio_xmpp::connect::{AsyncReadAndWrite, DnsConfig};
use tokio_xmpp::jid::{BareJid, FullJid, Jid};
use tokio_xmpp::parsers::sasl::{Auth, Mechanism, Nonza};
use tokio_xmpp::parsers::starttls;
use tokio_xmpp::parsers::stream_features::StreamFeatures;
use tokio_xmpp::xmlstream::{
    initiate_stream, FallibleStreamElement, InitiatingStream, PendingFeaturesRecv, ReadError,
    StreamElementError, StreamHeader, Timeouts, XmppStream, XmppStreamElement,
};
use tokio_xmpp::Stanza;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::stanza_error::StanzaError;

use super::depth::DepthGuard;
use super::shortcut::Shortcut;
use crate::error::{Disconnect, Fatal};
use crate::session::account::Account;
use crate::session::options::Tls;
use crate::session::options::Transport;
use crate::session::stanzas::{self, Ids};

/// The stream of a live session, whatever carries it.
pub(crate) type Stream = XmppStream<Box<dyn AsyncReadAndWrite + Send + 'static>>;

/// A session ready for stanzas.
pub(crate) struct Session {
    pub stream: Stream,
    pub jid: FullJid,
    /// The short way for a room's changes under this session's XML parser.
    pub shortcut: Arc<Shortcut>,
}

/// Why a connection attempt failed: worth retrying, or not.
#[derive(Debug)]
pub(crate) enum ConnectError {
    Fatal(Fatal),
    Retry(Disconnect),
}

impl From<tokio_xmpp::Error> for ConnectError {
    fn from(e: tokio_xmpp::Error) -> Self {
        ConnectError::Retry(match e {
            tokio_xmpp::Error::Io(e) => Disconnect::Io(e.to_string()),
            other => Disconnect::Protocol(other.to_string()),
        })
    }
}

impl From<tokio_xmpp::xmlstream::RecvFeaturesError> for ConnectError {
    fn from(e: tokio_xmpp::xmlstream::RecvFeaturesError) -> Self {
        ConnectError::Retry(Disconnect::Protocol(e.to_string()))
    }
}

impl From<io::Error> for ConnectError {
    fn from(e: io::Error) -> Self {
        ConnectError::Retry(Disconnect::Io(e.to_string()))
    }
}

impl From<Disconnect> for ConnectError {
    fn from(e: Disconnect) -> Self {
        ConnectError::Retry(e)
    }
}

const NS_CLIENT: &str = "jabber:client";

/// How long one attempt may take before it counts as failed.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Connects, secures, authenticates and binds a resource.
pub(crate) async fn open(cfg: &Transport) -> Result<Session, ConnectError> {
    tokio::time::timeout(ATTEMPT_TIMEOUT, open_inner(cfg))
        .await
        .unwrap_or_else(|_| {
            Err(ConnectError::Retry(Disconnect::ConnectTimeout(
                ATTEMPT_TIMEOUT,
            )))
        })
}

async fn open_inner(cfg: &Transport) -> Result<Session, ConnectError> {
    let domain = cfg.account.domain().to_owned();
    let timeouts = Timeouts {
        read_timeout: cfg.ping_interval,
        response_timeout: cfg.ping_timeout,
    };
    let dns = match cfg.server {
        Some(addr) => DnsConfig::addr(&addr.to_string()),
        None => DnsConfig::srv_default_client(&domain),
    };
    let shortcut = Arc::new(Shortcut::default());
    let tcp = dns.resolve().await?;
    tcp.set_nodelay(true)?;
    let header = || StreamHeader {
        to: Some(Cow::Owned(domain.clone())),
        from: None,
        id: None,
    };
    let pending: PendingFeaturesRecv<Box<dyn AsyncReadAndWrite + Send>> = match &cfg.tls {
        // Under the XML parser, the depth guard: nothing nested deeper than it allows
        // reaches tokio-xmpp's recursive element building (see `depth`).
        Tls::PlaintextLoopback => {
            let io: Box<dyn AsyncReadAndWrite + Send> =
                Box::new(BufStream::new(DepthGuard::new(tcp, shortcut.clone())));
            initiate_stream(io, NS_CLIENT, header(), timeouts).await?
        }
        Tls::Required | Tls::RequiredWithRoots(_) => {
            let plain = initiate_stream(BufStream::new(tcp), NS_CLIENT, header(), timeouts).await?;
            let (features, mut plain) = plain.recv_features().await?;
            if !features.can_starttls() {
                return Err(ConnectError::Fatal(Fatal::NoTls));
            }
            plain
                .send(&XmppStreamElement::Starttls(starttls::Nonza::Request(
                    starttls::Request,
                )))
                .await?;
            loop {
                match next(&mut plain).await? {
                    XmppStreamElement::Starttls(starttls::Nonza::Proceed(_)) => break,
                    XmppStreamElement::Starttls(_) => {
                        return Err(ConnectError::Fatal(Fatal::NoTls))
                    }
                    _ => {}
                }
            }
            let tcp = plain.into_inner().into_inner();
            let tls = tls_config(&cfg.tls)?;
            let name = ServerName::try_from(domain.clone()).map_err(|e| {
                ConnectError::Retry(Disconnect::Tls(format!(
                    "{domain} is not a TLS server name: {e}"
                )))
            })?;
            let stream = TlsConnector::from(tls)
                .connect(name, tcp)
                .await
                .map_err(|e| handshake_failure(&domain, e))?;
            let io: Box<dyn AsyncReadAndWrite + Send> =
                Box::new(BufStream::new(DepthGuard::new(stream, shortcut.clone())));
            initiate_stream(io, NS_CLIENT, header(), timeouts).await?
        }
    };
    let (features, stream) = pending.recv_features().await?;
    let stream = authenticate(stream, &features, &cfg.account).await?;
    let (_features, mut stream) = stream.send_header(header()).await?.recv_features().await?;
    let resource = format!("rc-xmpp-{:08x}", rand::random::<u32>());
    let jid = bind(&mut stream, &resource).await?;
    Ok(Session {
        stream,
        jid,
        shortcut,
    })
}

/// A failed TLS handshake: a refused certificate is fatal ([`Fatal::Certificate`]),
/// anything else (a reset, a timeout) is retried.
fn handshake_failure(domain: &str, e: io::Error) -> ConnectError {
    let refused = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<tokio_rustls::rustls::Error>())
        .and_then(|tls| match tls {
            tokio_rustls::rustls::Error::InvalidCertificate(why) => Some(format!("{why:?}")),
            _ => None,
        });
    match refused {
        Some(reason) => ConnectError::Fatal(Fatal::Certificate {
            server: domain.to_owned(),
            reason,
        }),
        None => ConnectError::Retry(Disconnect::from(e)),
    }
}

/// Roots: the system's, plus the policy's extra PEM files.
fn tls_config(tls: &Tls) -> Result<Arc<ClientConfig>, ConnectError> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Tls::RequiredWithRoots(files) = tls {
        for file in files {
            let certs = CertificateDer::pem_file_iter(file)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    ConnectError::Retry(Disconnect::Tls(format!(
                        "cannot read the CA file {}: {e}",
                        file.display()
                    )))
                })?;
            roots.add_parsable_certificates(certs);
        }
    }
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The next element, skipping soft timeouts and unparseable elements.
async fn next<S>(stream: &mut XmppStream<S>) -> Result<XmppStreamElement, ConnectError>
where
    S: tokio::io::AsyncBufRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match stream.next().await {
            Some(Ok(FallibleStreamElement::Ok(el))) => return Ok(el),
            Some(Ok(FallibleStreamElement::Err(e))) => {
                tracing::debug!("skipping an unparseable element: {e}")
            }
            Some(Err(ReadError::SoftTimeout)) => {}
            Some(Err(ReadError::HardError(e))) => return Err(e.into()),
            Some(Err(ReadError::ParseError(e))) => {
                return Err(ConnectError::Retry(Disconnect::Protocol(e.to_string())))
            }
            Some(Err(ReadError::StreamFooterReceived)) | None => {
                return Err(ConnectError::Retry(Disconnect::ServerClosed))
            }
        }
    }
}

/// SASL: the account's password through tokio-xmpp's SCRAM/PLAIN, or ANONYMOUS.
async fn authenticate(
    mut stream: XmppStream<Box<dyn AsyncReadAndWrite + Send>>,
    features: &StreamFeatures,
    account: &Account,
) -> Result<InitiatingStream<Box<dyn AsyncReadAndWrite + Send>>, ConnectError> {
    match account {
        Account::Password { jid, password } => {
            let node = jid
                .node()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default();
            let creds = sasl::common::Credentials::default()
                .with_username(node)
                .with_password(password.expose());
            tokio_xmpp::client_login(stream, features.sasl_mechanisms.clone(), creds)
                .await
                .map_err(|e| match e {
                    tokio_xmpp::Error::Auth(a) => ConnectError::Fatal(Fatal::Auth {
                        account: jid.to_string(),
                        condition: a.to_string(),
                    }),
                    other => other.into(),
                })
        }
        Account::Anonymous { domain } => {
            if !features.sasl_mechanisms.contains("ANONYMOUS") {
                return Err(ConnectError::Fatal(Fatal::Auth {
                    account: format!("anonymous@{domain}"),
                    condition: "the server does not offer SASL ANONYMOUS".into(),
                }));
            }
            stream
                .send(&XmppStreamElement::Sasl(Nonza::Auth(Auth {
                    mechanism: Mechanism::Anonymous,
                    data: vec![],
                })))
                .await?;
            loop {
                match next(&mut stream).await? {
                    XmppStreamElement::Sasl(Nonza::Success(_)) => {
                        return Ok(stream.initiate_reset())
                    }
                    XmppStreamElement::Sasl(Nonza::Failure(f)) => {
                        return Err(ConnectError::Fatal(Fatal::Auth {
                            account: format!("anonymous@{domain}"),
                            condition: format!("{:?}", f.defined_condition),
                        }))
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Binds a resource and returns the full JID the server gave.
async fn bind(stream: &mut Stream, resource: &str) -> Result<FullJid, ConnectError> {
    let id = "bind-1";
    stream
        .send(&XmppStreamElement::Stanza(Stanza::Iq(stanzas::bind(
            id, resource,
        ))))
        .await?;
    loop {
        if let XmppStreamElement::Stanza(Stanza::Iq(iq)) = next(stream).await? {
            match iq {
                Iq::Result {
                    id: rid, payload, ..
                } if rid == id => {
                    return stanzas::bound(payload)
                        .map_err(|e| ConnectError::Retry(Disconnect::Protocol(e)))
                }
                Iq::Error { id: rid, error, .. } if rid == id => {
                    return Err(ConnectError::Retry(Disconnect::Protocol(format!(
                        "resource binding refused: {}",
                        stanzas::condition(&error)
                    ))))
                }
                _ => {}
            }
        }
    }
}

/// Ends a session politely: the stream footer, within two seconds.
pub(crate) async fn close(stream: &mut Stream) {
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        <Stream as SinkExt<&XmppStreamElement>>::close(stream),
    )
    .await;
}

/// One session after another: connects, and after each lost session or failed attempt
/// waits as the reconnect policy says, publishing the connection state as it goes.
#[derive(Default)]
pub(crate) struct Sessions {
    failures: u32,
}

/// What [`Sessions::next`] brings.
pub(crate) enum Next {
    Session(Box<Session>),
    Closed,
    Failed(Fatal),
}

impl Sessions {
    /// The next session. `lost` is why the previous one ended, if one did.
    pub async fn next(
        &mut self,
        cfg: &Transport,
        status: &tokio::sync::watch::Sender<crate::Status>,
        lost: Option<Disconnect>,
        stop: &mut tokio::sync::oneshot::Receiver<()>,
    ) -> Next {
        use crate::status::Connection;
        let set = |c: Connection| status.send_modify(|s| s.connection = c);
        let mut last = lost;
        loop {
            if let Some(reason) = last.take() {
                tracing::warn!(%reason, "disconnected");
                set(Connection::Disconnected {
                    reason: reason.clone(),
                });
                if let Some(max) = cfg.reconnect.max_attempts {
                    if self.failures >= max {
                        return Next::Failed(Fatal::RetriesExhausted {
                            attempts: self.failures,
                            last: reason,
                        });
                    }
                }
                let delay = cfg.reconnect.delay(self.failures.max(1));
                set(Connection::Reconnecting {
                    attempt: self.failures,
                    delay,
                });
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = &mut *stop => return Next::Closed,
                }
            }
            set(Connection::Connecting);
            let attempt = tokio::select! {
                r = open(cfg) => r,
                _ = &mut *stop => return Next::Closed,
            };
            match attempt {
                Ok(session) => {
                    self.failures = 0;
                    tracing::info!(jid = %session.jid, "online");
                    status.send_modify(|s| {
                        s.connection = Connection::Online {
                            jid: session.jid.to_string(),
                        };
                        s.connections += 1;
                        s.new_session();
                    });
                    return Next::Session(Box::new(session));
                }
                Err(ConnectError::Fatal(f)) => return Next::Failed(f),
                Err(ConnectError::Retry(reason)) => {
                    self.failures += 1;
                    last = Some(reason);
                }
            }
        }
    }
}

/// Sends one stanza.
pub(crate) async fn send(stream: &mut Stream, stanza: Stanza) -> Result<(), Disconnect> {
    stream
        .send(&XmppStreamElement::Stanza(stanza))
        .await
        .map_err(Disconnect::from)
}

/// The answer to one of this client's own requests, with its sender: match both the id
/// and the sender ([`Response::is_from`]) to the request.
pub(crate) enum Response {
    /// Done, with the payload if there is one.
    Result {
        id: String,
        from: Option<Jid>,
        payload: Option<Element>,
    },
    /// Refused.
    Error {
        id: String,
        from: Option<Jid>,
        error: StanzaError,
    },
}

impl Response {
    /// Whether this answers a request sent to `to` from `me`: it comes from `to`, or,
    /// for a request to the account itself or its server, from nowhere (RFC 6120
    /// 8.1.2.1: the server answers for the account without a `from`).
    pub fn is_from(&self, to: &Jid, me: &FullJid) -> bool {
        let from = match self {
            Response::Result { from, .. } | Response::Error { from, .. } => from.as_ref(),
        };
        match from {
            Some(from) => from == to,
            None => {
                to.resource().is_none()
                    && to.domain() == me.domain()
                    && (to.node().is_none() || to.node() == me.node())
            }
        }
    }
}

/// Answers the server's own requests (a ping gets a pong, anything else
/// `service-unavailable`) and hands back the responses to this client's requests.
pub(crate) async fn answer_requests(
    stream: &mut Stream,
    iq: Iq,
) -> Result<Option<Response>, Disconnect> {
    let reply = match iq {
        Iq::Get {
            from, id, payload, ..
        } if stanzas::is_ping(&payload) => stanzas::pong(from, &id),
        Iq::Get { from, id, .. } | Iq::Set { from, id, .. } => stanzas::unsupported(from, &id),
        Iq::Result {
            id, from, payload, ..
        } => return Ok(Some(Response::Result { id, from, payload })),
        Iq::Error {
            id, from, error, ..
        } => return Ok(Some(Response::Error { id, from, error })),
    };
    send(stream, Stanza::Iq(reply)).await.map(|()| None)
}

/// What one read from the server's stream means to a session. (Returned by value and
/// matched at once: boxing the stanza would cost an allocation per stanza.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Incoming {
    Stanza(Stanza),
    /// A stanza the XMPP parser refused (the server let it through), with its sender
    /// when its header names one.
    Invalid {
        from: Option<BareJid>,
        error: StreamElementError,
    },
    /// Nothing for the session (stream features, an element that does not parse, which is
    /// logged, or a quiet server, which was pinged).
    Skip,
    /// The connection is gone.
    Lost(Disconnect),
}

/// Sorts one read from the server's stream. A server that was quiet for the keepalive
/// time is pinged (XEP-0199, the id from `ids`) on the way: it answers, or the read
/// timeout ends the session.
pub(crate) async fn incoming(
    stream: &mut Stream,
    read: Option<Result<FallibleStreamElement, ReadError>>,
    ids: &mut Ids,
) -> Incoming {
    match read {
        Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::Stanza(s)))) => Incoming::Stanza(s),
        Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::StreamError(e)))) => {
            Incoming::Lost(Disconnect::StreamError {
                condition: e.0.condition.to_string(),
                text: e.0.get_best_text(vec!["en"]).map(|(_, t)| t.clone()),
            })
        }
        Some(Ok(FallibleStreamElement::Ok(_))) => Incoming::Skip,
        Some(Ok(FallibleStreamElement::Err(error))) => {
            let from = match &error {
                StreamElementError::InvalidStanza { header, .. } => header
                    .from
                    .as_deref()
                    .and_then(|f| f.parse::<Jid>().ok())
                    .map(|j| j.to_bare()),
                StreamElementError::InvalidNonza { .. } => None,
            };
            Incoming::Invalid { from, error }
        }
        Some(Err(ReadError::SoftTimeout)) => {
            let ping = stanzas::ping(None, &ids.next("ping"));
            match send(stream, Stanza::Iq(ping)).await {
                Ok(()) => Incoming::Skip,
                Err(reason) => Incoming::Lost(reason),
            }
        }
        Some(Err(ReadError::HardError(e))) => Incoming::Lost(Disconnect::from(e)),
        Some(Err(ReadError::ParseError(e))) => {
            tracing::warn!("skipping a stanza that does not parse: {e}");
            Incoming::Skip
        }
        Some(Err(ReadError::StreamFooterReceived)) | None => {
            Incoming::Lost(Disconnect::ServerClosed)
        }
    }
}
