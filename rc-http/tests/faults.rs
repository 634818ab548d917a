//! rc-http under faults and hostile peers (issue 14). A real MediaWiki does not answer a
//! `maxlag` error with a lag of "NaN", an HTML page for the API, an endless `Retry-After`
//! or an oversized body: those are played by rc-testkit's canned HTTP server or by a
//! scripted peer on 127.0.0.1, as each test says.

use std::time::Duration;

use futures::StreamExt;
use rc_testkit::http::{canned_server, Answer};
use recentchanges_http::{Api, Poller, PollerConfig, RetryPolicy, Start};

const ONE_ROW: &str = r#"<?xml version="1.0"?><api batchcomplete=""><query><recentchanges><rc type="new" ns="0" title="Alpha" pageid="1" revid="1" old_revid="0" rcid="1" user="U" timestamp="2026-11-23T10:45:51Z"><tags /></rc></recentchanges></query></api>"#;

fn quick() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(100),
        max_attempts: 5,
        max_elapsed: Duration::from_secs(10),
    }
}

fn api(port: u16, retry: RetryPolicy) -> Api {
    Api::builder(&format!("http://127.0.0.1:{port}/api.php"))
        .retry(retry)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Canned server (a real wiki reports a number): `lag="NaN"` used to panic in
/// `Duration::from_secs_f64` and end the poller's stream without a word.
#[tokio::test]
async fn a_maxlag_answer_with_a_lag_of_nan_is_waited_out_and_the_poller_goes_on() {
    let answers: Vec<Answer> = ["NaN", "inf", "-3", "1e400"]
        .iter()
        .map(|lag| {
            (
                "200 OK",
                "",
                format!(r#"<?xml version="1.0"?><api><error code="maxlag" info="lagged" lag="{lag}"/></api>"#),
            )
        })
        .chain([("200 OK", "", ONE_ROW.to_owned())])
        .collect();
    let (port, seen) = canned_server(answers).await;
    let cfg = PollerConfig::new("w").start(Start::Beginning);
    let mut changes = Box::pin(Poller::new(api(port, quick()), cfg).into_stream());
    let rc = tokio::time::timeout(Duration::from_secs(20), changes.next())
        .await
        .expect("a change in time")
        .expect("the stream goes on")
        .expect("a change");
    assert_eq!(rc.title.as_deref(), Some("Alpha"));
    assert_eq!(seen.lock().unwrap().len(), 5);
}

/// Canned server: an HTML page where the API should be, then HTTP 500 for good. Each
/// failed request is an error item, and the next request waits (1 s, then 2 s...) instead
/// of following at once in a tight loop.
#[tokio::test]
async fn a_poller_stream_pauses_after_an_http_500_instead_of_asking_again_at_once() {
    let (port, seen) = canned_server(vec![
        ("200 OK", "", "<html><body>Maintenance</body></html>".into()),
        ("500 Internal Server Error", "", "oops".into()),
    ])
    .await;
    let cfg = PollerConfig::new("w").start(Start::Beginning);
    let mut changes = Box::pin(Poller::new(api(port, quick()), cfg).into_stream());
    let t = std::time::Instant::now();
    let mut errors = 0;
    while t.elapsed() < Duration::from_millis(2500) {
        match tokio::time::timeout(Duration::from_millis(200), changes.next()).await {
            Ok(Some(Err(_))) => errors += 1,
            Ok(other) => panic!("{other:?}"),
            Err(_) => {}
        }
    }
    let requests = seen.lock().unwrap().len();
    assert!((2..=3).contains(&requests), "{requests} requests in 2.5 s");
    assert_eq!(errors, requests);
}

/// Canned server: HTTP 503 with `Retry-After: 3600`. A wait that would end past the retry
/// budget (here 60 s) gives up at once instead of sleeping an hour.
#[tokio::test]
async fn a_retry_after_of_an_hour_beyond_the_retry_budget_gives_up_at_once() {
    let (port, seen) = canned_server(vec![(
        "503 Service Unavailable",
        "Retry-After: 3600\r\n",
        "busy".into(),
    )])
    .await;
    let policy = RetryPolicy {
        max_elapsed: Duration::from_secs(60),
        ..quick()
    };
    let t = std::time::Instant::now();
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        api(port, policy).get_json(&[("action", "query")]),
    )
    .await
    .expect("no hour-long sleep")
    .unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(
        matches!(err, recentchanges_http::Error::GaveUp { attempts: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("HTTP 503"), "{err}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

/// Canned server: one HTTP 503 (a real wiki behind a load balancer does that during a
/// deploy), then the page. The mirror's reads are POSTs (50 titles do not fit a URL) that
/// only read: they are retried like a GET instead of failing the batch.
#[tokio::test]
async fn a_mirror_page_read_answered_503_once_is_retried_and_the_page_written() {
    let page = r#"{"batchcomplete":true,"query":{"pages":[{"pageid":2,"ns":0,"title":"Alpha","revisions":[{"revid":9,"slots":{"main":{"content":"Hi"}}}]}]}}"#;
    let (port, seen) = canned_server(vec![
        ("503 Service Unavailable", "", "busy".into()),
        ("200 OK", "", page.into()),
    ])
    .await;
    let dir = rc_testkit::TempDir::new("rc-http-faults-mirror");
    let mut mirror = recentchanges_http::mirror::Mirror::open(
        api(port, quick()),
        dir.path(),
        Default::default(),
    )
    .unwrap();
    let mut rc = recentchanges_core::RecentChange::new(recentchanges_core::Kind::Edit);
    rc.title = Some("Alpha".into());
    rc.rcid = Some(5);
    let report = mirror.apply(&[rc]).await.expect("the 503 is retried");
    assert_eq!(report.written, 1);
    assert_eq!(mirror.read("Alpha").unwrap().as_deref(), Some("Hi"));
    assert_eq!(seen.lock().unwrap().len(), 2);
}

/// A scripted peer on 127.0.0.1: one answer, its body `len` bytes of `x`, with or without a
/// `Content-Length` (without: the body ends when the connection closes).
async fn big_answer(len: usize, with_length: bool) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let length = if with_length {
                    format!("Content-Length: {len}\r\n")
                } else {
                    String::new()
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n{length}Connection: close\r\n\r\n"
                );
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'x'; 64 * 1024];
                let mut left = len;
                while left > 0 {
                    let n = left.min(chunk.len());
                    if s.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                    left -= n;
                }
            });
        }
    });
    port
}

