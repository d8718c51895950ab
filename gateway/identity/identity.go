// Package identity checks the identifiers that name a subject. A person has
// an 18-character resident identity number (GB 11643-1999) and an
// organisation an 18-character unified social credit code (GB 32100-2015),
// both ending in a check character. The package also recognises mainland
// mobile phone numbers.
//
// Errors about an identity number never contain the number or any part of
// it, because they may reach logs and consumers. Credit codes are not
// personal data, so errors quote them.
package identity

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// IDNumberLen is the length of a resident identity number: 17 digits and a
// check character.
const IDNumberLen = 18

// ErrInvalidIDNumber is wrapped by every error that CheckIDNumber returns.
var ErrInvalidIDNumber = errors.New("invalid identity number")

// ErrInvalidCreditCode is wrapped by every error that CheckCreditCode returns.
var ErrInvalidCreditCode = errors.New("invalid unified social credit code")

// idWeights are the ISO 7064 MOD 11-2 weights 2^(17-i) mod 11 of the first
// 17 digits.
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// idCheckChars maps (sum of weighted digits) mod 11 to the check character.
const idCheckChars = "10X98765432"

// minBirthYear is the earliest birth year accepted in an identity number.
const minBirthYear = 1900

// CheckIDNumber checks a resident identity number: length, digits, region
// code, birth date and check character. The error states what is wrong and
// how to fix it, without quoting the number.
func CheckIDNumber(s string) error {
	if len(s) != IDNumberLen {
		return fmt.Errorf("%w: it has %d bytes but must have 18 characters "+
			"(17 digits and a check character)", ErrInvalidIDNumber, len(s))
	}
	for i := 0; i < 17; i++ {
		if !isDigit(s[i]) {
			return fmt.Errorf("%w: character %d is not a digit, "+
				"but characters 1 to 17 must be digits 0-9", ErrInvalidIDNumber, i+1)
		}
	}
	last := s[17]
	if last == 'x' {
		return fmt.Errorf("%w: the check character is a lowercase x, "+
			"use an uppercase X", ErrInvalidIDNumber)
	}
	if !isDigit(last) && last != 'X' {
		return fmt.Errorf("%w: character 18 must be a digit 0-9 or an uppercase X",
			ErrInvalidIDNumber)
	}
	if s[0] == '0' {
		return fmt.Errorf("%w: the first digit is 0, but a region code starts "+
			"with 1-9", ErrInvalidIDNumber)
	}
	if !validBirthDate(s[6:14], currentYear()) {
		return fmt.Errorf("%w: characters 7 to 14 are not a birth date "+
			"YYYYMMDD between %d-01-01 and the end of the current year",
			ErrInvalidIDNumber, minBirthYear)
	}
	if idCheckChar(s[:17]) != last {
		return fmt.Errorf("%w: the check character does not match the first "+
			"17 digits, so one of them is mistyped", ErrInvalidIDNumber)
	}
	return nil
}

// IDCheckChar computes the check character ('0'-'9' or 'X') of the first 17
// digits of an identity number.
func IDCheckChar(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, fmt.Errorf("computing identity number check character: "+
			"got %d bytes, want 17 digits", len(first17))
	}
	for i := 0; i < 17; i++ {
		if !isDigit(first17[i]) {
			return 0, fmt.Errorf("computing identity number check character: "+
				"character %d is not a digit", i+1)
		}
	}
	return idCheckChar(first17), nil
}

// ValidIDNumber reports whether b is a valid identity number, by the same
// rules as CheckIDNumber. It does not allocate, so it suits scanning bodies.
func ValidIDNumber(b []byte) bool {
	if len(b) != IDNumberLen || b[17] == 'x' {
		return false
	}
	return ValidIDNumberFold(b)
}

// ValidIDNumberFold is ValidIDNumber that also accepts a lowercase x as the
// check character. Scanners use it, because a number written with x is still
// an identity number that must not leave unmasked.
func ValidIDNumberFold(b []byte) bool {
	if len(b) != IDNumberLen || b[0] < '1' || b[0] > '9' {
		return false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := b[i]
		if !isDigit(c) {
			return false
		}
		sum += int(c-'0') * idWeights[i]
	}
	last := b[17]
	if last == 'x' {
		last = 'X'
	}
	if idCheckChars[sum%11] != last {
		return false
	}
	if !validBirthDate(b[6:14], 9999) {
		return false
	}
	// Scanners call this for every candidate, so the clock is read only
	// for a birth year after pastYear.
	year := int(b[6]-'0')*1000 + int(b[7]-'0')*100 + int(b[8]-'0')*10 + int(b[9]-'0')
	return year <= pastYear || year <= currentYear()
}

func idCheckChar[T string | []byte](first17 T) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return idCheckChars[sum%11]
}

