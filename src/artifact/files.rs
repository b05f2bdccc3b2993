//! The files `publish` sends: every regular file under `artifact-dir`, recursively, in
//! name order, read whole into memory (the upload is built once and held in memory, so the
//! caps below bound it). Left out, with a warning naming each: anything inside a `.git`
//! directory (and the `.git` file of a worktree or submodule), a file whose content is not
//! UTF-8 (the API takes text files only), a symbolic link (never followed) and anything
//! that is not a regular file. Refused before any request (exit 2, naming the file or
//! the cap): a name a multipart part cannot carry as it is (a double quote, a backslash,
//! a line break or another control character, or bytes that are not UTF-8), a directory
//! holding no file to send, and a directory over a cap.

use std::io::Read;
use std::path::{Path, PathBuf};

/// At most this many files are sent.
pub(crate) const MAX_FILES: usize = 5_000;
/// At most this many bytes of file content are sent (64 MiB), all held in memory (about
/// twice at the peak: the files as read, then the upload built from them).
pub(crate) const MAX_BYTES: u64 = 64 << 20;
/// At most this many directory entries are looked at (files, folders and what is left
/// out), so a huge tree is refused quickly rather than walked.
pub(crate) const MAX_ENTRIES: usize = 50_000;
/// Folders deeper than this are refused.
pub(crate) const MAX_DEPTH: usize = 64;
/// At most this many bad names are listed in the refusal.
const NAMES_SHOWN: usize = 10;

/// One file to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProjectFile {
    /// The path relative to `artifact-dir`, `/` between folders: the part's name.
    pub(crate) name: String,
    /// The content (valid UTF-8).
    pub(crate) bytes: Vec<u8>,
}

/// A file left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeftOut {
    /// Its path relative to `artifact-dir` (shown lossily when not UTF-8).
    pub(crate) name: String,
    /// Why: "its content is not UTF-8", ...
    pub(crate) why: &'static str,
}

/// What the walk found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Collected {
    /// The files to send, in name order.
    pub(crate) files: Vec<ProjectFile>,
    /// The files left out, in name order.
    pub(crate) left_out: Vec<LeftOut>,
}

impl Collected {
    /// The bytes of content sent.
    pub(crate) fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes.len() as u64).sum()
    }
}

/// Why a name cannot be a multipart part's name as it is, if it cannot.
pub(crate) fn name_problem(name: &str) -> Option<&'static str> {
    name.chars().find_map(|c| match c {
        '"' => Some("a double quote"),
        '\\' => Some("a backslash"),
        '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}' => Some("a line break"),
        c if c.is_control() => Some("a control character"),
        _ => None,
    })
}

