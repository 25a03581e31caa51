package chat_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

// attachServer is a REST server with attachments on memory stores.
type attachServer struct {
	svc   *chat.Service
	srv   *chattest.Server
	blobs *memory.BlobStore
}

func newAttachServer(t *testing.T, cfg chat.Config) attachServer {
	t.Helper()
	blobs := memory.NewBlobStore()
	if cfg.Blobs == nil {
		cfg.Blobs = blobs
	}
	svc := chattest.NewService(t, cfg)
	srv := chattest.NewServer(t, svc)
	validateAgainstOpenAPI(t, srv)
	return attachServer{svc: svc, srv: srv, blobs: blobs}
}

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))))
	return buf.Bytes()
}

// upload posts body to chatID's attachments as user, with contentType
// ("application/octet-stream" when empty) and name.
func (a attachServer) upload(user, chatID, name, contentType string, body []byte, opts ...chattest.RequestOption) chattest.Response {
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	path := "/chats/" + chatID + "/attachments"
	if name != "" {
		path += "?name=" + url.QueryEscape(name)
	}
	opts = append([]chattest.RequestOption{chattest.WithHeader("Content-Type", contentType)}, opts...)
	return a.srv.As(user).Do(http.MethodPost, path, body, opts...)
}

func (a attachServer) mustUpload(t *testing.T, user, chatID, name string, body []byte) chat.Attachment {
	t.Helper()
	r := a.upload(user, chatID, name, "", body)
	require.Equal(t, http.StatusCreated, r.Status, "upload: %s", r.Body)
	var att chat.Attachment
	r.Decode(t, &att)
	return att
}

func (a attachServer) download(user, chatID, id string, opts ...chattest.RequestOption) chattest.Response {
	return a.srv.As(user).Do(http.MethodGet, "/chats/"+chatID+"/attachments/"+id, nil, opts...)
}

func (a attachServer) send(user, chatID string, req map[string]any) chattest.Response {
	return a.srv.Do(user, http.MethodPost, "/chats/"+chatID+"/messages", req)
}

func TestAttachmentFlow(t *testing.T) {
	a := newAttachServer(t, chat.Config{})
	c := restCreateChat(t, a.srv, "alice", restGroup("bob"))
	img := pngBytes(t, 3, 2)

	att := a.mustUpload(t, "alice", c.ID, "pic.png", img)
	assert.Equal(t, c.ID, att.ChatID)
	assert.Equal(t, "alice", att.Uploader)
	assert.Equal(t, "image/png", att.ContentType)
	assert.Equal(t, int64(len(img)), att.Size)
	assert.Equal(t, "pic.png", att.Name)
	assert.Equal(t, 3, att.Width)
	assert.Equal(t, 2, att.Height)
	assert.Zero(t, att.MessageSeq)

	restRequireError(t, a.download("bob", c.ID, att.ID), http.StatusNotFound, "not_found")
	r := a.download("alice", c.ID, att.ID)
	require.Equal(t, http.StatusOK, r.Status, "the uploader sees an unsent upload")
	require.Equal(t, img, r.Body)

	r = a.send("alice", c.ID, map[string]any{"text": "", "attachments": []string{att.ID}})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	m := restMessageObject(t, r.Body)
	require.Len(t, m.Attachments, 1)
	att.MessageSeq = m.Seq
	assert.Equal(t, att, m.Attachments[0])

	r = a.download("bob", c.ID, att.ID)
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, img, r.Body)
	assert.Equal(t, "image/png", r.Header.Get("Content-Type"))
	assert.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
	assert.Contains(t, r.Header.Get("Content-Security-Policy"), "sandbox")
	assert.Equal(t, `inline; filename=pic.png`, r.Header.Get("Content-Disposition"))

	r = a.download("bob", c.ID, att.ID, chattest.WithHeader("Range", "bytes=1-4"))
	require.Equal(t, http.StatusPartialContent, r.Status)
	assert.Equal(t, img[1:5], r.Body)
	assert.Equal(t, fmt.Sprintf("bytes 1-4/%d", len(img)), r.Header.Get("Content-Range"))
	restRequireError(t, a.download("bob", c.ID, att.ID, chattest.WithHeader("Range", "bytes=100000-")),
		http.StatusRequestedRangeNotSatisfiable, "range_not_satisfiable")
	r = a.download("bob", c.ID, att.ID, chattest.WithHeader("If-None-Match", `"`+att.ID+`"`))
	assert.Equal(t, http.StatusNotModified, r.Status)

	page := restListMessages(t, a.srv, "bob", c.ID, "")
	require.Len(t, page.Messages, 1)
	assert.Equal(t, []chat.Attachment{att}, page.Messages[0].Attachments)

	// Resuming replays the message with its attachments.
	_, replay := chattest.NewServer(t, a.svc).Connect("bob", map[string]int64{c.ID: 0})
	var replayed *chat.Message
	for _, ev := range replay {
		if ev.Type == chat.EventMessageCreated {
			replayed = ev.Message
		}
	}
	require.NotNil(t, replayed)
	assert.Equal(t, []chat.Attachment{att}, replayed.Attachments)

	r = a.srv.Do("alice", http.MethodDelete, fmt.Sprintf("/chats/%s/messages/%d", c.ID, m.Seq), nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Empty(t, restMessageObject(t, r.Body).Attachments, "a tombstone has no attachments")
	restRequireError(t, a.download("bob", c.ID, att.ID), http.StatusNotFound, "not_found")
	restRequireError(t, a.download("alice", c.ID, att.ID), http.StatusNotFound, "not_found")
	assert.Zero(t, a.blobs.Len(), "deleting the message deleted the attachment's bytes")
}

