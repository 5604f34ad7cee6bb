//! The manifests named with `-f` (and `cost --prices`), read as kubectl reads them and within
//! stated bounds: a directory's files picked by kubectl's rule, what is not a regular file in
//! a directory skipped with a note (never opened: a named pipe would wait forever), each file
//! read through a bounded reader (never more than its limit, whatever the file claims or
//! holds), and decoded with the position of any byte that is not text.

use std::fmt::Write as _;
use std::fs::{File, FileType};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::Error;

/// One mebibyte.
const MIB: u64 = 1024 * 1024;

/// The most ferry reads from one file (or standard input). The API server takes a request body
/// of at most 3 MiB and etcd stores an object of at most 1.5 MiB (k8s.io/apiserver
/// `MaxRequestBodyBytes`), so a manifest file of many objects, or a rendered chart with its
/// CRDs, fits well within 8 MiB; a file beyond it is not a manifest (a log, an image,
/// `/dev/zero`) and is refused before it can fill memory.
pub const MAX_FILE_BYTES: u64 = 8 * MIB;

/// The most ferry reads in one run, every file together (each file is also held to
/// [`MAX_FILE_BYTES`]). Files are read one at a time, so this bounds how long a run takes more
/// than its memory: 64 MiB is a large repository's manifests several times over.
pub const MAX_TOTAL_BYTES: u64 = 64 * MIB;

/// The endings kubectl's `-f DIR` reads, case and all: `FileExtensions` in k8s.io/cli-runtime
/// `pkg/resource/builder.go`, compared with `==` by `ignoreFile` in `visitor.go` (so kubectl
/// skips `a.YAML`). JSON goes through the same YAML parser: JSON is YAML.
pub const EXTENSIONS: [&str; 3] = ["json", "yaml", "yml"];

/// A size for a person: whole mebibytes as `8 MiB`, anything else in bytes.
pub fn size_words(bytes: u64) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes == 1 {
        "1 byte".to_owned()
    } else {
        format!("{bytes} bytes")
    }
}

/// Where a manifest is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Standard input (`-f -`).
    Stdin,
    /// A path, as named or as found in a directory.
    Path(PathBuf),
}

/// One manifest to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// As reports name it: the path as given or found (`-` for standard input), control
    /// characters escaped.
    pub name: String,
    /// Where it is read from.
    pub source: Source,
    /// Whether it is a regular file, which can be read again; standard input, a named pipe
    /// (`<(...)`) or a device cannot.
    pub regular: bool,
}

impl Input {
    /// An input from `path` as named on the command line (`-` is standard input).
    pub fn named(path: &Path) -> Self {
        if path == Path::new("-") {
            return Input {
                name: "-".to_owned(),
                source: Source::Stdin,
                regular: false,
            };
        }
        Input {
            name: shown(&path.display().to_string()),
            source: Source::Path(path.to_owned()),
            regular: std::fs::metadata(path).is_ok_and(|m| m.is_file()),
        }
    }

    /// How messages about reading it name it.
    fn described(&self) -> &str {
        match self.source {
            Source::Stdin => "standard input",
            Source::Path(_) => &self.name,
        }
    }
}

/// What the `-f` arguments name, in order.
#[derive(Debug)]
pub enum Entry {
    /// A file to read.
    Read(Input),
    /// Something not read, and why (for standard error; not a failure).
    Note(String),
    /// A directory that could not be listed (a failure).
    Failed(Input, Error),
    /// A directory with no manifest files in it, as named.
    Empty(String),
}

/// The `-f` arguments, each directory replaced by its manifest files as kubectl's `-f DIR`
/// picks them (k8s.io/cli-runtime `ExpandPathsToFileVisitors`): the files directly in it
/// (not its subdirectories, as without `-R`) whose name ends `.json`, `.yaml` or `.yml`, in
/// name order; a path named explicitly is read whatever its name. Unlike kubectl, what in a
/// directory is not a regular file once symlinks are followed (a named pipe, socket, device,
/// broken symlink) is skipped with a note rather than opened, so a stray FIFO cannot hang a
/// run; and names kubectl skips for their case (`a.YAML`) are noted, not silently passed over.
pub fn expand(args: &[PathBuf]) -> Vec<Entry> {
    let mut out = Vec::new();
    for arg in args {
        if arg.as_os_str() != "-" && std::fs::metadata(arg).is_ok_and(|m| m.is_dir()) {
            expand_dir(arg, &mut out);
        } else {
            out.push(Entry::Read(Input::named(arg)));
        }
    }
    out
}

