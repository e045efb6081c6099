/* The C API of crates/rustcore (a Rust staticlib), for the Go program go/rustcall. */
#ifndef RUSTCORE_H
#define RUSTCORE_H

#include <stddef.h>
#include <stdint.h>

/* The 64-bit FNV-1a hash of len bytes at data. */
uint64_t rustcore_fnv1a(const uint8_t *data, size_t len);

/* Which revision of the library this is: a number the demo prints. */
int32_t rustcore_revision(void);

#endif