// Files that are no images are downloads, and what a browser would run is
// sandboxed even where the host allows it.
func TestAttachmentDownloadIsNeverActiveContent(t *testing.T) {
	a := newAttachServer(t, chat.Config{Attachments: chat.AttachmentConfig{
		AllowedTypes: []string{"text/plain", "text/html", "text/xml"},
	}})
	c := restCreateChat(t, a.srv, "alice", restGroup("bob"))
	for _, tc := range []struct{ name, body, contentType string }{
		{"notes.txt", "just some notes", "text/plain; charset=utf-8"},
		{"page.html", "<html><script>alert(1)</script></html>", "text/html; charset=utf-8"},
		{"logo.svg", `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`, "text/xml; charset=utf-8"},
	} {
		att := a.mustUpload(t, "alice", c.ID, tc.name, []byte(tc.body))
		assert.Equal(t, tc.contentType, att.ContentType, tc.name)
		r := a.download("alice", c.ID, att.ID)
		require.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, tc.contentType, r.Header.Get("Content-Type"), tc.name)
		assert.Equal(t, "attachment; filename="+tc.name, r.Header.Get("Content-Disposition"), tc.name)
		assert.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"), tc.name)
		assert.Equal(t, "default-src 'none'; sandbox", r.Header.Get("Content-Security-Policy"), tc.name)
	}
}