/// What kind of thing a directory entry is, symlinks followed.
enum Kind {
    File,
    Dir,
    /// Anything else, named for the note.
    Other(&'static str),
}

fn kind_of(path: &Path, file_type: FileType) -> Kind {
    let file_type = if file_type.is_symlink() {
        match std::fs::metadata(path) {
            Ok(target) => target.file_type(),
            Err(_) => return Kind::Other("a broken symbolic link"),
        }
    } else {
        file_type
    };
    if file_type.is_file() {
        Kind::File
    } else if file_type.is_dir() {
        Kind::Dir
    } else {
        Kind::Other(special_kind(file_type))
    }
}

#[cfg(unix)]
fn special_kind(file_type: FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if file_type.is_fifo() {
        "a named pipe (FIFO)"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: FileType) -> &'static str {
    "not a regular file"
}

/// The ending of a file name as Go's `filepath.Ext` finds it (what follows the last dot, so
/// `.yaml` alone has one), without the dot.
fn extension(name: &str) -> Option<&str> {
    name.rfind('.').map(|dot| &name[dot + 1..])
}

fn expand_dir(dir: &Path, out: &mut Vec<Entry>) {
    let dir_name = shown(&dir.display().to_string());
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(source) => {
            let input = Input {
                name: dir_name.clone(),
                source: Source::Path(dir.to_owned()),
                regular: false,
            };
            out.push(Entry::Failed(
                input,
                Error::Read {
                    path: dir_name,
                    source,
                },
            ));
            return;
        }
    };
    let mut entries: Vec<(PathBuf, Option<FileType>)> = listing
        .filter_map(Result::ok)
        .map(|e| (e.path(), e.file_type().ok()))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let (mut found, mut subdirs) = (0, Vec::new());
    for (path, file_type) in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ending = extension(&name);
        let exact = ending.is_some_and(|e| EXTENSIONS.contains(&e));
        let near = ending.is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)));
        let kind = file_type.map_or(Kind::Other("unreadable"), |t| kind_of(&path, t));
        let shown_path = shown(&path.display().to_string());
        match kind {
            Kind::Dir => subdirs.push(shown(&name)),
            Kind::File if exact => {
                found += 1;
                out.push(Entry::Read(Input {
                    name: shown_path,
                    source: Source::Path(path),
                    regular: true,
                }));
            }
            Kind::File if near => out.push(Entry::Note(format!(
                "{shown_path}: skipped: kubectl -f reads a directory's files ending .json, \
                 .yaml or .yml, case and all, so it would not apply this one; rename it to \
                 have it read"
            ))),
            Kind::Other(what) if near => out.push(Entry::Note(format!(
                "{shown_path}: skipped: {what}, not a regular file (name it with -f to read it)"
            ))),
            // What kubectl passes over silently (README.md, a pipe without a manifest's name).
            Kind::File | Kind::Other(_) => {}
        }
    }
    if !subdirs.is_empty() {
        out.push(Entry::Note(format!(
            "{dir_name}: {} not read ({}): ferry reads the files directly in a directory, as \
             kubectl -f without -R",
            plural(subdirs.len(), "subdirectory", "subdirectories"),
            listed(&subdirs)
        )));
    }
    if found == 0 {
        out.push(Entry::Empty(dir_name));
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The first few names, then how many more.
fn listed(names: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut out = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        let _ = write!(out, " and {} more", names.len() - SHOWN);
    }
    out
}

/// The arguments, as "no ... found in ..." names where ferry looked.
pub fn places(args: &[PathBuf]) -> String {
    let named: Vec<String> = args
        .iter()
        .map(|a| {
            if a.as_os_str() == "-" {
                "standard input".to_owned()
            } else {
                shown(&a.display().to_string())
            }
        })
        .collect();
    named.join(", ")
}

/// Whether standard input is named more than once among `args` (and `prices`): it can be read
/// only once (kubectl: "standard input cannot be used for multiple arguments").
pub fn stdin_twice(args: &[PathBuf], prices: Option<&Path>) -> bool {
    let dash = |p: &Path| p.as_os_str() == "-";
    args.iter().filter(|a| dash(a)).count() + usize::from(prices.is_some_and(dash)) > 1
}

