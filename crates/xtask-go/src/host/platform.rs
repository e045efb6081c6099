//! Rust target triples and the Go platform (GOOS, GOARCH and arch variant) each maps to.
//!
//! One table holds every mapping; a triple that is not in it, or that Go cannot
//! build, is an error that names the triple and the supported ones.

use anyhow::{bail, Result};
use serde::Serialize;

/// What Go calls a platform: GOOS, GOARCH and the variable that picks the
/// architecture level (GOAMD64, GOARM, GOARM64, GO386), always explicit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GoPlatform {
    pub triple: String,
    pub goos: &'static str,
    pub goarch: &'static str,
    /// (`GOAMD64`, `v1`) and the like: set even where it is go's default, so
    /// that a leaked variable of the user's cannot change the output.
    pub variant: Option<(&'static str, &'static str)>,
}

impl GoPlatform {
    /// The file name of an executable for this platform.
    pub fn exe_name(&self, name: &str) -> String {
        match self.goos {
            "windows" => format!("{name}.exe"),
            "wasip1" | "js" => format!("{name}.wasm"),
            _ => name.to_string(),
        }
    }

    /// `GOOS=linux GOARCH=amd64 GOAMD64=v1` as environment pairs.
    pub fn env(&self) -> Vec<(&'static str, &'static str)> {
        let mut env = vec![("GOOS", self.goos), ("GOARCH", self.goarch)];
        env.extend(self.variant);
        env
    }
}

/// (triple, GOOS, GOARCH, variant).
type Row = (
    &'static str,
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
);

/// Rust tier 1 and the common tier 2 triples.
const TABLE: &[Row] = &[
    (
        "x86_64-unknown-linux-gnu",
        "linux",
        "amd64",
        Some(("GOAMD64", "v1")),
    ),
    (
        "x86_64-unknown-linux-musl",
        "linux",
        "amd64",
        Some(("GOAMD64", "v1")),
    ),
    (
        "aarch64-unknown-linux-gnu",
        "linux",
        "arm64",
        Some(("GOARM64", "v8.0")),
    ),
    (
        "aarch64-unknown-linux-musl",
        "linux",
        "arm64",
        Some(("GOARM64", "v8.0")),
    ),
    (
        "armv7-unknown-linux-gnueabihf",
        "linux",
        "arm",
        Some(("GOARM", "7")),
    ),
    (
        "armv7-unknown-linux-musleabihf",
        "linux",
        "arm",
        Some(("GOARM", "7")),
    ),
    (
        "arm-unknown-linux-gnueabihf",
        "linux",
        "arm",
        Some(("GOARM", "6")),
    ),
    (
        "arm-unknown-linux-gnueabi",
        "linux",
        "arm",
        Some(("GOARM", "5")),
    ),
    (
        "i686-unknown-linux-gnu",
        "linux",
        "386",
        Some(("GO386", "sse2")),
    ),
    (
        "riscv64gc-unknown-linux-gnu",
        "linux",
        "riscv64",
        Some(("GORISCV64", "rva20u64")),
    ),
    (
        "powerpc64le-unknown-linux-gnu",
        "linux",
        "ppc64le",
        Some(("GOPPC64", "power8")),
    ),
    ("s390x-unknown-linux-gnu", "linux", "s390x", None),
    ("loongarch64-unknown-linux-gnu", "linux", "loong64", None),
    (
        "x86_64-apple-darwin",
        "darwin",
        "amd64",
        Some(("GOAMD64", "v1")),
    ),
    (
        "aarch64-apple-darwin",
        "darwin",
        "arm64",
        Some(("GOARM64", "v8.0")),
    ),
    (
        "aarch64-apple-ios",
        "ios",
        "arm64",
        Some(("GOARM64", "v8.0")),
    ),
    (
        "x86_64-pc-windows-gnu",
        "windows",
        "amd64",
        Some(("GOAMD64", "v1")),
    ),
    (
        "x86_64-pc-windows-msvc",
        "windows",
        "amd64",
        Some(("GOAMD64", "v1")),
    ),
    (
        "i686-pc-windows-msvc",
        "windows",
        "386",
        Some(("GO386", "sse2")),
    ),
    (
        "i686-pc-windows-gnu",
        "windows",
        "386",
        Some(("GO386", "sse2")),
    ),
    (
        "aarch64-pc-windows-msvc",
        "windows",
        "arm64",
        Some(("GOARM64", "v8.0")),
    ),
    (
        "aarch64-pc-windows-gnullvm",
        "windows",
        "arm64",
        Some(("GOARM64", "v8.0")),
    ),
    (
        "x86_64-unknown-freebsd",
        "freebsd",
        "amd64",
        Some(("GOAMD64", "v1")),
    ),
    (
        "aarch64-unknown-freebsd",
        "freebsd",
        "arm64",
        Some(("GOARM64", "v8.0")),
    ),
    (
        "x86_64-unknown-netbsd",
        "netbsd",
        "amd64",
        Some(("GOAMD64", "v1")),
    ),
    (
        "x86_64-unknown-openbsd",
        "openbsd",
        "amd64",
        Some(("GOAMD64", "v1")),
    ),
    (
        "x86_64-unknown-illumos",
        "illumos",
        "amd64",
        Some(("GOAMD64", "v1")),
    ),
    (
        "aarch64-linux-android",
        "android",
        "arm64",
        Some(("GOARM64", "v8.0")),
    ),
    ("wasm32-wasip1", "wasip1", "wasm", None),
    ("wasm32-unknown-unknown", "js", "wasm", None),
];

