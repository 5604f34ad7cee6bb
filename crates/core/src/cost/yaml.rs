//! A price table's YAML read into JSON values with the line of every section, entry and field
//! (`fargate`, `fargate[0]`, `fargate[0].vcpuHour`), so that a problem names where it is.

use std::collections::BTreeMap;

use crate::yaml::Node;
use serde_json::{Map, Number, Value};
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Budget, DuplicateKeyPolicy, Options, Spanned};

/// Text that is not YAML, where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SyntaxError {
    /// Line, from 1 (0 when unknown).
    pub line: usize,
    /// Column, from 1 (0 when unknown).
    pub column: usize,
    /// What is wrong, in words (the parser's, without its own position).
    pub message: String,
}

/// The document of `text` as JSON and the line of each path in it; `Value::Null` for an empty
/// document.
pub(super) fn parse(text: &str) -> Result<(Value, BTreeMap<String, usize>), SyntaxError> {
    // A key given twice would otherwise keep one of the two figures silently. The default
    // budget stops alias bombs and deep nesting.
    let mut options = Options::default();
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    options.with_snippet = false;
    let budget = options.budget.clone().unwrap_or_default();
    let root: Option<Spanned<Node>> =
        serde_saphyr::from_str_with_options(text, options).map_err(|e| {
            let (line, column) = e
                .location()
                .map_or((0, 0), |l| (to_usize(l.line()), to_usize(l.column())));
            SyntaxError {
                line,
                column,
                message: words(&e, &budget),
            }
        })?;
    let mut lines = BTreeMap::new();
    let value = match root {
        Some(root) => {
            let line = to_usize(root.referenced.line());
            to_json(root, "", line, &mut lines)
        }
        None => Value::Null,
    };
    Ok((value, lines))
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The parser's error in a user's words: its limits named with their numbers (not its own type
/// names), a key twice without its configuration advice, and without its own position (the
/// caller says where).
fn words(error: &serde_saphyr::Error, budget: &Budget) -> String {
    let mut error = error;
    // An error met through an alias, or with a snippet, is the error inside.
    while let serde_saphyr::Error::AliasError { error: inner, .. }
    | serde_saphyr::Error::WithSnippet { error: inner, .. } = error
    {
        error = inner;
    }
    let bomb = "which no price table needs (an alias bomb looks like this), so ferry stops reading";
    match error {
        serde_saphyr::Error::NonFiniteFloat { value, .. } => {
            format!("{value} is not a finite number: a price or an amount is a number such as 0.04")
        }
        serde_saphyr::Error::DuplicateMappingKey { key, .. } => match key {
            Some(key) => format!("the key {key:?} appears twice in one mapping"),
            None => "a key appears twice in one mapping".to_owned(),
        },
        serde_saphyr::Error::Budget { breach, .. } => match breach {
            BudgetBreach::Nodes { .. } => format!(
                "the table holds more than {} values once its aliases (*name) are expanded, \
                 {bomb}",
                budget.max_nodes
            ),
            BudgetBreach::Aliases { .. } | BudgetBreach::AliasAnchorRatio { .. } => {
                format!("the table uses too many aliases (*name), {bomb}")
            }
            BudgetBreach::Depth { .. } => format!(
                "mappings and lists are nested more than {} levels deep here; a price table \
                 needs three",
                budget.max_depth
            ),
            _ => format!("the table is too large or too complex to read, {bomb}"),
        },
        other => plain(&other.to_string()),
    }
}

/// Any other parser message: its first line, without its position.
fn plain(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message).trim();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    // "line 2 column 43: ..." leads some messages; the caller says where.
    let line = match line.split_once(": ") {
        Some((at, rest)) if at.starts_with("line ") && at.contains(" column ") => rest,
        _ => line,
    };
    line.rfind(" at line ")
        .map_or(line, |cut| &line[..cut])
        .to_owned()
}

/// `line` is where the node is written: its key's line for a mapping entry, the item's own
/// line in a sequence.
fn to_json(
    node: Spanned<Node>,
    path: &str,
    line: usize,
    lines: &mut BTreeMap<String, usize>,
) -> Value {
    lines.insert(path.to_owned(), line);
    match node.value {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(b),
        Node::Int(i) => Value::Number(i.into()),
        Node::UInt(u) => Value::Number(u.into()),
        // The parser refuses non-finite floats; JSON cannot hold them either.
        Node::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        Node::Str(s) => Value::String(s),
        Node::Seq(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let line = to_usize(item.referenced.line());
                    to_json(item, &format!("{path}[{i}]"), line, lines)
                })
                .collect(),
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
                map.insert(key.value, to_json(item, &child, line, lines));
            }
            Value::Object(map)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_entry_and_field_keeps_its_line() {
        let text = "\
# a comment
knative:
- region: a
  vcpuHour: 0.03
- {region: b, gbHour: 0.004}
";
        let (value, lines) = parse(text).unwrap();
        assert_eq!(value["knative"][1]["region"], "b");
        assert_eq!(lines["knative"], 2);
        assert_eq!(lines["knative[0]"], 3);
        assert_eq!(lines["knative[0].vcpuHour"], 4);
        assert_eq!(lines["knative[1].gbHour"], 5);
    }

    #[test]
    fn a_non_finite_number_or_a_key_twice_is_refused_where_it_is_in_plain_words() {
        let e = parse("knative:\n- {vcpuHour: .inf}\n").unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
        assert!(
            e.message.starts_with(".inf is not a finite number"),
            "{e:?}"
        );
        let e = parse("knative:\n- {region: a, region: b}\n").unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
        assert_eq!(e.message, "the key \"region\" appears twice in one mapping");
        assert_eq!(parse("").unwrap().0, Value::Null);
        // An alias bomb: its limit, in words, whole.
        let levels: Vec<String> = (1..10)
            .map(|i| {
                let refs = vec![format!("*a{}", i - 1); 10].join(", ");
                format!("a{i}: &a{i} [{refs}]\n")
            })
            .collect();
        let bomb = format!(
            "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n{}",
            levels.concat()
        );
        let e = parse(&bomb).unwrap_err();
        assert!(e.message.starts_with("the table holds more than "), "{e:?}");
        assert!(e.message.ends_with("so ferry stops reading"), "{e:?}");
    }
}
