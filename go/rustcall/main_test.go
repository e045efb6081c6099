package main

import "testing"

// The Rust library's FNV-1a, called through cgo, against the published 64-bit test vectors.
func TestFnv1aThroughRust(t *testing.T) {
	for in, want := range map[string]uint64{
		"":         0xcbf29ce484222325,
		"a":        0xaf63dc4c8601ec8c,
		"foobar":   0x85944171f73967e8,
		"xtask-go": 0x8b534b42311f4faf,
	} {
		if got := fnv1a(in); got != want {
			t.Errorf("fnv1a(%q) = %#x, want %#x", in, got, want)
		}
	}
}
