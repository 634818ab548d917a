//! The WikiPing listener with real HTTP XML-RPC requests (reqwest); answers are read with
//! `dxr`, an XML-RPC implementation independent of rc-http's.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use rc_testkit::next_within;
use recentchanges_core::Kind;
use recentchanges_http::wikiping::{PingConfig, PingError, PingListener};

/// The request of the WikiPing specification, verbatim.
const SPEC_SAMPLE: &str = r#"<?xml version="1.0"?>
<methodCall>
    <methodName>wiki.ping</methodName>
    <params>
        <param>
            <value>
                <struct>
                    <member>
                        <name>tag</name>
                        <value>HomePage</value>
                    </member>
                    <member>
                        <name>url</name>
                        <value>http://mindwiki.de/HomePage</value>
                    </member>
                    <member>
                        <name>wiki</name>
                        <value>mindWiki</value>
                    </member>
                    <member>
                        <name>interwikiname</name>
                        <value>mindWiki</value>
                    </member>
                    <member>
                        <name>history</name>
                        <value>http://mindwiki.de/HomePage/revisions</value>
                    </member>
                    <member>
                        <name>author</name>
                        <value>sebastian</value>
                    </member>
                    <member>
                        <name>authorpage</name>
                        <value>http://mindwiki.de/sebastian</value>
                    </member>
                    <member>
                        <name>changelog</name>
                        <value>just an example!</value>
                    </member>
                </struct>
            </value>
        </param>
    </params>
