package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/citydata/datagateway/gateway/identity"
)

// StreamFields returns the names of the fields of a stream entry, in the
// order the writer adds them. Every value is a string:
//
//	id              request id (X-Request-Id)
//	time            RFC 3339 with nanoseconds, UTC
//	instance        writer instance that made the chain
//	seq             position in the instance's chain, decimal, from 1
//	prev            hash of the previous entry of the chain, empty for seq 1
//	consumer .. path  as in Record (grant is Record.GrantID)
//	decision        allow, deny or error
//	reasons         JSON array of strings, [] when there are none
//	policy_version, status, bytes, masked  decimal where numeric
//	upstream_ms, total_ms  milliseconds with three decimals (microseconds)
//	subject         Record.SubjectHash, the caller's keyed hash of the subject
//	client_ip
//	hash            chain hash, see below
//
// The hash is the lowercase hex HMAC-SHA256, keyed with the chain key, of
// every value before it in this order, prev included. Each value is
// preceded by its length in bytes as a 4-byte big-endian integer, so no two
// different entries encode alike. In a value that is not valid UTF-8, each
// run of invalid bytes is replaced by U+FFFD before hashing, so the stream
// and the spool (JSON) hold the same bytes.
func StreamFields() []string {
	names := fieldNames
	return names[:]
}

var fieldNames = [numFields]string{
	"id", "time", "instance", "seq", "prev",
	"consumer", "org", "resource", "provider", "scenario", "grant",
	"method", "path", "decision", "reasons", "policy_version",
	"status", "bytes", "masked", "upstream_ms", "total_ms",
	"subject", "client_ip", "hash",
}

// Positions in fieldNames that the writer, the Lua script and Verify use.
const (
	fieldID       = 0
	fieldTime     = 1
	fieldInstance = 2
	fieldSeq      = 3
	fieldPrev     = 4
	fieldHash     = 23
	numFields     = 24
)

// entry is a record in its stream form: the values of fieldNames in order.
type entry [numFields]string

// encoder turns records into entries. It keeps scratch buffers and an HMAC
// state, so one encoder serves one goroutine.
type encoder struct {
	mac     hash.Hash
	scratch []byte
	// formatted is the buffer for the values that encode and seal format,
	// so that one string conversion serves all of them.
	formatted []byte
}

func newEncoder(key []byte) *encoder {
	return &encoder{
		mac:       hmac.New(sha256.New, key),
		scratch:   make([]byte, 0, 1024),
		formatted: make([]byte, 0, 1024),
	}
}

// formattedFields lists the fields whose values the encoder formats from
// a record's time, numbers and reasons, in ascending order as seal walks
// them alongside the other fields. The other fields take the record's
// strings as they are or cut.
var formattedFields = [...]int{fieldTime, fieldSeq, 14, 16, 17, 18, 19, 20}

// encode formats r's fields as stream values; the hash is left empty.
func (c *encoder) encode(r *Record) entry {
	e := textFields(r)
	buf, ends := appendFormatted(c.formatted[:0], r)
	c.formatted = buf
	setFormatted(&e, string(buf), &ends)
	return e
}

// seal formats r's fields as stream values and sets the chain hash, with
// the same result as encode followed by chainHash. The formatted values
// and the hash are substrings of one string, which costs one allocation
// per record instead of one per value.
func (c *encoder) seal(r *Record) entry {
	e := textFields(r)
	buf, ends := appendFormatted(c.formatted[:0], r)

	// The formatted values are not strings yet, so the hash input takes
	// them from buf.
	in := c.scratch[:0]
	k, begin := 0, 0
	for i, v := range e[:fieldHash] {
		if k < len(formattedFields) && formattedFields[k] == i {
			in = appendHashValue(in, buf[begin:ends[k]])
			begin = ends[k]
			k++
			continue
		}
		in = appendHashValue(in, v)
	}
	c.scratch = in
	buf = hex.AppendEncode(buf, c.sum(in))
	c.formatted = buf

	all := string(buf)
	setFormatted(&e, all, &ends)
	e[fieldHash] = all[ends[len(ends)-1]:]
	return e
}

// textFields returns an entry with the fields that come from r's strings
// set: valid UTF-8, cut to their bounds.
func textFields(r *Record) entry {
	var e entry
	e[fieldID] = validUTF8(r.ID)
	e[fieldInstance] = r.Instance
	e[fieldPrev] = r.Prev
	e[5] = freeText(r.Consumer, maxTextBytes)
	e[6] = freeText(r.Org, maxTextBytes)
	e[7] = freeText(r.Resource, maxTextBytes)
	e[8] = freeText(r.Provider, maxTextBytes)
	e[9] = freeText(r.Scenario, maxTextBytes)
	e[10] = freeText(r.GrantID, maxTextBytes)
	e[11] = freeText(r.Method, maxTextBytes)
	e[12] = freeText(r.Path, maxPathBytes)
	e[13] = freeText(r.Decision, maxTextBytes)
	e[15] = text(r.PolicyVersion, maxTextBytes)
	e[21] = text(r.SubjectHash, maxTextBytes)
	e[22] = text(r.ClientIP, maxTextBytes)
	return e
}

