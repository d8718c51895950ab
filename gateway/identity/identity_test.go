package identity

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// makeIDNumber appends the computed check character to 17 digits.
func makeIDNumber(t testing.TB, first17 string) string {
	t.Helper()
	c, err := IDCheckChar(first17)
	if err != nil {
		t.Fatalf("IDCheckChar(%q): %v", first17, err)
	}
	return first17 + string(c)
}

// wrongCheckChar returns a check character that differs from the right one.
func wrongCheckChar(right byte) string {
	if right == '0' {
		return "1"
	}
	return "0"
}

func TestIDCheckCharKnownValues(t *testing.T) {
	tests := []struct {
		name    string
		first17 string
		want    byte
	}{
		// The worked example of GB 11643-1999, whose check character is X.
		{"standard example", "11010519491231002", 'X'},
		{"check digit one", "44052418800101001", '4'},
		{"leap day", "35020320000229123", idCheckChar("35020320000229123")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := IDCheckChar(tt.first17)
			if err != nil {
				t.Fatalf("IDCheckChar: %v", err)
			}
			if got != tt.want {
				t.Errorf("IDCheckChar(%q) = %q, want %q", tt.first17, got, tt.want)
			}
		})
	}
}

func TestIDCheckCharRejectsBadInput(t *testing.T) {
	tests := []struct {
		name    string
		first17 string
	}{
		{"empty", ""},
		{"too short", "1101051949123100"},
		{"too long", "110105194912310021"},
		{"letter", "1101051949123100A"},
		{"space", "11010 19491231002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := IDCheckChar(tt.first17); err == nil {
				t.Errorf("IDCheckChar(%q) returned no error", tt.first17)
			}
		})
	}
}

func TestCheckIDNumberAcceptsValid(t *testing.T) {
	year := time.Now().Year()
	tests := []struct {
		name    string
		first17 string
	}{
		{"standard example", "11010519491231002"},
		{"xiamen", "35020319850615123"},
		{"leap day 2000", "35020320000229123"},
		{"earliest date", "11010519000101001"},
		{"current year", fmt.Sprintf("350203%04d0101123", year)},
		{"last day of current year", fmt.Sprintf("350203%04d1231123", year)},
		{"region code starting 9", "91000019900101001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := makeIDNumber(t, tt.first17)
			if err := CheckIDNumber(s); err != nil {
				t.Errorf("CheckIDNumber: %v", err)
			}
			if !ValidIDNumber([]byte(s)) {
				t.Errorf("ValidIDNumber = false")
			}
		})
	}
}