/// `name` for a message: control characters shown as `\u{…}` escapes, on one line.
fn shown(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The walk's state: what it found, and what it refuses.
struct Walk {
    root: PathBuf,
    out: Collected,
    bytes: u64,
    entries: usize,
    bad_names: Vec<String>,
}

/// Read `root`: `Err` is the message for input `artifact-dir` (exit 2).
pub(crate) fn collect(root: &Path) -> Result<Collected, String> {
    let meta = std::fs::metadata(root).map_err(|e| {
        format!(
            "got '{}'; it cannot be read ({e}). Give the directory that holds the project's files.",
            root.display()
        )
    })?;
    if !meta.is_dir() {
        return Err(format!(
            "got '{}'; it is not a directory. Give the directory that holds the project's files.",
            root.display()
        ));
    }
    let mut walk = Walk {
        root: root.to_path_buf(),
        out: Collected::default(),
        bytes: 0,
        entries: 0,
        bad_names: Vec::new(),
    };
    walk.dir(root, 0)?;
    walk.finish()
}

impl Walk {
    /// Every entry of `dir`, in name order, depth first.
    fn dir(&mut self, dir: &Path, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "'{}' is more than {MAX_DEPTH} folders deep (the most accepted); give the project's own directory.",
                shown(&self.relative(dir))
            ));
        }
        let mut entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)
            .map_err(|e| format!("'{}' cannot be read ({e}).", dir.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("'{}' cannot be read ({e}).", dir.display()))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            self.entries += 1;
            if self.entries > MAX_ENTRIES {
                return Err(format!(
                    "it holds more than {MAX_ENTRIES} files and folders (the most looked at); give the project's own directory."
                ));
            }
            self.entry(&entry, depth)?;
        }
        Ok(())
    }

    fn entry(&mut self, entry: &std::fs::DirEntry, depth: usize) -> Result<(), String> {
        let path = entry.path();
        if entry.file_name() == ".git" {
            return Ok(());
        }
        let kind = entry
            .file_type()
            .map_err(|e| format!("'{}' cannot be read ({e}).", path.display()))?;
        if kind.is_dir() {
            return self.dir(&path, depth + 1);
        }
        let name = self.relative(&path);
        if kind.is_symlink() {
            return self.leave_out(name, "it is a symbolic link (links are not followed)");
        }
        if !kind.is_file() {
            return self.leave_out(name, "it is not a regular file");
        }
        match path.strip_prefix(&self.root).ok().and_then(utf8_name) {
            Some(n) if name_problem(&n).is_none() => self.read(n, &path),
            _ => {
                self.bad_names.push(name);
                Ok(())
            }
        }
    }

    fn leave_out(&mut self, name: String, why: &'static str) -> Result<(), String> {
        self.out.left_out.push(LeftOut { name, why });
        Ok(())
    }

    /// Read one file within what is left of [`MAX_BYTES`].
    fn read(&mut self, name: String, path: &Path) -> Result<(), String> {
        let left = MAX_BYTES - self.bytes;
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(left + 1).read_to_end(&mut bytes))
            .map_err(|e| format!("'{}' cannot be read ({e}).", shown(&name)))?;
        let over = bytes.len() as u64 > left;
        match std::str::from_utf8(&bytes) {
            // Cut in the middle of a character by the cap: still text so far.
            Err(e) if over && e.error_len().is_none() => {}
            Err(_) => return self.leave_out(name, "its content is not UTF-8 text"),
            Ok(_) => {}
        }
        if over {
            return Err(format!(
                "its files hold more than {} MiB (the most sent: the upload is held in memory); '{}' goes past it. Give the project's own directory.",
                MAX_BYTES >> 20,
                shown(&name)
            ));
        }
        if self.out.files.len() == MAX_FILES {
            return Err(format!(
                "it holds more than {MAX_FILES} files to send (the most sent in one artifact); give the project's own directory."
            ));
        }
        self.bytes += bytes.len() as u64;
        self.out.files.push(ProjectFile { name, bytes });
        Ok(())
    }

    fn relative(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }

    fn finish(self) -> Result<Collected, String> {
        if !self.bad_names.is_empty() {
            let n = self.bad_names.len();
            let listed: Vec<String> = self
                .bad_names
                .iter()
                .take(NAMES_SHOWN)
                .map(|name| {
                    let why = name_problem(name).unwrap_or("bytes that are not UTF-8");
                    format!("'{}' ({why})", shown(name))
                })
                .collect();
            let more = n.saturating_sub(NAMES_SHOWN);
            return Err(format!(
                "{n} file name(s) cannot be sent as a multipart part's name: {}{}. Names are sent as UTF-8 without quotes, backslashes, line breaks or control characters: rename them.",
                listed.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        if self.out.files.is_empty() {
            return Err(format!(
                "'{}' holds no file to send ({}); give the directory that holds the project's files.",
                self.root.display(),
                match self.out.left_out.len() {
                    0 => "it is empty, or holds only .git".to_string(),
                    n => format!("{n} left out"),
                }
            ));
        }
        Ok(self.out)
    }
}

/// A relative path as `a/b/c` when every part is UTF-8.
fn utf8_name(rel: &Path) -> Option<String> {
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let p =
            std::env::temp_dir().join(format!("pipeline-run-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("mkdir");
        p
    }

    fn write(root: &Path, rel: &str, content: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }

    #[test]
    fn walks_in_name_order_skipping_git_and_non_utf8() {
        let root = scratch("walk");
        write(&root, "b.orch.yaml", b"type: orchestration\n");
        write(&root, "a/deep/x.sql", b"select 1;\n");
        write(&root, "a/r\u{e9}sum\u{e9}.py", "print('é')\n".as_bytes());
        write(&root, ".git/HEAD", b"ref: refs/heads/main\n");
        write(&root, "sub/.git/config", b"[core]\n");
        write(&root, "logo.png", b"\x89PNG\r\n\x1a\n\xff");
        write(&root, "empty.txt", b"");
        std::os::unix::fs::symlink("b.orch.yaml", root.join("link.yaml")).expect("symlink");
        let c = collect(&root).expect("collected");
        let names: Vec<&str> = c.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["a/deep/x.sql", "a/résumé.py", "b.orch.yaml", "empty.txt"]
        );
        assert_eq!(
            c.left_out,
            [
                LeftOut {
                    name: "link.yaml".into(),
                    why: "it is a symbolic link (links are not followed)"
                },
                LeftOut {
                    name: "logo.png".into(),
                    why: "its content is not UTF-8 text"
                }
            ]
        );
        assert_eq!(c.bytes(), 10 + 12 + 20);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn names_a_part_cannot_carry_are_refused_by_name() {
        let root = scratch("names");
        write(&root, "ok.sql", b"x");
        write(&root, "say \"hi\".sql", b"x");
        write(&root, "two\nlines.sql", b"x");
        let e = collect(&root).expect_err("refused");
        assert_eq!(
            e,
            "2 file name(s) cannot be sent as a multipart part's name: 'say \"hi\".sql' (a double quote), 'two\\u{a}lines.sql' (a line break). Names are sent as UTF-8 without quotes, backslashes, line breaks or control characters: rename them."
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn missing_empty_and_non_directories_are_refused() {
        let root = scratch("empty");
        write(&root, ".git/HEAD", b"x");
        let e = collect(&root).expect_err("empty");
        assert!(e.ends_with("holds no file to send (it is empty, or holds only .git); give the directory that holds the project's files."), "{e}");
        let e = collect(&root.join("nope")).expect_err("missing");
        assert!(e.contains("it cannot be read"), "{e}");
        write(&root, "f.txt", b"x");
        let e = collect(&root.join("f.txt")).expect_err("a file");
        assert!(
            e.ends_with(
                "it is not a directory. Give the directory that holds the project's files."
            ),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn the_byte_cap_is_named() {
        let root = scratch("cap");
        let big = vec![b'a'; (MAX_BYTES / 2 + 1) as usize];
        write(&root, "a.sql", &big);
        write(&root, "b.sql", &big);
        let e = collect(&root).expect_err("over");
        assert_eq!(
            e,
            "its files hold more than 64 MiB (the most sent: the upload is held in memory); 'b.sql' goes past it. Give the project's own directory."
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn name_problems() {
        assert_eq!(name_problem("a/b c-é.sql"), None);
        assert_eq!(name_problem("a\\b"), Some("a backslash"));
        assert_eq!(name_problem("a\tb"), Some("a control character"));
        assert_eq!(name_problem("a\u{2028}b"), Some("a line break"));
    }
}