/// Reads inputs one at a time, each within [`MAX_FILE_BYTES`] and all within
/// [`MAX_TOTAL_BYTES`].
#[derive(Debug)]
pub struct Reader {
    per_file: u64,
    total: u64,
    left: u64,
    spent: bool,
}

impl Default for Reader {
    fn default() -> Self {
        Self::with_limits(MAX_FILE_BYTES, MAX_TOTAL_BYTES)
    }
}

impl Reader {
    /// A reader with other limits than ferry's (tests).
    pub fn with_limits(per_file: u64, total: u64) -> Self {
        Reader {
            per_file,
            total,
            left: total,
            spent: false,
        }
    }

    /// Whether the total is spent: a file past it was refused and nothing more will be read.
    pub fn spent(&self) -> bool {
        self.spent
    }

    /// The text of `input`: at most the per-file limit and what is left of the total, decoded
    /// as kubectl does (UTF-8, or UTF-16 after its byte-order mark).
    pub fn read(&mut self, input: &Input) -> Result<String, Error> {
        let limit = self.per_file.min(self.left);
        let bytes = match &input.source {
            Source::Stdin => read_bounded(std::io::stdin().lock(), limit, 0),
            Source::Path(path) => {
                let file = File::open(path).map_err(|source| Error::Read {
                    path: input.name.clone(),
                    source,
                })?;
                // A regular file says its size: one past the limit is refused unread (a
                // sparse file of terabytes costs nothing). The read is bounded all the same: a
                // file may grow, and a device or pipe says nothing.
                let size = file
                    .metadata()
                    .ok()
                    .filter(std::fs::Metadata::is_file)
                    .map(|m| m.len());
                match size {
                    Some(size) if size > self.per_file => return Err(self.refuse(input, true)),
                    Some(size) if size > limit => Err(TooLarge),
                    size => read_bounded(file, limit, size.unwrap_or(0)),
                }
            }
        };
        let bytes = match bytes {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(source)) => {
                return Err(Error::Read {
                    path: input.name.clone(),
                    source,
                });
            }
            Err(TooLarge) => return Err(self.refuse(input, self.per_file <= self.left)),
        };
        self.left -= u64::try_from(bytes.len())
            .unwrap_or(u64::MAX)
            .min(self.left);
        decode(input.described(), bytes)
    }

    /// The error for `input`, past the per-file limit (`alone`) or past what is left of the
    /// total; past the total, nothing more is read.
    fn refuse(&mut self, input: &Input, alone: bool) -> Error {
        let path = input.described().to_owned();
        if alone {
            Error::FileTooLarge {
                path,
                limit: size_words(self.per_file),
            }
        } else {
            (self.left, self.spent) = (0, true);
            Error::TotalTooLarge {
                path,
                limit: size_words(self.total),
            }
        }
    }
}

/// A source holds more than the limit it was read with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLarge;

/// Everything `reader` holds if that is at most `limit` bytes; otherwise [`TooLarge`], having
/// read at most `limit + 1` bytes (whatever the source: a pipe, `/dev/zero`), so the buffer
/// never holds more than that. `size_hint`: the size the source claims (0 when unknown), to
/// allocate once; it is trusted only up to the limit. The inner result is the source's own
/// read error.
pub fn read_bounded(
    reader: impl Read,
    limit: u64,
    size_hint: u64,
) -> Result<std::io::Result<Vec<u8>>, TooLarge> {
    let initial = usize::try_from(size_hint.min(limit).saturating_add(1)).unwrap_or(0);
    let mut buffer = Vec::with_capacity(initial);
    if let Err(e) = reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut buffer)
    {
        return Ok(Err(e));
    }
    if u64::try_from(buffer.len()).unwrap_or(u64::MAX) > limit {
        return Err(TooLarge);
    }
    Ok(Ok(buffer))
}

