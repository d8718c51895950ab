package mask

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

var testKey = []byte("test key")

// hashOf is the Hash strategy's output for v, computed independently.
func hashOf(v string) string {
	mac := hmac.New(sha256.New, testKey)
	mac.Write([]byte(v))
	return hex.EncodeToString(mac.Sum(nil))[:hashLen]
}

// apply runs Apply with testKey and checks that the output is valid JSON.
func apply(t *testing.T, body string, fields []Field, scope []string, strat Strategies) (string, Stats) {
	t.Helper()
	rules, err := Compile(fields)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	sc, err := CompileScope(scope)
	if err != nil {
		t.Fatalf("CompileScope: %v", err)
	}
	m := &Masker{Key: testKey}
	out, st, err := m.Apply(nil, []byte(body), rules, sc, strat)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if !json.Valid(out) {
		t.Fatalf("Apply output is not valid JSON: %s", out)
	}
	return string(out), st
}

func TestApplyStrategyPerClass(t *testing.T) {
	const id = "11010519491231002X"
	tests := []struct {
		name     string
		class    string
		value    string
		strategy Strategy
		want     string
	}{
		{"id_number plain", "id_number", id, Plain, `"` + id + `"`},
		{"id_number partial", "id_number", "350203198506151209", Partial, `"350203********1209"`},
		{"id_number partial with X", "id_number", id, Partial, `"110105********002X"`},
		{"id_number hash", "id_number", id, Hash, `"` + hashOf(id) + `"`},
		{"phone partial", "phone", "13812345678", Partial, `"138****5678"`},
		{"phone partial landline", "phone", "0592-5551234", Partial, `"059*****1234"`},
		{"phone partial too short", "phone", "110", Partial, `"***"`},
		{"phone hash", "phone", "13812345678", Hash, `"` + hashOf("13812345678") + `"`},
		{"name partial two runes", "name", "张三", Partial, `"张*"`},
		{"name partial three runes", "name", "王小明", Partial, `"王**"`},
		{"name partial compound surname", "name", "欧阳修文", Partial, `"欧阳**"`},
		{"name partial compound surname three runes", "name", "诸葛亮", Partial, `"诸葛*"`},
		{"name partial compound surname alone", "name", "欧阳", Partial, `"欧*"`},
		{"name partial traditional compound", "name", "司馬相如", Partial, `"司馬**"`},
		{"name partial single rune", "name", "张", Partial, `"*"`},
		{"name partial latin", "name", "Alice", Partial, `"A****"`},
		{"name hash", "name", "张三", Hash, `"` + hashOf("张三") + `"`},
		{"address partial", "address", "福建省厦门市思明区湖滨南路1号", Partial, `"福建省厦门市****"`},
		{"address partial short", "address", "厦门市", Partial, `"厦****"`},
		{"bank_card partial", "bank_card", "6222021234567890123", Partial, `"622202*********0123"`},
		{"email partial", "email", "zhangsan@example.com", Partial, `"z***@example.com"`},
		{"email partial non-ascii local", "email", "张三@example.cn", Partial, `"张***@example.cn"`},
		{"email partial without at", "email", "zhangsan", Partial, `"z******n"`},
		{"credit_code partial", "credit_code", "91350203MA2XYW0AB5", Partial, `"91350203********B5"`},
		{"other class partial", "passport", "E12345678", Partial, `"E*******8"`},
		{"other class partial two runes", "plate", "闽D", Partial, `"**"`},
		{"empty string partial", "name", "", Partial, `""`},
		{"empty string hash", "name", "", Hash, `"` + hashOf("") + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"v":` + mustJSON(t, tt.value) + `}`
			out, st := apply(t, body, []Field{{"v", tt.class}}, nil,
				Strategies{tt.class: tt.strategy})
			if want := `{"v":` + tt.want + `}`; out != want {
				t.Errorf("output = %s, want %s", out, want)
			}
			wantMasked := 1
			if tt.strategy == Plain {
				wantMasked = 0
			}
			if st.Masked != wantMasked {
				t.Errorf("Stats.Masked = %d, want %d", st.Masked, wantMasked)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshaling %v: %v", v, err)
	}
	return string(b)
}

func TestApplyRemove(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		fields []Field
		want   string
	}{
		{"first member", `{"a":"x","b":1,"c":2}`, []Field{{"a", "name"}}, `{"b":1,"c":2}`},
		{"middle member", `{"a":1,"b":"x","c":2}`, []Field{{"b", "name"}}, `{"a":1,"c":2}`},
		{"last member", `{"a":1,"b":2,"c":"x"}`, []Field{{"c", "name"}}, `{"a":1,"b":2}`},
		{"only member", `{"a":"x"}`, []Field{{"a", "name"}}, `{}`},
		{"all members", `{"a":"x","b":"y"}`, []Field{{"a", "name"}, {"b", "name"}}, `{}`},
		{"first and last", `{"a":"x","b":2,"c":"y"}`, []Field{{"a", "name"}, {"c", "name"}}, `{"b":2}`},
		{"object value", `{"a":{"b":[1,2]},"c":3}`, []Field{{"a", "address"}}, `{"c":3}`},
		{"array elements", `{"p":["x","y","z"]}`, []Field{{"p.#", "phone"}}, `{"p":[]}`},
		{"first array element", `{"p":["x","y","z"]}`, []Field{{"p.0", "phone"}}, `{"p":["y","z"]}`},
		{"middle array element", `{"p":["x","y","z"]}`, []Field{{"p.1", "phone"}}, `{"p":["x","z"]}`},
		{"last array element", `{"p":["x","y","z"]}`, []Field{{"p.2", "phone"}}, `{"p":["x","y"]}`},
		{"member in every element", `[{"a":1,"b":"x"},{"b":"y","a":2}]`, []Field{{"#.b", "name"}}, `[{"a":1},{"a":2}]`},
		{"whitespace around", "{ \"a\" : 1 ,\n \"b\" : \"x\" ,\t\"c\" : 3 }", []Field{{"b", "name"}}, `{"a":1,"c":3}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, st := apply(t, tt.body, tt.fields, nil, Strategies{})
			if out != tt.want {
				t.Errorf("output = %s, want %s", out, tt.want)
			}
			if st.Masked == 0 {
				t.Errorf("Stats.Masked = 0, want at least 1")
			}
		})
	}
}

