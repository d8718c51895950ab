package mask

import (
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// noClass marks a value that is not under a declared path.
const noClass = 0xFF

// state is the position of the walk in the rules and the scope at one value.
type state struct {
	rules  nodeSet // active rule nodes
	scope  nodeSet // active scope nodes, when scoped
	class  uint8   // class of the nearest declared path above, or noClass
	active bool    // rules is not empty
	scoped bool    // the scope still restricts what is kept below
}

// action is the fate of an object member or array element: kept, dropped or
// removed.
type action uint8

const (
	keep   action = iota
	drop          // outside the scope
	remove        // its class strategy is Remove
)

func (w *walker) errAt(pos int, reason string) error {
	return fmt.Errorf("%w at byte %d: %s", ErrInvalidJSON, w.offset+pos, reason)
}

func (w *walker) errDeep() error {
	return fmt.Errorf("%w at byte %d: more than %d nested objects and arrays",
		ErrTooDeep, w.offset+w.pos, MaxDepth)
}

// run walks the whole body.
func (w *walker) run(body []byte) error {
	if len(body) >= 3 && body[0] == 0xEF && body[1] == 0xBB && body[2] == 0xBF {
		body = body[3:]
		w.offset = 3
	}
	w.in = body

	st := state{class: noClass}
	if len(w.rules.tree.nodes) > 1 {
		st.rules.add(0)
		st.active = true
	}
	if w.scope != nil {
		st.scope.add(0)
		st.scoped = true
	}

	w.skipSpace()
	if w.pos >= len(w.in) {
		return w.errAt(w.pos, "no JSON value")
	}
	if c := w.in[w.pos]; st.scoped && c != '{' && c != '[' {
		// A granted path never selects the root, so a scalar root is empty.
		if err := w.skipValue(); err != nil {
			return err
		}
		w.out = append(w.out, "null"...)
	} else if err := w.value(st); err != nil {
		return err
	}
	w.skipSpace()
	if w.pos != len(w.in) {
		return w.errAt(w.pos, "data after the JSON value")
	}
	return nil
}

func (w *walker) skipSpace() {
	if w.pos < len(w.in) && w.in[w.pos] > ' ' {
		return
	}
	for w.pos < len(w.in) {
		switch w.in[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
		default:
			return
		}
	}
}

// value walks the value at w.pos, which the caller has checked exists.
func (w *walker) value(st state) error {
	switch c := w.in[w.pos]; {
	case c == '{':
		return w.object(st)
	case c == '[':
		return w.array(st)
	case c == '"':
		return w.stringValue(&st)
	case c == 't' || c == 'f' || c == 'n':
		return w.literalValue(&st)
	case c == '-' || c >= '0' && c <= '9':
		return w.numberValue(&st)
	}
	return w.errAt(w.pos, "unexpected character")
}

// decide returns what happens to the value at w.pos with state child.
func (w *walker) decide(child *state) action {
	if child.scoped {
		if child.scope.empty() {
			return drop
		}
		if c := w.in[w.pos]; c != '{' && c != '[' {
			// A granted path continues below this value, but a scalar
			// has nothing below it.
			return drop
		}
	}
	if child.class != noClass && w.strat[child.class] == Remove {
		return remove
	}
	return keep
}

// stepRules finishes child.rules: it picks the class of a declared path that
// ends here, the strictest when several do.
func (w *walker) stepRules(child *state) {
	child.active = !child.rules.empty()
	if !child.active {
		return
	}
	t := w.rules.tree
	if child.rules[0]&t.terms[0] == 0 && child.rules[1]&t.terms[1] == 0 {
		return
	}
	best := -1
	for i := 0; i < t.words; i++ {
		for x := child.rules[i] & t.terms[i]; x != 0; x &= x - 1 {
			c := t.nodes[i<<6|bits.TrailingZeros64(x)].term
			if best < 0 || w.strat[c].strictness() > w.strat[best].strictness() {
				best = c
			}
		}
	}
	child.class = uint8(best)
}

func (w *walker) stepScope(child *state) {
	t := w.scope.tree
	if child.scope[0]&t.terms[0] != 0 || child.scope[1]&t.terms[1] != 0 {
		child.scoped = false
	}
}

func (w *walker) object(st state) error {
	w.depth++
	if w.depth > MaxDepth {
		return w.errDeep()
	}
	w.pos++
	w.out = append(w.out, '{')
	w.skipSpace()
	if w.pos < len(w.in) && w.in[w.pos] == '}' {
		return w.closeContainer('}')
	}
	wrote := false
	for {
		if w.pos >= len(w.in) || w.in[w.pos] != '"' {
			return w.errAt(w.pos, "expected a string key")
		}
		keyStart := w.pos
		keyEnd, keyFlags, err := w.scanString(keyStart)
		if err != nil {
			return err
		}
		w.pos = keyEnd
		w.skipSpace()
		if w.pos >= len(w.in) || w.in[w.pos] != ':' {
			return w.errAt(w.pos, "expected a colon after an object key")
		}
		w.pos++
		w.skipSpace()
		if w.pos >= len(w.in) {
			return w.errAt(w.pos, "expected a value")
		}

		child := st
		if st.active || st.scoped {
			key := w.in[keyStart+1 : keyEnd-1]
			if keyFlags&flagEscape != 0 {
				w.keyBuf = decodeString(w.keyBuf[:0], key)
				key = w.keyBuf
			}
			if st.active {
				child.rules = w.rules.tree.stepKey(&st.rules, key)
				w.stepRules(&child)
			}
			if st.scoped {
				child.scope = w.scope.tree.stepKey(&st.scope, key)
				w.stepScope(&child)
			}
		}

		switch w.decide(&child) {
		case drop:
			err = w.skipValue()
		case remove:
			w.stats.add(child.class)
			err = w.skipValue()
		default:
			if wrote {
				w.out = append(w.out, ',')
			}
			wrote = true
			raw := w.in[keyStart:keyEnd]
			if keyFlags&flagDigits != 0 && st.class == noClass {
				w.backstopString(raw, keyFlags)
			} else {
				w.out = append(w.out, raw...)
			}
			w.out = append(w.out, ':')
			err = w.value(child)
		}
		if err != nil {
			return err
		}

		w.skipSpace()
		if w.pos >= len(w.in) {
			return w.errAt(w.pos, "unterminated object")
		}
		switch w.in[w.pos] {
		case ',':
			w.pos++
			w.skipSpace()
		case '}':
			return w.closeContainer('}')
		default:
			return w.errAt(w.pos, "expected a comma or } after an object member")
		}
	}
}

func (w *walker) array(st state) error {
	w.depth++
	if w.depth > MaxDepth {
		return w.errDeep()
	}
	w.pos++
	w.out = append(w.out, '[')
	w.skipSpace()
	if w.pos < len(w.in) && w.in[w.pos] == ']' {
		return w.closeContainer(']')
	}
	wrote := false
	for index := 0; ; index++ {
		if w.pos >= len(w.in) {
			return w.errAt(w.pos, "expected a value")
		}
		child := st
		if st.active {
			child.rules = w.rules.tree.stepIndex(&st.rules, index)
			w.stepRules(&child)
		}
		if st.scoped {
			child.scope = w.scope.tree.stepIndex(&st.scope, index)
			w.stepScope(&child)
		}

		var err error
		switch w.decide(&child) {
		case drop:
			err = w.skipValue()
		case remove:
			w.stats.add(child.class)
			err = w.skipValue()
		default:
			if wrote {
				w.out = append(w.out, ',')
			}
			wrote = true
			err = w.value(child)
		}
		if err != nil {
			return err
		}

		w.skipSpace()
		if w.pos >= len(w.in) {
			return w.errAt(w.pos, "unterminated array")
		}
		switch w.in[w.pos] {
		case ',':
			w.pos++
			w.skipSpace()
		case ']':
			return w.closeContainer(']')
		default:
			return w.errAt(w.pos, "expected a comma or ] after an array element")
		}
	}
}

func (w *walker) closeContainer(c byte) error {
	w.pos++
	w.depth--
	w.out = append(w.out, c)
	return nil
}

func (w *walker) stringValue(st *state) error {
	start := w.pos
	end, flags, err := w.scanString(start)
	if err != nil {
		return err
	}
	w.pos = end
	raw := w.in[start:end]
	switch {
	case st.class != noClass:
		w.maskValue(st.class, raw, w.stringContent(raw, flags), flags&flagEscape == 0)
	case flags&flagDigits != 0:
		w.backstopString(raw, flags)
	default:
		w.out = append(w.out, raw...)
	}
	return nil
}

func (w *walker) numberValue(st *state) error {
	start := w.pos
	end, digits, err := w.scanNumber(start)
	if err != nil {
		return err
	}
	w.pos = end
	raw := w.in[start:end]
	switch {
	case st.class != noClass:
		w.maskValue(st.class, raw, raw, true)
	case digits:
		w.backstopNumber(raw)
	default:
		w.out = append(w.out, raw...)
	}
	return nil
}

func (w *walker) literalValue(st *state) error {
	start := w.pos
	end, err := w.scanLiteral(start)
	if err != nil {
		return err
	}
	w.pos = end
	raw := w.in[start:end]
	// null holds no data, so every strategy but Remove keeps it.
	if st.class != noClass && raw[0] != 'n' {
		w.maskValue(st.class, raw, raw, true)
		return nil
	}
	w.out = append(w.out, raw...)
	return nil
}

// maskValue writes a value of a declared class: raw is its JSON text and
// text its decoded content, which is also JSON string content when
// textIsRaw. Partial and Hash always write a JSON string.
func (w *walker) maskValue(class uint8, raw, text []byte, textIsRaw bool) {
	switch w.strat[class] {
	case Plain:
		w.out = append(w.out, raw...)
		return
	case Partial:
		w.out = append(w.out, '"')
		w.out = appendPartial(w.out, w.kinds[class], text, textIsRaw)
		w.out = append(w.out, '"')
	case Hash:
		w.out = append(w.out, '"')
		w.out = w.appendHash(w.out, text)
		w.out = append(w.out, '"')
	default:
		// Containers skip a value whose strategy is Remove, so only a
		// Strategy outside the defined ones gets here. It writes null
		// rather than leak the value.
		w.out = append(w.out, "null"...)
	}
	w.stats.add(class)
}

// stringContent returns the decoded content of the JSON string raw.
func (w *walker) stringContent(raw []byte, flags uint8) []byte {
	content := raw[1 : len(raw)-1]
	if flags&flagEscape == 0 {
		return content
	}
	w.scratch = decodeString(w.scratch[:0], content)
	return w.scratch
}

// skipValue checks the value at w.pos and moves past it without output.
func (w *walker) skipValue() error {
	switch c := w.in[w.pos]; {
	case c == '{' || c == '[':
		return w.skipContainer()
	case c == '"':
		end, _, err := w.scanString(w.pos)
		w.pos = end
		return err
	case c == 't' || c == 'f' || c == 'n':
		end, err := w.scanLiteral(w.pos)
		w.pos = end
		return err
	case c == '-' || c >= '0' && c <= '9':
		end, _, err := w.scanNumber(w.pos)
		w.pos = end
		return err
	}
	return w.errAt(w.pos, "unexpected character")
}

func (w *walker) skipContainer() error {
	isObject := w.in[w.pos] == '{'
	closing := byte(']')
	if isObject {
		closing = '}'
	}
	w.depth++
	if w.depth > MaxDepth {
		return w.errDeep()
	}
	w.pos++
	w.skipSpace()
	if w.pos < len(w.in) && w.in[w.pos] == closing {
		w.pos++
		w.depth--
		return nil
	}
	for {
		if isObject {
			if w.pos >= len(w.in) || w.in[w.pos] != '"' {
				return w.errAt(w.pos, "expected a string key")
			}
			end, _, err := w.scanString(w.pos)
			if err != nil {
				return err
			}
			w.pos = end
			w.skipSpace()
			if w.pos >= len(w.in) || w.in[w.pos] != ':' {
				return w.errAt(w.pos, "expected a colon after an object key")
			}
			w.pos++
			w.skipSpace()
		}
		if w.pos >= len(w.in) {
			return w.errAt(w.pos, "expected a value")
		}
		if err := w.skipValue(); err != nil {
			return err
		}
		w.skipSpace()
		if w.pos >= len(w.in) {
			return w.errAt(w.pos, "unterminated object or array")
		}
		switch w.in[w.pos] {
		case ',':
			w.pos++
			w.skipSpace()
		case closing:
			w.pos++
			w.depth--
			return nil
		default:
			return w.errAt(w.pos, "expected a comma or the end of the object or array")
		}
	}
}

// Flags that scanString returns.
const (
	flagEscape uint8 = 1 << iota // the string has backslash escapes
	flagDigits                   // a run of 11 or more digits, escaped digits included
)

// Byte classes inside a JSON string.
const (
	byteOther = iota
	byteDigit
	byteQuote
	byteBackslash
	byteControl
	byteNonASCII
)

var stringBytes = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = byteControl
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byteDigit
	}
	t['"'] = byteQuote
	t['\\'] = byteBackslash
	for c := 0x80; c < 0x100; c++ {
		t[c] = byteNonASCII
	}
	return t
}()

