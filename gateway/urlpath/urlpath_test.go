package urlpath

import (
	"errors"
	"strings"
	"testing"
)

func TestClean(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"root", "/", "/"},
		{"clean path", "/api/population/persons/1", "/api/population/persons/1"},
		{"clean trailing slash", "/api/population/", "/api/population/"},
		{"case preserved", "/API/Persons/1", "/API/Persons/1"},
		{"dot dot resolved", "/api/a/../b", "/api/b"},
		{"dot resolved", "/api/./b", "/api/b"},
		{"doubled slash", "/api//b", "/api/b"},
		{"leading doubled slash", "//api/b", "/api/b"},
		{"many slashes", "/api///b////c", "/api/b/c"},
		{"trailing slash kept", "/api/b/", "/api/b/"},
		{"doubled trailing slash", "/api/b//", "/api/b/"},
		{"final dot dot adds slash", "/api/a/b/..", "/api/a/"},
		{"final dot adds slash", "/api/a/.", "/api/a/"},
		{"climb to root", "/a/b/../..", "/"},
		{"encoded dot dot", "/api/x/%2e%2e/b", "/api/b"},
		{"encoded dot dot upper", "/api/x/%2E%2E/b", "/api/b"},
		{"mixed encoded dot dot", "/api/x/.%2e/b", "/api/b"},
		{"encoded dot", "/api/%2e/b", "/api/b"},
		{"encoded letter", "/api/%61b", "/api/ab"},
		{"encoded space", "/api/a%20b", "/api/a b"},
		{"encoded utf8", "/api/%E5%8E%A6%E9%97%A8", "/api/厦门"},
		{"encoded question mark", "/api/a%3Fb", "/api/a?b"},
		{"dot inside segment", "/api/a.b/c", "/api/a.b/c"},
		{"leading dot segment name", "/api/.well-known/x", "/api/.well-known/x"},
		{"tilde", "/api/~user/x", "/api/~user/x"},
		{"replacement character", "/api/\uFFFD", "/api/\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Clean(tt.in)
			if err != nil {
				t.Fatalf("Clean(%q) error: %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCleanRejects(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantMsg string
	}{
		{"empty", "", "must start with"},
		{"relative", "api/x", "must start with"},
		{"asterisk", "*", "must start with"},
		{"encoded slash", "/api/a%2Fb", "encoded slash"},
		{"encoded slash lower", "/api/a%2fb", "encoded slash"},
		{"encoded backslash", "/api/a%5Cb", "encoded backslash"},
		{"literal backslash", "/api\\b", "backslash at byte 4"},
		{"backslash dot dot", "/api/x\\..\\b", "backslash"},
		{"double encoded dot dot", "/api/%252e%252e/b", "encoded percent sign"},
		{"double encoded slash", "/api/a%252Fb", "encoded percent sign"},
		{"truncated escape", "/api/a%2", "invalid percent-escape"},
		{"lone percent", "/api/a%", "invalid percent-escape"},
		{"non-hex escape", "/api/a%zzb", "invalid percent-escape"},
		{"half hex escape", "/api/a%2gb", "invalid percent-escape"},
		{"encoded nul", "/api/a%00b", "control character 0x00"},
		{"literal nul", "/api/a\x00b", "control character 0x00"},
		{"encoded newline", "/api/a%0Ab", "control character 0x0a"},
		{"literal tab", "/api/a\tb", "control character 0x09"},
		{"encoded delete", "/api/a%7Fb", "control character 0x7f"},
		{"c1 control", "/api/a%C2%85b", "control character U+0085"},
		{"invalid utf8", "/api/a%FFb", "invalid UTF-8"},
		{"truncated utf8", "/api/a%E5%8E", "invalid UTF-8"},
		{"overlong utf8 slash", "/api/a%C0%AFb", "invalid UTF-8"},
		{"literal invalid utf8", "/api/a\xffb", "invalid UTF-8"},
		{"segment ends with dot", "/api/a./b", "ends with \".\""},
		{"triple dot", "/api/.../b", "ends with \".\""},
		{"encoded trailing dot", "/api/a%2E/b", "ends with \".\""},
		{"final segment ends with dot", "/api/a.", "ends with \".\""},
		{"matrix parameter", "/api/a;jsessionid=1/b", "semicolon"},
		{"encoded semicolon", "/api/a%3Bx/b", "semicolon"},
		{"dot dot above root", "/..", "climbs above the root"},
		{"dot dot above root later", "/api/../../etc/passwd", "climbs above the root"},
		{"encoded dot dot above root", "/%2e%2e/%2e%2e/etc", "climbs above the root"},
		{"overlong dot dot chain", "/api/x" + strings.Repeat("/..", 50) + "/etc", "climbs above the root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Clean(tt.in)
			if err == nil {
				t.Fatalf("Clean(%q) = %q, want an error", tt.in, got)
			}
			if !errors.Is(err, ErrAmbiguous) {
				t.Errorf("Clean(%q) error %v does not wrap ErrAmbiguous", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Clean(%q) error %q does not contain %q", tt.in, err, tt.wantMsg)
			}
		})
	}
}

func TestCleanErrorOmitsPath(t *testing.T) {
	// The path may carry a resident identity number as a segment.
	const id = "11010519491231002X"
	inputs := []string{
		"/api/persons/" + id + ".",
		"/api/persons/" + id + "%2F",
		"/api/persons/" + id + ";x",
		"/api/persons/" + id + "\\",
	}
	for _, in := range inputs {
		_, err := Clean(in)
		if err == nil {
			t.Fatalf("Clean(%q) returned no error", in)
		}
		if strings.Contains(err.Error(), id) {
			t.Errorf("Clean error %q contains the identity number", err)
		}
	}
}

func TestCleanLongDotDotChainWithinRoot(t *testing.T) {
	in := "/api" + strings.Repeat("/a", 1000) + strings.Repeat("/..", 1000) + "/b"
	got, err := Clean(in)
	if err != nil {
		t.Fatalf("Clean error: %v", err)
	}
	if got != "/api/b" {
		t.Errorf("Clean = %q, want %q", got, "/api/b")
	}
}

func TestCleanFastPathReturnsInput(t *testing.T) {
	in := "/api/population/persons/350203199001011234"
	got, err := Clean(in)
	if err != nil {
		t.Fatalf("Clean error: %v", err)
	}
	if got != in {
		t.Errorf("Clean = %q, want %q", got, in)
	}
}

func TestCleanFastPathAllocations(t *testing.T) {
	paths := []string{
		"/api/population/persons/350203199001011234",
		"/api/population/",
		"/",
		"/api/厦门/x",
	}
	for _, in := range paths {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := Clean(in); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("Clean(%q) allocates %.0f times, want 0", in, allocs)
		}
	}
}

