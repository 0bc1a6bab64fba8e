// Command sshenrich enriches SSH and VPN log lines from the command line
// with the same code as the Fluent Bit plugin, explains catalog entries,
// prints or checks the catalog, and measures throughput: the operator's
// test tool for the plugin.
//
//	sshenrich enrich [--input lines|json] [flags] [FILE...]
//	sshenrich explain [flags] CODE|NAME...
//	sshenrich catalog [flags]
//	sshenrich rules check FILE...
//	sshenrich bench [flags] [FILE]
//	sshenrich version
//	sshenrich help [COMMAND]
//
// `sshenrich help` lists every command with every flag.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/sshenrich/sshenrich/rules"
)

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

// command is one subcommand: how it is typed, what it takes after its
// flags, and what runs it. A command's run defines its flags on a
// newFlagSet and parses them before it does anything else: flagsOf
// relies on it to learn the flags for the help and to check them before
// the command runs.
type command struct {
	name     string // as typed: "enrich", "rules check"
	operands string // what follows the flags, for the usage line
	summary  string
	run      func(args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// commands lists the subcommands in the order the help shows them. It
// is a function, not a variable, because the commands' own code looks
// their entry up here (operandError).
func commands() []command {
	return []command{
		{"enrich", "[FILE...]", "Read log lines (--input lines, the default) or Fluent Bit records as JSON lines (--input json: as Fluent Bit's stdout or file output, or journalctl -o json, writes them) from FILEs or stdin, and write one enriched JSON record per record: the record the plugin re-emits for it. A JSON line that is not one object is reported as FILE:LINE on stderr and skipped; the status is then 1.", enrichCmd},
		{"explain", "CODE|NAME...", "Print everything the catalog says about an entry, found by its code or rule name (any case).", noStdin(explainCmd)},
		{"catalog", "", "Print the catalog, as docs/catalog.md or as JSON.", noStdin(catalogCmd)},
		{"rules check", "FILE...", "Check user rule files against the built-in catalog; errors are reported as file:line: reason.", noStdin(rulesCheckCmd)},
		{"bench", "[FILE]", "Measure parse+classify and enrich throughput on FILE or a generated mixed log.", noStdin(benchCmd)},
		{"version", "", "Print the version, the Go version, the VCS revision and the size of the built-in catalog.", noStdin(versionCmd)},
	}
}

// noStdin adapts a command that reads no standard input.
func noStdin(f func(args []string, stdout, stderr io.Writer) error) func([]string, io.Reader, io.Writer, io.Writer) error {
	return func(args []string, _ io.Reader, stdout, stderr io.Writer) error { return f(args, stdout, stderr) }
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		writeShortUsage(stderr)
		return exitError(2)
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return helpCmd(args[1:], stdout, stderr)
	case "-version", "--version":
		return versionCmd(args[1:], stdout, stderr)
	}
	c, rest, group := lookup(args)
	if c == nil {
		if len(group) > 0 && len(args) > 1 && isHelpArg(args[1]) {
			writeGroupUsage(stdout, group)
			return nil
		}
		return unknownCommand(args, group, stderr)
	}
	// The command's own flag set checks the flags first, so that -h,
	// --help and a bad flag behave alike for every command.
	fs := flagsOf(*c)
	fs.SetOutput(prefixWriter{stderr, "sshenrich " + c.name + ": "})
	flags, operands, err := splitArgs(fs, rest)
	switch {
	case errors.Is(err, flag.ErrHelp):
		writeUsage(stdout, *c, fs)
		return nil
	case err != nil:
		writeUsage(stderr, *c, fs)
		return exitError(2)
	}
	return c.run(append(append(flags, "--"), operands...), stdin, stdout, stderr)
}

// splitArgs parses args with fs and sorts them into flags and operands,
// so that flags may also follow operands (explain SSHD-0001 --lang ja).
// Everything after "--" is an operand. A first operand "help" asks for
// the help, as -h does (flag.ErrHelp); a file named help is ./help.
func splitArgs(fs *flag.FlagSet, args []string) (flags, operands []string, err error) {
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, nil, err
		}
		rest := fs.Args()
		used := args[:len(args)-len(rest)]
		if len(used) > 0 && used[len(used)-1] == "--" {
			return append(flags, used[:len(used)-1]...), append(operands, rest...), nil
		}
		flags = append(flags, used...)
		if len(rest) == 0 {
			break
		}
		if len(operands) == 0 && rest[0] == "help" {
			return nil, nil, flag.ErrHelp
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
	return flags, operands, nil
}

// lookup finds the command args start with, and the arguments after its
// name. When there is none and args[0] names a group of commands
// ("rules"), group holds them.
func lookup(args []string) (c *command, rest []string, group []command) {
	all := commands()
	for i := range all {
		words := strings.Fields(all[i].name)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			return &all[i], args[len(words):], nil
		}
	}
	for _, c := range all {
		if strings.HasPrefix(c.name, args[0]+" ") {
			group = append(group, c)
		}
	}
	return nil, nil, group
}

// unknownCommand says that args name no command, on stderr: status 2.
func unknownCommand(args []string, group []command, stderr io.Writer) error {
	if len(group) == 0 {
		fmt.Fprintf(stderr, "sshenrich: unknown command %q%s\n", args[0], didYouMean(args[0], commandNames()))
		writeShortUsage(stderr)
		return exitError(2)
	}
	if len(args) > 1 {
		fmt.Fprintf(stderr, "sshenrich %s: unknown command %q\n", args[0], args[1])
	} else {
		fmt.Fprintf(stderr, "sshenrich %s: a command is needed\n", args[0])
	}
	for _, c := range group {
		fmt.Fprintf(stderr, "usage: %s\n", synopsis(c, flagsOf(c)))
	}
	return exitError(2)
}

func isHelpArg(s string) bool {
	return s == "help" || s == "-h" || s == "-help" || s == "--help"
}

func commandNames() []string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return append(names, "help")
}

// didYouMean suggests the name closest to s, as ` (did you mean "x"?)`.
func didYouMean(s string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if d := rules.EditDistance(strings.ToLower(s), n); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// helpCmd prints the help of every command, or of the command named.
func helpCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || isHelpArg(args[0]) {
		writeHelp(stdout)
		return nil
	}
	c, rest, group := lookup(args)
	switch {
	case c != nil && len(rest) == 0:
		writeUsage(stdout, *c, flagsOf(*c))
		return nil
	case c == nil && len(group) > 0 && len(args) == 1:
		writeGroupUsage(stdout, group)
		return nil
	case c != nil:
		args = args[:len(args)-len(rest)+1] // the name and the word after it
	}
	fmt.Fprintf(stderr, "sshenrich help: no command %q%s\n", strings.Join(args, " "), didYouMean(strings.Join(args, " "), commandNames()))
	writeShortUsage(stderr)
	return exitError(2)
}

// rulesFlag collects repeated --rules FILE options.
type rulesFlag []string

func (r *rulesFlag) String() string     { return strings.Join(*r, ",") }
func (r *rulesFlag) Set(v string) error { *r = append(*r, v); return nil }

// placeholder names the flag's value in the usage.
func (r *rulesFlag) placeholder() string { return "FILE" }
