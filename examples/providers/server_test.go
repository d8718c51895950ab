package main

import (
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func discardLogger() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

// startDepartment serves one department on a loopback httptest server.
func startDepartment(t *testing.T, name string) *httptest.Server {
	t.Helper()
	for i := range departments {
		if departments[i].Name == name {
			server := httptest.NewServer(newDepartmentHandler(&departments[i], testDataset(), discardLogger()))
			t.Cleanup(server.Close)
			return server
		}
	}
	t.Fatalf("no department %q", name)
	return nil
}

// rawClient leaves Content-Encoding alone, so tests see what the provider
// sent.
var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

type response struct {
	status   int
	header   http.Header
	body     []byte
	compress bool
}

// get requests path with the given Accept-Encoding (none if empty) and
// returns the body decoded if it was gzip-encoded.
func get(t *testing.T, server *httptest.Server, method, path, acceptEncoding string) response {
	t.Helper()
	request, err := http.NewRequest(method, server.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acceptEncoding != "" {
		request.Header.Set("Accept-Encoding", acceptEncoding)
	}
	reply, err := rawClient.Do(request)
	if err != nil {
		t.Fatal(err)
	}
	defer reply.Body.Close()
	var reader io.Reader = reply.Body
	compressed := reply.Header.Get("Content-Encoding") == "gzip"
	if compressed {
		unzip, err := gzip.NewReader(reply.Body)
		if err != nil {
			t.Fatalf("gzip body: %v", err)
		}
		reader = unzip
	}
	body, err := io.ReadAll(reader)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: reply.StatusCode, header: reply.Header, body: body, compress: compressed}
}

func TestDepartmentResponses(t *testing.T) {
	data := testDataset()
	person := data.persons[0].IDNumber
	unknownPerson := identityNumberOf("350211", day(1990, 1, 1), 999)
	tests := []struct {
		name           string
		department     string
		method         string
		path           string
		acceptEncoding string
		wantStatus     int
		wantType       string
		wantGzip       bool
	}{
		{"person", "population", "GET", "/api/population/persons/" + person, "", 200, jsonContentType, false},
		{"person unknown", "population", "GET", "/api/population/persons/" + unknownPerson, "", 404, jsonContentType, false},
		{"person bad check digit", "population", "GET", "/api/population/persons/" + person[:17] + "Y", "", 400, jsonContentType, false},
		{"person as csv", "population", "GET", "/api/population/persons/" + person + "?format=csv", "", 200, csvContentType, false},
		{"person unknown format", "population", "GET", "/api/population/persons/" + person + "?format=xml", "", 400, jsonContentType, false},
		{"person extra segment", "population", "GET", "/api/population/persons/" + person + "/x", "", 404, jsonContentType, false},
		{"person by post", "population", "POST", "/api/population/persons/" + person, "", 405, jsonContentType, false},
		{"census", "population", "GET", "/api/population/census/350203?count=3", "", 200, jsonContentType, false},
		{"census as csv", "population", "GET", "/api/population/census/350203?format=csv", "", 200, csvContentType, false},
		{"census unknown district", "population", "GET", "/api/population/census/350100", "", 404, jsonContentType, false},
		{"census count too large", "population", "GET", "/api/population/census/350203?count=100001", "", 400, jsonContentType, false},
		{"census count negative", "population", "GET", "/api/population/census/350203?count=-1", "", 400, jsonContentType, false},
		{"census count not a number", "population", "GET", "/api/population/census/350203?count=ten", "", 400, jsonContentType, false},
		{"marriage record", "marriage", "GET", "/api/marriage/records/" + data.marriages[0].IDNumber, "", 200, jsonContentType, false},
		{"marriage unknown", "marriage", "GET", "/api/marriage/records/" + unknownPerson, "", 404, jsonContentType, false},
		{"adoption", "marriage", "GET", "/api/civil/adoptions/" + data.adoptions[0].Adopters[1].IDNumber, "", 200, jsonContentType, false},
		{"company gzip", "enterprise", "GET", "/api/enterprise/companies/" + data.companies[0].CreditCode, "gzip, deflate", 200, jsonContentType, true},
		{"company plain", "enterprise", "GET", "/api/enterprise/companies/" + data.companies[0].CreditCode, "", 200, jsonContentType, false},
		{"company gzip refused", "enterprise", "GET", "/api/enterprise/companies/" + data.companies[0].CreditCode, "gzip;q=0, br", 200, jsonContentType, false},
		{"company any coding", "enterprise", "GET", "/api/enterprise/companies/" + data.companies[0].CreditCode, "*", 200, jsonContentType, true},
		{"company bad check", "enterprise", "GET", "/api/enterprise/companies/91350100M000100Y44", "gzip", 400, jsonContentType, true},
		{"company unknown", "enterprise", "GET", "/api/enterprise/companies/91350100M000100Y43", "gzip", 404, jsonContentType, true},
		{"account gzip", "housing-fund", "GET", "/api/housing-fund/accounts/" + data.accounts[0].IDNumber, "gzip", 200, jsonContentType, true},
		{"account unknown", "housing-fund", "GET", "/api/housing-fund/accounts/" + unknownPerson, "", 404, jsonContentType, false},
		{"evacuee", "emergency", "GET", "/api/emergency/typhoon-evacuees/" + data.evacuees[0].IDNumber, "", 200, jsonContentType, false},
		{"evacuee unknown", "emergency", "GET", "/api/emergency/typhoon-evacuees/" + unknownPerson, "", 404, jsonContentType, false},
		{"unknown path", "emergency", "GET", "/api/unknown/thing", "", 404, jsonContentType, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply := get(t, startDepartment(t, tt.department), tt.method, tt.path, tt.acceptEncoding)
			if reply.status != tt.wantStatus {
				t.Errorf("status %d, want %d", reply.status, tt.wantStatus)
			}
			if got := reply.header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type %q, want %q", got, tt.wantType)
			}
			if reply.compress != tt.wantGzip {
				t.Errorf("gzip-encoded %v, want %v", reply.compress, tt.wantGzip)
			}
			if tt.wantType == jsonContentType && !json.Valid(reply.body) {
				t.Errorf("body is not JSON: %.200s", reply.body)
			}
		})
	}
}

