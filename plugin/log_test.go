package main

import (
	"strings"
	"testing"
)

func TestOneLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain", "plain"},
		{"a\nb", "a | b"},
		{"a\r\nb\rc\n", "a | b | c"},
		{"trailing\n\n", "trailing"},
		{"", ""},
	} {
		if got := oneLine(c.in); got != c.want {
			t.Errorf("oneLine(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestStackLineIsOneLine(t *testing.T) {
	var got string
	func() {
		defer func() {
			if recover() != nil {
				got = stackLine()
			}
		}()
		panic("x")
	}()
	if got == "" || oneLine(got) != got || !strings.Contains(got, "TestStackLineIsOneLine.func1 (plugin/log_test.go:") {
		t.Errorf("stackLine() = %q", got)
	}
}
