package main

import "runtime/debug"

// version is set when the plugin is built: make plugin passes
// -ldflags "-X main.version=$(git describe)".
var version string

// pluginVersion is version, or else what the Go build recorded.
func pluginVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value[:min(len(s.Value), 12)]
			}
		}
	}
	return "devel"
}
