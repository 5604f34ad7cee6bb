//! The Python the tests run: a virtualenv of the project's own under the cargo target directory
//! (`target/python/venv`), holding exactly the packages pinned in `requirements.txt`, whatever
//! the machine's `python3` has installed.
//!
//! It is made on first use: `python3 -m venv`, then its pip installs the requirements, then a
//! stamp (a hash of the requirements) records that this is done, so later runs only compare
//! the stamp. cargo runs test binaries in parallel, so the making happens under a file lock;
//! within one process it happens once. An interpreter named by an override variable
//! (`FERRY_PYTHON`, `FERRY_MOTO_PYTHON`, `FERRY_CLOUDRUN_FAKE_PYTHON`) is used as it is.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, OnceLock};

/// The pinned requirements, one file for every Python package a test runs.
pub const REQUIREMENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/requirements.txt");

/// The variables that name an interpreter to use instead of the virtualenv, for messages.
const OVERRIDES: &str = "FERRY_PYTHON (the request checkers), FERRY_MOTO_PYTHON (moto), \
                         FERRY_CLOUDRUN_FAKE_PYTHON (the Cloud Run fake)";

/// Why the virtualenv could not be made. Cloneable, because one failure is reported to every
/// test of the process that asks.
#[derive(Clone, thiserror::Error)]
pub enum Error {
    /// There is no `python3` to make the virtualenv with.
    #[error(
        "the tests need python3 on PATH to make their virtualenv ({venv}), and it cannot be run: \
         {source}. Install Python 3 with its venv module (Debian/Ubuntu: apt-get install \
         python3 python3-venv), or point {OVERRIDES} at interpreters that have the packages \
         of {REQUIREMENTS}"
    )]
    NoPython {
        /// Where the virtualenv was to be.
        venv: PathBuf,
        /// Why `python3` could not be run.
        #[source]
        source: Arc<io::Error>,
    },
    /// `python3 -m venv` failed: mostly, the venv module or its ensurepip is not installed.
    #[error(
        "`python3 -m venv {venv}` failed ({status}): python3 lacks a working venv module. \
         Install it (Debian/Ubuntu: apt-get install python3-venv, or the python3.X-venv its \
         output names), or point {OVERRIDES} at interpreters that have the packages of \
         {REQUIREMENTS}. Its output:\n{output}"
    )]
    NoVenv {
        /// Where the virtualenv was to be.
        venv: PathBuf,
        /// How it exited.
        status: String,
        /// What it printed.
        output: String,
    },
    /// pip could not download the packages: it found no version of them at all.
    #[error(
        "pip could not reach PyPI to install {REQUIREMENTS} into {venv} (the tests' Python \
         packages are installed there on first use, then kept). Connect this machine to PyPI \
         (or set PIP_INDEX_URL to a mirror), or point {OVERRIDES} at interpreters that have \
         the packages. pip's output:\n{output}"
    )]
    Offline {
        /// The virtualenv.
        venv: PathBuf,
        /// The end of what pip printed.
        output: String,
    },
    /// pip failed otherwise.
    #[error("pip could not install {REQUIREMENTS} into {venv} ({status}); its output:\n{output}")]
    Pip {
        /// The virtualenv.
        venv: PathBuf,
        /// How it exited.
        status: String,
        /// The end of what pip printed.
        output: String,
    },
    /// A file or folder of the virtualenv could not be read or written.
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// To what.
        path: PathBuf,
        /// Why.
        #[source]
        source: Arc<io::Error>,
    },
}

/// The message: tests `unwrap()` these, which prints `Debug`, and what to install is in the
/// message.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl Error {
    fn io(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Self {
        let path = path.to_owned();
        move |source| Self::Io {
            what,
            path,
            source: Arc::new(source),
        }
    }
}

/// The interpreter to run: the one `override_var` names when it is set (used as it is, no
/// virtualenv), else the project's virtualenv's, made on first use.
pub fn interpreter(override_var: &str) -> Result<PathBuf, Error> {
    match std::env::var_os(override_var) {
        Some(python) => Ok(PathBuf::from(python)),
        None => venv_python(),
    }
}

/// The project's virtualenv's `python`, with every package of [`REQUIREMENTS`] installed;
/// made on first use. Blocks while it is made (a minute or so, downloading from PyPI).
pub fn venv_python() -> Result<PathBuf, Error> {
    static VENV: OnceLock<Result<PathBuf, Error>> = OnceLock::new();
    VENV.get_or_init(|| Venv::in_target_dir().ready()).clone()
}

/// The cargo target directory: `CARGO_TARGET_DIR` when set (a relative one is taken from the
/// workspace root, where cargo is usually run), else the workspace's `target`.
fn target_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // This crate is tests/testkit: the workspace root is two levels up.
    let workspace = manifest.ancestors().nth(2).unwrap_or(manifest);
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace.join(dir),
        None => workspace.join("target"),
    }
}

/// The virtualenv's places.
struct Venv {
    /// `target/python`: the virtualenv and its lock.
    root: PathBuf,
    /// `target/python/venv`.
    dir: PathBuf,
}

