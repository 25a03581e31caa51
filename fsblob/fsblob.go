// Package fsblob provides a chat.BlobStore that keeps each blob in a file
// of one directory.
//
//	blobs, err := fsblob.New("/var/lib/chat/blobs")
//	defer blobs.Close()
//	svc, err := chat.New(chat.Config{Store: store, Blobs: blobs})
//
// Every file access goes through an os.Root opened on the directory, and
// keys are plain names ([0-9A-Za-z_-], see chat.BlobStore), so no key, and
// no symbolic link planted in the directory, reaches a file outside it. A
// Put writes a temporary file in the directory, syncs it and renames it
// over the key's file, so that a reader sees the old blob or the new one
// and a crash leaves at most a temporary file (named ".put-*"), never part
// of a blob under a key. Each file starts with a short header holding the
// content type.
//
// Several processes may share the directory (on one machine, or on a
// network file system with atomic rename); the Store keeps no state of its
// own besides the open directory.
package fsblob

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/internal/blobkey"
)

var _ chat.BlobStore = (*Store)(nil)

// header opens every blob file; the content type follows on the same line.
const header = "embedchat-blob 1 "

// maxContentType bounds the content type a blob is stored with.
const maxContentType = 255

// Store is a chat.BlobStore in a directory. It is safe for concurrent use.
type Store struct {
	root *os.Root
}

// New returns a Store keeping its blobs in dir, which it creates (mode
// 0700) if it does not exist. Close it when done.
func New(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("fsblob: new: dir is empty")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("fsblob: new: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("fsblob: new: %w", err)
	}
	return &Store{root: root}, nil
}

// Close releases the directory. Blobs opened by Get stay readable until
// they are closed.
func (s *Store) Close() error { return s.root.Close() }

// Put implements chat.BlobStore.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (err error) {
	if err := blobkey.Check(key); err != nil {
		return fmt.Errorf("fsblob: put blob: %w", err)
	}
	if len(contentType) > maxContentType || strings.ContainsAny(contentType, "\r\n") {
		return fmt.Errorf("fsblob: put blob %q: content type is not one line of at most %d bytes: %w", key, maxContentType, chat.ErrInvalid)
	}
	tmp, f, err := s.createTemp()
	if err != nil {
		return fmt.Errorf("fsblob: put blob %q: %w", key, err)
	}
	defer func() {
		if f != nil {
			_ = f.Close()
		}
		if err != nil {
			_ = s.root.Remove(tmp)
		}
	}()
	if _, err := io.WriteString(f, header+contentType+"\n"); err != nil {
		return fmt.Errorf("fsblob: put blob %q: %w", key, err)
	}
	n, err := io.Copy(f, blobkey.ContextReader(ctx, r))
	if err != nil {
		return fmt.Errorf("fsblob: put blob %q: %w", key, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("fsblob: put blob %q: read %d bytes, want %d: %w", key, n, size, chat.ErrInvalid)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsblob: put blob %q: %w", key, err)
	}
	err = f.Close()
	f = nil
	if err != nil {
		return fmt.Errorf("fsblob: put blob %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fsblob: put blob %q: %w", key, err)
	}
	if err := s.root.Rename(tmp, key); err != nil {
		return fmt.Errorf("fsblob: put blob %q: %w", key, err)
	}
	return s.syncDir()
}

// createTemp creates a new file for Put whose name no key can take: keys
// have no dot.
func (s *Store) createTemp() (string, *os.File, error) {
	for {
		var b [12]byte
		_, _ = rand.Read(b[:])
		name := ".put-" + hex.EncodeToString(b[:])
		f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return name, f, err
	}
}

// syncDir makes a rename durable: until the directory is synced, a crash
// may forget it.
func (s *Store) syncDir() error {
	d, err := s.root.Open(".")
	if err != nil {
		return fmt.Errorf("fsblob: sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsblob: sync directory: %w", err)
	}
	return nil
}

// Get implements chat.BlobStore.
func (s *Store) Get(ctx context.Context, key string) (io.ReadSeekCloser, chat.BlobInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, chat.BlobInfo{}, err
	}
	if err := blobkey.Check(key); err != nil {
		return nil, chat.BlobInfo{}, fmt.Errorf("fsblob: get blob: %w", err)
	}
	f, err := s.root.Open(key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, chat.BlobInfo{}, fmt.Errorf("fsblob: blob %q: %w", key, chat.ErrNotFound)
	}
	if err != nil {
		return nil, chat.BlobInfo{}, fmt.Errorf("fsblob: get blob %q: %w", key, err)
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, chat.BlobInfo{}, fmt.Errorf("fsblob: get blob %q: %w", key, err)
	}
	line, err := bufio.NewReaderSize(io.LimitReader(f, int64(len(header)+maxContentType+1)), 16).ReadString('\n')
	contentType, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), header)
	if err != nil || !ok || !info.Mode().IsRegular() {
		_ = f.Close()
		return nil, chat.BlobInfo{}, fmt.Errorf("fsblob: get blob %q: the file is not a blob", key)
	}
	start := int64(len(line))
	b := blobFile{SectionReader: io.NewSectionReader(f, start, info.Size()-start), f: f}
	return b, chat.BlobInfo{Size: info.Size() - start, ContentType: contentType}, nil
}

// blobFile reads a blob's bytes, after the header, from its open file.
type blobFile struct {
	*io.SectionReader
	f *os.File
}

func (b blobFile) Close() error { return b.f.Close() }

// Delete implements chat.BlobStore.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := blobkey.Check(key); err != nil {
		return fmt.Errorf("fsblob: delete blob: %w", err)
	}
	if err := s.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fsblob: delete blob %q: %w", key, err)
	}
	return nil
}
