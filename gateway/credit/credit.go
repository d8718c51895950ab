// Package credit reads the credit lists that bar an applicant from
// on-application resources (dishonest judgment debtors, the abnormal
// business operations list and the serious illegal and dishonest
// enterprises list) from CSV files, checking every row before any is used.
package credit

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/gateway/identity"
	"github.com/citydata/datagateway/gateway/registry"
)

// Header is the required first line of a credit list file.
const Header = "credit_code,list,since,source"

// Limits of one import. The bounds stop a wrong file from filling memory
// or Redis. NOTE: MaxRows is an estimate, well above the tens of thousands
// of companies a city's lists are expected to contain.
const (
	MaxFileSize  = 16 << 20
	MaxRows      = 200_000
	MaxSourceLen = 200
	// MaxErrors bounds the errors one Parse reports, because a file with
	// more is almost certainly the wrong file.
	MaxErrors = 50
)

// Lists are the credit list names an import accepts.
var Lists = []string{
	catalog.ListDishonestDebtor,
	catalog.ListAbnormalOperation,
	catalog.ListSeriousDishonest,
}

var columns = strings.Split(Header, ",")

// Listing is one company on one credit list.
type Listing struct {
	CreditCode string
	List       string
	// Since is the date the company was put on the list, as an RFC 3339
	// full-date ("2026-01-05").
	Since string
	// Source names the authority or publication the listing comes from.
	Source string
	// Line is the line of the CSV file the listing was read from.
	Line int
}

// Entry is the value stored for a listing in the registry: the JSON value
// of the credit code's field in the list's hash.
type Entry struct {
	Since  string `json:"since"`
	Source string `json:"source"`
}

// Entry returns the listing's stored value.
func (l Listing) Entry() Entry {
	return Entry{Since: l.Since, Source: l.Source}
}

// Error is one invalid row or value of a credit list file.
type Error struct {
	Line int
	// Column is the column name, empty for a fault of the whole line.
	Column string
	Msg    string
}

func (e Error) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d, column %s: %s", e.Line, e.Column, e.Msg)
}

// Errors lists every invalid row of a file, in line order.
type Errors []Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Parse reads a credit list file: the header line credit_code,list,since,
// source, then one listing per line. It checks every row and returns either
// every listing or an error wrapping Errors that names the line and column
// of each fault, so a file with one bad row is not used at all. A UTF-8
// byte order mark before the header is ignored.
func Parse(data []byte) ([]Listing, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("reading credit list: the file is larger than %d bytes: "+
			"split it into several imports", MaxFileSize)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if !utf8.Valid(data) {
		return nil, errors.New("reading credit list: the file is not UTF-8 text: " +
			"save it as UTF-8 CSV")
	}

	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	p := parser{seen: make(map[[2]string]int)}

	header, err := r.Read()
	if err == io.EOF {
		return nil, Errors{{Line: 1, Msg: "the file is empty: the first line must be " + Header}}
	}
	if err != nil {
		return nil, Errors{csvError(err)}
	}
	if strings.Join(trimAll(header), ",") != Header {
		return nil, Errors{{Line: 1, Msg: fmt.Sprintf("header is %q, want %q",
			strings.Join(header, ","), Header)}}
	}

	for len(p.errs) < MaxErrors {
		record, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// The CSV reader cannot resynchronise after a quoting error.
			p.errs = append(p.errs, csvError(err))
			break
		}
		line, _ := r.FieldPos(0)
		if len(p.rows)+len(p.errs) >= MaxRows {
			p.errs = append(p.errs, Error{Line: line,
				Msg: fmt.Sprintf("more than %d rows: split the file into several imports", MaxRows)})
			break
		}
		p.row(line, record)
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	if len(p.rows) == 0 {
		return nil, Errors{{Line: 2, Msg: "the file has a header but no listings"}}
	}
	return p.rows, nil
}

// parser collects the listings and errors of one file.
type parser struct {
	rows []Listing
	errs Errors
	// seen maps (list, credit code) to the line that first listed it.
	seen map[[2]string]int
}

