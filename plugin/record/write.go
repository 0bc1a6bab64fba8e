package record

import (
	"bytes"
	"net/netip"
	"strconv"
	"time"

	"github.com/sshenrich/sshenrich/parser"
	"github.com/sshenrich/sshenrich/rules"
)

// The top-level keys sshenrich adds, in the order they are written.
const (
	groupEvent = iota
	groupRule
	groupSource
	groupDestination
	groupUser
	groupGroup
	groupProcess
	groupHost
	groupObserver
	groupLog
	groupError
	groupNetwork
	groupThreat
	groupTags
	groupRelated
	groupECS
	numGroups
)

var groupNames = [numGroups]string{"event", "rule", "source", "destination", "user", "group", "process", "host", "observer", "log", "error", "network", "threat", "tags", "related", "ecs"}

// Namespace is the top-level key of sshenrich's own fields.
const Namespace = "sshenrich"

// ECSVersion is the version of the ECS schema the records are held to
// (reference/ecs/ecs_flat.yml beside the repository), written as
// ecs.version in ECS style.
const ECSVersion = "9.5.0-dev"

// hostValue is a host capture sorted into an IP or a host name.
type hostValue struct {
	ip     netip.Addr
	text   []byte // the address as written, when it is plain IPv4
	domain []byte
}

func (h hostValue) present() bool { return h.ip.IsValid() || h.domain != nil }

// resolved holds an event's values once they are decided, so that the
// writer checks presence and writes from one place.
type resolved struct {
	src, dst         hostValue
	srcPort, dstPort int
	user, userID     []byte
	userEffective    []byte // user.effective.name
	userEffectiveID  []byte // user.effective.id
	userTarget       []byte // user.target.name
	userTargetID     []byte // user.target.id
	userChanges      []byte // user.changes.name
	groupName        []byte
	groupID          []byte
	function         []byte // log.origin.function
	errText          []byte // error.message
	level            string // log.level: error or fatal
	platform         string
	platformID       uint32
	transport        []byte
	elided           bool
}

type writer struct {
	opts       *Options
	datasets   map[string]string // event.dataset by family
	mask       *masker           // nil when nothing is masked
	maskedLine []byte
	spans      []span
	enc        Encoder
	mp         *Msgpack                 // enc when it is msgpack: direct calls the compiler can inline
	frags      [2][]*[8 * 32]*fragments // [json][entry+1][platform*32+format]
	nfrags     int
	logFrag    [2][25 * 9]*fragment // [json][(facility+1)*9+severity+1]
	subJSON    JSON
	subMP      Msgpack
	day        int64 // the day (since the epoch, local to the offset) of dayText
	dayText    [11]byte
	flat       bool
	lean       bool // a brief or codes record: the fields an operator acts on, no more
	shared     bool // encoding the fragments every line of an entry shares
	prefix     []byte
	marks      [8]int
	nmarks     int
	level      int
	top        int
	keys       int // keys written, at any level
	scratch    []byte
	r          resolved
	ev         *Event
	mg         merged // what merging with the record's own keys set aside
	ingested   []byte // event.ingested: when the Enricher was last told the time
}

// Write writes ev's added fields through enc and returns the number of
// top-level keys written. For msgpack, the caller adds this to the
// original map's count. taken is what the record already holds under
// the added keys (nil: nothing); Write writes back the members that
// taken took over.
func (x *Enricher) Write(enc Encoder, ev *Event, taken *Taken) int {
	w := &x.w
	if taken == nil {
		taken = &noneTaken
	}
	w.enc, w.ev, w.flat, w.lean = enc, ev, x.opts.Style == StyleFlat, x.opts.Detail != DetailFull
	w.mp, _ = enc.(*Msgpack)
	w.prefix, w.nmarks, w.level, w.top = w.prefix[:0], 0, 0, 0
	w.mg.reset()
	w.resolve()
	f := w.fragmentsFor(ev.Match.Entry)
	for g := range numGroups {
		switch {
		case taken.orig[g] != nil:
			// The record's own value under the key: merged or moved.
			w.mergeGroup(g, taken.orig[g])
		case w.lean && leanSkips[g], g == groupECS && w.flat:
		case taken.has(g):
		case g == groupEvent:
			w.eventGroup(f)
		case f != nil && f.cached[g] && (g != groupNetwork || len(w.r.transport) == 0):
			// The entry's groups that never change are replayed.
			w.replay(&f.parts[g])
		case f != nil && g == groupLog && w.r.level == "" && w.r.function == nil && !w.lean:
			w.logGroup()
		default:
			w.group(g)
		}
	}
	w.open(Namespace)
	w.namespace(taken, f)
	w.close()
	return w.top
}

var noneTaken Taken

