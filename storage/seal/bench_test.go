package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"testing"
)

func BenchmarkSeal(b *testing.B) {
	for _, in := range []struct {
		name  string
		plain []byte
	}{
		{"random4MiB", randomBytes(1, 4<<20)},
		{"text4MiB", textBytes(1, 4<<20)},
		{"random64KiB", randomBytes(1, 64<<10)},
	} {
		key, id := testKey(1), testID(0, false)
		sealed, _ := Seal(nil, key, id, in.plain)
		b.Run("Seal/"+in.name, func(b *testing.B) {
			dst := make([]byte, 0, BufferSize(len(in.plain)))
			b.SetBytes(int64(len(in.plain)))
			for b.Loop() {
				if _, err := Seal(dst[:0], key, id, in.plain); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(sealed))/float64(len(in.plain)), "ratio")
		})
		b.Run("Open/"+in.name, func(b *testing.B) {
			dst := make([]byte, 0, 2*len(in.plain))
			b.SetBytes(int64(len(in.plain)))
			for b.Loop() {
				if _, err := Open(dst[:0], key, id, sealed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGCMReference is bare AES-256-GCM over 4 MiB: the ceiling for
// Seal and Open of incompressible data.
func BenchmarkGCMReference(b *testing.B) {
	block, _ := aes.NewCipher(make([]byte, 32))
	aead, _ := cipher.NewGCM(block)
	plain := randomBytes(1, 4<<20)
	dst := make([]byte, 0, len(plain)+aead.Overhead())
	nonce := make([]byte, aead.NonceSize())
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		aead.Seal(dst[:0], nonce, plain, nil)
	}
}