// validBirthDate reports whether d, eight digits YYYYMMDD, is a calendar date
// with a year from minBirthYear to maxYear.
func validBirthDate[T string | []byte](d T, maxYear int) bool {
	for i := 0; i < 8; i++ {
		if !isDigit(d[i]) {
			return false
		}
	}
	year := int(d[0]-'0')*1000 + int(d[1]-'0')*100 + int(d[2]-'0')*10 + int(d[3]-'0')
	month := int(d[4]-'0')*10 + int(d[5]-'0')
	day := int(d[6]-'0')*10 + int(d[7]-'0')
	if year < minBirthYear || year > maxYear || month < 1 || month > 12 || day < 1 {
		return false
	}
	return day <= daysIn(month, year)
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// currentYear is the upper bound of a birth year. A date later in the current
// year is accepted, so the check does not depend on the time of day.
func currentYear() int {
	return time.Now().Year()
}

// pastYear is a year that has begun wherever this code runs, so a birth year
// up to it needs no clock read.
const pastYear = 2025

// CreditCodeLen is the length of a unified social credit code.
const CreditCodeLen = 18

// creditAlphabet lists the characters of a credit code in the order of
// their values 0-30. I, O, Z, S and V are left out to avoid confusion with
// digits and with each other.
const creditAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var creditWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// creditValues maps a byte to its value in creditAlphabet, or -1.
var creditValues = func() (v [256]int8) {
	for i := range v {
		v[i] = -1
	}
	for i := 0; i < len(creditAlphabet); i++ {
		v[creditAlphabet[i]] = int8(i)
	}
	return v
}()

// CheckCreditCode checks a unified social credit code: length, alphabet and
// check character. Its errors do not contain the value, because callers
// pass what a request or a file holds, and that may be an identity number.
func CheckCreditCode(s string) error {
	if len(s) != CreditCodeLen {
		return fmt.Errorf("%w: it has %d bytes but must have 18 characters",
			ErrInvalidCreditCode, len(s))
	}
	for i := 0; i < CreditCodeLen; i++ {
		c := s[i]
		if creditValues[c] >= 0 {
			continue
		}
		if c >= 'a' && c <= 'z' {
			return fmt.Errorf("%w: character %d is a lowercase letter, "+
				"use uppercase letters", ErrInvalidCreditCode, i+1)
		}
		return fmt.Errorf("%w: character %d is not one of %s "+
			"(I, O, S, V and Z are never used)", ErrInvalidCreditCode, i+1,
			creditAlphabet)
	}
	if creditCheckChar(s[:17]) != s[17] {
		return fmt.Errorf("%w: the check character does not match the first "+
			"17 characters, so one of them is mistyped", ErrInvalidCreditCode)
	}
	return nil
}

// CreditCheckChar computes the check character of the first 17 characters of
// a unified social credit code.
func CreditCheckChar(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, fmt.Errorf("computing credit code check character of %q: "+
			"got %d bytes, want 17 characters", first17, len(first17))
	}
	for i := 0; i < 17; i++ {
		if creditValues[first17[i]] < 0 {
			return 0, fmt.Errorf("computing credit code check character of %q: "+
				"character %d is not one of %s", first17, i+1, creditAlphabet)
		}
	}
	return creditCheckChar(first17), nil
}

// ValidCreditCode reports whether b is a valid unified social credit code.
// It does not allocate.
func ValidCreditCode(b []byte) bool {
	if len(b) != CreditCodeLen {
		return false
	}
	for _, c := range b {
		if creditValues[c] < 0 {
			return false
		}
	}
	return creditCheckChar(b[:17]) == b[17]
}

// creditCheckChar expects 17 characters of creditAlphabet.
func creditCheckChar[T string | []byte](first17 T) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(creditValues[first17[i]]) * creditWeights[i]
	}
	// 31 - (sum mod 31) is 1..31, and the value 31 is written as '0'.
	return creditAlphabet[(31-sum%31)%31]
}

// IsMobile reports whether b is a mainland mobile number: 11 digits, the
// first 1 and the second 3-9.
func IsMobile(b []byte) bool {
	if len(b) != 11 || b[0] != '1' || b[1] < '3' || b[1] > '9' {
		return false
	}
	for _, c := range b[2:] {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// FindIDNumber returns the byte offsets of the first run of digits in s
// that holds a resident identity number with a valid check character, or
// -1, -1 when there is none. A longer run that holds one is returned whole,
// so that padding a number with digits does not hide it.
func FindIDNumber(s string) (start, end int) {
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == 'X' || s[j] == 'x') {
			j++
		}
		for k := i; k+IDNumberLen <= j; k++ {
			if ValidIDNumberFold([]byte(s[k : k+IDNumberLen])) {
				return i, j
			}
		}
		i = j
	}
	return -1, -1
}

// RedactIDNumbers returns s with every resident identity number in it
// replaced by "*", for text bound for a log or an audit record. It returns
// s itself when there is none.
func RedactIDNumbers(s string) string {
	start, end := FindIDNumber(s)
	if start < 0 {
		return s
	}
	var b strings.Builder
	for start >= 0 {
		b.WriteString(s[:start])
		b.WriteByte('*')
		s = s[end:]
		start, end = FindIDNumber(s)
	}
	b.WriteString(s)
	return b.String()
}
