package main

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// testDataset is generated once for every test of the package.
var testDataset = sync.OnceValue(newDataset)

var (
	mobilePattern = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	datePattern   = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
)

// checkIdentityNumber reports an identity number found at where whose check
// character, Xiamen region code or birth date is wrong.
func checkIdentityNumber(t *testing.T, where, id string) {
	t.Helper()
	if !validIdentityNumber(id) {
		t.Errorf("%s: identity number %q has no valid check character", where, id)
		return
	}
	if districtByCode(id[:6]) == nil {
		t.Errorf("%s: identity number %q has region %q, not a Xiamen district", where, id, id[:6])
	}
	birth, err := time.Parse("20060102", id[6:14])
	if err != nil {
		t.Errorf("%s: identity number %q has an impossible birth date: %v", where, id, err)
		return
	}
	if birth.After(referenceDate) {
		t.Errorf("%s: identity number %q has a birth date after %s", where, id, referenceDate.Format(dateLayout))
	}
}

func checkMobile(t *testing.T, where, phone string) {
	t.Helper()
	if !mobilePattern.MatchString(phone) {
		t.Errorf("%s: phone %q is not a mainland mobile number", where, phone)
	}
}

func checkDate(t *testing.T, where, date string) {
	t.Helper()
	parsed, err := time.Parse(dateLayout, date)
	if err != nil {
		t.Errorf("%s: invalid date %q: %v", where, date, err)
		return
	}
	if parsed.After(referenceDate) {
		t.Errorf("%s: date %q is after %s", where, date, referenceDate.Format(dateLayout))
	}
}

func checkAddress(t *testing.T, where, address string) {
	t.Helper()
	for _, d := range districts {
		if strings.HasPrefix(address, "厦门市"+d.Name) {
			return
		}
	}
	t.Errorf("%s: address %q is not in a Xiamen district", where, address)
}

func TestDatasetPersons(t *testing.T) {
	data := testDataset()
	if len(data.persons) < householdCount {
		t.Fatalf("got %d persons, want at least %d", len(data.persons), householdCount)
	}
	seen := make(map[string]bool)
	for _, p := range data.persons {
		where := "person " + p.Name
		checkIdentityNumber(t, where, p.IDNumber)
		if seen[p.IDNumber] {
			t.Errorf("%s: identity number %q used twice", where, p.IDNumber)
		}
		seen[p.IDNumber] = true
		if p.BirthDate != p.IDNumber[6:10]+"-"+p.IDNumber[10:12]+"-"+p.IDNumber[12:14] {
			t.Errorf("%s: birth date %q does not match identity number %q", where, p.BirthDate, p.IDNumber)
		}
		// The 17th digit is odd for men and even for women.
		male := (p.IDNumber[16]-'0')%2 == 1
		if p.Gender != genderOf(male) {
			t.Errorf("%s: gender %q does not match identity number %q", where, p.Gender, p.IDNumber)
		}
		checkMobile(t, where, p.Phone)
		checkAddress(t, where, p.Address)
		if p.Household == nil {
			t.Errorf("%s: no household", where)
			continue
		}
		checkIdentityNumber(t, where+" household head", p.Household.HeadIDNumber)
		if data.personByID[p.Household.HeadIDNumber] == nil {
			t.Errorf("%s: household head %q is not in the register", where, p.Household.HeadIDNumber)
		}
		if relationOf(p) == "" {
			t.Errorf("%s: not a member of their own household", where)
		}
	}
}

func TestDatasetCompoundSurnames(t *testing.T) {
	data := testDataset()
	for _, surname := range []string{"欧阳", "司马"} {
		found := false
		for _, p := range data.persons {
			if strings.HasPrefix(p.Name, surname) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no person with the surname %s in the register", surname)
		}
	}
}

