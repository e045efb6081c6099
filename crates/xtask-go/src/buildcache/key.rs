//! The cache key: sha256 over a versioned, canonical encoding of everything that shapes a
//! target's output, and the diff of two key inputs that `--explain` prints.
//!
//! Encoding (format 1): the line `xtask-go cache key <FORMAT>`, then one line per item, sorted
//! by section then name: the JSON array `[section, name, value]`. Sections: `spec` (package,
//! output, flags, buildmode, profile), `env` (the pinned variables that shape output),
//! `toolchain` (GOVERSION, and the go binary's hash for a devel toolchain), `file` (repo-relative
//! path -> sha256 of the content, or `absent`), `module` (`path@version` of module-cache
//! dependencies; their content is fixed by go.sum, itself a `file`).

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bump when anything about the encoding or the set of inputs changes.
pub const FORMAT: u32 = 1;

/// A 64-hex-digit sha256 naming a cache entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CacheKey(String);

impl CacheKey {
    pub fn from_hex(hex: String) -> Result<CacheKey> {
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            bail!("not a cache key: {hex}");
        }
        Ok(CacheKey(hex))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything a key is computed from, kept so that `--explain` can say what changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInputs {
    pub spec: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    pub toolchain: BTreeMap<String, String>,
    pub files: BTreeMap<String, String>,
    pub modules: BTreeMap<String, String>,
}

/// One difference between two key inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `spec`, `env`, `toolchain`, `file` or `module`.
    pub kind: &'static str,
    pub name: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<String>| match v {
            None => "(none)".to_string(),
            Some(v) if self.kind == "file" && v.len() == 64 => format!("{}…", &v[..12]),
            Some(v) => format!("{v:?}"),
        };
        match (self.kind, &self.before, &self.after) {
            ("file", None, Some(_)) => write!(f, "file added: {}", self.name),
            ("file", Some(_), None) => write!(f, "file removed: {}", self.name),
            ("file", _, _) => write!(f, "file changed: {}", self.name),
            (kind, before, after) => write!(
                f,
                "{kind} {}: {} -> {}",
                self.name,
                show(before),
                show(after)
            ),
        }
    }
}

impl KeyInputs {
    fn sections(&self) -> [(&'static str, &BTreeMap<String, String>); 5] {
        [
            ("env", &self.env),
            ("file", &self.files),
            ("module", &self.modules),
            ("spec", &self.spec),
            ("toolchain", &self.toolchain),
        ]
    }

    /// The canonical encoding described in the module docs, as a string (what `key` hashes).
    #[cfg(test)]
    fn encode(&self) -> String {
        let mut out = Vec::new();
        self.write_encoded(&mut out);
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    /// Writes the encoding to `out` line by line (a key hashes it without building the string:
    /// 3,000 files a unit, 40 units a batch).
    fn write_encoded(&self, out: &mut impl std::io::Write) {
        let _ = writeln!(out, "xtask-go cache key {FORMAT}");
        for (section, items) in self.sections() {
            for (name, value) in items {
                serde_json::to_writer(&mut *out, &[section, name, value]).expect("strings encode");
                let _ = out.write_all(b"\n");
            }
        }
    }

    pub fn key(&self) -> CacheKey {
        let mut hasher = HashWriter(Sha256::new());
        self.write_encoded(&mut hasher);
        CacheKey(crate::buildcache::statcache::hex(&hasher.0.finalize()))
    }

    /// What changed from `old` to `self`, section by section.
    pub fn changes_since(&self, old: &KeyInputs) -> Vec<Change> {
        let mut changes = Vec::new();
        for ((kind, new), (_, old)) in self.sections().into_iter().zip(old.sections()) {
            let names: std::collections::BTreeSet<&String> = new.keys().chain(old.keys()).collect();
            for name in names {
                let (before, after) = (old.get(name), new.get(name));
                if before != after {
                    changes.push(Change {
                        kind,
                        name: name.clone(),
                        before: before.cloned(),
                        after: after.cloned(),
                    });
                }
            }
        }
        changes
    }
}

/// A `Write` that hashes what it is given.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> KeyInputs {
        let mut k = KeyInputs::default();
        k.spec.insert("package".into(), "demo/app".into());
        k.env.insert("GOOS".into(), "linux".into());
        k.files.insert("go/app/main.go".into(), "a".repeat(64));
        k
    }

    #[test]
    fn key_is_stable_and_sensitive_to_every_section() {
        let base = inputs();
        assert_eq!(base.key(), inputs().key());
        let hashed = crate::buildcache::statcache::hex(&Sha256::digest(base.encode().as_bytes()));
        assert_eq!(
            base.key().as_str(),
            hashed,
            "the key is the sha256 of the encoding"
        );
        assert!(base
            .encode()
            .starts_with("xtask-go cache key 1\n[\"env\",\"GOOS\",\"linux\"]\n"));
        let mut other = inputs();
        other.env.insert("GOOS".into(), "windows".into());
        assert_ne!(base.key(), other.key());
        let changes = other.changes_since(&base);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].to_string(), "env GOOS: \"linux\" -> \"windows\"");
        let mut other = inputs();
        other.files.insert("go/app/extra.go".into(), "b".repeat(64));
        assert_eq!(
            other.changes_since(&base)[0].to_string(),
            "file added: go/app/extra.go"
        );
    }

    #[test]
    fn names_cannot_collide_across_sections() {
        let mut a = KeyInputs::default();
        a.env.insert("x".into(), "1".into());
        let mut b = KeyInputs::default();
        b.spec.insert("x".into(), "1".into());
        assert_ne!(a.key(), b.key());
    }
}
