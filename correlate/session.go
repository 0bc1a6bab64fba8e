package correlate

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/sshenrich/sshenrich/rules"
)

// Session flags.
const (
	sessConnected   uint8 = 1 << iota // a connect line opened it
	sessPastConnect                   // a line other than connect joined it
	sessAuthed                        // an authentication succeeded
	sessOpened                        // a login session opened
	sessEnded                         // an end line was seen
	sessAddrLinked                    // the session's address key leads to it
	sessNewestFirst                   // an end line of a polled trace log started it: its older lines follow
)

// Bounds of the text a session keeps.
const (
	maxStored   = 64  // longest value kept (a longer user name is not inferred)
	sessionText = 160 // bytes of text per session: an address, a user, a routing domain or a pool address
)

// text is a value kept in a record's arena.
type text struct{ off, n uint8 }

// session is one SSH connection or OpenVPN client instance. It holds no
// pointers, so that the table is never scanned by the collector.
type session struct {
	id            uint64
	start, last   int64
	bytesSent     int64
	bytesReceived int64
	port          int32 // -1 when unknown
	vrf           int32 // -1 when unknown
	flags         uint8
	used          uint8
	ip            text
	user          text
	cn            text
	pool          text
	rdomain       text
	arena         [sessionText]byte
}

func (s *session) get(t text) []byte { return s.arena[t.off : int(t.off)+int(t.n)] }

// set keeps v as the value of *t unless it has one, is too long, or
// the arena is full. A value the session keeps already (an OpenVPN
// user that is also the common name) is shared.
func (s *session) set(t *text, v []byte) bool {
	if t.n > 0 || len(v) == 0 || len(v) > maxStored {
		return false
	}
	for _, o := range [...]text{s.ip, s.user, s.cn, s.pool, s.rdomain} {
		if o.n > 0 && bytes.Equal(s.get(o), v) {
			*t = o
			return true
		}
	}
	if int(s.used)+len(v) > len(s.arena) {
		return false
	}
	copy(s.arena[s.used:], v)
	*t = text{s.used, uint8(len(v))}
	s.used += uint8(len(v))
	return true
}

// exp is when the session is forgotten: soon after its end, later once
// someone logged in.
func (e *Engine) sessionExp(s *session) int64 {
	switch {
	case s.flags&sessEnded != 0:
		return s.last + int64(e.cfg.EndedTTL)
	case s.flags&(sessAuthed|sessOpened) != 0:
		return s.last + int64(e.cfg.SessionTTL)
	}
	return s.last + int64(e.cfg.PreauthTTL)
}

// newSession starts a session under key k at time t.
func (e *Engine) newSession(k hkey, f *Fact, t int64) int32 {
	ss := e.sessions
	r := ss.insert(k, e.clock.now, t+int64(e.cfg.PreauthTTL), true)
	s := &ss.recs[r]
	s.start, s.last, s.port, s.vrf, s.bytesSent, s.bytesReceived = t, t, -1, -1, -1, -1
	id := fnvBytes(fnvOffset, f.Host)
	id = fnvBytes(id, f.Program)
	id = fnvUint(id, uint64(int64(f.Switch)))
	if f.Class == ClassVPN {
		id = fnvBytes(id, f.SourceIP)
		id = fnvUint(id, uint64(int64(f.SourcePort)))
	} else {
		id = fnvUint(id, uint64(int64(f.PID)))
	}
	s.id = e.sessionID(fnvUint(id, uint64(t)))
	return r
}

// sessionID keys an id with Config.IDKey, when there is one.
func (e *Engine) sessionID(id uint64) uint64 {
	if e.idMAC == nil {
		return id
	}
	binary.BigEndian.PutUint64(e.idIn[:], id)
	e.idMAC.Reset()
	e.idMAC.Write(e.idIn[:])
	e.idSum = e.idMAC.Sum(e.idSum[:0])
	return binary.BigEndian.Uint64(e.idSum)
}

