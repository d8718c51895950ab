package main

import "strconv"

// person is a population register record (公安局 人口登记).
type person struct {
	IDNumber  string `json:"id_number"`
	Name      string `json:"name"`
	Gender    string `json:"gender"`
	BirthDate string `json:"birth_date"`
	Ethnicity string `json:"ethnicity"`
	Phone     string `json:"phone"`
	Address   string `json:"address"`
	// Household is shared by every member of the household. Census listings
	// leave it out.
	Household *household `json:"household,omitempty"`
}

// household is a household register (户口簿) entry.
type household struct {
	HeadName     string            `json:"head_name"`
	HeadIDNumber string            `json:"head_id_number"`
	Members      []householdMember `json:"members"`
}

// householdMember is one person in a household, with the relation to its
// head as the household register writes it (户主, 配偶, 子, 女, 父亲, 母亲).
type householdMember struct {
	Name     string `json:"name"`
	IDNumber string `json:"id_number"`
	Relation string `json:"relation"`
}

// census is a district's population listing.
type census struct {
	District     string    `json:"district"`
	DistrictCode string    `json:"district_code"`
	Total        int       `json:"total"`
	Persons      []*person `json:"persons"`
}

// marriageRecord is a person's marriage registration record (民政局 婚姻登记).
type marriageRecord struct {
	IDNumber       string `json:"id_number"`
	Name           string `json:"name"`
	MarriageStatus string `json:"marriage_status"`
	// RegisteredAt is the date of the latest registration, as YYYY-MM-DD.
	RegisteredAt   string `json:"registered_at"`
	RegistryOffice string `json:"registry_office"`
	// Spouse is null unless the person is married.
	Spouse  *contact        `json:"spouse"`
	History []marriageEvent `json:"history"`
}

// contact is a person named in another record, with a phone number.
type contact struct {
	Name     string `json:"name"`
	IDNumber string `json:"id_number"`
	Phone    string `json:"phone"`
}

// marriageEvent is one registration in a person's marriage history.
type marriageEvent struct {
	Event  string `json:"event"`
	Date   string `json:"date"`
	Office string `json:"office"`
}

// adoptionRecord is an adoption registration (民政局 收养登记), found by the
// identity number of either adopter.
type adoptionRecord struct {
	RegistrationNo string          `json:"registration_no"`
	RegisteredAt   string          `json:"registered_at"`
	RegistryOffice string          `json:"registry_office"`
	Adopters       []adoptionParty `json:"adopters"`
	Adoptee        adoptee         `json:"adoptee"`
	// PlacingParty is the person or institution that placed the child (送养人).
	PlacingParty string `json:"placing_party"`
}

type adoptionParty struct {
	Name     string `json:"name"`
	IDNumber string `json:"id_number"`
}

type adoptee struct {
	Name      string `json:"name"`
	IDNumber  string `json:"id_number"`
	Gender    string `json:"gender"`
	BirthDate string `json:"birth_date"`
}

// company is an enterprise registration record (市场监管局 企业登记).
type company struct {
	CreditCode          string        `json:"credit_code"`
	Name                string        `json:"name"`
	Type                string        `json:"type"`
	Status              string        `json:"status"`
	Established         string        `json:"established"`
	RegisteredCapital   string        `json:"registered_capital"`
	Address             string        `json:"address"`
	LegalRepresentative contact       `json:"legal_representative"`
	ContactPhone        string        `json:"contact_phone"`
	Shareholders        []shareholder `json:"shareholders"`
	BusinessScope       string        `json:"business_scope"`
}

// shareholder is a natural person holding part of a company. Share is a
// percentage such as "60%".
type shareholder struct {
	Name     string `json:"name"`
	IDNumber string `json:"id_number"`
	Share    string `json:"share"`
}

// fundAccount is a housing provident fund account (住房公积金管理中心).
type fundAccount struct {
	AccountNo          string `json:"account_no"`
	IDNumber           string `json:"id_number"`
	Name               string `json:"name"`
	Phone              string `json:"phone"`
	Employer           string `json:"employer"`
	EmployerCreditCode string `json:"employer_credit_code"`
	BankCard           string `json:"bank_card"`
	// MonthlyDeposit is the employer's and the employee's contribution together.
	MonthlyDeposit yuan       `json:"monthly_deposit"`
	Balance        yuan       `json:"balance"`
	Status         string     `json:"status"`
	Loans          []fundLoan `json:"loans"`
}

// fundLoan is a provident fund housing loan.
type fundLoan struct {
	LoanNo string `json:"loan_no"`
	Amount yuan   `json:"amount"`
	Bank   string `json:"bank"`
	Start  string `json:"start"`
}

// evacuee is a person moved to a shelter during a typhoon emergency
// (应急管理局 转移安置), with the household members moved with them.
type evacuee struct {
	IDNumber      string            `json:"id_number"`
	Name          string            `json:"name"`
	Phone         string            `json:"phone"`
	HomeAddress   string            `json:"home_address"`
	Event         string            `json:"event"`
	Shelter       shelter           `json:"shelter"`
	TransferredAt string            `json:"transferred_at"`
	FamilyMembers []householdMember `json:"family_members"`
}

// yuan is an amount of money in fen (0.01 yuan), written in JSON as a number
// of yuan with two decimals, such as 1860.00.
type yuan int64

// MarshalJSON writes the amount with exactly two decimals, which a float
// would not keep.
func (y yuan) MarshalJSON() ([]byte, error) {
	fen := int64(y)
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	cents := strconv.FormatInt(100+fen%100, 10)[1:]
	return []byte(sign + strconv.FormatInt(fen/100, 10) + "." + cents), nil
}
