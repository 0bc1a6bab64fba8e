package main

import (
	"fmt"
	"sync"
	"time"
)

// stateWait bounds how long a stopping output waits for a flush in
// progress before it writes its correlation state: the emitter is
// closed by then, so a flush ends soon; one that does not costs the
// state, not the stop.
const stateWait = 5 * time.Second

// stateFiles are the correlation_state_file paths of the outputs
// running in this process: two outputs writing one file would each
// take up the other's state.
var (
	stateFilesMu sync.Mutex
	stateFiles   = map[string]string{} // path: output name
)

// claimState takes the instance's state file for it: another output of
// the process may not have it.
func (in *instance) claimState() error {
	path := in.cfg.CorrelationStateFile
	if path == "" {
		return nil
	}
	stateFilesMu.Lock()
	defer stateFilesMu.Unlock()
	if other, ok := stateFiles[path]; ok {
		return configError{fmt.Errorf("correlation_state_file: %s is the state file of output %s too; give each output its own", path, other)}
	}
	stateFiles[path] = in.cfg.Name
	return nil
}

// releaseState gives the state file up (at exit, or when start fails).
func (in *instance) releaseState() {
	path := in.cfg.CorrelationStateFile
	stateFilesMu.Lock()
	if path != "" && stateFiles[path] == in.cfg.Name {
		delete(stateFiles, path)
	}
	stateFilesMu.Unlock()
}

// loadState reads the state the file holds into the new engine. A file
// that cannot be read is reported and the engine starts empty: the
// records matter more than the state.
func (in *instance) loadState() {
	path := in.cfg.CorrelationStateFile
	if path == "" {
		return
	}
	start := time.Now()
	rep, found, err := in.engine.LoadStateFile(path)
	switch {
	case err != nil && found:
		in.log.warnf("correlation_state_file %s: not taken (%v); the engine starts empty", path, err)
	case err != nil:
		in.log.warnf("correlation_state_file %s: cannot be read (%v); the engine starts empty", path, err)
	case found:
		in.log.infof("correlation state read from %s in %s: %s", path, time.Since(start).Round(time.Millisecond), rep)
	}
}

// saveState writes the engine's state to the instance's state file and
// gives the path up.
func (in *instance) saveState() {
	path := in.cfg.CorrelationStateFile
	if path == "" || in.engine == nil {
		return
	}
	defer in.releaseState()
	start := time.Now()
	if err := in.engine.SaveStateFile(path, stateWait); err != nil {
		in.log.warnf("correlation_state_file %s: the state is not saved (%v); the next start takes up the state of an earlier exit, if any", path, err)
		return
	}
	s := in.engine.Stats()
	in.log.infof("correlation state written to %s in %s: %d sessions, %d counters, %d distinct values, %d polled lines",
		path, time.Since(start).Round(time.Millisecond), s.Sessions, s.Counters, s.Distinct, s.DedupLines)
}
