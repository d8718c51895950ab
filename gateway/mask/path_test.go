package mask

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestCheckPathAccepts(t *testing.T) {
	paths := []string{
		"name",
		"persons.#.id_number",
		"#.phone",
		"a.#.b.#.c",
		"a.0.b",
		"a.123456789",
		"a.1234567890",
		`a\.b`,
		`a\.b.c`,
		`a\*`,
		`a\#`,
		`a\@b`,
		`a\|b`,
		"contact_*",
		"姓名?",
		"*",
		"a.*.c",
		"user name",
		"a-b:c",
		"a@b",
		"a{b",
		"a=b",
		"phones.#",
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			if err := CheckPath(p); err != nil {
				t.Errorf("CheckPath(%q): %v", p, err)
			}
		})
	}
}

func TestCheckPathRejects(t *testing.T) {
	tests := []struct {
		name string
		path string
		want string
	}{
		{"empty", "", "path is empty"},
		{"modifier", "@reverse", "modifiers like @reverse"},
		{"modifier after key", "persons.@reverse", "modifiers like @reverse"},
		{"modifier with argument", `a.@pretty:{"indent":"  "}`, "modifiers"},
		{"query", "persons.#(age>30).name", "queries like #(...)"},
		{"query all", "persons.#(age>30)#.name", "queries like #(...)"},
		{"query with brackets", "persons.#[age>30].name", "queries"},
		{"pipe", "a|b", "pipes (|)"},
		{"pipe after array", "a.#|b", "pipes"},
		{"multipath brackets", "[a,b]", "multipaths"},
		{"multipath braces", "{a,b}", "multipaths"},
		{"multipath after dot", "a.[b,c]", "multipaths"},
		{"literal", "!true", "literals"},
		{"json lines", "..#", "empty key"},
		{"empty key in middle", "a..b", "empty key"},
		{"leading dot", ".a", "empty key"},
		{"trailing dot", "a.", "ends with a dot"},
		{"lone backslash", `a\`, "lone backslash"},
		{"hash inside key", "a#b", `"#" must be a whole key`},
		{"hash prefix", "#b", `"#" must be a whole key`},
		{"wildcard with escape", `a\.b*`, "mixes wildcards"},
		{"invalid UTF-8", "a\xff", "not valid UTF-8"},
		{"too long", strings.Repeat("a", maxPathLen+1), "the limit is"},
		{"wildcard keys too long", "a." + worstWildcard(maxWildcardBytes/2) + "." + worstWildcard(maxWildcardBytes/2+1),
			"use fewer or shorter wildcard keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPath(tt.path)
			if err == nil {
				t.Fatalf("CheckPath(%q) returned no error", tt.path)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestPathsSelectWhatGjsonSelects checks that an accepted path masks the
// values gjson selects with the same path.
func TestPathsSelectWhatGjsonSelects(t *testing.T) {
	doc := `{"name":"张三","a.b":"点","a":{"b":"乙","0":"零","*":"星"},` +
		`"persons":[{"id":"一"},{"id":"二"}],"arr":["甲","丑","丙"],` +
		`"contact_x":"丁","姓名1":"戊","user name":"己","a-b:c":"庚"}`
	paths := []string{
		"name", `a\.b`, "a.b", "a.0", `a.\*`, "persons.#.id", "persons.1.id",
		"arr.2", "contact_?", "姓名?", "user name", "a-b:c",
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			res := gjson.Get(doc, p)
			if !res.Exists() {
				t.Fatalf("gjson selects nothing with %q", p)
			}
			var want []string
			if res.IsArray() {
				for _, r := range res.Array() {
					want = append(want, r.String())
				}
			} else {
				want = []string{res.String()}
			}
			out, _ := apply(t, doc, []Field{{p, "x"}}, nil, Strategies{"x": Hash})
			for _, v := range want {
				if !strings.Contains(out, hashOf(v)) {
					t.Errorf("gjson selects %q but the output has no hash of it: %s", v, out)
				}
				if strings.Contains(out, `"`+v+`"`) {
					t.Errorf("output still contains %q: %s", v, out)
				}
			}
		})
	}
}

func TestCompileRejects(t *testing.T) {
	tests := []struct {
		name   string
		fields []Field
		want   string
	}{
		{"bad path", []Field{{"a", "name"}, {"b.@reverse", "name"}},
			`field 1 path "b.@reverse": modifiers like @reverse are not supported`},
		{"empty class", []Field{{"a", ""}}, "field class is empty"},
		{"uppercase class", []Field{{"a", "Name"}}, `field class "Name" is not a lowercase word`},
		{"class with space", []Field{{"a", "id number"}}, "not a lowercase word"},
		{"same path two classes", []Field{{"a.b", "name"}, {"a.b", "phone"}},
			`already declared with class "name"`},
		{"too many classes", manyClasses(MaxClasses), "field classes"},
		{"too many prefixes", manyPaths(maxNodes), "distinct prefixes"},
		{"long wildcard key", []Field{{worstWildcard(maxWildcardBytes + 1), "name"}},
			fmt.Sprintf("the limit is %d", maxWildcardBytes)},
		{"wildcard keys over total", manyWildcards(maxWildcardBytes/8 + 1), "use fewer or shorter wildcard keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.fields)
			if err == nil {
				t.Fatal("Compile returned no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func manyClasses(n int) []Field {
	var fields []Field
	for i := range n {
		fields = append(fields, Field{Path: fmt.Sprintf("f%d", i), Class: fmt.Sprintf("c%d", i)})
	}
	return fields
}

func manyPaths(n int) []Field {
	var fields []Field
	for i := range n {
		fields = append(fields, Field{Path: fmt.Sprintf("f%d", i), Class: "name"})
	}
	return fields
}

// worstWildcard returns a wildcard key of n bytes that makes matchWildcard
// backtrack at every byte of a key of only "a", rescanning n-2 bytes each time.
func worstWildcard(n int) string {
	return "*" + strings.Repeat("a", n-2) + "b"
}

// manyWildcards returns n fields under distinct keys, each ending in a
// wildcard key of 8 bytes.
func manyWildcards(n int) []Field {
	var fields []Field
	for i := range n {
		fields = append(fields, Field{Path: fmt.Sprintf("f%d.*abcdefg", i), Class: "name"})
	}
	return fields
}

func TestCompileWildcardLimit(t *testing.T) {
	tests := []struct {
		name   string
		fields []Field
	}{
		{"one key at limit", []Field{{worstWildcard(maxWildcardBytes), "name"}}},
		{"many keys at limit", manyWildcards(maxWildcardBytes / 8)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Compile(tt.fields)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if r.tree.wildBytes > maxWildcardBytes {
				t.Errorf("wildcard keys total %d bytes, over the limit %d", r.tree.wildBytes, maxWildcardBytes)
			}
			s, err := CompileScope([]string{tt.fields[0].Path})
			if err != nil {
				t.Fatalf("CompileScope: %v", err)
			}
			if s.tree.wildBytes > maxWildcardBytes {
				t.Errorf("scope wildcard keys total %d bytes, over the limit %d", s.tree.wildBytes, maxWildcardBytes)
			}
		})
	}
}

func TestCompileScopeWildcardLimit(t *testing.T) {
	_, err := CompileScope([]string{"a." + worstWildcard(maxWildcardBytes+1)})
	if err == nil {
		t.Fatal("CompileScope returned no error")
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("the limit is %d", maxWildcardBytes)) {
		t.Errorf("error %q does not name the limit", err)
	}
}

// TestMatchWildcardStepsBounded checks the work bound that maxWildcardBytes
// relies on, with a pattern that backtracks at every byte of the key.
func TestMatchWildcardStepsBounded(t *testing.T) {
	pattern := worstWildcard(maxWildcardBytes)
	for _, n := range []int{0, 1, 100, 64 << 10} {
		key := []byte(strings.Repeat("a", n))
		matched, steps := matchWildcardSteps(pattern, key)
		if matched {
			t.Errorf("%q matches a key of %d bytes of a", pattern, n)
		}
		if bound := (len(pattern) + 1) * (n + 2); steps > bound {
			t.Errorf("key of %d bytes took %d steps, over the bound %d", n, steps, bound)
		}
	}
}

// TestStepKeyWorkBounded checks that one key costs at most about
// maxWildcardBytes steps per byte, however many wildcard keys the node set
// reaches.
func TestStepKeyWorkBounded(t *testing.T) {
	r, err := Compile(manyWildcards(maxWildcardBytes / 8))
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	key := []byte(strings.Repeat("a", 64<<10))
	total := 0
	for i := range r.tree.nodes {
		for _, e := range r.tree.nodes[i].wild {
			_, steps := matchWildcardSteps(e.key, key)
			total += steps
		}
	}
	if bound := (maxWildcardBytes + maxNodes) * (len(key) + 2); total > bound {
		t.Errorf("one key of %d bytes took %d steps over every wildcard key, over the bound %d",
			len(key), total, bound)
	}
}

func TestCompileAcceptsSamePathSameClass(t *testing.T) {
	if _, err := Compile([]Field{{"a", "name"}, {"a", "name"}}); err != nil {
		t.Errorf("Compile: %v", err)
	}
}

func TestCompileClassIDs(t *testing.T) {
	r, err := Compile([]Field{{"a", "name"}, {"b", "phone"}, {"c", "name"}})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	want := []string{"id_number", "phone", "name"}
	got := r.Classes()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Classes() = %v, want %v", got, want)
	}
}

func TestCompileScopeRejects(t *testing.T) {
	_, err := CompileScope([]string{"persons.#.name", "persons.#(age>1)"})
	if err == nil {
		t.Fatal("CompileScope returned no error")
	}
	if !strings.Contains(err.Error(), `"persons.#(age>1)"`) {
		t.Errorf("error %q does not name the path", err)
	}
}

func TestCompileScopeNil(t *testing.T) {
	s, err := CompileScope(nil)
	if err != nil {
		t.Fatalf("CompileScope: %v", err)
	}
	if s != nil {
		t.Errorf("CompileScope(nil) = %v, want nil", s)
	}
}

func TestMatchWildcard(t *testing.T) {
	tests := []struct {
		pattern, key string
		want         bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"a*", "a", true},
		{"a*", "abc", true},
		{"a*", "ba", false},
		{"*c", "abc", true},
		{"a*c", "ac", true},
		{"a*c", "abcbc", true},
		{"a*c", "abcb", false},
		{"?", "a", true},
		{"?", "张", true},
		{"?", "ab", false},
		{"?", "", false},
		{"a?c", "a张c", true},
		{"*?*", "", false},
		{"**a", "xa", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"/"+tt.key, func(t *testing.T) {
			if got := matchWildcard(tt.pattern, []byte(tt.key)); got != tt.want {
				t.Errorf("matchWildcard(%q, %q) = %v, want %v", tt.pattern, tt.key, got, tt.want)
			}
		})
	}
}
