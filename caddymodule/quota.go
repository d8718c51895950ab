package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/citydata/datagateway/gateway/audit"
	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/gateway/quota"
)

// quotaTimeout bounds the one Redis round trip that counts a call.
const quotaTimeout = 500 * time.Millisecond

// errNoQuotaStore is logged when a grant has a quota but the app has no
// Redis to count it in.
var errNoQuotaStore = errors.New("no Redis configured for quota counters")

// takeQuota counts an allowed call against its grant's quota, when the
// grant has one, and reports whether the call may go on. Otherwise it has
// written the refusal: 429 with Retry-After when the quota is exhausted,
// and 503 when the counters cannot be reached, because a quota that cannot
// be counted cannot be enforced (fail closed).
func (h *Handler) takeQuota(w http.ResponseWriter, r *http.Request, x *exchange, grant *catalog.Grant, now time.Time) bool {
	if !quota.Limited(grant.Quota) {
		return true
	}
	limiter := h.app.quota
	var (
		res quota.Result
		err = errNoQuotaStore
	)
	if limiter != nil {
		ctx, cancel := context.WithTimeout(r.Context(), quotaTimeout)
		res, err = limiter.Take(ctx, grant.ID, *grant.Quota, now)
		cancel()
	}
	if err != nil {
		h.logger.Error("quota counters unavailable, refusing request",
			zap.String("request_id", x.rid), zap.String("grant", grant.ID), zap.Error(err))
		x.rec.Decision = audit.DecisionError
		h.refuse(w, x, http.StatusServiceUnavailable,
			"quota counters unavailable: the request was not served; retry later")
		return false
	}
	if res.Allowed {
		return true
	}

	seconds := int64(res.RetryAfter / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(seconds, 10))
	x.rec.Decision = audit.DecisionDeny
	h.refuse(w, x, http.StatusTooManyRequests, fmt.Sprintf(
		"quota exceeded: grant %s allows %s; retry after %d seconds",
		grant.ID, describeQuota(grant.Quota), seconds))
	return false
}

// describeQuota states a quota's bounds, such as "60 calls per minute and
// 1000 calls per day".
func describeQuota(q *catalog.Quota) string {
	switch {
	case q.PerMinute > 0 && q.PerDay > 0:
		return fmt.Sprintf("%d calls per minute and %d calls per day", q.PerMinute, q.PerDay)
	case q.PerMinute > 0:
		return fmt.Sprintf("%d calls per minute", q.PerMinute)
	default:
		return fmt.Sprintf("%d calls per day", q.PerDay)
	}
}
