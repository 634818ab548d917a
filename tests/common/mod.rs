//! What the end-to-end tests share beyond rc-testkit (which starts the real servers and
//! waits for them): the wiki's users, and a bridge from the wiki's feed into a room.
#![allow(dead_code)] // each test file uses part of it

use std::collections::HashMap;
use std::net::SocketAddr;

use rc_testkit::{room_bare, MediaWiki, Prosody, XmppServer, ADMIN_PASSWORD};
use recentchanges::http::Api;
use recentchanges::xmpp::bridge::{Bridge, Routes};

/// The password of the wiki's other accounts.
pub const USER_PASSWORD: &str = "userpass1234567";

/// The wiki's cast: Admin (sysop), Botty (bot group) and an anonymous visitor.
pub struct Cast {
    pub admin: Api,
    pub botty: Api,
    pub anon: Api,
}

impl Cast {
    /// Logs Admin in, creates Botty (in group bot) and logs it in, as gen-fixtures.py does.
    pub async fn new(wiki: &MediaWiki) -> Cast {
        let admin = wiki.session("Admin", ADMIN_PASSWORD).await;
        let token = admin.token("createaccount").await.unwrap();
        let ret = wiki.base() + "/";
        let res = admin
            .post_json(&[
                ("action", "createaccount"),
                ("username", "Botty"),
                ("password", USER_PASSWORD),
                ("retype", USER_PASSWORD),
                ("createreturnurl", &ret),
                ("reason", "bot account"),
                ("createtoken", &token),
            ])
            .await
            .unwrap();
        assert_eq!(res["createaccount"]["status"], "PASS", "{res}");
        let token = admin.token("userrights").await.unwrap();
        admin
            .post_json(&[
                ("action", "userrights"),
                ("user", "Botty"),
                ("add", "bot"),
                ("reason", "flag as bot"),
                ("token", &token),
            ])
            .await
            .unwrap();
        let botty = wiki.session("Botty", USER_PASSWORD).await;
        Cast {
            admin,
            botty,
            anon: wiki.api(),
        }
    }
}

/// A bridge posting the changes of wiki `wikidb` into `room` as `publisher_user`.
pub async fn bridge(prosody: &Prosody, publisher_user: &str, room: &str) -> Bridge {
    bridge_at(
        prosody,
        publisher_user,
        room,
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
}

/// A [`bridge`] listening on `listen`.
pub async fn bridge_at(
    prosody: &Prosody,
    publisher_user: &str,
    room: &str,
    listen: SocketAddr,
) -> Bridge {
    let routes = Routes {
        rooms: HashMap::from([("wikidb".to_owned(), room_bare(room))]),
        default: None,
    };
    let publisher = prosody.publisher_as(publisher_user, &[room]);
    Bridge::start(listen, routes, publisher, 10_000)
        .await
        .unwrap()
}
