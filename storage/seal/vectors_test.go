package seal

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the current implementation")

// vectorFile holds known-answer vectors. Uncompressed chunks and values must
// be reproduced byte for byte; compressed chunks must open to their
// plaintext (their exact bytes depend on the S2 encoder version, their
// decoding does not).
type vectorFile struct {
	Chunks []chunkVector `json:"chunks"`
	Values []valueVector `json:"values"`
}

type chunkVector struct {
	Name       string `json:"name"`
	Key        string `json:"key"`
	Salt       string `json:"salt"`
	Object     string `json:"object"`
	Index      uint32 `json:"index"`
	Final      bool   `json:"final"`
	Plaintext  string `json:"plaintext"`
	Compressed bool   `json:"compressed"`
	Sealed     string `json:"sealed"`
}

type valueVector struct {
	Name    string `json:"name"`
	Key     string `json:"key"`
	Salt    string `json:"salt"`
	Context string `json:"context"`
	Value   string `json:"value"`
	Sealed  string `json:"sealed"`
}

const vectorPath = "testdata/vectors.json"

func generateVectors(t *testing.T) vectorFile {
	var vf vectorFile
	salt := selfTestSalt()
	chunks := []struct {
		name  string
		key   *Key
		id    ChunkID
		plain []byte
	}{
		{"empty final", testKey(0), testID(0, true), nil},
		{"short text", testKey(0), testID(1, false), []byte("Schriftsatz vom 3. Mai")},
		{"random 100", testKey(7), testID(2, false), randomBytes(7, 100)},
		{"random 5000 max index", testKey(7), ChunkID{Object: [16]byte{0xff, 0xfe}, Index: 1<<32 - 1, Final: true}, randomBytes(8, 5000)},
		{"text 2000 compressed", testKey(3), testID(3, false), textBytes(3, 2000)},
		{"zeros 10000 compressed", testKey(3), testID(4, true), make([]byte, 10000)},
	}
	for _, c := range chunks {
		sealed, err := sealWithSalt(nil, c.key, c.id, c.plain, salt)
		if err != nil {
			t.Fatal(err)
		}
		vf.Chunks = append(vf.Chunks, chunkVector{
			Name: c.name, Key: hex.EncodeToString(c.key[:]), Salt: hex.EncodeToString(salt[:]),
			Object: hex.EncodeToString(c.id.Object[:]), Index: c.id.Index, Final: c.id.Final,
			Plaintext: hex.EncodeToString(c.plain), Compressed: compressedFlag(sealed),
			Sealed: hex.EncodeToString(sealed),
		})
	}
	values := []struct {
		name       string
		key        *Key
		ctx, value []byte
	}{
		{"empty", testKey(0), nil, nil},
		{"namespace key", testKey(5), []byte("ns/kanzlei/datakey"), randomBytes(5, 32)},
	}
	for _, v := range values {
		sealed, err := sealValueWithSalt(v.key, v.ctx, v.value, salt)
		if err != nil {
			t.Fatal(err)
		}
		vf.Values = append(vf.Values, valueVector{
			Name: v.name, Key: hex.EncodeToString(v.key[:]), Salt: hex.EncodeToString(salt[:]),
			Context: hex.EncodeToString(v.ctx), Value: hex.EncodeToString(v.value), Sealed: hex.EncodeToString(sealed),
		})
	}
	return vf
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in %s: %v", vectorPath, err)
	}
	return b
}

func TestVectors(t *testing.T) {
	if *update {
		data, err := json.MarshalIndent(generateVectors(t), "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(vectorPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorPath, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(vectorPath)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	var vf vectorFile
	if err := json.Unmarshal(data, &vf); err != nil {
		t.Fatal(err)
	}
	if len(vf.Chunks) == 0 || len(vf.Values) == 0 {
		t.Fatalf("%s holds no vectors", vectorPath)
	}
	for _, v := range vf.Chunks {
		t.Run("chunk/"+v.Name, func(t *testing.T) {
			var key Key
			var salt [saltSize]byte
			id := ChunkID{Index: v.Index, Final: v.Final}
			copy(key[:], unhex(t, v.Key))
			copy(salt[:], unhex(t, v.Salt))
			copy(id.Object[:], unhex(t, v.Object))
			plain, sealed := unhex(t, v.Plaintext), unhex(t, v.Sealed)

			got, err := Open(nil, &key, id, sealed)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("Open(vector) = %v, plaintext equal %v", err, bytes.Equal(got, plain))
			}
			if compressedFlag(sealed) != v.Compressed {
				t.Errorf("vector's compressed flag = %v, want %v", compressedFlag(sealed), v.Compressed)
			}
			resealed, err := sealWithSalt(nil, &key, id, plain, &salt)
			if err != nil {
				t.Fatal(err)
			}
			if compressedFlag(resealed) != v.Compressed {
				t.Errorf("sealWithSalt compressed = %v, want %v", compressedFlag(resealed), v.Compressed)
			}
			if !v.Compressed && !bytes.Equal(resealed, sealed) {
				t.Errorf("sealWithSalt =\n%x\nwant\n%x", resealed, sealed)
			}
		})
	}
	for _, v := range vf.Values {
		t.Run("value/"+v.Name, func(t *testing.T) {
			var key Key
			var salt [saltSize]byte
			copy(key[:], unhex(t, v.Key))
			copy(salt[:], unhex(t, v.Salt))
			ctx, value, sealed := unhex(t, v.Context), unhex(t, v.Value), unhex(t, v.Sealed)
			got, err := OpenValue(&key, ctx, sealed)
			if err != nil || !bytes.Equal(got, value) {
				t.Fatalf("OpenValue(vector) = %v, value equal %v", err, bytes.Equal(got, value))
			}
			resealed, err := sealValueWithSalt(&key, ctx, value, &salt)
			if err != nil || !bytes.Equal(resealed, sealed) {
				t.Errorf("sealValueWithSalt = %x, %v\nwant %x", resealed, err, sealed)
			}
		})
	}
}
