package policies

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestRego runs every Rego test of the embedded bundle with built-in errors
// raised, as the gateway evaluates them, and reports each test by name.
func TestRego(t *testing.T) {
	modules := parseBundle(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	runner := tester.NewRunner().
		SetDefaultRegoVersion(ast.RegoV1).
		SetModules(modules).
		RaiseBuiltinErrors(true).
		SetTimeout(10 * time.Second)
	results, err := runner.RunTests(ctx, nil)
	if err != nil {
		t.Fatalf("running Rego tests: %v", err)
	}

	ran := 0
	for result := range results {
		ran++
		name := result.Package + "." + result.Name
		t.Run(name, func(t *testing.T) {
			switch {
			case result.Error != nil:
				t.Errorf("%s: error: %v", result.Location, result.Error)
			case result.Fail:
				t.Errorf("%s: failed", result.Location)
			case result.Skip:
				t.Skipf("%s: skipped", result.Location)
			}
		})
	}
	if ran == 0 {
		t.Fatal("no Rego tests ran: expected test_* rules in *_test.rego files")
	}
}

// TestRegoFormatted checks that every .rego file is formatted as opa fmt
// formats it.
func TestRegoFormatted(t *testing.T) {
	paths, err := fs.Glob(FS, "data_gateway/*.rego")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			source, err := fs.ReadFile(FS, path)
			if err != nil {
				t.Fatal(err)
			}
			formatted, err := format.SourceWithOpts(path, source, format.Opts{RegoVersion: ast.RegoV1})
			if err != nil {
				t.Fatalf("formatting: %v", err)
			}
			if string(formatted) != string(source) {
				t.Errorf("%s is not formatted: run opa fmt -w on it", path)
			}
		})
	}
}

// parseBundle parses every .rego file of the embedded bundle, tests
// included, keyed by path.
func parseBundle(t *testing.T) map[string]*ast.Module {
	t.Helper()

	modules := map[string]*ast.Module{}
	err := fs.WalkDir(FS, ".", func(path string, entry fs.DirEntry, err error) error {
		if err != nil || entry.IsDir() || !strings.HasSuffix(path, ".rego") {
			return err
		}
		src, err := fs.ReadFile(FS, path)
		if err != nil {
			return err
		}
		module, err := ast.ParseModuleWithOpts(path, string(src), ast.ParserOptions{
			RegoVersion:       ast.RegoV1,
			ProcessAnnotation: true,
		})
		if err != nil {
			return err
		}
		modules[path] = module
		return nil
	})
	if err != nil {
		t.Fatalf("parsing the embedded bundle: %v", err)
	}
	return modules
}
