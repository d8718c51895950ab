package audit

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/citydata/datagateway/internal/redistest"
)

// writeChain writes n records through a real writer and returns the
// stream entries and the writers hash.
func writeChain(t *testing.T, n int) ([]redis.XMessage, map[string]uint64, redis.UniversalClient) {
	t.Helper()
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)
	w := newTestWriter(t, Config{Client: c})
	commitRecords(t, w, "req", n)
	closeWriter(t, w)

	last, err := lastSeqs(context.Background(), c, DefaultStream)
	if err != nil {
		t.Fatalf("reading writers hash: %v", err)
	}
	return readStream(t, c, DefaultStream), last, c
}

func copyMessage(m redis.XMessage) redis.XMessage {
	return redis.XMessage{ID: m.ID, Values: maps.Clone(m.Values)}
}

func TestVerifyFindsTampering(t *testing.T) {
	msgs, last, _ := writeChain(t, 6)

	tests := []struct {
		name   string
		tamper func([]redis.XMessage) []redis.XMessage
		want   string
	}{
		{
			name: "edited field",
			tamper: func(m []redis.XMessage) []redis.XMessage {
				m[2].Values["decision"] = "allow"
				return m
			},
			want: "hash does not match",
		},
		{
			name: "edited hash",
			tamper: func(m []redis.XMessage) []redis.XMessage {
				m[2].Values["hash"] = strings.Repeat("0", 64)
				return m
			},
			want: "hash does not match",
		},
		{
			name: "deleted entry",
			tamper: func(m []redis.XMessage) []redis.XMessage {
				return append(m[:3], m[4:]...)
			},
			want: "seq 4 to 4 missing",
		},
		{
			name: "deleted last entry",
			tamper: func(m []redis.XMessage) []redis.XMessage {
				return m[:5]
			},
			want: "seq 6 to 6 missing at the end",
		},
		{
			name: "inserted forged entry",
			tamper: func(m []redis.XMessage) []redis.XMessage {
				forged := copyMessage(m[2])
				forged.ID = "0-1"
				forged.Values["id"] = "forged"
				forged.Values["seq"] = "4"
				return append(m[:3:3], append([]redis.XMessage{forged}, m[3:]...)...)
			},
			want: "hash does not match",
		},
		{
			name: "inserted copy",
			tamper: func(m []redis.XMessage) []redis.XMessage {
				return append(m[:3:3], append([]redis.XMessage{copyMessage(m[1])}, m[3:]...)...)
			},
			want: "seq repeats or goes back",
		},
		{
			name: "swapped entries",
			tamper: func(m []redis.XMessage) []redis.XMessage {
				m[2], m[3] = m[3], m[2]
				return m
			},
			want: "missing",
		},
		{
			name: "missing field",
			tamper: func(m []redis.XMessage) []redis.XMessage {
				delete(m[1].Values, "subject")
				return m
			},
			want: `missing field "subject"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tampered := make([]redis.XMessage, len(msgs))
			for i, m := range msgs {
				tampered[i] = copyMessage(m)
			}
			problems := Verify(testKey, tt.tamper(tampered), last)
			if len(problems) == 0 {
				t.Fatal("Verify found no problem")
			}
			found := false
			for _, p := range problems {
				found = found || strings.Contains(p.Reason, tt.want)
			}
			if !found {
				t.Errorf("no problem says %q: %v", tt.want, problems)
			}
		})
	}
}

func TestVerifyAcceptsWholeChain(t *testing.T) {
	msgs, last, _ := writeChain(t, 6)
	if problems := Verify(testKey, msgs, last); len(problems) != 0 {
		t.Errorf("Verify found problems in an untouched chain: %v", problems)
	}
}

func TestVerifyRejectsWrongKey(t *testing.T) {
	msgs, last, _ := writeChain(t, 3)
	problems := Verify([]byte("some-other-chain-key-0123456789"), msgs, last)
	if len(problems) != 3 {
		t.Errorf("Verify with the wrong key found %d problems, want 3: %v", len(problems), problems)
	}
}

func TestVerifyStreamFindsDeletedEntry(t *testing.T) {
	msgs, _, c := writeChain(t, 2500)
	ctx := context.Background()
	if err := c.XDel(ctx, DefaultStream, msgs[1500].ID).Err(); err != nil {
		t.Fatalf("XDEL: %v", err)
	}

	problems, err := VerifyStream(ctx, c, DefaultStream, testKey)
	if err != nil {
		t.Fatalf("VerifyStream: %v", err)
	}
	if len(problems) != 1 {
		t.Fatalf("VerifyStream found %d problems, want 1: %v", len(problems), problems)
	}
	if !strings.Contains(problems[0].Reason, "seq 1501 to 1501 missing") {
		t.Errorf("problem %q does not name seq 1501", problems[0].Reason)
	}
}