func FuzzClean(f *testing.F) {
	seeds := []string{
		"/", "/api/a/../b", "/api//b", "/api/%2e%2e/b", "/api/a%2Fb",
		"/api\\b", "/api/a./b", "/API/Persons/1", "/../../..", "/a/b/./c/",
		"/api/%E5%8E%A6", "/api/a;b", "/api/%25", "//", "/.%2E/",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Clean(in)
		if err != nil {
			return
		}
		again, err := Clean(got)
		if err != nil {
			t.Fatalf("Clean(%q) = %q, which Clean rejects: %v", in, got, err)
		}
		if again != got {
			t.Fatalf("Clean(%q) = %q, but Clean(%q) = %q", in, got, got, again)
		}
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("Clean(%q) = %q, which does not start with \"/\"", in, got)
		}
		for _, seg := range strings.Split(got, "/") {
			if seg == ".." || seg == "." {
				t.Fatalf("Clean(%q) = %q, which has a dot segment", in, got)
			}
		}
		if strings.Contains(got, "//") {
			t.Fatalf("Clean(%q) = %q, which has a doubled slash", in, got)
		}
		if strings.ContainsAny(got, "\\%;") {
			t.Fatalf("Clean(%q) = %q, which has a rejected character", in, got)
		}
	})
}

func BenchmarkCleanFastPath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Clean("/api/population/persons/350203199001011234")
	}
}

func BenchmarkCleanSlowPath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Clean("/api/population/./persons//%33%35%30203199001011234")
	}
}
