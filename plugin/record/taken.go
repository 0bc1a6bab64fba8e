package record

import (
	"bytes"
	"math"

	"github.com/sshenrich/sshenrich/plugin/chunk"
)

// Taken is what a record already holds under the top-level keys the
// writer adds. The caller adds each of the record's members (Add) and
// leaves out of the record those Add takes over; Write writes them back.
//
// In ECS style every group the writer may write is an object, as it is
// in an Elasticsearch index with ECS mappings, which refuses a record
// whose "host" or "event" is a string. So:
//   - a map under a group's key (the record's own "event": {...}) is
//     merged with the added fields: its members stay as they are, the
//     added members are put beside them, and an added member whose name
//     the map already has goes to sshenrich.<group>.<name> instead, named
//     in sshenrich.moved ("event.code");
//   - anything else under a group's key (a syslog parser's "host":
//     "web01", a number, an array) gives the key to the added group and
//     is kept, unchanged, under sshenrich.original.<key>;
//   - "tags" may be a string or a list in ECS, so the record's own tags
//     stay, and the added ones go to sshenrich.tags.
//
// Flat style has no objects: "host" and host_hostname never meet. Only
// a key of the record that starts with a group's prefix (source_ip)
// can meet an added one, so that group is written under sshenrich_
// instead (sshenrich_source_ip) and named in sshenrich_moved.
//
// A record with a sshenrich key, or a key that starts with sshenrich_,
// was enriched before (Enriched).
type Taken struct {
	groups   uint32            // groups written under sshenrich instead
	orig     [numGroups][]byte // ECS: the record's own value of a group's key, as msgpack
	enriched bool
}

// Reset forgets every key, for the next record.
func (t *Taken) Reset() { *t = Taken{} }

// Add notes one top-level member of the record: its key and its value
// as msgpack. It reports whether Write takes the member over, in which
// case the caller leaves it out of the record.
func (t *Taken) Add(key, value []byte, style Style) bool {
	if string(key) == Namespace || bytes.HasPrefix(key, []byte(Namespace+"_")) {
		t.enriched = true
		return false
	}
	if g, ok := groupIndex[string(key)]; ok {
		if style == StyleFlat || t.orig[g] != nil || len(value) == 0 {
			// Flat keys never meet a plain group name; a repeated key
			// stays where it is.
			return false
		}
		if g == groupTags {
			t.groups |= 1 << g
			return false
		}
		t.orig[g] = value
		return true
	}
	if style != StyleFlat {
		return false
	}
	// A flat key such as source_ip takes the source group.
	if i := bytes.IndexByte(key, '_'); i > 0 {
		if g, ok := groupIndex[string(key[:i])]; ok {
			t.groups |= 1 << g
		}
	}
	return false
}

// Release gives a member that Add took over back to the caller, which
// writes it itself (the line under "log" that becomes "message").
func (t *Taken) Release(key []byte) {
	if g, ok := groupIndex[string(key)]; ok {
		t.orig[g] = nil
	}
}

// Enriched reports whether the record already carries sshenrich fields.
func (t *Taken) Enriched() bool { return t.enriched }

func (t *Taken) has(g int) bool { return t.groups&(1<<g) != 0 }

var groupIndex = func() map[string]int {
	m := map[string]int{}
	for g, name := range groupNames {
		m[name] = g
	}
	return m
}()

// merged is what merging wrote aside for the sshenrich namespace: the
// added members that met one of the record's own (clash, as msgpack
// members, per group) and the groups whose original was not a map.
type merged struct {
	clash       []byte
	clashAt     [numGroups][2]int // [start, end) in clash
	clashN      [numGroups]int
	original    uint32 // groups whose original value goes to sshenrich.original
	anyClash    bool
	mergeMP     Msgpack // the added group, encoded to be taken apart
	jsonScratch []byte
	name        []byte // a name in the moved list
}

func (m *merged) reset() {
	m.clash = m.clash[:0]
	m.clashN = [numGroups]int{}
	m.original, m.anyClash = 0, false
}

// mergeGroup writes group g of a record that has its own value orig
// under the group's key (ECS style only).
func (w *writer) mergeGroup(g int, orig []byte) {
	ours := w.encodeGroup(g)
	n, first, isMap := chunk.MapHeader(orig)
	if !isMap {
		w.mg.original |= 1 << g
		if len(ours) > 0 {
			w.rawMember(ours)
		}
		return
	}
	// A map too big to take more members in the encoder's 16-bit count
	// stays as it is, and every added member goes aside.
	full := n > math.MaxUint16-64
	if len(ours) == 0 || full {
		w.key(groupNames[g])
		w.rawValue(orig)
	} else {
		w.open(groupNames[g])
		w.rawMembers(orig[first:], n, orig)
	}
	if len(ours) == 0 {
		return
	}
	oursMap := ours[w.valueAt(ours):]
	var it chunk.MapIter
	it.Reset(oursMap)
	start := len(w.mg.clash)
	for it.Next() {
		member := oursMap[it.MemberStart():it.MemberEnd()]
		if full || hasKey(orig, it.Key()) {
			w.mg.clash = append(w.mg.clash, member...)
			w.mg.clashN[g]++
			continue
		}
		w.rawMember(member)
	}
	if w.mg.clashN[g] > 0 {
		w.mg.clashAt[g] = [2]int{start, len(w.mg.clash)}
		w.mg.anyClash = true
	}
	if !full {
		w.close()
	}
}

