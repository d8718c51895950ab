package mask

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

var fuzzFields = []Field{
	{Path: "name", Class: "name"},
	{Path: "list.#.id", Class: "id_number"},
	{Path: "a.b.c", Class: "phone"},
	{Path: "*.mail", Class: "email"},
}

// fuzzLeafPaths are the fuzzFields paths that select leaves for gjson.
var fuzzLeafPaths = []string{"name", "a.b.c"}

func FuzzApply(f *testing.F) {
	f.Add([]byte(`{"name":"张三","list":[{"id":"350203198506151209"}],"a":{"b":{"c":13812345678}}}`), uint8(Partial))
	f.Add([]byte(`{"name":"x","name":{"k":[1,"2"]},"u":{"mail":"a@b.c"}}`), uint8(Hash))
	f.Add([]byte(`[{"name":null},"13812345678",-0.5e-7]`), uint8(Remove))
	f.Add([]byte("\xEF\xBB\xBF{\"\\u006eame\":\"\\ud83d\\ude00\"}"), uint8(Partial))
	f.Add([]byte(`{"name":"**"}`), uint8(Plain))
	f.Fuzz(func(t *testing.T, body []byte, strategy uint8) {
		rules, err := Compile(fuzzFields)
		if err != nil {
			t.Fatal(err)
		}
		st := Strategy(strategy % 4)
		strat := Strategies{"name": st, "id_number": st, "phone": st, "email": st}
		m := &Masker{Key: testKey}
		out, _, err := m.Apply(nil, body, rules, nil, strat)

		in := bytes.TrimPrefix(body, []byte("\xEF\xBB\xBF"))
		if err != nil {
			if !errors.Is(err, ErrInvalidJSON) && !errors.Is(err, ErrTooDeep) {
				t.Fatalf("Apply error %v wraps neither ErrInvalidJSON nor ErrTooDeep", err)
			}
			// json.Valid does not check UTF-8, and Apply does.
			if errors.Is(err, ErrInvalidJSON) && json.Valid(in) && utf8.Valid(in) {
				t.Fatalf("Apply rejects valid JSON: %v", err)
			}
			return
		}
		if !json.Valid(in) {
			t.Fatalf("Apply accepts invalid JSON")
		}
		if !json.Valid(out) || !utf8.Valid(out) {
			t.Fatalf("Apply output is not valid JSON: %q", out)
		}
		if st == Plain {
			return
		}
		for _, p := range fuzzLeafPaths {
			before, after := gjson.GetBytes(in, p), gjson.GetBytes(out, p)
			if !before.Exists() || before.Type == gjson.JSON || before.Type == gjson.Null {
				continue
			}
			if st == Remove {
				if after.Exists() {
					t.Fatalf("path %q exists after Remove: %s", p, after.Raw)
				}
				continue
			}
			if s := before.String(); strings.Trim(s, "*") == "" {
				continue // nothing to hide, and a mask of stars looks the same
			}
			if after.Raw == before.Raw {
				t.Fatalf("path %q value %s is in clear with strategy %v", p, before.Raw, st)
			}
		}
	})
}

func FuzzCompile(f *testing.F) {
	f.Add("persons.#.id_number", "id_number")
	f.Add(`a\.b.*.c?`, "name")
	f.Add("a.#(b==1)|@reverse", "x")
	f.Add("", "")
	f.Add("0.1.#", "Phone")
	f.Fuzz(func(t *testing.T, path, class string) {
		rules, err := Compile([]Field{{Path: path, Class: class}})
		pathErr := CheckPath(path)
		classErr := checkClass(class)
		if (err == nil) != (pathErr == nil && classErr == nil) {
			t.Fatalf("Compile error %v, CheckPath error %v, class error %v", err, pathErr, classErr)
		}
		scope, scopeErr := CompileScope([]string{path})
		if (scopeErr == nil) != (pathErr == nil) {
			t.Fatalf("CompileScope error %v, CheckPath error %v", scopeErr, pathErr)
		}
		if err != nil {
			return
		}
		doc := []byte(`{"a":{"b":["张三",{"c":"13812345678"}]},"0":[1,2],"x.y":"z","#":{"@":1}}`)
		// gjson must read every accepted path without panicking.
		_ = gjson.GetBytes(doc, path)
		m := &Masker{Key: testKey}
		for _, st := range []Strategy{Remove, Plain, Partial, Hash} {
			out, _, err := m.Apply(nil, doc, rules, scope, Strategies{class: st})
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if !json.Valid(out) {
				t.Fatalf("Apply output is not valid JSON: %q", out)
			}
		}
	})
}
