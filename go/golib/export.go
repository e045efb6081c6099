package main

import "C"

// Add returns a + b.
//
//export Add
func Add(a, b C.longlong) C.longlong { return C.longlong(add(int64(a), int64(b))) }

// Fib returns the n-th Fibonacci number.
//
//export Fib
func Fib(n C.int) C.longlong { return C.longlong(fib(int(n))) }
