//! YAML manifests as kubectl reads them: one or more documents, each turned into JSON, with the
//! line of every field kept so messages can point at it, how every number was written (so a
//! message can quote it), and a List's items read as documents of their own.

use std::collections::{BTreeMap, VecDeque};

use ferry_core::yaml::Node;
use serde_json::{Map, Number, Value};
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Budget, DuplicateKeyPolicy, Location, Options, Spanned};

/// One YAML document, or one item of a List document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Position among the file's non-empty documents, from 1 (a List's items share theirs).
    pub index: usize,
    /// The document as JSON.
    pub value: Value,
    /// Where it starts.
    pub line: usize,
    /// Where in a List document this item is; `None` for a document of its own.
    pub item: Option<Item>,
    lines: BTreeMap<String, usize>,
    written: BTreeMap<String, String>,
}

/// An item of a List document, as kubectl applies it: an object of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Its path in the List document: `items[0]`, or `items[1].items[0]` in a List of Lists.
    pub path: String,
    /// The line where the List document starts.
    pub list_line: usize,
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

    /// How the number or boolean at `field` is written in the file (`1e20`, `0.50`, `True`):
    /// messages quote what the user wrote, not its JSON form.
    pub fn written(&self, field: &str) -> Option<&str> {
        self.written.get(&normalise(field)).map(String::as_str)
    }

    /// Where the item is, for messages: `items[0] of the List at line 3`; `None` for a
    /// document of its own.
    pub fn position(&self) -> Option<String> {
        self.item
            .as_ref()
            .map(|i| format!("{} of the List at line {}", i.path, i.list_line))
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

/// The parser's options: kubectl refuses duplicate keys too; snippets would repeat the file in
/// every message. Its default budget stops alias bombs, deep nesting and document storms.
fn options() -> Options {
    let mut options = Options::default();
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    options.with_snippet = false;
    options
}

/// Parses every document of a YAML stream; empty documents are skipped, and a List document
/// is replaced by its items (see [`flatten`]).
pub fn parse(text: &str) -> Result<Vec<Document>, SyntaxError> {
    let options = options();
    let budget = options.budget.clone().unwrap_or_default();
    let docs: Vec<Spanned<Node>> = serde_saphyr::from_multiple_with_options(text, options)
        .map_err(|e| syntax_error(&e, &budget))?;
    let mut out = Vec::new();
    let mut index = 0;
    for doc in docs {
        if matches!(doc.value, Node::Null) {
            continue;
        }
        index += 1;
        let line = to_usize(doc.referenced.line());
        let mut found = Found {
            text,
            lines: BTreeMap::new(),
            written: BTreeMap::new(),
        };
        let value = to_json(doc, "", line, &mut found)?;
        flatten(
            Document {
                index,
                value,
                line,
                item: None,
                lines: found.lines,
                written: found.written,
            },
            &mut out,
        );
    }
    Ok(out)
}

/// Whether kubectl reads `value` as a List: any object with an `items` key, whatever its kind
/// (`unstructuredJSONScheme.decode` in k8s.io/apimachinery `unstructured/helpers.go` decodes a
/// document whose `items` is present, even `null`, as an `UnstructuredList`).
pub fn is_list(value: &Value) -> bool {
    value.get("items").is_some()
}

/// Adds `doc` to `out`, or, when it is a List, its items as kubectl applies them: each an
/// object of its own, Lists within it flattened breadth first (cli-runtime's
/// `FlattenListVisitor`), an item with neither `kind` nor `apiVersion` taking the List's
/// `apiVersion` and its kind without the `List` suffix (`decodeToList` in apimachinery). A List
/// whose `items` is not a list of objects, or is empty, stays as it is, for validation to report.
fn flatten(doc: Document, out: &mut Vec<Document>) {
    if !has_items(&doc.value) {
        out.push(doc);
        return;
    }
    let Document {
        index,
        value,
        line: list_line,
        lines,
        written,
        ..
    } = doc;
    let mut lists = VecDeque::from([(value, String::new())]);
    while let Some((list, path)) = lists.pop_front() {
        let Value::Object(mut list) = list else {
            continue;
        };
        let kind = list.get("kind").and_then(Value::as_str).unwrap_or_default();
        let item_kind = kind.strip_suffix("List").unwrap_or(kind).to_owned();
        let api_version = list.get("apiVersion").cloned();
        let Some(Value::Array(items)) = list.remove("items") else {
            continue;
        };
        for (i, mut item) in items.into_iter().enumerate() {
            let item_path = if path.is_empty() {
                format!("items[{i}]")
            } else {
                format!("{path}.items[{i}]")
            };
            if let Value::Object(fields) = &mut item
                && !fields.contains_key("kind")
                && !fields.contains_key("apiVersion")
            {
                fields.insert("kind".to_owned(), Value::String(item_kind.clone()));
                if let Some(v) = &api_version {
                    fields.insert("apiVersion".to_owned(), v.clone());
                }
            }
            if has_items(&item) {
                lists.push_back((item, item_path));
                continue;
            }
            out.push(Document {
                index,
                line: lines.get(&item_path).copied().unwrap_or(list_line),
                value: item,
                lines: under(&lines, &item_path),
                written: under(&written, &item_path),
                item: Some(Item {
                    path: item_path,
                    list_line,
                }),
            });
        }
    }
}

/// Whether `value` is a List with items to apply.
fn has_items(value: &Value) -> bool {
    value
        .get("items")
        .and_then(Value::as_array)
        .is_some_and(|items| !items.is_empty())
}

/// The entries of `map` under `prefix` (`items[0]`), keyed from there.
fn under<T: Clone>(map: &BTreeMap<String, T>, prefix: &str) -> BTreeMap<String, T> {
    map.range(prefix.to_owned()..)
        .take_while(|(k, _)| k.starts_with(prefix))
        .filter_map(|(k, v)| {
            let rest = &k[prefix.len()..];
            let rest = rest.strip_prefix('.').unwrap_or(rest);
            (k.len() == prefix.len() || k[prefix.len()..].starts_with(['.', '[']))
                .then(|| (rest.to_owned(), v.clone()))
        })
        .collect()
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// What the parser says, in words a person acts on: its limits named with their numbers (not
/// its own type names), a duplicate key without the parser's configuration advice, and its
/// position words taken out (the caller reports the line and column).
fn syntax_error(error: &serde_saphyr::Error, budget: &Budget) -> SyntaxError {
    let (line, column) = error
        .location()
        .map_or((0, 0), |l| (to_usize(l.line()), to_usize(l.column())));
    let (inner, defined) = unwrap_alias(error);
    let message = match inner {
        serde_saphyr::Error::Budget { breach, .. } => breach_words(breach, budget),
        serde_saphyr::Error::DuplicateMappingKey { key, .. } => match key {
            Some(key) => {
                format!("the key {key:?} appears twice in one mapping; kubectl refuses that too")
            }
            None => "a key appears twice in one mapping; kubectl refuses that too".to_owned(),
        },
        serde_saphyr::Error::NonFiniteFloat { value, .. } => format!(
            "{value} is not a number Kubernetes can store (JSON has no infinity or NaN); write \
             a finite number, or quote it to make it a string"
        ),
        serde_saphyr::Error::UnknownAnchor { .. } => {
            "an alias (*name) names an anchor (&name) that is not defined before it".to_owned()
        }
        other => without_positions(&other.to_string()),
    };
    let message = match defined {
        Some(at) if at != (line, column) && at.0 > 0 => format!(
            "{message} (through the alias here, whose anchor is at line {}, column {})",
            at.0, at.1
        ),
        _ => message,
    };
    SyntaxError {
        line,
        column,
        message,
    }
}

/// The parser's own error under its alias wrappers, and where the anchor of the alias that
/// led to it is defined.
fn unwrap_alias(mut error: &serde_saphyr::Error) -> (&serde_saphyr::Error, Option<(usize, usize)>) {
    let mut defined = None;
    loop {
        match error {
            serde_saphyr::Error::AliasError {
                error: inner,
                locations,
                ..
            } => {
                let at: Location = locations.defined_location;
                defined.get_or_insert((to_usize(at.line()), to_usize(at.column())));
                error = inner;
            }
            serde_saphyr::Error::WithSnippet { error: inner, .. } => error = inner,
            _ => return (error, defined),
        }
    }
}

/// A budget breach as the limit that was passed, and why such a file is refused.
fn breach_words(breach: &BudgetBreach, budget: &Budget) -> String {
    let bomb = "which no manifest needs: this is how an alias bomb (\"billion laughs\") looks, so \
                ferry stops reading";
    match breach {
        BudgetBreach::Nodes { .. } => format!(
            "the file holds more than {} values (mappings, lists and scalars) once its aliases \
             (*name) are expanded, {bomb}",
            budget.max_nodes
        ),
        BudgetBreach::Aliases { .. } => format!(
            "the file uses more than {} aliases (*name), {bomb}",
            budget.max_aliases
        ),
        BudgetBreach::AliasAnchorRatio { aliases, anchors } => format!(
            "the file uses {aliases} aliases (*name) of only {anchors} anchors (&name), {bomb}"
        ),
        BudgetBreach::Anchors { .. } => format!(
            "the file defines more than {} anchors (&name); no manifest needs as many",
            budget.max_anchors
        ),
        BudgetBreach::Depth { .. } => format!(
            "mappings and lists are nested more than {} levels deep here; no manifest needs as \
             many",
            budget.max_depth
        ),
        BudgetBreach::Documents { .. } => format!(
            "the file holds more than {} documents (separated by ---); split it",
            budget.max_documents
        ),
        BudgetBreach::ScalarBytes { .. } => format!(
            "the file's values hold more than {} bytes of text in all; no manifest needs as many",
            budget.max_total_scalar_bytes
        ),
        BudgetBreach::MergeKeys { .. } => format!(
            "the file uses more than {} merge keys (<<); no manifest needs as many",
            budget.max_merge_keys
        ),
        BudgetBreach::Events { .. } | BudgetBreach::RecordedAnchorEvents { .. } => {
            format!(
                "the file is too large or too complex to read once its aliases are expanded, {bomb}"
            )
        }
        _ => "the file is too large or too complex to read as a manifest".to_owned(),
    }
}

/// `message` without the parser's own " at line L, column C", which the caller reports as
/// `file:line:column`; positions after it (an alias error's "defined at ...") are kept whole.
fn without_positions(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message).trim();
    let mut from = 0;
    while let Some(found) = first[from..].find(" at line ") {
        let at = from + found;
        let tail = &first[at + " at line ".len()..];
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        if let Some(column) = tail[digits..].strip_prefix(", column ")
            && digits > 0
        {
            let column_digits = column.bytes().take_while(u8::is_ascii_digit).count();
            return format!("{}{}", &first[..at], &column[column_digits..]);
        }
        from = at + 1;
    }
    first.to_owned()
}

/// What [`to_json`] gathers besides the value.
struct Found<'a> {
    text: &'a str,
    lines: BTreeMap<String, usize>,
    written: BTreeMap<String, String>,
}