// eventGroup writes the event group, replaying the entry's members that
// never change.
func (w *writer) eventGroup(f *fragments) {
	if f == nil || w.preauthOutcome() {
		w.group(groupEvent)
		return
	}
	w.open("event")
	w.replay(&f.parts[groupEvent])
	w.eventExtras()
	w.close()
}

// eventExtras writes the members of the event group that change from
// record to record: its id, when sshenrich processed it, and the line.
func (w *writer) eventExtras() {
	if w.ev.ID != nil {
		w.bytes("id", w.ev.ID)
	}
	if !w.lean && len(w.ingested) > 0 {
		w.str("ingested", view(w.ingested))
	}
	if w.opts.EventOriginal && w.ev.Line != nil {
		line := w.ev.Line
		if m := w.maskedLineOf(w.ev); m != nil {
			line = m
		}
		w.bytes("original", line)
	}
}

// The fields of a record that do not depend on the line itself (an
// entry's event, rule, threat and tags groups, its remediation, the
// envelope and platform names, a syslog priority's names) are encoded
// once per Enricher and encoder kind, and copied into each record.

type fragment struct {
	b       []byte
	members int
}

type fragments struct {
	parts  [numGroups]fragment
	cached [numGroups]bool // parts that hold the whole group
	static fragment        // sshenrich: family, severity, remediation, envelope, platform
}

// leanSkips are the groups a brief or codes record leaves out: what
// the line's own text, the code or the catalog reference already say.
var leanSkips = [numGroups]bool{groupObserver: true, groupNetwork: true, groupTags: true, groupRelated: true}

// staticGroups never depend on the line.
var staticGroups = []int{groupRule, groupObserver, groupThreat, groupTags, groupECS}

// maxFragments bounds the cache: entries times platforms times encoders
// stays far below it with the built-in catalog.
const maxFragments = 8192

// fragmentsFor returns the entry's encoded static fields, or nil when
// the encoder cannot replay them.
func (w *writer) fragmentsFor(e *rules.Entry) *fragments {
	sub := w.subEncoder()
	if sub == nil {
		return nil
	}
	entry := 0
	if e != nil {
		entry = e.Index + 1
	}
	kind := 0
	if _, ok := sub.(*JSON); ok {
		kind = 1
	}
	slot := int(w.r.platformID)*32 + int(w.ev.Env.Format)
	table := w.frags[kind]
	if entry < len(table) && table[entry] != nil {
		if f := table[entry][slot]; f != nil {
			return f
		}
	}
	if w.nfrags >= maxFragments {
		return nil
	}
	for len(w.frags[kind]) <= entry {
		w.frags[kind] = append(w.frags[kind], nil)
	}
	if w.frags[kind][entry] == nil {
		w.frags[kind][entry] = new([8 * 32]*fragments)
	}
	w.nfrags++
	f := &fragments{}
	// The fragments hold what every line of the entry shares, whatever
	// this line says: not its outcome before authentication.
	w.shared = true
	for _, g := range staticGroups {
		f.parts[g], f.cached[g] = w.encodeFragment(sub, func() { w.group(g) }), true
	}
	// The event group's fragment holds its members: eventGroup adds the
	// ones that change from record to record.
	f.parts[groupEvent] = w.encodeFragment(sub, func() {
		if w.flat {
			w.open("event")
		}
		w.eventMembers()
		if w.flat {
			w.close()
		}
	})
	w.shared = false
	if e != nil {
		// network.protocol follows the family; network.transport, from a
		// firewall line, is written afresh whenever a record has one.
		transport := w.r.transport
		w.r.transport = nil
		f.parts[groupNetwork], f.cached[groupNetwork] = w.encodeFragment(sub, func() { w.group(groupNetwork) }), true
		w.r.transport = transport
	}
	flatPrefix := len(w.prefix)
	if w.flat {
		w.prefix = append(w.prefix, Namespace+"_"...)
	}
	f.static = w.encodeFragment(sub, w.staticNamespace)
	w.prefix = w.prefix[:flatPrefix]
	w.frags[kind][entry][slot] = f
	return f
}

// subEncoder is an empty encoder of the same kind as w.enc, or nil.
func (w *writer) subEncoder() Encoder {
	switch w.enc.(type) {
	case *JSON:
		return &w.subJSON
	case *Msgpack:
		return &w.subMP
	}
	return nil
}

// logGroup writes log.syslog.*, which depends only on the priority.
func (w *writer) logGroup() {
	env := &w.ev.Env
	if env.Facility < 0 && env.Severity < 0 {
		return
	}
	kind := 0
	if _, ok := w.enc.(*JSON); ok {
		kind = 1
	}
	slot := int(env.Facility+1)*9 + int(env.Severity+1)
	f := w.logFrag[kind][slot]
	if f == nil {
		frag := w.encodeFragment(w.subEncoder(), func() { w.group(groupLog) })
		f = &frag
		w.logFrag[kind][slot] = f
	}
	w.replay(f)
}

