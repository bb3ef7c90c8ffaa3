package seal_test

import (
	"crypto/rand"
	"fmt"

	"tresor/storage/seal"
)

func Example() {
	var key seal.Key
	rand.Read(key[:])
	id := seal.ChunkID{Object: [16]byte{1, 2, 3}, Index: 0, Final: true}

	sealed, err := seal.Seal(nil, &key, id, []byte("Schriftsatz an das Landgericht"))
	if err != nil {
		panic(err)
	}
	plain, err := seal.Open(nil, &key, id, sealed)
	fmt.Printf("%s %v\n", plain, err)

	id.Final = false // e.g. a truncated object whose real last chunk is gone
	_, err = seal.Open(nil, &key, id, sealed)
	fmt.Println(err)
	// Output:
	// Schriftsatz an das Landgericht <nil>
	// seal: message authentication failed
}
