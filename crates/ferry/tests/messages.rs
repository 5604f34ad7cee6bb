//! What `ferry validate` and `render` say of bad input (issue 22): a List's items checked as
//! kubectl applies them, the checks across files the operator makes, control characters
//! escaped, and messages that name the file, line and field in the user's words, quote the
//! value as written and never leak a Rust type name or an internal error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::process::Command;

use ferry::validate::{render_text, validate_text};

fn registry() -> &'static ferry_provider::backend::Registry {
    ferry::backends::registry().unwrap()
}

/// `validate`'s text for `text` (as `file.yaml`), and whether it found an error.
fn validate(text: &str) -> (String, bool) {
    let report = validate_text("file.yaml", text, registry().catalog());
    (render_text(&report), report.has_errors())
}

/// `render`'s output for `text` alone: the rendering, or what stops it.
fn render(text: &str) -> Result<String, String> {
    let configs = ferry::render::provider_configs(std::iter::once(text));
    ferry::render::provider_objects("file.yaml", text, &configs, registry())
}

/// Runs the binary on `files` (written into a temporary directory first, in order) with
/// `args` before them; its exit code and everything it printed.
fn ferry(args: &[&str], files: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
    command.args(args);
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        command.arg("-f").arg(&path);
    }
    let out = command.current_dir(dir.path()).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .replace(&format!("{}/", dir.path().display()), "");
    (out.status.code(), text)
}

const SERVICE: &str = "\
apiVersion: ferry.dev/v1alpha1
kind: ServerlessService
metadata: {name: hello, namespace: shop}
spec:
  provider: knative
  containers:
  - name: app
    image: ghcr.io/acme/hello:1.4.2
    port: 8080
";

/// A Fargate service in `shop` naming ProviderConfig aws-prod.
const FARGATE: &str = "\
apiVersion: ferry.dev/v1alpha1
kind: ServerlessService
metadata: {name: hello, namespace: shop}
spec:
  provider: fargate
  providerConfigRef: {name: aws-prod}
  containers:
  - name: app
    image: ghcr.io/acme/hello:1.4.2
    port: 8080
";

/// ProviderConfig aws-prod, for `payments` only.
const CONFIG: &str = "\
apiVersion: ferry.dev/v1alpha1
kind: ProviderConfig
metadata: {name: aws-prod}
spec:
  fargate:
    region: us-east-1
    cluster: prod
    defaults: {subnets: [subnet-0a1b2c3d4e5f60718], securityGroups: [sg-0123456789abcdef0]}
  allowedNamespaces: [payments]
";

/// `text` as the only item of a v1 List, indented.
fn in_a_list(text: &str) -> String {
    let mut out = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for (i, line) in text.lines().enumerate() {
        out.push_str(if i == 0 { "- " } else { "  " });
        out.push_str(line);
        out.push('\n');
    }
    out
}

// ---- kind: List --------------------------------------------------------------------------

#[test]
fn an_invalid_service_inside_a_list_fails_and_is_reported_at_its_item() {
    let text = in_a_list(&SERVICE.replace("port: 8080", "port: 99999"));
    let (said, failed) = validate(&text);
    assert!(failed, "{said}");
    assert!(
        said.contains(
            "file.yaml:12: error: ServerlessService shop/hello (items[0] of the List at line 1): \
             spec.containers[0].port: Invalid value: 99999"
        ),
        "{said}"
    );
    assert!(!said.contains("skipped"), "{said}");
    assert!(render(&text).is_err());
}

#[test]
fn a_valid_list_is_validated_and_rendered_item_by_item() {
    let text = format!(
        "{}---\n{}",
        in_a_list(SERVICE),
        in_a_list(&SERVICE.replace("name: hello", "name: world"))
    );
    let (said, failed) = validate(&text);
    assert!(!failed, "{said}");
    assert_eq!(said.matches(": valid").count(), 2, "{said}");
    let rendered = render(&text).unwrap();
    assert!(
        rendered.contains("name: hello") && rendered.contains("name: world"),
        "{rendered}"
    );
}