func TestAttachmentBadRequests(t *testing.T) {
	a := newAttachServer(t, chat.Config{Attachments: chat.AttachmentConfig{MaxBytes: 1 << 10, MaxPerMessage: 2}})
	c := restCreateChat(t, a.srv, "alice", restGroup("bob"))
	other := restCreateChat(t, a.srv, "alice", restGroup("carol"))
	img := pngBytes(t, 1, 1)
	mine := a.mustUpload(t, "alice", c.ID, "", img)
	assert.Equal(t, "attachment", mine.Name, "the default name")
	bobs := a.mustUpload(t, "bob", c.ID, "", img)
	elsewhere := a.mustUpload(t, "alice", other.ID, "", img)
	sent := a.mustUpload(t, "alice", c.ID, "", img)
	require.Equal(t, http.StatusCreated, a.send("alice", c.ID, map[string]any{"text": "x", "attachments": []string{sent.ID}}).Status)
	extra := []string{a.mustUpload(t, "alice", c.ID, "", img).ID, a.mustUpload(t, "alice", c.ID, "", img).ID}

	t.Run("400", func(t *testing.T) {
		restRequireError(t, a.upload("alice", c.ID, "", "", nil), http.StatusBadRequest, "invalid_request")
		for _, name := range []string{"a/b.png", `a\b.png`, "..", "tab\there", strings.Repeat("n", 256)} {
			restRequireError(t, a.upload("alice", c.ID, name, "", img), http.StatusBadRequest, "invalid_request")
		}
		for name, ids := range map[string][]string{
			"unknown":         {"0123456789abcdef0123456789abcdef"},
			"another's":       {bobs.ID},
			"another chat's":  {elsewhere.ID},
			"already sent":    {sent.ID},
			"listed twice":    {mine.ID, mine.ID},
			"too many":        {mine.ID, extra[0], extra[1]},
			"not an id":       {""},
			"valid then bad":  {mine.ID, bobs.ID},
			"more than limit": {extra[0], extra[1], mine.ID},
		} {
			r := a.send("alice", c.ID, map[string]any{"text": "x", "attachments": ids})
			restRequireError(t, r, http.StatusBadRequest, "invalid_request")
			t.Logf("%s: %s", name, r.Body)
		}
		restRequireError(t, a.send("alice", c.ID, map[string]any{"text": ""}), http.StatusBadRequest, "invalid_request")
		restRequireError(t, a.send("alice", c.ID, map[string]any{"text": " ", "attachments": []string{mine.ID}}), http.StatusBadRequest, "invalid_request")
	})
	t.Run("403", func(t *testing.T) {
		r := a.upload("alice", c.ID, "", "", img, chattest.WithHeader("Sec-Fetch-Site", "cross-site"), chattest.WithHeader("Origin", "https://evil.example"))
		restRequireError(t, r, http.StatusForbidden, "forbidden")
	})
	t.Run("404", func(t *testing.T) {
		restRequireError(t, a.upload("mallory", c.ID, "", "", img), http.StatusNotFound, "not_found")
		restRequireError(t, a.upload("alice", "no-such-chat", "", "", img), http.StatusNotFound, "not_found")
		restRequireError(t, a.download("mallory", c.ID, sent.ID), http.StatusNotFound, "not_found")
		restRequireError(t, a.download("alice", c.ID, "0123456789abcdef0123456789abcdef"), http.StatusNotFound, "not_found")
		restRequireError(t, a.download("alice", c.ID, elsewhere.ID), http.StatusNotFound, "not_found")
		restRequireError(t, a.download("alice", c.ID, strings.Repeat("x", 200)), http.StatusNotFound, "not_found")
		restRequireError(t, a.send("mallory", c.ID, map[string]any{"text": "x", "attachments": []string{mine.ID}}), http.StatusNotFound, "not_found")
	})
	t.Run("405", func(t *testing.T) {
		restRequireError(t, a.srv.Do("alice", http.MethodGet, "/chats/"+c.ID+"/attachments", nil), http.StatusMethodNotAllowed, "method_not_allowed")
		restRequireError(t, a.srv.Do("alice", http.MethodDelete, "/chats/"+c.ID+"/attachments/"+mine.ID, nil), http.StatusMethodNotAllowed, "method_not_allowed")
	})
	t.Run("413", func(t *testing.T) {
		big := bytes.Repeat([]byte("a"), 1<<10+1)
		restRequireError(t, a.upload("alice", c.ID, "", "", big), http.StatusRequestEntityTooLarge, "payload_too_large")
		// Without a Content-Length, the limit holds while streaming.
		r := rawUpload(t, a.srv, "alice", c.ID, io.MultiReader(bytes.NewReader(big)), -1)
		restRequireError(t, r, http.StatusRequestEntityTooLarge, "payload_too_large")
		exact := append([]byte("exactly the limit "), bytes.Repeat([]byte("b"), 1<<10-18)...)
		r = rawUpload(t, a.srv, "alice", c.ID, io.MultiReader(bytes.NewReader(exact)), -1)
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	})
	t.Run("415", func(t *testing.T) {
		for _, ct := range []string{"text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "not a type"} {
			restRequireError(t, a.upload("alice", c.ID, "", ct, img), http.StatusUnsupportedMediaType, "unsupported_media_type")
		}
		for _, body := range []string{"<html><body>hi</body></html>", "<?xml version=\"1.0\"?><svg></svg>", "MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"} {
			r := a.upload("alice", c.ID, "", "image/png", []byte(body))
			restRequireError(t, r, http.StatusUnsupportedMediaType, "unsupported_media_type")
		}
	})
	assert.Equal(t, 7, a.blobs.Len(), "refused uploads stored nothing")
}

// rawUpload streams body, of size bytes or -1 for unknown (chunked).
func rawUpload(t *testing.T, srv *chattest.Server, user, chatID string, body io.Reader, size int64) chattest.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/api/v1/chats/"+chatID+"/attachments", body)
	require.NoError(t, err)
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(chattest.UserHeader, user)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return chattest.Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// A Store without chat.AttachmentStore.
type noAttachmentStore struct{ chat.Store }

