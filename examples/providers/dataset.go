package main

import (
	"fmt"
	"strconv"
	"time"
)

// datasetSeed fixes every generated record. Changing it, or the order in
// which the builders below draw numbers, changes every subject the tests and
// the demo script use.
const datasetSeed = 20260918

const (
	householdCount = 48
	companyCount   = 24
	evacuatedCount = 12
)

// typhoonEvent is the emergency the evacuee records were collected for.
const typhoonEvent = "2026年第18号台风应急转移安置"

// dataset holds every department's records, in generation order (the order
// -list prints), with an index by subject.
type dataset struct {
	persons   []*person
	marriages []*marriageRecord
	adoptions []*adoptionRecord
	companies []*company
	accounts  []*fundAccount
	evacuees  []*evacuee

	personByID    map[string]*person
	marriageByID  map[string]*marriageRecord
	adoptionByID  map[string]*adoptionRecord
	companyByCode map[string]*company
	accountByID   map[string]*fundAccount
	evacueeByID   map[string]*evacuee
}

// registerHousehold is a household as the generator builds it, before its
// members are linked to the other departments' records.
type registerHousehold struct {
	district *district
	kind     householdKind
	members  []*person
	// relations[i] is members[i]'s relation to the head.
	relations []string
	// married, divorced and remarried are the head's registration dates. A
	// date is zero where the household kind has no such event.
	married, divorced, remarried time.Time
}

type householdKind int

const (
	householdCouple householdKind = iota
	householdRemarried
	householdDivorced
	householdWidowed
	householdSingle
)

// householdKindWeights are the shares, in percent, of each household kind.
var householdKindWeights = [...]int{
	householdCouple:    55,
	householdRemarried: 10,
	householdDivorced:  10,
	householdWidowed:   5,
	householdSingle:    20,
}

// newDataset generates every record from datasetSeed.
func newDataset() *dataset {
	g := newGenerator(datasetSeed)
	data := &dataset{
		personByID:    make(map[string]*person),
		marriageByID:  make(map[string]*marriageRecord),
		adoptionByID:  make(map[string]*adoptionRecord),
		companyByCode: make(map[string]*company),
		accountByID:   make(map[string]*fundAccount),
		evacueeByID:   make(map[string]*evacuee),
	}
	households := make([]*registerHousehold, 0, householdCount)
	for i := range householdCount {
		var h *registerHousehold
		if i == 0 {
			h = g.demoHousehold(&districts[0])
		} else {
			h = g.household(&districts[i%len(districts)])
		}
		households = append(households, h)
		data.addHousehold(h)
		data.addMarriages(g, h)
	}
	data.addAdoptions(g, households)
	data.addCompanies(g)
	data.addAccounts(g)
	data.addEvacuees(g, households)
	return data
}

func (g *generator) householdKind() householdKind {
	n := g.random.intn(100)
	for kind, weight := range householdKindWeights {
		if n < weight {
			return householdKind(kind)
		}
		n -= weight
	}
	return householdCouple
}

// newPerson creates a register person living at address. Children under 16
// get guardianPhone when it is set, and everyone else a mobile of their own.
func (g *generator) newPerson(region string, birth time.Time, male bool, surname, address, guardianPhone string) *person {
	p := &person{
		IDNumber:  g.identityNumber(region, birth, male),
		Name:      surname + g.givenName(male),
		Gender:    genderOf(male),
		BirthDate: birth.Format(dateLayout),
		Ethnicity: g.ethnicity(),
		Address:   address,
	}
	if ageOn(birth, referenceDate) < 16 && guardianPhone != "" {
		p.Phone = guardianPhone
	} else {
		p.Phone = g.mobile()
	}
	return p
}

// household generates one household living in d.
func (g *generator) household(d *district) *registerHousehold {
	h := &registerHousehold{district: d, kind: g.householdKind()}
	address := homeAddress(&g.random, d)
	switch h.kind {
	case householdCouple:
		g.addCouple(h, address, coupleOptions{latestBirth: day(1996, 12, 31)})
	case householdRemarried:
		g.addCouple(h, address, coupleOptions{latestBirth: day(1982, 12, 31)})
	case householdDivorced:
		headMale := g.random.chance(50)
		birth := g.random.date(day(1965, 1, 1), day(1985, 12, 31))
		head := g.newPerson(d.Code, birth, headMale, g.surname(), address, "")
		h.add(head, "户主")
		h.married = g.eventAfter(birth, 23, 29)
		g.addChildren(h, head, h.married.AddDate(1, 0, 0), 1)
		h.divorced = g.eventAfter(h.married, 3, 12)
	case householdWidowed:
		birth := g.random.date(day(1938, 1, 1), day(1955, 12, 31))
		h.add(g.newPerson(d.Code, birth, g.random.chance(40), g.surname(), address, ""), "户主")
		h.married = g.eventAfter(birth, 22, 27)
	case householdSingle:
		birth := g.random.date(day(1994, 1, 1), day(2004, 12, 31))
		h.add(g.newPerson(d.Code, birth, g.random.chance(50), g.surname(), address, ""), "户主")
	}
	return h
}

