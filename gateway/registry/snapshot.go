package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citydata/datagateway/gateway/catalog"
)

// SeedAuthor is the author of the changes that seed an empty registry from
// the catalogue file.
const SeedAuthor = "catalogue-file"

// seedLockTTL bounds how long an instance that died while seeding blocks
// the others. Seeding is one transaction, so it ends well within the TTL.
const seedLockTTL = 30 * time.Second

// creditLists are the credit lists, each stored under Keys.Credit.
var creditLists = []string{
	catalog.ListDishonestDebtor,
	catalog.ListAbnormalOperation,
	catalog.ListSeriousDishonest,
}

// Snapshot is the registry's content at one version, as a catalogue file.
// Entries are sorted by id and credit codes by value, so every instance
// builds the same catalogue, with the same catalogue version, from the same
// registry version.
type Snapshot struct {
	// Version is the registry version; 0 means the registry was never
	// seeded and File is empty.
	Version int64
	File    catalog.File
}

// readCmds are the queued reads of one snapshot.
type readCmds struct {
	version   *redis.StringCmd
	resources *redis.MapStringStringCmd
	consumers *redis.MapStringStringCmd
	providers *redis.MapStringStringCmd
	grants    *redis.MapStringStringCmd
	credit    []*redis.StringSliceCmd
}

func queueReads(ctx context.Context, pipe redis.Pipeliner, keys Keys) *readCmds {
	cmds := &readCmds{
		version:   pipe.Get(ctx, keys.Version()),
		resources: pipe.HGetAll(ctx, keys.Resources()),
		consumers: pipe.HGetAll(ctx, keys.Consumers()),
		providers: pipe.HGetAll(ctx, keys.Providers()),
		grants:    pipe.HGetAll(ctx, keys.Grants()),
	}
	for _, list := range creditLists {
		cmds.credit = append(cmds.credit, pipe.HKeys(ctx, keys.Credit(list)))
	}
	return cmds
}

// Snapshot reads the whole registry in one MULTI/EXEC, so it reflects
// exactly one registry version.
func (s *Store) Snapshot(ctx context.Context) (Snapshot, error) {
	var cmds *readCmds
	_, err := s.client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		cmds = queueReads(ctx, pipe, s.keys)
		return nil
	})
	// GET of a missing version reports redis.Nil, which decode handles.
	if err != nil && !errors.Is(err, redis.Nil) {
		return Snapshot{}, fmt.Errorf("reading registry snapshot: %w", err)
	}
	return cmds.decode(s.keys)
}

// File reads the whole registry as a catalogue file, for a change that
// validates the catalogue it would produce. The reads run on the watched
// connection, so a change that commits saw the registry as it was.
func (tx *Tx) File() (catalog.File, error) {
	var cmds *readCmds
	_, err := tx.conn.Pipelined(tx.ctx, func(pipe redis.Pipeliner) error {
		cmds = queueReads(tx.ctx, pipe, tx.keys)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return catalog.File{}, fmt.Errorf("reading registry: %w", err)
	}
	snap, err := cmds.decode(tx.keys)
	return snap.File, err
}

func (cmds *readCmds) decode(keys Keys) (Snapshot, error) {
	var snap Snapshot
	version, err := cmds.version.Int64()
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return snap, fmt.Errorf("reading %s: %w", keys.Version(), err)
	default:
		snap.Version = version
	}

	file := &snap.File
	if file.Resources, err = decodeHash[catalog.Resource](cmds.resources, keys.Resources()); err != nil {
		return snap, err
	}
	if file.Consumers, err = decodeHash[catalog.Consumer](cmds.consumers, keys.Consumers()); err != nil {
		return snap, err
	}
	if file.Providers, err = decodeHash[catalog.Provider](cmds.providers, keys.Providers()); err != nil {
		return snap, err
	}
	if file.Grants, err = decodeHash[catalog.Grant](cmds.grants, keys.Grants()); err != nil {
		return snap, err
	}
	lists := make([][]string, len(creditLists))
	for i, cmd := range cmds.credit {
		codes, err := cmd.Result()
		if err != nil {
			return snap, fmt.Errorf("reading %s: %w", keys.Credit(creditLists[i]), err)
		}
		slices.Sort(codes)
		lists[i] = codes
	}
	file.CreditLists = catalog.CreditLists{
		DishonestDebtor:   lists[0],
		AbnormalOperation: lists[1],
		SeriousDishonest:  lists[2],
	}
	return snap, nil
}

