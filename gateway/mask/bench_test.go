package mask

import (
	"math/rand/v2"
	"testing"
)

func benchmarkApply(b *testing.B, size int, strat Strategies) {
	rules, err := Compile(personFields)
	if err != nil {
		b.Fatal(err)
	}
	body := personBody(b, rand.New(rand.NewPCG(1, 2)), size)
	m := &Masker{Key: []byte("benchmark key")}
	dst := make([]byte, 0, 2*len(body))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := m.Apply(dst[:0], body, rules, nil, strat); err != nil {
			b.Fatal(err)
		}
	}
}

// partialStrategies mask every declared class partially, the customary
// display form.
var partialStrategies = Strategies{
	"name": Partial, "id_number": Partial, "phone": Partial, "address": Partial,
}

// hashStrategies hash identity numbers and phones, the form for joining
// records; every hash costs two SHA-256 blocks.
var hashStrategies = Strategies{
	"name": Partial, "id_number": Hash, "phone": Hash, "address": Remove,
}

func BenchmarkApply2KB(b *testing.B)      { benchmarkApply(b, 2<<10, partialStrategies) }
func BenchmarkApply64KB(b *testing.B)     { benchmarkApply(b, 64<<10, partialStrategies) }
func BenchmarkApply64KBHash(b *testing.B) { benchmarkApply(b, 64<<10, hashStrategies) }
