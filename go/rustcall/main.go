// Command rustcall calls the Rust library crates/rustcore through cgo: `cargo xtask go-build`
// builds the crate for this build's target triple first and hands cgo its header, its
// librustcore.a and the native libraries it needs (see [package.metadata.xtask-go] in
// crates/rustcore/Cargo.toml), so this file names only the header.
package main

// #include "rustcore.h"
import "C"

import (
	"fmt"
	"unsafe"
)

func fnv1a(s string) uint64 {
	b := []byte(s)
	if len(b) == 0 {
		return uint64(C.rustcore_fnv1a(nil, 0))
	}
	return uint64(C.rustcore_fnv1a((*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))))
}

func main() {
	fmt.Printf("fnv1a(%q) = %#016x, from rustcore revision %d\n", "xtask-go", fnv1a("xtask-go"), int32(C.rustcore_revision()))
}