func TestApplyPaths(t *testing.T) {
	id := "350203198506151209"
	tests := []struct {
		name   string
		body   string
		fields []Field
		want   string
	}{
		{
			"every element of a nested array",
			`{"persons":[{"id_number":"` + id + `","age":3},{"id_number":"` + id + `"}]}`,
			[]Field{{"persons.#.id_number", "id_number"}},
			`{"persons":[{"id_number":"350203********1209","age":3},{"id_number":"350203********1209"}]}`,
		},
		{
			"top-level array",
			`[{"phone":"13812345678"},{"phone":"13912345678","n":"a"}]`,
			[]Field{{"#.phone", "phone"}},
			`[{"phone":"138****5678"},{"phone":"139****5678","n":"a"}]`,
		},
		{
			"nested arrays",
			`{"a":[{"b":[{"c":"张三"},{"c":"李四","d":"x"}]},{"b":[]}]}`,
			[]Field{{"a.#.b.#.c", "name"}},
			`{"a":[{"b":[{"c":"张*"},{"c":"李*","d":"x"}]},{"b":[]}]}`,
		},
		{
			"array index",
			`{"a":["张三","李四"]}`,
			[]Field{{"a.1", "name"}},
			`{"a":["张三","李*"]}`,
		},
		{
			"digits as object key",
			`{"a":{"1":"张三","2":"李四"}}`,
			[]Field{{"a.1", "name"}},
			`{"a":{"1":"张*","2":"李四"}}`,
		},
		{
			"wildcard star",
			`{"contact_name":"张三","contact_mail":"王五","other":"李四"}`,
			[]Field{{"contact_*", "name"}},
			`{"contact_name":"张*","contact_mail":"王*","other":"李四"}`,
		},
		{
			"wildcard question mark matches one rune",
			`{"姓名1":"张三","姓名12":"李四"}`,
			[]Field{{"姓名?", "name"}},
			`{"姓名1":"张*","姓名12":"李四"}`,
		},
		{
			"escaped dot in key",
			`{"a.b":"张三","a":{"b":"李四"}}`,
			[]Field{{`a\.b`, "name"}},
			`{"a.b":"张*","a":{"b":"李四"}}`,
		},
		{
			"escaped unicode in key",
			`{"\u0069d_number":"` + id + `"}`,
			[]Field{{"id_number", "id_number"}},
			`{"\u0069d_number":"350203********1209"}`,
		},
		{
			"escaped chinese key",
			`{"\u59d3\u540d":"张三"}`,
			[]Field{{"姓名", "name"}},
			`{"\u59d3\u540d":"张*"}`,
		},
		{
			"escaped unicode in value",
			`{"name":"\u5f20\u4e09"}`,
			[]Field{{"name", "name"}},
			`{"name":"张*"}`,
		},
		{
			"escaped quote kept escaped",
			`{"name":"\"Bob\""}`,
			[]Field{{"name", "name"}},
			`{"name":"\"****"}`,
		},
		{
			"object under partial masks every leaf",
			`{"addr":{"city":"厦门市","lines":["湖滨南路1号",7],"ok":true,"none":null}}`,
			[]Field{{"addr", "name"}},
			`{"addr":{"city":"厦**","lines":["湖*****","*"],"ok":"t***","none":null}}`,
		},
		{
			"deeper path overrides container class",
			`{"p":{"name":"张三","id":"` + id + `"}}`,
			[]Field{{"p", "name"}, {"p.id", "id_number"}},
			`{"p":{"name":"张*","id":"350203********1209"}}`,
		},
		{
			"path not present",
			`{"a":{"b":1}}`,
			[]Field{{"a.c.d", "name"}},
			`{"a":{"b":1}}`,
		},
		{
			"path through a scalar",
			`{"a":"张三"}`,
			[]Field{{"a.b", "name"}},
			`{"a":"张三"}`,
		},
		{
			"duplicate keys are all masked",
			`{"name":"张三","name":"李四"}`,
			[]Field{{"name", "name"}},
			`{"name":"张*","name":"李*"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			strat := Strategies{"name": Partial, "id_number": Partial, "phone": Partial}
			out, _ := apply(t, tt.body, tt.fields, nil, strat)
			if out != tt.want {
				t.Errorf("output = %s\nwant     %s", out, tt.want)
			}
		})
	}
}

func TestApplyOverlappingPathsUseStrictestStrategy(t *testing.T) {
	fields := []Field{{"p.*", "name"}, {"p.mobile", "phone"}}
	tests := []struct {
		name  string
		strat Strategies
		want  string
	}{
		{"phone removed", Strategies{"name": Partial, "phone": Remove}, `{"p":{"a":"张*"}}`},
		{"name hashed", Strategies{"name": Hash, "phone": Partial},
			`{"p":{"a":"` + hashOf("张三") + `","mobile":"` + hashOf("13812345678") + `"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := apply(t, `{"p":{"a":"张三","mobile":"13812345678"}}`, fields, nil, tt.strat)
			if out != tt.want {
				t.Errorf("output = %s, want %s", out, tt.want)
			}
		})
	}
}

func TestApplyScalarsAtDeclaredPath(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		strategy Strategy
		want     string
	}{
		{"number partial", `{"v":13812345678}`, Partial, `{"v":"138****5678"}`},
		{"number hash", `{"v":13812345678}`, Hash, `{"v":"` + hashOf("13812345678") + `"}`},
		{"number plain", `{"v":13812345678}`, Plain, `{"v":13812345678}`},
		// A phone keeps 3 and 4 runes, more than the 6 of -1.5e3, so all go.
		{"negative float partial", `{"v":-1.5e3}`, Partial, `{"v":"******"}`},
		{"true partial", `{"v":true}`, Partial, `{"v":"****"}`},
		{"false hash", `{"v":false}`, Hash, `{"v":"` + hashOf("false") + `"}`},
		{"null partial stays null", `{"v":null}`, Partial, `{"v":null}`},
		{"null hash stays null", `{"v":null}`, Hash, `{"v":null}`},
		{"null remove", `{"v":null,"w":1}`, Remove, `{"w":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := apply(t, tt.body, []Field{{"v", "phone"}}, nil, Strategies{"phone": tt.strategy})
			if out != tt.want {
				t.Errorf("output = %s, want %s", out, tt.want)
			}
		})
	}
}

func TestApplyMissingClassIsRemoved(t *testing.T) {
	out, st := apply(t, `{"name":"张三","age":3}`, []Field{{"name", "name"}}, nil,
		Strategies{"phone": Plain})
	if out != `{"age":3}` {
		t.Errorf("output = %s, want %s", out, `{"age":3}`)
	}
	if st.ByClass[2] != 1 {
		t.Errorf("Stats.ByClass[name] = %d, want 1", st.ByClass[2])
	}
}

func TestApplyBackstop(t *testing.T) {
	id := "350203198506151209"
	idX := "11010519491231002X"
	badCheck := "350203198506151208"
	all := Strategies{"id_number": Partial, "phone": Partial}
	tests := []struct {
		name  string
		body  string
		strat Strategies
		want  string
		count int
	}{
		{"mobile in free text", `{"note":"联系电话13812345678"}`, all, `{"note":"联系电话138****5678"}`, 1},
		{"id in free text", `{"note":"身份证` + id + `，已核验"}`, all, `{"note":"身份证350203********1209，已核验"}`, 1},
		{"id with X", `{"note":"` + idX + `"}`, all, `{"note":"110105********002X"}`, 1},
		{"id with lowercase x", `{"note":"11010519491231002x"}`, all, `{"note":"110105********002x"}`, 1},
		{"id and mobile", `{"note":"` + id + ` 13812345678"}`, all, `{"note":"350203********1209 138****5678"}`, 2},
		{"two mobiles", `["13812345678,13912345678"]`, all, `["138****5678,139****5678"]`, 2},
		{"id as number", `{"n":` + id + `}`, all, `{"n":"350203********1209"}`, 1},
		{"mobile as number", `[13812345678]`, all, `["138****5678"]`, 1},
		{"negative mobile number", `[-13812345678]`, all, `["-138****5678"]`, 1},
		{"mobile number plain stays number", `[13812345678]`, Strategies{"phone": Plain}, `[13812345678]`, 0},
		{"id with bad check digit", `{"note":"` + badCheck + `"}`, all, `{"note":"` + badCheck + `"}`, 0},
		{"id inside longer digit run", `{"n":"1` + id + `"}`, all, `{"n":"1` + id + `"}`, 0},
		{"id followed by digit", `{"n":"` + id + `9"}`, all, `{"n":"` + id + `9"}`, 0},
		{"id preceded by X", `{"n":"X` + id + `"}`, all, `{"n":"X` + id + `"}`, 0},
		{"id followed by X", `{"n":"` + id + `X"}`, all, `{"n":"` + id + `X"}`, 0},
		{"twelve digits", `{"n":"138123456789"}`, all, `{"n":"138123456789"}`, 0},
		{"ten digits", `{"n":"1381234567"}`, all, `{"n":"1381234567"}`, 0},
		{"not a mobile prefix", `{"n":"12812345678"}`, all, `{"n":"12812345678"}`, 0},
		{"country code prefix", `{"n":"+8613812345678"}`, all, `{"n":"+86138****5678"}`, 1},
		{"escaped digits", `{"n":"\u0031\u0033\u0038\u0031\u0032\u0033\u0034\u0035\u0036\u0037\u0038"}`, all, `{"n":"138****5678"}`, 1},
		{"escaped text kept valid", `{"n":"a\"b\n13812345678"}`, all, `{"n":"a\"b\n138****5678"}`, 1},
		{"remove stars the match", `{"n":"电话13812345678。"}`, Strategies{}, `{"n":"电话***********。"}`, 1},
		{"hash replaces the match", `{"n":"tel:13812345678"}`, Strategies{"phone": Hash}, `{"n":"tel:` + hashOf("13812345678") + `"}`, 1},
		{"plain leaves the match", `{"n":"13812345678"}`, Strategies{"phone": Plain}, `{"n":"13812345678"}`, 0},
		{"id as object key", `{"` + id + `":1}`, all, `{"350203********1209":1}`, 1},
		{"top-level string", `"13812345678"`, all, `"138****5678"`, 1},
		{"plain declared path is not scanned", `{"d":"13812345678"}`, Strategies{"id_number": Partial, "phone": Partial, "note": Plain},
			`{"d":"13812345678"}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fields []Field
			if strings.HasPrefix(tt.name, "plain declared") {
				fields = []Field{{"d", "note"}}
			}
			out, st := apply(t, tt.body, fields, nil, tt.strat)
			if out != tt.want {
				t.Errorf("output = %s, want %s", out, tt.want)
			}
			if st.Masked != tt.count {
				t.Errorf("Stats.Masked = %d, want %d", st.Masked, tt.count)
			}
		})
	}
}