// minDigitRun is the shortest digit run the backstop looks at: a mobile
// number has 11 digits.
const minDigitRun = 11

// scanString checks the JSON string that starts at w.in[i] and returns the
// index after its closing quote.
func (w *walker) scanString(i int) (int, uint8, error) {
	in := w.in
	start := i
	i++
	var flags uint8
	run := 0
	for {
		j := i
		for j < len(in) && stringBytes[in[j]] == byteOther {
			j++
		}
		if j != i {
			run = 0
			i = j
		}
		if i >= len(in) {
			return i, 0, w.errAt(start, "unterminated string")
		}
		switch stringBytes[in[i]] {
		case byteDigit:
			j := i + 1
			for j < len(in) && in[j] >= '0' && in[j] <= '9' {
				j++
			}
			run += j - i
			if run >= minDigitRun {
				flags |= flagDigits
			}
			i = j
		case byteQuote:
			return i + 1, flags, nil
		case byteNonASCII:
			for i < len(in) && in[i] >= 0x80 {
				if i+2 < len(in) && in[i] >= 0xE1 && in[i] <= 0xEC &&
					in[i+1]&0xC0 == 0x80 && in[i+2]&0xC0 == 0x80 {
					i += 3
					continue
				}
				size := validRuneLen(in[i:])
				if size == 0 {
					return i, 0, w.errAt(i, "invalid UTF-8 in a string")
				}
				i += size
			}
			run = 0
		case byteControl:
			return i, 0, w.errAt(i, "control character in a string")
		case byteBackslash:
			flags |= flagEscape
			if i+1 >= len(in) {
				return i, 0, w.errAt(start, "unterminated string")
			}
			switch in[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
				run = 0
			case 'u':
				if i+6 > len(in) || !isHex4(in[i+2:i+6]) {
					return i, 0, w.errAt(i, "invalid \\u escape")
				}
				if in[i+2] == '0' && in[i+3] == '0' && in[i+4] == '3' && in[i+5] <= '9' {
					// An escaped digit still forms part of a number.
					run++
					if run >= minDigitRun {
						flags |= flagDigits
					}
				} else {
					run = 0
				}
				i += 6
			default:
				return i, 0, w.errAt(i, "invalid escape in a string")
			}
		}
	}
}

