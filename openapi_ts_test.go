package chat_test

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
)

// The TypeScript client's REST types come from docs/openapi.yaml: this test
// writes them to clients/js/src/openapi.d.ts with -update-openapi-ts, and
// otherwise fails when that file is not what the spec gives, so that the
// spec and the client cannot drift apart unnoticed.

const openAPITSPath = "clients/js/src/openapi.d.ts"

var updateOpenAPITS = flag.Bool("update-openapi-ts", false, "rewrite "+openAPITSPath+" from "+openAPIPath)

func TestOpenAPITypeScriptIsCurrent(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(openAPIPath)
	require.NoError(t, err)
	got := openAPITypeScript(doc)
	if *updateOpenAPITS {
		require.NoError(t, os.MkdirAll(filepath.Dir(openAPITSPath), 0o755))
		require.NoError(t, os.WriteFile(openAPITSPath, []byte(got), 0o644))
	}
	want, err := os.ReadFile(openAPITSPath)
	require.NoError(t, err, "run go test -run TestOpenAPITypeScriptIsCurrent -update-openapi-ts . to write it")
	require.Equal(t, got, string(want),
		"%s is stale: run go test -run TestOpenAPITypeScriptIsCurrent -update-openapi-ts .", openAPITSPath)
}

// openAPITypeScript renders the spec's schemas as TypeScript types and its
// operations as one interface keyed by operationId.
func openAPITypeScript(doc *openapi3.T) string {
	g := tsGen{schemas: doc.Components.Schemas}
	var b strings.Builder
	b.WriteString("// Code generated from docs/openapi.yaml by openapi_ts_test.go; DO NOT EDIT.\n")
	b.WriteString("// Regenerate: go test -run TestOpenAPITypeScriptIsCurrent -update-openapi-ts .\n")
	names := make([]string, 0, len(doc.Components.Schemas))
	for name := range doc.Components.Schemas {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := doc.Components.Schemas[name].Value
		b.WriteString("\n")
		tsComment(&b, "", s.Description)
		if s.Type.Is("object") && len(s.Properties) > 0 {
			fmt.Fprintf(&b, "export interface %s %s\n", name, g.object(s, ""))
		} else {
			fmt.Fprintf(&b, "export type %s = %s;\n", name, g.typ(doc.Components.Schemas[name], ""))
		}
	}

	b.WriteString("\n/** The REST operations, by operationId. Paths are relative to where the host mounts the handler. */\n")
	b.WriteString("export interface Operations {\n")
	type op struct {
		id, method, path string
		o                *openapi3.Operation
	}
	var ops []op
	for path, item := range doc.Paths.Map() {
		for method, o := range item.Operations() {
			ops = append(ops, op{o.OperationID, method, path, o})
		}
	}
	slices.SortFunc(ops, func(a, b op) int { return strings.Compare(a.id, b.id) })
	for _, o := range ops {
		tsComment(&b, "  ", o.o.Summary)
		fmt.Fprintf(&b, "  %s: {\n", o.id)
		fmt.Fprintf(&b, "    method: %q;\n", o.method)
		fmt.Fprintf(&b, "    path: %q;\n", o.path)
		var query []string
		for _, p := range o.o.Parameters {
			if p.Value.In == "query" {
				query = append(query, fmt.Sprintf("%s?: %s", p.Value.Name, g.typ(p.Value.Schema, "")))
			}
		}
		if len(query) > 0 {
			fmt.Fprintf(&b, "    query: { %s };\n", strings.Join(query, "; "))
		}
		if rb := o.o.RequestBody; rb != nil {
			body := "Blob" // a file, sent as it is
			if mt := rb.Value.Content.Get("application/json"); mt != nil {
				body = g.typ(mt.Schema, "")
			}
			fmt.Fprintf(&b, "    body: %s;\n", body)
		}
		b.WriteString("    responses: {\n")
		statuses := make([]string, 0, o.o.Responses.Len())
		for status := range o.o.Responses.Map() {
			statuses = append(statuses, status)
		}
		sort.Strings(statuses)
		for _, status := range statuses {
			resp := o.o.Responses.Value(status).Value
			body := "void"
			if resp.Content.Get("*/*") != nil {
				body = "Blob"
			}
			if mt := resp.Content.Get("application/json"); mt != nil {
				body = "ErrorReply<" + tsErrorCode(mt.Schema) + ">"
				if code, _ := strconv.Atoi(status); code < http.StatusBadRequest {
					body = g.typ(mt.Schema, "      ")
				}
			}
			fmt.Fprintf(&b, "      %s: %s;\n", status, body)
		}
		b.WriteString("    };\n  };\n")
	}
	b.WriteString("}\n")
	b.WriteString("\n/** An error reply whose code is C. */\n")
	b.WriteString("export interface ErrorReply<C extends ErrorCode = ErrorCode> extends ErrorBody {\n  error: { code: C; message: string };\n}\n")
	return b.String()
}

