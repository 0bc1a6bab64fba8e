// Command sshenrich enriches SSH and VPN log lines from the command line
// with the same code as the Fluent Bit plugin, prints or checks the
// catalog, and measures throughput.
//
//	sshenrich enrich [--input lines|json] [--style ecs|flat] [--lang en|ja|both] [FILE...]
//	sshenrich catalog [--format md|json]
//	sshenrich rules check FILE...
//	sshenrich bench [--lines N] [FILE]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `usage:
  sshenrich enrich [--input lines|json] [--style ecs|flat] [--lang en|ja|both] [--detail brief|full|codes]
                   [--tz ZONE] [--now TIME] [--rules FILE] [FILE...]
      Read log lines, or with --input json Fluent Bit records as JSON lines (stdin by
      default), and write one enriched JSON record per record (enrich -h for every flag).
  sshenrich catalog [--format md|json] [--rules FILE]
      Print the catalog.
  sshenrich rules check FILE...
      Check user rule files against the built-in catalog.
  sshenrich bench [--lines N] [--rules FILE] [FILE]
      Measure parse+classify and enrich throughput on FILE or a generated mixed log.
`

func main() {
	err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	var exit exitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		os.Exit(int(exit))
	default:
		fmt.Fprintln(os.Stderr, "sshenrich:", err)
		os.Exit(1)
	}
}

// exitError ends the program with a status after its message was printed.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError(2)
	}
	switch args[0] {
	case "enrich":
		return enrichCmd(args[1:], stdin, stdout, stderr)
	case "catalog":
		return catalogCmd(args[1:], stdout, stderr)
	case "rules":
		if len(args) < 2 || args[1] != "check" {
			fmt.Fprint(stderr, usage)
			return exitError(2)
		}
		return rulesCheckCmd(args[2:], stdout, stderr)
	case "bench":
		return benchCmd(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "sshenrich: unknown command %q\n%s", args[0], usage)
	return exitError(2)
}

// rulesFlag collects repeated --rules FILE options.
type rulesFlag []string

func (r *rulesFlag) String() string     { return fmt.Sprint(*r) }
func (r *rulesFlag) Set(v string) error { *r = append(*r, v); return nil }

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
