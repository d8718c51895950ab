package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// testTimeout bounds one Rego test; RunTests as a whole is bounded by its
// context.
const testTimeout = 10 * time.Second

// RunTests runs the Rego tests (test_* rules in *_test.rego files) of the
// bundle fsys, with the engine's built-in functions and built-in errors
// raised, as Decide evaluates them. It returns an error naming every test
// that failed or raised an error, and an error when the bundle has no
// tests at all, so a hot reload can refuse an untested bundle.
func (e *Engine) RunTests(ctx context.Context, fsys fs.FS) error {
	files, err := readBundle(fsys, "", "the policy bundle", true)
	if err != nil {
		return err
	}
	return runTestFiles(ctx, e.capabilities, files)
}

// runTestFiles runs the tests of files, which include the policy modules
// the tests read, with the built-in functions of capabilities. A failed
// test gives a *TestError.
func runTestFiles(ctx context.Context, capabilities *ast.Capabilities, files []policyFile) error {
	modules, err := parseFiles(files)
	if err != nil {
		return fmt.Errorf("parsing policy tests: %w", err)
	}

	compiler := ast.NewCompiler().WithCapabilities(capabilities)
	runner := tester.NewRunner().
		SetCompiler(compiler).
		SetDefaultRegoVersion(ast.RegoV1).
		SetModules(modules).
		RaiseBuiltinErrors(true).
		SetTimeout(testTimeout)
	results, err := runner.RunTests(ctx, nil)
	if err != nil {
		return fmt.Errorf("compiling policy tests: %w", err)
	}

	var failures []TestFailure
	ran := 0
	for result := range results {
		ran++
		if outcome := testOutcome(result); outcome != "" {
			failures = append(failures, testFailure(result, outcome))
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("running policy tests: %w", err)
	}
	if ran == 0 {
		return errors.New("running policy tests: the bundle has no test_* rules in *_test.rego files")
	}
	if len(failures) > 0 {
		return &TestError{Failures: failures, Ran: ran}
	}
	return nil
}

// testOutcome describes a test that did not pass, or returns "" for a pass.
// A skipped test counts as passed.
func testOutcome(result *tester.Result) string {
	switch {
	case result.Error != nil:
		return "error: " + result.Error.Error()
	case result.Fail:
		return "failed"
	default:
		return ""
	}
}
