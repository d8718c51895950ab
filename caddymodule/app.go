// Package caddymodule is the Caddy glue of the data gateway. It holds the app
// that owns the catalogue, the policy engine, the Redis client and the audit
// writer, and the HTTP handler that enforces the rules on every call. It also
// holds the dynamic upstream source that lets reverse_proxy reach the
// provider a resource names, and the Caddyfile syntax for all three.
package caddymodule

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/citydata/datagateway/gateway/audit"
	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/gateway/mask"
	"github.com/citydata/datagateway/gateway/policy"
	"github.com/citydata/datagateway/gateway/quota"
	"github.com/citydata/datagateway/policies"
)

func init() {
	caddy.RegisterModule(App{})
}

// Defaults for settings left at their zero value.
const (
	defaultStream        = "data_gateway:audit"
	defaultSpoolDir      = "data_gateway_spool"
	defaultSpoolMaxBytes = 256 << 20
	defaultQueueSize     = 16384
	defaultMaxBody       = 8 << 20
	defaultPolicyTimeout = caddy.Duration(100 * time.Millisecond)
	// defaultUpstreamTimeout bounds a provider's whole response, because a
	// hung provider would otherwise hold its audit slot for ever.
	defaultUpstreamTimeout = caddy.Duration(30 * time.Second)
	minHMACKeyLen          = 32
)

// App is the data_gateway app. It owns the state that every data_gateway
// handler shares: the catalogue, the policy engine, the Redis client and the
// audit writer. Configure it in the Caddyfile's global options.
type App struct {
	// Catalogue is the path of the catalogue file (JSON).
	Catalogue string `json:"catalogue,omitempty"`
	// Policies is the folder of Rego policies; empty uses the policies
	// embedded in the binary.
	Policies string `json:"policies,omitempty"`
	// Redis configures the Redis client; nil sends every audit record to
	// the on-disk spool.
	Redis *RedisConfig `json:"redis,omitempty"`
	// AuditStream is the Redis stream key of the audit trail. Default:
	// data_gateway:audit.
	AuditStream string `json:"audit_stream,omitempty"`
	// SpoolDir is the folder for audit records that could not reach Redis.
	// Default: data_gateway_spool under Caddy's data directory.
	SpoolDir string `json:"spool_dir,omitempty"`
	// SpoolMaxBytes bounds the spool; when it is full and Redis is down, the
	// gateway refuses requests with 503. Default: 256 MiB.
	SpoolMaxBytes int64 `json:"spool_max_bytes,omitempty"`
	// QueueSize bounds the audit records waiting for the writer. Default:
	// 16384.
	QueueSize int `json:"queue_size,omitempty"`
	// HMACKey is the secret (at least 32 bytes) behind the keyed hashes of
	// subjects, of masked values and of the audit hash chain. Use a
	// placeholder such as {env.DATA_GATEWAY_HMAC_KEY}.
	HMACKey string `json:"hmac_key,omitempty"`
	// MaxBody is the largest upstream response body, in bytes, that the
	// gateway buffers to mask; a larger one is refused with 502.
	// Default: 8 MiB.
	MaxBody int64 `json:"max_body,omitempty"`
	// PolicyTimeout bounds one policy evaluation. Default: 100ms.
	PolicyTimeout caddy.Duration `json:"policy_timeout,omitempty"`
	// UpstreamTimeout bounds the provider's response, headers and body.
	// Past it the call gets 504, or 502 when the body had begun. Default: 30s.
	UpstreamTimeout caddy.Duration `json:"upstream_timeout,omitempty"`
	// DryRunPolicies is a folder of candidate Rego policies, evaluated
	// beside the enforced ones on live traffic and never enforced. Their
	// disagreements are logged, counted and kept for the admin API.
	DryRunPolicies string `json:"dry_run_policies,omitempty"`
	// RegistryPrefix is the key prefix of the catalogue registry in Redis.
	// It must contain a hash tag in braces. Default:
	// {data_gateway:registry}. The registry is on whenever Redis is
	// configured.
	RegistryPrefix string `json:"registry_prefix,omitempty"`
	// UpstreamAllow lists networks (CIDR) that a resource registered
	// through the registry API may use as its upstream although they are
	// loopback, link-local or otherwise refused, such as 127.0.0.0/8 for a
	// demo on one host.
	UpstreamAllow []string `json:"upstream_allow,omitempty"`

	logger     *zap.Logger
	writer     *audit.Writer
	auditPool  *pooledWriter // the writer's Redis client and chain key
	poolKey    string
	subjectMAC []byte
	masker     *mask.Masker
	idPrefix   string
	live       *live
	ops        *policyOps
	registry   *registryRuntime
	// quota counts calls against grant quotas; nil without Redis, which
	// refuses every call of a grant that has a quota.
	quota *quota.Limiter
}

