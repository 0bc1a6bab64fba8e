package parser

import "time"

// Time is a timestamp read from a line.
type Time struct {
	Unix   int64 // seconds since the epoch
	Nsec   int32
	Offset int32 // seconds east of UTC that the time is written in
	Valid  bool  // the line carried a usable time
	Zoned  bool  // the line stated its zone; otherwise the Parser's Location was assumed
	// YearGuessed is set when the line wrote no year (RFC 3164, journald
	// short): the Parser took the latest year that does not put the line
	// more than a week into the future.
	YearGuessed bool
}

// Dated reports whether the line wrote a whole date, year included, so
// that the time is the line's own rather than a guess. Its zone is the
// line's, or the Parser's Location when the line states none.
func (t Time) Dated() bool { return t.Valid && !t.YearGuessed }

// Go returns the time as a time.Time in UTC.
func (t Time) Go() time.Time { return time.Unix(t.Unix, int64(t.Nsec)).UTC() }

// AppendRFC3339 appends the time in RFC 3339 form with nanoseconds as
// needed and its own offset, e.g. 2024-06-16T07:37:30.5+09:00. It does
// not allocate.
func (t Time) AppendRFC3339(b []byte) []byte {
	c := time.Unix(t.Unix+int64(t.Offset), 0).UTC()
	y, mo, d := c.Date()
	h, mi, s := c.Clock()
	b = appendInt(b, y, 4)
	b = append(b, '-')
	b = appendInt(b, int(mo), 2)
	b = append(b, '-')
	b = appendInt(b, d, 2)
	b = append(b, 'T')
	b = appendInt(b, h, 2)
	b = append(b, ':')
	b = appendInt(b, mi, 2)
	b = append(b, ':')
	b = appendInt(b, s, 2)
	if t.Nsec > 0 {
		var frac [9]byte
		n := int(t.Nsec)
		for i := 8; i >= 0; i-- {
			frac[i] = byte('0' + n%10)
			n /= 10
		}
		end := 9
		for end > 1 && frac[end-1] == '0' {
			end--
		}
		b = append(b, '.')
		b = append(b, frac[:end]...)
	}
	if t.Offset == 0 {
		return append(b, 'Z')
	}
	off := int(t.Offset)
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b = append(b, sign)
	b = appendInt(b, off/3600, 2)
	b = append(b, ':')
	return appendInt(b, off%3600/60, 2)
}

func appendInt(b []byte, v, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for v >= 10 || width > 1 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	i--
	buf[i] = byte('0' + v)
	return append(b, buf[i:]...)
}

// civil is a date and time as written, before a zone is applied.
type civil struct {
	year, month, day, hour, min, sec, nsec int
}

// inZone converts a civil time at a fixed offset.
func (c civil) inZone(offset int) Time {
	u := time.Date(c.year, time.Month(c.month), c.day, c.hour, c.min, c.sec, 0, time.UTC).Unix()
	return Time{Unix: u - int64(offset), Nsec: int32(c.nsec), Offset: int32(offset), Valid: true, Zoned: true}
}

// hourCache remembers where one local hour starts, because lines come
// in time order and converting a civil time in a Location is costly.
type hourCache struct {
	key    int   // year, month, day and hour packed; 0 when empty
	base   int64 // Unix time of the hour's start
	offset int32
}

// local converts a civil time that carries no zone, in p's Location.
func (p *Parser) local(c civil) Time {
	key := ((c.year*100+c.month)*100+c.day)*100 + c.hour
	h := &p.hour
	if h.key != key {
		start := time.Date(c.year, time.Month(c.month), c.day, c.hour, 0, 0, 0, p.loc)
		_, off := start.Zone()
		_, offEnd := start.Add(time.Hour - time.Nanosecond).Zone()
		if off != offEnd || start.Hour() != c.hour {
			// The zone changes within this hour: convert this line alone.
			t := time.Date(c.year, time.Month(c.month), c.day, c.hour, c.min, c.sec, c.nsec, p.loc)
			_, off := t.Zone()
			return Time{Unix: t.Unix(), Nsec: int32(c.nsec), Offset: int32(off), Valid: true}
		}
		*h = hourCache{key: key, base: start.Unix(), offset: int32(off)}
	}
	return Time{Unix: h.base + int64(c.min*60+c.sec), Nsec: int32(c.nsec), Offset: h.offset, Valid: true}
}