// demoHousehold generates the first household, whose head the demo script
// queries: a married couple in 思明区 with children, headed by someone with
// the compound surname 欧阳, so that name masking shows a two-character
// surname.
func (g *generator) demoHousehold(d *district) *registerHousehold {
	h := &registerHousehold{district: d, kind: householdCouple}
	g.addCouple(h, homeAddress(&g.random, d), coupleOptions{
		latestBirth: day(1988, 12, 31), headMale: true, headSurname: "欧阳", minChildren: 1,
	})
	return h
}

// eventAfter returns a day minYears to maxYears (plus up to a year) after
// from, but at least a day after from and no later than a month before
// referenceDate.
func (g *generator) eventAfter(from time.Time, minYears, maxYears int) time.Time {
	event := from.AddDate(g.random.between(minYears, maxYears), 0, g.random.intn(360))
	if latest := referenceDate.AddDate(0, -1, 0); event.After(latest) {
		event = latest
	}
	if !event.After(from) {
		event = from.AddDate(0, 0, 1)
	}
	return event
}

func (h *registerHousehold) add(p *person, relation string) {
	h.members = append(h.members, p)
	h.relations = append(h.relations, relation)
}

// coupleOptions fix parts of a couple household that are otherwise drawn
// at random.
type coupleOptions struct {
	latestBirth time.Time
	// headMale and headSurname apply when headSurname is set.
	headMale    bool
	headSurname string
	minChildren int
}

// addCouple adds a head born by options.latestBirth, a spouse born in any
// Xiamen district, up to two children of the current marriage and sometimes
// a parent of the head. A remarried head divorced once before.
func (g *generator) addCouple(h *registerHousehold, address string, options coupleOptions) {
	headMale := g.random.chance(70)
	surname := g.surname()
	if options.headSurname != "" {
		headMale, surname = options.headMale, options.headSurname
	}
	headBirth := g.random.date(day(1958, 1, 1), options.latestBirth)
	head := g.newPerson(h.district.Code, headBirth, headMale, surname, address, "")
	h.add(head, "户主")

	spouseBirth := headBirth.AddDate(g.random.between(-3, 3), 0, g.random.between(-180, 180))
	spouseRegion := districts[g.random.intn(len(districts))].Code
	spouse := g.newPerson(spouseRegion, spouseBirth, !headMale, g.surname(), address, "")
	h.add(spouse, "配偶")

	h.married = g.eventAfter(headBirth, 23, 29)
	current := h.married
	if h.kind == householdRemarried {
		h.divorced = g.eventAfter(h.married, 2, 8)
		h.remarried = g.eventAfter(h.divorced, 1, 4)
		current = h.remarried
	}

	father := head
	if !headMale {
		father = spouse
	}
	g.addChildren(h, father, current.AddDate(1, 0, 0), max(options.minChildren, g.random.intn(3)))

	if headBirth.Year() >= 1975 && g.random.chance(25) {
		parentMale := g.random.chance(50)
		parentBirth := headBirth.AddDate(-g.random.between(24, 32), 0, -g.random.intn(300))
		// A father passes his surname to the head, while a mother keeps her own.
		surname := g.surname()
		if parentMale {
			surname = surnameOf(head.Name)
		}
		parent := g.newPerson(h.district.Code, parentBirth, parentMale, surname, address, "")
		h.add(parent, map[bool]string{true: "父亲", false: "母亲"}[parentMale])
	}
}

// addChildren adds count children of parent, the first born on or after
// first, none later than the end of 2025.
func (g *generator) addChildren(h *registerHousehold, parent *person, first time.Time, count int) {
	birth := first
	for range count {
		birth = birth.AddDate(g.random.between(0, 3), 0, g.random.between(0, 300))
		if birth.After(day(2025, 12, 31)) {
			return
		}
		male := g.random.chance(52)
		child := g.newPerson(h.district.Code, birth, male, surnameOf(parent.Name), h.members[0].Address, h.members[0].Phone)
		h.add(child, map[bool]string{true: "子", false: "女"}[male])
		birth = birth.AddDate(1, 0, 0)
	}
}

