package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
)

// catalogueFile is the part of the gateway's catalogue that these tests
// check against the generated records. The gateway's own loader checks the
// rest of the schema.
type catalogueFile struct {
	Consumers []struct {
		ID           string `json:"id"`
		Kind         string `json:"kind"`
		Org          string `json:"org"`
		CreditCode   string `json:"credit_code"`
		APIKeySHA256 string `json:"api_key_sha256"`
	} `json:"consumers"`
	Providers []struct {
		ID           string `json:"id"`
		Role         string `json:"role"`
		APIKeySHA256 string `json:"api_key_sha256"`
	} `json:"providers"`
	Resources []struct {
		ID         string `json:"id"`
		Provider   string `json:"provider"`
		PathPrefix string `json:"path_prefix"`
		Upstream   string `json:"upstream"`
		Subject    *struct {
			In   string `json:"in"`
			Kind string `json:"kind"`
		} `json:"subject"`
		Emergency *struct {
			Event string `json:"event"`
		} `json:"emergency"`
	} `json:"resources"`
	Grants []struct {
		ID       string `json:"id"`
		Consumer string `json:"consumer"`
		Resource string `json:"resource"`
	} `json:"grants"`
	CreditLists map[string][]string `json:"credit_lists"`
}

func readCatalogue(t *testing.T) *catalogueFile {
	t.Helper()
	data, err := os.ReadFile("../catalogue.json")
	if err != nil {
		t.Fatal(err)
	}
	var file catalogueFile
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatalf("parsing catalogue.json: %v", err)
	}
	return &file
}

// readShellAssignments returns the NAME=value lines of a shell file whose
// name starts with prefix.
func readShellAssignments(t *testing.T, path, prefix string) map[string]string {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	values := make(map[string]string)
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		name, value, found := strings.Cut(scanner.Text(), "=")
		if found && strings.HasPrefix(name, prefix) && !strings.ContainsAny(name, " \t#$") {
			values[name] = value
		}
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	return values
}

// consumerKeyVariables maps each catalogue consumer to its key in
// demo-keys.env.
var consumerKeyVariables = map[string]string{
	"siming-civil-affairs": "KEY_SIMING_CIVIL",
	"xm-housing-bureau":    "KEY_HOUSING_BUREAU",
	"xm-city-platform":     "KEY_CITY_PLATFORM",
	"xm-water-group":       "KEY_WATER_GROUP",
	"citizen-chen":         "KEY_CITIZEN_CHEN",
	"ludao-data-tech":      "KEY_LUDAO_DATA",
	"haixi-trading":        "KEY_HAIXI_TRADING",
	"huli-residents-assoc": "KEY_HULI_RESIDENTS",
}

// providerKeyVariables maps each catalogue provider and operator to its key
// in demo-keys.env.
var providerKeyVariables = map[string]string{
	"xm-public-security":   "KEY_PROVIDER_PUBLIC_SECURITY",
	"xm-civil-affairs":     "KEY_PROVIDER_CIVIL_AFFAIRS",
	"xm-market-regulation": "KEY_PROVIDER_MARKET_REGULATION",
	"xm-housing-fund":      "KEY_PROVIDER_HOUSING_FUND",
	"xm-emergency":         "KEY_PROVIDER_EMERGENCY",
	"xm-big-data-bureau":   "KEY_OPERATOR",
}

var demoKeyPattern = regexp.MustCompile(`^dgk_[0-9a-f]{32}$`)

func TestCatalogueConsumers(t *testing.T) {
	catalogue := readCatalogue(t)
	keys := readShellAssignments(t, "../demo-keys.env", "KEY_")
	kinds := make(map[string]bool)
	for _, consumer := range catalogue.Consumers {
		kinds[consumer.Kind] = true
		variable, known := consumerKeyVariables[consumer.ID]
		if !known {
			t.Errorf("consumer %q has no key variable in this test", consumer.ID)
			continue
		}
		key := keys[variable]
		if !demoKeyPattern.MatchString(key) {
			t.Errorf("consumer %q: %s is not dgk_ and 32 hex digits", consumer.ID, variable)
		}
		digest := sha256.Sum256([]byte(key))
		if consumer.APIKeySHA256 != hex.EncodeToString(digest[:]) {
			t.Errorf("consumer %q: api_key_sha256 is not the SHA-256 of %s", consumer.ID, variable)
		}
		if consumer.Kind == "natural_person" {
			if consumer.CreditCode != "" {
				t.Errorf("consumer %q: a natural person with credit code %q", consumer.ID, consumer.CreditCode)
			}
			continue
		}
		if !wellFormedCreditCode(consumer.CreditCode) {
			t.Errorf("consumer %q: credit code %q is not well formed", consumer.ID, consumer.CreditCode)
		}
	}
	for _, kind := range []string{"government_department", "public_service_org", "natural_person", "legal_person", "unincorporated_org"} {
		if !kinds[kind] {
			t.Errorf("no consumer of kind %q", kind)
		}
	}
	if want := len(consumerKeyVariables) + len(providerKeyVariables); len(keys) != want {
		t.Errorf("demo-keys.env has %d keys, want %d", len(keys), want)
	}
}

