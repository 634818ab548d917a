//! `rc-json FILE...`: parses each file with rc-core and prints one JSON line per file,
//! `{"file": ..., "change": <rc-core's JSON shape>}` or `{"file": ..., "error": "..."}`.
//! The Python tests compare `rcclient` against it.

fn main() {
    let mut failed = false;
    for path in std::env::args().skip(1) {
        let line = match std::fs::read(&path) {
            Ok(bytes) => match recentchanges_core::parse(&bytes) {
                Ok(rc) => serde_json::json!({ "file": path, "change": rc }),
                Err(e) => serde_json::json!({ "file": path, "error": e.to_string() }),
            },
            Err(e) => {
                failed = true;
                serde_json::json!({ "file": path, "error": format!("cannot read: {e}") })
            }
        };
        println!("{line}");
    }
    if failed {
        std::process::exit(1);
    }
}