// surnameOf returns the surname of a generated name: the compound surnames
// are the only two-character ones.
func surnameOf(name string) string {
	for _, s := range surnames {
		if len(name) > len(s.Name) && name[:len(s.Name)] == s.Name && len([]rune(s.Name)) == 2 {
			return s.Name
		}
	}
	return string([]rune(name)[:1])
}

// addHousehold links the members to one shared household entry and indexes
// them.
func (data *dataset) addHousehold(h *registerHousehold) {
	head := h.members[0]
	entry := &household{HeadName: head.Name, HeadIDNumber: head.IDNumber}
	for i, p := range h.members {
		entry.Members = append(entry.Members, householdMember{
			Name: p.Name, IDNumber: p.IDNumber, Relation: h.relations[i],
		})
		p.Household = entry
		data.persons = append(data.persons, p)
		data.personByID[p.IDNumber] = p
	}
}

// addMarriages records the marriage registrations of the household's head
// and spouse. Single households have none, so a lookup of them is a 404.
func (data *dataset) addMarriages(g *generator, h *registerHousehold) {
	head := h.members[0]
	office := marriageOffices[districtIndex(h.district)]
	event := func(name string, date time.Time, office string) marriageEvent {
		return marriageEvent{Event: name, Date: date.Format(dateLayout), Office: office}
	}

	switch h.kind {
	case householdCouple:
		spouse := h.members[1]
		history := []marriageEvent{event("结婚登记", h.married, office)}
		data.addMarriage(marriedRecord(head, spouse, office, history))
		data.addMarriage(marriedRecord(spouse, head, office, history))
	case householdRemarried:
		spouse := h.members[1]
		firstOffice := marriageOffices[g.random.intn(len(marriageOffices))]
		headHistory := []marriageEvent{
			event("结婚登记", h.married, firstOffice),
			event("离婚登记", h.divorced, firstOffice),
			event("结婚登记", h.remarried, office),
		}
		data.addMarriage(marriedRecord(head, spouse, office, headHistory))
		spouseHistory := []marriageEvent{event("结婚登记", h.remarried, office)}
		data.addMarriage(marriedRecord(spouse, head, office, spouseHistory))
	case householdDivorced:
		data.addMarriage(&marriageRecord{
			IDNumber: head.IDNumber, Name: head.Name, MarriageStatus: "离婚",
			RegisteredAt: h.divorced.Format(dateLayout), RegistryOffice: office,
			History: []marriageEvent{
				event("结婚登记", h.married, office),
				event("离婚登记", h.divorced, office),
			},
		})
	case householdWidowed:
		data.addMarriage(&marriageRecord{
			IDNumber: head.IDNumber, Name: head.Name, MarriageStatus: "丧偶",
			RegisteredAt: h.married.Format(dateLayout), RegistryOffice: office,
			History: []marriageEvent{event("结婚登记", h.married, office)},
		})
	}
}

// marriedRecord returns p's record of the marriage whose latest
// registration ends history.
func marriedRecord(p, spouse *person, office string, history []marriageEvent) *marriageRecord {
	return &marriageRecord{
		IDNumber:       p.IDNumber,
		Name:           p.Name,
		MarriageStatus: "已婚",
		RegisteredAt:   history[len(history)-1].Date,
		RegistryOffice: office,
		Spouse:         &contact{Name: spouse.Name, IDNumber: spouse.IDNumber, Phone: spouse.Phone},
		History:        history,
	}
}

func (data *dataset) addMarriage(record *marriageRecord) {
	data.marriages = append(data.marriages, record)
	data.marriageByID[record.IDNumber] = record
}

func districtIndex(d *district) int {
	for i := range districts {
		if &districts[i] == d {
			return i
		}
	}
	panic(fmt.Sprintf("district %q is not in the districts table", d.Code))
}

