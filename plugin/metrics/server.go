package metrics

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
)

// Fluent Bit loads the plugin once per process and calls Init once per
// [OUTPUT] section, so the process has one /metrics endpoint shared by
// every output that sets metrics_listen. It is bound by the first
// output's Init and unbound when the last one exits, so that a hot
// reload (every output exits, then the new configuration's outputs are
// initialised in the same process) can bind it again.
var (
	serverMu sync.Mutex
	current  *server
)

// server is the process's metrics endpoint and the one Set that holds
// every output's series (one Set keeps each metric family in one block,
// as the text format requires).
type server struct {
	addr    string // metrics_listen as configured
	ln      net.Listener
	http    *http.Server
	served  chan struct{} // closed when Serve has returned
	set     *vm.Set
	outputs map[string]*Output
	first   string // the output that bound it, for error messages
}

// listen binds addr and serves GET /metrics on it.
func listen(addr string) (*server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics_listen: cannot listen on %s: %w", addr, err)
	}
	// TYPE lines let Prometheus tell counters, gauges and histograms apart.
	vm.ExposeMetadata(true)
	s := &server{addr: addr, ln: ln, served: make(chan struct{}), set: vm.NewSet(), outputs: map[string]*Output{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", s.serveMetrics) // GET and HEAD; other methods get 405
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// Fluent Bit owns stderr; a scraper's broken connection is not
		// worth a line there.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(s.served)
		_ = s.http.Serve(ln)
	}()
	return s, nil
}

func (s *server) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	serverMu.Lock()
	for _, o := range s.outputs {
		o.corr.refresh()
	}
	serverMu.Unlock()
	var b bytes.Buffer
	s.set.WritePrometheus(&b)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(withHelp(b.Bytes()))
}

// withHelp fills in the HELP lines, which the library leaves empty.
func withHelp(text []byte) []byte {
	out := make([]byte, 0, len(text)+len(help)*64)
	for len(text) > 0 {
		line := text
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line = text[:i+1]
		}
		text = text[len(line):]
		if family, ok := bytes.CutPrefix(bytes.TrimSuffix(line, []byte("\n")), []byte("# HELP ")); ok {
			if h, ok := help[string(family)]; ok {
				out = append(out, "# HELP "...)
				out = append(out, family...)
				out = append(out, ' ')
				out = append(out, h...)
				out = append(out, '\n')
				continue
			}
		}
		out = append(out, line...)
	}
	return out
}

// close unbinds the address before it returns, so that it can be bound
// again at once.
func (s *server) close() {
	_ = s.http.Close()
	// Serve closes the listener too, but in its own goroutine, which may
	// not have started yet: closing it here frees the port now.
	_ = s.ln.Close()
	<-s.served
}

// Register adds an output's series to the process's metrics endpoint,
// binding opts.Listen if no output has yet. Outputs that name the same
// address share the endpoint; naming another address than the one
// already bound is an error, as is a second output of the same name.
func Register(opts Options) (*Output, error) {
	serverMu.Lock()
	defer serverMu.Unlock()
	if current != nil && current.addr != opts.Listen {
		return nil, fmt.Errorf("metrics_listen: %s differs from %s, on which output %s already serves this process's metrics; "+
			"a Fluent Bit process has one metrics endpoint, so give every sshenrich output the same metrics_listen",
			opts.Listen, current.addr, current.first)
	}
	if current != nil {
		if _, dup := current.outputs[opts.Output]; dup {
			return nil, fmt.Errorf("instance_name: two outputs named %s serve metrics on %s; give each its own instance_name", opts.Output, current.addr)
		}
	}
	s := current
	if s == nil {
		var err error
		if s, err = listen(opts.Listen); err != nil {
			return nil, err
		}
		s.first = opts.Output
		current = s
	}
	o := newOutput(s, opts)
	s.outputs[opts.Output] = o
	return o, nil
}

// Close removes the output's series; the last output to close unbinds
// the endpoint. Closing twice does nothing more.
func (o *Output) Close() {
	if o == nil {
		return
	}
	serverMu.Lock()
	defer serverMu.Unlock()
	if o.closed {
		return
	}
	o.closed = true
	for _, name := range o.names {
		o.srv.set.UnregisterMetric(name)
	}
	delete(o.srv.outputs, o.name)
	if len(o.srv.outputs) == 0 {
		o.srv.close()
		if current == o.srv {
			current = nil
		}
	}
}

// Addr is the address the endpoint is bound to, with the port the
// system chose when metrics_listen names port 0.
func (o *Output) Addr() string { return o.srv.ln.Addr().String() }
