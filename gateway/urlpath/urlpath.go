// Package urlpath cleans the request path before the resource lookup, the
// policy and the upstream see it, so all three act on the same path.
package urlpath

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrAmbiguous matches, with errors.Is, every error Clean returns. Such a
// path could mean different things to the gateway and to the upstream, so it
// is rejected rather than guessed at.
var ErrAmbiguous = errors.New("ambiguous request path")

// pathError is the error Clean returns. Its message never quotes the path,
// because a path segment may be a resident identity number.
type pathError struct {
	detail string
}

func (e *pathError) Error() string {
	return "cleaning request path: " + e.detail
}

func (e *pathError) Is(target error) bool {
	return target == ErrAmbiguous
}

func reject(format string, args ...any) error {
	return &pathError{detail: fmt.Sprintf(format, args...)}
}

// Clean decodes and normalises a request path as sent by the client
// (url.URL.EscapedPath) and returns the decoded path that the resource lookup,
// the policy and the upstream all see.
//
// Percent-escapes are decoded strictly. Dot segments, written plainly or
// encoded as %2E, are resolved as in RFC 3986 section 5.2.4, and doubled
// slashes collapse. A trailing slash is kept. Letter case is preserved.
//
// Clean returns an error matching ErrAmbiguous for a path that does not start
// with "/", an invalid percent-escape, an encoded "/", "\" or "%", a literal
// backslash, a control character or invalid UTF-8. It also rejects a ";",
// because some servers strip matrix parameters, a segment ending with ".",
// because some servers trim it, and a ".." that climbs above the root. The
// errors never quote the path, because a segment may be an identity number.
//
// An already-clean path with no "%" is returned as it is, without allocating.
// The result r always satisfies Clean(r) == r.
func Clean(escapedPath string) (string, error) {
	if escapedPath == "" || escapedPath[0] != '/' {
		return "", reject("path must start with \"/\"")
	}
	if isClean(escapedPath) {
		return escapedPath, nil
	}

	decoded, err := decode(escapedPath)
	if err != nil {
		return "", err
	}
	if err := checkRunes(decoded); err != nil {
		return "", err
	}
	return resolve(decoded)
}

// isClean reports whether s needs no decoding and no resolution: it has no
// "%", no byte Clean rejects, no empty segment apart from a trailing slash,
// and no dot segment or segment ending with ".". The caller ensures that s
// starts with "/".
func isClean(s string) bool {
	ascii := true
	segStart := 1
	for i := 1; i <= len(s); i++ {
		if i < len(s) && s[i] != '/' {
			c := s[i]
			if c == '%' || c == '\\' || c == ';' || c < 0x20 || c == 0x7f {
				return false
			}
			if c >= utf8.RuneSelf {
				ascii = false
			}
			continue
		}

		// s[segStart:i] is one segment. Only the last one may be empty,
		// which is a trailing slash (or the root path "/").
		seg := s[segStart:i]
		if seg == "" && i < len(s) {
			return false
		}
		if seg != "" && seg[len(seg)-1] == '.' {
			return false
		}
		segStart = i + 1
	}
	if ascii {
		return true
	}
	return checkRunes(s) == nil
}

// decode replaces every percent-escape in s with the byte it encodes. It
// rejects a malformed escape, an encoded "/", "\" or "%", and a literal
// backslash or ";", whichever way it was written.
func decode(s string) (string, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		at := i
		if c == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", reject("invalid percent-escape at byte %d: "+
					"write %% followed by two hex digits", i)
			}
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			if err := checkDecoded(c, s[i:i+3], at); err != nil {
				return "", err
			}
			i += 2
		}
		if err := checkByte(c, at); err != nil {
			return "", err
		}
		out = append(out, c)
	}
	return string(out), nil
}

// checkDecoded rejects an escape whose decoded byte would change the path's
// structure or be decoded again by a server that decodes twice.
func checkDecoded(c byte, escape string, at int) error {
	switch c {
	case '/':
		return reject("encoded slash %q at byte %d: "+
			"send \"/\" only as a segment separator", escape, at)
	case '\\':
		return reject("encoded backslash %q at byte %d: "+
			"remove it from the path", escape, at)
	case '%':
		return reject("encoded percent sign %q at byte %d: "+
			"the path looks double-encoded, encode it once", escape, at)
	}
	return nil
}

// checkByte rejects a decoded byte that some servers treat as a separator,
// strip or truncate at.
func checkByte(c byte, at int) error {
	switch {
	case c == '\\':
		return reject("backslash at byte %d: "+
			"use \"/\" to separate segments", at)
	case c == ';':
		return reject("semicolon at byte %d: "+
			"matrix parameters are not supported, use the query string", at)
	case c < 0x20 || c == 0x7f:
		return reject("control character 0x%02x at byte %d: "+
			"remove it from the path", c, at)
	}
	return nil
}

// checkRunes rejects invalid UTF-8 and the C1 control characters, which are
// valid UTF-8 but may be dropped or rewritten by the upstream.
func checkRunes(s string) error {
	for i, r := range s {
		if r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD") {
			return reject("invalid UTF-8 at byte %d of the decoded path: "+
				"encode the path as UTF-8", i)
		}
		if unicode.IsControl(r) {
			return reject("control character %U at byte %d of the decoded path: "+
				"remove it from the path", r, i)
		}
	}
	return nil
}

// resolve removes dot segments and empty segments from the decoded path p,
// which starts with "/". It keeps a trailing slash, and adds one when the
// last segment is "." or "..", as RFC 3986 does.
func resolve(p string) (string, error) {
	out := make([]byte, 0, len(p))
	trailing := false
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		seg := p[segStart:i]
		index := segStart
		segStart = i + 1

		switch {
		case seg == "" || seg == ".":
			trailing = true
		case seg == "..":
			if len(out) == 0 {
				return "", reject("\"..\" segment at byte %d of the decoded path "+
					"climbs above the root: remove it", index)
			}
			out = out[:lastSlash(out)]
			trailing = true
		case seg[len(seg)-1] == '.':
			return "", reject("segment at byte %d of the decoded path ends with \".\", "+
				"which some servers trim: remove the dot", index)
		default:
			out = append(out, '/')
			out = append(out, seg...)
			trailing = false
		}
	}
	if trailing || len(out) == 0 {
		out = append(out, '/')
	}
	return string(out), nil
}

// lastSlash returns the index of the last "/" in b, which must contain one.
func lastSlash(b []byte) int {
	for i := len(b) - 1; i > 0; i-- {
		if b[i] == '/' {
			return i
		}
	}
	return 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
