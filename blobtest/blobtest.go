// Package blobtest provides a conformance suite for chat.BlobStore
// implementations.
//
// Every BlobStore in this module runs it unmodified, and so can a
// third-party one:
//
//	func TestBlobStore(t *testing.T) {
//		blobtest.Run(t, func(t *testing.T) chat.BlobStore {
//			return myblobs.New(t.TempDir())
//		})
//	}
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// Run checks that the stores returned by newStore keep every clause of the
// chat.BlobStore contract, each in its own subtest. newStore is called once
// per subtest and must return an empty store that shares nothing with the
// others; it registers its cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) chat.BlobStore) {
	for _, test := range suite {
		t.Run(test.name, func(t *testing.T) {
			test.run(t, newStore(t))
		})
	}
}

var suite = []struct {
	name string
	run  func(t *testing.T, s chat.BlobStore)
}{
	{"PutThenGet", testPutThenGet},
	{"UnknownSize", testUnknownSize},
	{"EmptyBlob", testEmptyBlob},
	{"GetSeeks", testGetSeeks},
	{"MissingIsNotFound", testMissing},
	{"PutReplaces", testPutReplaces},
	{"DeleteRemoves", testDelete},
	{"DeleteMissingSucceeds", testDeleteMissing},
	{"WrongSizeStoresNothing", testWrongSize},
	{"ReadErrorStoresNothing", testReadError},
	{"CancelledPutStoresNothing", testCancelledPut},
	{"KeysOutsideTheAlphabetAreInvalid", testBadKeys},
	{"OpenBlobOutlivesDeleteAndPut", testOpenBlobOutlives},
	{"ConcurrentPutsAndGetsSeeWholeBlobs", testConcurrent},
}

func put(t *testing.T, s chat.BlobStore, key, data, contentType string) {
	t.Helper()
	require.NoError(t, s.Put(context.Background(), key, strings.NewReader(data), int64(len(data)), contentType))
}

// read returns the blob under key and its content type.
func read(t *testing.T, s chat.BlobStore, key string) (string, chat.BlobInfo) {
	t.Helper()
	rc, info, err := s.Get(context.Background(), key)
	require.NoError(t, err)
	defer func() { require.NoError(t, rc.Close()) }()
	data, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), info.Size, "BlobInfo.Size of %q", key)
	return string(data), info
}

func requireMissing(t *testing.T, s chat.BlobStore, key string) {
	t.Helper()
	_, _, err := s.Get(context.Background(), key)
	require.ErrorIs(t, err, chat.ErrNotFound)
}

func testPutThenGet(t *testing.T, s chat.BlobStore) {
	put(t, s, "a1", "hello, blob", "text/plain; charset=utf-8")
	data, info := read(t, s, "a1")
	assert.Equal(t, "hello, blob", data)
	assert.Equal(t, "text/plain; charset=utf-8", info.ContentType)
	binary := string([]byte{0, 1, 2, 0xff, '\n', '\r'})
	put(t, s, "A_b-9", binary, "application/octet-stream")
	data, _ = read(t, s, "A_b-9")
	assert.Equal(t, binary, data)
}

func testUnknownSize(t *testing.T, s chat.BlobStore) {
	big := strings.Repeat("0123456789", 100_000)
	require.NoError(t, s.Put(context.Background(), "big", io.MultiReader(strings.NewReader(big)), -1, "application/octet-stream"))
	data, info := read(t, s, "big")
	assert.Equal(t, int64(len(big)), info.Size)
	assert.True(t, data == big, "the blob read back differs")
}

func testEmptyBlob(t *testing.T, s chat.BlobStore) {
	put(t, s, "empty", "", "application/octet-stream")
	data, info := read(t, s, "empty")
	assert.Empty(t, data)
	assert.Zero(t, info.Size)
}

func testGetSeeks(t *testing.T, s chat.BlobStore) {
	put(t, s, "seek", "0123456789", "text/plain")
	rc, _, err := s.Get(context.Background(), "seek")
	require.NoError(t, err)
	defer rc.Close()
	pos, err := rc.Seek(4, io.SeekStart)
	require.NoError(t, err)
	require.Equal(t, int64(4), pos)
	buf := make([]byte, 3)
	_, err = io.ReadFull(rc, buf)
	require.NoError(t, err)
	assert.Equal(t, "456", string(buf))
	end, err := rc.Seek(0, io.SeekEnd)
	require.NoError(t, err)
	assert.Equal(t, int64(10), end, "seeking to the end gives the size")
	pos, err = rc.Seek(-2, io.SeekCurrent)
	require.NoError(t, err)
	rest, err := io.ReadAll(rc)
	require.NoError(t, err)
	assert.Equal(t, int64(8), pos)
	assert.Equal(t, "89", string(rest))
}

func testMissing(t *testing.T, s chat.BlobStore) {
	requireMissing(t, s, "never")
}

func testPutReplaces(t *testing.T, s chat.BlobStore) {
	put(t, s, "k", "first", "text/plain")
	put(t, s, "k", "second, longer", "application/pdf")
	data, info := read(t, s, "k")
	assert.Equal(t, "second, longer", data)
	assert.Equal(t, "application/pdf", info.ContentType)
}

func testDelete(t *testing.T, s chat.BlobStore) {
	put(t, s, "gone", "x", "text/plain")
	put(t, s, "kept", "y", "text/plain")
	require.NoError(t, s.Delete(context.Background(), "gone"))
	requireMissing(t, s, "gone")
	data, _ := read(t, s, "kept")
	assert.Equal(t, "y", data)
}

