//! Test support shared by the backends' builder tests: committed snapshot files that
//! `FERRY_BLESS=1` rewrites, and request checkers written in Python against a provider's own
//! definitions (botocore's service models, Google's protos).
//!
//! Everything here fails the calling test with a message saying what to do; nothing skips.

// Test support: a failure is the calling test's failure, reported by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// Whether the run rewrites snapshots (`FERRY_BLESS=1`) instead of comparing them.
pub fn blessing() -> bool {
    std::env::var_os("FERRY_BLESS").is_some_and(|v| v == "1")
}

/// A folder of snapshot files, one per named case.
pub struct Snapshots {
    /// The folder.
    pub dir: PathBuf,
    /// The files' extension (`json`).
    pub extension: &'static str,
    /// The command that rewrites them, for the failure message.
    pub bless_command: &'static str,
}

impl Snapshots {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.{}", self.extension))
    }

    /// Compares each `(name, rendered)` with its committed file, or rewrites the files when
    /// blessing; fails listing every difference.
    pub fn compare(&self, cases: impl IntoIterator<Item = (String, String)>) {
        let mut failures = Vec::new();
        for (name, rendered) in cases {
            let path = self.path(&name);
            if blessing() {
                std::fs::create_dir_all(&self.dir).unwrap();
                std::fs::write(&path, &rendered)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                continue;
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            if committed != rendered {
                failures.push(format!(
                    "{} differs from what the builder makes now.\n--- committed\n{committed}\n\
                     --- built\n{rendered}",
                    path.display()
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{}\n\nIf the change is intended, rewrite the snapshots with {}, and review the diff.",
            failures.join("\n\n"),
            self.bless_command
        );
    }

    /// Fails on snapshot files no case named in `names` renders (deletes them when blessing).
    pub fn no_stale(&self, names: impl IntoIterator<Item = String>) {
        let expected: BTreeSet<String> = names
            .into_iter()
            .map(|name| format!("{name}.{}", self.extension))
            .collect();
        let present: BTreeSet<String> = std::fs::read_dir(&self.dir)
            .map(|dir| {
                dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let stale: Vec<&String> = present.difference(&expected).collect();
        if blessing() {
            for file in stale {
                std::fs::remove_file(self.dir.join(file)).unwrap();
            }
            return;
        }
        assert!(
            stale.is_empty(),
            "snapshots no case renders: {stale:?}; delete them or run with FERRY_BLESS=1"
        );
    }
}

/// What a checker script said: its exit code (0 accepted, 1 refused), stdout and stderr.
pub struct Verdict {
    /// Exit code.
    pub code: Option<i32>,
    /// Standard output: one line per refusal.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// A checker script run with Python (`FERRY_PYTHON`, default `python3`) that reads a JSON list
/// of documents on stdin and exits 0 when it accepts all, 1 when it refuses one.
pub struct Checker<'a> {
    /// The script.
    pub script: &'a Path,
    /// What it checks with, for messages ("botocore", "Google's protos").
    pub with: &'a str,
    /// How to install that.
    pub install: &'a str,
}

impl Checker<'_> {
    /// Runs the checker on `docs`; fails the test when it could not check at all.
    pub fn check(&self, docs: &[Value]) -> Verdict {
        let python = std::env::var("FERRY_PYTHON").unwrap_or_else(|_| "python3".into());
        let install = self.install;
        let mut child = Command::new(&python)
            .arg(self.script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {python} ({e}): the requests are checked with {}; install it \
                     with {install}, or point FERRY_PYTHON at a Python that has it",
                    self.with
                )
            });
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(serde_json::to_string(docs).unwrap().as_bytes())
            .unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let verdict = Verdict {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(
            matches!(verdict.code, Some(0 | 1)),
            "{python} {} could not check the requests (exit {:?}):\n{}{}\nInstall {} with \
             {install} (or set FERRY_PYTHON)",
            self.script.display(),
            verdict.code,
            verdict.stderr,
            verdict.stdout,
            self.with
        );
        verdict
    }
}

/// Every YAML document of the `.yaml` files in `dir`, with the file it came from, files in name
/// order (the backends' builder tests plan `deploy/examples/` with it).
pub fn yaml_documents(dir: &Path) -> Vec<(PathBuf, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        out.extend(docs.into_iter().map(|d| (file.clone(), d)));
    }
    out
}
