//! The readers of `ferry validate`, `render` and `cost` stay within their bounds (issue 22):
//! the bounded reader never holds more than its limit plus the one byte that shows a source is
//! past it, whatever the source (property tests); decoding names the position of the first
//! byte that is not text; and the binary refuses a file far past the limit at once, under an
//! address-space cap that reading it whole would break, reads named pipes given explicitly and
//! skips those in a directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::io::{Read, Write as _};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ferry::Error;
use ferry::input::{
    self, Input, MAX_FILE_BYTES, MAX_TOTAL_BYTES, Reader, TooLarge, decode, read_bounded,
    size_words,
};
use proptest::prelude::*;

/// A source that counts what is pulled from it: `bytes`, then (when `endless`) zeros forever.
struct Counted<'a> {
    bytes: &'a [u8],
    endless: bool,
    pulled: u64,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = if self.bytes.is_empty() {
            if self.endless {
                buf.fill(0);
                buf.len()
            } else {
                0
            }
        } else {
            let n = buf.len().min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            n
        };
        self.pulled += n as u64;
        Ok(n)
    }
}

/// A length and a limit around it (below, at, just above, far above), or anywhere.
fn sizes() -> impl Strategy<Value = (usize, u64)> {
    (0usize..2048).prop_flat_map(|len| {
        let near = (len as u64).saturating_sub(2)..=len as u64 + 2;
        (Just(len), prop_oneof![near, 0u64..4096])
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn the_bounded_reader_returns_all_within_the_limit_and_an_error_past_it(
        (len, limit) in sizes(),
        seed in any::<u8>(),
    ) {
        let bytes: Vec<u8> = (0..len).map(|i| i.to_le_bytes()[0].wrapping_mul(31) ^ seed).collect();
        let mut source = Counted { bytes: &bytes, endless: false, pulled: 0 };
        let read = read_bounded(&mut source, limit, len as u64);
        prop_assert!(source.pulled <= limit + 1, "pulled {} past {limit}", source.pulled);
        if len as u64 <= limit {
            let buffer = read.unwrap().unwrap();
            prop_assert_eq!(&buffer, &bytes);
            prop_assert!(buffer.len() as u64 <= limit);
        } else {
            prop_assert_eq!(read.map(|r| r.map(|b| b.len()).ok()), Err(TooLarge));
        }
    }

    #[test]
    fn an_endless_source_is_refused_having_pulled_one_byte_past_the_limit(
        limit in 0u64..70_000,
        claimed in any::<u64>(),
    ) {
        // Whatever size the source claims (a lie is trusted only up to the limit).
        let mut source = Counted { bytes: &[], endless: true, pulled: 0 };
        let read = read_bounded(&mut source, limit, claimed);
        prop_assert_eq!(read.map(|r| r.map(|b| b.len()).ok()), Err(TooLarge));
        prop_assert_eq!(source.pulled, limit + 1);
    }

    #[test]
    fn decoding_finds_the_first_byte_that_is_not_utf8_by_line_column_and_offset(
        lines in prop::collection::vec("[a-zé€ :-]{0,12}", 1..6),
        bad in prop_oneof![Just(0xFFu8), Just(0xC0), Just(0x80), Just(0xFE)],
        at_line in any::<prop::sample::Index>(),
        at_column in any::<prop::sample::Index>(),
    ) {
        let line = at_line.index(lines.len());
        let column = at_column.index(lines[line].chars().count() + 1);
        let mut text = String::new();
        for l in &lines[..line] {
            text.push_str(l);
            text.push('\n');
        }
        let cut: usize = lines[line].chars().take(column).map(char::len_utf8).sum();
        text.push_str(&lines[line][..cut]);
        let offset = text.len();
        let mut bytes = text.into_bytes();
        bytes.push(bad);
        bytes.extend_from_slice(b"\nrest: 1\n");
        match decode("f.yaml", bytes) {
            Err(Error::NotText { path, line: l, column: c, offset: o, .. }) => {
                prop_assert_eq!(path, "f.yaml");
                prop_assert_eq!((l, c, o), (line + 1, column + 1, offset));
            }
            other => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn the_reader_holds_each_file_to_its_limit_and_all_to_the_total(
        sizes in prop::collection::vec(0u64..400, 1..8),
        per_file in 0u64..300,
        total in 0u64..1200,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut reader = Reader::with_limits(per_file, total);
        let mut left = total;
        for (i, size) in sizes.iter().enumerate() {
            let path = dir.path().join(format!("{i}.yaml"));
            std::fs::write(&path, "a".repeat(usize::try_from(*size).unwrap())).unwrap();
            let read = reader.read(&Input::named(&path));
            if *size > per_file {
                prop_assert!(matches!(read, Err(Error::FileTooLarge { .. })), "{read:?}");
            } else if *size > left {
                prop_assert!(matches!(read, Err(Error::TotalTooLarge { .. })), "{read:?}");
                prop_assert!(reader.spent());
                break;
            } else {
                prop_assert_eq!(read.unwrap().len() as u64, *size);
                left -= size;
            }
        }
    }
}

#[test]
fn an_endless_source_is_refused_at_ferrys_own_limit() {
    let mut source = Counted {
        bytes: &[],
        endless: true,
        pulled: 0,
    };
    let read = read_bounded(&mut source, MAX_FILE_BYTES, u64::MAX);
    assert_eq!(read.map(|r| r.map(|b| b.len()).ok()), Err(TooLarge));
    assert_eq!(source.pulled, MAX_FILE_BYTES + 1);
}

#[test]
fn the_limits_are_what_the_help_says() {
    assert_eq!(size_words(MAX_FILE_BYTES), "8 MiB");
    assert_eq!(size_words(MAX_TOTAL_BYTES), "64 MiB");
    // Clap wraps the help to the terminal: words, not lines.
    let words = |out: &Output| stdout(out).split_whitespace().collect::<Vec<_>>().join(" ");
    for command in ["validate", "render", "cost"] {
        let help = words(&ferry(&[command, "--help"]));
        assert!(
            help.contains("At most 8 MiB a file and 64 MiB in all"),
            "{command}: {help}"
        );
    }
    let help = words(&ferry(&["cost", "--help"]));
    assert!(help.contains("nodes' price. At most 8 MiB"), "{help}");
}

#[test]
fn utf16_with_a_byte_order_mark_is_read_as_kubectl_reads_it() {
    let text = "kind: ProviderConfig # é\n";
    let le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let be: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    assert_eq!(decode("f", le.clone()).unwrap(), text);
    assert_eq!(decode("f", be).unwrap(), text);
    let mut bom8 = vec![0xEF, 0xBB, 0xBF];
    bom8.extend_from_slice(text.as_bytes());
    assert_eq!(decode("f", bom8).unwrap(), text);

    // An odd byte, or half a surrogate pair, is named where it is.
    let mut odd = le.clone();
    odd.push(b'x');
    let e = decode("f", odd).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("f:2:1: not UTF-8 text: an odd number of bytes"),
        "{e}"
    );
    let mut lone = le;
    lone.extend_from_slice(&0xD800u16.to_le_bytes());
    lone.extend_from_slice(&u16::from(b'a').to_le_bytes());
    let e = decode("f", lone).unwrap_err();
    assert!(e.to_string().contains("surrogate"), "{e}");
    assert!(e.to_string().starts_with("f:2:1:"), "{e}");
}

// ---- The binary ------------------------------------------------------------------------------

fn ferry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn all(out: &Output) -> String {
    format!("{}{}", stdout(out), String::from_utf8_lossy(&out.stderr))
}

/// Runs ferry with `args` and `stdin` under an address-space cap of 512 MiB (`ulimit -v`, in
/// the shell that then becomes ferry): reading a file of gigabytes whole would fail to
/// allocate, and a cap on what the process may map holds its resident memory under it too.
fn capped(args: &[&str], stdin: Stdio) -> (Output, Duration) {
    let started = Instant::now();
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -v 524288 && exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .stdin(stdin)
        .output()
        .unwrap();
    (out, started.elapsed())
}

/// A sparse file of `size` bytes (zeros that take no disk).
fn sparse(dir: &Path, name: &str, size: u64) -> String {
    let path = dir.join(name);
    std::fs::File::create(&path).unwrap().set_len(size).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_file_far_past_the_limit_is_refused_fast_and_small() {
    let dir = tempfile::tempdir().unwrap();
    let big = sparse(dir.path(), "big.yaml", 4 << 30);
    let example = "deploy/examples/knative-hello.yaml";
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let example = root.join(example);
    let example = example.to_str().unwrap();
    let runs: [(&[&str], bool); 5] = [
        (&["validate", "-f", &big], false),
        (&["render", "-f", &big], false),
        (&["cost", "-f", example, "--prices", &big], false),
        // Standard input says no size: the bounded read alone stops it.
        (&["validate", "-f", "-"], true),
        (&["cost", "-f", "-"], true),
    ];
    for (args, from_stdin) in runs {
        let stdin = if from_stdin {
            Stdio::from(std::fs::File::open(&big).unwrap())
        } else {
            Stdio::null()
        };
        let (out, took) = capped(args, stdin);
        let text = all(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {text}");
        assert!(
            text.contains("not read: it holds more than 8 MiB, the most ferry reads from one file"),
            "{args:?}: {text}"
        );
        assert!(!text.contains("memory"), "{args:?}: {text}");
        assert!(took < Duration::from_secs(20), "{args:?} took {took:?}");
    }
}

#[test]
fn dev_zero_is_refused_at_the_limit() {
    for args in [
        ["validate", "-f", "/dev/zero"],
        ["render", "-f", "/dev/zero"],
        ["cost", "-f", "/dev/zero"],
    ] {
        let (out, _) = capped(&args, Stdio::null());
        assert_eq!(out.status.code(), Some(1), "{}", all(&out));
        assert!(
            all(&out).contains("/dev/zero: not read: it holds more than 8 MiB"),
            "{}",
            all(&out)
        );
    }
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success());
}

/// Waits for `writer` (a test that hangs is a failure, not a stuck suite).
#[cfg(unix)]
fn finished(writer: &std::thread::JoinHandle<()>) {
    let started = Instant::now();
    while !writer.is_finished() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "ferry never read the pipe"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes `text` into the named pipe at `path` (once ferry opens it), then closes it.
#[cfg(unix)]
fn feed(path: &Path, text: &'static [u8], times: usize) -> std::thread::JoinHandle<()> {
    let path = path.to_owned();
    std::thread::spawn(move || {
        let mut pipe = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        for _ in 0..times {
            // ferry stops reading past its limit: a broken pipe then is expected.
            if pipe.write_all(text).is_err() {
                return;
            }
        }
    })
}

const CONFIG: &[u8] = b"apiVersion: ferry.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  \
    name: gcp\nspec:\n  cloudRun:\n    project: my-project\n    region: europe-west1\n";

#[cfg(unix)]
#[test]
fn a_named_pipe_given_explicitly_is_read_within_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let pipe = dir.path().join("config.yaml");
    mkfifo(&pipe);
    let writer = feed(&pipe, CONFIG, 1);
    let out = ferry(&["validate", "-f", pipe.to_str().unwrap()]);
    finished(&writer);
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    assert!(
        stdout(&out).contains("ProviderConfig gcp: valid"),
        "{}",
        all(&out)
    );

    // A pipe that never ends is cut at the limit, as a file is.
    let writer = feed(&pipe, b"# a comment that never ends\n", usize::MAX);
    let (out, took) = capped(&["validate", "-f", pipe.to_str().unwrap()], Stdio::null());
    finished(&writer);
    assert_eq!(out.status.code(), Some(1), "{}", all(&out));
    assert!(
        all(&out).contains("not read: it holds more than 8 MiB"),
        "{}",
        all(&out)
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[cfg(unix)]
#[test]
fn a_named_pipe_in_a_directory_is_skipped_and_the_files_around_it_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), CONFIG).unwrap();
    mkfifo(&dir.path().join("b.yaml"));
    std::fs::write(
        dir.path().join("c.yaml"),
        String::from_utf8_lossy(CONFIG).replace("gcp", "other"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["validate", "-f", dir.path().to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("ferry waits on the named pipe");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text = all(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("a.yaml:1: ProviderConfig gcp: valid"),
        "{text}"
    );
    assert!(
        text.contains("c.yaml:1: ProviderConfig other: valid"),
        "{text}"
    );
    assert!(
        text.contains("b.yaml: skipped: a named pipe (FIFO), not a regular file"),
        "{text}"
    );
}

#[test]
fn render_and_cost_read_each_file_twice_at_most_and_standard_input_once() {
    // A service on standard input names a ProviderConfig from a file after it: the first pass
    // keeps standard input's text, as it cannot be read again.
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let config = root.join("deploy/examples/providerconfig-gcp.yaml");
    let service = std::fs::read(root.join("deploy/examples/cloudrun-hello.yaml")).unwrap();
    let copy = dir.path().join("config.yaml");
    std::fs::copy(config, &copy).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["render", "-f", "-", "-f", copy.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&service).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    let config_text = std::fs::read_to_string(&copy).unwrap();
    let project = config_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("project:"))
        .unwrap()
        .trim()
        .trim_matches('"');
    assert!(stdout(&out).contains(project), "{}", all(&out));

    let out = ferry(&["cost", "-f", "-", "--prices", "-"]);
    assert_eq!(out.status.code(), Some(2), "{}", all(&out));
    assert!(
        all(&out).contains("it can be read only once"),
        "{}",
        all(&out)
    );
}

#[test]
fn nothing_to_check_is_a_failure_naming_where_ferry_looked() {
    let dir = tempfile::tempdir().unwrap();
    let place = dir.path().to_str().unwrap();
    for command in ["validate", "render", "cost"] {
        let out = ferry(&[command, "-f", place]);
        assert_eq!(out.status.code(), Some(1), "{command}: {}", all(&out));
        assert!(
            all(&out).contains(&format!("no manifest files found in {place}")),
            "{command}: {}",
            all(&out)
        );
    }
    std::fs::write(dir.path().join("a.YAML"), CONFIG).unwrap();
    std::fs::write(dir.path().join("README.md"), "# not a manifest").unwrap();
    let out = ferry(&["validate", "-f", place]);
    assert_eq!(out.status.code(), Some(1), "{}", all(&out));
    assert!(
        all(&out).contains("a.YAML: skipped: kubectl -f reads"),
        "{}",
        all(&out)
    );
    assert!(!all(&out).contains("README"), "{}", all(&out));

    let out = ferry(&["validate", "-f", "-"]);
    assert_eq!(out.status.code(), Some(1), "{}", all(&out));
    assert!(
        all(&out).contains("found in standard input: nothing to check"),
        "{}",
        all(&out)
    );
}

#[test]
fn reports_stream_as_json_exactly_as_one_array_would_print() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join("tests/fixtures/invalid");
    let out = ferry(&["validate", "-o", "json", "-f", dir.to_str().unwrap()]);
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reports = reports.as_array().unwrap();
    assert!(reports.len() > 1);
    // Laid out as `to_string_pretty` lays out the whole list: each element indented by two.
    let text = stdout(&out);
    assert!(text.starts_with("[\n  {\n    \"file\": "), "{text}");
    assert!(text.ends_with("\n  }\n]\n"), "{text}");
    assert_eq!(text.matches("\n  },\n  {\n").count(), reports.len() - 1);

    let empty = tempfile::tempdir().unwrap();
    let out = ferry(&[
        "validate",
        "-o",
        "json",
        "-f",
        empty.path().to_str().unwrap(),
    ]);
    assert_eq!(stdout(&out), "[]\n");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn names_in_a_directory_are_escaped_in_notes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x\r\u{1b}[2K.YML"), CONFIG).unwrap();
    let out = ferry(&["validate", "-f", dir.path().to_str().unwrap()]);
    let text = all(&out);
    assert!(text.contains("x\\r\\u{1b}[2K.YML: skipped"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
}

#[test]
fn an_input_is_named_as_given() {
    assert_eq!(Input::named(Path::new("-")).name, "-");
    assert_eq!(Input::named(Path::new("a.yaml")).name, "a.yaml");
    assert!(!Input::named(Path::new("-")).regular);
    assert_eq!(
        input::places(&["-".into(), "deploy/".into()]),
        "standard input, deploy/"
    );
}

#[cfg(unix)]
#[test]
fn symlinks_are_followed_to_files_and_what_is_not_a_file_is_noted() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("config.yaml");
    std::fs::write(&target, CONFIG).unwrap();
    // kubectl opens a symlink in a directory as the file it points to.
    symlink(&target, dir.path().join("linked.yaml")).unwrap();
    symlink(
        elsewhere.path().join("gone.yaml"),
        dir.path().join("broken.yaml"),
    )
    .unwrap();
    mkfifo(&elsewhere.path().join("pipe"));
    symlink(
        elsewhere.path().join("pipe"),
        dir.path().join("to-pipe.yml"),
    )
    .unwrap();
    symlink(elsewhere.path(), dir.path().join("to-dir.yaml")).unwrap();
    std::fs::create_dir(dir.path().join("overlays")).unwrap();
    std::fs::write(dir.path().join("overlays/deep.yaml"), "kind: [").unwrap();

    let out = ferry(&["validate", "-f", dir.path().to_str().unwrap()]);
    let text = all(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("linked.yaml:1: ProviderConfig gcp: valid"),
        "{text}"
    );
    assert!(
        text.contains("broken.yaml: skipped: a broken symbolic link, not a regular file"),
        "{text}"
    );
    assert!(
        text.contains("to-pipe.yml: skipped: a named pipe (FIFO)"),
        "{text}"
    );
    assert!(
        text.contains(
            "2 subdirectories not read (overlays, to-dir.yaml): ferry reads the files directly \
             in a directory, as kubectl -f without -R"
        ),
        "{text}"
    );
    assert!(!text.contains("deep.yaml"), "{text}");
}
