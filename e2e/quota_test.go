package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// approvedMarriageGrant runs a share application of the water group for
// the marriage register through approval, with quota, and returns the
// grant id once both instances serve it.
func approvedMarriageGrant(t *testing.T, s, s2 *stack, quota map[string]int) string {
	t.Helper()
	r := api(t, s, "POST", "/registry/applications", "KEY_WATER_GROUP",
		marriageApplication(time.Now().Add(-time.Minute)))
	wantStatus(t, r, http.StatusCreated)
	id := fmt.Sprint(r.json["id"])
	r = api(t, s, "POST", "/registry/applications/"+id+"/approve", "KEY_PROVIDER_CIVIL_AFFAIRS",
		map[string]any{"quota": quota})
	wantStatus(t, r, http.StatusOK)
	for _, inst := range []*stack{s, s2} {
		waitStatus(t, inst, marriagePath, "KEY_WATER_GROUP", "social_assistance_review", http.StatusOK, syncBound)
	}
	return "grant-" + id
}

// TestQuotaPerDayAcrossInstances sends more calls than a per-day quota
// allows, from bounded workers spread over two instances, and checks that
// exactly the quota is served in total and every other call gets 429 with
// Retry-After.
func TestQuotaPerDayAcrossInstances(t *testing.T) {
	const (
		perDay  = 40
		workers = 8
		total   = 120
	)
	s, s2 := startRegistryStack(t)
	grantID := approvedMarriageGrant(t, s, s2, map[string]int{"per_day": perDay})
	// approvedMarriageGrant used one call per instance.
	const used = 2

	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		badRetry []string
		wg       sync.WaitGroup
	)
	calls := make(chan int, total)
	for i := range total {
		calls <- i
	}
	close(calls)
	deadline := time.Now().Add(60 * time.Second)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inst := []*stack{s, s2}[w%2]
			client := &http.Client{Timeout: 10 * time.Second}
			for range calls {
				if time.Now().After(deadline) {
					return
				}
				req, err := http.NewRequest("GET", inst.base+marriagePath, nil)
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Authorization", "Bearer "+inst.keys["KEY_WATER_GROUP"])
				req.Header.Set("X-Data-Scenario", "social_assistance_review")
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				if resp.StatusCode == http.StatusTooManyRequests {
					if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n < 1 || n > 86400 {
						badRetry = append(badRetry, resp.Header.Get("Retry-After"))
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	if got, want := statuses[http.StatusOK], perDay-used; got != want {
		t.Errorf("served %d calls, want exactly %d (per_day %d, %d used before the load); statuses %v",
			got, want, perDay, used, statuses)
	}
	if got, want := statuses[http.StatusTooManyRequests], total-(perDay-used); got != want {
		t.Errorf("refused %d calls with 429, want %d; statuses %v", got, want, statuses)
	}
	if len(badRetry) > 0 {
		t.Errorf("429 responses with a bad Retry-After: %q", badRetry)
	}

	t.Run("audit record says quota", func(t *testing.T) {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			for _, rec := range s.auditRecords() {
				if rec["status"] == "429" && rec["grant"] == grantID &&
					strings.Contains(fmt.Sprint(rec["reasons"]), "quota exceeded") {
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("no audit record with status 429, grant %s and a quota reason", grantID)
	})
}

// TestQuotaFailsClosedWithoutRedis stops Redis: a grant with a quota is
// refused with 503 because its calls cannot be counted, while a grant
// without one is still served (its audit records go to the spool).
func TestQuotaFailsClosedWithoutRedis(t *testing.T) {
	s, s2 := startRegistryStack(t)
	approvedMarriageGrant(t, s, s2, map[string]int{"per_minute": 1000})

	s.redis.Stop()
	for _, inst := range []*stack{s, s2} {
		r := do(t, inst, "GET", marriagePath, "KEY_WATER_GROUP", "social_assistance_review")
		wantStatus(t, r, http.StatusServiceUnavailable)
		if !strings.Contains(string(r.body), "quota counters unavailable") {
			t.Errorf("503 body = %s, want the quota reason", r.body)
		}
	}
	// The housing bureau's grant for the same resource has no quota.
	r := do(t, s, "GET", marriagePath, "KEY_HOUSING_BUREAU", "housing_subsidy_review")
	wantStatus(t, r, http.StatusOK)
}