/// apimachinery's `decodeToList`: an item with neither kind nor apiVersion is of the List's
/// kind without `List`, in its apiVersion.
#[test]
fn a_typed_list_gives_its_items_their_kind() {
    let text = "\
apiVersion: ferry.dev/v1alpha1
kind: ServerlessServiceList
items:
- metadata: {name: hello, namespace: shop}
  spec:
    provider: fargate
    concurrency: 10
    containers: [{name: app, image: x, port: 8080}]
";
    let (said, failed) = validate(text);
    assert!(failed, "{said}");
    assert!(
        said.contains("ServerlessService shop/hello (items[0] of the List at line 1)")
            && said.contains("Fargate does not support spec.concurrency"),
        "{said}"
    );
}

#[test]
fn an_empty_list_checks_nothing_and_a_list_of_non_objects_is_refused() {
    let (said, failed) = validate("apiVersion: v1\nkind: List\nitems: []\n");
    assert!(!failed, "{said}");
    assert!(said.contains("the List has no items"), "{said}");
    let (code, said) = ferry(
        &["validate"],
        &[("a.yaml", "apiVersion: v1\nkind: List\nitems: []\n")],
    );
    assert_eq!(code, Some(1), "nothing was checked:\n{said}");
    let (said, failed) = validate("apiVersion: v1\nkind: List\nitems: hello\n");
    assert!(failed, "{said}");
    assert!(said.contains("items: Invalid value: a string"), "{said}");
}

// ---- Across files ----------------------------------------------------------------------------

#[test]
fn a_provider_config_that_does_not_allow_the_namespace_refuses_the_service_in_either_order() {
    for files in [
        [("svc.yaml", FARGATE), ("pc.yaml", CONFIG)],
        [("pc.yaml", CONFIG), ("svc.yaml", FARGATE)],
    ] {
        let (code, said) = ferry(&["validate"], &files);
        assert_eq!(code, Some(1), "{said}");
        assert!(
            said.contains(
                "svc.yaml:6: error: ServerlessService shop/hello: spec.providerConfigRef: \
                 ProviderConfig aws-prod does not allow namespace shop"
            ) && said.contains("ProviderConfigNotAllowed"),
            "{said}"
        );
        assert!(!said.contains("shop/hello: valid"), "{said}");
        let (code, said) = ferry(&["render"], &files);
        assert_eq!(code, Some(1), "{said}");
        assert!(said.contains("does not allow namespace shop"), "{said}");
        assert!(!said.contains("registerTaskDefinition"), "{said}");
    }
    // Allowed, it renders.
    let allowed = CONFIG.replace("[payments]", "[payments, shop]");
    let (code, said) = ferry(&["render"], &[("svc.yaml", FARGATE), ("pc.yaml", &allowed)]);
    assert_eq!(code, Some(0), "{said}");
}

#[test]
fn what_only_the_cluster_knows_of_a_namespace_is_a_warning() {
    let unset = FARGATE.replace(", namespace: shop", "");
    let (code, said) = ferry(&["validate"], &[("svc.yaml", &unset), ("pc.yaml", CONFIG)]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("metadata.namespace is not set"), "{said}");
    let selector = CONFIG.replace(
        "allowedNamespaces: [payments]",
        "allowedNamespaces: [payments]\n  namespaceSelector: {matchLabels: {team: shop}}",
    );
    let (code, said) = ferry(
        &["validate"],
        &[("svc.yaml", FARGATE), ("pc.yaml", &selector)],
    );
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("spec.namespaceSelector"), "{said}");
}

#[test]
fn an_object_defined_again_names_where_it_was_first() {
    let (code, said) = ferry(
        &["validate"],
        &[
            ("a.yaml", SERVICE),
            (
                "b.yaml",
                &format!("kind: ConfigMap\napiVersion: v1\nmetadata: {{name: x}}\n---\n{SERVICE}"),
            ),
        ],
    );
    assert_eq!(
        code,
        Some(0),
        "a warning: kubectl apply takes both:\n{said}"
    );
    assert!(
        said.contains(
            "b.yaml:7: warning: ServerlessService shop/hello: metadata.name: ServerlessService \
             shop/hello is also defined at a.yaml:3"
        ),
        "{said}"
    );
    // Another namespace, kind or name is another object.
    let other = SERVICE.replace("namespace: shop", "namespace: payments");
    let (_, said) = ferry(&["validate"], &[("a.yaml", SERVICE), ("b.yaml", &other)]);
    assert!(!said.contains("also defined"), "{said}");
}

