// Package greet builds greetings; it is the library that the hello command uses.
package greet

import (
	"fmt"
	"strings"
)

// Greeting returns a greeting for name in the given style ("plain" or "shout").
func Greeting(name, style string) (string, error) {
	if strings.TrimSpace(name) == "" {
		name = "world"
	}
	switch style {
	case "", "plain":
		return fmt.Sprintf("Hello, %s!", name), nil
	case "shout":
		return strings.ToUpper(fmt.Sprintf("hello, %s!", name)), nil
	default:
		return "", fmt.Errorf("unknown style %q (want plain or shout)", style)
	}
}