// sshSession finds (or starts) the SSH session of a line: by host and
// pid, or by host, source address and port, which links the pids of
// one connection (privilege separation's monitor and post-auth child,
// sshd-session and sshd-auth) as aliases of one session.
func (e *Engine) sshSession(f *Fact, t int64, out *Output, readonly bool) {
	ss, now := e.sessions, e.at
	hasPid := f.PID >= 0
	hasAddr := len(f.SourceIP) > 0 && f.SourcePort >= 0
	var pidKey, addrKey hkey
	sp, sa := int32(-1), int32(-1)
	if hasPid {
		pidKey = e.keyer.startHost(kindSSHPid, f.Host).int(int64(f.Switch)).int(int64(f.PID)).key()
		sp = ss.lookup(pidKey, now)
	}
	// The common line, of a session found by its pid, from the address
	// its address key was linked for, needs no second lookup.
	if hasAddr && (sp < 0 || e.otherConnection(sp, f) || ss.recs[sp].flags&sessAddrLinked == 0) {
		addrKey = e.sshAddrKey(f)
		sa = ss.lookup(addrKey, now)
	}
	role := f.Role()
	r := int32(-1)
	switch {
	case role == rules.SessionConnect:
		if sp >= 0 && e.sameConnection(sp, f, t) {
			r = sp // the connection's second connect line
		} else if !readonly && (hasPid || hasAddr) {
			if !hasPid {
				pidKey = addrKey
			}
			r = e.newSession(pidKey, f, t)
		}
	case sa >= 0 && (sp < 0 || sp != sa && e.otherConnection(sp, f)):
		r = sa // a new pid of the connection becomes an alias below
	case sp >= 0 && (!hasAddr || !e.otherConnection(sp, f)):
		r = sp
	case !readonly && (hasPid || hasAddr) && (role == rules.SessionAuth && f.Outcome == "success" || role == rules.SessionOpen):
		// Authentication or a session opening without a connect line:
		// Tectia, the AX switch, or a log that starts mid-session.
		if !hasPid {
			pidKey = addrKey
		}
		r = e.newSession(pidKey, f, t)
	case !readonly && hasPid && f.Polled && role == rules.SessionEnd:
		// The AX switch's trace log is written newest first: a
		// session's end comes before its other lines, which join it as
		// older lines (sameConnection), the connect line last.
		r = e.newSession(pidKey, f, t)
		ss.mut(r).flags |= sessNewestFirst
	}
	if r < 0 {
		return
	}
	if !readonly {
		// A key that led to r already needs no link: the common case,
		// a line of a session the engine follows.
		if hasPid && sp != r {
			ss.link(pidKey, r)
		}
		e.update(r, f, t, role)
		s := &ss.recs[r]
		if hasAddr && s.flags&sessAddrLinked == 0 && s.ip.n > 0 && bytes.Equal(s.get(s.ip), f.SourceIP) {
			if addrKey == (hkey{}) {
				addrKey = e.sshAddrKey(f)
			}
			if sa != r {
				ss.link(addrKey, r)
			}
			ss.mut(r).flags |= sessAddrLinked
		}
	}
	e.report(r, f, t, role, out)
}

// sshAddrKey is the key of an SSH line's host, source address and port.
func (e *Engine) sshAddrKey(f *Fact) hkey {
	return e.keyer.startHost(kindSSHAddr, f.Host).int(int64(f.Switch)).bytes(f.SourceIP).int(int64(f.SourcePort)).key()
}

// sameConnection: a connect line for a session that has seen nothing
// but connect lines, or whose lines are all newer (they came out of
// order: the AX trace log is written newest first), from the same
// address.
func (e *Engine) sameConnection(r int32, f *Fact, t int64) bool {
	s := &e.sessions.recs[r]
	newer := t == 0 || t > s.start
	if s.flags&sessNewestFirst != 0 {
		newer = t > s.last // read newest first: older and undated lines are its own
	}
	if s.flags&(sessPastConnect|sessEnded) != 0 && newer {
		return false
	}
	return s.ip.n == 0 || bytes.Equal(s.get(s.ip), f.SourceIP) && (s.port < 0 || int(s.port) == f.SourcePort)
}

