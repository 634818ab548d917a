//! Properties over generated input: no input panics the parsers, and the JSON shape of a
//! change reads back to an equal change.

use chrono::{TimeZone, Utc};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use recentchanges_core::{
    parse, parse_json, parse_rc, parse_recentchange, Fields, Kind, Patrolled, RecentChange,
};
use serde_json::Value;

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Edit),
        Just(Kind::New),
        Just(Kind::Log),
        Just(Kind::Categorize),
        Just(Kind::External),
        "[a-z]{1,8}".prop_map(|s| Kind::from_wire(&s)),
    ]
}

fn patrolled() -> impl Strategy<Value = Patrolled> {
    prop_oneof![
        Just(Patrolled::Patrolled),
        Just(Patrolled::Autopatrolled),
        Just(Patrolled::Unpatrolled),
        Just(Patrolled::Unknown),
    ]
}

fn fields() -> impl Strategy<Value = Fields> {
    let leaf = prop_oneof![
        any::<String>().prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    let value = leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(Value::Array),
            btree_map("[a-z_]{1,6}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    btree_map("[a-z_$]{1,10}", value, 0..4).prop_map(|m| m.into_iter().collect())
}

prop_compose! {
    fn change()(
        kind in kind(),
        ids in (option::of(any::<u64>()), option::of(1..u64::MAX), option::of(1..u64::MAX), option::of(1..u64::MAX)),
        text in (option::of(any::<String>()), option::of(any::<String>()), option::of(any::<String>()), option::of(any::<String>())),
        flags in any::<[bool; 8]>(),
        patrolled in patrolled(),
        sizes in (option::of(any::<u64>()), option::of(any::<u64>()), option::of(-100_000_000_000i64..100_000_000_000)),
        namespace in option::of(any::<i32>()),
        tags in vec("[a-z-]{1,12}", 0..3),
        log in (option::of(any::<u64>()), option::of("[a-z]{1,8}"), option::of("[a-z_]{1,8}"), fields()),
        extra in fields(),
    ) -> RecentChange {
        let mut rc = RecentChange::new(kind);
        (rc.rcid, rc.rev_id, rc.old_rev_id, rc.page_id) = ids;
        (rc.title, rc.user, rc.comment, rc.wiki) = text;
        [rc.bot, rc.minor, rc.anon, rc.redirect, rc.comment_hidden, rc.user_hidden, rc.action_hidden, rc.suppressed] = flags;
        rc.patrolled = patrolled;
        rc.old_len = sizes.0;
        rc.new_len = sizes.1;
        rc.timestamp = sizes.2.map(|s| Utc.timestamp_opt(s, 0).unwrap());
        rc.namespace = namespace;
        rc.tags = tags;
        (rc.log_id, rc.log_type, rc.log_action, rc.log_params) = log;
        rc.extra = extra;
        rc
    }
}

/// XML-ish text made of the pieces a change is written with, to reach deep into the parser.
fn xmlish() -> impl Strategy<Value = String> {
    let attr_name = prop_oneof![
        Just("type"),
        Just("rcid"),
        Just("ns"),
        Just("title"),
        Just("timestamp"),
        Just("oldlen"),
        Just("revid"),
        Just("old_revid"),
        Just("minor"),
        Just("id"),
        Just("namespace"),
        Just("x"),
    ];
    let attr_value = prop_oneof![
        "[0-9]{0,20}",
        "-?[0-9]{1,5}",
        ".{0,12}",
        Just("2026-11-23T08:59:04Z".to_string()),
        "&[a-z#0-9]{0,5};?"
    ];
    let attr = (attr_name, attr_value).prop_map(|(n, v)| format!(r#" {n}="{v}""#));
    let child = prop_oneof![
        Just("<tags><tag>t</tag></tags>"),
        Just("<tags/>"),
        Just("<length old=\"1\" new=\"2\"/>"),
        Just("<revision old=\"x\"/>"),
        Just("<logparams a=\"1\"><b><g>1</g></b></logparams>"),
        Just("<log_params/>"),
        Just("<!-- c -->"),
        Just("<![CDATA[x]]>"),
        Just("<"),
        Just("&amp;"),
    ];
    (
        prop_oneof![Just("rc"), Just("recentchange"), Just("x")],
        vec(attr, 0..8),
        vec(child, 0..4),
        any::<bool>(),
    )
        .prop_map(|(root, attrs, children, close)| {
            let mut s = format!("<{root}{}>{}", attrs.concat(), children.concat());
            if close {
                s.push_str(&format!("</{root}>"));
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn json_shape_round_trips(rc in change()) {
        let json = serde_json::to_string(&rc).unwrap();
        let back: RecentChange = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, rc);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
        let _ = parse(&bytes);
        let _ = parse_rc(&bytes);
        let _ = parse_recentchange(&bytes);
        let _ = parse_json(&bytes);
    }

    #[test]
    fn xmlish_text_never_panics(text in xmlish()) {
        let _ = parse(&text);
        let _ = parse_rc(&text);
        let _ = parse_recentchange(&text);
    }

    #[test]
    fn jsonish_text_never_panics(value in fields(), kind in "[a-z]{0,6}") {
        let mut obj = value;
        obj.insert("type".into(), Value::String(kind));
        let text = Value::Object(obj).to_string();
        if let Ok(rc) = parse_json(&text) {
            // What parses also survives its own JSON shape.
            let back: RecentChange = serde_json::from_str(&serde_json::to_string(&rc).unwrap()).unwrap();
            prop_assert_eq!(back, rc);
        }
    }
}
