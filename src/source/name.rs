//! Source names: one string says what to follow.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use super::SourceError;

/// What a source name designates.
///
/// | name | source |
/// | --- | --- |
/// | `xmpp:enwiki@conference.example.org` | an XMLRC multi-user chat room |
/// | `xmpp:pubsub.example.org?;node=wiki/changes` | a PubSub node (DokuWiki's dokupubsub) |
/// | `mediawiki:https://en.wikipedia.org/w/api.php` | MediaWiki's `list=recentchanges` |
/// | `dokuwiki:https://wiki.example/lib/exe/xmlrpc.php` | DokuWiki's WikiRPC `wiki.getRecentChanges` |
/// | `jspwiki:https://wiki.example/RPC2/` | JSPWiki's WikiRPC `jspwiki.getRecentChanges` |
/// | `wikiping:127.0.0.1:8090` | a WikiPing listener (`wiki.ping` calls) |
/// | `eventstreams:recentchange` | Wikimedia EventStreams (stream names, comma-separated) |
/// | `eventstreams:https://host/v2/stream/recentchange` | a self-hosted EventStreams stream |
///
/// A plain `http(s)://…/api.php` URL is taken as `mediawiki:`.
///
/// ```
/// use recentchanges::source::SourceName;
/// let name: SourceName = "xmpp:pubsub.localhost?;node=generic/wiki".parse()?;
/// assert_eq!(name, SourceName::PubSub { service: "pubsub.localhost".into(), node: "generic/wiki".into() });
/// assert_eq!(name.to_string(), "xmpp:pubsub.localhost?;node=generic/wiki");
/// # Ok::<(), recentchanges::source::SourceError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceName {
    /// A multi-user chat room's bare JID.
    Room(String),
    /// A PubSub service's JID and a node on it.
    PubSub {
        /// The service, e.g. `pubsub.example.org`.
        service: String,
        /// The node.
        node: String,
    },
    /// A MediaWiki `api.php` URL.
    MediaWiki(String),
    /// A DokuWiki XML-RPC endpoint (`lib/exe/xmlrpc.php`).
    DokuWiki(String),
    /// A JSPWiki XML-RPC endpoint.
    JspWiki(String),
    /// The address a WikiPing listener binds.
    WikiPing(SocketAddr),
    /// EventStreams: stream names, comma-separated (`recentchange,page-delete`), read
    /// from Wikimedia's service, or the full URL of a stream.
    EventStreams(String),
}

impl FromStr for SourceName {
    type Err = SourceError;

    fn from_str(s: &str) -> Result<Self, SourceError> {
        let bad = |why: &str| SourceError::Config(format!("source {s:?}: {why}"));
        let url = |rest: &str| -> Result<String, SourceError> {
            if rest.starts_with("http://") || rest.starts_with("https://") {
                Ok(rest.to_owned())
            } else {
                Err(bad("expected an http:// or https:// URL after the scheme"))
            }
        };
        let Some((scheme, rest)) = s.split_once(':') else {
            return Err(bad(
                "expected scheme:address (eventstreams:, mediawiki:, xmpp:, dokuwiki:, jspwiki:, wikiping:)",
            ));
        };
        Ok(match scheme {
            "xmpp" => match rest.split_once('?') {
                None if rest.contains('@') => SourceName::Room(rest.to_owned()),
                None => {
                    return Err(bad(
                        "a room is room@service; a PubSub node is service?;node=NAME",
                    ))
                }
                Some((service, query)) => {
                    let node = query
                        .split(';')
                        .find_map(|kv| kv.strip_prefix("node="))
                        .filter(|n| !n.is_empty())
                        .ok_or_else(|| bad("no node=NAME in the query"))?;
                    SourceName::PubSub {
                        service: service.to_owned(),
                        node: node.to_owned(),
                    }
                }
            },
            "mediawiki" => SourceName::MediaWiki(url(rest)?),
            "http" | "https" => SourceName::MediaWiki(s.to_owned()),
            "dokuwiki" => SourceName::DokuWiki(url(rest)?),
            "jspwiki" => SourceName::JspWiki(url(rest)?),
            "eventstreams" => {
                let rest = rest.trim();
                let names_ok = rest.split(',').all(|n| {
                    !n.is_empty()
                        && n.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                });
                if rest.contains("://") {
                    SourceName::EventStreams(url(rest)?)
                } else if names_ok {
                    SourceName::EventStreams(rest.to_owned())
                } else {
                    return Err(bad(
                        "expected stream names separated by commas (eventstreams:recentchange,page-delete) or an http(s) URL",
                    ));
                }
            }
            "wikiping" => {
                SourceName::WikiPing(rest.trim_start_matches("//").parse().map_err(|_| {
                    bad("expected an address to listen on, e.g. wikiping:127.0.0.1:8090")
                })?)
            }
            _ => return Err(bad(
                "unknown scheme (eventstreams:, mediawiki:, xmpp:, dokuwiki:, jspwiki:, wikiping:)",
            )),
        })
    }
}

impl fmt::Display for SourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceName::Room(room) => write!(f, "xmpp:{room}"),
            SourceName::PubSub { service, node } => write!(f, "xmpp:{service}?;node={node}"),
            SourceName::MediaWiki(url) => write!(f, "mediawiki:{url}"),
            SourceName::DokuWiki(url) => write!(f, "dokuwiki:{url}"),
            SourceName::JspWiki(url) => write!(f, "jspwiki:{url}"),
            SourceName::WikiPing(addr) => write!(f, "wikiping:{addr}"),
            SourceName::EventStreams(streams) => write!(f, "eventstreams:{streams}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_ones_say_why() {
        for s in [
            "xmpp:wikidb@conference.localhost",
            "xmpp:pubsub.localhost?;node=wiki",
            "mediawiki:http://127.0.0.1:8080/api.php",
            "dokuwiki:http://127.0.0.1:8081/lib/exe/xmlrpc.php",
            "jspwiki:https://wiki.example/RPC2/",
            "wikiping:127.0.0.1:8090",
            "eventstreams:recentchange",
            "eventstreams:recentchange,page-delete",
            "eventstreams:http://127.0.0.1:8092/v2/stream/recentchange",
        ] {
            assert_eq!(s.parse::<SourceName>().unwrap().to_string(), s);
        }
        assert_eq!(
            "https://en.wikipedia.org/w/api.php"
                .parse::<SourceName>()
                .unwrap(),
            SourceName::MediaWiki("https://en.wikipedia.org/w/api.php".into())
        );
        assert_eq!(
            "xmpp:pubsub.localhost?pubsub;action=subscribe;node=a/b"
                .parse::<SourceName>()
                .unwrap(),
            SourceName::PubSub {
                service: "pubsub.localhost".into(),
                node: "a/b".into()
            }
        );
        for (s, why) in [
            ("enwiki", "expected scheme:address"),
            ("ftp:x", "unknown scheme"),
            ("dokuwiki:wiki.example", "http:// or https://"),
            ("xmpp:pubsub.localhost?;x=1", "no node=NAME"),
            ("xmpp:conference.localhost", "room@service"),
            ("wikiping:nowhere", "address to listen on"),
            (
                "eventstreams:recent change",
                "stream names separated by commas",
            ),
            ("eventstreams:", "stream names separated by commas"),
            ("eventstreams:ftp://x/", "http:// or https://"),
        ] {
            let e = s.parse::<SourceName>().unwrap_err().to_string();
            assert!(e.contains(why), "{s}: {e}");
        }
    }
}
