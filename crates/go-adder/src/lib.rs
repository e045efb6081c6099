//! Safe Rust wrappers over the functions go/golib exports (`Add`, `Fib`), linked from the Go
//! c-archive that `cargo xtask build` builds. An example of a Rust crate using a Go library.

#[cfg(not(no_go_archive))]
#[allow(unsafe_code)]
mod ffi {
    // Declared in the archive's header, libgolib.h: `long long Add(long long, long long)`.
    extern "C" {
        pub fn Add(a: i64, b: i64) -> i64;
        pub fn Fib(n: i32) -> i64;
    }

    pub fn add(a: i64, b: i64) -> i64 {
        // SAFETY: Add takes and returns plain integers and touches no Rust memory.
        unsafe { Add(a, b) }
    }

    pub fn fib(n: i32) -> i64 {
        // SAFETY: as for Add.
        unsafe { Fib(n) }
    }
}

#[cfg(no_go_archive)]
mod ffi {
    const HOW: &str =
        "go-adder was built without its Go archive: use `cargo xtask build` or `cargo xtask test`";
    pub fn add(_: i64, _: i64) -> i64 {
        panic!("{HOW}")
    }
    pub fn fib(_: i32) -> i64 {
        panic!("{HOW}")
    }
}

/// `a + b`, computed by Go.
pub fn add(a: i64, b: i64) -> i64 {
    ffi::add(a, b)
}

/// The n-th Fibonacci number (0, 1, 1, 2, ...), computed by Go.
pub fn fib(n: u16) -> i64 {
    ffi::fib(i32::from(n))
}

#[cfg(test)]
mod tests {
    #[test]
    fn go_adds_and_counts_fibonacci() {
        assert_eq!(super::add(40, 2), 42);
        assert_eq!(super::add(-7, 7), 0);
        assert_eq!(super::fib(10), 55);
        assert_eq!(super::fib(50), 12_586_269_025);
    }
}
