package main

import "strings"

// identityWeights are the GB 11643 weights of the 17 body digits of a
// resident identity number, 2^(18-i) mod 11 for position i counted from 1.
var identityWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// identityCheckChars maps the weighted sum mod 11 to the ISO 7064 MOD 11-2
// check character.
const identityCheckChars = "10X98765432"

// identityCheckChar returns the check character of a resident identity number
// whose first 17 characters are body, or 0 if body is not 17 digits.
func identityCheckChar(body string) byte {
	if len(body) != 17 {
		return 0
	}
	sum := 0
	for i := range 17 {
		c := body[i]
		if c < '0' || c > '9' {
			return 0
		}
		sum += int(c-'0') * identityWeights[i]
	}
	return identityCheckChars[sum%11]
}

// validIdentityNumber reports whether s is an 18-character resident identity
// number with a correct check character. The birth date is not checked here.
func validIdentityNumber(s string) bool {
	if len(s) != 18 {
		return false
	}
	check := identityCheckChar(s[:17])
	return check != 0 && check == s[17]
}

// creditCodeCharset is the GB 32100 character set: digits and the capital
// letters other than I, O, S, V and Z. A character's value is its index.
const creditCodeCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// creditCodeWeights are the GB 32100 weights of the 17 body characters,
// 3^(i-1) mod 31 for position i counted from 1.
var creditCodeWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// creditCodeCheckChar returns the check character of a unified social credit
// code whose first 17 characters are body, or 0 if body is not 17 characters
// of the GB 32100 set.
func creditCodeCheckChar(body string) byte {
	if len(body) != 17 {
		return 0
	}
	sum := 0
	for i := range 17 {
		value := strings.IndexByte(creditCodeCharset, body[i])
		if value < 0 {
			return 0
		}
		sum += value * creditCodeWeights[i]
	}
	return creditCodeCharset[(31-sum%31)%31]
}

// registrationAuthorityCodes are the GB 32100 first characters: 1 staffing
// authority, 2 foreign affairs, 3 judicial administration, 4 culture, 5 civil
// affairs, 6 tourism, 7 religious affairs, 8 trade unions, 9 market
// regulation, A military staffing, N agriculture, Y other.
const registrationAuthorityCodes = "123456789ANY"

// validCreditCode reports whether s is an 18-character unified social credit
// code with a correct check character. The gateway checks a subject this
// way, while wellFormedCreditCode checks the code's parts as well.
func validCreditCode(s string) bool {
	if len(s) != 18 {
		return false
	}
	check := creditCodeCheckChar(s[:17])
	return check != 0 && check == s[17]
}

// wellFormedCreditCode reports whether s is a valid unified social credit
// code whose parts are well formed too: a known registration authority, a
// six-digit region code and a GB 11714 organisation code in characters 9 to
// 17. Every code this program generates passes it.
func wellFormedCreditCode(s string) bool {
	if !validCreditCode(s) || strings.IndexByte(registrationAuthorityCodes, s[0]) < 0 {
		return false
	}
	for i := 2; i < 8; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return validOrganizationCode(s[8:17])
}

// organizationCodeWeights are the GB 11714 weights of the eight body
// characters of an organisation code.
var organizationCodeWeights = [8]int{3, 7, 9, 10, 5, 8, 4, 2}

// organizationCodeCheckChar returns the GB 11714 check character of an
// eight-character organisation code body, or 0 if body is not eight digits
// or capital letters. A letter's value is 10 for A up to 35 for Z.
func organizationCodeCheckChar(body string) byte {
	if len(body) != 8 {
		return 0
	}
	sum := 0
	for i := range 8 {
		var value int
		switch c := body[i]; {
		case c >= '0' && c <= '9':
			value = int(c - '0')
		case c >= 'A' && c <= 'Z':
			value = int(c-'A') + 10
		default:
			return 0
		}
		sum += value * organizationCodeWeights[i]
	}
	switch check := 11 - sum%11; check {
	case 10:
		return 'X'
	case 11:
		return '0'
	default:
		return byte('0' + check)
	}
}

// validOrganizationCode reports whether s is a nine-character organisation
// code with a correct GB 11714 check character.
func validOrganizationCode(s string) bool {
	if len(s) != 9 {
		return false
	}
	check := organizationCodeCheckChar(s[:8])
	return check != 0 && check == s[8]
}

// luhnCheckDigit returns the Luhn (ISO/IEC 7812) check digit to append to
// digits, or 0 if digits is empty or holds a non-digit.
func luhnCheckDigit(digits string) byte {
	if digits == "" {
		return 0
	}
	sum := 0
	// The digit next to the check digit is doubled, then every second one.
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0
		}
		d := int(c - '0')
		if (len(digits)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// validLuhn reports whether s is a digit string of at least two digits whose
// last digit is its Luhn check digit.
func validLuhn(s string) bool {
	if len(s) < 2 {
		return false
	}
	check := luhnCheckDigit(s[:len(s)-1])
	return check != 0 && check == s[len(s)-1]
}
