//! Parse throughput per form over the changes recorded from a real MediaWiki 1.39, against
//! two baselines measured in the same run: raw quick-xml tokenisation of the same bytes
//! (XML forms) and `serde_json::from_str::<serde_json::Value>` (JSON form).
//!
//! `cargo bench --bench parse` runs the criterion benchmarks, then prints a table of
//! changes per second and the ratio of each typed parse to its baseline.
//! Targets: XML typed parse >= 0.5x raw tokenisation; JSON typed parse > 1x `Value`.
//! Two XML baselines are printed: quick-xml's events alone (it finds where tags and
//! attributes end, decoding nothing), and events plus every attribute decoded, which is
//! what any consumer of the attributes pays before building anything typed.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use quick_xml::events::Event;
use quick_xml::Reader;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/rc-core/tests/fixtures/mediawiki-1.39"
);

/// The recorded changes of one form, in rcid order.
fn corpus(suffix: &str) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(FIXTURES)
        .unwrap_or_else(|e| panic!("{FIXTURES}: {e}; run scripts/mediawiki/gen-fixtures.py"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().ends_with(suffix))
        .collect();
    files.sort();
    files.iter().map(|p| read(p)).collect()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

fn tokenize(xml: &str) -> usize {
    let mut reader = Reader::from_str(xml);
    let mut events = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) | Err(_) => return events,
            Ok(e) => {
                black_box(e);
                events += 1;
            }
        }
    }
}

/// Tokens as an XML consumer sees them: every event, and every attribute of every start
/// tag with its value decoded.
fn tokenize_with_attributes(xml: &str) -> usize {
    let mut reader = Reader::from_str(xml);
    let mut tokens = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) | Err(_) => return tokens,
            Ok(Event::Start(e) | Event::Empty(e)) => {
                for a in e.attributes().flatten() {
                    black_box(a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok());
                    tokens += 1;
                }
                tokens += 1;
            }
            Ok(e) => {
                black_box(e);
                tokens += 1;
            }
        }
    }
}

/// One pass of work over one input.
type Work = fn(&str);

struct Case {
    form: &'static str,
    inputs: Vec<String>,
    typed: Work,
    baselines: Vec<(&'static str, Work)>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            form: "<rc> (API/XMLRC)",
            inputs: corpus(".rc.xml"),
            typed: |s| {
                black_box(recentchanges_core::parse_rc(s).unwrap());
            },
            baselines: vec![
                ("quick-xml events", |s| {
                    black_box(tokenize(s));
                }),
                ("quick-xml events+attrs", |s| {
                    black_box(tokenize_with_attributes(s));
                }),
            ],
        },
        Case {
            form: "<recentchange> (feed XML)",
            inputs: corpus(".feed.xml"),
            typed: |s| {
                black_box(recentchanges_core::parse_recentchange(s).unwrap());
            },
            baselines: vec![
                ("quick-xml events", |s| {
                    black_box(tokenize(s));
                }),
                ("quick-xml events+attrs", |s| {
                    black_box(tokenize_with_attributes(s));
                }),
            ],
        },
        Case {
            form: "JSON (feed/EventStreams)",
            inputs: corpus(".feed.json"),
            typed: |s| {
                black_box(recentchanges_core::parse_json(s).unwrap());
            },
            baselines: vec![("serde_json::Value", |s| {
                black_box(serde_json::from_str::<serde_json::Value>(s).unwrap());
            })],
        },
    ]
}

fn criterion_benches(c: &mut Criterion) {
    for case in cases() {
        let mut group = c.benchmark_group(case.form);
        group.throughput(Throughput::Elements(case.inputs.len() as u64));
        group.bench_function("typed parse", |b| {
            b.iter(|| case.inputs.iter().for_each(|s| (case.typed)(s)))
        });
        for (name, baseline) in &case.baselines {
            group.bench_function(*name, |b| {
                b.iter(|| case.inputs.iter().for_each(|s| baseline(s)))
            });
        }
        group.finish();
    }
}

/// Changes per second over the corpus: the best of several timed rounds.
fn rate(inputs: &[String], f: Work) -> f64 {
    let round = Duration::from_millis(300);
    (0..5)
        .map(|_| {
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < round {
                inputs.iter().for_each(|s| f(s));
                n += inputs.len() as u64;
            }
            n as f64 / start.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

fn summary() {
    println!(
        "\n{:<26} {:>7} {:>11} {:>24} {:>12} {:>6}",
        "form", "changes", "typed/s", "baseline", "baseline/s", "ratio"
    );
    for case in cases() {
        let typed = rate(&case.inputs, case.typed);
        for (name, baseline) in &case.baselines {
            let base = rate(&case.inputs, *baseline);
            println!(
                "{:<26} {:>7} {:>11.0} {:>24} {:>12.0} {:>5.2}x",
                case.form,
                case.inputs.len(),
                typed,
                name,
                base,
                typed / base
            );
        }
    }
}

/// `RC_PARSE_LOOPS=N`: no criterion and no timing, only N passes of every typed parse and
/// baseline over its corpus, for instruction counts that the machine's load does not move:
/// `RC_PARSE_LOOPS=200 valgrind --tool=callgrind target/release/deps/parse-*`
/// (`RC_PARSE_ONLY=<substring of the form or baseline>` picks one).
fn loops(n: usize) {
    let only = std::env::var("RC_PARSE_ONLY").unwrap_or_default();
    for case in cases() {
        let works = std::iter::once(("typed parse", case.typed)).chain(case.baselines);
        for (name, work) in works {
            if !format!("{} {name}", case.form).contains(only.as_str()) {
                continue;
            }
            for _ in 0..n {
                case.inputs.iter().for_each(|s| work(s));
            }
        }
    }
}

fn main() {
    if let Some(n) = std::env::var("RC_PARSE_LOOPS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        return loops(n);
    }
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c);
    c.final_summary();
    summary();
}