func (p *parser) fail(line int, column, format string, args ...any) {
	p.errs = append(p.errs, Error{Line: line, Column: column, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) row(line int, record []string) {
	if len(record) != len(columns) {
		p.fail(line, "", "has %d fields, want %d (%s)", len(record), len(columns), Header)
		return
	}
	fields := trimAll(record)
	l := Listing{CreditCode: fields[0], List: fields[1], Since: fields[2], Source: fields[3], Line: line}
	before := len(p.errs)

	if msg := checkCode(l.CreditCode); msg != "" {
		p.fail(line, "credit_code", "%s", msg)
	}
	if !isList(l.List) {
		p.fail(line, "list", "unknown list %q: want one of %s", l.List, strings.Join(Lists, ", "))
	}
	if _, err := time.Parse(time.DateOnly, l.Since); err != nil {
		p.fail(line, "since", "invalid date %q: write it as YYYY-MM-DD, such as 2026-01-05", l.Since)
	}
	if msg := checkSource(l.Source); msg != "" {
		p.fail(line, "source", "%s", msg)
	}
	if len(p.errs) > before {
		return
	}

	key := [2]string{l.List, l.CreditCode}
	if first, dup := p.seen[key]; dup {
		p.fail(line, "credit_code", "%s is listed on %s again: line %d already lists it; "+
			"keep one of the two rows", l.CreditCode, l.List, first)
		return
	}
	p.seen[key] = line
	p.rows = append(p.rows, l)
}

// checkCode returns why code is not a valid unified social credit code, or
// "". A resident identity number is named as such without echoing it,
// because raw identity numbers never go into an error.
func checkCode(code string) string {
	if code == "" {
		return "missing credit code"
	}
	if identity.ValidIDNumber([]byte(code)) {
		return "the value is a resident identity number: credit lists take only " +
			"unified social credit codes of organisations"
	}
	if err := identity.CheckCreditCode(code); err != nil {
		return err.Error()
	}
	return ""
}

func checkSource(source string) string {
	switch {
	case source == "":
		return "missing source: name the authority or publication of the listing"
	case utf8.RuneCountInString(source) > MaxSourceLen:
		return fmt.Sprintf("source is longer than %d characters", MaxSourceLen)
	case strings.IndexFunc(source, unicode.IsControl) >= 0:
		return "source contains a control character, such as a line break: write it on one line"
	}
	return ""
}

func isList(name string) bool {
	for _, l := range Lists {
		if name == l {
			return true
		}
	}
	return false
}

func trimAll(fields []string) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = strings.TrimSpace(f)
	}
	return out
}

// csvError turns an encoding/csv error into an Error with its line.
func csvError(err error) Error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return Error{Line: pe.Line, Msg: fmt.Sprintf("%v at byte %d of the line: quote a field "+
			"that contains a comma or a quote, and double any quote inside it", pe.Err, pe.Column)}
	}
	return Error{Line: 1, Msg: err.Error()}
}

// Import writes listings to the registry's credit list hashes as one
// registry change by author, so every gateway applies them with its next
// snapshot. With replace, the three lists are emptied first, so the file
// becomes their complete content. Otherwise the listings are added, and a
// listing already present takes the file's since and source.
// authorize, called inside the change, may veto it, and its error is
// returned unchanged. Import returns the new registry version.
func Import(ctx context.Context, store *registry.Store, author string, listings []Listing,
	replace bool, authorize func() error) (int64, error) {
	// One HSET per list, with every listing of that list as field-value
	// pairs, keeps the transaction to at most six commands.
	fields := make(map[string][]any, len(Lists))
	for _, l := range listings {
		data, err := json.Marshal(l.Entry())
		if err != nil {
			return 0, fmt.Errorf("encoding credit listing of line %d: %w", l.Line, err)
		}
		fields[l.List] = append(fields[l.List], l.CreditCode, data)
	}
	return store.Change(ctx, author, func(tx *registry.Tx) error {
		if err := authorize(); err != nil {
			return err
		}
		w := tx.Writer()
		for _, list := range Lists {
			key := tx.Keys().Credit(list)
			if replace {
				w.Del(tx.Context(), key)
			}
			if len(fields[list]) > 0 {
				w.HSet(tx.Context(), key, fields[list]...)
			}
		}
		return nil
	})
}