// encodeFragment runs build against a fresh encoder of the same kind and
// keeps what it wrote.
func (w *writer) encodeFragment(sub Encoder, build func()) fragment {
	enc, mp, top, level := w.enc, w.mp, w.top, w.level
	switch s := sub.(type) {
	case *JSON:
		s.Reset()
	case *Msgpack:
		s.Reset()
	}
	w.enc, w.top, w.level = sub, 0, 0
	w.mp, _ = sub.(*Msgpack)
	build()
	f := fragment{members: w.top}
	switch s := sub.(type) {
	case *JSON:
		f.b = append([]byte(nil), s.Buf...)
	case *Msgpack:
		f.b = append([]byte(nil), s.Buf...)
	}
	w.enc, w.mp, w.top, w.level = enc, mp, top, level
	return f
}

// replay writes a fragment at the current place.
func (w *writer) replay(f *fragment) {
	w.enc.Raw(f.b, f.members)
	if w.level == 0 {
		w.top += f.members
	}
}

func (w *writer) resolve() {
	ev := w.ev
	r := &w.r
	*r = resolved{srcPort: -1, dstPort: -1}
	env := &ev.Env
	for _, c := range ev.Match.Captures() {
		if c.Var == nil || c.Start == c.End {
			continue
		}
		val := env.Message[c.Start:c.End]
		switch c.Var.Dest {
		case rules.DestSourceHost:
			r.src = classifyHost(val, c.Var.Type)
		case rules.DestSourcePort:
			r.srcPort = port(val)
		case rules.DestDestHost:
			r.dst = classifyHost(val, c.Var.Type)
		case rules.DestDestPort:
			r.dstPort = port(val)
		case rules.DestUserName:
			r.user = val
		case rules.DestUserID:
			r.userID = val
		case rules.DestUserEffective:
			r.userEffective = val
		case rules.DestUserTarget:
			r.userTarget = val
		case rules.DestUserEffectiveID:
			r.userEffectiveID = val
		case rules.DestUserTargetID:
			r.userTargetID = val
		case rules.DestUserChanges:
			r.userChanges = val
		case rules.DestGroupName:
			r.groupName = val
		case rules.DestGroupID:
			r.groupID = val
		case rules.DestFunction:
			r.function = val
		case rules.DestError:
			r.errText = val
		}
	}
	m := &ev.Match
	if !m.Function.Empty() {
		r.function = env.Message[m.Function.Start:m.Function.End]
	}
	if !m.ErrorText.Empty() {
		r.errText = env.Message[m.ErrorText.Start:m.ErrorText.End]
	}
	switch m.Level {
	case rules.LevelError:
		r.level = "error"
	case rules.LevelFatal:
		r.level = "fatal"
	}
	if fb := &ev.Fallback; m.Entry == nil && !fb.Host.Empty() {
		msg := env.Message
		r.src = classifyHost(msg[fb.Host.Start:fb.Host.End], rules.TypeHost)
		r.srcPort = port(msg[fb.Port.Start:fb.Port.End])
		if !fb.User.Empty() {
			r.user = msg[fb.User.Start:fb.User.End]
		}
	}
	if !r.src.present() && env.ClientAddr != nil {
		r.src = classifyHost(env.ClientAddr, rules.TypeIP)
	}
	if r.srcPort < 0 && env.ClientPort != nil {
		r.srcPort = port(env.ClientPort)
	}
	if r.user == nil && len(env.VPNUser) > 0 {
		r.user = env.VPNUser
	}
	if env.Net.Present() {
		if !r.src.present() {
			r.src = classifyHost(env.Net.Src, rules.TypeIP)
		}
		if !r.dst.present() {
			r.dst = classifyHost(env.Net.Dst, rules.TypeIP)
		}
		if r.srcPort < 0 {
			r.srcPort = port(env.Net.SrcPort)
		}
		if r.dstPort < 0 {
			r.dstPort = port(env.Net.DstPort)
		}
		r.transport = env.Net.Proto
	}
	r.platform, r.platformID = platformOf(env)
	r.elided = ev.Match.Template != nil && ev.Match.Template.Elided
	w.maskResolved()
}

