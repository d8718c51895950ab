package policy

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// Fault is one problem found in a policy bundle, located in its file: a
// parse or compile error, or a Rego test that failed.
type Fault struct {
	// File is the file's path as the bundle was loaded: under the policy
	// folder for a folder, inside the bundle for an embedded one.
	File string `json:"file,omitempty"`
	// Row and Col are 1-based, and zero when the fault has no location.
	Row     int    `json:"row,omitempty"`
	Col     int    `json:"col,omitempty"`
	Message string `json:"message"`
}

// String formats the fault as file:row:col: message.
func (f Fault) String() string {
	switch {
	case f.File == "":
		return f.Message
	case f.Row == 0:
		return f.File + ": " + f.Message
	case f.Col == 0:
		return fmt.Sprintf("%s:%d: %s", f.File, f.Row, f.Message)
	default:
		return fmt.Sprintf("%s:%d:%d: %s", f.File, f.Row, f.Col, f.Message)
	}
}

// TestFailure is one Rego test that failed or raised an error.
type TestFailure struct {
	// Test is the rule's full name, such as data.data_gateway_test.test_deny.
	Test string
	File string
	// Row is the line of the expression that failed when OPA reports it,
	// else the line of the test rule.
	Row     int
	Outcome string
}

// TestError is the error RunTests returns when tests fail.
type TestError struct {
	Failures []TestFailure
	// Ran is the number of tests run, passed or not.
	Ran int
}

func (e *TestError) Error() string {
	lines := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		lines[i] = fmt.Sprintf("%s (%s:%d): %s", f.Test, f.File, f.Row, f.Outcome)
	}
	return fmt.Sprintf("running policy tests: %d of %d failed:\n%s",
		len(e.Failures), e.Ran, strings.Join(lines, "\n"))
}

func testFailure(result *tester.Result, outcome string) TestFailure {
	failure := TestFailure{
		Test:    result.Package + "." + result.Name,
		Outcome: outcome,
	}
	location := result.Location
	if result.FailedAt != nil && result.FailedAt.Location != nil {
		location = result.FailedAt.Location
	}
	if location != nil {
		failure.File = location.File
		failure.Row = location.Row
	}
	return failure
}

// Faults returns the located problems that an error of Load, LoadDir,
// RunTests or Snapshot.Build carries: one per parse or compile error and
// one per failed test. Any other error gives one Fault with its message
// and no location. A nil error gives nil.
func Faults(err error) []Fault {
	if err == nil {
		return nil
	}
	var compileErrors ast.Errors
	if errors.As(err, &compileErrors) && len(compileErrors) > 0 {
		faults := make([]Fault, len(compileErrors))
		for i, e := range compileErrors {
			faults[i] = Fault{Message: e.Message}
			if e.Location != nil {
				faults[i].File = e.Location.File
				faults[i].Row = e.Location.Row
				faults[i].Col = e.Location.Col
			}
		}
		return faults
	}
	var testErr *TestError
	if errors.As(err, &testErr) {
		faults := make([]Fault, len(testErr.Failures))
		for i, f := range testErr.Failures {
			faults[i] = Fault{
				File:    f.File,
				Row:     f.Row,
				Message: "test " + f.Test + " " + f.Outcome,
			}
		}
		return faults
	}
	return []Fault{{Message: err.Error()}}
}

// rootFaults names each fault's file under root, for faults from a bundle
// whose files were named inside it.
func rootFaults(faults []Fault, root string) []Fault {
	for i := range faults {
		if faults[i].File != "" && !filepath.IsAbs(faults[i].File) &&
			!strings.HasPrefix(faults[i].File, root) {
			faults[i].File = displayName(root, faults[i].File)
		}
	}
	return faults
}