func TestCatalogueProviders(t *testing.T) {
	catalogue := readCatalogue(t)
	keys := readShellAssignments(t, "../demo-keys.env", "KEY_")
	roles := make(map[string]string)
	for _, provider := range catalogue.Providers {
		roles[provider.ID] = provider.Role
		variable, known := providerKeyVariables[provider.ID]
		if !known {
			t.Errorf("provider %q has no key variable in this test", provider.ID)
			continue
		}
		key := keys[variable]
		if !demoKeyPattern.MatchString(key) {
			t.Errorf("provider %q: %s is not dgk_ and 32 hex digits", provider.ID, variable)
		}
		digest := sha256.Sum256([]byte(key))
		if provider.APIKeySHA256 != hex.EncodeToString(digest[:]) {
			t.Errorf("provider %q: api_key_sha256 is not the SHA-256 of %s", provider.ID, variable)
		}
	}
	if roles["xm-big-data-bureau"] != "operator" {
		t.Errorf("xm-big-data-bureau has role %q, want operator", roles["xm-big-data-bureau"])
	}
	for _, resource := range catalogue.Resources {
		if roles[resource.Provider] != "provider" {
			t.Errorf("resource %q names %q, which is not a provider in the catalogue",
				resource.ID, resource.Provider)
		}
	}
}

func TestCatalogueCompaniesRegistered(t *testing.T) {
	catalogue := readCatalogue(t)
	data := testDataset()
	for _, consumer := range catalogue.Consumers {
		if consumer.Kind != "legal_person" {
			continue
		}
		c := data.companyByCode[consumer.CreditCode]
		if c == nil {
			t.Errorf("consumer %q: credit code %q is not in the enterprise register", consumer.ID, consumer.CreditCode)
			continue
		}
		if c.Name != consumer.Org {
			t.Errorf("consumer %q: registered as %q, catalogue says %q", consumer.ID, c.Name, consumer.Org)
		}
	}
}

func TestCatalogueCreditLists(t *testing.T) {
	catalogue := readCatalogue(t)
	data := testDataset()
	for _, list := range []string{"dishonest_debtor", "abnormal_operation", "serious_dishonest"} {
		codes := catalogue.CreditLists[list]
		if len(codes) == 0 {
			t.Errorf("credit list %q is empty", list)
		}
		for _, code := range codes {
			if !wellFormedCreditCode(code) {
				t.Errorf("credit list %q: code %q is not well formed", list, code)
			}
			if data.companyByCode[code] == nil {
				t.Errorf("credit list %q: code %q is not in the enterprise register", list, code)
			}
		}
	}
	listed := onCreditList(catalogue)
	for _, consumer := range catalogue.Consumers {
		switch consumer.ID {
		case "haixi-trading":
			if !listed[consumer.CreditCode] {
				t.Error("haixi-trading is on no credit list")
			}
		case "ludao-data-tech":
			if listed[consumer.CreditCode] {
				t.Error("ludao-data-tech is on a credit list")
			}
		}
	}
}

func onCreditList(catalogue *catalogueFile) map[string]bool {
	listed := make(map[string]bool)
	for _, codes := range catalogue.CreditLists {
		for _, code := range codes {
			listed[code] = true
		}
	}
	return listed
}

func TestCatalogueGrantsReferToEntries(t *testing.T) {
	catalogue := readCatalogue(t)
	consumers, resources := make(map[string]bool), make(map[string]bool)
	for _, c := range catalogue.Consumers {
		consumers[c.ID] = true
	}
	for _, r := range catalogue.Resources {
		resources[r.ID] = true
	}
	for _, g := range catalogue.Grants {
		if !consumers[g.Consumer] {
			t.Errorf("grant %q: unknown consumer %q", g.ID, g.Consumer)
		}
		if !resources[g.Resource] {
			t.Errorf("grant %q: unknown resource %q", g.ID, g.Resource)
		}
	}
}

