// Package rules holds the sshenrich catalog of known SSH and VPN log
// messages and the matcher that classifies a message against it.
//
// The catalog is data: plain-text rule files (rules/catalog/*.rules,
// embedded in the binary) in which each entry carries its message
// templates in the vendor manuals' own notation,
//
//	Accepted <authentication method> for <user> from <host> port <port> [ssh2]
//
// together with a stable code, ECS event fields, a severity and a
// description and remediation in English and Japanese. Users extend or
// override entries with rule files in the same format; docs/catalog-format.md
// describes it.
//
// Compile builds a Catalog, which is immutable and shared. A Matcher,
// one per goroutine, classifies a message without allocating: it finds
// the few templates that can match through an index on the message's
// first and last bytes, runs each as a small backtracking program, and
// keeps the match with the most literal text. Captures come back as
// offsets into the message.
package rules