func TestApplyStatsByClass(t *testing.T) {
	body := `{"persons":[{"name":"张三","phone":"13812345678"},{"name":"李四","phone":"13912345678"}],"note":"350203198506151209"}`
	rules, err := Compile([]Field{{"persons.#.name", "name"}, {"persons.#.phone", "phone"}})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	m := &Masker{Key: testKey}
	_, st, err := m.Apply(nil, []byte(body), rules, nil,
		Strategies{"name": Partial, "phone": Hash, "id_number": Partial})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	counts := map[string]int{}
	for id, class := range rules.Classes() {
		counts[class] = st.ByClass[id]
	}
	want := map[string]int{"name": 2, "phone": 2, "id_number": 1}
	for class, n := range want {
		if counts[class] != n {
			t.Errorf("count of %s = %d, want %d", class, counts[class], n)
		}
	}
	if st.Masked != 5 {
		t.Errorf("Stats.Masked = %d, want 5", st.Masked)
	}
}

func TestApplyScope(t *testing.T) {
	body := `{"code":0,"persons":[{"name":"张三","id_number":"350203198506151209","age":30,"tags":["a"]},{"name":"李四","age":40}],"meta":{"page":1,"size":2}}`
	tests := []struct {
		name   string
		scope  []string
		fields []Field
		strat  Strategies
		want   string
	}{
		{"nil scope keeps all", nil, nil, Strategies{"id_number": Plain},
			body},
		{"one top-level key", []string{"code"}, nil, nil, `{"code":0}`},
		{"key in every element", []string{"persons.#.name"}, nil, nil,
			`{"persons":[{"name":"张三"},{"name":"李四"}]}`},
		{"two keys in every element", []string{"persons.#.name", "persons.#.age"}, nil, nil,
			`{"persons":[{"name":"张三","age":30},{"name":"李四","age":40}]}`},
		{"whole subtree", []string{"meta"}, nil, nil, `{"meta":{"page":1,"size":2}}`},
		{"one element", []string{"persons.1"}, nil, nil, `{"persons":[{"name":"李四","age":40}]}`},
		{"wildcard", []string{"me*.page"}, nil, nil, `{"meta":{"page":1}}`},
		{"path through a scalar drops it", []string{"code.x"}, nil, nil, `{}`},
		{"nothing granted", []string{}, nil, nil, `{}`},
		{"scope with masking", []string{"persons.#.name", "persons.#.id_number"},
			[]Field{{"persons.#.name", "name"}, {"persons.#.id_number", "id_number"}},
			Strategies{"name": Partial, "id_number": Hash},
			`{"persons":[{"name":"张*","id_number":"` + hashOf("350203198506151209") + `"},{"name":"李*"}]}`},
		{"scope keeps backstop on", []string{"persons"}, nil, Strategies{"id_number": Partial},
			`{"persons":[{"name":"张三","id_number":"350203********1209","age":30,"tags":["a"]},{"name":"李四","age":40}]}`},
		{"masked field outside scope dropped", []string{"meta"},
			[]Field{{"persons.#.name", "name"}}, Strategies{"name": Plain},
			`{"meta":{"page":1,"size":2}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := apply(t, body, tt.fields, tt.scope, tt.strat)
			if out != tt.want {
				t.Errorf("output = %s\nwant     %s", out, tt.want)
			}
		})
	}
}

func TestApplyScopeScalarRoot(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"string root", `"13812345678"`, `null`},
		{"array root", `[1,{"a":1,"b":2}]`, `[{"a":1}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := apply(t, tt.body, nil, []string{"#.a"}, nil)
			if out != tt.want {
				t.Errorf("output = %s, want %s", out, tt.want)
			}
		})
	}
}

