//! YAML manifests as kubectl reads them: one or more documents, each turned into JSON, with the
//! line of every field kept so messages can point at it.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::{DuplicateKeyPolicy, Options, Spanned};

/// One YAML document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Position among the file's non-empty documents, from 1.
    pub index: usize,
    /// The document as JSON.
    pub value: Value,
    /// Where it starts.
    pub line: usize,
    lines: BTreeMap<String, usize>,
}

impl Document {
    /// The line of `field` (`spec.containers[0].port`), or of its nearest ancestor that is in
    /// the file (a missing field is reported where its parent is).
    pub fn line_of(&self, field: &str) -> usize {
        let mut path = normalise(field);
        loop {
            if let Some(&line) = self.lines.get(&path) {
                return line;
            }
            match path.rfind(['.', '[']) {
                Some(cut) => path.truncate(cut),
                None => return self.line,
            }
        }
    }
}

/// Map keys are recorded as `.key`; validation may spell them `[key]`.
fn normalise(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']').map(|c| open + c) else {
            break;
        };
        out.push_str(&rest[..open]);
        let inner = &rest[open + 1..close];
        if inner.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&rest[open..=close]);
        } else {
            out.push('.');
            out.push_str(inner);
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// A file that is not valid YAML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct SyntaxError {
    /// Line, from 1 (0 when unknown).
    pub line: usize,
    /// Column, from 1 (0 when unknown).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses every document of a YAML stream; empty documents are skipped.
pub fn parse(text: &str) -> Result<Vec<Document>, SyntaxError> {
    // kubectl refuses duplicate keys too; snippets would repeat the file in every message.
    let mut options = Options::default();
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    options.with_snippet = false;
    let docs: Vec<Spanned<Node>> = serde_saphyr::from_multiple_with_options(text, options)
        .map_err(|e| {
            let (line, column) = e
                .location()
                .map_or((0, 0), |l| (to_usize(l.line()), to_usize(l.column())));
            SyntaxError {
                line,
                column,
                message: first_line(&e.to_string()),
            }
        })?;
    let mut out = Vec::new();
    for doc in docs {
        if matches!(doc.value, Node::Null) {
            continue;
        }
        let line = to_usize(doc.referenced.line());
        let mut lines = BTreeMap::new();
        let value = to_json(doc, "", line, &mut lines)?;
        out.push(Document {
            index: out.len() + 1,
            value,
            line,
            lines,
        });
    }
    Ok(out)
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The parser's message without its own "at line L, column C", which the caller reports.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message).trim();
    line.rfind(" at line ")
        .map_or(line, |cut| &line[..cut])
        .to_owned()
}

/// `line` is where the field is written: its key's line for a mapping entry (a block value
/// starts on the next line), the item's own line in a sequence.
fn to_json(
    node: Spanned<Node>,
    path: &str,
    line: usize,
    lines: &mut BTreeMap<String, usize>,
) -> Result<Value, SyntaxError> {
    lines.insert(path.to_owned(), line);
    Ok(match node.value {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(b),
        Node::Int(i) => Value::Number(i.into()),
        Node::UInt(u) => Value::Number(u.into()),
        Node::Float(f) => Value::Number(Number::from_f64(f).ok_or_else(|| SyntaxError {
            line,
            column: to_usize(node.referenced.column()),
            message: format!("{f} cannot be represented in JSON, so Kubernetes cannot store it"),
        })?),
        Node::Str(s) => Value::String(s),
        Node::Seq(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let line = to_usize(item.referenced.line());
                    to_json(item, &format!("{path}[{i}]"), line, lines)
                })
                .collect::<Result<_, _>>()?,
        ),
        Node::Map(entries) => {
            let mut map = Map::new();
            for (key, item) in entries {
                let child = if path.is_empty() {
                    key.value.clone()
                } else {
                    format!("{path}.{}", key.value)
                };
                let line = to_usize(key.referenced.line());
                map.insert(key.value, to_json(item, &child, line, lines)?);
            }
            Value::Object(map)
        }
    })
}

/// A YAML node whose children carry their source location.
#[derive(Debug)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::UInt(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        i64::try_from(v)
            .map(Node::Int)
            .map_err(|_| E::custom(format!("{v} does not fit in 64 bits")))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        u64::try_from(v)
            .map(Node::UInt)
            .map_err(|_| E::custom(format!("{v} does not fit in 64 bits")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<Node>>()?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_the_line_of_every_field() {
        let text = "\
apiVersion: v1
kind: A
spec:
  containers:
  - name: app
    port: 8080
---
---
kind: B
";
        let docs = parse(text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].line_of("spec.containers[0].port"), 6);
        assert_eq!(docs[0].line_of("spec.containers[0].image"), 5);
        assert_eq!(docs[0].line_of("spec.missing.deeper"), 3);
        assert_eq!(docs[1].index, 2);
        assert_eq!(docs[1].value["kind"], "B");
    }

    #[test]
    fn map_keys_resolve_whichever_way_they_are_spelt() {
        let docs = parse("spec:\n  annotations:\n    a.b/c: x\n").unwrap();
        assert_eq!(docs[0].line_of("spec.annotations[a.b/c]"), 3);
    }

    #[test]
    fn syntax_errors_carry_a_line_number() {
        let err = parse("a: b\nc: [1, 2\nd: e\n").unwrap_err();
        assert!(err.line >= 2, "{err:?}");
        let err = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.line, 2, "{err:?}");
    }

    /// Found by fuzzing (docs/reliability.md): YAML counts a lone `\r` as a line break, as
    /// kubectl's parser does, so a file with old Mac line endings gets the lines an editor
    /// shows, not those of `str::lines`.
    #[test]
    fn a_lone_carriage_return_is_a_line_break() {
        let docs = parse("# note\rkind: A\r\nspec:\r  port: 8080\n").unwrap();
        assert_eq!(docs[0].line_of("kind"), 2);
        assert_eq!(docs[0].line_of("spec.port"), 4);
        let err = parse("a: b\r\r\rc: [1\r").unwrap_err();
        assert!(err.line >= 4, "{err:?}");
    }

    #[test]
    fn scalars_become_json_types() {
        let docs = parse("a: 1\nb: 0.5\nc: \"1\"\nd: true\ne: null\nf: -3\n").unwrap();
        let v = &docs[0].value;
        assert!(v["a"].is_u64() || v["a"].is_i64());
        assert!(v["b"].is_f64());
        assert!(v["c"].is_string());
        assert!(v["d"].is_boolean());
        assert!(v["e"].is_null());
        assert_eq!(v["f"], -3);
    }
}
