package main

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// writeList prints one line per record: the department name, the subject
// id to put in the request path, and a label whose first word is the record
// kind (户籍, 普查, 婚姻登记, 收养登记, 企业登记, 公积金账户, 转移安置).
// Fields are separated by tabs, words in the label by spaces.
func writeList(w io.Writer, data *dataset) error {
	out := bufio.NewWriter(w)
	line := func(departmentName, subject string, label ...string) {
		out.WriteString(departmentName + "\t" + subject + "\t" + strings.Join(label, " ") + "\n")
	}
	for _, p := range data.persons {
		line("population", p.IDNumber, "户籍", p.Name, p.Gender, p.BirthDate, relationOf(p))
	}
	for _, d := range districts {
		line("population", d.Code, "普查", d.Name)
	}
	for _, m := range data.marriages {
		line("marriage", m.IDNumber, "婚姻登记", m.Name, m.MarriageStatus, m.RegisteredAt)
	}
	for _, a := range data.adoptions {
		for _, adopter := range a.Adopters {
			line("marriage", adopter.IDNumber, "收养登记", "收养人"+adopter.Name, a.RegisteredAt)
		}
	}
	for _, c := range data.companies {
		line("enterprise", c.CreditCode, "企业登记", c.Name, c.Status)
	}
	for _, a := range data.accounts {
		line("housing-fund", a.IDNumber, "公积金账户", a.Name, a.Status, "贷款"+strconv.Itoa(len(a.Loans))+"笔")
	}
	for _, e := range data.evacuees {
		line("emergency", e.IDNumber, "转移安置", e.Name, e.Shelter.Name)
	}
	return out.Flush()
}

// relationOf returns p's relation to the head of p's household.
func relationOf(p *person) string {
	for _, member := range p.Household.Members {
		if member.IDNumber == p.IDNumber {
			return member.Relation
		}
	}
	return ""
}
