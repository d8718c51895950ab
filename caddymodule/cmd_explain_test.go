package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/gateway/registry"
	"github.com/citydata/datagateway/internal/redistest"
)

// explainPrefix is a registry prefix other than the default, so the tests
// see whether the subcommand honours registry_prefix.
const explainPrefix = "{dgexplain:registry}"

// runExplainCommand runs the explain subcommand with args and returns its
// standard output.
func runExplainCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := explainCommand()
	var out, errOut strings.Builder
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	cmd.SilenceUsage = true
	err := cmd.Execute()
	return out.String(), err
}

// exampleCatalogue returns the absolute path of the example catalogue.
func exampleCatalogue(t *testing.T) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "examples", "catalogue.json"))
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// approveShare seeds the registry from the catalogue file as the gateway
// does on its first start, then submits and approves a share application
// through the store, as the provider API does. It returns the grant and
// the registry version after the approval.
func approveShare(t *testing.T, store *registry.Store, cataloguePath string) (*catalog.Grant, int64) {
	t.Helper()
	ctx := context.Background()
	cat, err := catalog.Load(cataloguePath)
	if err != nil {
		t.Fatal(err)
	}
	seeded, err := store.Seed(ctx, cat.File())
	if err != nil || !seeded {
		t.Fatalf("Seed = %v, %v; want a seeded registry", seeded, err)
	}

	allow := func(*catalog.Resource, *registry.Application, *catalog.Grant) error { return nil }
	now := time.Now()
	app, err := store.SubmitApplication(ctx, "siming-civil-affairs", registry.Submission{
		Kind:             catalog.GrantShare,
		Resource:         "marriage.record",
		Scenario:         "social_assistance_review",
		Fields:           []string{"name", "marriage_status"},
		ValidFrom:        now.Add(-time.Hour),
		ValidUntil:       now.AddDate(1, 0, 0),
		Purpose:          "Checking the marital status of applicants for social assistance.",
		SecurityMeasures: "Read by caseworkers only, kept for the review period.",
	}, allow)
	if err != nil {
		t.Fatalf("SubmitApplication: %v", err)
	}

	_, grant, err := store.ApproveApplication(ctx, "xm-civil-affairs", app.ID, nil, allow)
	if err != nil {
		t.Fatalf("ApproveApplication: %v", err)
	}

	version, err := store.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return grant, version
}

func TestExplainReadsRegistry(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	store, err := registry.New(client, registry.Options{Prefix: explainPrefix})
	if err != nil {
		t.Fatal(err)
	}
	cataloguePath := exampleCatalogue(t)
	withPrefix := writeTestCaddyfile(t, fmt.Sprintf("\t\tcatalogue %s\n\t\tredis %s\n\t\tregistry_prefix %s",
		cataloguePath, srv.Addr, explainPrefix))
	defaultPrefix := writeTestCaddyfile(t, fmt.Sprintf("\t\tcatalogue %s\n\t\tredis %s",
		cataloguePath, srv.Addr))
	withoutRedis := writeTestCaddyfile(t, "\t\tcatalogue "+cataloguePath)
	query := []string{"--consumer", "siming-civil-affairs", "--resource", "marriage.record",
		"--scenario", "social_assistance_review", "--json"}

	explainWith := func(t *testing.T, caddyfile string) explainReport {
		t.Helper()
		out, err := runExplainCommand(t, append([]string{"--config", caddyfile}, query...)...)
		if err != nil {
			t.Fatalf("explain: %v", err)
		}
		var report explainReport
		if err := json.Unmarshal([]byte(out), &report); err != nil {
			t.Fatalf("output is not a JSON report: %v\n%s", err, out)
		}
		return report
	}

	// Before anything is seeded, explain falls back to the file, which has
	// no grant for this consumer, resource and scenario.
	t.Run("empty registry uses the file", func(t *testing.T) {
		report := explainWith(t, withPrefix)
		if want := "file " + cataloguePath; report.CatalogueSource != want {
			t.Errorf("catalogue source = %q, want %q", report.CatalogueSource, want)
		}
		if report.Allow {
			t.Error("explain allowed a request that the file grants nothing for")
		}
		if report.Grant != nil {
			t.Errorf("grant = %q, want none", report.Grant.ID)
		}
	})

	grant, version := approveShare(t, store, cataloguePath)

	tests := []struct {
		name       string
		caddyfile  string
		wantSource string
		wantGrant  string
		wantAllow  bool
	}{
		{"registry with the approved grant", withPrefix,
			fmt.Sprintf("redis registry version %d", version), grant.ID, true},
		{"registry under another prefix is empty", defaultPrefix, "file " + cataloguePath, "", false},
		{"no redis uses the file", withoutRedis, "file " + cataloguePath, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			report := explainWith(t, tt.caddyfile)
			if report.CatalogueSource != tt.wantSource {
				t.Errorf("catalogue source = %q, want %q", report.CatalogueSource, tt.wantSource)
			}
			if report.Allow != tt.wantAllow {
				t.Errorf("allow = %v, want %v (reasons %q)", report.Allow, tt.wantAllow, report.Reasons)
			}
			gotGrant := ""
			if report.Grant != nil {
				gotGrant = report.Grant.ID
			}
			if gotGrant != tt.wantGrant {
				t.Errorf("grant = %q, want %q", gotGrant, tt.wantGrant)
			}
		})
	}

	t.Run("text names the registry version", func(t *testing.T) {
		args := []string{"--config", withPrefix, "--consumer", "siming-civil-affairs",
			"--resource", "marriage.record", "--scenario", "social_assistance_review"}
		out, err := runExplainCommand(t, args...)
		if err != nil {
			t.Fatalf("explain: %v", err)
		}
		want := fmt.Sprintf("catalogue:         redis registry version %d\n", version)
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	})
}

