//! MediaWiki (`scripts/mediawiki/`) and DokuWiki (`scripts/dokuwiki/`).

use std::net::SocketAddr;
use std::process::Command;

use crate::process::{derefs_to_server, init_tracing, ScriptedServer};

/// The password of MediaWiki's `Admin` (a sysop), as `scripts/mediawiki/start.sh` sets it.
pub const ADMIN_PASSWORD: &str = "adminpass123456";

/// A running MediaWiki 1.39 with one PHP worker, wiki id `wikidb`, user `Admin`; fields of
/// the [`ScriptedServer`] it derefs to. Stopped when dropped.
pub struct MediaWiki {
    server: ScriptedServer,
}

derefs_to_server!(MediaWiki);

impl MediaWiki {
    /// A fresh wiki sending its `$wgRCFeeds` UDP packets (XML and JSON formatter) to the
    /// given addresses, if any; panics if it does not start.
    pub fn start(feed_xml: Option<SocketAddr>, feed_json: Option<SocketAddr>) -> MediaWiki {
        Self::start_with(feed_xml, feed_json, 1)
    }

    /// A fresh wiki without feeds whose web requests run no jobs (`$wgJobRunRate = 0`):
    /// queued jobs (categorize changes among them) wait for [`run_jobs`](Self::run_jobs).
    pub fn start_without_job_runs() -> MediaWiki {
        Self::start_with(None, None, 0)
    }

    fn start_with(
        feed_xml: Option<SocketAddr>,
        feed_json: Option<SocketAddr>,
        job_run_rate: u32,
    ) -> MediaWiki {
        init_tracing();
        let server = ScriptedServer::try_start("mediawiki", "MW_PORT", "MW_STATE_DIR", &|c| {
            c.env("MW_PHP_WORKERS", "1")
                .env("MW_JOB_RUN_RATE", job_run_rate.to_string())
                .env_remove("MW_FEED_XML")
                .env_remove("MW_FEED_JSON");
            if let Some(a) = feed_xml {
                c.env("MW_FEED_XML", a.to_string());
            }
            if let Some(a) = feed_json {
                c.env("MW_FEED_JSON", a.to_string());
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        MediaWiki { server }
    }

    /// `http://127.0.0.1:port`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn api_url(&self) -> String {
        format!("{}/api.php", self.base())
    }

    /// Runs the queued jobs with `maintenance/runJobs.php` (categorize changes come from
    /// jobs, and in 1.39 only index.php requests run them, one per request).
    pub fn run_jobs(&self) {
        let settings = self.state_dir.join("LocalSettings.php");
        let out = Command::new("php")
            .arg("/usr/share/mediawiki/maintenance/runJobs.php")
            .arg("--conf")
            .arg(&settings)
            .env("MW_CONFIG_FILE", &settings)
            .output()
            .expect("php runJobs.php");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[cfg(feature = "http")]
mod api {
    use std::time::Duration;

    use recentchanges_http::{Api, RetryPolicy};
    use serde_json::Value;

    use super::MediaWiki;

    impl MediaWiki {
        /// An anonymous API client with quick retries.
        pub fn api(&self) -> Api {
            Api::builder(&self.api_url())
                .retry(RetryPolicy {
                    initial: Duration::from_millis(100),
                    max: Duration::from_secs(1),
                    max_attempts: 5,
                    max_elapsed: Duration::from_secs(20),
                })
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap()
        }

        /// An [`api`](Self::api) client logged in as `user`.
        pub async fn session(&self, user: &str, password: &str) -> Api {
            let api = self.api();
            api.login(user, password).await.expect("login");
            api
        }
    }

    /// A write action with a csrf token; panics when it fails (or an edit does not
    /// succeed). The answer.
    pub async fn act(api: &Api, params: &[(&str, &str)]) -> Value {
        let token = api.token("csrf").await.unwrap();
        let mut p = params.to_vec();
        p.push(("token", &token));
        let res = api
            .post_json(&p)
            .await
            .unwrap_or_else(|e| panic!("{params:?}: {e}"));
        if let Some(edit) = res.get("edit") {
            assert_eq!(edit["result"], "Success", "{params:?}: {res}");
        }
        res
    }

    /// Saves a page ([`act`] with `action=edit` and `extra` parameters). The answer.
    pub async fn edit(
        api: &Api,
        title: &str,
        text: &str,
        summary: &str,
        extra: &[(&str, &str)],
    ) -> Value {
        let mut p = vec![
            ("action", "edit"),
            ("title", title),
            ("text", text),
            ("summary", summary),
        ];
        p.extend_from_slice(extra);
        act(api, &p).await
    }
}

#[cfg(feature = "http")]
pub use api::{act, edit};

/// Saves DokuWiki page `page` through its own `wiki.putPage` (an empty text deletes the
/// page), with `client`'s credentials; panics unless DokuWiki says it saved it.
#[cfg(feature = "http")]
pub async fn put_page(client: &recentchanges_http::wikirpc::Client, page: &str, text: &str) {
    use recentchanges_http::wikirpc::Value;
    let ok = client
        .call(
            "wiki.putPage",
            vec![
                page.into(),
                text.into(),
                Value::Struct(vec![("sum".into(), "test edit".into())]),
            ],
        )
        .await
        .unwrap();
    assert_eq!(ok, Value::Bool(true), "putPage {page}");
}

/// A running DokuWiki (the Debian package's code) with its XML-RPC API on and one
/// editor account; fields of the [`ScriptedServer`] it derefs to. Stopped when dropped.
pub struct DokuWiki {
    server: ScriptedServer,
    pub xmlrpc_url: String,
    pub user: String,
    pub password: String,
}

derefs_to_server!(DokuWiki);

impl DokuWiki {
    /// A fresh wiki; panics if it does not start.
    pub fn start() -> DokuWiki {
        init_tracing();
        let server = ScriptedServer::try_start("dokuwiki", "DW_PORT", "DW_STATE_DIR", &|_| {})
            .unwrap_or_else(|e| panic!("{e}"));
        DokuWiki {
            xmlrpc_url: server.export("DOKUWIKI_XMLRPC_URL").to_owned(),
            user: server.export("DOKUWIKI_USER").to_owned(),
            password: server.export("DOKUWIKI_PASSWORD").to_owned(),
            server,
        }
    }
}