/// Triples Rust knows that Go has no port for: a clear "no" instead of "unknown".
const NO_GO_PORT: &[&str] = &[
    "thumbv7em-none-eabihf",
    "x86_64-unknown-uefi",
    "wasm32-unknown-emscripten",
    "sparc64-unknown-linux-gnu",
];

/// The Go platform for a Rust target triple.
pub fn go_platform(triple: &str) -> Result<GoPlatform> {
    if let Some(&(triple, goos, goarch, variant)) = TABLE.iter().find(|row| row.0 == triple) {
        return Ok(GoPlatform {
            triple: triple.to_string(),
            goos,
            goarch,
            variant,
        });
    }
    if NO_GO_PORT.contains(&triple) || triple.contains("-none-") {
        bail!("Go cannot build for `{triple}`: it has no port for that platform (see `go tool dist list`)");
    }
    bail!(
        "unknown target triple `{triple}`; supported triples: {}",
        TABLE.iter().map(|row| row.0).collect::<Vec<_>>().join(", ")
    )
}

/// Every triple in the table, for `--help` and docs.
pub fn known_triples() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|row| row.0)
}

/// The triple of the machine this binary was built for (the host): cargo's TARGET, captured
/// by the build script.
pub fn host_triple() -> &'static str {
    env!("XTASK_GO_HOST_TRIPLE")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_tier1_triples() {
        let p = go_platform("aarch64-unknown-linux-gnu").unwrap();
        assert_eq!((p.goos, p.goarch), ("linux", "arm64"));
        let p = go_platform("x86_64-pc-windows-gnu").unwrap();
        assert_eq!(p.exe_name("hello"), "hello.exe");
        let p = go_platform("armv7-unknown-linux-gnueabihf").unwrap();
        assert_eq!(
            p.env(),
            vec![("GOOS", "linux"), ("GOARCH", "arm"), ("GOARM", "7")]
        );
        assert_eq!(go_platform("wasm32-wasip1").unwrap().goos, "wasip1");
    }

    #[test]
    fn rejects_unknown_and_unportable_triples() {
        let err = go_platform("thumbv7em-none-eabihf")
            .unwrap_err()
            .to_string();
        assert!(err.contains("Go cannot build"), "{err}");
        let err = go_platform("x86_64-unknown-linux-gnux")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown target triple") && err.contains("x86_64-unknown-linux-gnu"),
            "{err}"
        );
    }

    #[test]
    fn every_row_is_a_platform_go_knows() {
        // `go tool dist list` on go 1.26 (checked by hand); keeps typos out of the table.
        const DIST: &[&str] = &[
            "linux/amd64",
            "linux/arm64",
            "linux/arm",
            "linux/386",
            "linux/riscv64",
            "linux/ppc64le",
            "linux/s390x",
            "linux/loong64",
            "darwin/amd64",
            "darwin/arm64",
            "ios/arm64",
            "windows/amd64",
            "windows/386",
            "windows/arm64",
            "freebsd/amd64",
            "freebsd/arm64",
            "netbsd/amd64",
            "openbsd/amd64",
            "illumos/amd64",
            "android/arm64",
            "wasip1/wasm",
            "js/wasm",
        ];
        for (triple, goos, goarch, _) in TABLE {
            assert!(
                DIST.contains(&format!("{goos}/{goarch}").as_str()),
                "{triple}"
            );
        }
    }
}
