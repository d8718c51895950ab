package redistest

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestRestartKeepsData(t *testing.T) {
	s := Start(t)
	c := s.Client(t)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}

	s.Restart()
	got, err := c.Get(ctx, "k").Result()
	if err != nil {
		t.Fatalf("GET after Restart: %v", err)
	}
	if got != "v" {
		t.Errorf("GET after Restart = %q, want \"v\"", got)
	}
}

func TestKillLosesUnsavedData(t *testing.T) {
	s := Start(t)
	c := s.Client(t)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}

	s.Kill()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING succeeded after Kill")
	}
	s.Restart()
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET after Kill and Restart: error = %v, want redis.Nil", err)
	}
}

func TestStopTwice(t *testing.T) {
	s := Start(t)
	s.Stop()
	s.Stop()
	if err := s.Client(t).Ping(context.Background()).Err(); err == nil {
		t.Error("PING succeeded after Stop")
	}
}