// addAdoptions registers the youngest child of the first two couples with
// a child born since 2000 as adopted from the city's children's welfare
// home.
func (data *dataset) addAdoptions(g *generator, households []*registerHousehold) {
	for _, h := range households {
		if len(data.adoptions) == 2 {
			return
		}
		if h.kind != householdCouple || len(h.members) < 3 || h.relations[len(h.members)-1] == "父亲" ||
			h.relations[len(h.members)-1] == "母亲" {
			continue
		}
		child := h.members[len(h.members)-1]
		birth, _ := time.Parse(dateLayout, child.BirthDate)
		if birth.Year() < 2000 {
			continue
		}
		registered := birth.AddDate(g.random.between(1, 3), 0, g.random.intn(300))
		if registered.After(referenceDate) {
			registered = referenceDate
		}
		office := "厦门市民政局"
		record := &adoptionRecord{
			RegistrationNo: fmt.Sprintf("（%d）厦民收字第%04d号", registered.Year(), g.random.between(1, 120)),
			RegisteredAt:   registered.Format(dateLayout),
			RegistryOffice: office,
			Adopters: []adoptionParty{
				{Name: h.members[0].Name, IDNumber: h.members[0].IDNumber},
				{Name: h.members[1].Name, IDNumber: h.members[1].IDNumber},
			},
			Adoptee: adoptee{
				Name: child.Name, IDNumber: child.IDNumber,
				Gender: child.Gender, BirthDate: child.BirthDate,
			},
			PlacingParty: "厦门市儿童福利院",
		}
		data.adoptions = append(data.adoptions, record)
		data.adoptionByID[h.members[0].IDNumber] = record
		data.adoptionByID[h.members[1].IDNumber] = record
	}
}

// fixedCompanies open the enterprise register so that the catalogue's
// company consumers are registered too.
var fixedCompanies = []struct {
	Name     string
	Industry int
}{
	{"厦门鹭岛数据科技有限公司", 0},
	{"厦门海西商贸有限公司", 1},
}

var registeredCapitals = []int{50, 100, 200, 300, 500, 1000, 2000, 5000}

// addCompanies registers companyCount companies whose legal
// representatives and shareholders are adults from the population register.
func (data *dataset) addCompanies(g *generator) {
	adults := data.adultsBornBy(day(1998, 12, 31))
	names := make(map[string]bool)
	for i := range companyCount {
		var name string
		var industry int
		if i < len(fixedCompanies) {
			name, industry = fixedCompanies[i].Name, fixedCompanies[i].Industry
		} else {
			for name == "" || names[name] {
				industry = g.random.intn(len(industries))
				trade := companyTradeNames[g.random.intn(len(companyTradeNames))]
				name = "厦门" + trade + industries[industry].Word + "有限公司"
			}
		}
		names[name] = true

		established := g.random.date(day(2005, 1, 1), day(2025, 12, 31))
		d := &districts[g.random.intn(len(districts))]
		representative := adults[g.random.intn(len(adults))]
		c := &company{
			CreditCode:        g.creditCode("91350200", established),
			Name:              name,
			Type:              companyTypes[g.random.intn(len(companyTypes))],
			Status:            companyStatus(g, i),
			Established:       established.Format(dateLayout),
			RegisteredCapital: strconv.Itoa(registeredCapitals[g.random.intn(len(registeredCapitals))]) + "万元人民币",
			Address:           officeAddress(&g.random, d),
			LegalRepresentative: contact{
				Name: representative.Name, IDNumber: representative.IDNumber, Phone: representative.Phone,
			},
			ContactPhone:  g.mobile(),
			Shareholders:  shareholders(g, representative, adults),
			BusinessScope: industries[industry].Scope,
		}
		data.companies = append(data.companies, c)
		data.companyByCode[c.CreditCode] = c
	}
}

// companyStatus keeps the fixed companies in business and gives the others
// the usual mix of registration states.
func companyStatus(g *generator, index int) string {
	n := g.random.intn(100)
	switch {
	case index < len(fixedCompanies) || n < 85:
		return "存续（在营、开业、在册）"
	case n < 95:
		return "吊销，未注销"
	default:
		return "注销"
	}
}

// shareholders returns one to three natural person shareholders, the legal
// representative first with the largest share. The shares add up to 100%.
func shareholders(g *generator, representative *person, adults []*person) []shareholder {
	count := g.random.between(1, 3)
	holders := []*person{representative}
	for len(holders) < count {
		candidate := adults[g.random.intn(len(adults))]
		if !containsPerson(holders, candidate) {
			holders = append(holders, candidate)
		}
	}
	shares := map[int][]int{1: {100}, 2: {60, 40}, 3: {51, 30, 19}}[count]
	result := make([]shareholder, count)
	for i, p := range holders {
		result[i] = shareholder{Name: p.Name, IDNumber: p.IDNumber, Share: strconv.Itoa(shares[i]) + "%"}
	}
	return result
}

func containsPerson(list []*person, p *person) bool {
	for _, q := range list {
		if q == p {
			return true
		}
	}
	return false
}

