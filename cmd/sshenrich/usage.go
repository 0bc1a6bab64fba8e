package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// newFlagSet starts the flags of the command named name. Its usage is
// printed by run, from the command's entry in commands and the flags
// themselves, so that the help cannot drift from the flags.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	if c, ok := stderr.(*flagCollector); ok {
		c.fs = fs
	}
	return fs
}

// flagCollector is the stderr of a command run only to learn its flags:
// newFlagSet hands it the flag set, and the command stops at its parse
// of "-h" (flag.ErrHelp).
type flagCollector struct{ fs *flag.FlagSet }

func (c *flagCollector) Write(p []byte) (int, error) { return len(p), nil }

// flagsOf returns a fresh copy of c's flags, every one defined, by
// running c with -h. It is nil only for a command that does not use
// newFlagSet (a test fails then).
func flagsOf(c command) *flag.FlagSet {
	col := &flagCollector{}
	_ = c.run([]string{"-h"}, strings.NewReader(""), io.Discard, col)
	return col.fs
}

// prefixWriter writes each message of the flag package (one Write each)
// after a prefix naming the command.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, p.prefix); err != nil {
		return 0, err
	}
	return p.w.Write(b)
}

// synopsis is a command's usage line: sshenrich NAME [flags] OPERANDS.
func synopsis(c command, fs *flag.FlagSet) string {
	s := "sshenrich " + c.name
	if hasFlags(fs) {
		s += " [flags]"
	}
	if c.operands != "" {
		s += " " + c.operands
	}
	return s
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	if fs != nil {
		fs.VisitAll(func(*flag.Flag) { n++ })
	}
	return n > 0
}

// writeUsage prints one command's help: `sshenrich CMD -h`.
func writeUsage(w io.Writer, c command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", synopsis(c, fs), c.summary)
	if hasFlags(fs) {
		fmt.Fprintln(w, "\nflags:")
		writeFlags(w, fs, "  ")
	}
}

// writeGroupUsage prints the help of the commands of a group, such as
// "rules".
func writeGroupUsage(w io.Writer, group []command) {
	for i, c := range group {
		if i > 0 {
			fmt.Fprintln(w)
		}
		writeUsage(w, c, flagsOf(c))
	}
}

// writeFlags lists the flags, each as --name VALUE and its description
// on the next line, as Go's flag package does.
func writeFlags(w io.Writer, fs *flag.FlagSet, indent string) {
	fs.VisitAll(func(f *flag.Flag) {
		value, usage := flag.UnquoteUsage(f)
		if p, ok := f.Value.(interface{ placeholder() string }); ok {
			value = p.placeholder()
		}
		line := indent + "--" + f.Name
		if value != "" {
			line += " " + value
		}
		switch {
		case f.DefValue == "" || f.DefValue == "false" || f.DefValue == "0":
		case value == "string":
			usage += fmt.Sprintf(" (default %q)", f.DefValue)
		default:
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n%s      %s\n", line, indent, usage)
	})
}

const helpIntro = `sshenrich classifies SSH, VPN and authentication log lines with the same
code as the Fluent Bit plugin, and explains and checks its catalog.
Every command takes -h or --help; "sshenrich help COMMAND" prints the
help of one command. Exit status: 0 on success, 1 on an error, 2 on a
usage error.`

// writeHelp prints the top-level help: every command with every flag.
func writeHelp(w io.Writer) {
	fmt.Fprintf(w, "usage: sshenrich COMMAND [flags] [operands]\n\n%s\n", helpIntro)
	for _, c := range commands() {
		fs := flagsOf(c)
		fmt.Fprintf(w, "\n%s\n    %s\n", synopsis(c, fs), c.summary)
		if hasFlags(fs) {
			writeFlags(w, fs, "    ")
		}
	}
	fmt.Fprintf(w, "\nsshenrich help [COMMAND]\n    Print this help, or the help of one command.\n")
}

// writeShortUsage lists the commands, after a usage error.
func writeShortUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: sshenrich COMMAND [flags] [operands]")
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %s\n", synopsis(c, flagsOf(c)))
	}
	fmt.Fprintln(w, "  sshenrich help [COMMAND]")
	fmt.Fprintln(w, `Run "sshenrich help" for every command's flags.`)
}

// operandError reports operands a command cannot take, with its usage,
// on stderr: status 2.
func operandError(stderr io.Writer, name, format string, args ...any) error {
	fmt.Fprintf(stderr, "sshenrich %s: %s\n", name, fmt.Sprintf(format, args...))
	for _, c := range commands() {
		if c.name == name {
			writeUsage(stderr, c, flagsOf(c))
		}
	}
	return exitError(2)
}