func TestHealthzOnEveryDepartment(t *testing.T) {
	for _, dep := range departments {
		t.Run(dep.Name, func(t *testing.T) {
			reply := get(t, startDepartment(t, dep.Name), "GET", "/healthz", "")
			if reply.status != http.StatusOK {
				t.Errorf("status %d, want 200", reply.status)
			}
		})
	}
}

func TestPersonRecordShape(t *testing.T) {
	p := testDataset().persons[0]
	reply := get(t, startDepartment(t, "population"), "GET", "/api/population/persons/"+p.IDNumber, "")
	var record map[string]any
	if err := json.Unmarshal(reply.body, &record); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"id_number", "name", "gender", "birth_date", "ethnicity", "phone", "address", "household"} {
		if _, found := record[key]; !found {
			t.Errorf("no %q in the person record", key)
		}
	}
	if record["id_number"] != p.IDNumber {
		t.Errorf("id_number %v, want %s", record["id_number"], p.IDNumber)
	}
	household, _ := record["household"].(map[string]any)
	members, _ := household["members"].([]any)
	if len(members) != len(p.Household.Members) {
		t.Errorf("%d household members, want %d", len(members), len(p.Household.Members))
	}
}

func TestCensusBody(t *testing.T) {
	server := startDepartment(t, "population")
	reply := get(t, server, "GET", "/api/population/census/350206?count=250", "")
	var listing census
	if err := json.Unmarshal(reply.body, &listing); err != nil {
		t.Fatal(err)
	}
	if listing.Total != 250 {
		t.Errorf("total %d, want 250", listing.Total)
	}
	if len(listing.Persons) != 250 {
		t.Errorf("%d persons, want 250", len(listing.Persons))
	}
	if listing.District != "湖里区" {
		t.Errorf("district %q, want 湖里区", listing.District)
	}
	for _, p := range listing.Persons {
		if !strings.HasPrefix(p.IDNumber, "350206") || !validIdentityNumber(p.IDNumber) {
			t.Errorf("census person %q is not a valid 湖里区 identity number", p.IDNumber)
		}
	}

	csvReply := get(t, server, "GET", "/api/population/census/350206?count=250&format=csv", "")
	rows, err := csv.NewReader(strings.NewReader(string(csvReply.body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 251 {
		t.Errorf("%d CSV rows, want a header and 250 persons", len(rows))
	}
	if len(rows) > 1 && rows[1][0] != listing.Persons[0].IDNumber {
		t.Error("the CSV listing does not start with the JSON listing's first person")
	}
}

func TestCensusMaximumCount(t *testing.T) {
	reply := get(t, startDepartment(t, "population"), "GET", "/api/population/census/350213?count=100000", "")
	if reply.status != http.StatusOK {
		t.Fatalf("status %d, want 200", reply.status)
	}
	var listing census
	if err := json.Unmarshal(reply.body, &listing); err != nil {
		t.Fatal(err)
	}
	if len(listing.Persons) != censusMaxCount {
		t.Errorf("%d persons, want %d", len(listing.Persons), censusMaxCount)
	}
}

func TestErrorBodyHidesSubject(t *testing.T) {
	data := testDataset()
	unknown := identityNumberOf("350211", day(1990, 1, 1), 999)
	tests := []struct {
		name       string
		department string
		path       string
		subject    string
	}{
		{"unknown person", "population", "/api/population/persons/", unknown},
		{"bad check digit", "population", "/api/population/persons/", data.persons[0].IDNumber[:17] + "Y"},
		{"unknown company", "enterprise", "/api/enterprise/companies/", "91350100M000100Y43"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply := get(t, startDepartment(t, tt.department), "GET", tt.path+tt.subject, "")
			if strings.Contains(string(reply.body), tt.subject) {
				t.Errorf("error body repeats the subject: %s", reply.body)
			}
		})
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   bool
	}{
		{"absent", nil, false},
		{"gzip", []string{"gzip"}, true},
		{"list", []string{"deflate, gzip, br"}, true},
		{"uppercase", []string{"GZIP"}, true},
		{"x-gzip", []string{"x-gzip"}, true},
		{"q zero", []string{"gzip;q=0"}, false},
		{"q zero with spaces", []string{"gzip ; q=0.0"}, false},
		{"q half", []string{"gzip;q=0.5"}, true},
		{"malformed q", []string{"gzip;q=high"}, false},
		{"q above one", []string{"gzip;q=2"}, false},
		{"wildcard", []string{"*"}, true},
		{"wildcard q zero", []string{"*;q=0"}, false},
		{"gzip excluded by name", []string{"*, gzip;q=0"}, false},
		{"identity only", []string{"identity"}, false},
		{"second header line", []string{"br", "gzip"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := acceptsGzip(tt.values); got != tt.want {
				t.Errorf("acceptsGzip(%q) = %v, want %v", tt.values, got, tt.want)
			}
		})
	}
}