func TestAttachmentsOffAnswer501(t *testing.T) {
	for name, cfg := range map[string]chat.Config{
		"no BlobStore":            {},
		"no AttachmentStore":      {Store: noAttachmentStore{memory.NewStore()}, Blobs: memory.NewBlobStore()},
		"neither of the two here": {Store: noAttachmentStore{memory.NewStore()}},
	} {
		t.Run(name, func(t *testing.T) {
			svc := chattest.NewService(t, cfg)
			srv := chattest.NewServer(t, svc)
			validateAgainstOpenAPI(t, srv)
			a := attachServer{svc: svc, srv: srv}
			c := restCreateChat(t, srv, "alice", restGroup("bob"))
			restRequireError(t, a.upload("alice", c.ID, "", "", []byte("hello")), http.StatusNotImplemented, "not_implemented")
			restRequireError(t, a.download("alice", c.ID, "0123456789abcdef0123456789abcdef"), http.StatusNotImplemented, "not_implemented")
			restRequireError(t, a.send("alice", c.ID, map[string]any{"text": "x", "attachments": []string{"a"}}), http.StatusNotImplemented, "not_implemented")
			require.Equal(t, http.StatusCreated, a.send("alice", c.ID, map[string]any{"text": "x"}).Status, "sends without attachments work")
			_, err := svc.SweepAttachments(t.Context())
			require.ErrorIs(t, err, chat.ErrNotImplemented)
		})
	}
}