impl Venv {
    fn in_target_dir() -> Self {
        let root = target_dir().join("python");
        Self {
            dir: root.join("venv"),
            root,
        }
    }

    fn python(&self) -> PathBuf {
        if cfg!(windows) {
            self.dir.join("Scripts").join("python.exe")
        } else {
            self.dir.join("bin").join("python")
        }
    }

    /// Written last, once pip has installed everything: its presence with the right hash is
    /// what "done" means.
    fn stamp(&self) -> PathBuf {
        self.dir.join("ferry-requirements.stamp")
    }

    /// The virtualenv's python, after making the virtualenv unless its stamp matches.
    fn ready(&self) -> Result<PathBuf, Error> {
        let requirements = Path::new(REQUIREMENTS);
        let wanted = std::fs::read_to_string(requirements)
            .map(|text| format!("{:016x}\n", fnv1a(text.as_bytes())))
            .map_err(Error::io("read", requirements))?;
        if self.is_made(&wanted) {
            return Ok(self.python());
        }
        std::fs::create_dir_all(&self.root).map_err(Error::io("create", &self.root))?;
        let lock_path = self.root.join("venv.lock");
        let lock = File::create(&lock_path).map_err(Error::io("create", &lock_path))?;
        // Another test process may be making it: wait for it, then look again.
        lock.lock().map_err(Error::io("lock", &lock_path))?;
        if !self.is_made(&wanted) {
            self.make(&wanted)?;
        }
        // The lock goes with the file; dropping it says so.
        drop(lock);
        Ok(self.python())
    }

    /// Whether the stamp says `wanted` and the interpreter is still there (the `python3` a
    /// virtualenv links to can be removed or upgraded away from under it).
    fn is_made(&self, wanted: &str) -> bool {
        std::fs::read_to_string(self.stamp()).is_ok_and(|stamp| stamp == wanted)
            && self.python().exists()
    }

    fn make(&self, wanted: &str) -> Result<(), Error> {
        // What a failed or older attempt left is not trusted.
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir).map_err(Error::io("remove", &self.dir))?;
        }
        eprintln!(
            "ferry-testkit: installing {REQUIREMENTS} into {} (once; later runs reuse it)",
            self.dir.display()
        );
        let venv = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&self.dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| Error::NoPython {
                venv: self.dir.clone(),
                source: Arc::new(source),
            })?;
        if !venv.status.success() {
            return Err(Error::NoVenv {
                venv: self.dir.clone(),
                status: venv.status.to_string(),
                output: printed(&venv),
            });
        }
        let python = self.python();
        let pip = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
            ])
            .arg("--requirement")
            .arg(REQUIREMENTS)
            .stdin(Stdio::null())
            .output()
            .map_err(Error::io("run", &python))?;
        if !pip.status.success() {
            let output = tail(&printed(&pip), 60);
            return Err(if unreachable_index(&output) {
                Error::Offline {
                    venv: self.dir.clone(),
                    output,
                }
            } else {
                Error::Pip {
                    venv: self.dir.clone(),
                    status: pip.status.to_string(),
                    output,
                }
            });
        }
        let stamp = self.stamp();
        std::fs::write(&stamp, wanted).map_err(Error::io("write", &stamp))
    }
}

/// Whether pip's output says it could not reach the package index (rather than, say, that a
/// pinned version does not exist): a connection error, or no version at all of a package that
/// the index has.
fn unreachable_index(output: &str) -> bool {
    [
        "(from versions: none)",
        "Failed to establish a new connection",
        "Temporary failure in name resolution",
        "Name or service not known",
        "Network is unreachable",
        "Connection refused",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ProxyError",
        "SSLError",
    ]
    .iter()
    .any(|marker| output.contains(marker))
}

/// Standard output and error of a finished command, together.
fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The last `lines` lines of `text`: where pip says what went wrong.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// FNV-1a, 64 bits: a hash that stays the same across Rust releases (std's `DefaultHasher`
/// does not promise to), so a toolchain upgrade does not reinstall the packages.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_hash_is_fnv1a() {
        // The published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn pip_failing_to_connect_is_told_from_a_missing_version() {
        assert!(unreachable_index(
            "WARNING: Retrying ... NewConnectionError('<pip._vendor.urllib3.connection.\
             HTTPSConnection object>: Failed to establish a new connection: [Errno -3] \
             Temporary failure in name resolution')"
        ));
        assert!(unreachable_index(
            "ERROR: Could not find a version that satisfies the requirement moto[server]==5.2.5 \
             (from versions: none)"
        ));
        assert!(!unreachable_index(
            "ERROR: Could not find a version that satisfies the requirement moto[server]==9.9.9 \
             (from versions: 5.2.4, 5.2.5)\nERROR: No matching distribution found for \
             moto[server]==9.9.9"
        ));
    }

    #[test]
    fn the_virtualenv_is_under_the_target_directory() {
        let venv = Venv::in_target_dir();
        assert!(venv.dir.ends_with("python/venv"), "{}", venv.dir.display());
        assert!(venv.python().starts_with(&venv.dir));
    }
}