// TestCatalogueResourcesServed sends one request per catalogue resource to
// the department its upstream names, for a subject that exists, so a
// mistyped prefix, port or provider id fails here.
func TestCatalogueResourcesServed(t *testing.T) {
	catalogue := readCatalogue(t)
	data := testDataset()
	subjects := map[string]string{
		"population.person":         data.persons[0].IDNumber,
		"population.census":         "350203",
		"marriage.record":           data.marriages[0].IDNumber,
		"civil.adoption":            data.adoptions[0].Adopters[0].IDNumber,
		"enterprise.registration":   data.companies[0].CreditCode,
		"housing_fund.account":      data.accounts[0].IDNumber,
		"emergency.typhoon_evacuee": data.evacuees[0].IDNumber,
	}
	for _, resource := range catalogue.Resources {
		t.Run(resource.ID, func(t *testing.T) {
			dep := departmentByUpstream(resource.Upstream)
			if dep == nil {
				t.Fatalf("upstream %q is no department's default address", resource.Upstream)
			}
			if resource.Provider != dep.Provider {
				t.Errorf("provider %q, but %s serves as %q", resource.Provider, dep.Name, dep.Provider)
			}
			subject, known := subjects[resource.ID]
			if !known {
				t.Fatal("no subject for this resource in the test")
			}
			if resource.Subject != nil {
				valid := validIdentityNumber
				if resource.Subject.Kind == "credit_code" {
					valid = validCreditCode
				}
				if !valid(subject) {
					t.Errorf("subject %q is not a valid %s", subject, resource.Subject.Kind)
				}
			}
			request := httptest.NewRequest(http.MethodGet, resource.PathPrefix+subject, nil)
			recorder := httptest.NewRecorder()
			newDepartmentHandler(dep, data, discardLogger()).ServeHTTP(recorder, request)
			if recorder.Code != http.StatusOK {
				t.Errorf("GET %s%s: status %d, want 200", resource.PathPrefix, subject, recorder.Code)
			}
			if resource.Emergency != nil && resource.Emergency.Event != typhoonEvent {
				t.Errorf("emergency event %q, records say %q", resource.Emergency.Event, typhoonEvent)
			}
		})
	}
}

func departmentByUpstream(upstream string) *department {
	for i := range departments {
		if "http://"+departments[i].DefaultAddress == upstream {
			return &departments[i]
		}
	}
	return nil
}

func TestDemoSubjects(t *testing.T) {
	subjects := readShellAssignments(t, "../demo.sh", "SUBJECT_")
	data := testDataset()

	person := subjects["SUBJECT_PERSON"]
	if data.personByID[person] == nil {
		t.Fatalf("SUBJECT_PERSON %q is not in the population register", person)
	}
	if m := data.marriageByID[person]; m == nil || m.MarriageStatus != "已婚" || m.Spouse == nil {
		t.Error("SUBJECT_PERSON has no marriage record with a spouse")
	}
	if data.adoptionByID[person] == nil {
		t.Error("SUBJECT_PERSON has no adoption record")
	}
	if data.evacueeByID[person] == nil {
		t.Error("SUBJECT_PERSON has no evacuee record")
	}

	bad := subjects["SUBJECT_PERSON_BAD_CHECK"]
	if len(bad) != 18 || bad[:17] != person[:17] {
		t.Errorf("SUBJECT_PERSON_BAD_CHECK %q is not SUBJECT_PERSON with another check digit", bad)
	}
	if validIdentityNumber(bad) {
		t.Errorf("SUBJECT_PERSON_BAD_CHECK %q has a valid check digit", bad)
	}

	code := subjects["SUBJECT_COMPANY"]
	c := data.companyByCode[code]
	if c == nil {
		t.Fatalf("SUBJECT_COMPANY %q is not in the enterprise register", code)
	}
	if c.Status != "存续（在营、开业、在册）" {
		t.Errorf("SUBJECT_COMPANY status %q, want in business", c.Status)
	}
	if onCreditList(readCatalogue(t))[code] {
		t.Error("SUBJECT_COMPANY is on a credit list")
	}
}

func TestDemoKeysDefined(t *testing.T) {
	script, err := os.ReadFile("../demo.sh")
	if err != nil {
		t.Fatal(err)
	}
	keys := readShellAssignments(t, "../demo-keys.env", "KEY_")
	used := regexp.MustCompile(`\$\{?(KEY_[A-Z_]+)`).FindAllStringSubmatch(string(script), -1)
	if len(used) == 0 {
		t.Fatal("demo.sh uses no KEY_ variable")
	}
	for _, match := range used {
		if keys[match[1]] == "" {
			t.Errorf("demo.sh uses %s, which demo-keys.env does not set", match[1])
		}
	}
}
