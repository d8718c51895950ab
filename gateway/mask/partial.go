package mask

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"math/bits"

	"github.com/citydata/datagateway/gateway/identity"
)

// hashLen is the number of hex characters of the truncated HMAC-SHA256 that
// the Hash strategy writes: 128 bits.
const hashLen = 32

// compoundSurnames are two-character surnames, in simplified and common
// traditional forms. A name that starts with one keeps two characters.
var compoundSurnames = func() map[string]struct{} {
	names := []string{
		"欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容",
		"长孙", "宇文", "司徒", "夏侯", "轩辕", "令狐", "钟离", "端木", "独孤",
		"南宫", "西门", "万俟", "闻人", "申屠", "澹台", "太史", "司空", "呼延",
		"东郭", "百里", "公羊", "赫连", "濮阳", "淳于", "单于", "太叔", "仲孙",
		"宗政", "公冶", "拓跋", "第五", "梁丘", "左丘", "东门", "谷梁", "乐正",
		"巫马", "公西", "漆雕", "壤驷", "公良", "宰父", "微生", "羊舌", "段干",
		"亓官", "司寇", "子车", "颛孙", "鲜于", "夹谷", "呼衍", "完颜", "爱新",
		"歐陽", "司馬", "諸葛", "東方", "尉遲", "長孫", "軒轅", "鍾離", "獨孤",
		"南宮", "西門", "聞人", "澹臺", "太史", "呼延", "東郭", "赫連", "濮陽",
		"單于", "宗政", "鮮于", "顓孫",
	}
	m := make(map[string]struct{}, len(names))
	for _, n := range names {
		m[n] = struct{}{}
	}
	return m
}()

// appendPartial appends the partial mask of v, a value of a class of kind,
// as JSON string content without quotes. When raw is true, v is already
// JSON string content (no character in it needs an escape). Masks count
// runes, not bytes. When a value is too short for the kept parts to leave
// anything masked, every rune is masked.
func appendPartial(dst []byte, kind classKind, v []byte, raw bool) []byte {
	n := runeCount(v)
	switch kind {
	case kindIDNumber:
		return appendKept(dst, v, raw, n, 6, 4) // 350203********1234
	case kindPhone:
		return appendKept(dst, v, raw, n, 3, 4) // 138****5678
	case kindBankCard:
		return appendKept(dst, v, raw, n, 6, 4)
	case kindCreditCode:
		return appendKept(dst, v, raw, n, 8, 2)
	case kindName:
		return appendKept(dst, v, raw, n, surnameLen(v, n), 0) // 张*, 欧阳**
	case kindAddress:
		return appendAddress(dst, v, raw, n)
	case kindEmail:
		return appendEmail(dst, v, raw, n)
	}
	return appendKept(dst, v, raw, n, 1, 1)
}

// appendKept appends the first and last runes of v (n runes in all) and one
// star for every rune between them.
func appendKept(dst, v []byte, raw bool, n, first, last int) []byte {
	if first+last >= n {
		return appendStars(dst, n)
	}
	head := runePrefixLen(v, first)
	tail := len(v) - runeSuffixLen(v, last)
	dst = appendText(dst, v[:head], raw)
	dst = appendStars(dst, n-first-last)
	return appendText(dst, v[tail:], raw)
}

// appendText appends b as JSON string content, escaping it unless raw.
func appendText(dst, b []byte, raw bool) []byte {
	if raw {
		return append(dst, b...)
	}
	return appendEscaped(dst, b)
}

// surnameLen is 2 for a name of three or more runes that starts with a
// compound surname, else 1.
func surnameLen(v []byte, n int) int {
	if n < 3 {
		return 1
	}
	if _, ok := compoundSurnames[string(v[:runePrefixLen(v, 2)])]; ok {
		return 2
	}
	return 1
}

// appendAddress keeps the first 6 runes, but never more than half of them,
// and writes four stars for the rest whatever its length.
func appendAddress(dst, v []byte, raw bool, n int) []byte {
	if n == 0 {
		return dst
	}
	keep := min(6, n/2)
	dst = appendText(dst, v[:runePrefixLen(v, keep)], raw)
	return append(dst, "****"...)
}

// appendEmail keeps the first rune of the local part and the domain:
// z***@example.com. A value without @ is masked like an unknown class.
func appendEmail(dst, v []byte, raw bool, n int) []byte {
	at := bytes.LastIndexByte(v, '@')
	if at < 0 {
		return appendKept(dst, v, raw, n, 1, 1)
	}
	dst = appendText(dst, v[:runePrefixLen(v[:at], 1)], raw)
	dst = append(dst, "***@"...)
	return appendText(dst, v[at+1:], raw)
}

// runeCount counts the runes of valid UTF-8: the bytes that are not
// continuation bytes (10xxxxxx), eight at a time. It replaces
// utf8.RuneCount, which allocates for non-ASCII input as of Go 1.26.
func runeCount(v []byte) int {
	cont := 0
	i := 0
	for ; i+8 <= len(v); i += 8 {
		x := binary.LittleEndian.Uint64(v[i:])
		// Bit 7 of a byte set and bit 6 clear.
		cont += bits.OnesCount64(x &^ (x << 1) & 0x8080808080808080)
	}
	for ; i < len(v); i++ {
		if v[i]&0xC0 == 0x80 {
			cont++
		}
	}
	return len(v) - cont
}