// platformOf decides which platform's remediation applies, and gives it
// a small number for the fragment cache.
func platformOf(env *parser.Envelope) (string, uint32) {
	switch env.Format {
	case parser.FormatAX, parser.FormatAXHeader:
		return "ax", 1
	case parser.FormatVPNGateway:
		return "vpn-gateway", 2
	}
	switch string(env.Program) {
	case "sshd2", "ssh-server-g3", "sshd-g3":
		return "tectia", 3
	}
	switch env.Format {
	case parser.FormatRFC3164, parser.FormatRFC5424, parser.FormatISO, parser.FormatStructured, parser.FormatKernel, parser.FormatOpenVPN,
		parser.FormatJournald, parser.FormatHeaderless:
		return "linux", 4
	}
	return "", 0
}

func port(b []byte) int {
	if len(b) == 0 || len(b) > 5 {
		return -1
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		v = v*10 + int(c-'0')
	}
	if v > 65535 {
		return -1
	}
	return v
}

// classifyHost sorts a host into an IP address or a host name. A value
// that is neither is dropped: no guessing about addresses. A capture of
// type ip is never taken for a name.
func classifyHost(b []byte, t rules.Type) hostValue {
	if len(b) == 0 {
		return hostValue{}
	}
	if ip, ok := parseIPv4(b); ok {
		return hostValue{ip: ip, text: b}
	}
	// Only an address with a colon is left for netip, whose failures
	// allocate: a dotted quad was read above, and a name has none.
	if bytes.IndexByte(b, ':') < 0 {
		if t != rules.TypeIP && validHostname(b) {
			return hostValue{domain: b}
		}
		return hostValue{}
	}
	if ip, err := netip.ParseAddr(view(b)); err == nil {
		if ip.Is4() {
			return hostValue{ip: ip, text: b}
		}
		return hostValue{ip: ip.Unmap()}
	}
	if t != rules.TypeIP && validHostname(b) {
		return hostValue{domain: b}
	}
	return hostValue{}
}

// parseIPv4 reads a dotted quad without leading zeros, the common case,
// faster than netip.ParseAddr; anything else is left to it.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var a [4]byte
	field, val, digits := 0, 0, 0
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if digits > 0 && val == 0 || digits == 3 {
				return netip.Addr{}, false
			}
			val = val*10 + int(c-'0')
			digits++
			if val > 255 {
				return netip.Addr{}, false
			}
		case c == '.' && digits > 0 && field < 3 && i < len(b)-1:
			a[field] = byte(val)
			field, val, digits = field+1, 0, 0
		default:
			return netip.Addr{}, false
		}
	}
	if field != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	a[3] = byte(val)
	return netip.AddrFrom4(a), true
}

// validHostname accepts RFC 1123 names with at least one letter, and
// rejects the placeholder sshd prints for unknown peers.
func validHostname(b []byte) bool {
	if len(b) > 253 || string(b) == "UNKNOWN" || string(b) == "unknown" {
		return false
	}
	letter := false
	label := 0
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letter = true
			label++
		case c >= '0' && c <= '9' || c == '_':
			label++
		case c == '-':
			if label == 0 || i == len(b)-1 || b[i+1] == '.' {
				return false
			}
			label++
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
			continue
		default:
			return false
		}
		if label > 63 {
			return false
		}
	}
	return letter && label > 0
}

// Structure: open/close a group, keys and values, in either style.

func (w *writer) open(name string) {
	if w.flat {
		w.marks[w.nmarks] = len(w.prefix)
		w.nmarks++
		w.prefix = append(w.prefix, name...)
		w.prefix = append(w.prefix, '_')
		return
	}
	w.key(name)
	if w.mp != nil {
		w.mp.BeginMap()
	} else {
		w.enc.BeginMap()
	}
	w.level++
}

func (w *writer) close() {
	if w.flat {
		w.nmarks--
		w.prefix = w.prefix[:w.marks[w.nmarks]]
		return
	}
	if w.mp != nil {
		w.mp.EndMap()
	} else {
		w.enc.EndMap()
	}
	w.level--
}

func (w *writer) key(name string) {
	w.keys++
	if w.level == 0 {
		w.top++
	}
	if w.flat {
		n := len(w.prefix)
		w.prefix = append(w.prefix, name...)
		w.enc.KeyBytes(w.prefix)
		w.prefix = w.prefix[:n]
		return
	}
	if w.mp != nil {
		w.mp.Key(name)
		return
	}
	w.enc.Key(name)
}

func (w *writer) str(name, v string) {
	w.key(name)
	w.string(v)
}

// string writes a string value the program controls.
func (w *writer) string(v string) {
	if w.mp != nil {
		w.mp.String(v)
		return
	}
	w.enc.String(v)
}

// bytes writes text from the line. When the whole line is valid UTF-8,
// so is every part of it that a capture took (captures end where an
// ASCII delimiter or a whole literal starts), and the check is skipped.
func (w *writer) bytes(name string, v []byte) {
	w.key(name)
	w.value(v)
}

