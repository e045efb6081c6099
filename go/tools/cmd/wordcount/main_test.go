package main

import (
	"strings"
	"testing"
)

func TestCount(t *testing.T) {
	c, err := count(strings.NewReader("one two\nthree\n"))
	if err != nil || c != (counts{lines: 2, words: 3, bytes: 14}) {
		t.Fatalf("count = %+v, %v", c, err)
	}
}