func TestDatasetMarriages(t *testing.T) {
	data := testDataset()
	married := 0
	for _, m := range data.marriages {
		where := "marriage record of " + m.Name
		checkIdentityNumber(t, where, m.IDNumber)
		checkDate(t, where, m.RegisteredAt)
		if len(m.History) == 0 {
			t.Errorf("%s: empty history", where)
		}
		for i, event := range m.History {
			checkDate(t, where, event.Date)
			if i > 0 && event.Date < m.History[i-1].Date {
				t.Errorf("%s: history not in date order", where)
			}
		}
		if m.MarriageStatus != "已婚" {
			if m.Spouse != nil {
				t.Errorf("%s: status %q with a spouse", where, m.MarriageStatus)
			}
			continue
		}
		married++
		if m.Spouse == nil {
			t.Errorf("%s: married without a spouse", where)
			continue
		}
		checkIdentityNumber(t, where+" spouse", m.Spouse.IDNumber)
		checkMobile(t, where+" spouse", m.Spouse.Phone)
		spouseRecord := data.marriageByID[m.Spouse.IDNumber]
		if spouseRecord == nil || spouseRecord.Spouse == nil || spouseRecord.Spouse.IDNumber != m.IDNumber {
			t.Errorf("%s: the spouse's record does not name them back", where)
		}
	}
	if married == 0 {
		t.Error("no married person in the marriage register")
	}
}

func TestDatasetAdoptions(t *testing.T) {
	data := testDataset()
	if len(data.adoptions) == 0 {
		t.Fatal("no adoption records")
	}
	for _, a := range data.adoptions {
		where := "adoption " + a.RegistrationNo
		checkDate(t, where, a.RegisteredAt)
		for _, adopter := range a.Adopters {
			checkIdentityNumber(t, where+" adopter", adopter.IDNumber)
		}
		checkIdentityNumber(t, where+" adoptee", a.Adoptee.IDNumber)
		if a.RegisteredAt < a.Adoptee.BirthDate {
			t.Errorf("%s: registered before the adoptee was born", where)
		}
	}
}

func TestDatasetCompanies(t *testing.T) {
	data := testDataset()
	if len(data.companies) != companyCount {
		t.Fatalf("got %d companies, want %d", len(data.companies), companyCount)
	}
	for _, c := range data.companies {
		where := "company " + c.Name
		if !wellFormedCreditCode(c.CreditCode) {
			t.Errorf("%s: credit code %q is not well formed", where, c.CreditCode)
		}
		if !strings.HasPrefix(c.CreditCode, "91350200") {
			t.Errorf("%s: credit code %q does not start with 91350200", where, c.CreditCode)
		}
		checkDate(t, where, c.Established)
		checkAddress(t, where, c.Address)
		checkIdentityNumber(t, where+" legal representative", c.LegalRepresentative.IDNumber)
		checkMobile(t, where+" legal representative", c.LegalRepresentative.Phone)
		checkMobile(t, where, c.ContactPhone)
		if len(c.Shareholders) == 0 || c.Shareholders[0].IDNumber != c.LegalRepresentative.IDNumber {
			t.Errorf("%s: the legal representative is not the first shareholder", where)
		}
		for _, s := range c.Shareholders {
			checkIdentityNumber(t, where+" shareholder", s.IDNumber)
		}
	}
}

func TestDatasetAccounts(t *testing.T) {
	data := testDataset()
	if len(data.accounts) == 0 {
		t.Fatal("no provident fund accounts")
	}
	for _, a := range data.accounts {
		where := "account of " + a.Name
		checkIdentityNumber(t, where, a.IDNumber)
		checkMobile(t, where, a.Phone)
		if len(a.BankCard) != 19 || !validLuhn(a.BankCard) {
			t.Errorf("%s: bank card %q is not 19 digits with a Luhn check digit", where, a.BankCard)
		}
		if !wellFormedCreditCode(a.EmployerCreditCode) || data.companyByCode[a.EmployerCreditCode] == nil {
			t.Errorf("%s: employer credit code %q is not a registered company", where, a.EmployerCreditCode)
		}
		if a.MonthlyDeposit <= 0 || a.Balance < 0 {
			t.Errorf("%s: deposit %d fen, balance %d fen", where, a.MonthlyDeposit, a.Balance)
		}
		for _, loan := range a.Loans {
			checkDate(t, where+" loan", loan.Start)
		}
	}
}