/// `bytes` as text, as kubectl decodes a manifest (`unicode.BOMOverride` in cli-runtime's
/// `FileVisitor`): UTF-8, with or without its byte-order mark, or UTF-16 after a byte-order mark
/// saying which order (what Windows PowerShell 5 writes with `>`). Anything else is an error
/// naming the line, column (in characters) and byte offset of the first byte that is not.
pub fn decode(path: &str, bytes: Vec<u8>) -> Result<String, Error> {
    match bytes.as_slice() {
        [0xEF, 0xBB, 0xBF, ..] => utf8(path, bytes, 3),
        [0xFF, 0xFE, rest @ ..] => utf16(path, rest, u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => utf16(path, rest, u16::from_be_bytes),
        _ => utf8(path, bytes, 0),
    }
}

/// An error unless `text` is free of NUL, which YAML does not allow and no manifest holds:
/// UTF-16 without its byte-order mark has one in every other byte, and a binary file has many.
/// `offset` finds a character's byte offset in the file from the text before it.
fn nul_free(path: &str, text: &str, offset: impl Fn(&str) -> usize) -> Result<(), Error> {
    match text.find('\0') {
        None => Ok(()),
        Some(at) => {
            let before = &text[..at];
            let why = "a NUL byte, which YAML does not allow (UTF-16 without a byte-order mark? \
                       a binary file?)";
            Err(not_text(path, before, offset(before), why))
        }
    }
}

/// `bytes` after a byte-order mark of `skip` bytes, as UTF-8.
fn utf8(path: &str, mut bytes: Vec<u8>, skip: usize) -> Result<String, Error> {
    bytes.drain(..skip);
    let offset = |before: &str| skip + before.len();
    match String::from_utf8(bytes) {
        Ok(text) => nul_free(path, &text, offset).map(|()| text),
        Err(e) => {
            let bad = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            // What precedes the first bad byte is UTF-8, by `valid_up_to`; a NUL in it is the
            // first problem of the file, and the one named.
            let before = std::str::from_utf8(&bytes[..bad]).unwrap_or_default();
            nul_free(path, before, offset)?;
            let byte = bytes.get(bad).copied().unwrap_or_default();
            let why = format!("byte 0x{byte:02X} is not part of a UTF-8 character");
            Err(not_text(path, before, skip + bad, &why))
        }
    }
}

/// `bytes` after a UTF-16 byte-order mark, as UTF-16 in the order `unit` reads.
fn utf16(path: &str, bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, Error> {
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    let mut text = String::with_capacity(bytes.len() / 2);
    let mut offset = 2; // the byte-order mark
    for c in char::decode_utf16(units) {
        let Ok(c) = c else {
            let why = "a UTF-16 surrogate without its pair (the byte-order mark says UTF-16)";
            return Err(not_text(path, &text, offset, why));
        };
        text.push(c);
        offset += c.len_utf16() * 2;
    }
    if !bytes.len().is_multiple_of(2) {
        let why = "an odd number of bytes (the byte-order mark says UTF-16, two bytes a unit)";
        return Err(not_text(path, &text, offset, why));
    }
    nul_free(path, &text, |before| 2 + before.encode_utf16().count() * 2).map(|()| text)
}

/// The error for a file that stops being text after `before`, at byte `offset`.
fn not_text(path: &str, before: &str, offset: usize, why: &str) -> Error {
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    Error::NotText {
        path: path.to_owned(),
        line,
        column: before[line_start..].chars().count() + 1,
        offset,
        why: why.to_owned(),
    }
}

/// A path or name as messages show it: control characters escaped, so a name cannot move the
/// cursor or forge a line on a terminal.
fn shown(text: &str) -> String {
    crate::validate::printable(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_a_person_says_them() {
        assert_eq!(size_words(MAX_FILE_BYTES), "8 MiB");
        assert_eq!(size_words(MAX_TOTAL_BYTES), "64 MiB");
        assert_eq!(size_words(1000), "1000 bytes");
        assert_eq!(size_words(1), "1 byte");
    }

    #[test]
    fn extensions_are_found_as_go_finds_them() {
        assert_eq!(extension("a.yaml"), Some("yaml"));
        assert_eq!(extension(".yaml"), Some("yaml"));
        assert_eq!(extension("a.tar.yml"), Some("yml"));
        assert_eq!(extension("README"), None);
    }

    #[test]
    fn control_characters_in_names_are_escaped() {
        assert_eq!(shown("a\rb\u{1b}[2K.yaml"), "a\\rb\\u{1b}[2K.yaml");
        assert_eq!(shown("plain.yaml"), "plain.yaml");
    }
}