func TestExplainRejectsInvalidRegistry(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	store, err := registry.New(client, registry.Options{Prefix: explainPrefix})
	if err != nil {
		t.Fatal(err)
	}
	cataloguePath := exampleCatalogue(t)
	approveShare(t, store, cataloguePath)
	// A grant for a consumer missing from the registry fails catalogue
	// validation, so the running gateway would reject this version too.
	bad := `{"id":"grant-bad","kind":"share","consumer":"nobody","resource":"marriage.record",` +
		`"scenario":"social_assistance_review","valid_from":"2026-01-01T00:00:00Z",` +
		`"valid_until":"2099-01-01T00:00:00Z","purpose":"p"}`
	if _, err := store.Change(context.Background(), "test", func(tx *registry.Tx) error {
		return tx.Writer().HSet(tx.Context(), tx.Keys().Grants(), "grant-bad", bad).Err()
	}); err != nil {
		t.Fatalf("writing the invalid grant: %v", err)
	}
	caddyfile := writeTestCaddyfile(t, fmt.Sprintf("\t\tcatalogue %s\n\t\tredis %s\n\t\tregistry_prefix %s",
		cataloguePath, srv.Addr, explainPrefix))

	_, err = runExplainCommand(t, "--config", caddyfile, "--consumer", "siming-civil-affairs",
		"--resource", "marriage.record")
	if err == nil {
		t.Fatal("explain accepted a registry version the gateway rejects")
	}
	if !strings.Contains(err.Error(), "registry version") {
		t.Errorf("error does not name the registry version: %v", err)
	}
}

func TestExplainConfigErrors(t *testing.T) {
	srv := redistest.Start(t)
	stopped := srv.Addr
	srv.Stop()
	cataloguePath := exampleCatalogue(t)

	missingDir := t.TempDir()
	t.Chdir(missingDir)

	tests := []struct {
		name   string
		option string
		want   []string
	}{
		{"redis unreachable", fmt.Sprintf("\t\tcatalogue %s\n\t\tredis %s", cataloguePath, stopped),
			[]string{"reading registry snapshot", stopped, "start Redis"}},
		{"prefix without hash tag", fmt.Sprintf("\t\tcatalogue %s\n\t\tredis %s\n\t\tregistry_prefix dg:registry",
			cataloguePath, stopped), []string{"registry_prefix", "hash tag"}},
		{"relative catalogue missing", "\t\tcatalogue examples/catalogue.json",
			[]string{`loading catalogue: open examples/catalogue.json`, "working directory"}},
		{"absolute catalogue missing", "\t\tcatalogue " + filepath.Join(missingDir, "none.json"),
			[]string{"loading catalogue: open " + filepath.Join(missingDir, "none.json")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caddyfile := writeTestCaddyfile(t, tt.option)
			_, err := runExplainCommand(t, "--config", caddyfile, "--consumer", "siming-civil-affairs",
				"--resource", "marriage.record")
			if err == nil {
				t.Fatal("explain succeeded")
			}
			msg := err.Error()
			for _, want := range tt.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q: %s", want, msg)
				}
			}
			if n := strings.Count(msg, "loading catalogue"); n > 1 {
				t.Errorf("error says %q %d times: %s", "loading catalogue", n, msg)
			}
		})
	}
}

// TestExplainCatalogueFileUnreadable checks that a catalogue path that is
// a folder fails with the path named once.
func TestExplainCatalogueFileUnreadable(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "catalogue.json"), 0o700); err != nil {
		t.Fatal(err)
	}
	caddyfile := writeTestCaddyfile(t, "\t\tcatalogue "+filepath.Join(dir, "catalogue.json"))
	_, err := runExplainCommand(t, "--config", caddyfile, "--consumer", "siming-civil-affairs",
		"--resource", "marriage.record")
	if err == nil {
		t.Fatal("explain read a folder as the catalogue")
	}
	if n := strings.Count(err.Error(), "loading catalogue"); n != 1 {
		t.Errorf("error says %q %d times, want once: %v", "loading catalogue", n, err)
	}
}
