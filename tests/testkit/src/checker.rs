//! Request checkers written in Python against a provider's own definitions (botocore's
//! service models, Google's protos), run by the project's virtualenv ([`crate::python`]).

// Test support: a failure is the calling test's failure, reported by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

/// What a checker script said: its exit code (0 accepted, 1 refused), stdout and stderr.
pub struct Verdict {
    /// Exit code.
    pub code: Option<i32>,
    /// Standard output: one line per refusal.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// A checker script, run by the project's virtualenv (or the interpreter `FERRY_PYTHON` names),
/// that reads a JSON list of documents on stdin and exits 0 when it accepts all, 1 when it
/// refuses one.
pub struct Checker {
    /// The script.
    pub script: PathBuf,
    /// What it checks with, for messages ("botocore", "Google's protos").
    pub with: &'static str,
    /// How to install that into an interpreter `FERRY_PYTHON` names.
    pub install: &'static str,
    /// How a line of its output that passes document `[i]` ends (`": ok"`).
    pub ok: &'static str,
}

impl Checker {
    /// Runs the checker on `docs`; fails the test when it could not check at all.
    pub fn check(&self, docs: &[Value]) -> Verdict {
        let verdict = self.run(serde_json::to_string(docs).unwrap().as_bytes());
        assert!(
            matches!(verdict.code, Some(0 | 1)),
            "{} could not check the requests (exit {:?}):\n{}{}\nWith FERRY_PYTHON set, install \
             {} into it with {}",
            self.script.display(),
            verdict.code,
            verdict.stderr,
            verdict.stdout,
            self.with,
            self.install
        );
        verdict
    }

    /// Fails unless the checker passes every document of `labelled` (what it is, the
    /// document), showing what it refused and which document is which.
    pub fn assert_accepts(&self, labelled: &[(String, Value)]) {
        let docs: Vec<Value> = labelled.iter().map(|(_, d)| d.clone()).collect();
        let verdict = self.check(&docs);
        let index: Vec<String> = labelled
            .iter()
            .enumerate()
            .map(|(i, (label, _))| format!("[{i}] {label}"))
            .collect();
        assert_eq!(
            verdict.code,
            Some(0),
            "{} refuses what Ferry builds:\n{}\n\ndocuments:\n{}\n\n{}",
            self.with,
            verdict.stdout,
            index.join("\n"),
            serde_json::to_string_pretty(&docs).unwrap()
        );
        assert_eq!(
            verdict
                .stdout
                .lines()
                .filter(|l| l.ends_with(self.ok))
                .count(),
            docs.len(),
            "each document was checked:\n{}",
            verdict.stdout
        );
    }

    /// Fails unless the checker passes `unbroken` and refuses each of `cases` (what is broken,
    /// the document, what the refusal must say), each for its own reason: a checker that let
    /// such a mistake through would let Ferry's through too.
    pub fn assert_refuses(&self, unbroken: &[Value], cases: &[(&str, Value, &str)]) {
        assert_eq!(
            self.check(unbroken).code,
            Some(0),
            "the unbroken documents pass"
        );
        let broken: Vec<Value> = cases.iter().map(|(_, d, _)| d.clone()).collect();
        let verdict = self.check(&broken);
        assert_eq!(verdict.code, Some(1), "{}", verdict.stdout);
        for (i, (case, _, expected)) in cases.iter().enumerate() {
            let said: Vec<&str> = verdict
                .stdout
                .lines()
                .filter(|l| l.starts_with(&format!("[{i}] ")))
                .collect();
            assert!(
                !said.is_empty() && said.iter().all(|l| !l.ends_with(self.ok)),
                "{case} passed the checker:\n{}",
                verdict.stdout
            );
            assert!(
                said.iter().any(|l| l.contains(expected)),
                "{case}: {expected:?} not in\n{}",
                said.join("\n")
            );
        }
    }

    /// Runs the checker with `input` on stdin, whatever it makes of it (for tests of the
    /// checker itself); fails the test only when it cannot be started.
    pub fn run(&self, input: &[u8]) -> Verdict {
        let python = crate::python::interpreter("FERRY_PYTHON").unwrap_or_else(|e| {
            panic!(
                "the requests are checked with {}, in Python: {e}",
                self.with
            )
        });
        let mut child = Command::new(&python)
            .arg(&self.script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} ({e}): the requests are checked with {}; with FERRY_PYTHON \
                     set, install it into that interpreter with {}",
                    python.display(),
                    self.with,
                    self.install
                )
            });
        let mut stdin = child.stdin.take().unwrap();
        // A script that fails before reading closes the pipe; its exit code and stderr, read
        // below, say why better than the broken pipe would.
        let _ = stdin.write_all(input);
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        Verdict {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}