// decodeHash decodes the JSON values of a hash, in id order. Unknown JSON
// fields are ignored, so a writer may store more than the catalogue reads.
func decodeHash[T any](cmd *redis.MapStringStringCmd, key string) ([]T, error) {
	values, err := cmd.Result()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	out := make([]T, 0, len(values))
	for _, id := range slices.Sorted(maps.Keys(values)) {
		var entry T
		if err := json.Unmarshal([]byte(values[id]), &entry); err != nil {
			return nil, fmt.Errorf("decoding %s entry %q: %w", key, id, err)
		}
		out = append(out, entry)
	}
	return out, nil
}

// Seed writes the catalogue file to an empty registry, as one change by
// SeedAuthor, and reports whether it did. When the registry has a version
// already, or another instance holds the seed lock, it writes nothing. The
// file should be valid; Seed does not check it again.
func (s *Store) Seed(ctx context.Context, file catalog.File) (bool, error) {
	version, err := s.Version(ctx)
	if err != nil || version > 0 {
		return false, err
	}
	locked, err := s.client.SetNX(ctx, s.keys.Seeded(), s.now().UTC().Format(time.RFC3339), seedLockTTL).Result()
	if err != nil {
		return false, fmt.Errorf("seeding registry: taking the seed lock: %w", err)
	}
	if !locked {
		return false, nil
	}

	errSeeded := errors.New("registry already seeded")
	_, err = s.Change(ctx, SeedAuthor, func(tx *Tx) error {
		if tx.BaseVersion() != 0 {
			return errSeeded
		}
		return tx.writeFile(file)
	})
	if errors.Is(err, errSeeded) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("seeding registry: %w", err)
	}
	return true, nil
}

// writeFile queues the writes of every entry of file, and a history record
// registering each resource.
func (tx *Tx) writeFile(file catalog.File) error {
	w, ctx, keys := tx.pipe, tx.ctx, tx.keys
	if err := queueHash(ctx, w, keys.Consumers(), file.Consumers, func(c *catalog.Consumer) string { return c.ID }); err != nil {
		return err
	}
	if err := queueHash(ctx, w, keys.Providers(), file.Providers, func(p *catalog.Provider) string { return p.ID }); err != nil {
		return err
	}
	if err := queueHash(ctx, w, keys.Resources(), file.Resources, func(r *catalog.Resource) string { return r.ID }); err != nil {
		return err
	}
	if err := queueHash(ctx, w, keys.Grants(), file.Grants, func(g *catalog.Grant) string { return g.ID }); err != nil {
		return err
	}
	lists := [][]string{
		file.CreditLists.DishonestDebtor,
		file.CreditLists.AbnormalOperation,
		file.CreditLists.SeriousDishonest,
	}
	since := tx.now.Format(time.DateOnly)
	for i, codes := range lists {
		for _, code := range codes {
			entry, err := json.Marshal(map[string]string{"since": since, "source": SeedAuthor})
			if err != nil {
				return err
			}
			w.HSet(ctx, keys.Credit(creditLists[i]), code, entry)
		}
	}
	for i := range file.Resources {
		record := HistoryRecord{
			Version:  tx.NextVersion(),
			Author:   tx.author,
			Time:     tx.now,
			Action:   ActionRegister,
			Changes:  changedFields(nil, &file.Resources[i]),
			Resource: file.Resources[i],
		}
		if err := tx.queueHistory(record); err != nil {
			return err
		}
	}
	return nil
}

// queueHash queues HSET of each entry's JSON under its id.
func queueHash[T any](ctx context.Context, w redis.Pipeliner, key string, entries []T, id func(*T) string) error {
	if len(entries) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(entries))
	for i := range entries {
		value, err := json.Marshal(&entries[i])
		if err != nil {
			return fmt.Errorf("encoding %s entry %q: %w", key, id(&entries[i]), err)
		}
		args = append(args, id(&entries[i]), value)
	}
	w.HSet(ctx, key, args...)
	return nil
}