func (w *writer) value(v []byte) {
	if w.ev.invalidUTF8 {
		w.enc.Bytes(v)
	} else {
		w.string(view(v))
	}
}

func (w *writer) int(name string, v int) {
	w.key(name)
	if w.mp != nil {
		w.mp.Int(int64(v))
		return
	}
	w.enc.Int(int64(v))
}

func (w *writer) bool(name string, v bool) {
	w.key(name)
	w.enc.Bool(v)
}

// strs writes a list: an array in ECS style, comma-joined when flat.
func (w *writer) strs(name string, v []string) {
	w.key(name)
	if w.flat {
		w.scratch = w.scratch[:0]
		for i, s := range v {
			if i > 0 {
				w.scratch = append(w.scratch, ',')
			}
			w.scratch = append(w.scratch, s...)
		}
		w.value(w.scratch)
		return
	}
	w.enc.BeginArray()
	for _, s := range v {
		w.enc.String(s)
	}
	w.enc.EndArray()
}

// list writes a comma-separated capture.
func (w *writer) list(name string, v []byte) {
	w.key(name)
	if w.flat {
		w.value(v)
		return
	}
	w.enc.BeginArray()
	for len(v) > 0 {
		item := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if len(item) > 0 {
			w.value(item)
		}
	}
	w.enc.EndArray()
}

func (w *writer) ip(name string, h hostValue) {
	w.key(name)
	w.scratch = w.appendIP(w.scratch[:0], h)
	w.string(view(w.scratch))
}

// appendIP writes an address in its canonical form: an IPv4 address as
// the line wrote it (Go's parser takes only the canonical form), others
// formatted.
func (w *writer) appendIP(b []byte, h hostValue) []byte {
	if h.ip.Is4() && h.text != nil {
		return append(b, h.text...)
	}
	return h.ip.AppendTo(b)
}

// ips writes addresses as a list.
func (w *writer) ips(name string, a, b hostValue) {
	w.key(name)
	w.scratch = w.scratch[:0]
	if w.flat {
		w.scratch = w.appendIP(w.scratch, a)
		if b.ip.IsValid() {
			w.scratch = append(w.scratch, ',')
			w.scratch = w.appendIP(w.scratch, b)
		}
		w.string(view(w.scratch))
		return
	}
	w.enc.BeginArray()
	w.scratch = w.appendIP(w.scratch, a)
	w.string(view(w.scratch))
	if b.ip.IsValid() {
		n := len(w.scratch)
		w.scratch = w.appendIP(w.scratch, b)
		w.string(view(w.scratch[n:]))
	}
	w.enc.EndArray()
}

// Groups.

// userRole writes user.effective, user.target or user.changes.
func (w *writer) userRole(role string, name, id []byte) {
	if name == nil && id == nil {
		return
	}
	w.open(role)
	if name != nil {
		w.bytes("name", name)
	}
	if id != nil {
		w.bytes("id", id)
	}
	w.close()
}