/// The largest integer a JSON number holds exactly (2^53 - 1): the API server takes a number
/// with no fraction up to it as an integer (`IsFloat64AJSONInteger` in go-openapi/swag).
const MAX_EXACT: f64 = 9_007_199_254_740_991.0;

/// `line` is where the field is written: its key's line for a mapping entry (a block value
/// starts on the next line), the item's own line in a sequence.
fn to_json(
    node: Spanned<Node>,
    path: &str,
    line: usize,
    found: &mut Found<'_>,
) -> Result<Value, SyntaxError> {
    found.lines.insert(path.to_owned(), line);
    if matches!(
        node.value,
        Node::Int(_) | Node::UInt(_) | Node::Float(_) | Node::Bool(_)
    ) {
        let span = node.defined.span();
        let written = span
            .byte_offset()
            .zip(span.byte_len())
            .and_then(|(at, len)| {
                let at = usize::try_from(at).ok()?;
                found
                    .text
                    .get(at..at.checked_add(usize::try_from(len).ok()?)?)
            });
        if let Some(written) = written {
            found.written.insert(path.to_owned(), written.to_owned());
        }
    }
    Ok(match node.value {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(b),
        Node::Int(i) => Value::Number(i.into()),
        Node::UInt(u) => Value::Number(u.into()),
        // A whole number written with a fraction or an exponent (`8080.0`, `1e3`) is the
        // integer the API server stores (Go's JSON decoder reads it as a float, and the API
        // server writes it back without the fraction), so read it as one.
        #[allow(clippy::cast_possible_truncation)] // whole and within 2^53: exact
        Node::Float(f) if f.fract() == 0.0 && f.abs() <= MAX_EXACT => {
            Value::Number((f as i64).into())
        }
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
                    to_json(item, &format!("{path}[{i}]"), line, found)
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
                map.insert(key.value, to_json(item, &child, line, found)?);
            }
            Value::Object(map)
        }
    })
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

    #[test]
    fn numbers_keep_how_they_were_written() {
        let docs = parse("a: 1e20\nb: [0.50, 8080]\nc: \"7\"\n").unwrap();
        assert_eq!(docs[0].written("a"), Some("1e20"));
        assert_eq!(docs[0].written("b[0]"), Some("0.50"));
        assert_eq!(docs[0].written("b[1]"), Some("8080"));
        assert_eq!(docs[0].written("c"), None);
    }

    /// The API server reads `8080.0` as the integer 8080 (and stores it so); past 2^53 a
    /// number is no longer an integer to it.
    #[test]
    fn whole_numbers_with_a_fraction_are_integers_as_the_api_server_stores_them() {
        let docs = parse("a: 8080.0\nb: 1e3\nc: 1e20\nd: 0.5\n").unwrap();
        let v = &docs[0].value;
        assert_eq!(v["a"], 8080);
        assert!(v["a"].is_i64());
        assert_eq!(v["b"], 1000);
        assert!(v["c"].is_f64());
        assert!(v["d"].is_f64());
    }

    #[test]
    fn a_list_becomes_its_items_with_their_own_lines() {
        let text = "\
kind: Other
---
apiVersion: v1
kind: List
items:
- apiVersion: ferry.dev/v1alpha1
  kind: ServerlessService
  metadata: {name: a}
- kind: ConfigMap
  apiVersion: v1
  data:
    k: v
";
        let docs = parse(text).unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[1].index, 2);
        assert_eq!(docs[1].line, 6);
        assert_eq!(docs[1].value["metadata"]["name"], "a");
        assert_eq!(docs[1].line_of("metadata.name"), 8);
        assert_eq!(
            docs[1].position().unwrap(),
            "items[0] of the List at line 3"
        );
        assert_eq!(docs[2].line_of("data.k"), 12);
        assert_eq!(docs[2].index, 2);
    }

    /// apimachinery's `decodeToList`: an item with neither kind nor apiVersion takes the
    /// List's; kubectl flattens Lists in Lists breadth first.
    #[test]
    fn typed_lists_give_their_items_a_kind_and_nested_lists_are_flattened() {
        let text = "\
apiVersion: ferry.dev/v1alpha1
kind: ServerlessServiceList
items:
- metadata: {name: a}
- kind: List
  apiVersion: v1
  items:
  - {kind: ConfigMap, apiVersion: v1, metadata: {name: c}}
- metadata: {name: b}
  kind: ProviderConfig
";
        let docs = parse(text).unwrap();
        let names: Vec<&str> = docs
            .iter()
            .map(|d| d.value["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(docs[0].value["kind"], "ServerlessService");
        assert_eq!(docs[0].value["apiVersion"], "ferry.dev/v1alpha1");
        assert_eq!(docs[1].value["kind"], "ProviderConfig");
        assert!(docs[1].value.get("apiVersion").is_none());
        assert_eq!(docs[2].item.as_ref().unwrap().path, "items[1].items[0]");
        assert_eq!(docs[2].line, 8);
    }

    #[test]
    fn an_empty_or_malformed_list_stays_a_document() {
        let docs = parse("kind: List\nitems: []\n---\nkind: List\nitems: 5\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert!(is_list(&docs[0].value) && is_list(&docs[1].value));
    }

    #[test]
    fn the_alias_bomb_message_is_whole_and_names_the_limit() {
        use std::fmt::Write as _;
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for (prev, next) in ["a", "b", "c", "d", "e", "f", "g"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h"])
        {
            let refs = vec![format!("*{prev}"); 9].join(", ");
            writeln!(text, "{next}: &{next} [{refs}]").unwrap();
        }
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("more than 250000 values"), "{err:?}");
        assert!(err.message.contains("alias bomb"), "{err:?}");
        assert!(!err.message.contains("Nodes {"), "{err:?}");
        assert!(!err.message.ends_with("(used"), "{err:?}");
        assert!(err.line > 1, "{err:?}");
    }

    #[test]
    fn parser_limits_and_duplicate_keys_read_as_words() {
        let deep = format!("a: {}{}\n", "[".repeat(100), "]".repeat(100));
        let err = parse(&deep).unwrap_err();
        assert!(err.message.contains("more than 64 levels deep"), "{err:?}");
        let err = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(
            err.message,
            "the key \"a\" appears twice in one mapping; kubectl refuses that too"
        );
        let err = parse("a: .inf\n").unwrap_err();
        assert!(err.message.starts_with(".inf is not a number"), "{err:?}");
    }

    #[test]
    fn positions_are_taken_out_of_parser_messages_but_nothing_else() {
        assert_eq!(
            without_positions("bad thing at line 3, column 4 (defined at line 1, column 2)"),
            "bad thing (defined at line 1, column 2)"
        );
        assert_eq!(
            without_positions("look at line noise"),
            "look at line noise"
        );
    }
}