/// Scripted peer: answers larger than `max_body`, with and without a `Content-Length`,
/// are refused with an error naming the limit, for the API client and the WikiRPC client.
#[tokio::test]
async fn an_answer_larger_than_max_body_is_refused_with_a_clear_error() {
    for with_length in [true, false] {
        let port = big_answer(3 * 1024 * 1024, with_length).await;
        let api = Api::builder(&format!("http://127.0.0.1:{port}/api.php"))
            .retry(quick())
            .max_body(1024 * 1024)
            .build()
            .unwrap();
        let err = api.get_xml(&[("action", "query")]).await.unwrap_err();
        assert!(
            matches!(
                err,
                recentchanges_http::Error::TooLarge { limit: 1048576, .. }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("larger than 1048576 bytes"),
            "{err}"
        );

        let rpc = recentchanges_http::wikirpc::Client::builder(
            &format!("http://127.0.0.1:{port}/lib/exe/xmlrpc.php"),
            recentchanges_http::wikirpc::Dialect::DokuWiki,
        )
        .retry(quick())
        .max_body(1024 * 1024)
        .build()
        .unwrap();
        let err = rpc.get_page("start", None).await.unwrap_err();
        assert!(
            err.to_string().contains("larger than 1048576 bytes"),
            "{err}"
        );
    }
    // The default: 64 MiB.
    assert_eq!(recentchanges_http::DEFAULT_MAX_BODY, 64 * 1024 * 1024);
}

/// No server: the refusal comes before any connection (wiki.example.org is never asked).
#[tokio::test]
async fn credentials_over_plain_http_to_another_host_are_refused_unless_allowed() {
    use recentchanges_http::wikirpc::{Client, Credentials, Dialect};
    let remote = "http://wiki.example.org/w/api.php";
    let err = Api::new(remote)
        .unwrap()
        .login("bot", "s3cret")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("unencrypted") && text.contains("allow_plaintext_credentials(true)"),
        "{text}"
    );
    assert!(
        matches!(err, recentchanges_http::Error::Config(_)),
        "{err:?}"
    );
    let rpc = |url: &str, allow: bool| {
        Client::builder(url, Dialect::DokuWiki)
            .credentials(Credentials::new("bot", "s3cret"))
            .allow_plaintext_credentials(allow)
            .build()
    };
    let err = rpc("http://wiki.example.org/lib/exe/xmlrpc.php", false).unwrap_err();
    assert!(err.to_string().contains("unencrypted"), "{err}");
    assert!(rpc("http://wiki.example.org/lib/exe/xmlrpc.php", true).is_ok());
    for ok in [
        "https://wiki.example.org/lib/exe/xmlrpc.php",
        "http://127.0.0.1:8090/lib/exe/xmlrpc.php",
        "http://127.1.2.3/lib/exe/xmlrpc.php",
        "http://localhost:8090/lib/exe/xmlrpc.php",
        "http://[::1]:8090/lib/exe/xmlrpc.php",
    ] {
        assert!(rpc(ok, false).is_ok(), "{ok}");
    }
    // A user name and password inside the URL are credentials too.
    let err = Api::new("http://bot:s3cret@wiki.example.org/w/api.php").unwrap_err();
    assert!(err.to_string().contains("unencrypted"), "{err}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
    assert!(Api::builder("http://bot:s3cret@wiki.example.org/w/api.php")
        .allow_plaintext_credentials(true)
        .build()
        .is_ok());
}

/// Canned server answering an HTML page, and a port nobody listens on: a password inside
/// the URL shows in no error, no `Debug`, no `url()` and no link.
#[tokio::test]
async fn a_password_inside_the_url_never_shows_in_errors_debug_or_links() {
    use recentchanges_http::wikirpc::{Client, Dialect};
    let secret = "s3cret";
    let no_secret = |what: &str, text: String| {
        assert!(!text.contains(secret), "{what}: {text}");
    };
    let (port, _) = canned_server(vec![(
        "200 OK",
        "",
        "<html><body>Maintenance</body></html>".into(),
    )])
    .await;
    let api = Api::builder(&format!("http://bot:{secret}@127.0.0.1:{port}/api.php"))
        .retry(quick())
        .build()
        .unwrap();
    no_secret("Api Debug", format!("{api:?}"));
    no_secret("Api::url", api.url().to_owned());
    let builder = Api::builder(&format!("https://bot:{secret}@127.0.0.1:{port}/api.php"));
    no_secret("ApiBuilder Debug", format!("{builder:?}"));
    let mut poller = Poller::new(api.clone(), PollerConfig::new("w").start(Start::Beginning));
    let err = poller.poll().await.unwrap_err();
    no_secret("poller error", format!("{err} / {err:?}"));

    let closed = rc_testkit::free_port();
    let api = Api::builder(&format!("http://bot:{secret}@127.0.0.1:{closed}/api.php"))
        .retry(RetryPolicy {
            max_attempts: 1,
            ..quick()
        })
        .build()
        .unwrap();
    let err = api.get_json(&[("action", "query")]).await.unwrap_err();
    no_secret("connection error", format!("{err} / {err:?}"));
    for bad in [
        format!("ftp://bot:{secret}@example.org/"),
        format!("http://bot:{secret}@exa mple.org/"),
    ] {
        let err = Api::new(&bad).unwrap_err();
        no_secret("config error", err.to_string());
    }

    let rpc = Client::builder(
        &format!("http://bot:{secret}@127.0.0.1:{closed}/lib/exe/xmlrpc.php"),
        Dialect::DokuWiki,
    )
    .retry(RetryPolicy {
        max_attempts: 1,
        ..quick()
    })
    .build()
    .unwrap();
    no_secret("Client Debug", format!("{rpc:?}"));
    no_secret("page_url", rpc.page_url("start").unwrap());
    no_secret("revision_url", rpc.revision_url("start", 3).unwrap());
    let err = rpc.get_page("start", None).await.unwrap_err();
    no_secret("WikiRPC error", format!("{err} / {err:?}"));
}