func testDeleteMissing(t *testing.T, s chat.BlobStore) {
	require.NoError(t, s.Delete(context.Background(), "never"))
	put(t, s, "twice", "x", "text/plain")
	require.NoError(t, s.Delete(context.Background(), "twice"))
	require.NoError(t, s.Delete(context.Background(), "twice"))
}

func testWrongSize(t *testing.T, s chat.BlobStore) {
	ctx := context.Background()
	err := s.Put(ctx, "short", strings.NewReader("abc"), 4, "text/plain")
	require.ErrorIs(t, err, chat.ErrInvalid, "fewer bytes than size")
	requireMissing(t, s, "short")
	err = s.Put(ctx, "long", strings.NewReader("abcde"), 4, "text/plain")
	require.ErrorIs(t, err, chat.ErrInvalid, "more bytes than size")
	requireMissing(t, s, "long")

	put(t, s, "kept", "old", "text/plain")
	require.ErrorIs(t, s.Put(ctx, "kept", strings.NewReader("new"), 2, "text/plain"), chat.ErrInvalid)
	data, _ := read(t, s, "kept")
	assert.Equal(t, "old", data, "a failed Put leaves the key's blob as it was")
}

var errBroken = errors.New("blobtest: the stream broke")

// brokenReader gives n bytes, then fails.
type brokenReader struct{ n int }

func (b *brokenReader) Read(p []byte) (int, error) {
	if b.n == 0 {
		return 0, errBroken
	}
	k := min(len(p), b.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	b.n -= k
	return k, nil
}

func testReadError(t *testing.T, s chat.BlobStore) {
	ctx := context.Background()
	require.ErrorIs(t, s.Put(ctx, "broken", &brokenReader{n: 100_000}, -1, "text/plain"), errBroken)
	requireMissing(t, s, "broken")

	put(t, s, "kept", "old", "text/plain")
	require.ErrorIs(t, s.Put(ctx, "kept", &brokenReader{n: 10}, -1, "text/plain"), errBroken)
	data, _ := read(t, s, "kept")
	assert.Equal(t, "old", data)
}

// cancelReader cancels its context after its first read.
type cancelReader struct {
	cancel context.CancelFunc
	r      io.Reader
}

func (c cancelReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p[:min(len(p), 10)])
	c.cancel()
	return n, err
}

func testCancelledPut(t *testing.T, s chat.BlobStore) {
	ctx, cancel := context.WithCancel(context.Background())
	err := s.Put(ctx, "cancelled", cancelReader{cancel: cancel, r: strings.NewReader(strings.Repeat("x", 100_000))}, -1, "text/plain")
	require.ErrorIs(t, err, context.Canceled)
	requireMissing(t, s, "cancelled")

	done, stop := context.WithCancel(context.Background())
	stop()
	_, _, err = s.Get(done, "cancelled")
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, s.Delete(done, "cancelled"), context.Canceled)
}

func testBadKeys(t *testing.T, s chat.BlobStore) {
	ctx := context.Background()
	for _, key := range []string{"", ".", "..", "../x", "a/b", `a\b`, "a.b", ".hidden", "a b", "a\x00b", "é", strings.Repeat("k", 129)} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			require.ErrorIs(t, s.Put(ctx, key, strings.NewReader("x"), 1, "text/plain"), chat.ErrInvalid)
			_, _, err := s.Get(ctx, key)
			require.ErrorIs(t, err, chat.ErrInvalid)
			require.ErrorIs(t, s.Delete(ctx, key), chat.ErrInvalid)
		})
	}
	put(t, s, strings.Repeat("k", 128), "longest", "text/plain")
}

func testOpenBlobOutlives(t *testing.T, s chat.BlobStore) {
	put(t, s, "k", "first", "text/plain")
	rc, _, err := s.Get(context.Background(), "k")
	require.NoError(t, err)
	defer rc.Close()
	put(t, s, "k", "second", "text/plain")
	data, err := io.ReadAll(rc)
	require.NoError(t, err)
	assert.Equal(t, "first", string(data), "a Put does not change an open blob")

	rc2, _, err := s.Get(context.Background(), "k")
	require.NoError(t, err)
	defer rc2.Close()
	require.NoError(t, s.Delete(context.Background(), "k"))
	data, err = io.ReadAll(rc2)
	require.NoError(t, err)
	assert.Equal(t, "second", string(data), "a Delete does not take an open blob away")
}

func testConcurrent(t *testing.T, s chat.BlobStore) {
	const writers, rounds = 4, 20
	blobs := make([]string, writers)
	for i := range blobs {
		blobs[i] = strings.Repeat(string(rune('a'+i)), 10_000+i)
	}
	put(t, s, "k", blobs[0], "text/plain")
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers*rounds)
	for i := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range rounds {
				if err := s.Put(context.Background(), "k", strings.NewReader(blobs[i]), int64(len(blobs[i])), "text/plain"); err != nil {
					errs <- err
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range rounds {
				rc, _, err := s.Get(context.Background(), "k")
				if err != nil {
					errs <- err
					continue
				}
				data, err := io.ReadAll(rc)
				_ = rc.Close()
				if err == nil && !isOneOf(data, blobs) {
					err = fmt.Errorf("read %d bytes that are none of the blobs put", len(data))
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func isOneOf(data []byte, blobs []string) bool {
	for _, b := range blobs {
		if bytes.Equal(data, []byte(b)) {
			return true
		}
	}
	return false
}
