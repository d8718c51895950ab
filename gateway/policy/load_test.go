package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/citydata/datagateway/policies"
)

const validDecision = `{"allow": true, "reasons": [], "fields": null, "masks": {"id_number": "partial"}, "obligations": {"attribution": "x"}}`

// bundleOf returns a bundle of one module that defines decision as body.
func bundleOf(body string) fstest.MapFS {
	return fstest.MapFS{
		"data_gateway/decision.rego": {Data: []byte("package data_gateway\n\n" + body + "\n")},
	}
}

func TestDecideShapeCheck(t *testing.T) {
	tests := []struct {
		name    string
		module  string
		wantErr string // "" when the decision is valid
	}{
		{name: "valid decision", module: "decision := " + validDecision},
		{name: "valid refusal", module: `decision := {"allow": false, "reasons": ["no"], "fields": ["data.name"], "masks": {}, "obligations": {"attribution": "x"}}`},
		{name: "not an object", module: `decision := "allow"`, wantErr: "not object"},
		{name: "allow missing", module: `decision := {"reasons": [], "fields": null, "masks": {}, "obligations": {"attribution": "x"}}`, wantErr: `no key "allow"`},
		{name: "allow string", module: `decision := {"allow": "true", "reasons": [], "fields": null, "masks": {}, "obligations": {"attribution": "x"}}`, wantErr: "allow is of type string"},
		{name: "reasons missing", module: `decision := {"allow": false, "fields": null, "masks": {}, "obligations": {"attribution": "x"}}`, wantErr: `no key "reasons"`},
		{name: "reason number", module: `decision := {"allow": false, "reasons": [1], "fields": null, "masks": {}, "obligations": {"attribution": "x"}}`, wantErr: "item 0 is of type number"},
		{name: "reasons set", module: `decision := {"allow": false, "reasons": {"no"}, "fields": null, "masks": {}, "obligations": {"attribution": "x"}}`, wantErr: "not array"},
		{name: "fields object", module: `decision := {"allow": true, "reasons": [], "fields": {}, "masks": {}, "obligations": {"attribution": "x"}}`, wantErr: "fields: value is of type object"},
		{name: "fields missing", module: `decision := {"allow": true, "reasons": [], "masks": {}, "obligations": {"attribution": "x"}}`, wantErr: `no key "fields"`},
		{name: "unknown strategy", module: `decision := {"allow": true, "reasons": [], "fields": null, "masks": {"id_number": "blur"}, "obligations": {"attribution": "x"}}`, wantErr: `unknown strategy "blur"`},
		{name: "strategy number", module: `decision := {"allow": true, "reasons": [], "fields": null, "masks": {"id_number": 1}, "obligations": {"attribution": "x"}}`, wantErr: "masks:"},
		{name: "masks missing", module: `decision := {"allow": true, "reasons": [], "fields": null, "obligations": {"attribution": "x"}}`, wantErr: `no key "masks"`},
		{name: "attribution missing", module: `decision := {"allow": true, "reasons": [], "fields": null, "masks": {}, "obligations": {}}`, wantErr: "attribution"},
		{name: "obligation number", module: `decision := {"allow": true, "reasons": [], "fields": null, "masks": {}, "obligations": {"attribution": 1}}`, wantErr: "obligations:"},
		{name: "allow with reasons", module: `decision := {"allow": true, "reasons": ["no"], "fields": null, "masks": {}, "obligations": {"attribution": "x"}}`, wantErr: "reasons are not empty"},
		{name: "undefined", module: "decision := " + validDecision + " if input.never", wantErr: "is undefined"},
		{name: "runtime error", module: "decision := " + validDecision + ` if to_number("ten") > 1`, wantErr: "evaluating policy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			engine, err := Load(bundleOf(tt.module))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			decision, err := engine.Decide(context.Background(), &Input{Consumer: healthDept, Resource: persons, Now: now})
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Decide: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Decide returned %+v, want an error containing %q", decision, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Decide error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecideTimeout(t *testing.T) {
	// A billion iterations, with three small ranges so memory stays low.
	engine, err := Load(bundleOf(`decision := ` + validDecision + ` if {
	count([x |
		some x in numbers.range(1, 1000)
		some y in numbers.range(1, 1000)
		some z in numbers.range(1, 1000)
		x == y + z
	]) > 0
}`))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()

	start := time.Now()
	_, err = engine.Decide(ctx, &Input{Consumer: healthDept, Resource: persons, Now: now})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Decide error = %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Decide returned after %v, want soon after the 50ms deadline", elapsed)
	}
}

func TestLoadRejectsBadBundle(t *testing.T) {
	tests := []struct {
		name     string
		bundle   fstest.MapFS
		wantFile string // with wantRow, the location ast.Errors must carry
		wantRow  int
		wantErr  string
	}{
		{
			name:     "parse error",
			bundle:   bundleOf("decision := {\n\t\"allow\": ,\n}"),
			wantFile: "data_gateway/decision.rego",
			wantRow:  4,
			wantErr:  "data_gateway/decision.rego:4",
		},
		{
			name:     "unknown function",
			bundle:   bundleOf("decision := " + validDecision + "\n\nextra := no_such_function(1)"),
			wantFile: "data_gateway/decision.rego",
			wantRow:  5,
			wantErr:  "no_such_function",
		},
		{
			name:     "unsafe variable",
			bundle:   bundleOf("decision := " + validDecision + "\n\nextra if x > 1"),
			wantFile: "data_gateway/decision.rego",
			wantRow:  5,
			wantErr:  "var x is unsafe",
		},
		{
			name:     "http.send removed",
			bundle:   bundleOf("decision := " + validDecision + "\n\nextra := http.send({\"method\": \"GET\", \"url\": \"http://127.0.0.1:1\"})"),
			wantFile: "data_gateway/decision.rego",
			wantRow:  5,
			wantErr:  "http.send",
		},
		{
			name: "second file broken",
			bundle: fstest.MapFS{
				"data_gateway/decision.rego": {Data: []byte("package data_gateway\n\ndecision := " + validDecision + "\n")},
				"data_gateway/zz.rego":       {Data: []byte("package data_gateway\n\nbroken := }\n\nother := 1\n")},
			},
			wantFile: "data_gateway/zz.rego",
			wantRow:  3,
			wantErr:  "zz.rego",
		},
		{
			name:    "no entry point",
			bundle:  fstest.MapFS{"other.rego": {Data: []byte("package other\n\nallow := true\n")}},
			wantErr: "no rule defines data.data_gateway.decision",
		},
		{
			name:    "only tests",
			bundle:  fstest.MapFS{"decision_test.rego": {Data: []byte("package data_gateway_test\n\ntest_x if true\n")}},
			wantErr: "no .rego files other than tests",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			engine, err := Load(tt.bundle)
			if err == nil {
				t.Fatalf("Load returned an engine (version %s), want an error", engine.Version())
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Load error = %q, want it to contain %q", err, tt.wantErr)
			}
			if tt.wantFile == "" {
				return
			}
			var faults ast.Errors
			if !errors.As(err, &faults) {
				t.Fatalf("Load error %q does not wrap ast.Errors", err)
			}
			if !hasFault(faults, tt.wantFile, tt.wantRow) {
				t.Errorf("ast.Errors = %v, want one at %s:%d", faults, tt.wantFile, tt.wantRow)
			}
		})
	}
}