func TestDatasetEvacuees(t *testing.T) {
	data := testDataset()
	if len(data.evacuees) == 0 {
		t.Fatal("no evacuee records")
	}
	for _, e := range data.evacuees {
		where := "evacuee " + e.Name
		checkIdentityNumber(t, where, e.IDNumber)
		checkMobile(t, where, e.Phone)
		checkAddress(t, where, e.HomeAddress)
		checkAddress(t, where+" shelter", e.Shelter.Address)
		if _, err := time.Parse(time.RFC3339, e.TransferredAt); err != nil {
			t.Errorf("%s: transferred_at %q is not RFC 3339: %v", where, e.TransferredAt, err)
		}
		for _, member := range e.FamilyMembers {
			checkIdentityNumber(t, where+" family member", member.IDNumber)
			if member.IDNumber == e.IDNumber {
				t.Errorf("%s: lists themselves as a family member", where)
			}
		}
	}
}

func TestDatasetDeterministic(t *testing.T) {
	var first, second bytes.Buffer
	if err := writeList(&first, newDataset()); err != nil {
		t.Fatal(err)
	}
	if err := writeList(&second, newDataset()); err != nil {
		t.Fatal(err)
	}
	if first.String() != second.String() {
		t.Error("two generations listed different records")
	}
}

func TestWriteListLines(t *testing.T) {
	var out bytes.Buffer
	if err := writeList(&out, testDataset()); err != nil {
		t.Fatal(err)
	}
	names := make(map[string]bool)
	for _, dep := range departments {
		names[dep.Name] = true
	}
	for line := range strings.Lines(out.String()) {
		fields := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		if len(fields) != 3 {
			t.Errorf("line %q has %d tab-separated fields, want 3", line, len(fields))
			continue
		}
		if !names[fields[0]] {
			t.Errorf("line %q names unknown department %q", line, fields[0])
		}
		if fields[1] == "" || fields[2] == "" {
			t.Errorf("line %q has an empty field", line)
		}
	}
}

func TestCensusIdentityNumbers(t *testing.T) {
	if censusDays%censusDayStride == 0 {
		t.Fatalf("censusDayStride %d divides censusDays %d", censusDayStride, censusDays)
	}
	register := testDataset().personByID
	census := newCensusGenerator(districtByCode("350206"))
	seen := make(map[string]bool, censusMaxCount)
	for i := range censusMaxCount {
		p := census.next()
		if !validIdentityNumber(p.IDNumber) {
			t.Fatalf("person %d: identity number %q has no valid check character", i, p.IDNumber)
		}
		if seen[p.IDNumber] {
			t.Fatalf("person %d: identity number %q repeats an earlier one", i, p.IDNumber)
		}
		if register[p.IDNumber] != nil {
			t.Fatalf("person %d: identity number %q belongs to a register person", i, p.IDNumber)
		}
		seen[p.IDNumber] = true
	}
}

func TestCensusStablePrefix(t *testing.T) {
	d := districtByCode("350203")
	var short, long bytes.Buffer
	if err := writeCensusCSV(&short, d, 10); err != nil {
		t.Fatal(err)
	}
	if err := writeCensusCSV(&long, d, 50); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(long.String(), short.String()) {
		t.Error("the first 10 persons of a 50-person listing differ from a 10-person listing")
	}
}

func TestYuanMarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		fen  yuan
		want string
	}{
		{"zero", 0, "0.00"},
		{"whole yuan", 124800, "1248.00"},
		{"fen", 19582368, "195823.68"},
		{"under one yuan", 5, "0.05"},
		{"negative", -150, "-1.50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.fen.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("MarshalJSON(%d) = %s, want %s", tt.fen, got, tt.want)
			}
		})
	}
}
