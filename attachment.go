package chat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // image.DecodeConfig reads the sizes of GIF,
	_ "image/jpeg" // JPEG
	_ "image/png"  // and PNG uploads.
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Attachment is a file uploaded to a chat, to be sent with a message. Its
// JSON form is the attachment object of the wire protocol.
type Attachment struct {
	ID     string `json:"id"`
	ChatID string `json:"chat_id"`
	// Uploader is the user who uploaded it; only they can send it.
	Uploader string `json:"uploader"`
	// ContentType is what the server found the bytes to be
	// (http.DetectContentType), never what the client claimed.
	ContentType string `json:"content_type"`
	// Size is the length in bytes.
	Size int64 `json:"size"`
	// Name is the file name the uploader gave, for downloads.
	Name string `json:"name"`
	// Width and Height are an image's size in pixels, for PNG, JPEG and
	// GIF images whose header the server could read; 0 otherwise.
	Width     int       `json:"width,omitempty"`
	Height    int       `json:"height,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// MessageSeq is the seq of the message that references it, 0 while
	// none does.
	MessageSeq int64 `json:"message_seq"`
}

// AttachmentStore is an optional ability of a Store: keeping the records
// of attachments, whose bytes a BlobStore keeps. The Service finds it on
// Config.Store; without it, or without Config.Blobs, uploads, downloads and
// sends with attachments answer ErrNotImplemented. storetest checks it when
// the Store has it.
//
// Its methods keep the Store's rules on errors, contexts and concurrency.
type AttachmentStore interface {
	// CreateAttachment records a, which no message references yet
	// (a.MessageSeq is ignored). It returns ErrNotFound if the chat does
	// not exist or a.Uploader is not a member. Ids are the Service's, new
	// and unique.
	CreateAttachment(ctx context.Context, a Attachment) error

	// GetAttachment returns attachment id of chatID, or ErrNotFound.
	GetAttachment(ctx context.Context, chatID, id string) (Attachment, error)

	// AppendMessageWithAttachments is Store.AppendMessage for a message
	// whose Attachments name, by ID alone, attachments to send with it.
	// In the same atomic step as the append, each becomes referenced by
	// the new message (MessageSeq is its seq), and the stored message
	// carries their records, in the order given. If any is not an
	// attachment of m.ChatID uploaded by m.Sender that no message
	// references, it stores nothing and returns ErrInvalid; concurrent
	// sends naming one attachment store at most one message. A retry
	// (m.ClientID used before) returns the original message with
	// created=false, as AppendMessage does, and changes no attachment.
	//
	// Messages carry their attachments wherever the Store returns them
	// (ListMessages, ListEvents, LastMessage, EditMessage), except
	// tombstones, whose Attachments are nil.
	AppendMessageWithAttachments(ctx context.Context, m Message) (_ Message, created bool, _ error)

	// DeleteMessageAttachments deletes the records of the attachments
	// that message seq of chatID references and returns them, none if it
	// references none.
	DeleteMessageAttachments(ctx context.Context, chatID string, seq int64) ([]Attachment, error)

	// DeleteStaleAttachments deletes the records of up to limit
	// attachments that no message references and that were created
	// before cutoff, oldest first, and returns them. No message can
	// reference one of them afterwards: a concurrent
	// AppendMessageWithAttachments naming it fails with ErrInvalid. It
	// runs every AttachmentConfig.SweepInterval, so its cost must not
	// grow with the number of attachments that messages reference.
	DeleteStaleAttachments(ctx context.Context, cutoff time.Time, limit int) ([]Attachment, error)
}

// AttachmentConfig bounds attachments. A zero field means its default.
type AttachmentConfig struct {
	// MaxBytes bounds an upload. Default DefaultMaxAttachmentBytes
	// (10 MiB).
	MaxBytes int64
	// AllowedTypes lists the media types that may be uploaded, as
	// http.DetectContentType names them, without parameters ("image/png",
	// "text/plain"). Default DefaultAllowedAttachmentTypes.
	AllowedTypes []string
	// MaxPerMessage bounds the attachments of one message. Default 10.
	MaxPerMessage int
	// UnreferencedTTL is how long an upload waits to be sent before it
	// is deleted. Default 1 hour.
	UnreferencedTTL time.Duration
	// SweepInterval is how often the Service deletes stale attachments
	// (see AttachmentStore.DeleteStaleAttachments). Default 1 minute;
	// negative turns the loop off, for hosts that call
	// Service.SweepAttachments themselves.
	SweepInterval time.Duration
}

// Attachment defaults.
const (
	DefaultMaxAttachmentBytes      = 10 << 20
	DefaultMaxAttachmentsPerMsg    = 10
	DefaultAttachmentTTL           = time.Hour
	DefaultAttachmentSweepInterval = time.Minute
)

// DefaultAllowedAttachmentTypes are the media types uploads may have by
// default: images browsers show, PDF, plain text, common audio and video,
// and ZIP (which office documents sniff as). HTML and XML (SVG sniffs as
// text/xml) are not among them: they can carry scripts.
var DefaultAllowedAttachmentTypes = []string{
	"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp",
	"application/pdf", "text/plain",
	"audio/mpeg", "audio/wave", "audio/ogg", "video/mp4", "video/webm", "application/ogg",
	"application/zip",
}

// inlineTypes are the media types a download shows in the browser; every
// other one is served as a file to save.
var inlineTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"}

// maxAttachmentName bounds an attachment's name, in bytes.
const maxAttachmentName = 255

// sniffBytes is how much of an upload is read before the rest is streamed
// to the BlobStore: enough to sniff its type (512 bytes) and, for most
// images, to read their size.
const sniffBytes = 64 << 10

// sweepBatch is how many stale attachments one DeleteStaleAttachments call
// returns.
const sweepBatch = 100

func (c AttachmentConfig) withDefaults() AttachmentConfig {
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxAttachmentBytes
	}
	if len(c.AllowedTypes) == 0 {
		c.AllowedTypes = DefaultAllowedAttachmentTypes
	}
	c.AllowedTypes = slices.Clone(c.AllowedTypes)
	if c.MaxPerMessage <= 0 {
		c.MaxPerMessage = DefaultMaxAttachmentsPerMsg
	}
	if c.UnreferencedTTL <= 0 {
		c.UnreferencedTTL = DefaultAttachmentTTL
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultAttachmentSweepInterval
	}
	return c
}

// attachments is the Service's attachment machinery; its stores are nil
// when the feature is off.
type attachments struct {
	cfg   AttachmentConfig
	blobs BlobStore
	store AttachmentStore
	swept chan struct{} // closed when the sweep loop has returned
}

// initAttachments sets up attachments and starts the sweep loop when both
// stores are there.
func (s *Service) initAttachments(cfg Config) {
	s.attach.cfg = cfg.Attachments.withDefaults()
	s.attach.swept = make(chan struct{})
	as, ok := cfg.Store.(AttachmentStore)
	if !ok || cfg.Blobs == nil {
		close(s.attach.swept)
		return
	}
	s.attach.blobs, s.attach.store = cfg.Blobs, as
	if s.attach.cfg.SweepInterval < 0 {
		close(s.attach.swept)
		return
	}
	go s.sweepLoop()
}

// waitAttachments waits for the sweep loop, which ends when the Service
// closes.
func (s *Service) waitAttachments() { <-s.attach.swept }

func (s *Service) sweepLoop() {
	defer close(s.attach.swept)
	t := time.NewTicker(s.attach.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.closing.Done():
			return
		case <-t.C:
			if _, err := s.SweepAttachments(s.closing); err != nil && s.closing.Err() == nil {
				s.log.Error("chat: sweeping stale attachments", "err", err)
			}
		}
	}
}

// checkAttachments fails with ErrNotImplemented unless attachments are on.
func (s *Service) checkAttachments() error {
	if s.attach.store == nil {
		return &requestError{kind: ErrNotImplemented, msg: "attachments are not enabled on this server"}
	}
	return nil
}

// attachmentCall runs one call of the AttachmentStore, observed like the
// Store's own calls when an Observer or Tracer is set.
func (s *Service) attachmentCall(ctx context.Context, method string, call func(context.Context) error) error {
	if o, ok := s.store.(*observedStore); ok {
		ctx, done := o.begin(ctx, method)
		err := call(ctx)
		done(err)
		return err
	}
	return call(ctx)
}

// AttachmentUpload is a file for Service.UploadAttachment.
type AttachmentUpload struct {
	// Name is the file's name, shown to those who download it; empty
	// means "attachment".
	Name string
	// Body is read once, as a stream, up to AttachmentConfig.MaxBytes.
	Body io.Reader
	// Size is Body's length when known, -1 otherwise.
	Size int64
}

// UploadAttachment stores an upload of userID to chatID and returns its
// record, to be sent with a message (SendMessageRequest.Attachments)
// within AttachmentConfig.UnreferencedTTL. The body streams to the
// BlobStore; only its first bytes are held, to find its media type, which
// must be one of AttachmentConfig.AllowedTypes whatever the client claims,
// and an image's width and height. Uploads count against RateLimit.Sends.
//
// Errors: ErrNotImplemented when attachments are off; ErrNotFound for a
// non-member; ErrInvalid for an empty body or a bad name; ErrTooLarge
// beyond AttachmentConfig.MaxBytes; ErrUnsupportedMediaType for a type not
// allowed.
func (s *Service) UploadAttachment(ctx context.Context, userID, chatID string, up AttachmentUpload) (Attachment, error) {
	if err := s.checkAttachments(); err != nil {
		return Attachment{}, err
	}
	if err := s.checkMember(ctx, userID, chatID); err != nil {
		return Attachment{}, err
	}
	name, err := s.attachmentName(up.Name)
	if err != nil {
		return Attachment{}, err
	}
	limit := s.attach.cfg.MaxBytes
	if up.Size > limit {
		return Attachment{}, tooLargef("an attachment has at most %d bytes", limit)
	}
	if up.Size < 0 {
		up.Size = -1
	}
	if err := s.sendLimit.allow(userID); err != nil {
		return Attachment{}, err
	}
	body := &boundedReader{r: up.Body, left: limit}
	head := make([]byte, min(sniffBytes, limit+1))
	n, err := io.ReadFull(body, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Attachment{}, uploadError(err)
	}
	head = head[:n]
	if n == 0 {
		return Attachment{}, invalidf("the attachment is empty")
	}
	contentType := http.DetectContentType(head)
	mediaType, _, _ := mime.ParseMediaType(contentType)
	if !slices.Contains(s.attach.cfg.AllowedTypes, mediaType) {
		return Attachment{}, &requestError{kind: ErrUnsupportedMediaType, msg: fmt.Sprintf("attachments of type %s are not allowed here", mediaType)}
	}
	a := Attachment{ID: newID(), ChatID: chatID, Uploader: userID, ContentType: contentType, Name: name, CreatedAt: s.timestamp()}
	if mediaType == "image/png" || mediaType == "image/jpeg" || mediaType == "image/gif" {
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(head)); err == nil {
			a.Width, a.Height = cfg.Width, cfg.Height
		}
	}
	counted := &countingReader{r: io.MultiReader(bytes.NewReader(head), body)}
	if err := s.attach.blobs.Put(ctx, a.ID, counted, up.Size, contentType); err != nil {
		return Attachment{}, uploadError(err)
	}
	a.Size = counted.n
	wctx, cancel := s.writeContext(ctx)
	err = s.attachmentCall(wctx, "CreateAttachment", func(ctx context.Context) error {
		return s.attach.store.CreateAttachment(ctx, a)
	})
	cancel()
	if err != nil {
		s.deleteBlobs(a)
		return Attachment{}, fmt.Errorf("chat: create attachment: %w", err)
	}
	return a, nil
}

// uploadError turns what reading an upload failed with into what the
// client should hear.
func uploadError(err error) error {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return tooLargef("request body is larger than %d bytes", tooBig.Limit)
	case errors.Is(err, ErrTooLarge), errors.Is(err, ErrInvalid):
		return err
	}
	return fmt.Errorf("chat: upload attachment: %w", err)
}

// attachmentName checks an upload's file name: one line of text, no path.
func (s *Service) attachmentName(name string) (string, error) {
	if name == "" {
		return "attachment", nil
	}
	if len(name) > maxAttachmentName || !utf8.ValidString(name) {
		return "", invalidf("name must be valid UTF-8 of at most %d bytes", maxAttachmentName)
	}
	if strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", invalidf("name must be a file name, not a path")
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", invalidf("name contains a control character")
	}
	return name, nil
}

// boundedReader fails with ErrTooLarge once more than left bytes come.
type boundedReader struct {
	r    io.Reader
	left int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	if int64(n) > b.left {
		return 0, tooLargef("an attachment has at most %d bytes", b.left)
	}
	b.left -= int64(n)
	return n, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// OpenAttachment returns attachment id of chatID and its bytes, which the
// caller must close, if userID is a member of the chat. An attachment that
// no message references yet is its uploader's alone: others get
// ErrNotFound, as for an id that does not exist.
func (s *Service) OpenAttachment(ctx context.Context, userID, chatID, id string) (Attachment, io.ReadSeekCloser, error) {
	if err := s.checkAttachments(); err != nil {
		return Attachment{}, nil, err
	}
	if err := s.checkMember(ctx, userID, chatID); err != nil {
		return Attachment{}, nil, err
	}
	if err := s.checkID("attachment id", id); err != nil {
		return Attachment{}, nil, fmt.Errorf("chat: attachment: %w", ErrNotFound)
	}
	var a Attachment
	err := s.attachmentCall(ctx, "GetAttachment", func(ctx context.Context) (err error) {
		a, err = s.attach.store.GetAttachment(ctx, chatID, id)
		return err
	})
	if err != nil {
		return Attachment{}, nil, fmt.Errorf("chat: get attachment: %w", err)
	}
	if a.MessageSeq == 0 && a.Uploader != userID {
		return Attachment{}, nil, fmt.Errorf("chat: get attachment: %w", ErrNotFound)
	}
	rc, _, err := s.attach.blobs.Get(ctx, a.ID)
	if err != nil {
		return Attachment{}, nil, fmt.Errorf("chat: get attachment %q: %w", a.ID, err)
	}
	return a, rc, nil
}

// messageAttachments checks the attachment ids of a send and returns them
// as the message's Attachments, ids only, for the Store to fill in.
func (s *Service) messageAttachments(ids []string) ([]Attachment, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if err := s.checkAttachments(); err != nil {
		return nil, err
	}
	if len(ids) > s.attach.cfg.MaxPerMessage {
		return nil, invalidf("a message has at most %d attachments", s.attach.cfg.MaxPerMessage)
	}
	out := make([]Attachment, len(ids))
	for i, id := range ids {
		if err := s.checkID("attachment id", id); err != nil {
			return nil, err
		}
		if slices.Contains(ids[:i], id) {
			return nil, invalidf("attachment %q is listed twice", id)
		}
		out[i] = Attachment{ID: id}
	}
	return out, nil
}

// appendMessage stores m, through the AttachmentStore when it has
// attachments.
func (s *Service) appendMessage(ctx context.Context, m Message) (stored Message, created bool, err error) {
	if len(m.Attachments) == 0 {
		return s.store.AppendMessage(ctx, m)
	}
	err = s.attachmentCall(ctx, "AppendMessageWithAttachments", func(ctx context.Context) (err error) {
		stored, created, err = s.attach.store.AppendMessageWithAttachments(ctx, m)
		return err
	})
	if errors.Is(err, ErrInvalid) {
		return Message{}, false, invalidf("attachments must be your own uploads to this chat, not sent yet")
	}
	return stored, created, err
}

// dropMessageAttachments deletes the attachments of message seq of chatID,
// which was just deleted. A failure is logged: the attachments then stay
// stored, though no message shows them (tombstones carry none).
func (s *Service) dropMessageAttachments(ctx context.Context, chatID string, seq int64) {
	if s.attach.store == nil {
		return
	}
	ctx, cancel := s.writeContext(context.WithoutCancel(ctx))
	defer cancel()
	var gone []Attachment
	err := s.attachmentCall(ctx, "DeleteMessageAttachments", func(ctx context.Context) (err error) {
		gone, err = s.attach.store.DeleteMessageAttachments(ctx, chatID, seq)
		return err
	})
	if err != nil {
		s.log.Error("chat: deleting the attachments of a deleted message", "chat_id", chatID, "seq", seq, "err", err)
		return
	}
	s.deleteBlobs(gone...)
}

// deleteBlobs deletes the bytes of attachments whose records are gone. A
// blob it fails to delete stays, unreachable, and is logged.
func (s *Service) deleteBlobs(as ...Attachment) {
	for _, a := range as {
		ctx, cancel := s.writeContext(context.Background())
		err := s.attach.blobs.Delete(ctx, a.ID)
		cancel()
		if err != nil {
			s.log.Error("chat: deleting an attachment's bytes", "attachment_id", a.ID, "err", err)
		}
	}
}

// SweepAttachments deletes the attachments that were not sent within
// AttachmentConfig.UnreferencedTTL, records and bytes, and returns how
// many it deleted. The Service calls it every
// AttachmentConfig.SweepInterval; call it yourself when that is negative.
func (s *Service) SweepAttachments(ctx context.Context) (int, error) {
	if err := s.checkAttachments(); err != nil {
		return 0, err
	}
	return s.sweepAttachments(ctx, s.timestamp().Add(-s.attach.cfg.UnreferencedTTL))
}

func (s *Service) sweepAttachments(ctx context.Context, cutoff time.Time) (int, error) {
	total := 0
	for {
		var stale []Attachment
		err := s.attachmentCall(ctx, "DeleteStaleAttachments", func(ctx context.Context) (err error) {
			stale, err = s.attach.store.DeleteStaleAttachments(ctx, cutoff, sweepBatch)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("chat: sweep attachments: %w", err)
		}
		s.deleteBlobs(stale...)
		total += len(stale)
		if len(stale) < sweepBatch {
			return total, nil
		}
	}
}
