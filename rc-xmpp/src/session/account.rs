//! Who a client logs in as: the account, and the password that never shows.

use std::fmt;

use tokio_xmpp::jid::BareJid;

use crate::error::ConfigError;

/// A password that never shows in logs, `Debug` output or error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Who the client logs in as.
#[derive(Debug, Clone)]
pub enum Account {
    /// A registered account: SCRAM or PLAIN with this password.
    Password {
        /// The account's bare JID.
        jid: BareJid,
        /// Its password.
        password: Secret,
    },
    /// SASL ANONYMOUS on a domain that allows it (public relays often do).
    Anonymous {
        /// The anonymous domain, e.g. `anon.example.org`.
        domain: BareJid,
    },
}

impl Account {
    /// A registered account.
    pub(crate) fn password(jid: &str, password: impl Into<String>) -> Result<Self, ConfigError> {
        Ok(Account::Password {
            jid: parse_jid(jid)?,
            password: Secret::new(password),
        })
    }

    /// SASL ANONYMOUS on `domain`.
    pub(crate) fn anonymous(domain: &str) -> Result<Self, ConfigError> {
        Ok(Account::Anonymous {
            domain: parse_jid(domain)?,
        })
    }

    pub(crate) fn domain(&self) -> &str {
        match self {
            Account::Password { jid, .. } => jid.domain().as_str(),
            Account::Anonymous { domain } => domain.domain().as_str(),
        }
    }
}

/// A JID the user gave.
pub(crate) fn parse_jid(s: &str) -> Result<BareJid, ConfigError> {
    s.parse()
        .map_err(|e: tokio_xmpp::jid::Error| ConfigError::InvalidJid {
            jid: s.to_owned(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let account = Account::Password {
            jid: "bot@example.org".parse().unwrap(),
            password: Secret::new("hunter2"),
        };
        let shown = format!("{account:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("Secret(***)"));
    }
}
