// Package correlate answers what one log line cannot: which session a
// line belongs to and what it lacks (the address of a PAM line, the user
// of a disconnect, the common name behind a VPN pool address), how long
// a session lasted, whether a polled switch line was seen before, and
// whether a source is guessing passwords, as the catalog's correlation
// rules (rules/catalog/correlation.rules) define.
//
// Its input is a Fact per line, filled without allocation either from a
// fresh classification (Builder.Build, from parser.Envelope and
// rules.Result) or from the fields of a record enriched elsewhere (an
// aggregator's input). Its output, into a caller-owned Output, is the
// session id, the inferred fields with their names, the duration of a
// closing line, a repeat mark, and the alerts the line raised, which the
// caller writes as extra records (event.kind: alert).
//
// Time is the lines' own: windows and time-to-live use line time, never
// the wall clock, so that replays and backfills correlate as they
// happened. Every table is bounded, evicts the records that die first,
// and counts its evictions (Stats). The facts of a chunk form a
// transaction (Engine.Begin, Tx.Commit, Tx.Abort), so that a chunk
// Fluent Bit retries is counted once. docs/correlation.md describes the
// model, the rule format and the figures.
package correlate
