// Command hello prints a greeting built by the sibling module demo.local/greet.
package main

import (
	"flag"
	"fmt"
	"os"

	"demo.local/greet"
)

func main() {
	name := flag.String("name", "world", "who to greet")
	style := flag.String("style", "plain", "plain or shout")
	flag.Parse()
	msg, err := greet.Greeting(*name, *style)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(2)
	}
	fmt.Println(msg)
}
