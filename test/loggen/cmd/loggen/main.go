// Command loggen writes a deterministic mixed (or sshd-only) log for
// benchmarks and side-by-side comparisons with other parsers.
//
//	loggen [-n 200000] [-seed 1] [-sshd] > file.log
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"github.com/sshenrich/sshenrich/test/loggen"
)

func main() {
	n := flag.Int("n", 200000, "number of lines")
	seed := flag.Uint64("seed", 1, "random seed")
	sshd := flag.Bool("sshd", false, "sshd lines only (RFC 3164 syslog)")
	flag.Parse()
	w := bufio.NewWriter(os.Stdout)
	err := loggen.Write(w, *n, *seed, *sshd)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loggen:", err)
		os.Exit(1)
	}
}
