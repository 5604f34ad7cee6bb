//! The bad-input corpus (issue 22): what a careless or hostile user feeds `ferry validate`,
//! `render` and `cost`, each case with the exit code and the words the output must hold. The
//! cases are data, in `tests/fixtures/bad-input/*.yaml` (a list of cases per file); each runs
//! the real binary in a temporary directory of its own, with a time limit, so a hang is a
//! failure rather than a stuck suite.
//!
//! A case:
//!
//! ```yaml
//! - name: what it tries                  # unique
//!   args: [validate, -f, "{dir}/a.yaml"] # after `ferry`; {dir} is the case's directory
//!   files: {a.yaml: "kind: ..."}         # written into {dir} first (optional)
//!   sparse: {big.yaml: 209715200}        # files of that many zero bytes, sparse (optional)
//!   fifos: [pipe.yaml]                   # named pipes made in {dir} (optional)
//!   stdin: "text"                        # standard input (optional; else empty)
//!   stdin_file: /dev/zero                # or a file as standard input
//!   exit: 1
//!   says: ["fragment", ...]              # each in standard output or error
//!   never: ["fragment", ...]             # none of these anywhere (optional)
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// Longer than any honest refusal takes on a slow machine; a case past it hung.
const TIME_LIMIT: Duration = Duration::from_secs(60);
/// The issue asks for at least this many.
const AT_LEAST: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    args: Vec<String>,
    #[serde(default)]
    files: BTreeMap<String, String>,
    #[serde(default)]
    sparse: BTreeMap<String, u64>,
    #[serde(default)]
    fifos: Vec<String>,
    #[serde(default)]
    stdin: Option<String>,
    #[serde(default)]
    stdin_file: Option<PathBuf>,
    exit: i32,
    says: Vec<String>,
    #[serde(default)]
    never: Vec<String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus() -> Vec<(String, Case)> {
    let dir = root().join("tests/fixtures/bad-input");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let list: Vec<Case> =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let origin = file.file_name().unwrap().to_string_lossy().into_owned();
        cases.extend(list.into_iter().map(|c| (origin.clone(), c)));
    }
    cases
}

/// Runs `case`; what went wrong, if anything.
fn run(case: &Case) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in &case.files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    for (name, size) in &case.sparse {
        std::fs::File::create(dir.path().join(name))
            .unwrap()
            .set_len(*size)
            .unwrap();
    }
    for name in &case.fifos {
        let made = Command::new("mkfifo")
            .arg(dir.path().join(name))
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo {name}");
    }
    let place = dir.path().display().to_string();
    let args: Vec<String> = case
        .args
        .iter()
        .map(|a| a.replace("{dir}", &place))
        .collect();
    let stdin = match &case.stdin_file {
        Some(path) => Stdio::from(std::fs::File::open(path).unwrap()),
        None => Stdio::piped(),
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(&args)
        .current_dir(root())
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(mut input) = child.stdin.take() {
        let text = case.stdin.clone().unwrap_or_default();
        // The binary may stop reading early (a bound, a refusal): a broken pipe is fine.
        std::thread::spawn(move || {
            let _ = input.write_all(text.as_bytes());
        });
    }
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > TIME_LIMIT {
            child.kill().unwrap();
            let _ = child.wait();
            return Some(format!("still running after {TIME_LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut wrong = Vec::new();
    if out.status.code() != Some(case.exit) {
        wrong.push(format!("exit {:?}, want {}", out.status.code(), case.exit));
    }
    for words in &case.says {
        if !text.contains(words.as_str()) {
            wrong.push(format!("does not say {words:?}"));
        }
    }
    for words in &case.never {
        if text.contains(words.as_str()) {
            wrong.push(format!("says {words:?}"));
        }
    }
    (!wrong.is_empty()).then(|| format!("{}\n--- output ---\n{text}", wrong.join("; ")))
}

#[test]
fn every_bad_input_is_refused_as_the_corpus_says() {
    let cases = corpus();
    let names: BTreeSet<&str> = cases.iter().map(|(_, c)| c.name.as_str()).collect();
    assert_eq!(names.len(), cases.len(), "case names must be unique");
    let mut failures = Vec::new();
    for (file, case) in &cases {
        assert!(!case.says.is_empty(), "{file}: {}: says nothing", case.name);
        if let Some(why) = run(case) {
            failures.push(format!("{file}: {}: {why}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    assert!(
        cases.len() >= AT_LEAST,
        "the corpus has {} cases; the issue asks for at least {AT_LEAST}",
        cases.len()
    );
}
