//! Records the target triple this library is compiled for, so that `platform::host_triple` is
//! the triple cargo built for rather than a guess from the OS and architecture.

fn main() {
    let target = std::env::var("TARGET").expect("cargo sets TARGET for build scripts");
    println!("cargo:rustc-env=XTASK_GO_HOST_TRIPLE={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
