package chat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
)

// docs/openapi.yaml is held to the handler three ways: it must be a valid
// OpenAPI 3.1 document; the routes the handler serves, found by probing it,
// must be exactly the spec's operations; and every reply of the REST
// contract tests (http_test.go, through newRESTServer) must validate
// against it, with undocumented statuses and fields counted as errors.
//
// The validator is kin-openapi: its 3.1 support validates schemas as JSON
// Schema 2020-12, and it needs Go 1.25 where libopenapi-validator's current
// releases need Go 1.26.

const openAPIPath = "docs/openapi.yaml"

func TestOpenAPIDocumentIsValid31(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(openAPIPath)
	require.NoError(t, err)
	require.True(t, doc.IsOpenAPI31OrLater(), "openapi: %s", doc.OpenAPI)
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3.1."), "openapi: %s", doc.OpenAPI)
	require.NoError(t, doc.Validate(loader.Context))

	// Every operation answers its errors with the one error object.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			require.NotEmpty(t, op.OperationID, "%s %s has no operationId", method, path)
			for status, resp := range op.Responses.Map() {
				code, err := strconv.Atoi(status)
				require.NoError(t, err, "%s %s: response %q is not a status", method, path, status)
				if code < 400 {
					continue
				}
				mt := resp.Value.Content.Get("application/json")
				require.NotNil(t, mt, "%s %s %d has no JSON body", method, path, code)
				require.NotEmpty(t, mt.Schema.Value.AllOf, "%s %s %d", method, path, code)
				assert.Equal(t, "#/components/schemas/ErrorBody", mt.Schema.Value.AllOf[0].Ref, "%s %s %d", method, path, code)
			}
		}
	}
}

// openAPISpec is docs/openapi.yaml loaded once for the tests, made strict:
// every object schema with declared properties refuses others, so that a
// field the server sends must be documented.
type openAPISpec struct {
	doc    *openapi3.T
	router routers.Router
	errors *openapi3.Schema
}

var (
	openAPIOnce   sync.Once
	openAPILoaded *openAPISpec
	openAPIErr    error
)

func loadOpenAPI(t testing.TB) *openAPISpec {
	t.Helper()
	openAPIOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(openAPIPath)
		if err != nil {
			openAPIErr = err
			return
		}
		// Routes are matched on the path below the mount point.
		doc.Servers = nil
		seen := map[*openapi3.Schema]bool{}
		for _, s := range doc.Components.Schemas {
			openAPIStrict(s.Value, seen)
		}
		router, err := legacy.NewRouter(doc)
		if err != nil {
			openAPIErr = err
			return
		}
		openAPILoaded = &openAPISpec{doc: doc, router: router, errors: doc.Components.Schemas["ErrorBody"].Value}
	})
	require.NoError(t, openAPIErr)
	return openAPILoaded
}

func openAPIStrict(s *openapi3.Schema, seen map[*openapi3.Schema]bool) {
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	if s.Type.Is("object") && len(s.Properties) > 0 {
		s.AdditionalProperties = openapi3.AdditionalProperties{Has: openapi3.Ptr(false)}
	}
	for _, p := range s.Properties {
		openAPIStrict(p.Value, seen)
	}
	if s.Items != nil {
		openAPIStrict(s.Items.Value, seen)
	}
	for _, sub := range slices.Concat(s.OneOf, s.AnyOf, s.AllOf) {
		openAPIStrict(sub.Value, seen)
	}
}

// validate checks one exchange with the REST handler mounted at prefix
// against the spec and returns what is wrong with it.
func (s *openAPISpec) validate(req *http.Request, prefix string, status int, header http.Header, body []byte) error {
	r := req.Clone(context.Background())
	// The handler ignores a trailing slash.
	r.URL.Path = strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, prefix), "/")
	r.URL.RawPath = ""
	route, params, err := s.findRoute(r)
	if err == nil && openAPIPending[route.Method+" "+route.Path] != "" {
		err = &routers.RouteError{Reason: "pending: " + openAPIPending[route.Method+" "+route.Path]}
	}
	if err != nil {
		// Not an operation: the handler must say so with the error object.
		if !errors.As(err, new(*routers.RouteError)) {
			return err
		}
		want := http.StatusNotFound
		if s.hasPath(r) {
			want = http.StatusMethodNotAllowed
		}
		if status != want {
			return errors.New("no such operation in the spec, but status " + strconv.Itoa(status))
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return err
		}
		return s.errors.VisitJSON(v, openapi3.EnableJSONSchema2020())
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: r, PathParams: params, Route: route, Options: opts,
		},
		Status:  status,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: opts,
	})
}

