// Command wordcount counts lines, words and bytes of its files (or stdin), like a small wc.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

type counts struct{ lines, words, bytes int }

func count(r io.Reader) (counts, error) {
	var c counts
	br := bufio.NewReader(r)
	inWord := false
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			return c, nil
		}
		if err != nil {
			return c, err
		}
		c.bytes++
		switch b {
		case '\n':
			c.lines++
			inWord = false
		case ' ', '\t', '\r':
			inWord = false
		default:
			if !inWord {
				c.words++
			}
			inWord = true
		}
	}
}

func main() {
	if len(os.Args) < 2 {
		c, err := count(os.Stdin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "wordcount:", err)
			os.Exit(1)
		}
		fmt.Printf("%d %d %d\n", c.lines, c.words, c.bytes)
		return
	}
	for _, name := range os.Args[1:] {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "wordcount:", err)
			os.Exit(1)
		}
		c, err := count(f)
		f.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "wordcount:", err)
			os.Exit(1)
		}
		fmt.Printf("%d %d %d %s\n", c.lines, c.words, c.bytes, name)
	}
}