// tsGen renders schemas as TypeScript.
type tsGen struct {
	schemas openapi3.Schemas
}

// tsErrorCode is the code an error response's schema fixes, quoted.
func tsErrorCode(ref *openapi3.SchemaRef) string {
	for _, sub := range ref.Value.AllOf {
		if e, ok := sub.Value.Properties["error"]; ok {
			if c, ok := e.Value.Properties["code"]; ok && c.Value.Const != nil {
				return strconv.Quote(fmt.Sprint(c.Value.Const))
			}
		}
	}
	return "ErrorCode"
}

func (g tsGen) typ(ref *openapi3.SchemaRef, indent string) string {
	if ref.Ref != "" {
		return strings.TrimPrefix(ref.Ref, "#/components/schemas/")
	}
	s := ref.Value
	if s.Const != nil {
		return strconv.Quote(fmt.Sprint(s.Const))
	}
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			vals[i] = strconv.Quote(fmt.Sprint(v))
		}
		return strings.Join(vals, " | ")
	}
	if len(s.OneOf) > 0 || len(s.AnyOf) > 0 {
		var alts []string
		for _, sub := range slices.Concat(s.OneOf, s.AnyOf) {
			alts = append(alts, g.typ(sub, indent))
		}
		return strings.Join(alts, " | ")
	}
	var alts []string
	for _, typ := range s.Type.Slice() {
		switch typ {
		case "string":
			alts = append(alts, "string")
		case "integer", "number":
			alts = append(alts, "number")
		case "boolean":
			alts = append(alts, "boolean")
		case "null":
			alts = append(alts, "null")
		case "array":
			alts = append(alts, g.typ(s.Items, indent)+"[]")
		case "object":
			if len(s.Properties) == 0 {
				alts = append(alts, "Record<string, unknown>")
			} else {
				alts = append(alts, g.object(s, indent))
			}
		}
	}
	if len(alts) == 0 {
		return "unknown"
	}
	return strings.Join(alts, " | ")
}

func (g tsGen) object(s *openapi3.Schema, indent string) string {
	var b strings.Builder
	b.WriteString("{\n")
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		// Required fields first, then by name.
		ra, rb := slices.Contains(s.Required, a), slices.Contains(s.Required, b)
		if ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	for _, name := range names {
		p := s.Properties[name]
		desc := p.Value.Description
		if ref, ok := g.schemas[strings.TrimPrefix(p.Ref, "#/components/schemas/")]; ok && ref.Value.Description == desc {
			desc = "" // the referenced type's own comment says it
		}
		tsComment(&b, indent+"  ", desc)
		opt := "?"
		if slices.Contains(s.Required, name) {
			opt = ""
		}
		fmt.Fprintf(&b, "%s  %s%s: %s;\n", indent, name, opt, g.typ(p, indent+"  "))
	}
	b.WriteString(indent + "}")
	return b.String()
}

func tsComment(b *strings.Builder, indent, text string) {
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	lines := strings.Split(text, "\n")
	if len(lines) == 1 {
		fmt.Fprintf(b, "%s/** %s */\n", indent, lines[0])
		return
	}
	fmt.Fprintf(b, "%s/**\n", indent)
	for _, l := range lines {
		fmt.Fprintf(b, "%s * %s\n", indent, strings.TrimRight(l, " "))
	}
	fmt.Fprintf(b, "%s */\n", indent)
}