// findRoute is the router's FindRoute without its habit of matching a path
// that lacks its last parameter (/chats/1/messages for
// /chats/{chat_id}/messages/{seq}).
func (s *openAPISpec) findRoute(r *http.Request) (*routers.Route, map[string]string, error) {
	route, params, err := s.router.FindRoute(r)
	if err == nil && strings.Count(route.Path, "/") != strings.Count(r.URL.Path, "/") {
		return nil, nil, &routers.RouteError{Reason: routers.ErrPathNotFound.Error()}
	}
	return route, params, err
}

// hasPath reports whether the spec has r's path with any method.
func (s *openAPISpec) hasPath(r *http.Request) bool {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		other := r.Clone(context.Background())
		other.Method = m
		if _, _, err := s.findRoute(other); err == nil {
			return true
		}
	}
	return false
}

// openAPITransport validates every reply it carries against the spec,
// failing t on the first mismatch of each.
type openAPITransport struct {
	t      testing.TB
	spec   *openAPISpec
	prefix string
	next   http.RoundTripper
}

func (o *openAPITransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := o.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err := o.spec.validate(req, o.prefix, resp.StatusCode, resp.Header, body); err != nil {
		o.t.Errorf("%s: %s %s answered %d, which does not match the spec: %v\nbody: %s",
			openAPIPath, req.Method, req.URL.RequestURI(), resp.StatusCode, err, body)
	}
	return resp, nil
}

// validateAgainstOpenAPI makes every REST reply that srv's client receives
// checked against docs/openapi.yaml.
func validateAgainstOpenAPI(t testing.TB, srv *chattest.Server) {
	t.Helper()
	client := srv.Client()
	next := client.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	client.Transport = &openAPITransport{t: t, spec: loadOpenAPI(t), prefix: "/api/v1", next: next}
}

// The validating transport must catch what it is there for.
func TestOpenAPIValidationCatchesDrift(t *testing.T) {
	spec := loadOpenAPI(t)
	get := httptest.NewRequest(http.MethodGet, "/api/v1/chats/c1", nil)
	json := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	chatBody := `{"id":"c1","kind":"group","title":"","members":[{"user_id":"a","last_read_seq":0}],"member_count":1,` +
		`"created_by":"a","created_at":"2026-11-28T04:43:26.274846Z","last_seq":0,` +
		`"last_activity_at":"2026-11-28T04:43:26.274846Z","last_message":null,"unread_count":0}`
	require.NoError(t, spec.validate(get, "/api/v1", 200, json, []byte(chatBody)))

	for name, tc := range map[string]struct {
		status int
		body   string
	}{
		"undocumented field":  {200, strings.Replace(chatBody, `"title":""`, `"title":"","secret":1`, 1)},
		"missing field":       {200, strings.Replace(chatBody, `"last_seq":0,`, "", 1)},
		"wrong type":          {200, strings.Replace(chatBody, `"last_seq":0`, `"last_seq":"0"`, 1)},
		"undocumented status": {418, `{"error":{"code":"internal","message":"x"}}`},
		"wrong error code":    {404, `{"error":{"code":"forbidden","message":"x"}}`},
		"unknown error code":  {404, `{"error":{"code":"gone","message":"x"}}`},
	} {
		assert.Error(t, spec.validate(get, "/api/v1", tc.status, json, []byte(tc.body)), name)
	}
	unknown := httptest.NewRequest(http.MethodGet, "/api/v1/chats/c1/nope", nil)
	assert.NoError(t, spec.validate(unknown, "/api/v1", 404, json, []byte(`{"error":{"code":"not_found","message":"x"}}`)))
	assert.Error(t, spec.validate(unknown, "/api/v1", 200, json, []byte(chatBody)), "a route the spec lacks")
	put := httptest.NewRequest(http.MethodPut, "/api/v1/chats/c1", nil)
	assert.NoError(t, spec.validate(put, "/api/v1", 405, json, []byte(`{"error":{"code":"method_not_allowed","message":"x"}}`)))
}

