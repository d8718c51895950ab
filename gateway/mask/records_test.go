package mask

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/citydata/datagateway/gateway/identity"
)

// withCheckChar appends the identity number check character to 17 digits.
func withCheckChar(t testing.TB, first17 string) string {
	t.Helper()
	c, err := identity.IDCheckChar(first17)
	if err != nil {
		t.Fatalf("IDCheckChar(%q): %v", first17, err)
	}
	return first17 + string(c)
}

var (
	regionCodes = []string{"350203", "350206", "350211", "110105", "310104", "440305", "510107"}
	surnames    = []string{"张", "王", "李", "陈", "林", "黄", "欧阳", "司马", "诸葛", "郑"}
	givenNames  = []string{"伟", "芳", "秀英", "建国", "丽", "志强", "婷", "明", "小红", "思远"}
	streets     = []string{"湖滨南路", "厦禾路", "嘉禾路", "莲前西路", "长安街", "南京东路"}
	districts   = []string{"福建省厦门市思明区", "福建省厦门市湖里区", "北京市朝阳区", "上海市黄浦区"}
)

// randomIDNumber returns a valid identity number.
func randomIDNumber(t testing.TB, rng *rand.Rand) string {
	first17 := fmt.Sprintf("%s%04d%02d%02d%03d", regionCodes[rng.IntN(len(regionCodes))],
		1940+rng.IntN(70), 1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(1000))
	return withCheckChar(t, first17)
}

func randomMobile(rng *rand.Rand) string {
	return fmt.Sprintf("1%d%09d", 3+rng.IntN(7), rng.IntN(1_000_000_000))
}

func randomName(rng *rand.Rand) string {
	return surnames[rng.IntN(len(surnames))] + givenNames[rng.IntN(len(givenNames))]
}

func randomAddress(rng *rand.Rand) string {
	return fmt.Sprintf("%s%s%d号%d室", districts[rng.IntN(len(districts))],
		streets[rng.IntN(len(streets))], 1+rng.IntN(500), 100+rng.IntN(2000))
}

// person is a synthetic household record like a provider's response.
type person struct {
	Name      string    `json:"name"`
	IDNumber  string    `json:"id_number"`
	Phone     string    `json:"phone"`
	Address   string    `json:"address"`
	Gender    string    `json:"gender"`
	Age       int       `json:"age"`
	Remark    string    `json:"remark"`
	Contacts  []contact `json:"contacts"`
	UpdatedAt string    `json:"updated_at"`
}

type contact struct {
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Relation string `json:"relation"`
}

type personPage struct {
	Code    int      `json:"code"`
	Message string   `json:"message"`
	Total   int      `json:"total"`
	Persons []person `json:"persons"`
}

// personFields are the declared fields of personPage.
var personFields = []Field{
	{Path: "persons.#.name", Class: "name"},
	{Path: "persons.#.id_number", Class: "id_number"},
	{Path: "persons.#.phone", Class: "phone"},
	{Path: "persons.#.address", Class: "address"},
	{Path: "persons.#.contacts.#.name", Class: "name"},
	{Path: "persons.#.contacts.#.phone", Class: "phone"},
}

func randomPerson(t testing.TB, rng *rand.Rand) person {
	p := person{
		Name:      randomName(rng),
		IDNumber:  randomIDNumber(t, rng),
		Phone:     randomMobile(rng),
		Address:   randomAddress(rng),
		Gender:    []string{"男", "女"}[rng.IntN(2)],
		Age:       18 + rng.IntN(70),
		UpdatedAt: "2024-05-17T09:30:00+08:00",
	}
	switch rng.IntN(3) {
	case 0:
		// Personal data that the provider did not declare: the backstop
		// must catch it.
		p.Remark = "紧急联系人电话" + randomMobile(rng) + "，身份证号" + randomIDNumber(t, rng)
	case 1:
		p.Remark = "户籍迁入，材料齐全"
	}
	for range rng.IntN(3) {
		p.Contacts = append(p.Contacts, contact{
			Name: randomName(rng), Phone: randomMobile(rng), Relation: "配偶",
		})
	}
	return p
}

// personBody returns a JSON page of persons of at least size bytes.
func personBody(t testing.TB, rng *rand.Rand, size int) []byte {
	page := personPage{Code: 0, Message: "成功"}
	for {
		page.Persons = append(page.Persons, randomPerson(t, rng))
		page.Total = len(page.Persons)
		b, err := json.Marshal(page)
		if err != nil {
			t.Fatalf("marshaling page: %v", err)
		}
		if len(b) >= size {
			return b
		}
	}
}
