//! Filters users build once and apply to every change, from any source.

use std::fmt;
use std::sync::Arc;

use crate::change::{Kind, RecentChange};

/// Which changes to keep.
///
/// Each builder method adds a condition that must hold; methods taking several values
/// accept any of them. [`Filter::any`], [`Filter::all`] and [`Filter::none`] combine
/// filters, [`Filter::predicate`] takes a closure for anything else. Matching never
/// allocates.
///
/// ```
/// use recentchanges_core::{Filter, Kind, RecentChange};
///
/// let articles_by_humans = Filter::new().namespaces([0, 1]).not_bot();
/// let moves = Filter::new().kind(Kind::Log).log_type("move");
/// let wanted = Filter::any([articles_by_humans, moves]);
///
/// let mut rc = RecentChange::new(Kind::Edit);
/// rc.namespace = Some(1);
/// assert!(wanted.matches(&rc));
/// rc.bot = true;
/// assert!(!wanted.matches(&rc));
/// ```
#[derive(Clone, Default)]
pub struct Filter {
    conditions: Vec<Condition>,
}

#[derive(Clone)]
enum Condition {
    Wiki(Vec<String>),
    Namespace(Vec<i32>),
    Kind(Vec<Kind>),
    Bot(bool),
    Minor(bool),
    Anon(bool),
    User(Vec<String>),
    TitlePrefix(String),
    LogType(Vec<String>),
    Tag(Vec<String>),
    Any(Vec<Filter>),
    All(Vec<Filter>),
    None(Vec<Filter>),
    Predicate(Arc<dyn Fn(&RecentChange) -> bool + Send + Sync>),
}

impl Filter {
    /// A filter that keeps everything.
    pub fn new() -> Self {
        Self::default()
    }

    fn with(mut self, c: Condition) -> Self {
        self.conditions.push(c);
        self
    }

    /// Only changes from this wiki (database name, e.g. `enwiki`).
    pub fn wiki(self, wiki: impl Into<String>) -> Self {
        self.with(Condition::Wiki(vec![wiki.into()]))
    }

    /// Only changes from any of these wikis.
    pub fn wikis<I: IntoIterator<Item = S>, S: Into<String>>(self, wikis: I) -> Self {
        self.with(Condition::Wiki(wikis.into_iter().map(Into::into).collect()))
    }

    /// Only changes in this namespace.
    pub fn namespace(self, ns: i32) -> Self {
        self.with(Condition::Namespace(vec![ns]))
    }

    /// Only changes in any of these namespaces.
    pub fn namespaces(self, ns: impl IntoIterator<Item = i32>) -> Self {
        self.with(Condition::Namespace(ns.into_iter().collect()))
    }

    /// Only changes of this kind.
    pub fn kind(self, kind: Kind) -> Self {
        self.with(Condition::Kind(vec![kind]))
    }

    /// Only changes of any of these kinds.
    pub fn kinds(self, kinds: impl IntoIterator<Item = Kind>) -> Self {
        self.with(Condition::Kind(kinds.into_iter().collect()))
    }

    /// Only changes whose bot flag is `bot`.
    pub fn bot(self, bot: bool) -> Self {
        self.with(Condition::Bot(bot))
    }

    /// Only changes not flagged as bot changes.
    pub fn not_bot(self) -> Self {
        self.bot(false)
    }

    /// Only changes whose minor flag is `minor`.
    pub fn minor(self, minor: bool) -> Self {
        self.with(Condition::Minor(minor))
    }

    /// Only changes whose anonymous flag is `anon`.
    pub fn anon(self, anon: bool) -> Self {
        self.with(Condition::Anon(anon))
    }

    /// Only changes by this user.
    pub fn user(self, user: impl Into<String>) -> Self {
        self.with(Condition::User(vec![user.into()]))
    }

    /// Only changes by any of these users.
    pub fn users<I: IntoIterator<Item = S>, S: Into<String>>(self, users: I) -> Self {
        self.with(Condition::User(users.into_iter().map(Into::into).collect()))
    }

    /// Only changes to pages whose prefixed title starts with `prefix` (e.g. `Talk:`).
    pub fn title_prefix(self, prefix: impl Into<String>) -> Self {
        self.with(Condition::TitlePrefix(prefix.into()))
    }

    /// Only log entries of this type (e.g. `move`, `block`).
    pub fn log_type(self, log_type: impl Into<String>) -> Self {
        self.with(Condition::LogType(vec![log_type.into()]))
    }

    /// Only log entries of any of these types.
    pub fn log_types<I: IntoIterator<Item = S>, S: Into<String>>(self, types: I) -> Self {
        self.with(Condition::LogType(
            types.into_iter().map(Into::into).collect(),
        ))
    }

    /// Only changes tagged with this change tag (e.g. `mw-reverted`).
    pub fn tag(self, tag: impl Into<String>) -> Self {
        self.with(Condition::Tag(vec![tag.into()]))
    }

    /// Only changes tagged with any of these change tags.
    pub fn tags<I: IntoIterator<Item = S>, S: Into<String>>(self, tags: I) -> Self {
        self.with(Condition::Tag(tags.into_iter().map(Into::into).collect()))
    }

    /// What every change this filter keeps must be, in the terms a server can select by
    /// (see [`Requirements`]).
    ///
    /// ```
    /// use recentchanges_core::{Filter, Kind};
    /// let f = Filter::new().namespaces([0, 1]).not_bot().and(Filter::new().namespace(1));
    /// let r = f.requirements();
    /// assert_eq!(r.namespaces, Some(vec![1]));
    /// assert_eq!(r.bot, Some(false));
    /// assert_eq!(Filter::any([Filter::new().namespace(0)]).requirements().namespaces, None);
    /// ```
    pub fn requirements(&self) -> Requirements {
        let mut r = Requirements::default();
        self.require(&mut r);
        r
    }