func TestApplyAcceptsValidJSON(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"byte order mark", "\xEF\xBB\xBF{\"a\":1}", `{"a":1}`},
		{"scalar root", ` 42 `, `42`},
		{"null root", `null`, `null`},
		{"empty object", `{}`, `{}`},
		{"empty array", ` [ ] `, `[]`},
		{"huge integer", `[123456789012345678901234567890123456789012345678901234567890]`,
			`[123456789012345678901234567890123456789012345678901234567890]`},
		{"huge exponent", `[1e999999999]`, `[1e999999999]`},
		{"all number forms", `[0,-0,1.5,-2.25e-3,3E+2,0.0]`, `[0,-0,1.5,-2.25e-3,3E+2,0.0]`},
		{"escapes kept", `["\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"]`, `["\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"]`},
		{"lone surrogate escape", `["\ud800"]`, `["\ud800"]`},
		{"four-byte rune", `["😀"]`, `["😀"]`},
		{"max depth", strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
			strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := apply(t, tt.body, nil, nil, nil)
			if out != tt.want {
				t.Errorf("output = %s, want %s", out, tt.want)
			}
		})
	}
}

func TestApplyRejectsInvalidJSON(t *testing.T) {
	tests := []struct {
		name string
		body string
		want error
	}{
		{"empty", ``, ErrInvalidJSON},
		{"only spaces", `   `, ErrInvalidJSON},
		{"only byte order mark", "\xEF\xBB\xBF", ErrInvalidJSON},
		{"truncated object", `{"a":1`, ErrInvalidJSON},
		{"truncated key", `{"a`, ErrInvalidJSON},
		{"truncated after colon", `{"a":`, ErrInvalidJSON},
		{"truncated string", `["abc`, ErrInvalidJSON},
		{"truncated escape", `["abc\`, ErrInvalidJSON},
		{"truncated unicode escape", `["\u12`, ErrInvalidJSON},
		{"truncated literal", `[tru`, ErrInvalidJSON},
		{"truncated array", `[1,2`, ErrInvalidJSON},
		{"trailing comma in array", `[1,]`, ErrInvalidJSON},
		{"trailing comma in object", `{"a":1,}`, ErrInvalidJSON},
		{"missing comma", `[1 2]`, ErrInvalidJSON},
		{"missing colon", `{"a" 1}`, ErrInvalidJSON},
		{"unquoted key", `{a:1}`, ErrInvalidJSON},
		{"single quotes", `['a']`, ErrInvalidJSON},
		{"leading zero", `[01]`, ErrInvalidJSON},
		{"plus sign", `[+1]`, ErrInvalidJSON},
		{"bare minus", `[-]`, ErrInvalidJSON},
		{"dot without digits", `[1.]`, ErrInvalidJSON},
		{"exponent without digits", `[1e]`, ErrInvalidJSON},
		{"hex number", `[0x10]`, ErrInvalidJSON},
		{"NaN", `[NaN]`, ErrInvalidJSON},
		{"bad literal", `[nul]`, ErrInvalidJSON},
		{"capital literal", `[True]`, ErrInvalidJSON},
		{"control character in string", "[\"a\tb\"]", ErrInvalidJSON},
		{"bad escape", `["\x41"]`, ErrInvalidJSON},
		{"bad unicode escape", `["\u12G4"]`, ErrInvalidJSON},
		{"invalid UTF-8 byte", "[\"\xff\"]", ErrInvalidJSON},
		{"truncated UTF-8", "[\"\xe5\xbc\"]", ErrInvalidJSON},
		{"overlong UTF-8", "[\"\xc0\xaf\"]", ErrInvalidJSON},
		{"UTF-8 surrogate", "[\"\xed\xa0\x80\"]", ErrInvalidJSON},
		{"invalid UTF-8 in key", "{\"\xff\":1}", ErrInvalidJSON},
		{"two values", `{} {}`, ErrInvalidJSON},
		{"closing bracket mismatch", `[1}`, ErrInvalidJSON},
		{"stray closing", `]`, ErrInvalidJSON},
		{"byte order mark twice", "\xEF\xBB\xBF\xEF\xBB\xBF{}", ErrInvalidJSON},
		{"too deep arrays", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), ErrTooDeep},
		{"too deep objects", strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1), ErrTooDeep},
		{"very deep unterminated", strings.Repeat("[", 100000), ErrTooDeep},
	}
	rules, err := Compile([]Field{{"a", "name"}, {"#.a", "name"}})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	m := &Masker{Key: testKey}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("prefix")
			out, _, err := m.Apply(dst, []byte(tt.body), rules, nil, Strategies{"name": Partial})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Apply error = %v, want %v", err, tt.want)
			}
			if string(out) != "prefix" {
				t.Errorf("Apply returned %q, want dst unchanged", out)
			}
		})
	}
}