// validRuneLen returns the length of the valid UTF-8 sequence of a non-ASCII
// rune at the start of b, or 0. Three-byte sequences, which hold the CJK
// characters, are checked inline; the rest go to utf8.DecodeRune.
func validRuneLen(b []byte) int {
	if len(b) >= 3 && b[0] >= 0xE1 && b[0] <= 0xEC &&
		b[1]&0xC0 == 0x80 && b[2]&0xC0 == 0x80 {
		return 3
	}
	r, size := utf8.DecodeRune(b)
	if r == utf8.RuneError && size == 1 {
		return 0
	}
	return size
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// scanNumber checks the JSON number at w.in[i] and returns the index after
// it, and whether it has a run of at least minDigitRun digits.
func (w *walker) scanNumber(i int) (int, bool, error) {
	in := w.in
	long := false
	if in[i] == '-' {
		i++
	}
	if i >= len(in) {
		return i, false, w.errAt(i, "invalid number")
	}
	switch c := in[i]; {
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		j := i
		i = skipDigits(in, i)
		long = i-j >= minDigitRun
	default:
		return i, false, w.errAt(i, "invalid number")
	}
	if i < len(in) && in[i] == '.' {
		i++
		j := i
		i = skipDigits(in, i)
		if i == j {
			return i, false, w.errAt(i, "invalid number: no digit after the decimal point")
		}
		long = long || i-j >= minDigitRun
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		j := i
		i = skipDigits(in, i)
		if i == j {
			return i, false, w.errAt(i, "invalid number: no digit in the exponent")
		}
		long = long || i-j >= minDigitRun
	}
	return i, long, nil
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func (w *walker) scanLiteral(i int) (int, error) {
	var lit string
	switch w.in[i] {
	case 't':
		lit = "true"
	case 'f':
		lit = "false"
	default:
		lit = "null"
	}
	if len(w.in)-i < len(lit) || string(w.in[i:i+len(lit)]) != lit {
		return i, w.errAt(i, "invalid literal")
	}
	return i + len(lit), nil
}

// decodeString appends the decoded content of a checked JSON string (without
// its quotes) to dst. A lone UTF-16 surrogate becomes U+FFFD.
func decodeString(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		switch s[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(s[i+2:]))
			i += 6
			if utf16IsHighSurrogate(r) && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
				if r2 := rune(hex4(s[i+2:])); utf16IsLowSurrogate(r2) {
					r = (r-0xD800)<<10 + (r2 - 0xDC00) + 0x10000
					i += 6
				}
			}
			if r >= 0xD800 && r <= 0xDFFF {
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst
}

func utf16IsHighSurrogate(r rune) bool { return r >= 0xD800 && r < 0xDC00 }
func utf16IsLowSurrogate(r rune) bool  { return r >= 0xDC00 && r <= 0xDFFF }

func hex4(b []byte) int {
	n := 0
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | int(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | int(c-'a'+10)
		default:
			n = n<<4 | int(c-'A'+10)
		}
	}
	return n
}

// appendEscaped appends s as JSON string content.
func appendEscaped(dst, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	return append(dst, s[start:]...)
}
