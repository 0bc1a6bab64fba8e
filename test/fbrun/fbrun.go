// Package fbrun holds what the programs that run a real Fluent Bit
// (make bench-fluentbit, make faults-fluentbit) share: finding the
// binary, or saying why the run is skipped, reading its version, and
// watching a process and the files it writes.
package fbrun

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Find returns the fluent-bit binary to run: path when given, else
// $FLUENT_BIT, else fluent-bit on the PATH. When there is none it prints
// "<target>: skipped: <why>" and returns "", so that the make target
// passes on machines without Fluent Bit (CI).
func Find(target, path string) string {
	if path == "" {
		path = os.Getenv("FLUENT_BIT")
	}
	if path == "" {
		p, err := exec.LookPath("fluent-bit")
		if err != nil {
			fmt.Printf("%s: skipped: no fluent-bit on the PATH and FLUENT_BIT is not set\n", target)
			return ""
		}
		path = p
	}
	if st, err := os.Stat(path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		fmt.Printf("%s: skipped: %s is not an executable file\n", target, path)
		return ""
	}
	return path
}

// Version is the first line of fluent-bit --version, without its name.
func Version(bin string) string {
	out, _ := exec.Command(bin, "--version").Output()
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimPrefix(strings.TrimSpace(line), "Fluent Bit ")
}

// CheckRunning fails when the process has exited (its Wait result is on
// exited, and is put back) or the deadline has passed.
func CheckRunning(exited chan error, deadline time.Time, what string) error {
	select {
	case err := <-exited:
		exited <- err
		return fmt.Errorf("fluent-bit exited (%w) before it managed %s", err, what)
	default:
	}
	if time.Now().After(deadline) {
		return fmt.Errorf("timed out waiting for fluent-bit %s", what)
	}
	return nil
}

// Tail returns the last n lines of a file, indented, for error messages.
func Tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    | " + strings.Join(lines, "\n    | ")
}

// LineCounter counts the newlines of a growing file, reading only what
// was added since the last call.
type LineCounter struct {
	off   int64
	lines int
	// Alerts counts the lines that are sshenrich's correlation alert
	// records ("kind":"alert"), which come beside the lines.
	Alerts int
	buf    []byte
}

// Count returns the lines the file holds so far; a file not yet made
// holds none.
func (c *LineCounter) Count(path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }() // read only
	if c.buf == nil {
		c.buf = make([]byte, 1<<20)
	}
	for {
		n, err := f.ReadAt(c.buf, c.off)
		// Whole lines only, so that an alert's mark is never cut in two.
		whole := bytes.LastIndexByte(c.buf[:n], '\n') + 1
		if whole == 0 && n == len(c.buf) {
			whole = n // a line longer than the buffer
		}
		c.lines += bytes.Count(c.buf[:whole], []byte{'\n'})
		c.Alerts += bytes.Count(c.buf[:whole], []byte(`"kind":"alert"`))
		c.off += int64(whole)
		if err == io.EOF {
			return c.lines, nil
		}
		if err != nil {
			return c.lines, err
		}
	}
}