func TestApplyRejectsInvalidJSONInRemovedValue(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"invalid UTF-8 in removed string", "{\"a\":\"\xff\",\"b\":1}"},
		{"truncated removed object", `{"a":{"x":[1,2`},
		{"bad number in removed array", `{"a":[1,01]}`},
	}
	rules, err := Compile([]Field{{"a", "name"}})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	m := &Masker{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := m.Apply(nil, []byte(tt.body), rules, nil, Strategies{"name": Remove})
			if !errors.Is(err, ErrInvalidJSON) {
				t.Errorf("Apply error = %v, want ErrInvalidJSON", err)
			}
		})
	}
}

func TestApplyErrorHidesContent(t *testing.T) {
	id := "350203198506151209"
	m := &Masker{}
	_, _, err := m.Apply(nil, []byte(`{"id":"`+id+"\xff\"}"), nil, nil, nil)
	if err == nil {
		t.Fatal("Apply returned no error")
	}
	if strings.Contains(err.Error(), id) {
		t.Errorf("error %q contains the identity number", err)
	}
	if !strings.Contains(err.Error(), "at byte 25") {
		t.Errorf("error %q does not give the offset 25", err)
	}
}

func TestApplyHashNeedsKey(t *testing.T) {
	m := &Masker{}
	_, _, err := m.Apply(nil, []byte(`{}`), nil, nil, Strategies{"phone": Hash})
	if err == nil {
		t.Error("Apply with Hash and no key returned no error")
	}
}

