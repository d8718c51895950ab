// Package quota enforces the call quotas of grants (calls per minute and per
// day) across every gateway instance, with counters in Redis.
package quota

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citydata/datagateway/gateway/catalog"
)

// China has kept UTC+8 without daylight saving time since 1991, so a fixed
// zone gives the same calendar days as Asia/Shanghai without needing the
// tz database on the host.
var shanghai = time.FixedZone("Asia/Shanghai", 8*60*60)

// keySlack is added to each counter's lifetime so that an instance whose
// clock runs slightly behind still finds the counter of its window.
const keySlack = 60

// takeScript counts one call against both windows of a grant, or refuses
// it without counting when either window is exhausted. It runs atomically,
// and both keys share one hash tag, so it also works on Redis Cluster.
//
// KEYS[1] minute counter, KEYS[2] day counter.
// ARGV[1] calls per minute, ARGV[2] calls per day (0 means no bound),
// ARGV[3] seconds until the minute window ends, ARGV[4] seconds until the
// day window ends.
//
// It returns 0 when the call is admitted. Otherwise it returns the seconds
// until every exhausted window has reset, which is the earliest time the
// call can be admitted.
var takeScript = redis.NewScript(`
local perMinute = tonumber(ARGV[1])
local perDay = tonumber(ARGV[2])
local minuteLeft = tonumber(ARGV[3])
local dayLeft = tonumber(ARGV[4])
local wait = 0
if perMinute > 0 and tonumber(redis.call('GET', KEYS[1]) or '0') >= perMinute then
  wait = minuteLeft
end
if perDay > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= perDay then
  wait = math.max(wait, dayLeft)
end
if wait > 0 then
  return wait
end
if perMinute > 0 and redis.call('INCR', KEYS[1]) == 1 then
  redis.call('EXPIRE', KEYS[1], minuteLeft + ` + strconv.Itoa(keySlack) + `)
end
if perDay > 0 and redis.call('INCR', KEYS[2]) == 1 then
  redis.call('EXPIRE', KEYS[2], dayLeft + ` + strconv.Itoa(keySlack) + `)
end
return 0
`)

// ErrUnavailable wraps every failure to reach Redis or run the script. The
// caller cannot tell whether the call would fit the quota, so it must
// refuse the call.
var ErrUnavailable = errors.New("quota counters unavailable")

// Limiter counts calls against grant quotas in Redis. It is safe for
// concurrent use and holds no state of its own, so any number of instances
// sharing one Redis enforce one quota together.
type Limiter struct {
	client redis.Scripter
}

// New returns a Limiter that keeps its counters in client.
func New(client redis.Scripter) *Limiter {
	return &Limiter{client: client}
}

// Result is the outcome of one Take.
type Result struct {
	// Allowed reports that the call was admitted and counted.
	Allowed bool
	// RetryAfter is, for a refused call, the time until every exhausted
	// window has reset, in whole seconds and at least one second.
	RetryAfter time.Duration
}

// Limited reports whether q bounds any window. A nil quota bounds none.
func Limited(q *catalog.Quota) bool {
	return q != nil && (q.PerMinute > 0 || q.PerDay > 0)
}

// Take counts one call of grantID at now against q. It costs one EVALSHA
// round trip (go-redis falls back to EVAL once when Redis has not cached the
// script). A call over either window is refused and not counted, so
// refused calls never use up quota. Any Redis failure returns an error
// wrapping ErrUnavailable.
func (l *Limiter) Take(ctx context.Context, grantID string, q catalog.Quota, now time.Time) (Result, error) {
	now = now.In(shanghai)
	unixMinute := now.Unix() / 60
	minuteLeft := 60 - now.Unix()%60
	dayLeft := secondsToMidnight(now)

	keys := []string{MinuteKey(grantID, unixMinute), DayKey(grantID, now)}
	wait, err := takeScript.Run(ctx, l.client, keys,
		q.PerMinute, q.PerDay, minuteLeft, dayLeft).Int64()
	if err != nil {
		return Result{}, fmt.Errorf("counting a call of grant %q: %w: %w", grantID, ErrUnavailable, err)
	}
	if wait <= 0 {
		return Result{Allowed: true}, nil
	}
	return Result{RetryAfter: time.Duration(wait) * time.Second}, nil
}

// MinuteKey returns the Redis key of the grant's counter for the minute
// unixMinute (Unix seconds divided by 60).
func MinuteKey(grantID string, unixMinute int64) string {
	return keyPrefix(grantID) + ":m:" + strconv.FormatInt(unixMinute, 10)
}

// DayKey returns the Redis key of the grant's counter for the calendar day
// of t in China Standard Time, such as "{dgq:g1}:d:20260105".
func DayKey(grantID string, t time.Time) string {
	return keyPrefix(grantID) + ":d:" + t.In(shanghai).Format("20060102")
}

// keyPrefix is the hash tag shared by both counters of a grant, so the
// script's two keys always live in one Redis Cluster slot.
func keyPrefix(grantID string) string {
	return "{dgq:" + grantID + "}"
}

// secondsToMidnight returns the seconds from t to the next midnight in t's
// location, rounded up so that a client waiting that long finds the new day.
func secondsToMidnight(t time.Time) int64 {
	y, m, d := t.Date()
	midnight := time.Date(y, m, d+1, 0, 0, 0, 0, t.Location())
	return int64((midnight.Sub(t) + time.Second - 1) / time.Second)
}
