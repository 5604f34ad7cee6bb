//! Committed snapshot files that `FERRY_BLESS=1` rewrites, and the YAML documents of a folder
//! (the backends' builder tests snapshot `deploy/examples/` with them).

// Test support: a failure is the calling test's failure, reported by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

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

/// Every YAML document of the `.yaml` files in `dir`, with the file it came from, files in name
/// order (the backends' builder tests build `deploy/examples/` with it).
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