func TestApplyKeepsDst(t *testing.T) {
	m := &Masker{Key: testKey}
	out, _, err := m.Apply([]byte("head:"), []byte(`{"a":1}`), nil, nil, nil)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if string(out) != `head:{"a":1}` {
		t.Errorf("output = %q, want %q", out, `head:{"a":1}`)
	}
}

func TestApplyDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops walkers at random under the race detector")
	}
	rules, err := Compile(personFields)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	body := personBody(t, rand.New(rand.NewPCG(3, 4)), 16<<10)
	scope, err := CompileScope([]string{"persons.#.name", "persons.#.phone", "persons.#.remark", "total"})
	if err != nil {
		t.Fatalf("CompileScope: %v", err)
	}
	m := &Masker{Key: testKey}
	dst := make([]byte, 0, 2*len(body))
	for _, strat := range []Strategies{partialStrategies, hashStrategies} {
		allocs := testing.AllocsPerRun(20, func() {
			if _, _, err := m.Apply(dst[:0], body, rules, scope, strat); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("Apply allocates %v times per call", allocs)
		}
	}
}

func TestParseStrategies(t *testing.T) {
	s, err := ParseStrategies(map[string]string{
		"id_number": "partial", "phone": "hash", "name": "remove", "address": "plain",
	})
	if err != nil {
		t.Fatalf("ParseStrategies: %v", err)
	}
	want := Strategies{"id_number": Partial, "phone": Hash, "name": Remove, "address": Plain}
	for class, st := range want {
		if s[class] != st {
			t.Errorf("strategy of %s = %v, want %v", class, s[class], st)
		}
	}
}