// otherConnection: the session of a pid cannot be the line's: it is
// from another address or port, or, knowing no address, it ended (the
// pid was reused).
func (e *Engine) otherConnection(r int32, f *Fact) bool {
	s := &e.sessions.recs[r]
	if s.ip.n == 0 {
		// Ended, the pid was reused; but a session read newest first
		// ends before its older lines come.
		return s.flags&sessEnded != 0 && (s.flags&sessNewestFirst == 0 || f.Time > s.last)
	}
	return !bytes.Equal(s.get(s.ip), f.SourceIP) || s.port >= 0 && int(s.port) != f.SourcePort
}

// vpnSession finds (or starts) the OpenVPN session of a line: by its
// real address and port, or by its common name (the latest session of
// that name), or by its pool address.
func (e *Engine) vpnSession(f *Fact, t int64, out *Output, readonly bool) {
	ss, k, now := e.sessions, &e.keyer, e.at
	role := f.Role()
	r := int32(-1)
	var realKey hkey
	hasReal := len(f.SourceIP) > 0
	switch {
	case hasReal:
		realKey = k.start(kindVPNReal).bytes(f.Host).bytes(f.Program).bytes(f.SourceIP).int(int64(f.SourcePort)).key()
		r = ss.lookup(realKey, now)
		switch {
		case role == rules.SessionConnect && r >= 0 && ss.recs[r].flags&(sessPastConnect|sessEnded) != 0:
			r = -1 // the address's earlier instance is over
			fallthrough
		case r < 0 && !readonly && (role == rules.SessionConnect || len(f.CommonName) > 0 ||
			role == rules.SessionAuth && f.Outcome == "success" || role == rules.SessionOpen):
			if !readonly {
				r = e.newSession(realKey, f, t)
			}
		}
	case len(f.CommonName) > 0:
		r = ss.lookup(k.start(kindVPNName).bytes(f.Host).bytes(f.Program).bytes(f.CommonName).key(), now)
	case len(f.PoolIP) > 0:
		r = ss.lookup(k.start(kindVPNPool).bytes(f.Host).bytes(f.Program).bytes(f.PoolIP).key(), now)
	}
	if r < 0 {
		return
	}
	if !readonly {
		e.update(r, f, t, role)
		s := &ss.recs[r]
		if hasReal && s.ip.n > 0 && bytes.Equal(s.get(s.ip), f.SourceIP) {
			ss.link(realKey, r)
		}
		if s.cn.n > 0 && len(f.CommonName) > 0 && bytes.Equal(s.get(s.cn), f.CommonName) {
			ss.link(k.start(kindVPNName).bytes(f.Host).bytes(f.Program).bytes(f.CommonName).key(), r)
		}
		if s.pool.n > 0 && len(f.PoolIP) > 0 && bytes.Equal(s.get(s.pool), f.PoolIP) {
			ss.link(k.start(kindVPNPool).bytes(f.Host).bytes(f.Program).bytes(f.PoolIP).key(), r)
		}
	}
	e.report(r, f, t, role, out)
}

