package config

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEConfigTable holds the README's configuration table to Keys:
// every key is documented with its default.
func TestREADMEConfigTable(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	if !strings.Contains(readme, MarkdownTable()) {
		t.Errorf("README.md's configuration table differs from config.Keys; it should read:\n%s", MarkdownTable())
	}
}