func (w *writer) group(g int) {
	ev, r, env := w.ev, &w.r, &w.ev.Env
	e := ev.Match.Entry
	switch g {
	case groupEvent:
		w.open("event")
		w.eventMembers()
		w.eventExtras()
		w.close()
	case groupECS:
		if w.flat {
			return
		}
		w.open("ecs")
		w.str("version", ECSVersion)
		w.close()
	case groupRule:
		if e == nil {
			return
		}
		w.open("rule")
		if !w.lean {
			w.str("id", e.Code)
		}
		w.str("name", e.Name)
		if !w.lean {
			w.str("category", e.Category)
			w.str("ruleset", Namespace)
		}
		switch w.opts.Detail {
		case DetailFull:
			desc := e.Description.En
			if w.opts.Lang == LangJA && e.Description.Ja != "" {
				desc = e.Description.Ja
			}
			w.str("description", desc)
			if len(e.Sources) > 0 {
				w.str("reference", e.Sources[0])
			}
		case DetailBrief:
			w.str("description", summaryOf(e, w.opts.Lang == LangJA))
			w.str("reference", w.opts.ReferenceURL+"#"+e.Anchor())
		case DetailCodes:
			w.str("reference", w.opts.ReferenceURL+"#"+e.Anchor())
		}
		w.close()
	case groupSource, groupDestination:
		h, p := &r.src, r.srcPort
		if g == groupDestination {
			h, p = &r.dst, r.dstPort
		}
		if !h.present() && p < 0 {
			return
		}
		w.open(groupNames[g])
		if h.ip.IsValid() {
			w.ip("ip", *h)
		} else if h.domain != nil {
			w.bytes("domain", h.domain)
		}
		if p >= 0 {
			w.int("port", p)
		}
		w.close()
	case groupUser:
		if r.user == nil && r.userID == nil && r.userEffective == nil && r.userTarget == nil &&
			r.userEffectiveID == nil && r.userTargetID == nil && r.userChanges == nil {
			return
		}
		w.open("user")
		if r.user != nil {
			w.bytes("name", r.user)
		}
		if r.userID != nil {
			w.bytes("id", r.userID)
		}
		w.userRole("effective", r.userEffective, r.userEffectiveID)
		w.userRole("target", r.userTarget, r.userTargetID)
		w.userRole("changes", r.userChanges, nil)
		w.close()
	case groupGroup:
		if r.groupName == nil && r.groupID == nil {
			return
		}
		w.open("group")
		if r.groupName != nil {
			w.bytes("name", r.groupName)
		}
		if r.groupID != nil {
			w.bytes("id", r.groupID)
		}
		w.close()
	case groupError:
		if r.errText == nil {
			return
		}
		w.open("error")
		w.bytes("message", r.errText)
		w.close()
	case groupProcess:
		if env.Program == nil && env.PID < 0 {
			return
		}
		w.open("process")
		if env.Program != nil {
			w.bytes("name", env.Program)
		}
		if env.PID >= 0 {
			w.int("pid", env.PID)
		}
		w.close()
	case groupHost:
		if env.Host == nil {
			return
		}
		w.open("host")
		w.bytes("hostname", env.Host)
		w.close()
	case groupObserver:
		t := observerTypes[r.platform]
		if t == "" {
			return
		}
		w.open("observer")
		w.str("type", t)
		w.close()
	case groupLog:
		if env.Facility < 0 && env.Severity < 0 && r.level == "" && r.function == nil {
			return
		}
		if w.lean && r.level == "" && r.function == nil {
			return
		}
		w.open("log")
		if r.level != "" {
			w.str("level", r.level)
		}
		if r.function != nil {
			w.open("origin")
			w.bytes("function", r.function)
			w.close()
		}
		if env.Facility < 0 && env.Severity < 0 || w.lean {
			w.close()
			return
		}
		w.open("syslog")
		if env.Facility >= 0 {
			w.open("facility")
			w.str("name", parser.FacilityName(env.Facility))
			w.int("code", int(env.Facility))
			w.close()
		}
		if env.Severity >= 0 {
			w.open("severity")
			w.str("name", parser.SeverityName(env.Severity))
			w.int("code", int(env.Severity))
			w.close()
		}
		if env.Facility >= 0 && env.Severity >= 0 {
			w.int("priority", int(env.Facility)*8+int(env.Severity))
		}
		w.close()
		w.close()
	case groupNetwork:
		proto := ""
		if e != nil {
			proto = protocols[e.Family]
		}
		if proto == "" && len(r.transport) == 0 {
			return
		}
		w.open("network")
		if len(r.transport) > 0 {
			w.scratch = append(w.scratch[:0], r.transport...)
			lower(w.scratch)
			w.bytes("transport", w.scratch)
		}
		if proto != "" {
			w.str("protocol", proto)
		}
		w.close()
	case groupThreat:
		if e == nil || len(e.TechniqueIDs) == 0 {
			return
		}
		w.open("threat")
		if !w.lean {
			w.str("framework", "MITRE ATT&CK")
		}
		w.open("technique")
		w.strs("id", e.TechniqueIDs)
		if len(e.SubtechniqueIDs) > 0 {
			w.open("subtechnique")
			w.strs("id", e.SubtechniqueIDs)
			w.close()
		}
		w.close()
		w.close()
	case groupTags:
		if e == nil || len(e.Tags) == 0 {
			return
		}
		w.strs("tags", e.Tags)
	case groupRelated:
		if !r.src.ip.IsValid() && !r.dst.ip.IsValid() && r.user == nil && r.userEffective == nil && r.userTarget == nil &&
			r.userChanges == nil && r.src.domain == nil && r.dst.domain == nil {
			return
		}
		w.open("related")
		a, b := r.src, r.dst
		if !a.ip.IsValid() {
			a, b = b, hostValue{}
		} else if b.ip == a.ip {
			b = hostValue{}
		}
		if a.ip.IsValid() {
			w.ips("ip", a, b)
		}
		if r.user != nil || r.userEffective != nil || r.userTarget != nil || r.userChanges != nil {
			w.relatedUsers()
		}
		if r.src.domain != nil || r.dst.domain != nil {
			w.key("hosts")
			w.byteList(r.src.domain, r.dst.domain)
		}
		w.close()
	}
}