// ---- Control characters ----------------------------------------------------------------------

#[test]
fn control_characters_in_echoed_values_are_escaped() {
    let text = SERVICE.replace(
        "name: hello, namespace: shop",
        "name: \"ok\\r\\e[32mvalid\\e[0m\\u009b\\x7f\", namespace: shop",
    );
    let (said, failed) = validate(&text);
    assert!(failed, "{said}");
    assert!(
        said.contains("shop/ok\\r\\u{1b}[32mvalid\\u{1b}[0m\\u{9b}\\u{7f}"),
        "{said}"
    );
    assert!(
        !said.chars().any(|c| c.is_control() && c != '\n'),
        "raw control characters in {said:?}"
    );
    let (_, json) = ferry(&["validate", "-o", "json"], &[("a.yaml", &text)]);
    assert!(
        json.contains("\\u001b[32m") && json.contains("\\u009b"),
        "{json}"
    );
    assert!(
        !json.chars().any(|c| c.is_control() && c != '\n'),
        "{json:?}"
    );
}

// ---- Messages ----------------------------------------------------------------------------

/// What no message may say: a Rust type, a parser's internals.
const NEVER: [&str; 9] = [
    "i32",
    "i64",
    "u64",
    "f64",
    "Option<",
    "floating point",
    "invalid type:",
    "rule evaluation error",
    "No such key",
];

fn assert_plain(said: &str) {
    for word in NEVER {
        assert!(!said.contains(word), "says {word:?}:\n{said}");
    }
}

#[test]
fn a_number_too_large_for_its_field_names_the_field_its_line_and_the_range() {
    let job = "\
apiVersion: ferry.dev/v1alpha1
kind: ServerlessJob
metadata: {name: j, namespace: shop}
spec:
  provider: kubernetes
  taskCount: 100000000000000000000
  containers: [{name: app, image: x}]
";
    let (said, failed) = validate(job);
    assert!(failed);
    assert!(
        said.contains(
            "file.yaml:6: error: ServerlessJob shop/j: spec.taskCount: Invalid value: \
             100000000000000000000: must be a whole number from 1 to 10000"
        ),
        "{said}"
    );
    assert_plain(&said);
    for (written, line) in [("1e20", 5), ("3000000000", 5), ("-1e20", 5)] {
        let text = SERVICE.replace(
            "  provider: knative\n",
            &format!("  scaling: {{minInstances: {written}}}\n  provider: knative\n"),
        );
        let (said, failed) = validate(&text);
        assert!(failed, "{said}");
        assert!(
            said.contains(&format!(
                "file.yaml:{line}: error: ServerlessService shop/hello: spec.scaling.minInstances: \
                 Invalid value: {written}: must be a whole number from 0 to 2147483647"
            )),
            "{said}"
        );
        assert_plain(&said);
    }
}

#[test]
fn the_quoted_number_hint_suggests_exactly_what_was_written() {
    for written in ["0.10", "2.50", "0.1000000000000000055", "1.5e-1"] {
        let text = SERVICE.replace(
            "port: 8080",
            &format!("port: 8080\n    resources: {{cpu: {written}}}"),
        );
        let (said, failed) = validate(&text);
        assert!(failed, "{said}");
        assert!(
            said.contains(&format!("write it in quotes: \"{written}\"")),
            "{written}: {said}"
        );
    }
    // A whole number with a fraction is the integer the API server stores: accepted.
    let text = SERVICE.replace("port: 8080", "port: 8080.0\n    resources: {cpu: 1.0}");
    let (said, failed) = validate(&text);
    assert!(!failed, "{said}");
}