func TestCheckIDNumberRejectsInvalid(t *testing.T) {
	valid := makeIDNumber(t, "35020319850615123")
	nextYear := time.Now().Year() + 1
	tests := []struct {
		name string
		s    string
		want string // part of the error message
	}{
		{"empty", "", "it has 0 bytes"},
		{"fifteen digit old form", "350203850615123", "it has 15 bytes"},
		{"nineteen chars", valid + "1", "it has 19 bytes"},
		{"letter inside", valid[:4] + "A" + valid[5:], "character 5 is not a digit"},
		{"space inside", valid[:16] + " " + valid[17:], "character 17 is not a digit"},
		{"fullwidth digit", "３" + valid[3:], "character 1 is not a digit"},
		{"lowercase x", "11010519491231002x", "use an uppercase X"},
		{"letter as check char", valid[:17] + "Y", "character 18 must be"},
		{"first digit zero", makeIDNumber(t, "05020319850615123"), "the first digit is 0"},
		{"month 13", makeIDNumber(t, "35020319851315123"), "not a birth date"},
		{"month 00", makeIDNumber(t, "35020319850015123"), "not a birth date"},
		{"day 00", makeIDNumber(t, "35020319850600123"), "not a birth date"},
		{"april 31", makeIDNumber(t, "35020319850431123"), "not a birth date"},
		{"february 29 in 1900", makeIDNumber(t, "35020319000229123"), "not a birth date"},
		{"february 29 in 2023", makeIDNumber(t, "35020320230229123"), "not a birth date"},
		{"year 1899", makeIDNumber(t, "35020318991231123"), "not a birth date"},
		{"next year", makeIDNumber(t, fmt.Sprintf("350203%04d0101123", nextYear)), "not a birth date"},
		{"wrong check char", valid[:17] + wrongCheckChar(valid[17]), "check character does not match"},
		{"swapped digits", valid[:14] + valid[15:16] + valid[14:15] + valid[16:], "check character does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckIDNumber(tt.s)
			if err == nil {
				t.Fatalf("CheckIDNumber returned no error")
			}
			if !errors.Is(err, ErrInvalidIDNumber) {
				t.Errorf("error %v does not wrap ErrInvalidIDNumber", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if len(tt.s) >= 6 && strings.Contains(err.Error(), tt.s[:6]) {
				t.Errorf("error %q quotes part of the number", err)
			}
			if ValidIDNumber([]byte(tt.s)) {
				t.Errorf("ValidIDNumber = true")
			}
		})
	}
}

func TestValidIDNumberFoldAcceptsLowercaseX(t *testing.T) {
	upper := []byte("11010519491231002X")
	lower := []byte("11010519491231002x")
	if !ValidIDNumberFold(upper) {
		t.Errorf("ValidIDNumberFold(uppercase X) = false")
	}
	if !ValidIDNumberFold(lower) {
		t.Errorf("ValidIDNumberFold(lowercase x) = false")
	}
	if ValidIDNumber(lower) {
		t.Errorf("ValidIDNumber(lowercase x) = true")
	}
}

func TestValidIDNumberDoesNotAllocate(t *testing.T) {
	b := []byte(makeIDNumber(t, "35020319850615123"))
	allocs := testing.AllocsPerRun(100, func() {
		if !ValidIDNumber(b) {
			t.Fatal("ValidIDNumber = false")
		}
	})
	if allocs != 0 {
		t.Errorf("ValidIDNumber allocates %v times per call", allocs)
	}
}

func makeCreditCode(t testing.TB, first17 string) string {
	t.Helper()
	c, err := CreditCheckChar(first17)
	if err != nil {
		t.Fatalf("CreditCheckChar(%q): %v", first17, err)
	}
	return first17 + string(c)
}

func TestCreditCheckCharKnownValues(t *testing.T) {
	tests := []struct {
		name    string
		first17 string
		want    byte
	}{
		// Computed by hand: weighted sum 0 gives 31 - 0 = 31, written '0'.
		{"all zeros", "00000000000000000", '0'},
		// 1*1 = 1, so the check value is 30, which is 'Y'.
		{"sum one", "10000000000000000", 'Y'},
		// 'Y' is 30: 30*1 = 30, so the check value is 1.
		{"sum thirty", "Y0000000000000000", '1'},
		// The last weight is 28: 1*28 gives check value 3.
		{"last position", "00000000000000001", '3'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CreditCheckChar(tt.first17)
			if err != nil {
				t.Fatalf("CreditCheckChar: %v", err)
			}
			if got != tt.want {
				t.Errorf("CreditCheckChar(%q) = %q, want %q", tt.first17, got, tt.want)
			}
		})
	}
}

func TestCheckCreditCodeAcceptsValid(t *testing.T) {
	tests := []struct {
		name    string
		first17 string
	}{
		{"enterprise", "91350203MA2XYW0AB"},
		{"government body", "11350200003612345"},
		{"social organisation", "51350200MJ0000000"},
		{"all letters", "YYYYYYYYYYYYYYYYY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := makeCreditCode(t, tt.first17)
			if err := CheckCreditCode(s); err != nil {
				t.Errorf("CheckCreditCode: %v", err)
			}
			if !ValidCreditCode([]byte(s)) {
				t.Errorf("ValidCreditCode = false")
			}
		})
	}
}