// appendFormatted appends the values of formattedFields for r to buf, one
// after another, and returns where in buf each value ends.
func appendFormatted(buf []byte, r *Record) ([]byte, [len(formattedFields)]int) {
	var ends [len(formattedFields)]int
	buf = r.Time.UTC().AppendFormat(buf, time.RFC3339Nano)
	ends[0] = len(buf)
	buf = strconv.AppendUint(buf, r.Seq, 10)
	ends[1] = len(buf)
	buf = appendReasonsJSON(buf, r.Reasons)
	ends[2] = len(buf)
	buf = strconv.AppendInt(buf, int64(r.Status), 10)
	ends[3] = len(buf)
	buf = strconv.AppendInt(buf, r.Bytes, 10)
	ends[4] = len(buf)
	buf = strconv.AppendInt(buf, int64(r.Masked), 10)
	ends[5] = len(buf)
	buf = appendMillis(buf, r.UpstreamLatency)
	ends[6] = len(buf)
	buf = appendMillis(buf, r.TotalLatency)
	ends[7] = len(buf)
	return buf, ends
}

// setFormatted sets the fields of formattedFields in e to substrings of
// all, which starts with their values as appendFormatted wrote them.
func setFormatted(e *entry, all string, ends *[len(formattedFields)]int) {
	begin := 0
	for k, field := range formattedFields {
		e[field] = all[begin:ends[k]]
		begin = ends[k]
	}
}

// chainHash computes the hash of e from every field before the hash field.
func (c *encoder) chainHash(e *entry) string {
	in := c.scratch[:0]
	for _, v := range e[:fieldHash] {
		in = appendHashValue(in, v)
	}
	c.scratch = in

	var digits [2 * sha256.Size]byte
	hex.Encode(digits[:], c.sum(in))
	return string(digits[:])
}

// appendHashValue appends v to a hash input: its length in bytes as a
// 4-byte big-endian integer, then v.
func appendHashValue[T string | []byte](in []byte, v T) []byte {
	in = binary.BigEndian.AppendUint32(in, uint32(len(v)))
	return append(in, v...)
}

// sum computes the HMAC of in and writes it over the start of in, which
// the caller no longer needs.
func (c *encoder) sum(in []byte) []byte {
	c.mac.Reset()
	c.mac.Write(in)
	return c.mac.Sum(in[:0])
}

// Bounds on a record's text fields, which keep its spool line under
// MaxRecordBytes. A longer value is cut at a character boundary.
const (
	maxTextBytes   = 256
	maxPathBytes   = 1024
	maxReasonBytes = 512
	maxReasons     = 6
)

// text returns s as valid UTF-8, cut to at most n bytes.
func text(s string, n int) string {
	s = validUTF8(s)
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// freeText is text for a field whose value may come from a request, a
// registration or a policy message. Any resident identity number in it is
// replaced by "*", so no raw one reaches Redis or the spool even when the
// caller forgot to redact it.
func freeText(s string, n int) string {
	return text(identity.RedactIDNumbers(s), n)
}

// appendReasonsJSON appends reasons as a JSON array of strings: at most
// maxReasons of them, each cut to maxReasonBytes.
func appendReasonsJSON(buf []byte, reasons []string) []byte {
	if len(reasons) > maxReasons {
		reasons = reasons[:maxReasons]
	}
	buf = append(buf, '[')
	for i, r := range reasons {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, freeText(r, maxReasonBytes))
	}
	return append(buf, ']')
}

// appendMillis appends d in milliseconds with microsecond precision, such
// as "12.345". Integer arithmetic keeps the digits exact.
func appendMillis(b []byte, d time.Duration) []byte {
	us := d.Microseconds()
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// appendSpoolLine appends e as one JSON object with the fields in
// fieldNames order, followed by a newline.
func appendSpoolLine(buf []byte, e *entry) []byte {
	buf = append(buf, '{')
	for i, v := range e {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, fieldNames[i])
		buf = append(buf, ':')
		buf = appendJSONString(buf, v)
	}
	return append(buf, '}', '\n')
}

// parseSpoolLine reads a line written by appendSpoolLine. Every field must
// be present and be a string, and instance and seq must be set.
func parseSpoolLine(line []byte) (entry, error) {
	var values map[string]string
	if err := json.Unmarshal(line, &values); err != nil {
		return entry{}, fmt.Errorf("decoding spool line: %w", err)
	}
	return entryFromValues(func(name string) (string, bool) {
		v, ok := values[name]
		return v, ok
	})
}

// entryFromValues builds an entry by looking up every field by name.
func entryFromValues(lookup func(name string) (string, bool)) (entry, error) {
	var e entry
	for i, name := range fieldNames {
		v, ok := lookup(name)
		if !ok {
			return entry{}, fmt.Errorf("missing field %q", name)
		}
		e[i] = v
	}
	if e[fieldInstance] == "" {
		return entry{}, errors.New("empty field \"instance\"")
	}
	if _, err := strconv.ParseUint(e[fieldSeq], 10, 64); err != nil {
		return entry{}, fmt.Errorf("invalid field \"seq\" %q: %w", e[fieldSeq], err)
	}
	return e, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. s must be valid UTF-8.
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