#[test]
fn a_name_written_as_a_number_must_be_a_string() {
    let text = SERVICE.replace("name: hello,", "name: 12345,");
    let (said, failed) = validate(&text);
    assert!(failed);
    assert!(
        said.contains("metadata.name: Invalid value: \"integer\": must be of type string; write it in quotes: \"12345\""),
        "{said}"
    );
    assert!(!said.contains("Required value"), "{said}");
    let text = SERVICE.replace("image: ghcr.io/acme/hello:1.4.2", "image: 1.50");
    let (said, _) = validate(&text);
    assert!(said.contains("write it in quotes: \"1.50\""), "{said}");
}

#[test]
fn the_alias_bomb_message_is_whole() {
    let mut text = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (prev, next) in ["a", "b", "c", "d", "e", "f", "g"]
        .into_iter()
        .zip(["b", "c", "d", "e", "f", "g", "h"])
    {
        let refs = vec![format!("*{prev}"); 9].join(", ");
        writeln!(text, "{next}: &{next} [{refs}]").unwrap();
    }
    let (said, failed) = validate(&text);
    assert!(failed);
    assert!(said.contains("not valid YAML"), "{said}");
    assert!(said.contains("alias bomb"), "{said}");
    assert!(said.contains("250000"), "{said}");
    assert!(!said.trim_end().ends_with("(used"), "{said}");
    assert!(!said.contains("Nodes {"), "{said}");
}

#[test]
fn generate_name_is_named_as_the_api_server_names_it() {
    let text = SERVICE.replace("name: hello,", "generateName: hello-,");
    let (said, failed) = validate(&text);
    assert!(!failed, "{said}");
    assert_plain(&said);
    assert!(said.contains("metadata.generateName"), "{said}");
    assert!(said.contains("kubectl create"), "{said}");
    // The rest is checked all the same.
    let bad = text.replace("port: 8080", "port: 99999");
    let (said, failed) = validate(&bad);
    assert!(failed && said.contains("spec.containers[0].port"), "{said}");
    // A prefix that cannot make a valid name is refused as the API server would refuse it.
    let upper = SERVICE.replace("name: hello,", "generateName: Hello-,");
    let (said, failed) = validate(&upper);
    assert!(failed && said.contains("DNS-1035"), "{said}");
    let err = render(&text).unwrap_err();
    assert!(err.contains("set metadata.name"), "{err}");
}

/// kubectl reads `namespace: null` (and `""`) as no namespace.
#[test]
fn a_null_namespace_is_unset() {
    for ns in ["null", "\"\"", "~"] {
        let text = SERVICE.replace("namespace: shop", &format!("namespace: {ns}"));
        let (said, failed) = validate(&text);
        assert!(!failed, "{ns}: {said}");
        assert!(said.contains("ServerlessService hello: valid"), "{said}");
        assert!(render(&text).is_ok());
    }
}

#[test]
fn documents_that_are_not_mappings_say_what_they_are() {
    let (said, failed) = validate("- a\n- b\n");
    assert!(failed);
    assert!(said.contains("this document is a list"), "{said}");
    let (said, failed) = validate("hello\n");
    assert!(failed);
    assert!(said.contains("this document is a string"), "{said}");
}

#[test]
fn parser_limits_and_duplicate_keys_are_said_in_words() {
    let (said, _) = validate(&format!("a: {}{}\n", "[".repeat(80), "]".repeat(80)));
    assert!(said.contains("nested more than 64 levels deep"), "{said}");
    assert!(!said.contains("Depth {"), "{said}");
    let (said, _) = validate("kind: A\nkind: B\n");
    assert!(said.contains("the key \"kind\" appears twice"), "{said}");
    assert!(!said.contains("DuplicateKeyPolicy"), "{said}");
    let (said, _) = validate(&"---\n".repeat(1100));
    assert!(!said.contains("Documents {"), "{said}");
}

#[test]
fn a_rule_on_the_whole_object_points_at_the_field_it_names() {
    let text = SERVICE.replace("name: hello,", "name: Hello,");
    let (said, _) = validate(&text);
    assert!(
        said.contains("file.yaml:3: error: ServerlessService shop/Hello: metadata.name must be"),
        "{said}"
    );
}
