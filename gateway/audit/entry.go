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
}

func newEncoder(key []byte) *encoder {
	return &encoder{mac: hmac.New(sha256.New, key), scratch: make([]byte, 0, 1024)}
}

// encode formats r's fields as stream values; the hash is left empty.
func (c *encoder) encode(r *Record) entry {
	var e entry
	e[fieldID] = validUTF8(r.ID)
	e[fieldTime] = r.Time.UTC().Format(time.RFC3339Nano)
	e[fieldInstance] = r.Instance
	e[fieldSeq] = strconv.FormatUint(r.Seq, 10)
	e[fieldPrev] = r.Prev
	e[5] = text(r.Consumer, maxTextBytes)
	e[6] = text(r.Org, maxTextBytes)
	e[7] = text(r.Resource, maxTextBytes)
	e[8] = text(r.Provider, maxTextBytes)
	e[9] = text(r.Scenario, maxTextBytes)
	e[10] = text(r.GrantID, maxTextBytes)
	e[11] = text(r.Method, maxTextBytes)
	e[12] = text(r.Path, maxPathBytes)
	e[13] = text(r.Decision, maxTextBytes)
	e[14] = c.reasonsJSON(r.Reasons)
	e[15] = text(r.PolicyVersion, maxTextBytes)
	e[16] = strconv.Itoa(r.Status)
	e[17] = strconv.FormatInt(r.Bytes, 10)
	e[18] = strconv.Itoa(r.Masked)
	e[19] = formatMillis(r.UpstreamLatency)
	e[20] = formatMillis(r.TotalLatency)
	e[21] = text(r.SubjectHash, maxTextBytes)
	e[22] = text(r.ClientIP, maxTextBytes)
	return e
}

// chainHash computes the hash of e from every field before the hash field.
func (c *encoder) chainHash(e *entry) string {
	buf := c.scratch[:0]
	for _, v := range e[:fieldHash] {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(v)))
		buf = append(buf, v...)
	}
	c.scratch = buf

	c.mac.Reset()
	c.mac.Write(buf)
	var sum [32]byte
	return hex.EncodeToString(c.mac.Sum(sum[:0]))
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

func (c *encoder) reasonsJSON(reasons []string) string {
	if len(reasons) == 0 {
		return "[]"
	}
	if len(reasons) > maxReasons {
		reasons = reasons[:maxReasons]
	}
	buf := append(c.scratch[:0], '[')
	for i, r := range reasons {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, text(r, maxReasonBytes))
	}
	buf = append(buf, ']')
	c.scratch = buf
	return string(buf)
}

// formatMillis writes d in milliseconds with microsecond precision, such
// as "12.345". Integer arithmetic keeps the digits exact.
func formatMillis(d time.Duration) string {
	us := d.Microseconds()
	var buf [24]byte
	b := buf[:0]
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return string(b)
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
