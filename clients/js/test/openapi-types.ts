// The client's REST types against docs/openapi.yaml, through the types
// generated from it (src/openapi.d.ts, written by openapi_ts_test.go in the
// Go module). tsc fails here when they drift apart: a response type must be
// the spec's exactly, and a request the client builds must be one the spec
// accepts (the client may send less than the spec allows).
import type * as Spec from '../src/openapi.js';
import type * as Client from '../src/types.js';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Accepted<A, B> = [A] extends [B] ? true : false;
type Assert<T extends true> = T;

export type OpenAPIChecks = [
  Assert<Same<Client.Member, Spec.Member>>,
  Assert<Same<Client.Message, Spec.Message>>,
  Assert<Same<Client.Attachment, Spec.Attachment>>,
  Assert<Same<Client.Chat, Spec.Chat>>,
  Assert<Same<Client.ChatPage, Spec.ChatPage>>,
  Assert<Same<Client.MessagePage, Spec.MessagePage>>,
  Assert<Same<Client.ReadMarker, Spec.ReadMarker>>,
  Assert<Same<Client.SearchPage, Spec.SearchPage>>,
  Assert<Same<Client.SearchHit, Spec.SearchHit>>,
  Assert<Same<Client.TextRange, Spec.TextRange>>,
  Assert<Accepted<Client.CreateChatRequest, Spec.CreateChatRequest>>,
  Assert<Accepted<Client.SendMessageRequest, Spec.SendMessageRequest>>,
];