func hasFault(faults ast.Errors, file string, row int) bool {
	for _, fault := range faults {
		if fault.Location != nil && fault.Location.File == file && fault.Location.Row == row {
			return true
		}
	}
	return false
}

func TestLoadDirNamesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "broken.rego")
	if err := os.WriteFile(path, []byte("package data_gateway\n\ndecision := {\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	_, err := LoadDir(dir)
	if err == nil {
		t.Fatal("LoadDir returned no error")
	}
	if !strings.Contains(err.Error(), path+":") {
		t.Errorf("LoadDir error = %q, want it to name %s with a line", err, path)
	}
}

func TestVersion(t *testing.T) {
	first := loadDefault(t)
	second := loadDefault(t)
	if first.Version() != second.Version() {
		t.Errorf("Version differs between loads of one bundle: %s and %s", first.Version(), second.Version())
	}
	if len(first.Version()) != 16 {
		t.Errorf("Version = %q, want 16 hex characters", first.Version())
	}

	dir := t.TempDir()
	if err := os.CopyFS(dir, policies.FS); err != nil {
		t.Fatal(err)
	}
	fromDir, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if fromDir.Version() != first.Version() {
		t.Errorf("Version from LoadDir = %s, want %s as from the embedded bundle", fromDir.Version(), first.Version())
	}

	testFile := filepath.Join(dir, "data_gateway", "extra_test.rego")
	if err := os.WriteFile(testFile, []byte("package data_gateway_test\n\ntest_extra if true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withTest, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if withTest.Version() != first.Version() {
		t.Errorf("Version changed to %s after adding a test file, want %s", withTest.Version(), first.Version())
	}

	module := filepath.Join(dir, "data_gateway", "decision.rego")
	source, err := os.ReadFile(module)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(module, append(source, "\n# changed\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	changed, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if changed.Version() == first.Version() {
		t.Errorf("Version stayed %s after a module changed", changed.Version())
	}
}

func TestRunTestsReportsFailures(t *testing.T) {
	engine := loadDefault(t)
	module := "package data_gateway\n\ndecision := " + validDecision + "\n"

	tests := []struct {
		name    string
		bundle  fstest.MapFS
		wantErr string
	}{
		{
			name: "failing test",
			bundle: fstest.MapFS{
				"decision.rego": {Data: []byte(module)},
				"decision_test.rego": {Data: []byte("package data_gateway_test\n\nimport data.data_gateway\n\n" +
					"test_passes if data_gateway.decision.allow\n\ntest_refuses if not data_gateway.decision.allow\n")},
			},
			wantErr: "data.data_gateway_test.test_refuses",
		},
		{
			name:    "no tests",
			bundle:  fstest.MapFS{"decision.rego": {Data: []byte(module)}},
			wantErr: "no test_* rules",
		},
		{
			name: "test does not compile",
			bundle: fstest.MapFS{
				"decision.rego":      {Data: []byte(module)},
				"decision_test.rego": {Data: []byte("package data_gateway_test\n\ntest_x if }\n\nother := 1\n")},
			},
			wantErr: "decision_test.rego:3",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := engine.RunTests(context.Background(), tt.bundle)
			if err == nil {
				t.Fatal("RunTests returned no error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("RunTests error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}
