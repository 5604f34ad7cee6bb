//! Manifest reading (`ferry validate`, `render`, `cost` and the operator's users all go through
//! it): any text either parses or is refused with a position, never panics; every line it
//! reports is inside the text; and JSON, which YAML contains, reads back as itself.

#![no_main]

use ferry::manifest::{self, Document};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|text: &str| {
    let lines = line_breaks(text) + 2;
    let documents = match manifest::parse(text) {
        Ok(documents) => documents,
        Err(e) => {
            assert!(
                e.line <= lines,
                "error line {} past the text's {lines}",
                e.line
            );
            assert!(!e.message.is_empty(), "an error without a message");
            return;
        }
    };
    for doc in &documents {
        for path in paths(&doc.value, String::new()) {
            let line = doc.line_of(&path);
            assert!(
                line <= lines,
                "{path} at line {line}, past the text's {lines}"
            );
        }
        round_trip(doc);
    }
});

/// Line breaks as YAML counts them: `\r\n`, `\n`, and a lone `\r` (old Mac files), which
/// `str::lines` does not split on.
fn line_breaks(text: &str) -> usize {
    text.replace("\r\n", "\n").matches(['\r', '\n']).count()
}

/// Every field path of `value`, spelt as validation spells them.
fn paths(value: &Value, prefix: String) -> Vec<String> {
    let mut out = vec![prefix.clone()];
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                out.extend(paths(child, path));
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                out.extend(paths(child, format!("{prefix}[{i}]")));
            }
        }
        _ => {}
    }
    out
}

fn round_trip(doc: &Document) {
    let json = serde_json::to_string(&doc.value).expect("a JSON value serialises");
    let again = manifest::parse(&json).unwrap_or_else(|e| panic!("{json} does not read back: {e}"));
    let value = again.first().map_or(&Value::Null, |d| &d.value);
    assert_eq!(&doc.value, value, "{json} reads back differently");
}