// openAPIPending lists operations that the spec documents ahead of the
// branch that adds them, so that the spec and the client can be written
// against them. Once the handler serves one, the test fails until it is
// removed from here.
var openAPIPending = map[string]string{}

// openAPIVocabulary returns the candidate path segments for probing the
// handler: every lower-case word among the string literals of the root
// package's code, so that a route added under a new name is found without
// anyone listing it here.
func openAPIVocabulary(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	word := regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	set := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		ast.Inspect(file, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && word.MatchString(s) {
					set[s] = true
				}
			}
			return true
		})
	}
	require.Contains(t, set, "chats", "the vocabulary misses the API's first segment")
	words := make([]string, 0, len(set))
	for w := range set {
		words = append(words, w)
	}
	sort.Strings(words)
	return words
}

// TestOpenAPICoversEveryRoute finds the routes the REST handler serves by
// asking it, and compares them with the spec's operations. A path is a
// route when a method no route serves answers 405 (it answers 404 on paths
// that are not routes), and its Allow header lists its methods. Paths are
// built from the vocabulary and a parameter value, up to five segments:
// below a route every word is tried, below a path that is not one only the
// parameter value.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	spec := loadOpenAPI(t)
	svc := chattest.NewService(t, chat.Config{})
	h := chat.NewHandler(svc, chat.HandlerConfig{
		Authenticate: func(*http.Request) (string, error) { return "prober", nil },
	})
	probes := 0
	allow := func(path string) []string {
		probes++
		req := httptest.NewRequest("PROBE", path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusMethodNotAllowed {
			require.Equal(t, http.StatusNotFound, rec.Code, "PROBE %s: %s", path, rec.Body)
			return nil
		}
		var methods []string
		for _, m := range strings.Split(rec.Header().Get("Allow"), ",") {
			if m = strings.TrimSpace(m); m != "" {
				methods = append(methods, m)
			}
		}
		require.NotEmpty(t, methods, "PROBE %s: 405 without Allow", path)
		return methods
	}

	// A literal that answers like the parameter value is just another
	// value of the parameter, not a route of its own.
	const param = "p0-probe"
	words := openAPIVocabulary(t)
	served := map[string][]string{} // concrete path -> methods
	type node struct {
		path string
		full bool // extend with every word, not only the parameter
	}
	level := []node{{path: "", full: true}}
	for depth := 1; depth <= 6 && len(level) > 0; depth++ {
		var next []node
		for _, n := range level {
			pm := allow(n.path + "/" + param)
			if pm != nil {
				served[n.path+"/"+param] = pm
				next = append(next, node{path: n.path + "/" + param, full: true})
			} else if n.full {
				next = append(next, node{path: n.path + "/" + param})
			}
			if !n.full {
				continue
			}
			for _, w := range words {
				p := n.path + "/" + w
				m := allow(p)
				switch {
				// A literal that is no route may still lead to one
				// (messages/{seq}/reactions/{emoji}): only a served
				// one that answers like the parameter is dropped.
				case m != nil && slices.Equal(m, pm):
				case m != nil:
					served[p] = m
					next = append(next, node{path: p, full: true})
				default:
					next = append(next, node{path: p})
				}
			}
		}
		level = next
	}
	require.NotEmpty(t, served)
	t.Logf("%d words, %d paths probed, %d served", len(words), probes, len(served))

	// Every served path and method is an operation of the spec.
	got := map[string]bool{}
	for p, methods := range served {
		for _, m := range methods {
			r := httptest.NewRequest(m, p, nil)
			route, _, err := spec.findRoute(r)
			if assert.NoError(t, err, "the handler serves %s %s, which %s lacks", m, p, openAPIPath) {
				got[m+" "+route.Path] = true
			}
		}
	}
	// Every operation of the spec is served, but those still on their way.
	for path, item := range spec.doc.Paths.Map() {
		for method := range item.Operations() {
			op := method + " " + path
			if branch, ok := openAPIPending[op]; ok {
				assert.False(t, got[op], "%s is served now: remove it from openAPIPending (%s)", op, branch)
				continue
			}
			assert.True(t, got[op], "%s documents %s, which the handler does not serve", openAPIPath, op)
		}
	}
	// A trailing slash names the same route.
	for p, methods := range served {
		assert.Equal(t, methods, allow(p+"/"), "%s/", p)
	}
}
