package main

import (
	"strconv"
	"time"
)

// randomSource is a SplitMix64 generator. The program carries its own
// instead of using math/rand so that the records, which tests and the demo
// script pick subjects from, stay the same across Go releases.
type randomSource struct {
	state uint64
}

func (r *randomSource) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a number in [0, n). The modulo bias is below 2^-40 for the
// small n used here.
func (r *randomSource) intn(n int) int {
	return int(r.next() % uint64(n))
}

// between returns a number in [low, high].
func (r *randomSource) between(low, high int) int {
	return low + r.intn(high-low+1)
}

// chance returns true with probability percent/100.
func (r *randomSource) chance(percent int) bool {
	return r.intn(100) < percent
}

// date returns a day in [from, to].
func (r *randomSource) date(from, to time.Time) time.Time {
	days := int(to.Sub(from).Hours() / 24)
	return from.AddDate(0, 0, r.intn(days+1))
}

func day(year int, month time.Month, dayOfMonth int) time.Time {
	return time.Date(year, month, dayOfMonth, 0, 0, 0, 0, time.UTC)
}

const dateLayout = "2006-01-02"

// referenceDate is "today" for the synthetic records: ages, account
// balances and loan dates are computed against it, never against the clock.
var referenceDate = day(2026, time.June, 30)

// ageOn returns the age in whole years of someone born on birth.
func ageOn(birth, on time.Time) int {
	age := on.Year() - birth.Year()
	if on.YearDay() < birth.YearDay() {
		age--
	}
	return age
}

// generator draws synthetic record values and keeps identity numbers and
// phone numbers unique across the register.
type generator struct {
	random    randomSource
	idNumbers map[string]bool
	phones    map[string]bool
}

func newGenerator(seed uint64) *generator {
	return &generator{
		random:    randomSource{state: seed},
		idNumbers: make(map[string]bool),
		phones:    make(map[string]bool),
	}
}

// identityNumber returns an unused GB 11643 identity number. The register
// draws sequence numbers 001 to 498, odd for men and even for women. Census
// listings use 501 and above, so the two never collide.
func (g *generator) identityNumber(region string, birth time.Time, male bool) string {
	for {
		sequence := 2*g.random.intn(249) + 1
		if !male {
			sequence++
		}
		id := identityNumberOf(region, birth, sequence)
		if !g.idNumbers[id] {
			g.idNumbers[id] = true
			return id
		}
	}
}

// identityNumberOf builds the identity number from its parts: six-digit
// region code, birth date as YYYYMMDD, three-digit sequence number, check
// character.
func identityNumberOf(region string, birth time.Time, sequence int) string {
	buffer := make([]byte, 0, 18)
	buffer = append(buffer, region...)
	buffer = birth.AppendFormat(buffer, "20060102")
	buffer = append(buffer, byte('0'+sequence/100), byte('0'+sequence/10%10), byte('0'+sequence%10))
	buffer = append(buffer, identityCheckChar(string(buffer)))
	return string(buffer)
}

func genderOf(male bool) string {
	if male {
		return "男"
	}
	return "女"
}

func (g *generator) surname() string {
	total := 0
	for _, s := range surnames {
		total += s.Weight
	}
	n := g.random.intn(total)
	for _, s := range surnames {
		if n < s.Weight {
			return s.Name
		}
		n -= s.Weight
	}
	return surnames[0].Name
}

func (g *generator) givenName(male bool) string {
	if male {
		return maleGivenNames[g.random.intn(len(maleGivenNames))]
	}
	return femaleGivenNames[g.random.intn(len(femaleGivenNames))]
}

func (g *generator) ethnicity() string {
	n := g.random.intn(100)
	for _, e := range ethnicities {
		if n < e.Weight {
			return e.Name
		}
		n -= e.Weight
	}
	return ethnicities[0].Name
}

// mobile returns a mainland mobile number that no other record uses.
func (g *generator) mobile() string {
	for {
		phone := randomMobile(&g.random)
		if !g.phones[phone] {
			g.phones[phone] = true
			return phone
		}
	}
}

func randomMobile(random *randomSource) string {
	prefix := mobilePrefixes[random.intn(len(mobilePrefixes))]
	return prefix + digits(random, 8)
}

// digits returns n random decimal digits.
func digits(random *randomSource, n int) string {
	buffer := make([]byte, n)
	for i := range buffer {
		buffer[i] = byte('0' + random.intn(10))
	}
	return string(buffer)
}

// homeAddress returns a flat in a residential building, such as
// 厦门市思明区湖滨南路88号3单元1202室.
func homeAddress(random *randomSource, d *district) string {
	road := d.Roads[random.intn(len(d.Roads))]
	floor := random.between(1, 32)
	return "厦门市" + d.Name + road +
		strconv.Itoa(random.between(1, 400)) + "号" +
		strconv.Itoa(random.between(1, 6)) + "单元" +
		strconv.Itoa(floor*100+random.between(1, 4)) + "室"
}

// officeAddress returns a room in an office building, such as
// 厦门市湖里区金山路98号1203室.
func officeAddress(random *randomSource, d *district) string {
	road := d.Roads[random.intn(len(d.Roads))]
	floor := random.between(2, 28)
	return "厦门市" + d.Name + road +
		strconv.Itoa(random.between(1, 600)) + "号" +
		strconv.Itoa(floor*100+random.between(1, 12)) + "室"
}

// bankCard returns a 19-digit UnionPay debit card number: the issuer's BIN,
// twelve account digits and a Luhn check digit.
func (g *generator) bankCard() string {
	issuer := cardIssuers[g.random.intn(len(cardIssuers))]
	body := issuer.BIN + digits(&g.random, 12)
	return body + string(luhnCheckDigit(body))
}

// creditCode returns a unified social credit code: prefix (registration
// authority, organisation type and six-digit region code), an organisation
// code with its GB 11714 check character, and the GB 32100 check character.
// Organisations established from 2016 get an organisation code starting with
// MA, the form of codes issued with the unified code. Older ones keep an
// eight-digit organisation code from before it.
func (g *generator) creditCode(prefix string, established time.Time) string {
	var body string
	if established.Year() >= 2016 {
		body = "MA3"
		for range 5 {
			body += string(creditCodeCharset[g.random.intn(len(creditCodeCharset))])
		}
	} else {
		body = strconv.Itoa(g.random.between(1, 7)) + digits(&g.random, 7)
	}
	code := prefix + body + string(organizationCodeCheckChar(body))
	return code + string(creditCodeCheckChar(code))
}
