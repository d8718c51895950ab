package audit

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// appendScript adds a batch of entries to the stream in one atomic step.
// It skips every entry whose seq is not above the last seq stored for its
// instance in the writers hash, so a retried batch or a replayed spool
// never adds an entry twice.
//
// KEYS[1] stream, KEYS[2] writers hash.
// ARGV[1] field count n, ARGV[2] and ARGV[3] positions (1-based) of the
// instance and seq fields, ARGV[4..3+n] field names, ARGV[4+n] the entries
// (see appendRecords). Each XADD gets the field names and values in that
// order.
//
// The entries travel as one argument, not n arguments each, because
// go-redis copies every argument into a new slice of interfaces per call,
// which cost about 400 bytes per record in BenchmarkWriter (BatchSize 512).
// The struct library that Redis bundles with Lua (used here with Redis
// 7.0) splits them with one struct.unpack call per entry: "I4c0" reads a
// 4-byte length and then a string of that length.
//
// The last seq is written back as the argument string, not a Lua number,
// because Lua prints numbers above 1e14 in exponent form. Seq comparisons
// go through Lua numbers (doubles), which are exact up to 2^53.
var appendScript = redis.NewScript(`
local n = tonumber(ARGV[1])
local posInstance = tonumber(ARGV[2])
local posSeq = tonumber(ARGV[3])
local records = ARGV[4 + n]
local format = '>' .. string.rep('I4c0', n)
local last = {}
local lastArg = {}
local written = 0
local xadd = {KEYS[1], '*'}
for i = 1, n do
  xadd[2 * i + 1] = ARGV[3 + i]
end
local pos = 1
local size = #records
while pos <= size do
  local v = {struct.unpack(format, records, pos)}
  pos = v[n + 1]
  local instance = v[posInstance]
  local seqArg = v[posSeq]
  local seq = tonumber(seqArg)
  if last[instance] == nil then
    last[instance] = tonumber(redis.call('HGET', KEYS[2], instance) or '0')
  end
  if seq > last[instance] then
    for i = 1, n do
      xadd[2 * i + 2] = v[i]
    end
    redis.call('XADD', unpack(xadd))
    last[instance] = seq
    lastArg[instance] = seqArg
    written = written + 1
  end
end
for instance, seqArg in pairs(lastArg) do
  redis.call('HSET', KEYS[2], instance, seqArg)
end
return written
`)

// writersKey returns the key of the hash that stores the last seq written
// by each writer instance. It lands in the same Redis Cluster slot as the
// stream, as one script needs both keys: a stream key with a hash tag
// keeps it, one without gets the whole key as its tag.
func writersKey(stream string) (string, error) {
	if hasHashTag(stream) {
		return stream + ":writers", nil
	}
	if strings.ContainsAny(stream, "{}") {
		return "", fmt.Errorf("invalid audit stream key %q: braces must form a Redis Cluster hash tag such as {audit}", stream)
	}
	return "{" + stream + "}:writers", nil
}

// hasHashTag reports whether Redis Cluster hashes only part of key: the
// text between the first "{" and the next "}", when that text is not
// empty.
func hasHashTag(key string) bool {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return false
	}
	end := strings.IndexByte(key[open+1:], '}')
	return end > 0
}

// scriptArgs builds the arguments of appendScript for entries in args,
// with all the values encoded in records, and returns both for reuse.
// Field names go in as *string, which go-redis writes as the string it
// points to, because converting a pointer to an interface does not
// allocate. The caller clears args after the call.
func scriptArgs(args []any, records []byte, entries []entry) ([]any, []byte) {
	args = append(args[:0], numFields, fieldInstance+1, fieldSeq+1)
	for i := range fieldNames {
		args = append(args, &fieldNames[i])
	}
	records = appendRecords(records[:0], entries)
	return append(args, records), records
}

// appendRecords appends the values of entries, in order, each as its
// length in bytes (4-byte big-endian integer) followed by the value.
func appendRecords(records []byte, entries []entry) []byte {
	for i := range entries {
		for _, v := range entries[i] {
			records = binary.BigEndian.AppendUint32(records, uint32(len(v)))
			records = append(records, v...)
		}
	}
	return records
}

// appendEntries runs appendScript for entries and returns how many it
// added; the rest were in the stream already.
func (wk *worker) appendEntries(entries []entry) (int, error) {
	w := wk.w
	wk.args, wk.records = scriptArgs(wk.args, wk.records, entries)
	n, err := appendScript.Run(w.runCtx, w.client, w.keys, wk.args...).Int()
	clear(wk.args)
	if err != nil {
		return 0, fmt.Errorf("appending %d audit records to stream %q: %w", len(entries), w.stream, err)
	}
	return n, nil
}

// lastSeqs reads the writers hash of stream: the last seq each writer
// instance added.
func lastSeqs(ctx context.Context, client redis.UniversalClient, stream string) (map[string]uint64, error) {
	key, err := writersKey(stream)
	if err != nil {
		return nil, err
	}
	values, err := client.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("reading writers hash %q: %w", key, err)
	}
	last := make(map[string]uint64, len(values))
	for instance, v := range values {
		seq, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("reading writers hash %q: invalid seq %q for instance %q", key, v, instance)
		}
		last[instance] = seq
	}
	return last, nil
}
