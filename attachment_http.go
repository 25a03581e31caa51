package chat

import (
	"mime"
	"net/http"
	"slices"
)

// isUpload says whether r uploads an attachment, whose body may be as
// large as AttachmentConfig.MaxBytes rather than Limits.MaxBodyBytes.
func isUpload(segs []string, r *http.Request) bool {
	return len(segs) == 3 && segs[2] == "attachments" && r.Method == http.MethodPost
}

// formTypes are the content types a cross-site HTML form, or a fetch
// without a CORS preflight, can send. Uploads refuse them, as JSON routes
// refuse every non-JSON type: a site that wants to upload in a signed-in
// user's name must then ask the browser's permission first.
var formTypes = []string{"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}

// uploadAttachment serves POST /chats/{chat_id}/attachments: the body is
// the file, as it is (no multipart), ?name= its name.
func (h *restHandler) uploadAttachment(w http.ResponseWriter, r *http.Request, user, chatID string) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || slices.Contains(formTypes, mt) {
		writeError(w, h.svc.log, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send the file as the request body with a Content-Type other than a form's, such as application/octet-stream")
		return
	}
	a, err := h.svc.UploadAttachment(r.Context(), user, chatID, AttachmentUpload{
		Name: r.URL.Query().Get("name"),
		Body: r.Body,
		Size: r.ContentLength,
	})
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	writeJSON(w, h.svc.log, http.StatusCreated, a)
}

// downloadAttachment serves GET /chats/{chat_id}/attachments/{id} with
// range requests. Nothing uploaded runs in the API's origin: the type is
// the sniffed one and never sniffed again by the browser (nosniff), only
// images are shown inline, everything else is a download, and the CSP
// sandbox keeps scripts from running even if a browser renders it.
func (h *restHandler) downloadAttachment(w http.ResponseWriter, r *http.Request, user, chatID, id string) {
	a, blob, err := h.svc.OpenAttachment(r.Context(), user, chatID, id)
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	defer blob.Close()
	mt, _, _ := mime.ParseMediaType(a.ContentType)
	disposition := "attachment"
	if slices.Contains(inlineTypes, mt) {
		disposition = "inline"
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.ContentType)
	if cd := mime.FormatMediaType(disposition, map[string]string{"filename": a.Name}); cd != "" {
		disposition = cd
	}
	hdr.Set("Content-Disposition", disposition)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	// Revalidated on every use (ETag makes that a 304), so that a
	// deleted attachment is gone from browsers too.
	hdr.Set("Cache-Control", "private, no-cache")
	hdr.Set("ETag", `"`+a.ID+`"`)
	http.ServeContent(&rangeErrorWriter{ResponseWriter: w, h: h}, r, "", a.CreatedAt, blob)
}

// rangeErrorWriter turns the plain-text 416 that http.ServeContent writes
// for a Range it cannot satisfy into the API's error object.
type rangeErrorWriter struct {
	http.ResponseWriter
	h       *restHandler
	refused bool
}

func (w *rangeErrorWriter) WriteHeader(status int) {
	if status != http.StatusRequestedRangeNotSatisfiable {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.refused = true
	w.Header().Del("Content-Length")
	writeError(w.ResponseWriter, w.h.svc.log, status, "range_not_satisfiable", "the range is outside the attachment")
}

func (w *rangeErrorWriter) Write(p []byte) (int, error) {
	if w.refused {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}