</methodCall>
"#;

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn post(addr: std::net::SocketAddr, body: String) -> (u16, String) {
    let resp = http()
        .post(format!("http://{addr}/wikiping/rpc.xml"))
        .header("Content-Type", "text/xml")
        .body(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// The `{error, message}` struct of a normal answer.
fn answer(xml: &str) -> (bool, String) {
    let resp = dxr::MethodResponse::from_xml(xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let dxr::Value::Struct(m) = resp.value else {
        panic!("not a struct: {xml}")
    };
    let (Some(dxr::Value::Boolean(error)), Some(dxr::Value::String(message))) =
        (m.get("error"), m.get("message"))
    else {
        panic!("not {{error, message}}: {xml}")
    };
    (*error, message.clone())
}

fn fault(xml: &str) -> (i32, String) {
    let f = dxr::FaultResponse::from_xml(xml)
        .unwrap_or_else(|e| panic!("not a fault ({e}): {xml}"))
        .fault;
    (f.code(), f.string().to_owned())
}

fn ping(members: &[(&str, &str)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\"?><methodCall><methodName>wiki.ping</methodName><params><param><value><struct>",
    );
    for (k, v) in members {
        s.push_str(&format!(
            "<member><name>{k}</name><value><string>{v}</string></value></member>"
        ));
    }
    s.push_str("</struct></value></param></params></methodCall>");
    s
}

#[tokio::test]
async fn the_specs_sample_ping_is_a_typed_change_and_answered_as_the_spec_says() {
    let mut l = PingListener::bind("127.0.0.1:0").await.unwrap();
    let before = Utc::now();
    let (status, body) = post(l.local_addr(), SPEC_SAMPLE.into()).await;
    assert_eq!(status, 200);
    let (error, message) = answer(&body);
    assert!(!error && !message.is_empty(), "{body}");

    let rc = next_within(&mut l, 10).await.unwrap();
    assert_eq!(rc.kind, Kind::Edit);
    assert_eq!(rc.title.as_deref(), Some("HomePage"));
    assert_eq!(rc.url.as_deref(), Some("http://mindwiki.de/HomePage"));
    assert_eq!(rc.wiki.as_deref(), Some("mindWiki"));
    assert_eq!(rc.user.as_deref(), Some("sebastian"));
    assert_eq!(rc.comment.as_deref(), Some("just an example!"));
    assert_eq!(rc.extra["interwikiname"], "mindWiki");
    assert_eq!(rc.extra["history"], "http://mindwiki.de/HomePage/revisions");
    assert_eq!(rc.extra["authorpage"], "http://mindwiki.de/sebastian");
    assert_eq!(rc.extra.len(), 3, "{:?}", rc.extra);
    let at = rc.timestamp.unwrap();
    assert!(before <= at && at <= Utc::now(), "the time of receipt");
}

#[tokio::test]
async fn member_names_are_case_insensitive() {
    let mut l = PingListener::bind("127.0.0.1:0").await.unwrap();
    let body = ping(&[
        ("Tag", "Start Page"),
        ("URL", "http://w.example/Start"),
        ("WiKi", "w"),
        ("InterWikiName", "W"),
        ("AUTHOR", "Ann &amp; Bob"),
        ("ChangeLog", "typo"),
    ]);
    let (_, resp) = post(l.local_addr(), body).await;
    assert!(!answer(&resp).0);
    let rc = next_within(&mut l, 10).await.unwrap();
    assert_eq!(rc.title.as_deref(), Some("Start Page"));
    assert_eq!(rc.url.as_deref(), Some("http://w.example/Start"));
    assert_eq!(rc.wiki.as_deref(), Some("w"));
    assert_eq!(rc.user.as_deref(), Some("Ann & Bob"));
    assert_eq!(rc.comment.as_deref(), Some("typo"));
    assert_eq!(rc.extra["interwikiname"], "W");
}

#[tokio::test]
async fn a_missing_required_member_gets_the_specs_error_answer_and_an_err_item() {
    let mut l = PingListener::bind("127.0.0.1:0").await.unwrap();
    for (members, field, msg) in [
        (
            vec![("tag", "P"), ("url", "http://w/P")],
            "wiki",
            "wiki name required",
        ),
        (
            vec![("wiki", "w"), ("url", "http://w/P")],
            "tag",
            "tag required",
        ),
        (
            vec![("wiki", "w"), ("tag", "P"), ("url", "")],
            "url",
            "url required",
        ),
    ] {
        let (status, resp) = post(l.local_addr(), ping(&members)).await;
        assert_eq!(status, 200);
        assert_eq!(
            answer(&resp),
            (true, msg.to_owned()),
            "a normal answer, not a fault"
        );
        let err = next_within(&mut l, 10).await.unwrap_err();
        assert!(
            matches!(&err, PingError::MissingField { field: f, .. } if *f == field),
            "{err:?}"
        );
        assert!(err.to_string().contains(msg), "{err}");
    }
}

#[tokio::test]
async fn garbage_and_other_methods_are_faults_and_the_listener_goes_on() {
    let mut l = PingListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr();

    let (status, resp) = post(addr, "this is no XML-RPC <<<".into()).await;
    assert_eq!(status, 200);
    assert_eq!(fault(&resp).0, -32700);
    let err = next_within(&mut l, 10).await.unwrap_err();
    assert!(matches!(err, PingError::Malformed { .. }), "{err:?}");

    let weblogs = SPEC_SAMPLE.replace("wiki.ping", "weblogUpdates.ping");
    let (_, resp) = post(addr, weblogs).await;
    let (code, msg) = fault(&resp);
    assert_eq!(code, -32601);
    assert!(msg.contains("weblogUpdates.ping"), "{msg}");
    let err = next_within(&mut l, 10).await.unwrap_err();
    assert!(
        matches!(&err, PingError::UnknownMethod { method, .. } if method == "weblogUpdates.ping"),
        "{err:?}"
    );

    let two_strings = "<methodCall><methodName>wiki.ping</methodName><params><param><value>w</value></param><param><value>u</value></param></params></methodCall>";
    let (_, resp) = post(addr, two_strings.into()).await;
    assert_eq!(fault(&resp).0, -32602);
    assert!(matches!(
        next_within(&mut l, 10).await,
        Err(PingError::InvalidParams { .. })
    ));

    // Still serving.
    post(addr, SPEC_SAMPLE.into()).await;
    assert_eq!(
        next_within(&mut l, 10).await.unwrap().title.as_deref(),
        Some("HomePage")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pings_each_arrive_once() {
    let l = PingListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr();
    let sent: BTreeSet<String> = (0..8).map(|i| format!("Page{i}")).collect();
    let requests = sent.iter().map(|tag| {
        let body = ping(&[
            ("wiki", "w"),
            ("tag", tag),
            ("url", &format!("http://w/{tag}")),
        ]);
        async move { post(addr, body).await }
    });
    for (status, resp) in futures::future::join_all(requests).await {
        assert_eq!(status, 200);
        assert!(!answer(&resp).0);
    }
    let got: Vec<String> = l.take(8).map(|i| i.unwrap().title.unwrap()).collect().await;
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), sent);
    assert_eq!(got.len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_buffer_holds_the_answer_back_until_the_consumer_reads() {
    let mut l = PingListener::bind_with("127.0.0.1:0", PingConfig::default().capacity(1))
        .await
        .unwrap();
    let addr = l.local_addr();
    post(addr, ping(&[("wiki", "w"), ("tag", "A"), ("url", "u")])).await;
    let mut second = tokio::spawn(post(
        addr,
        ping(&[("wiki", "w"), ("tag", "B"), ("url", "u")]),
    ));
    // The buffer holds A: B is not answered while nobody reads.
    let waited = tokio::time::timeout(Duration::from_millis(300), &mut second).await;
    assert!(waited.is_err(), "answered with a full buffer: {waited:?}");
    assert_eq!(
        next_within(&mut l, 10).await.unwrap().title.as_deref(),
        Some("A")
    );
    assert_eq!(
        next_within(&mut l, 10).await.unwrap().title.as_deref(),
        Some("B")
    );
    assert_eq!(second.await.unwrap().0, 200);
}
