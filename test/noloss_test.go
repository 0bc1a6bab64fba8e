package test

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/test/fwdserver"
)

// noLossRecords is how many numbered records each run sends.
const noLossRecords = 1_000_000

// seen counts arrivals by sequence number, and holds each number's
// event.id: every copy a retry re-emits must carry the id of the first.
type seen struct {
	mu       sync.Mutex
	bits     []uint64
	ids      [][22]byte
	unique   int
	dups     int
	idDiffer int // copies whose event.id is not the first copy's
	bad      atomic.Int64
}

// eventIDKey is the msgpack of the key "id" and the header of a string
// of 22 bytes: only event.id has both in these records.
var eventIDKey = []byte{0xa2, 'i', 'd', 0xb6}

func (s *seen) record(body []byte) {
	// The line reads "... Invalid user u<seq> from ...".
	i := bytes.Index(body, []byte("Invalid user u"))
	if i < 0 {
		s.bad.Add(1)
		return
	}
	j := i + len("Invalid user u")
	k := j
	for k < len(body) && body[k] >= '0' && body[k] <= '9' {
		k++
	}
	n, err := strconv.Atoi(string(body[j:k]))
	if err != nil || n < 0 || n >= noLossRecords {
		s.bad.Add(1)
		return
	}
	var id [22]byte
	at := bytes.Index(body, eventIDKey)
	if at < 0 || at+len(eventIDKey)+len(id) > len(body) {
		s.bad.Add(1)
		return
	}
	copy(id[:], body[at+len(eventIDKey):])
	s.mu.Lock()
	if s.ids == nil {
		s.ids = make([][22]byte, noLossRecords)
	}
	w, b := n/64, uint64(1)<<(n%64)
	if s.bits[w]&b != 0 {
		s.dups++
		if s.ids[n] != id {
			s.idDiffer++
		}
	} else {
		s.bits[w] |= b
		s.unique++
		s.ids[n] = id
	}
	s.mu.Unlock()
}

// runNoLoss sends noLossRecords numbered records through the plugin in
// forward mode while the Forward server is killed and restarted at
// random, and at other times keeps its acks back past ack_timeout. The
// host retries FLB_RETRY chunks as Fluent Bit does. Every record must
// arrive at least once.
func runNoLoss(t *testing.T, workers int) {
	build(t)
	dir := t.TempDir()
	logFile := filepath.Join(dir, "numbered.log")
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	for i := range noLossRecords {
		fmt.Fprintf(bw, "Jun 16 07:37:30 web01 sshd[%d]: Invalid user u%d from 192.0.2.%d port %d\n", 1000+i%50000, i, 1+i%250, 1024+i%60000)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	got := &seen{bits: make([]uint64, (noLossRecords+63)/64)}
	sock := filepath.Join(dir, "fwd.sock")
	start := func() *fwdserver.Server {
		s, err := fwdserver.Start(fwdserver.Options{Network: "unix", Address: sock, OnRecord: got.record})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var mu sync.Mutex
	server := start()
	done := make(chan struct{})
	var kills, holds int
	var disturber sync.WaitGroup
	disturber.Add(1)
	go func() {
		defer disturber.Done()
		// Disturb the downstream until the host is done.
		rng := rand.New(rand.NewPCG(uint64(workers), 42))
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Duration(150+rng.IntN(250)) * time.Millisecond):
			}
			mu.Lock()
			if rng.IntN(2) == 0 {
				server.Close()
				kills++
				mu.Unlock()
				time.Sleep(time.Duration(50+rng.IntN(300)) * time.Millisecond)
				mu.Lock()
				server = start()
			} else {
				s := server
				holds++
				s.WithholdAcks(true)
				mu.Unlock()
				time.Sleep(700 * time.Millisecond) // past ack_timeout
				s.WithholdAcks(false)
				mu.Lock()
			}
			mu.Unlock()
		}
	}()

	began := time.Now()
	cmd := exec.Command(artifacts.host, "-s", artifacts.plugin, "-p", "forward_address=unix://"+sock,
		"-p", "ack_timeout=500ms", "-p", "connect_timeout=500ms", "-p", "time_zone=UTC",
		"-f", logFile, "-n", "2000", "-w", strconv.Itoa(workers), "-R", "-1", "-B", "20", "-q")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	close(done)
	elapsed := time.Since(began)
	// The disturber may be restarting the server: it must be done with
	// it (and with the test's directory) before the test ends.
	disturber.Wait()
	mu.Lock()
	server.Close()
	mu.Unlock()
	if err != nil {
		t.Fatalf("host: %v\n%s", err, lastLines(stderr.String(), 10))
	}
	summary := summaryRE.FindStringSubmatch(stderr.String())
	if got.bad.Load() != 0 {
		t.Errorf("%d records without a sequence number or an event.id", got.bad.Load())
	}
	lost := noLossRecords - got.unique
	fmt.Printf("noloss: sent=%d received_unique=%d lost=%d duplicates=%d\n", noLossRecords, got.unique, lost, got.dups)
	t.Logf("%d flushing threads, %s, %d server kills, %d ack holds, host summary %v", workers, elapsed.Round(time.Millisecond), kills, holds, summary[1:])
	if lost != 0 {
		t.Errorf("%d records lost", lost)
	}
	if got.idDiffer != 0 {
		t.Errorf("%d of %d copies re-emitted after a retry carry another event.id than the first (a backend could not drop them)", got.idDiffer, got.dups)
	}
	if kills == 0 || holds == 0 {
		t.Errorf("the downstream was not disturbed (kills %d, holds %d)", kills, holds)
	}
}

// TestNoLoss: one flushing thread.
func TestNoLoss(t *testing.T) { runNoLoss(t, 1) }

// TestFourThreadsLoseNothing: the same with four flushing threads.
func TestFourThreadsLoseNothing(t *testing.T) { runNoLoss(t, 4) }