// update merges what the line says into its session.
func (e *Engine) update(r int32, f *Fact, t int64, role rules.SessionRole) {
	ss := e.sessions
	s := ss.mut(r)
	s.last = max(s.last, t)
	if t > 0 && t < s.start {
		s.start = t // a line older than the session's first, out of order
	}
	if role == rules.SessionConnect {
		s.flags |= sessConnected
	} else {
		s.flags |= sessPastConnect
	}
	if s.set(&s.ip, f.SourceIP) && f.SourcePort >= 0 {
		s.port = int32(f.SourcePort)
	} else if s.port < 0 && f.SourcePort >= 0 && bytes.Equal(s.get(s.ip), f.SourceIP) {
		s.port = int32(f.SourcePort)
	}
	success := role == rules.SessionAuth && f.Outcome == "success"
	// An SSH session's user is the one that logged in: failed attempts
	// name other users. An OpenVPN line names its client's user.
	if success || role == rules.SessionOpen || f.Class == ClassVPN {
		s.set(&s.user, f.User)
	}
	if success {
		s.flags |= sessAuthed
	}
	if role == rules.SessionOpen {
		s.flags |= sessOpened
	}
	if role == rules.SessionEnd {
		s.flags |= sessEnded
	}
	if s.vrf < 0 && f.VRF >= 0 {
		s.vrf = int32(f.VRF)
	}
	s.set(&s.rdomain, f.RDomain)
	s.set(&s.cn, f.CommonName)
	if f.Outcome != "failure" {
		s.set(&s.pool, f.PoolIP) // not an address a failed line could not assign
	}
	if f.BytesSent >= 0 {
		s.bytesSent = f.BytesSent
	}
	if f.BytesReceived >= 0 {
		s.bytesReceived = f.BytesReceived
	}
	// An end line shortens the session's life to the ended TTL, even
	// after a login had lengthened it; otherwise a line only lengthens it.
	exp := e.sessionExp(s)
	if s.flags&sessEnded == 0 {
		exp = max(ss.exp(r), exp)
	}
	if s.flags&sessNewestFirst != 0 {
		// A poll is read after the lines it holds were written (its
		// Date header is later): the older lines still to come must
		// find the session, however long ago it ended.
		exp = max(exp, e.now+int64(e.cfg.EndedTTL))
	}
	ss.setExp(r, exp)
}

// report writes the session's id, the fields the line lacks, and the
// duration of a closing line into out.
func (e *Engine) report(r int32, f *Fact, t int64, role rules.SessionRole, out *Output) {
	s := &e.sessions.recs[r]
	appendHex(&out.id, s.id)
	out.SessionID = out.id[:]
	sameAddr := true
	if s.ip.n > 0 {
		ip := s.get(s.ip)
		if len(f.SourceIP) == 0 {
			if out.SourceIP = out.keep(ip); out.SourceIP != nil {
				out.Inferred |= InferredSourceIP
			}
		} else {
			sameAddr = bytes.Equal(ip, f.SourceIP)
		}
	}
	if f.SourcePort < 0 && s.port >= 0 && sameAddr {
		out.SourcePort = int(s.port)
		out.Inferred |= InferredSourcePort
	}
	infer := func(have []byte, t text, dst *[]byte, bit FieldSet) {
		if len(have) == 0 && t.n > 0 {
			if *dst = out.keep(s.get(t)); *dst != nil {
				out.Inferred |= bit
			}
		}
	}
	infer(f.User, s.user, &out.User, InferredUser)
	infer(f.RDomain, s.rdomain, &out.RDomain, InferredRDomain)
	if f.Class == ClassVPN {
		infer(f.CommonName, s.cn, &out.CommonName, InferredCommonName)
		infer(f.PoolIP, s.pool, &out.PoolIP, InferredPoolIP)
	}
	if f.VRF < 0 && s.vrf >= 0 {
		out.VRF = int(s.vrf)
		out.Inferred |= InferredVRF
	}
	newestFirst := s.flags&sessNewestFirst != 0
	switch {
	case (role == rules.SessionClose || role == rules.SessionEnd) && (!newestFirst || t != s.start):
		if t >= s.start && s.start > 0 {
			out.Duration = time.Duration(t - s.start)
			out.HasDuration = true
		}
	case role == rules.SessionConnect && newestFirst && t > 0 && s.last > t:
		// Read newest first, the session is complete at its connect
		// line, which gets the duration its end line could not have.
		out.Duration = time.Duration(s.last - t)
		out.HasDuration = true
	}
	if role == rules.SessionClose || role == rules.SessionEnd {
		if f.BytesSent < 0 && s.bytesSent >= 0 {
			out.BytesSent = s.bytesSent
			out.Inferred |= InferredBytesSent
		}
		if f.BytesReceived < 0 && s.bytesReceived >= 0 {
			out.BytesReceived = s.bytesReceived
			out.Inferred |= InferredBytesReceived
		}
	}
}
