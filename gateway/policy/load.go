package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// Limits on a policy bundle, so a wrong directory (a home folder, a
// repository with vendored code) fails fast instead of being read whole.
const (
	maxBundleFiles = 1000
	maxBundleBytes = 32 << 20
)

// removedBuiltins are built-in functions a gateway policy may not call,
// because a decision must depend only on its input. http.send and
// net.lookup_ip_addr make network calls on the request path, opa.runtime
// exposes the process environment, which may hold secrets, and time.now_ns
// is a clock other than input.now, which the decision cache relies on.
var removedBuiltins = []string{"http.send", "net.lookup_ip_addr", "opa.runtime", "time.now_ns"}

// policyFile is one .rego file of a bundle: its path inside the bundle, the
// name used in error messages, and its source.
type policyFile struct {
	path   string
	name   string
	source []byte
}

// Load compiles every *.rego file of fsys except the *_test.rego files and
// prepares the decision query. A file that does not parse or compile, or a
// bundle without the rule data.data_gateway.decision, gives an error that
// wraps ast.Errors with the file, line and message of each fault, and no
// Engine. Policies may not call http.send, net.lookup_ip_addr, opa.runtime
// or time.now_ns.
func Load(fsys fs.FS) (*Engine, error) {
	return load(fsys, "", "the policy bundle")
}

// LoadDir is Load on a directory of the file system; error messages name
// the files by their path under dir.
func LoadDir(dir string) (*Engine, error) {
	return load(os.DirFS(dir), dir, strconv.Quote(dir))
}

// load compiles the bundle fsys. Error messages name its files under root
// and the bundle itself by origin.
func load(fsys fs.FS, root, origin string) (*Engine, error) {
	files, err := readBundle(fsys, root, origin, false)
	if err != nil {
		return nil, err
	}
	return compile(files, origin)
}

// compile compiles the policy modules files, which hold no tests, and
// prepares the decision query. origin names the bundle in errors.
func compile(files []policyFile, origin string) (*Engine, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("loading policies from %s: no .rego files other than tests", origin)
	}

	modules, err := parseFiles(files)
	if err != nil {
		return nil, fmt.Errorf("parsing policies: %w", err)
	}

	// Read the modules before compiling, which rewrites them.
	requestFields := requestFieldsRead(modules)

	capabilities := gatewayCapabilities()
	compiler := ast.NewCompiler().
		WithCapabilities(capabilities).
		WithStrict(true)
	compiler.Compile(modules)
	if compiler.Failed() {
		return nil, fmt.Errorf("compiling policies: %w", compiler.Errors)
	}
	if len(compiler.GetRulesExact(ast.MustParseRef(Query))) == 0 {
		return nil, fmt.Errorf("compiling policies from %s: no rule defines %s", origin, Query)
	}

	query, err := rego.New(
		rego.Query(Query),
		rego.Compiler(compiler),
		rego.StrictBuiltinErrors(true),
		rego.GenerateJSON(keepTerm),
	).PrepareForEval(context.Background())
	if err != nil {
		return nil, fmt.Errorf("preparing query %s: %w", Query, err)
	}

	registry, err := prepareRegistry(compiler)
	if err != nil {
		return nil, err
	}

	return &Engine{
		query:         query,
		registry:      registry,
		capabilities:  capabilities,
		version:       bundleVersion(files),
		terms:         newTermCache(),
		decisions:     newDecisionCache(),
		requestFields: requestFields,
	}, nil
}

// readBundle reads the .rego files of fsys in path order, the *_test.rego
// files only when withTests is set.
func readBundle(fsys fs.FS, root, origin string, withTests bool) ([]policyFile, error) {
	var files []policyFile
	total := 0
	err := fs.WalkDir(fsys, ".", func(name string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if entry.IsDir() || !strings.HasSuffix(name, ".rego") {
			return nil
		}
		if !withTests && strings.HasSuffix(name, "_test.rego") {
			return nil
		}
		if len(files) == maxBundleFiles {
			return fmt.Errorf("more than %d .rego files: point the gateway at the policy folder itself", maxBundleFiles)
		}
		source, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		total += len(source)
		if total > maxBundleBytes {
			return fmt.Errorf(".rego files exceed %d bytes in total: point the gateway at the policy folder itself", maxBundleBytes)
		}
		files = append(files, policyFile{path: name, name: displayName(root, name), source: source})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading policies from %s: %w", origin, err)
	}
	slices.SortFunc(files, func(a, b policyFile) int { return strings.Compare(a.path, b.path) })
	return files, nil
}

// parseFiles parses every file as Rego v1 and reports the faults of all
// files at once, so one load shows everything that needs fixing.
func parseFiles(files []policyFile) (map[string]*ast.Module, error) {
	modules := make(map[string]*ast.Module, len(files))
	var faults ast.Errors
	for _, file := range files {
		module, err := ast.ParseModuleWithOpts(file.name, string(file.source), ast.ParserOptions{
			RegoVersion:       ast.RegoV1,
			ProcessAnnotation: true,
		})
		if err != nil {
			var parseErrors ast.Errors
			if errors.As(err, &parseErrors) {
				faults = append(faults, parseErrors...)
				continue
			}
			return nil, fmt.Errorf("parsing %q: %w", file.name, err)
		}
		modules[file.name] = module
	}
	if len(faults) > 0 {
		return nil, faults
	}
	return modules, nil
}

// bundleVersion hashes each file's path and source in path order. Lengths
// separate the parts, so no two different bundles hash the same input.
func bundleVersion(files []policyFile) string {
	hash := sha256.New()
	for _, file := range files {
		fmt.Fprintf(hash, "%d:%s%d:", len(file.path), file.path, len(file.source))
		hash.Write(file.source)
	}
	return hex.EncodeToString(hash.Sum(nil))[:16]
}

// gatewayCapabilities returns the built-in functions of this OPA version
// without removedBuiltins.
func gatewayCapabilities() *ast.Capabilities {
	capabilities := ast.CapabilitiesForThisVersion()
	capabilities.Builtins = slices.DeleteFunc(capabilities.Builtins, func(builtin *ast.Builtin) bool {
		return slices.Contains(removedBuiltins, builtin.Name)
	})
	return capabilities
}

func displayName(root, name string) string {
	if root == "" {
		return name
	}
	return filepath.Join(root, filepath.FromSlash(name))
}
