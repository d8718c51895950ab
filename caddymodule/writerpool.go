package caddymodule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/citydata/datagateway/gateway/audit"
)

// writers holds the audit writers across config reloads: a reload that
// keeps the same Redis, stream and spool reuses the running writer, so the
// hash chain goes on and two writers never share one spool folder.
var writers = caddy.NewUsagePool()

// drainTimeout bounds how long the last holder of a writer waits for queued
// records to reach Redis or the spool when it is released.
const drainTimeout = 10 * time.Second

// pooledWriter is a writer with the Redis client it owns and its chain
// key.
type pooledWriter struct {
	writer   *audit.Writer
	client   redis.UniversalClient
	chainKey []byte
	logger   *zap.Logger
}

// Destruct drains the writer, then closes its Redis client.
func (p *pooledWriter) Destruct() error {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	err := p.writer.Close(ctx)
	if p.client != nil {
		err = errors.Join(err, p.client.Close())
	}
	if err != nil {
		p.logger.Error("closing audit writer", zap.Error(err))
	} else {
		p.logger.Info("audit writer stopped")
	}
	return err
}

func (a *App) acquireWriter(repl *caddy.Replacer, chainKey []byte) error {
	key := a.writerKey(chainKey)
	val, loaded, err := writers.LoadOrNew(key, func() (caddy.Destructor, error) {
		var client redis.UniversalClient
		if a.Redis != nil {
			client = redis.NewUniversalClient(&redis.UniversalOptions{
				Addrs:        a.Redis.Addrs,
				Username:     a.Redis.Username,
				Password:     a.Redis.Password,
				DB:           a.Redis.DB,
				MasterName:   a.Redis.MasterName,
				DialTimeout:  time.Second,
				ReadTimeout:  time.Second,
				WriteTimeout: time.Second,
			})
		}
		w, err := audit.NewWriter(audit.Config{
			Client:        client,
			Stream:        a.AuditStream,
			SpoolDir:      a.SpoolDir,
			SpoolMaxBytes: a.SpoolMaxBytes,
			QueueSize:     a.QueueSize,
			ChainKey:      chainKey,
			Logger:        a.logger.Named("audit"),
		})
		if err != nil {
			if client != nil {
				client.Close()
			}
			return nil, err
		}
		return &pooledWriter{writer: w, client: client, chainKey: chainKey, logger: a.logger}, nil
	})
	if err != nil {
		return fmt.Errorf("starting audit writer: %w", err)
	}
	a.poolKey = key
	a.auditPool = val.(*pooledWriter)
	a.writer = a.auditPool.writer
	if !loaded {
		a.logger.Info("audit writer started",
			zap.String("stream", a.AuditStream),
			zap.String("spool_dir", a.SpoolDir),
			zap.Bool("redis", a.Redis != nil))
	}
	return nil
}

// writerKey names a writer by everything that makes it distinct. Secrets
// enter only as a hash, since the key may end up in debug output.
func (a *App) writerKey(chainKey []byte) string {
	secrets := sha256.New()
	secrets.Write(chainKey)
	var b strings.Builder
	b.WriteString(a.AuditStream)
	b.WriteString("|")
	b.WriteString(a.SpoolDir)
	if a.Redis != nil {
		secrets.Write([]byte(a.Redis.Password))
		fmt.Fprintf(&b, "|%s|%s|%d|%s", strings.Join(a.Redis.Addrs, ","),
			a.Redis.Username, a.Redis.DB, a.Redis.MasterName)
	}
	b.WriteString("|")
	b.WriteString(hex.EncodeToString(secrets.Sum(nil)[:8]))
	return b.String()
}