// eventMembers writes the members of the event group that follow from
// the entry (and the outcome before authentication).
func (w *writer) eventMembers() {
	e := w.ev.Match.Entry
	if e == nil {
		w.str("kind", "event")
		w.str("code", rules.Unclassified)
		w.str("outcome", "unknown")
		if !w.lean {
			w.str("dataset", datasetUnclassified)
		}
		return
	}
	w.str("kind", e.Kind)
	w.str("code", e.Code)
	if len(e.Categories) > 0 {
		w.strs("category", e.Categories)
	}
	if len(e.Types) > 0 {
		w.strs("type", e.Types)
	}
	if !w.lean {
		w.str("action", e.Action)
	}
	if w.preauthOutcome() {
		w.str("outcome", e.PreauthOutcome)
	} else {
		w.str("outcome", e.Outcome)
	}
	w.int("severity", e.Severity.Number())
	if !w.lean {
		w.str("dataset", w.datasets[e.Family])
	}
}

// preauthOutcome reports whether the event's outcome is the entry's
// outcome before authentication.
func (w *writer) preauthOutcome() bool {
	e := w.ev.Match.Entry
	return e != nil && e.PreauthOutcome != "" && w.ev.Match.Preauth && !w.shared
}

// relatedUsers writes related.user: every user the event names, once.
func (w *writer) relatedUsers() {
	r := &w.r
	w.key("user")
	w.byteList(r.user, r.userEffective, r.userTarget, r.userChanges)
}

// byteList writes values from the line as a list (an array, or joined by
// commas when flat), leaving out nil and repeated ones.
func (w *writer) byteList(items ...[]byte) {
	if !w.flat {
		w.enc.BeginArray()
	}
	w.scratch = w.scratch[:0]
	for i, u := range items {
		if u == nil || seenBefore(items[:i], u) {
			continue
		}
		if w.flat {
			if len(w.scratch) > 0 {
				w.scratch = append(w.scratch, ',')
			}
			w.scratch = append(w.scratch, u...)
		} else {
			w.value(u)
		}
	}
	if w.flat {
		w.value(w.scratch)
	} else {
		w.enc.EndArray()
	}
}

func seenBefore(list [][]byte, v []byte) bool {
	for _, u := range list {
		if u != nil && bytes.Equal(u, v) {
			return true
		}
	}
	return false
}