func (c civil) valid() bool {
	return c.month >= 1 && c.month <= 12 && c.day >= 1 && c.day <= 31 &&
		c.hour <= 23 && c.min <= 59 && c.sec <= 60
}

// num reads exactly n decimal digits at b[i:].
func num(b []byte, i, n int) (int, bool) {
	if i+n > len(b) {
		return 0, false
	}
	v := 0
	for _, c := range b[i : i+n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// month reads a three-letter English month name.
func month(b []byte, i int) (int, bool) {
	if i+3 > len(b) {
		return 0, false
	}
	switch string(b[i : i+3]) {
	case "Jan":
		return 1, true
	case "Feb":
		return 2, true
	case "Mar":
		return 3, true
	case "Apr":
		return 4, true
	case "May":
		return 5, true
	case "Jun":
		return 6, true
	case "Jul":
		return 7, true
	case "Aug":
		return 8, true
	case "Sep":
		return 9, true
	case "Oct":
		return 10, true
	case "Nov":
		return 11, true
	case "Dec":
		return 12, true
	}
	return 0, false
}

func weekday(b []byte, i int) bool {
	if i+3 > len(b) {
		return false
	}
	switch string(b[i : i+3]) {
	case "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun":
		return true
	}
	return false
}

// clock reads "hh:mm:ss" at b[i:].
func clock(b []byte, i int, c *civil) bool {
	if i < 0 || i+8 > len(b) {
		return false
	}
	t := b[i : i+8 : i+8] // one bounds check for the eight bytes
	var ok1, ok2, ok3 bool
	c.hour, ok1 = twoDigits(t[0], t[1])
	c.min, ok2 = twoDigits(t[3], t[4])
	c.sec, ok3 = twoDigits(t[6], t[7])
	return ok1 && ok2 && ok3 && t[2] == ':' && t[5] == ':'
}

// twoDigits reads the decimal number of two digit bytes.
func twoDigits(hi, lo byte) (int, bool) {
	h, l := hi-'0', lo-'0'
	return int(h)*10 + int(l), h <= 9 && l <= 9
}

// fraction reads ".ddd" (1 to 9 digits) at b[i:] into nanoseconds.
func fraction(b []byte, i int) (nsec, next int) {
	if i >= len(b) || (b[i] != '.' && b[i] != ',') {
		return 0, i
	}
	j := i + 1
	scale := 100000000
	for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
		if scale > 0 {
			nsec += int(b[j]-'0') * scale
			scale /= 10
		}
	}
	if j == i+1 {
		return 0, i
	}
	return nsec, j
}

// zoneOffset reads "Z", "+hh:mm", "+hhmm" or "+hh" at b[i:].
func zoneOffset(b []byte, i int) (offset, next int, ok bool) {
	if i >= len(b) {
		return 0, i, false
	}
	if b[i] == 'Z' || b[i] == 'z' {
		return 0, i + 1, true
	}
	if b[i] != '+' && b[i] != '-' {
		return 0, i, false
	}
	sign := 1
	if b[i] == '-' {
		sign = -1
	}
	h, ok := num(b, i+1, 2)
	if !ok || h > 14 {
		return 0, i, false
	}
	j := i + 3
	m := 0
	if j < len(b) && b[j] == ':' {
		if m, ok = num(b, j+1, 2); !ok {
			return 0, i, false
		}
		j += 3
	} else if mm, ok := num(b, j, 2); ok {
		m = mm
		j += 2
	}
	return sign * (h*3600 + m*60), j, true
}

// namedZone maps the zone names switches print after "Date".
func namedZone(b []byte) (int, bool) {
	switch string(b) {
	case "UTC", "GMT", "Z":
		return 0, true
	case "JST", "KST":
		return 9 * 3600, true
	}
	if off, n, ok := zoneOffset(b, 0); ok && n == len(b) {
		return off, true
	}
	return 0, false
}