func TestCheckCreditCodeRejectsInvalid(t *testing.T) {
	valid := makeCreditCode(t, "91350203MA2XYW0AB")
	wrong := byte('0')
	if valid[17] == '0' {
		wrong = '1'
	}
	tests := []struct {
		name string
		s    string
		want string
	}{
		{"empty", "", "it has 0 bytes"},
		{"too short", valid[:17], "it has 17 bytes"},
		{"too long", valid + "0", "it has 19 bytes"},
		{"lowercase", strings.ToLower(valid), "use uppercase letters"},
		{"letter I", valid[:8] + "I" + valid[9:], "character 9 is not one of"},
		{"letter O", valid[:8] + "O" + valid[9:], "character 9 is not one of"},
		{"letter Z", "Z" + valid[1:], "character 1 is not one of"},
		{"letter S", valid[:10] + "S" + valid[11:], "character 11 is not one of"},
		{"letter V", valid[:10] + "V" + valid[11:], "character 11 is not one of"},
		{"punctuation", valid[:3] + "-" + valid[4:], "character 4 is not one of"},
		{"wrong check char", valid[:17] + string(wrong), "check character does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckCreditCode(tt.s)
			if err == nil {
				t.Fatalf("CheckCreditCode(%q) returned no error", tt.s)
			}
			if !errors.Is(err, ErrInvalidCreditCode) {
				t.Errorf("error %v does not wrap ErrInvalidCreditCode", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if ValidCreditCode([]byte(tt.s)) {
				t.Errorf("ValidCreditCode = true")
			}
		})
	}
}

func TestCreditCheckCharRejectsBadInput(t *testing.T) {
	tests := []struct {
		name    string
		first17 string
	}{
		{"empty", ""},
		{"sixteen", "9135020300000000"},
		{"letter O", "91350203MA2XYWOAB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := CreditCheckChar(tt.first17); err == nil {
				t.Errorf("CreditCheckChar(%q) returned no error", tt.first17)
			}
		})
	}
}

func TestIsMobile(t *testing.T) {
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{"china mobile", "13812345678", true},
		{"prefix 19", "19912345678", true},
		{"prefix 15", "15000000000", true},
		{"second digit 2", "12812345678", false},
		{"second digit 1", "11812345678", false},
		{"first digit 2", "23812345678", false},
		{"ten digits", "1381234567", false},
		{"twelve digits", "138123456789", false},
		{"letter inside", "1381234567a", false},
		{"country code", "+8613812345678", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsMobile([]byte(tt.s)); got != tt.want {
				t.Errorf("IsMobile(%q) = %v, want %v", tt.s, got, tt.want)
			}
		})
	}
}

func FuzzCheckIDNumber(f *testing.F) {
	f.Add("11010519491231002X")
	f.Add("11010519491231002x")
	f.Add("350203198506151234")
	f.Add("")
	f.Add("000000000000000000")
	f.Fuzz(func(t *testing.T, s string) {
		err := CheckIDNumber(s)
		valid := ValidIDNumber([]byte(s))
		if (err == nil) != valid {
			t.Fatalf("CheckIDNumber error %v but ValidIDNumber = %v", err, valid)
		}
		if err != nil && len(s) == IDNumberLen && strings.Contains(err.Error(), s) {
			t.Fatalf("error %q quotes the input", err)
		}
		if err == nil {
			c, cerr := IDCheckChar(s[:17])
			if cerr != nil || c != s[17] {
				t.Fatalf("IDCheckChar disagrees with CheckIDNumber")
			}
		}
	})
}

func TestRedactIDNumbers(t *testing.T) {
	cases := map[string]string{
		"no number here":                                "no number here",
		"350203196804140613":                            "*",
		"核查 350203196804140613 的婚姻":                     "核查 * 的婚姻",
		"a350203196804140613b":                          "a*b",
		"padded 13502031968041406139 digits":            "padded * digits",
		"two 350203196804140613 and 11010519491231002X": "two * and *",
		"lower x 11010519491231002x":                    "lower x *",
		"bad check 350203196804140614":                  "bad check 350203196804140614",
		"phone 13812345678":                             "phone 13812345678",
	}
	for in, want := range cases {
		if got := RedactIDNumbers(in); got != want {
			t.Errorf("RedactIDNumbers(%q) = %q, want %q", in, got, want)
		}
	}
}