func lower(b []byte) {
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

const datasetUnclassified = Namespace + ".unclassified"

// datasetsOf names each family's event.dataset.
func datasetsOf(cat *rules.Catalog) map[string]string {
	m := map[string]string{}
	for _, f := range cat.Families() {
		m[f.Name] = Namespace + "." + f.Name
	}
	return m
}

var protocols = map[string]string{
	"openssh": "ssh", "ax-sshd": "ssh", "tectia": "ssh", "ssh-client": "ssh", "openvpn": "openvpn",
}

var observerTypes = map[string]string{"ax": "switch", "vpn-gateway": "vpn"}

// namespace writes sshenrich's own fields.
func (w *writer) namespace(taken *Taken, f *fragments) {
	ev, r, env := w.ev, &w.r, &w.ev.Env
	e := ev.Match.Entry
	if f != nil {
		w.replay(&f.static)
	} else {
		w.staticNamespace()
	}
	if env.Time.Valid && !w.lean {
		w.scratch = w.appendTime(w.scratch[:0], env.Time)
		w.bytes("timestamp", w.scratch)
	}
	if e != nil {
		w.captures()
	} else {
		if ev.Family != "" {
			w.str("family", ev.Family)
		}
		w.str("unclassified_reason", ev.Reason)
	}
	if env.PID >= 0 && env.Program != nil && !w.lean {
		// Lines of one sshd session share host, program and pid.
		w.key("session_id")
		w.scratch = w.scratch[:0]
		if env.Host != nil {
			w.scratch = append(w.scratch, env.Host...)
			w.scratch = append(w.scratch, '/')
		}
		w.scratch = append(w.scratch, env.Program...)
		w.scratch = append(w.scratch, '[')
		w.scratch = strconv.AppendInt(w.scratch, int64(env.PID), 10)
		w.scratch = append(w.scratch, ']')
		w.value(w.scratch)
	}
	if ev.Match.Preauth {
		w.bool("preauth", true)
	}
	if ev.Match.Postauth {
		w.bool("postauth", true)
	}
	if env.Repeated > 0 {
		w.int("repeated", env.Repeated)
	}
	if r.elided {
		w.bool("host_elided", true)
	}
	if ev.invalidUTF8 {
		w.bool("invalid_utf8", true)
	}
	if env.Level != nil {
		w.bytes("level", env.Level)
	}
	if env.Tunnel != nil {
		w.bytes("tunnel", env.Tunnel)
	}
	if env.Module != nil {
		w.bytes("tag_module", env.Module)
	}
	if env.MsgID != nil {
		w.bytes("syslog_msgid", env.MsgID)
	}
	if env.Switch > 0 {
		w.int("switch", env.Switch)
	}
	if env.Net.Present() {
		if len(env.Net.Prefix) > 0 {
			w.bytes("fw_prefix", env.Net.Prefix)
		}
		if len(env.Net.In) > 0 {
			w.bytes("fw_in", env.Net.In)
		}
		if len(env.Net.Out) > 0 {
			w.bytes("fw_out", env.Net.Out)
		}
	}
	w.takenFields(taken)
}

// staticNamespace writes the sshenrich fields that depend only on the
// entry, the language and the platform.
func (w *writer) staticNamespace() {
	if !w.lean {
		w.str("envelope", w.ev.Env.Format.String())
		if w.r.platform != "" {
			w.str("platform", w.r.platform)
		}
	}
	e := w.ev.Match.Entry
	if e == nil {
		return
	}
	w.str("family", e.Family)
	if !w.lean {
		w.str("severity", e.Severity.String())
	}
	for _, k := range e.Constants {
		if k.Int {
			n, _ := strconv.Atoi(k.Value)
			w.int(k.Field, n)
		} else {
			w.str(k.Field, k.Value)
		}
	}
	switch w.opts.Detail {
	case DetailFull:
		rem := e.Remedy(w.r.platform)
		switch w.opts.Lang {
		case LangEN:
			w.str("remediation", rem.En)
		case LangJA:
			w.str("remediation", fallback(rem.Ja, rem.En))
		case LangBoth:
			w.str("remediation", rem.En)
			w.str("description_ja", fallback(e.Description.Ja, e.Description.En))
			w.str("remediation_ja", fallback(rem.Ja, rem.En))
		}
	case DetailBrief:
		act := e.Severity <= w.opts.ActionMinSeverity
		switch w.opts.Lang {
		case LangEN, LangJA:
			if act {
				w.str("action", actionOf(e, w.r.platform, w.opts.Lang == LangJA))
			}
		case LangBoth:
			if act {
				w.str("action", actionOf(e, w.r.platform, false))
			}
			w.str("description_ja", summaryOf(e, true))
			if act {
				w.str("action_ja", actionOf(e, w.r.platform, true))
			}
		}
	}
}

func fallback(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// captures writes the captures and groups that go under sshenrich.
func (w *writer) captures() {
	msg := w.ev.Env.Message
	for _, c := range w.ev.Match.Captures() {
		val := msg[c.Start:c.End]
		if c.Group != nil {
			if c.Group.Kind == rules.KindBool {
				w.bool(c.Group.Field, true)
			} else {
				w.bytes(c.Group.Field, val)
			}
			continue
		}
		v := c.Var
		if v.Dest != rules.DestExtra || len(val) == 0 {
			continue
		}
		if w.mask != nil && v.Personal != rules.PersonalNone {
			w.bytes(v.Field, w.mask.personal(val, v))
			continue
		}
		switch v.Kind {
		case rules.KindInt:
			if n, ok := atoi(val); ok {
				w.int(v.Field, n)
			}
		case rules.KindList:
			w.list(v.Field, val)
		case rules.KindPushReply:
			w.pushReply(val)
		default:
			w.bytes(v.Field, val)
		}
	}
}

func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// appendTime is parser.Time.AppendRFC3339 with the date part cached:
// lines of one day share it.
func (w *writer) appendTime(b []byte, t parser.Time) []byte {
	local := t.Unix + int64(t.Offset)
	day := local / 86400
	if local < 0 || t.Nsec != 0 || t.Offset%60 != 0 {
		return t.AppendRFC3339(b)
	}
	if day != w.day || w.dayText[10] != 'T' {
		w.day = day
		y, m, d := time.Unix(day*86400, 0).UTC().Date()
		w.dayText = [11]byte{byte('0' + y/1000%10), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
			byte('0' + int(m)/10), byte('0' + int(m)%10), '-', byte('0' + d/10), byte('0' + d%10), 'T'}
	}
	b = append(b, w.dayText[:]...)
	s := local % 86400
	b = append(b, byte('0'+s/36000), byte('0'+s/3600%10), ':', byte('0'+s/600%6), byte('0'+s/60%10), ':', byte('0'+s%60/10), byte('0'+s%10))
	if t.Offset == 0 {
		return append(b, 'Z')
	}
	off, sign := int(t.Offset), byte('+')
	if off < 0 {
		off, sign = -off, '-'
	}
	return append(b, sign, byte('0'+off/36000), byte('0'+off/3600%10), ':', byte('0'+off%3600/600), byte('0'+off%3600/60%10))
}
