package chatotel_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chatotel"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func spanNamed(t *testing.T, spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range spans {
		if s.Name() == name {
			return s
		}
	}
	names := make([]string, len(spans))
	for i, s := range spans {
		names[i] = s.Name()
	}
	t.Fatalf("no span %q among %q", name, names)
	return nil
}

// spansInTrace returns the spans of trace id, only those named name unless
// it is "".
func spansInTrace(spans []sdktrace.ReadOnlySpan, id trace.TraceID, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanContext().TraceID() == id && (name == "" || s.Name() == name) {
			out = append(out, s)
		}
	}
	return out
}

// One trace spans a send over REST on node A, its Store call and its
// publication there, and its delivery on node B, which learnt the trace
// context from the Broker payload.
func TestTraceSpansASendAndItsDeliveryOnAnotherNode(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })

	store, broker := memory.NewStore(), memory.NewBroker()
	a := chattest.NewService(t, chat.Config{Store: store, Broker: broker, Tracer: chatotel.New(chatotel.Config{TracerProvider: tp})})
	b := chattest.NewService(t, chat.Config{Store: store, Broker: broker, Tracer: chatotel.New(chatotel.Config{TracerProvider: tp})})
	nodeA, nodeB := chattest.NewServer(t, a), chattest.NewServer(t, b)

	var c chat.Chat
	nodeA.Do("alice", "POST", "/chats", map[string]any{"kind": "direct", "members": []string{"bob"}}).Decode(t, &c)
	bob, _ := nodeB.Connect("bob", map[string]int64{c.ID: 0})
	rec.Reset()

	resp := nodeA.Do("alice", "POST", "/chats/"+c.ID+"/messages", map[string]any{"text": "traced"})
	require.Equal(t, 201, resp.Status)
	require.Equal(t, "traced", bob.NextOfType(chat.EventMessageCreated).Message.Text)

	// Other work may end spans after the Reset (the chat's announcement
	// is published asynchronously): the spans that count are those of the
	// request's trace.
	var traceID trace.TraceID
	require.Eventually(t, func() bool {
		spans := rec.Ended()
		for _, s := range spans {
			if s.Name() == "POST /chats/{chat_id}/messages" {
				traceID = s.SpanContext().TraceID()
			}
		}
		return traceID.IsValid() && len(spansInTrace(spans, traceID, "chat.deliver")) > 0
	}, chattest.Timeout, 1e6)
	spans := spansInTrace(rec.Ended(), traceID, "")
	request := spanNamed(t, spans, "POST /chats/{chat_id}/messages")
	appendCall := spanNamed(t, spans, "chat.store.AppendMessage")
	publish := spanNamed(t, spans, "chat.publish")
	deliver := spanNamed(t, spans, "chat.deliver")

	require.Equal(t, trace.SpanKindServer, request.SpanKind())
	require.Equal(t, trace.SpanKindClient, appendCall.SpanKind())
	require.Equal(t, trace.SpanKindProducer, publish.SpanKind())
	require.Equal(t, trace.SpanKindConsumer, deliver.SpanKind())
	for _, s := range []sdktrace.ReadOnlySpan{appendCall, publish, deliver} {
		require.Equal(t, traceID, s.SpanContext().TraceID(), "%s is in the send's trace", s.Name())
	}
	require.Equal(t, request.SpanContext().SpanID(), appendCall.Parent().SpanID())
	require.Equal(t, request.SpanContext().SpanID(), publish.Parent().SpanID())
	require.Equal(t, publish.SpanContext().SpanID(), deliver.Parent().SpanID(), "node B's delivery is a child of node A's publication")
	require.True(t, deliver.Parent().IsRemote())

	var status int64
	for _, kv := range request.Attributes() {
		if kv.Key == "http.response.status_code" {
			status = kv.Value.AsInt64()
		}
	}
	require.Equal(t, int64(201), status)
}

// A Store failure marks its span and the request's span as errors.
func TestTraceRecordsErrors(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	svc := chattest.NewService(t, chat.Config{Tracer: chatotel.New(chatotel.Config{TracerProvider: tp})})
	srv := chattest.NewServer(t, svc)

	resp := srv.Do("alice", "GET", "/chats/nosuchchat", nil)
	require.Equal(t, 404, resp.Status)
	spans := rec.Ended()
	get := spanNamed(t, spans, "chat.store.GetChat")
	require.Equal(t, "Error", get.Status().Code.String())
	request := spanNamed(t, spans, "GET /chats/{chat_id}")
	require.Equal(t, "Unset", request.Status().Code.String(), "a 404 is the client's error, not the server's")
}