func TestParseStrategiesRejects(t *testing.T) {
	tests := []struct {
		name  string
		masks map[string]string
		want  string
	}{
		{"unknown strategy", map[string]string{"phone": "parital"}, `"parital"`},
		{"uppercase strategy", map[string]string{"phone": "Hash"}, `"Hash"`},
		{"empty strategy", map[string]string{"phone": ""}, `""`},
		{"bad class", map[string]string{"Phone": "hash"}, `"Phone"`},
		{"empty class", map[string]string{"": "hash"}, "field class is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseStrategies(tt.masks)
			if err == nil {
				t.Fatal("ParseStrategies returned no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestApplyRandomRecordsLeakNothing checks on generated records that no
// valid identity number or mobile number of the input appears in clear in
// the output unless its class strategy is Plain.
func TestApplyRandomRecordsLeakNothing(t *testing.T) {
	rules, err := Compile(personFields)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	m := &Masker{Key: testKey}
	strategies := []Strategies{
		partialStrategies,
		hashStrategies,
		{},
		{"name": Plain, "address": Plain, "id_number": Partial, "phone": Remove},
		{"id_number": Plain, "phone": Partial, "name": Hash},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 50 {
		body := personBody(t, rng, 1+rng.IntN(8<<10))
		strat := strategies[i%len(strategies)]
		out, _, err := m.Apply(nil, body, rules, nil, strat)
		if err != nil {
			t.Fatalf("record %d: Apply: %v", i, err)
		}
		if !json.Valid(out) {
			t.Fatalf("record %d: output is not valid JSON", i)
		}
		var page personPage
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		for _, p := range page.Persons {
			checkHidden(t, out, p.IDNumber, strat["id_number"])
			checkHidden(t, out, p.Phone, strat["phone"])
			for _, c := range p.Contacts {
				checkHidden(t, out, c.Phone, strat["phone"])
			}
			// Numbers in the undeclared remark are found by the backstop.
			for _, n := range digitRuns(p.Remark) {
				class := "phone"
				if len(n) >= 17 {
					class = "id_number"
				}
				checkHidden(t, out, n, strat[class])
			}
		}
	}
}

func checkHidden(t *testing.T, out []byte, value string, st Strategy) {
	t.Helper()
	if st == Plain {
		return
	}
	if strings.Contains(string(out), value) {
		t.Errorf("output contains %s in clear with strategy %v", value, st)
	}
}

func digitRuns(s string) []string {
	var runs []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
		if len(f) >= 11 {
			runs = append(runs, f)
		}
	}
	return runs
}

func TestApplyConcurrent(t *testing.T) {
	rules, err := Compile(personFields)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	body := personBody(t, rand.New(rand.NewPCG(7, 8)), 4<<10)
	m := &Masker{Key: testKey}
	want, _, err := m.Apply(nil, body, rules, nil, hashStrategies)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	other := &Masker{Key: []byte("another key")}
	done := make(chan []byte)
	for i := range 8 {
		go func() {
			var out []byte
			for range 20 {
				mk := m
				if i%2 == 1 {
					mk = other
				}
				out, _, _ = mk.Apply(out[:0], body, rules, nil, hashStrategies)
				if i%2 == 1 {
					continue
				}
				if string(out) != string(want) {
					done <- out
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if out := <-done; out != nil {
			t.Errorf("concurrent Apply output differs: %.80s", out)
		}
	}
}

func TestApplyUndefinedStrategyHidesValue(t *testing.T) {
	out, st := apply(t, `{"v":"张三","n":"电话13812345678"}`, []Field{{"v", "name"}}, nil,
		Strategies{"name": Strategy(9), "phone": Strategy(9)})
	if want := `{"v":null,"n":"电话***********"}`; out != want {
		t.Errorf("output = %s, want %s", out, want)
	}
	if st.Masked != 2 {
		t.Errorf("Stats.Masked = %d, want 2", st.Masked)
	}
}