// live is the app's state that changes while it serves. It sits behind a
// pointer because Caddy copies module values.
type live struct {
	state     atomic.Pointer[state]
	engine    atomic.Pointer[policy.Engine]
	idCounter atomic.Uint64
	// maskings caches parsed decision masks and scopes by content hash.
	maskings     sync.Map
	maskingCount atomic.Int64
}

// RedisConfig configures go-redis' universal client: one address for a
// single server, several for Redis Cluster, and MasterName for Sentinel.
type RedisConfig struct {
	Addrs      []string `json:"addrs,omitempty"`
	Username   string   `json:"username,omitempty"`
	Password   string   `json:"password,omitempty"`
	DB         int      `json:"db,omitempty"`
	MasterName string   `json:"master_name,omitempty"`
}

// state is one loaded catalogue with everything derived from it at load
// time, swapped whole so a request never sees half of a change.
type state struct {
	catalog   *catalog.Catalog
	resources map[*catalog.Resource]*resourceState
}

// resourceState is the per-resource data the hot path needs, built once
// per catalogue load.
type resourceState struct {
	rules     *mask.Rules
	upstreams []*reverseproxy.Upstream
	source    string // X-Data-Source header value
	personal  bool   // the resource declares personal fields
	metrics   *resourceMetrics
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "data_gateway",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision loads the catalogue and the policies and connects the audit
// writer. A catalogue or policy that fails to load fails the config, so
// Caddy keeps running the previous one.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.live = new(live)
	repl := caddy.NewReplacer()
	a.setDefaults(repl)

	key := repl.ReplaceKnown(a.HMACKey, "")
	if len(key) < minHMACKeyLen {
		return fmt.Errorf("hmac_key is %d bytes: set it to a random secret of at least %d bytes, "+
			"e.g. hmac_key {env.DATA_GATEWAY_HMAC_KEY}", len(key), minHMACKeyLen)
	}
	a.subjectMAC = deriveKey(key, "subject")
	a.masker = &mask.Masker{Key: deriveKey(key, "mask")}

	if err := a.loadCatalogue(); err != nil {
		return err
	}
	if err := a.loadPolicies(); err != nil {
		return err
	}
	if err := a.provisionPolicyOps(ctx); err != nil {
		return err
	}
	prefix, err := randomHex(6)
	if err != nil {
		return fmt.Errorf("making request id prefix: %w", err)
	}
	a.idPrefix = prefix + "-"
	if err := a.acquireWriter(repl, deriveKey(key, "audit-chain")); err != nil {
		return err
	}
	if client := a.RedisClient(); client != nil {
		a.quota = quota.New(client)
	}
	return a.startRegistry()
}

func (a *App) setDefaults(repl *caddy.Replacer) {
	a.Catalogue = repl.ReplaceKnown(a.Catalogue, "")
	a.Policies = repl.ReplaceKnown(a.Policies, "")
	if a.AuditStream == "" {
		a.AuditStream = defaultStream
	}
	if a.SpoolDir == "" {
		a.SpoolDir = filepath.Join(caddy.AppDataDir(), defaultSpoolDir)
	}
	a.SpoolDir = repl.ReplaceKnown(a.SpoolDir, "")
	if a.SpoolMaxBytes == 0 {
		a.SpoolMaxBytes = defaultSpoolMaxBytes
	}
	if a.QueueSize == 0 {
		a.QueueSize = defaultQueueSize
	}
	if a.MaxBody == 0 {
		a.MaxBody = defaultMaxBody
	}
	if a.UpstreamTimeout == 0 {
		a.UpstreamTimeout = defaultUpstreamTimeout
	}
	if a.PolicyTimeout == 0 {
		a.PolicyTimeout = defaultPolicyTimeout
	}
	if a.Redis != nil {
		a.Redis.Password = repl.ReplaceKnown(a.Redis.Password, "")
		for i, addr := range a.Redis.Addrs {
			a.Redis.Addrs[i] = repl.ReplaceKnown(addr, "")
		}
	}
}

// Validate checks the settings that need no I/O.
func (a *App) Validate() error {
	if a.Catalogue == "" {
		return errors.New("catalogue is missing: set the path of the catalogue file " +
			"in the data_gateway global option")
	}
	if a.SpoolMaxBytes < 0 || a.QueueSize < 0 || a.MaxBody < 0 {
		return errors.New("spool_max_bytes, queue_size and max_body must not be negative")
	}
	if a.Redis != nil && len(a.Redis.Addrs) == 0 {
		return errors.New("redis has no address: give host:port, several for Redis Cluster")
	}
	return a.validateRegistryOptions()
}

