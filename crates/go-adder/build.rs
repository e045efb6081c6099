//! Links the Go archive that `cargo xtask build` (or `test`) built from go/golib, found through
//! the variables it sets: XTASK_GO_GOLIB_LIB_DIR (the directory), XTASK_GO_GOLIB_LIB_NAME
//! (`golib`, for libgolib.a) and XTASK_GO_GOLIB_LINK (`static`).

fn main() {
    for var in [
        "XTASK_GO_GOLIB_LIB_DIR",
        "XTASK_GO_GOLIB_LIB_NAME",
        "XTASK_GO_GOLIB_LINK",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rustc-check-cfg=cfg(no_go_archive)");
    let Ok(dir) = std::env::var("XTASK_GO_GOLIB_LIB_DIR") else {
        // Compiles (for clippy, rust-analyzer), but every call says how to get the archive.
        println!("cargo::warning=XTASK_GO_GOLIB_LIB_DIR is not set: build through `cargo xtask build` or `cargo xtask test`, which build go/golib first");
        println!("cargo::rustc-cfg=no_go_archive");
        return;
    };
    let name = std::env::var("XTASK_GO_GOLIB_LIB_NAME").unwrap_or_else(|_| "golib".into());
    let link = std::env::var("XTASK_GO_GOLIB_LINK").unwrap_or_else(|_| "static".into());
    println!("cargo::rustc-link-search=native={dir}");
    println!("cargo::rustc-link-lib={link}={name}");
    println!("cargo::rerun-if-changed={dir}/lib{name}.a");
    // What the Go runtime inside the archive needs from the platform.
    match std::env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("macos") => {
            println!("cargo::rustc-link-lib=framework=CoreFoundation");
            println!("cargo::rustc-link-lib=framework=Security");
        }
        Ok("windows") => {}
        _ => println!("cargo::rustc-link-lib=dylib=pthread"),
    }
}