const stars = "********************************"

func appendStars(dst []byte, n int) []byte {
	for n > len(stars) {
		dst = append(dst, stars...)
		n -= len(stars)
	}
	return append(dst, stars[:max(n, 0)]...)
}

// runePrefixLen returns the byte length of the first n runes of v, which
// is valid UTF-8.
func runePrefixLen(v []byte, n int) int {
	i := 0
	for ; n > 0 && i < len(v); n-- {
		i++
		for i < len(v) && v[i]&0xC0 == 0x80 {
			i++
		}
	}
	return i
}

// runeSuffixLen returns the byte length of the last n runes of v, which is
// valid UTF-8.
func runeSuffixLen(v []byte, n int) int {
	i := len(v)
	for ; n > 0 && i > 0; n-- {
		i--
		for i > 0 && v[i]&0xC0 == 0x80 {
			i--
		}
	}
	return len(v) - i
}

// appendHash appends the hex HMAC-SHA256 of v, truncated to hashLen.
func (w *walker) appendHash(dst, v []byte) []byte {
	w.mac.Reset()
	w.mac.Write(v)
	w.sum = w.mac.Sum(w.sum[:0])
	return hex.AppendEncode(dst, w.sum[:hashLen/2])
}

// nextMatch finds the first identity number or mobile number in t at or
// after i and returns its bounds and class, or start -1.
//
// An identity number is 18 characters, 17 digits and a check character, with
// a valid check character and birth date, and neither preceded nor followed
// by a digit or X. A lowercase x counts as X here. A mobile number is a run
// of exactly 11 digits, or 13 digits that start with the country code 86.
func nextMatch(t []byte, i int) (start, end int, class uint8) {
	for i < len(t) {
		if t[i] < '0' || t[i] > '9' {
			i++
			continue
		}
		s := i
		i = skipDigits(t, i)
		run := i - s
		if run < minDigitRun {
			continue
		}
		afterX := s > 0 && isX(t[s-1])
		switch {
		case run == 18 && !afterX && !(i < len(t) && isX(t[i])):
			if identity.ValidIDNumberFold(t[s:i]) {
				return s, i, ClassIDNumber
			}
		case run == 17 && !afterX && i < len(t) && isX(t[i]):
			if i+1 < len(t) && (isX(t[i+1]) || t[i+1] >= '0' && t[i+1] <= '9') {
				continue
			}
			if identity.ValidIDNumberFold(t[s : i+1]) {
				return s, i + 1, ClassIDNumber
			}
		case run == 11:
			if identity.IsMobile(t[s:i]) {
				return s, i, ClassPhone
			}
		case run == 13 && t[s] == '8' && t[s+1] == '6':
			if identity.IsMobile(t[s+2 : i]) {
				return s + 2, i, ClassPhone
			}
		}
	}
	return -1, -1, 0
}

func isX(c byte) bool { return c == 'X' || c == 'x' }

// backstopString writes the JSON string raw with every identity number and
// mobile number in it masked by its class strategy.
func (w *walker) backstopString(raw []byte, flags uint8) {
	text := raw[1 : len(raw)-1]
	decoded := flags&flagEscape != 0
	if decoded {
		w.scratch = decodeString(w.scratch[:0], text)
		text = w.scratch
	}
	if s, _, _ := nextMatch(text, 0); s < 0 {
		w.out = append(w.out, raw...)
		return
	}
	w.backstopText(text, decoded)
}

// backstopNumber writes a JSON number. A number that contains an identity
// number or mobile number whose strategy is not Plain becomes a JSON string
// with the match masked.
func (w *walker) backstopNumber(raw []byte) {
	for s, e, class := nextMatch(raw, 0); s >= 0; s, e, class = nextMatch(raw, e) {
		if w.strat[class] != Plain {
			w.backstopText(raw, false)
			return
		}
	}
	w.out = append(w.out, raw...)
}

// backstopText writes text as a JSON string with its matches masked. When
// decoded is false, text is already JSON string content.
func (w *walker) backstopText(text []byte, decoded bool) {
	w.out = append(w.out, '"')
	last := 0
	for s, e, class := nextMatch(text, 0); s >= 0; s, e, class = nextMatch(text, e) {
		w.appendContent(text[last:s], decoded)
		last = e
		st := w.strat[class]
		switch st {
		case Plain:
			w.out = append(w.out, text[s:e]...)
			continue
		case Partial:
			w.out = appendPartial(w.out, w.kinds[class], text[s:e], true)
		case Hash:
			w.out = w.appendHash(w.out, text[s:e])
		default:
			// Remove keeps the text around the match readable.
			w.out = appendStars(w.out, e-s)
		}
		w.stats.add(class)
	}
	w.appendContent(text[last:], decoded)
	w.out = append(w.out, '"')
}

func (w *walker) appendContent(b []byte, decoded bool) {
	if decoded {
		w.out = appendEscaped(w.out, b)
		return
	}
	w.out = append(w.out, b...)
}
