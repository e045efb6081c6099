package main

import "testing"

func TestFib(t *testing.T) {
	want := []int64{0, 1, 1, 2, 3, 5, 8, 13}
	for n, w := range want {
		if got := fib(n); got != w {
			t.Errorf("fib(%d) = %d, want %d", n, got, w)
		}
	}
	if add(40, 2) != 42 {
		t.Error("add(40, 2) != 42")
	}
}
