//! The native inputs of a cgo package that go itself does not track: headers included from
//! outside the package directory (found through the including file's directory and the `-I`
//! family of the cgo flags), and the C libraries its link flags name (`-L dir -lname`,
//! `-l:file`, a library path). `go help cache`: "The build cache does not detect changes to C
//! libraries imported with cgo"; so they enter the input set, and the directories searched for
//! them too (a header or library appearing earlier in the search path changes what is found).

use std::collections::{BTreeMap, BTreeSet};

use camino::{Utf8Path, Utf8PathBuf};

use crate::go::gosource;

/// One cgo package's flags as go list gives them (`${SRCDIR}` expanded), and its directory.
pub(super) struct PackageFlags<'a> {
    pub dir: &'a Utf8Path,
    /// CgoCFLAGS, CgoCPPFLAGS and CgoCXXFLAGS.
    pub compile: Vec<&'a str>,
    /// CgoLDFLAGS.
    pub link: Vec<&'a str>,
}

/// What the cgo packages of a closure need besides their own files.
#[derive(Debug, Default)]
pub(super) struct Natives {
    pub headers: BTreeSet<Utf8PathBuf>,
    pub libs: BTreeSet<Utf8PathBuf>,
    /// Include and library search directories, and the directories of headers found.
    pub dirs: BTreeSet<Utf8PathBuf>,
}

/// Splits a flags variable as a shell would for simple words (go's quoting aside).
fn env_words<'a>(env: &'a BTreeMap<String, String>, names: &[&str]) -> Vec<&'a str> {
    names
        .iter()
        .filter_map(|n| env.get(*n))
        .flat_map(|v| v.split_whitespace())
        .collect()
}

/// `-Ifoo`, `-I foo` (and the same for each of `options`): the values, in order.
fn option_values<'a>(words: &[&'a str], options: &[&str]) -> Vec<&'a str> {
    let mut values = Vec::new();
    let mut i = 0;
    while i < words.len() {
        for option in options {
            if let Some(rest) = words[i].strip_prefix(option) {
                if !rest.is_empty() {
                    values.push(rest);
                } else if let Some(next) = words.get(i + 1) {
                    values.push(next);
                    i += 1;
                }
                break;
            }
        }
        i += 1;
    }
    values
}