    fn require(&self, r: &mut Requirements) {
        fn narrow<T: Clone + PartialEq>(slot: &mut Option<Vec<T>>, set: &[T]) {
            *slot = Some(match slot.take() {
                None => set.to_vec(),
                Some(old) => old.into_iter().filter(|v| set.contains(v)).collect(),
            });
        }
        for c in &self.conditions {
            match c {
                Condition::Namespace(set) => narrow(&mut r.namespaces, set),
                Condition::Kind(set) => narrow(&mut r.kinds, set),
                Condition::User(set) => narrow(&mut r.users, set),
                Condition::Bot(b) => r.bot = r.bot.or(Some(*b)),
                Condition::Minor(b) => r.minor = r.minor.or(Some(*b)),
                Condition::Anon(b) => r.anon = r.anon.or(Some(*b)),
                Condition::All(fs) => fs.iter().for_each(|f| f.require(r)),
                // A tag condition asks for any of its tags: only a single one narrows.
                Condition::Tag(set) if set.len() == 1 && r.tag.is_none() => {
                    r.tag = Some(set[0].clone())
                }
                _ => {}
            }
        }
    }

    /// Only changes the closure accepts.
    pub fn predicate(self, f: impl Fn(&RecentChange) -> bool + Send + Sync + 'static) -> Self {
        self.with(Condition::Predicate(Arc::new(f)))
    }

    /// Also require `other`.
    pub fn and(self, other: Filter) -> Self {
        self.with(Condition::All(vec![other]))
    }

    /// Changes matching at least one of the filters.
    pub fn any(filters: impl IntoIterator<Item = Filter>) -> Self {
        Filter::new().with(Condition::Any(filters.into_iter().collect()))
    }

    /// Changes matching every one of the filters.
    pub fn all(filters: impl IntoIterator<Item = Filter>) -> Self {
        Filter::new().with(Condition::All(filters.into_iter().collect()))
    }

    /// Changes matching none of the filters.
    pub fn none(filters: impl IntoIterator<Item = Filter>) -> Self {
        Filter::new().with(Condition::None(filters.into_iter().collect()))
    }

    /// Whether this filter keeps everything.
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// Whether `rc` passes every condition.
    pub fn matches(&self, rc: &RecentChange) -> bool {
        self.conditions.iter().all(|c| c.matches(rc))
    }
}

/// What every change a [`Filter`] keeps must be: the conditions at its top level (and
/// inside [`Filter::and`] / [`Filter::all`]), narrowed where repeated; `None` where it
/// requires nothing. A source that can ask its server for only such changes (MediaWiki's
/// `rcnamespace`, `rctype`, `rcshow`, `rcuser`, `rctag`) may do so; the filter still runs
/// on what comes back, so the result is the same either way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Requirements {
    /// In one of these namespaces.
    pub namespaces: Option<Vec<i32>>,
    /// Of one of these kinds.
    pub kinds: Option<Vec<Kind>>,
    /// By one of these users.
    pub users: Option<Vec<String>>,
    /// With this bot flag.
    pub bot: Option<bool>,
    /// With this minor flag.
    pub minor: Option<bool>,
    /// With this anonymous flag.
    pub anon: Option<bool>,
    /// Tagged with this tag.
    pub tag: Option<String>,
}

impl Condition {
    fn matches(&self, rc: &RecentChange) -> bool {
        let is_in = |set: &[String], v: Option<&str>| v.is_some_and(|v| set.iter().any(|s| s == v));
        match self {
            Condition::Wiki(set) => is_in(set, rc.wiki.as_deref()),
            Condition::Namespace(set) => rc.namespace.is_some_and(|ns| set.contains(&ns)),
            Condition::Kind(set) => set.contains(&rc.kind),
            Condition::Bot(b) => rc.bot == *b,
            Condition::Minor(b) => rc.minor == *b,
            Condition::Anon(b) => rc.anon == *b,
            Condition::User(set) => is_in(set, rc.user.as_deref()),
            Condition::TitlePrefix(p) => rc
                .title
                .as_deref()
                .is_some_and(|t| t.starts_with(p.as_str())),
            Condition::LogType(set) => is_in(set, rc.log_type.as_deref()),
            Condition::Tag(set) => rc.tags.iter().any(|t| set.contains(t)),
            Condition::Any(fs) => fs.iter().any(|f| f.matches(rc)),
            Condition::All(fs) => fs.iter().all(|f| f.matches(rc)),
            Condition::None(fs) => !fs.iter().any(|f| f.matches(rc)),
            Condition::Predicate(f) => f(rc),
        }
    }
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.conditions).finish()
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Wiki(v) => write!(f, "wiki in {v:?}"),
            Condition::Namespace(v) => write!(f, "namespace in {v:?}"),
            Condition::Kind(v) => write!(f, "kind in {v:?}"),
            Condition::Bot(b) => write!(f, "bot == {b}"),
            Condition::Minor(b) => write!(f, "minor == {b}"),
            Condition::Anon(b) => write!(f, "anon == {b}"),
            Condition::User(v) => write!(f, "user in {v:?}"),
            Condition::TitlePrefix(p) => write!(f, "title starts with {p:?}"),
            Condition::LogType(v) => write!(f, "log_type in {v:?}"),
            Condition::Tag(v) => write!(f, "tagged any of {v:?}"),
            Condition::Any(v) => write!(f, "any of {v:?}"),
            Condition::All(v) => write!(f, "all of {v:?}"),
            Condition::None(v) => write!(f, "none of {v:?}"),
            Condition::Predicate(_) => write!(f, "predicate"),
        }
    }
}