// Start starts watching the policy folders and registers the metrics
// that read the audit writer. The audit writer runs from Provision so
// that records of requests served during a config reload are not held
// back.
func (a *App) Start() error {
	if err := a.startPolicyOps(); err != nil {
		return err
	}
	st := a.live.state.Load()
	a.logger.Info("data gateway started",
		zap.String("catalogue_version", st.catalog.Version()),
		zap.Int("resources", len(st.resources)),
		zap.String("policy_version", a.live.engine.Load().Version()),
		zap.String("audit_stream", a.AuditStream))
	return nil
}

// Stop is a no-op; Cleanup releases the audit writer.
func (a *App) Stop() error { return nil }

// Cleanup stops the policy watchers, the dry run and the registry sync,
// and releases this config's hold on the shared audit writer. The last
// holder drains and closes it. It tolerates a half-finished Provision.
func (a *App) Cleanup() error {
	a.stopPolicyOps()
	a.stopRegistry()
	if a.poolKey == "" {
		return nil
	}
	_, err := writers.Delete(a.poolKey)
	return err
}

func (a *App) loadCatalogue() error {
	cat, err := catalog.Load(a.Catalogue) // its errors start with "loading catalogue"
	if err != nil {
		return err
	}
	st, err := newState(cat)
	if err != nil {
		return fmt.Errorf("loading catalogue %q: %w", a.Catalogue, err)
	}
	a.live.state.Store(st)
	return nil
}

func newState(cat *catalog.Catalog) (*state, error) {
	st := &state{catalog: cat, resources: make(map[*catalog.Resource]*resourceState)}
	for _, res := range cat.Resources() {
		fields := make([]mask.Field, len(res.Fields))
		for i, f := range res.Fields {
			fields[i] = mask.Field{Path: f.Path, Class: f.Class}
		}
		rules, err := mask.Compile(fields)
		if err != nil {
			return nil, fmt.Errorf("resource %q: %w", res.ID, err)
		}
		dial, err := dialAddress(res.Upstream)
		if err != nil {
			return nil, fmt.Errorf("resource %q: %w", res.ID, err)
		}
		st.resources[res] = &resourceState{
			rules:     rules,
			upstreams: []*reverseproxy.Upstream{{Dial: dial}},
			source:    res.Provider + "/" + res.ID,
			personal:  len(res.Fields) > 0,
			metrics:   newResourceMetrics(res.ID, rules),
		}
	}
	return st, nil
}

// dialAddress turns "http://host:port" into the dial address reverse_proxy
// wants. The scheme must match the reverse_proxy transport: an https
// upstream needs `transport http { tls }` in the Caddyfile.
func dialAddress(upstream string) (string, error) {
	_, hostport, ok := strings.Cut(upstream, "://")
	if !ok || hostport == "" {
		return "", fmt.Errorf("upstream %q: want scheme://host:port", upstream)
	}
	return hostport, nil
}

func (a *App) loadPolicies() error {
	var (
		engine *policy.Engine
		err    error
	)
	if a.Policies == "" {
		engine, err = policy.Load(policies.FS)
	} else {
		engine, err = policy.LoadDir(a.Policies)
	}
	if err != nil {
		return fmt.Errorf("loading policies: %w", err)
	}
	a.live.engine.Store(engine)
	return nil
}

// RedisClient returns the Redis client the app shares with its audit
// writer, or nil when Redis is not configured.
func (a *App) RedisClient() redis.UniversalClient {
	if a.auditPool == nil {
		return nil
	}
	return a.auditPool.client
}

// nextRequestID returns a request id unique across instances: a random
// prefix chosen at provisioning and a counter in base 36.
func (a *App) nextRequestID() string {
	n := a.live.idCounter.Add(1)
	var buf [32]byte
	b := append(buf[:0], a.idPrefix...)
	b = strconv.AppendUint(b, n, 36)
	return string(b)
}

// subjectHash is the keyed hash under which a queried subject is stored in
// the audit trail: the same identifier always gives the same hash, so an
// operator holding the key can search by it, and the raw value never
// leaves the gateway.
func (a *App) subjectHash(kind, value string) string {
	mac := hmac.New(sha256.New, a.subjectMAC)
	mac.Write([]byte(kind))
	mac.Write([]byte{0})
	mac.Write([]byte(value))
	var sum [sha256.Size]byte
	return hex.EncodeToString(mac.Sum(sum[:0])[:16])
}

// deriveKey derives a purpose-bound key from the configured secret so that
// a hash of one kind can never be replayed as another.
func deriveKey(secret, purpose string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(purpose))
	return mac.Sum(nil)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