// adultsBornBy returns the register persons born on or before last.
func (data *dataset) adultsBornBy(last time.Time) []*person {
	var adults []*person
	for _, p := range data.persons {
		if p.BirthDate <= last.Format(dateLayout) {
			adults = append(adults, p)
		}
	}
	return adults
}

// addAccounts opens a provident fund account for about seven in ten
// register persons of working age (22 to 60), paid by a company in
// business.
func (data *dataset) addAccounts(g *generator) {
	var employers []*company
	for _, c := range data.companies {
		if c.Status == "存续（在营、开业、在册）" {
			employers = append(employers, c)
		}
	}
	for _, p := range data.persons {
		birth, _ := time.Parse(dateLayout, p.BirthDate)
		age := ageOn(birth, referenceDate)
		if age < 22 || age > 60 || !g.random.chance(70) {
			continue
		}
		employer := employers[g.random.intn(len(employers))]
		// Employer and employee each pay 12% of the monthly wage.
		wage := g.random.between(40, 300) * 100
		monthly := yuan(wage * 24)
		firstPaid := birth.AddDate(22, 0, 0)
		if firstPaid.Before(day(2008, 1, 1)) {
			firstPaid = day(2008, 1, 1)
		}
		months := (referenceDate.Year()-firstPaid.Year())*12 + int(referenceDate.Month()-firstPaid.Month())
		balance := yuan(int64(monthly) * int64(months) * int64(g.random.between(20, 90)) / 100)
		account := &fundAccount{
			AccountNo:          "350" + digits(&g.random, 9),
			IDNumber:           p.IDNumber,
			Name:               p.Name,
			Phone:              p.Phone,
			Employer:           employer.Name,
			EmployerCreditCode: employer.CreditCode,
			BankCard:           g.bankCard(),
			MonthlyDeposit:     monthly,
			Balance:            balance,
			Status:             map[bool]string{true: "正常缴存", false: "封存"}[g.random.chance(85)],
			Loans:              []fundLoan{},
		}
		if age >= 30 && g.random.chance(40) {
			start := g.random.date(firstPaid.AddDate(3, 0, 0), day(2025, 12, 31))
			account.Loans = append(account.Loans, fundLoan{
				LoanNo: "GJJ" + strconv.Itoa(start.Year()) + digits(&g.random, 8),
				Amount: yuan(g.random.between(30, 120) * 10000 * 100),
				Bank:   lendingBanks[g.random.intn(len(lendingBanks))],
				Start:  start.Format(dateLayout),
			})
		}
		data.accounts = append(data.accounts, account)
		data.accountByID[p.IDNumber] = account
	}
}

// addEvacuees moves evacuatedCount households of the coastal districts
// (思明, 海沧, 湖里, 翔安) to their district's shelters on the typhoon's
// landfall day. Every member gets a record that lists the others.
func (data *dataset) addEvacuees(g *generator, households []*registerHousehold) {
	coastal := map[string]bool{"350203": true, "350205": true, "350206": true, "350213": true}
	landfall := time.Date(2026, time.September, 14, 14, 0, 0, 0, time.FixedZone("CST", 8*3600))
	moved := 0
	for _, h := range households {
		if moved == evacuatedCount {
			return
		}
		if !coastal[h.district.Code] {
			continue
		}
		moved++
		place := h.district.Shelters[g.random.intn(len(h.district.Shelters))]
		transferred := landfall.Add(time.Duration(g.random.intn(36)) * 10 * time.Minute)
		for i, p := range h.members {
			record := &evacuee{
				IDNumber:      p.IDNumber,
				Name:          p.Name,
				Phone:         p.Phone,
				HomeAddress:   p.Address,
				Event:         typhoonEvent,
				Shelter:       place,
				TransferredAt: transferred.Format(time.RFC3339),
				FamilyMembers: []householdMember{},
			}
			for j, q := range h.members {
				if j != i {
					record.FamilyMembers = append(record.FamilyMembers, householdMember{
						Name: q.Name, IDNumber: q.IDNumber, Relation: relationBetween(h, i, j),
					})
				}
			}
			data.evacuees = append(data.evacuees, record)
			data.evacueeByID[p.IDNumber] = record
		}
	}
}

// relationBetween returns member j's relation as the evacuee record of
// member i states it. In the head's record, members keep their relation to
// the head (配偶, 子). In another member's record, the head is 户主 and the
// others are named by their relation to the head, such as 户主的子.
func relationBetween(h *registerHousehold, i, j int) string {
	if i == 0 {
		return h.relations[j]
	}
	if j == 0 {
		return "户主"
	}
	return "户主的" + h.relations[j]
}
