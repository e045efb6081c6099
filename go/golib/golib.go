// Command golib is built as a C archive (-buildmode=c-archive) that the Rust crate
// crates/go-adder links; export.go holds the exported C API, this file the Go logic.
package main

// add returns a + b.
func add(a, b int64) int64 { return a + b }

// fib returns the n-th Fibonacci number (0, 1, 1, 2, ...), iteratively.
func fib(n int) int64 {
	a, b := int64(0), int64(1)
	for i := 0; i < n; i++ {
		a, b = b, a+b
	}
	return a
}

// main is required of a c-archive's package; it never runs.
func main() {}