// Uploads not sent within the time to live are deleted, records and bytes;
// sent ones stay.
func TestAttachmentSweep(t *testing.T) {
	a := newAttachServer(t, chat.Config{Attachments: chat.AttachmentConfig{UnreferencedTTL: time.Hour, SweepInterval: -1}})
	c := restCreateChat(t, a.srv, "alice", restGroup("bob"))
	img := pngBytes(t, 1, 1)
	stale := a.mustUpload(t, "alice", c.ID, "", img)
	sent := a.mustUpload(t, "alice", c.ID, "", img)
	require.Equal(t, http.StatusCreated, a.send("alice", c.ID, map[string]any{"text": "x", "attachments": []string{sent.ID}}).Status)

	n, err := chat.SweepAttachmentsAt(t.Context(), a.svc, time.Now().Add(59*time.Minute))
	require.NoError(t, err)
	require.Zero(t, n, "nothing is stale before the time to live")
	n, err = chat.SweepAttachmentsAt(t.Context(), a.svc, time.Now().Add(61*time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, n)

	restRequireError(t, a.download("alice", c.ID, stale.ID), http.StatusNotFound, "not_found")
	restRequireError(t, a.send("alice", c.ID, map[string]any{"text": "x", "attachments": []string{stale.ID}}), http.StatusBadRequest, "invalid_request")
	require.Equal(t, http.StatusOK, a.download("bob", c.ID, sent.ID).Status)
	require.Equal(t, 1, a.blobs.Len())

	n, err = a.svc.SweepAttachments(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "by the real clock nothing is stale")
}

// The sweep loop belongs to the Service: it runs on its interval and stops
// with Shutdown (goleak checks that no goroutine is left).
func TestAttachmentSweepLoopStopsWithTheService(t *testing.T) {
	svc, err := chat.New(chat.Config{Store: memory.NewStore(), Blobs: memory.NewBlobStore(),
		Attachments: chat.AttachmentConfig{SweepInterval: time.Millisecond}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	require.NoError(t, svc.Shutdown(ctx))
}

// countingBlobs is a BlobStore that keeps nothing but the number of bytes
// it was given, so that an upload's memory is the handler's alone.
type countingBlobs struct{ n int64 }

func (b *countingBlobs) Put(_ context.Context, _ string, r io.Reader, _ int64, _ string) error {
	n, err := io.Copy(io.Discard, r)
	b.n += n
	return err
}

func (b *countingBlobs) Get(context.Context, string) (io.ReadSeekCloser, chat.BlobInfo, error) {
	return nil, chat.BlobInfo{}, chat.ErrNotFound
}

func (b *countingBlobs) Delete(context.Context, string) error { return nil }

// patternReader yields n bytes of a PDF, allocating nothing.
type patternReader struct{ left int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	k := min(int64(len(b)), p.left)
	for i := range b[:k] {
		b[i] = 'x'
	}
	if p.left == size64MiB {
		copy(b, "%PDF-1.4\n")
	}
	p.left -= k
	return int(k), nil
}

const size64MiB = 64 << 20

// An upload streams: 64 MiB through real HTTP allocate a small fraction
// of that in the whole process, client included.
func TestAttachmentUploadMemoryIsBounded(t *testing.T) {
	blobs := &countingBlobs{}
	svc := chattest.NewService(t, chat.Config{Blobs: blobs, Attachments: chat.AttachmentConfig{MaxBytes: 2 * size64MiB}})
	srv := chattest.NewServer(t, svc)
	c := restCreateChat(t, srv, "alice", restGroup("bob"))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := rawUpload(t, srv, "alice", c.ID, &patternReader{left: size64MiB}, size64MiB)
	runtime.ReadMemStats(&after)
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	require.Equal(t, int64(size64MiB), blobs.n)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB for a %d MiB upload", allocated>>10, size64MiB>>20)
	require.Less(t, allocated, uint64(size64MiB/8), "the upload was held in memory")
}

func BenchmarkAttachmentUpload(b *testing.B) {
	blobs := &countingBlobs{}
	svc := chattest.NewService(b, chat.Config{Blobs: blobs, Attachments: chat.AttachmentConfig{MaxBytes: 2 * size64MiB}})
	h := chat.NewHandler(svc, chat.HandlerConfig{Authenticate: chattest.HeaderAuth})
	c, _, err := svc.CreateChat(context.Background(), "alice", chat.CreateChatRequest{Kind: chat.KindGroup})
	require.NoError(b, err)
	b.SetBytes(size64MiB)
	b.ReportAllocs()
	for b.Loop() {
		req, err := http.NewRequest(http.MethodPost, "/chats/"+c.ID+"/attachments", &patternReader{left: size64MiB})
		require.NoError(b, err)
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set(chattest.UserHeader, "alice")
		rec := &discardRecorder{header: http.Header{}}
		h.ServeHTTP(rec, req)
		if rec.status != http.StatusCreated {
			b.Fatalf("status %d", rec.status)
		}
	}
}

// discardRecorder is a ResponseWriter that keeps only the status.
type discardRecorder struct {
	header http.Header
	status int
}

func (d *discardRecorder) Header() http.Header         { return d.header }
func (d *discardRecorder) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardRecorder) WriteHeader(status int)      { d.status = status }

// storeCalls records the Store methods an Observer is told of.
type storeCalls struct {
	mu      sync.Mutex
	methods map[string]int
}

func (s *storeCalls) Observe(o chat.Observation) {
	if c, ok := o.(chat.StoreCallObserved); ok {
		s.mu.Lock()
		s.methods[c.Method]++
		s.mu.Unlock()
	}
}

// The AttachmentStore's calls are measured like the Store's own.
func TestAttachmentStoreCallsAreObserved(t *testing.T) {
	calls := &storeCalls{methods: map[string]int{}}
	a := newAttachServer(t, chat.Config{Observer: calls})
	c := restCreateChat(t, a.srv, "alice", restGroup("bob"))
	att := a.mustUpload(t, "alice", c.ID, "", pngBytes(t, 1, 1))
	r := a.send("alice", c.ID, map[string]any{"text": "", "attachments": []string{att.ID}})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	require.Equal(t, http.StatusOK, a.download("bob", c.ID, att.ID).Status)
	m := restMessageObject(t, r.Body)
	require.Equal(t, http.StatusOK, a.srv.Do("alice", http.MethodDelete, fmt.Sprintf("/chats/%s/messages/%d", c.ID, m.Seq), nil).Status)
	_, err := a.svc.SweepAttachments(t.Context())
	require.NoError(t, err)
	calls.mu.Lock()
	defer calls.mu.Unlock()
	for _, method := range []string{"CreateAttachment", "AppendMessageWithAttachments", "GetAttachment", "DeleteMessageAttachments", "DeleteStaleAttachments"} {
		assert.Positive(t, calls.methods[method], method)
	}
}

// A moderator's delete (an owner deleting a member's message) deletes the
// message's attachments as the sender's own delete does.
func TestAttachmentModeratorDeleteDeletesThem(t *testing.T) {
	a := newAttachServer(t, chat.Config{})
	c := restCreateChat(t, a.srv, "alice", restGroup("bob"))
	att := a.mustUpload(t, "bob", c.ID, "", pngBytes(t, 1, 1))
	r := a.send("bob", c.ID, map[string]any{"text": "", "attachments": []string{att.ID}})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	m := restMessageObject(t, r.Body)

	r = a.srv.Do("alice", http.MethodDelete, fmt.Sprintf("/chats/%s/messages/%d", c.ID, m.Seq), nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	gone := restMessageObject(t, r.Body)
	assert.Equal(t, "alice", gone.DeletedBy)
	assert.Empty(t, gone.Attachments)
	restRequireError(t, a.download("bob", c.ID, att.ID), http.StatusNotFound, "not_found")
	assert.Zero(t, a.blobs.Len())
}
