package correlate

// The AX switch's trace log is read with "show ssh logging", polled
// again and again, so the same lines arrive many times; its output is
// newest first. A polled line is a repeat when an earlier poll of the
// same switch held it as many times as this poll has so far: lines
// are told apart by host, switch, time, pid and message, and a line
// written twice in one second (as "Generating 768 bit RSA key." is)
// counts by its occurrences in one poll.
//
// A poll starts at its "Date ..." header, or, where headers are not
// kept, at a line newer than the previous line of the same switch
// (within one poll every line is as old as the one before, or older).

// dedupLine is one polled line's occurrences.
type dedupLine struct {
	most uint16 // most occurrences in one poll so far
	cur  uint16 // occurrences in the current poll
	poll uint32 // the poll cur belongs to
}

// pollState is a host's header count, or one switch's current poll.
type pollState struct {
	epoch    uint32 // host: headers seen; switch: the host epoch of its poll
	seq      uint32 // switch: its poll number
	lastTime int64  // switch: time of its previous line
}

func (e *Engine) hostPollKey(f *Fact) hkey {
	return e.keyer.start(kindPollHost).bytes(f.Host).key()
}

// pollStart notes a "Date ..." header: the host's next lines are a new
// poll.
func (e *Engine) pollStart(f *Fact) {
	ps, now := e.polls, e.now
	k := e.hostPollKey(f)
	i := ps.lookup(k, now)
	if i < 0 {
		i = ps.insert(k, e.clock.now, 0, false)
	}
	p := ps.mut(i)
	p.epoch++
	ps.setExp(i, now+int64(e.cfg.DedupTTL))
}

// isRepeat reports whether a polled line was delivered by an earlier
// poll, and remembers it.
func (e *Engine) isRepeat(f *Fact, t int64) bool {
	ps, ds, now := e.polls, e.dedup, e.now
	exp := now + int64(e.cfg.DedupTTL)
	var epoch uint32
	if i := ps.lookup(e.hostPollKey(f), now); i >= 0 {
		epoch = ps.recs[i].epoch
	}
	sk := e.keyer.start(kindPollSwitch).bytes(f.Host).int(int64(f.Switch)).key()
	si := ps.lookup(sk, now)
	if si < 0 {
		si = ps.insert(sk, e.clock.now, exp, false)
		ps.recs[si].epoch = epoch
	}
	sw := ps.mut(si)
	if sw.epoch != epoch || sw.lastTime != 0 && t > sw.lastTime {
		sw.seq++
		sw.epoch = epoch
	}
	sw.lastTime = t
	ps.setExp(si, exp)

	k := e.keyer.start(kindDedup).bytes(f.Host).int(int64(f.Switch)).int(t).int(int64(f.PID)).bytes(f.Message).key()
	i := ds.lookup(k, now)
	if i < 0 {
		i = ds.insert(k, e.clock.now, exp, false)
	}
	d := ds.mut(i)
	if d.poll != sw.seq || d.cur == 0 {
		d.poll, d.cur = sw.seq, 0
	}
	if d.cur < ^uint16(0) {
		d.cur++
	}
	repeat := d.cur <= d.most
	d.most = max(d.most, d.cur)
	ds.setExp(i, exp)
	if repeat {
		e.tally.repeats++
	}
	return repeat
}
