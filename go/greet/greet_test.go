package greet

import "testing"

func TestGreeting(t *testing.T) {
	cases := []struct{ name, style, want string }{
		{"Gopher", "plain", "Hello, Gopher!"},
		{"", "", "Hello, world!"},
		{"ferris", "shout", "HELLO, FERRIS!"},
	}
	for _, c := range cases {
		got, err := Greeting(c.name, c.style)
		if err != nil || got != c.want {
			t.Errorf("Greeting(%q, %q) = %q, %v; want %q", c.name, c.style, got, err, c.want)
		}
	}
	if _, err := Greeting("x", "whisper"); err == nil {
		t.Error("an unknown style must be an error")
	}
}
