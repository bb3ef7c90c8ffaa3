package seal

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Known answers for SelfTest. They pin the format and the key derivation:
// a change here is a change of the on-disk format.
const (
	// sealWithSalt(selfTestKey, selfTestID, selfTestPlain, selfTestSalt).
	selfTestChunkHex = "0100a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf0000002302c71715eae8fade65e90af5ba4844de82076a0c0bdfe550515e4ec8c44a6c8e0b661c5ea62193f162086e72c622baab71aec6"
	// A compressed chunk: Open must return selfTestCompressible. It is a
	// decoding vector only, so that a new S2 encoder does not fail start.
	selfTestCompressedHex = "0101a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf000003e89eb21212f7ffa9c272a80db0ac5d5b98c91a631a0cc5b65a59541786f5321bfdbf01b7732dd1ae3248229657cacdcd3e14bb"
	// sealValueWithSalt(selfTestKey, "tresor self-test", selfTestPlain, selfTestSalt).
	selfTestValueHex = "01a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfdc9f4bd2ba41ec1ed3e876b1ccd332e6d9e8bcb3016c23855710da326744edece24e3e108d0d8cd3b3824a74e9ff35322af3a7"
)

const selfTestPlain = "tresor seal self-test: known answer"

func selfTestKey() *Key {
	var k Key
	for i := range k {
		k[i] = byte(i)
	}
	return &k
}

func selfTestSalt() *[saltSize]byte {
	var s [saltSize]byte
	for i := range s {
		s[i] = byte(0xa0 + i)
	}
	return &s
}

func selfTestID() ChunkID {
	id := ChunkID{Index: 7, Final: true}
	for i := range id.Object {
		id.Object[i] = byte(0x40 + i)
	}
	return id
}

func selfTestCompressible() []byte {
	return []byte(strings.Repeat("tresor keeps files safe. ", 40))
}

// SelfTest checks sealing against known answers and that tampering is
// detected. The daemon runs it at start and refuses to serve when it fails.
func SelfTest() error {
	key, id := selfTestKey(), selfTestID()
	plain := []byte(selfTestPlain)

	want, _ := hex.DecodeString(selfTestChunkHex)
	got, err := sealWithSalt(nil, key, id, plain, selfTestSalt())
	if err != nil {
		return fmt.Errorf("seal self-test: seal: %w", err)
	}
	if !bytes.Equal(got, want) {
		return errors.New("seal self-test: sealed chunk differs from the known answer")
	}
	opened, err := Open(nil, key, id, want)
	if err != nil || !bytes.Equal(opened, plain) {
		return fmt.Errorf("seal self-test: open known chunk: %v", err)
	}
	other := id
	other.Final = false
	if _, err := Open(nil, key, other, want); !errors.Is(err, ErrUnauthenticated) {
		return fmt.Errorf("seal self-test: chunk opened under a wrong ChunkID (err %v)", err)
	}
	tampered := bytes.Clone(want)
	tampered[len(tampered)-tagSize-1] ^= 1
	if _, err := Open(nil, key, id, tampered); !errors.Is(err, ErrUnauthenticated) {
		return fmt.Errorf("seal self-test: tampered chunk opened (err %v)", err)
	}

	compressed, _ := hex.DecodeString(selfTestCompressedHex)
	opened, err = Open(nil, key, id, compressed)
	if err != nil || !bytes.Equal(opened, selfTestCompressible()) {
		return fmt.Errorf("seal self-test: open known compressed chunk: %v", err)
	}

	wantValue, _ := hex.DecodeString(selfTestValueHex)
	gotValue, err := sealValueWithSalt(key, []byte("tresor self-test"), plain, selfTestSalt())
	if err != nil {
		return fmt.Errorf("seal self-test: seal value: %w", err)
	}
	if !bytes.Equal(gotValue, wantValue) {
		return errors.New("seal self-test: sealed value differs from the known answer")
	}
	if v, err := OpenValue(key, []byte("tresor self-test"), wantValue); err != nil || !bytes.Equal(v, plain) {
		return fmt.Errorf("seal self-test: open known value: %v", err)
	}
	if _, err := OpenValue(key, []byte("other context"), wantValue); !errors.Is(err, ErrUnauthenticated) {
		return fmt.Errorf("seal self-test: value opened under a wrong context (err %v)", err)
	}
	return nil
}
