package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"time"
)

const (
	censusDefaultCount = 100
	// censusMaxCount bounds one listing: 100000 persons is about 20 MB of
	// JSON, enough to test the gateway's body limit without exhausting memory.
	censusMaxCount = 100000
)

var (
	censusFirstBirth = day(1940, 1, 1)
	censusLastBirth  = day(2025, 12, 31)
	censusDays       = int(censusLastBirth.Sub(censusFirstBirth).Hours()/24) + 1
)

// censusDayStride spreads consecutive persons over the birth-date range. It
// is prime and does not divide censusDays, so index*censusDayStride mod
// censusDays visits every day once per censusDays persons.
const censusDayStride = 7919

// censusGenerator produces a district's census listing. Person i is the
// same in every listing of the district that has at least i+1 persons,
// because persons are drawn in order from a source seeded by the district.
type censusGenerator struct {
	district *district
	random   randomSource
	index    int
}

func newCensusGenerator(d *district) *censusGenerator {
	seed, _ := strconv.ParseUint(d.Code, 10, 64)
	return &censusGenerator{district: d, random: randomSource{state: seed * 0x2545f4914f6cdd1d}}
}

// next returns the next person of the listing. Identity numbers are unique
// within the listing: persons censusDays apart share a birth date but get
// sequence numbers from disjoint blocks of 120, starting at 501 so they never
// match a register person (whose sequence numbers stay below 500).
func (c *censusGenerator) next() *person {
	i := c.index
	c.index++
	birth := censusFirstBirth.AddDate(0, 0, i*censusDayStride%censusDays)
	male := c.random.chance(51)
	sequence := 501 + i/censusDays*120 + 2*c.random.intn(59)
	if !male {
		sequence++
	}
	surname := surnames[c.random.intn(len(surnames))].Name
	var givenName string
	if male {
		givenName = maleGivenNames[c.random.intn(len(maleGivenNames))]
	} else {
		givenName = femaleGivenNames[c.random.intn(len(femaleGivenNames))]
	}
	return &person{
		IDNumber:  identityNumberOf(c.district.Code, birth, sequence),
		Name:      surname + givenName,
		Gender:    genderOf(male),
		BirthDate: birth.Format(dateLayout),
		Ethnicity: ethnicities[0].Name,
		Phone:     randomMobile(&c.random),
		Address:   homeAddress(&c.random, c.district),
	}
}

// writeCensusJSON streams the listing as
// {"district","district_code","total","persons":[...]}, one person at a time,
// so a large listing never sits in memory.
func writeCensusJSON(w io.Writer, d *district, count int) error {
	out := bufio.NewWriterSize(w, 64<<10)
	name, err := json.Marshal(d.Name)
	if err != nil {
		return err
	}
	out.WriteString(`{"district":`)
	out.Write(name)
	out.WriteString(`,"district_code":"` + d.Code + `","total":` + strconv.Itoa(count) + `,"persons":[`)
	census := newCensusGenerator(d)
	for i := range count {
		if i > 0 {
			out.WriteByte(',')
		}
		record, err := json.Marshal(census.next())
		if err != nil {
			return err
		}
		if _, err := out.Write(record); err != nil {
			return err
		}
	}
	out.WriteString("]}\n")
	return out.Flush()
}

// personCSVHeader lists the columns of a person in CSV, the household
// flattened to its head.
var personCSVHeader = []string{
	"id_number", "name", "gender", "birth_date", "ethnicity", "phone", "address",
	"household_head_name", "household_head_id_number",
}

func personCSVRow(p *person) []string {
	row := []string{p.IDNumber, p.Name, p.Gender, p.BirthDate, p.Ethnicity, p.Phone, p.Address, "", ""}
	if p.Household != nil {
		row[7], row[8] = p.Household.HeadName, p.Household.HeadIDNumber
	}
	return row
}

// writeCensusCSV streams the listing as CSV with a header row.
func writeCensusCSV(w io.Writer, d *district, count int) error {
	out := csv.NewWriter(w)
	if err := out.Write(personCSVHeader); err != nil {
		return err
	}
	census := newCensusGenerator(d)
	for range count {
		if err := out.Write(personCSVRow(census.next())); err != nil {
			return err
		}
	}
	out.Flush()
	return out.Error()
}

// censusTimeout bounds the time to write one listing, so a client that
// stops reading cannot hold a goroutine forever.
const censusTimeout = 2 * time.Minute

func writeCSVRows(w io.Writer, rows ...[]string) error {
	out := csv.NewWriter(w)
	if err := out.WriteAll(rows); err != nil {
		return err
	}
	return out.Error()
}
