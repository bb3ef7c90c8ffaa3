package erasure_test

import (
	"bytes"
	"fmt"

	"tresor/storage/erasure"
)

// Example codes a chunk 4+2, frames each shard as a block, loses one block
// and damages another, and still gets the chunk back.
func Example() {
	c, err := erasure.New(4, 2)
	if err != nil {
		panic(err)
	}
	chunk := bytes.Repeat([]byte("sealed chunk bytes "), 1000)
	shards, err := c.Encode(nil, chunk)
	if err != nil {
		panic(err)
	}
	blocks := make([][]byte, len(shards))
	for i, s := range shards {
		h := erasure.BlockHeader{Chunk: 0, Shard: uint8(i), K: 4, M: 2, DataLen: uint32(len(chunk))}
		blocks[i] = erasure.AppendBlock(nil, h, s)
	}

	blocks[1] = nil     // disk 1 is gone
	blocks[3][100] ^= 1 // bitrot on disk 3

	read := make([][]byte, len(blocks))
	for i, b := range blocks {
		if b == nil {
			continue
		}
		_, payload, err := erasure.ParseBlock(b)
		if err != nil {
			fmt.Printf("shard %d: %v\n", i, err)
			continue // treated as missing
		}
		read[i] = payload
	}
	if err := c.ReconstructData(read); err != nil {
		panic(err)
	}
	got, err := c.Join(nil, read, len(chunk))
	fmt.Println(bytes.Equal(got, chunk), err)
	// Output:
	// shard 3: erasure: corrupt block: checksum c698d1c6, computed d1f692cb
	// true <nil>
}
