package credit

import (
	"errors"
	"strings"
	"testing"
)

const (
	codeA = "91350200MA3MEBQL6X"
	codeB = "91350203MA2Y1C0D8K"
	codeC = "91350206MA31XQ7E20"
	// personID is a valid resident identity number, which must never be
	// echoed in an error.
	personID = "350203196804140613"
)

func TestParseValid(t *testing.T) {
	data := "\ufeff" + Header + "\n" +
		codeA + ",dishonest_debtor,2026-01-05,厦门市中级人民法院\n" +
		codeB + " , abnormal_operation ,2025-12-31,\"市场监管局, 经营异常名录\"\r\n" +
		codeA + ",serious_dishonest,2024-02-29,市场监管局\n"
	rows, err := Parse([]byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(rows) != 3 {
		t.Fatalf("got %d listings, want 3", len(rows))
	}
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"first code", rows[0].CreditCode, codeA},
		{"first list", rows[0].List, "dishonest_debtor"},
		{"trimmed code", rows[1].CreditCode, codeB},
		{"trimmed list", rows[1].List, "abnormal_operation"},
		{"quoted source", rows[1].Source, "市场监管局, 经营异常名录"},
		{"leap day", rows[2].Since, "2024-02-29"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if rows[2].Line != 4 {
		t.Errorf("third listing line = %d, want 4", rows[2].Line)
	}
}

func TestParseErrorsNameLine(t *testing.T) {
	tests := []struct {
		name   string
		data   string
		line   int
		column string
		want   string
	}{
		{"empty file", "", 1, "", "empty"},
		{"wrong header", "code,list,since,source\n", 1, "", "header"},
		{"header only", Header + "\n", 2, "", "no listings"},
		{"bad check character", Header + "\n" + codeA + ",dishonest_debtor,2026-01-05,法院\n" +
			"91350200MA3MEBQL6Y,dishonest_debtor,2026-01-05,法院\n", 3, "credit_code", "check character"},
		{"lowercase code", Header + "\n91350200ma3mebql6x,dishonest_debtor,2026-01-05,法院\n",
			2, "credit_code", "lowercase"},
		{"missing code", Header + "\n,dishonest_debtor,2026-01-05,法院\n", 2, "credit_code", "missing"},
		{"unknown list", Header + "\n" + codeA + ",blacklist,2026-01-05,法院\n", 2, "list", "blacklist"},
		{"bad date", Header + "\n" + codeA + ",dishonest_debtor,2026-02-30,法院\n", 2, "since", "2026-02-30"},
		{"slashed date", Header + "\n" + codeA + ",dishonest_debtor,2026/01/05,法院\n", 2, "since", "YYYY-MM-DD"},
		{"missing source", Header + "\n" + codeA + ",dishonest_debtor,2026-01-05,\n", 2, "source", "missing source"},
		{"long source", Header + "\n" + codeA + ",dishonest_debtor,2026-01-05," +
			strings.Repeat("源", MaxSourceLen+1) + "\n", 2, "source", "longer"},
		{"source with line break", Header + "\n" + codeA + ",dishonest_debtor,2026-01-05,\"a\nb\"\n",
			2, "source", "control character"},
		{"too few fields", Header + "\n" + codeA + ",dishonest_debtor,2026-01-05\n", 2, "", "3 fields"},
		{"too many fields", Header + "\n" + codeA + ",dishonest_debtor,2026-01-05,法院,x\n", 2, "", "5 fields"},
		{"duplicate row", Header + "\n" + codeA + ",dishonest_debtor,2026-01-05,法院\n" +
			codeB + ",dishonest_debtor,2026-01-05,法院\n" +
			codeA + ",dishonest_debtor,2026-01-06,法院\n", 4, "credit_code", "line 2 already"},
		{"bare quote", Header + "\n" + codeA + ",dishonest_debtor,2026-01-05,法\"院\n", 2, "", "bare"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := Parse([]byte(tc.data))
			if rows != nil {
				t.Errorf("got %d listings, want none", len(rows))
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error = %v, want Errors", err)
			}
			if errs[0].Line != tc.line {
				t.Errorf("line = %d, want %d (%v)", errs[0].Line, tc.line, err)
			}
			if errs[0].Column != tc.column {
				t.Errorf("column = %q, want %q (%v)", errs[0].Column, tc.column, err)
			}
			if !strings.Contains(errs[0].Error(), tc.want) {
				t.Errorf("error %q does not mention %q", errs[0].Error(), tc.want)
			}
		})
	}
}

func TestParseReportsEveryBadRow(t *testing.T) {
	data := Header + "\n" +
		codeA + ",dishonest_debtor,2026-01-05,法院\n" +
		codeB + ",nope,2026-01-05,法院\n" +
		codeC + ",abnormal_operation,yesterday,\n"
	_, err := Parse([]byte(data))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error = %v, want Errors", err)
	}
	want := []string{
		"line 3, column list",
		"line 4, column since",
		"line 4, column source",
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d: %v", len(errs), len(want), err)
	}
	for i, prefix := range want {
		if !strings.HasPrefix(errs[i].Error(), prefix) {
			t.Errorf("error %d = %q, want prefix %q", i, errs[i].Error(), prefix)
		}
	}
}

func TestParseHidesIdentityNumber(t *testing.T) {
	data := Header + "\n" + personID + ",dishonest_debtor,2026-01-05,法院\n"
	_, err := Parse([]byte(data))
	if err == nil {
		t.Fatal("Parse accepted a resident identity number as a credit code")
	}
	if strings.Contains(err.Error(), personID) {
		t.Errorf("error echoes the identity number: %v", err)
	}
	if !strings.Contains(err.Error(), "resident identity number") {
		t.Errorf("error %q does not say what the value is", err)
	}
}

func TestParseRejectsNonUTF8(t *testing.T) {
	data := Header + "\n" + codeA + ",dishonest_debtor,2026-01-05,\xb7\xa8\xd4\xba\n"
	if _, err := Parse([]byte(data)); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("error = %v, want one naming UTF-8", err)
	}
}

func TestParseBoundsErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString(Header + "\n")
	for range MaxErrors * 3 {
		b.WriteString("bad,bad,bad,bad\n")
	}
	_, err := Parse([]byte(b.String()))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error = %v, want Errors", err)
	}
	if len(errs) > MaxErrors+3 {
		t.Errorf("got %d errors, want at most about %d", len(errs), MaxErrors)
	}
}

func TestParseRejectsLargeFile(t *testing.T) {
	data := make([]byte, MaxFileSize+1)
	if _, err := Parse(data); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("error = %v, want a size error", err)
	}
}