// valueAt is where the value of the single member in b starts.
func (w *writer) valueAt(b []byte) int {
	end, err := chunk.Skip(b, 0)
	if err != nil {
		return len(b)
	}
	return end
}

// encodeGroup encodes the added group g, key and value, as msgpack into
// a scratch buffer, or returns nothing when the record gets no such
// group. The result is valid until the next call.
func (w *writer) encodeGroup(g int) []byte {
	if w.lean && leanSkips[g] {
		return nil
	}
	enc, mp, top, level, keys := w.enc, w.mp, w.top, w.level, w.keys
	sub := &w.mg.mergeMP
	sub.Reset()
	w.enc, w.mp, w.top, w.level = sub, sub, 0, 0
	w.group(g)
	w.enc, w.mp, w.top, w.level, w.keys = enc, mp, top, level, keys
	return sub.Buf
}

// hasKey reports whether the msgpack map m has the string key k.
func hasKey(m, k []byte) bool {
	var it chunk.MapIter
	it.Reset(m)
	for it.Next() {
		if bytes.Equal(it.Key(), k) {
			return true
		}
	}
	return false
}

// rawMember writes one map member given as msgpack: a string key and
// its value.
func (w *writer) rawMember(m []byte) {
	vAt := w.valueAt(m)
	k, _ := chunk.Str(m[:vAt])
	if w.mp != nil {
		w.keys++
		if w.level == 0 {
			w.top++
		}
		w.mp.Raw(m, 1)
		return
	}
	w.enc.KeyBytes(k)
	w.keys++
	if w.level == 0 {
		w.top++
	}
	w.rawValue(m[vAt:])
}

// rawMembers writes n members given as msgpack; whole is the map they
// come from, for the JSON encoder.
func (w *writer) rawMembers(members []byte, n int, whole []byte) {
	if n == 0 {
		return
	}
	w.keys += n
	if w.level == 0 {
		w.top += n
	}
	if w.mp != nil {
		w.mp.Raw(members, n)
		return
	}
	var err error
	w.mg.jsonScratch, _, err = chunk.AppendJSON(w.mg.jsonScratch[:0], whole)
	if err != nil || len(w.mg.jsonScratch) < 2 {
		return
	}
	w.enc.Raw(w.mg.jsonScratch[1:len(w.mg.jsonScratch)-1], n)
}

// rawValue writes a value given as msgpack.
func (w *writer) rawValue(v []byte) {
	if w.mp != nil {
		w.mp.RawValue(v)
		return
	}
	var err error
	w.mg.jsonScratch, _, err = chunk.AppendJSON(w.mg.jsonScratch[:0], v)
	if err != nil {
		w.enc.RawValue([]byte("null"))
		return
	}
	w.enc.RawValue(w.mg.jsonScratch)
}

// takenFields writes, under sshenrich, what the record's own keys moved
// aside: added groups and members that met the record's (listed in
// moved) and the record's own values that were not maps (original).
func (w *writer) takenFields(taken *Taken) {
	var moved [numGroups]bool
	anyMoved := false
	if taken.groups != 0 {
		for g := range numGroups {
			if taken.has(g) && (!w.lean || !leanSkips[g]) && (g != groupECS || !w.flat) {
				before := w.keys
				w.group(g)
				moved[g] = w.keys > before
				anyMoved = anyMoved || moved[g]
			}
		}
	}
	if w.mg.anyClash {
		for g := range numGroups {
			if w.mg.clashN[g] == 0 {
				continue
			}
			w.open(groupNames[g])
			at := w.mg.clashAt[g]
			for b := w.mg.clash[at[0]:at[1]]; len(b) > 0; {
				end := w.memberEnd(b)
				w.rawMember(b[:end])
				b = b[end:]
			}
			w.close()
		}
	}
	if w.mg.original != 0 {
		w.open("original")
		for g := range numGroups {
			if w.mg.original&(1<<g) != 0 {
				w.key(groupNames[g])
				w.rawValue(taken.orig[g])
			}
		}
		w.close()
	}
	if !anyMoved && !w.mg.anyClash {
		return
	}
	w.key("moved")
	if !w.flat {
		w.enc.BeginArray()
	}
	w.scratch = w.scratch[:0]
	item := func(s []byte) {
		if w.flat {
			if len(w.scratch) > 0 {
				w.scratch = append(w.scratch, ',')
			}
			w.scratch = append(w.scratch, s...)
		} else {
			w.enc.Bytes(s)
		}
	}
	name := w.mg.name[:0]
	for g := range numGroups {
		if moved[g] {
			name = append(name[:0], groupNames[g]...)
			item(name)
		}
		if w.mg.clashN[g] == 0 {
			continue
		}
		at := w.mg.clashAt[g]
		for b := w.mg.clash[at[0]:at[1]]; len(b) > 0; {
			end := w.memberEnd(b)
			k, _ := chunk.Str(b[:w.valueAt(b)])
			name = append(append(append(name[:0], groupNames[g]...), '.'), k...)
			item(name)
			b = b[end:]
		}
	}
	w.mg.name = name
	if w.flat {
		w.string(view(w.scratch))
	} else {
		w.enc.EndArray()
	}
}

// memberEnd is where the first msgpack member (key and value) of b ends.
func (w *writer) memberEnd(b []byte) int {
	k, err := chunk.Skip(b, 0)
	if err != nil {
		return len(b)
	}
	v, err := chunk.Skip(b, k)
	if err != nil {
		return len(b)
	}
	return v
}