/// `path` made absolute against `dir`, with `.` and `..` resolved lexically (as the C
/// compiler's search does for a path it is given).
fn absolute(dir: &Utf8Path, path: &str) -> Utf8PathBuf {
    let joined = dir.join(path);
    let mut out = Utf8PathBuf::new();
    for part in joined.components() {
        match part {
            camino::Utf8Component::ParentDir => {
                out.pop();
            }
            camino::Utf8Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

impl Natives {
    /// Adds what the cgo package with `flags` includes and links; `sources` are its own Go
    /// (cgo), C and assembly files; `env` the pinned environment (CGO_CFLAGS and the rest).
    pub fn add_package(
        &mut self,
        flags: &PackageFlags<'_>,
        sources: &[Utf8PathBuf],
        env: &BTreeMap<String, String>,
    ) {
        let mut compile = env_words(env, &["CGO_CFLAGS", "CGO_CPPFLAGS", "CGO_CXXFLAGS"]);
        compile.extend(&flags.compile);
        let search = |options: &[&str]| -> Vec<Utf8PathBuf> {
            option_values(&compile, options)
                .into_iter()
                .map(|d| absolute(flags.dir, d))
                .collect()
        };
        let quote_dirs = search(&["-iquote"]);
        let angle_dirs: Vec<Utf8PathBuf> = search(&["-I", "-isystem", "-idirafter"]);
        self.dirs.extend(
            quote_dirs
                .iter()
                .chain(&angle_dirs)
                .filter(|d| d.is_dir())
                .cloned(),
        );
        let own: BTreeSet<&Utf8PathBuf> = sources.iter().collect();
        let mut pending: Vec<Utf8PathBuf> = sources.to_vec();
        let mut seen: BTreeSet<Utf8PathBuf> = BTreeSet::new();
        while let Some(file) = pending.pop() {
            if !seen.insert(file.clone()) {
                continue;
            }
            let Ok(bytes) = std::fs::read(&file) else {
                continue;
            };
            // In a Go file only the header (the cgo preamble) can include anything.
            let text = if file.extension() == Some("go") {
                &bytes[..gosource::header_end(&bytes)]
            } else {
                &bytes[..]
            };
            let here = file.parent().unwrap_or(flags.dir).to_owned();
            for (name, quoted) in gosource::c_includes(text) {
                // Quoted: the including file's directory, then -iquote; both: -I and the rest.
                let mut candidates = Vec::new();
                if quoted {
                    candidates.push(here.clone());
                    candidates.extend(quote_dirs.iter().cloned());
                }
                candidates.extend(angle_dirs.iter().cloned());
                let candidates = candidates.into_iter();
                let found = candidates
                    .map(|d| absolute(&d, &name))
                    .find(|p| p.is_file());
                if let Some(header) = found {
                    if !own.contains(&header) {
                        if let Some(parent) = header.parent() {
                            self.dirs.insert(parent.to_owned());
                        }
                        self.headers.insert(header.clone());
                    }
                    pending.push(header);
                }
            }
        }
        let mut link = env_words(env, &["CGO_LDFLAGS"]);
        link.extend(&flags.link);
        self.add_libraries(flags.dir, &link);
    }

    /// Resolves `-lname` and `-l:file` in the `-L` directories as ld does (per directory, the
    /// shared library before the static one), and takes library paths as they are.
    fn add_libraries(&mut self, dir: &Utf8Path, words: &[&str]) {
        let lib_dirs: Vec<Utf8PathBuf> = option_values(words, &["-L"])
            .into_iter()
            .map(|d| absolute(dir, d))
            .collect();
        self.dirs
            .extend(lib_dirs.iter().filter(|d| d.is_dir()).cloned());
        for name in option_values(words, &["-l"]) {
            let candidates: Vec<String> = match name.strip_prefix(':') {
                Some(file) => vec![file.to_owned()],
                None => vec![format!("lib{name}.so"), format!("lib{name}.a")],
            };
            let found = lib_dirs
                .iter()
                .flat_map(|d| candidates.iter().map(move |c| d.join(c)))
                .find(|p| p.is_file());
            self.libs.extend(found);
        }
        let is_library = |w: &str| {
            !w.starts_with('-')
                && (w.ends_with(".a")
                    || w.ends_with(".o")
                    || w.ends_with(".so")
                    || w.contains(".so.")
                    || w.ends_with(".dylib"))
        };
        for word in words.iter().filter(|w| is_library(w)) {
            let path = absolute(dir, word);
            if path.is_file() {
                self.libs.insert(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_outside_the_package_and_libraries_are_found() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(tmp.path()).unwrap();
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        };
        let main = write(
            "pkg/main.go",
            "package main\n\n// #cgo CFLAGS: -I../inc\n// #include \"../common/a.h\"\n// #include <b.h>\nimport \"C\"\n\nfunc main() {}\n// #include \"not-preamble.h\"\n",
        );
        write("common/a.h", "#include \"nested.h\"\n");
        write("common/nested.h", "int n;\n");
        write("inc/b.h", "#include <stdio.h>\n");
        write("libs/libgreet.a", "!<arch>\n");
        write("libs/libgreet.so", "ELF");
        write("libs/extra.o", "o");
        let pkg = root.join("pkg");
        let inc = root.join("inc").to_string();
        let libs = root.join("libs").to_string();
        let mut natives = Natives::default();
        let mut env = BTreeMap::new();
        env.insert("CGO_LDFLAGS".to_owned(), "-g -O2 -lm".to_owned());
        natives.add_package(
            &PackageFlags {
                dir: &pkg,
                compile: vec!["-I", &inc],
                link: vec!["-L", &libs, "-lgreet", "-l:libgreet.a", "../libs/extra.o"],
            },
            &[main],
            &env,
        );
        let names = |set: &BTreeSet<Utf8PathBuf>| -> Vec<String> {
            set.iter()
                .map(|p| p.strip_prefix(root).unwrap().to_string())
                .collect()
        };
        assert_eq!(
            names(&natives.headers),
            ["common/a.h", "common/nested.h", "inc/b.h"]
        );
        assert_eq!(
            names(&natives.libs),
            ["libs/extra.o", "libs/libgreet.a", "libs/libgreet.so"]
        );
        assert_eq!(names(&natives.dirs), ["common", "inc", "libs"]);
    }
}
