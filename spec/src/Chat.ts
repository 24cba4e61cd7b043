/** The chat (seed section 2): one message through the orchestrator's interview → seed → execute → evaluate → evolve loop. */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authorization } from "./Auth.js"
import { BadGateway, Conflict, GatewayTimeout, NotFound, ServiceUnavailable, UpgradeRequired } from "./Errors.js"

/** A chat message's content at most, in UTF-8 bytes. */
export const MAX_CHAT_CONTENT_BYTES = 64 * 1024

const utf8 = new TextEncoder()

export const ChatContent = Schema.String.pipe(
  Schema.filter((s) => (s.trim() !== "" && utf8.encode(s).length <= MAX_CHAT_CONTENT_BYTES) || `content must be a non-empty string of at most ${MAX_CHAT_CONTENT_BYTES} bytes (UTF-8)`)
)

export const ChatRequest = Schema.Struct({
  content: ChatContent,
  user_id: Schema.optionalWith(Schema.String.pipe(Schema.maxLength(200)), { default: () => "default" }),
  /** "" (the default) starts a new session. */
  session_id: Schema.optionalWith(Schema.String.pipe(Schema.maxLength(200)), { default: () => "" })
}).annotations({ identifier: "ChatRequest" })
export type ChatRequest = typeof ChatRequest.Type

export const ChatResponse = Schema.Struct({
  /** The id of the recorded reply. */
  id: Schema.String,
  /** The message as received. */
  echo: Schema.String,
  reply: Schema.String,
  session_id: Schema.String,
  /**
   * `respond` when the message asked for no work and was answered directly; `interview` when the
   * reply asks questions; `evaluate` after a full loop (`evolve` when an unreadable refinement stopped it).
   */
  phase: Schema.String
}).annotations({ identifier: "ChatResponse" })
export type ChatResponse = typeof ChatResponse.Type

/** One event as a replay compares it: ids and times as that side has them. */
export const ReplayedEvent = Schema.Struct({
  type: Schema.String,
  stream: Schema.String,
  actor: Schema.String,
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}).annotations({ identifier: "ReplayedEvent" })

/** What replaying a recorded chat run found: `identical`, or the first difference. */
export const ReplayResponse = Schema.Struct({
  result: Schema.Literal("identical", "different"),
  run_id: Schema.String,
  /** identical: how many recorded events the replay's equalled. */
  events: Schema.optional(Schema.Int),
  /** different: the recorded event's seq (an event only the replay has: its seq in the scratch log). */
  seq: Schema.optional(Schema.Int),
  /** different: the recorded event (null: the record has none there). */
  expected: Schema.optional(Schema.NullOr(ReplayedEvent)),
  /** different: what the replay produced in its place (null: nothing). */
  actual: Schema.optional(Schema.NullOr(ReplayedEvent)),
  /** Model requests and tool calls of the replay that the record has no answer to. */
  unanswered: Schema.Array(Schema.String)
}).annotations({ identifier: "ReplayResponse" })
export type ReplayResponse = typeof ReplayResponse.Type

export class ChatGroup extends HttpApiGroup.make("chat")
  .add(
    HttpApiEndpoint.post("chat", "/api/chat")
      .setPayload(ChatRequest)
      .addSuccess(ChatResponse)
      .addError(BadGateway)
      .addError(ServiceUnavailable)
      .addError(GatewayTimeout)
      .annotate(
        OpenApi.Description,
        "Runs the orchestrator on one message. A greeting or a question the model can answer is answered directly (`phase: \"respond\"`). " +
          "A model that answers in prose never fails the chat (one repair request, then each phase's fallback). " +
          "502 when the model's endpoint cannot be reached or answers an error (the message names it and its status); " +
          "503 with no language model configured or one that cannot be loaded; 504 past `orchestrator.chat_timeout_secs` (the run goes on)."
      )
  )
  .add(
    HttpApiEndpoint.get("chatStream", "/api/chat/stream")
      .setUrlParams(Schema.Struct({ token: Schema.optional(Schema.String) }))
      .addSuccess(Schema.Void, { status: 101 })
      .addError(UpgradeRequired)
      .annotate(
        OpenApi.Description,
        "WebSocket chat (`?token=`; 401 before the upgrade on a bad token, 426 without an upgrade). A text frame is a message (plain text, or JSON " +
          "`{type: \"message\", content, session_id?}`); also `{type: \"resume\", last_seq, session_id?}` and `{type: \"approve\"|\"reject\", id}`. " +
          "The server sends JSON frames `token`, `tool_start`, `tool_end`, `approval_requested`, `approval_resolved`, `phase_started`, `phase_completed`, " +
          "`reply`, `error`, `done`, each with the `seq` of the event it reflects where there is one. See docs/websocket.md."
      )
  )
  .add(
    HttpApiEndpoint.post("replayRun", "/api/chat/runs/:id/replay")
      .setPath(Schema.Struct({ id: Schema.String }))
      .addSuccess(ReplayResponse)
      .addError(NotFound)
      .addError(Conflict)
      .annotate(
        OpenApi.Description,
        "Replays a recorded chat run: the orchestrator, its agents and the gate run again in a scratch store seeded with the log up to the run's start, " +
          "every model answer and tool result (and a person's decision on an approval) taken from the log — no model asked, no tool run, nothing written to the live log — " +
          "and the events produced are compared with the recorded ones (type, stream, actor, data; ids and times as the record has them): " +
          "`{\"result\": \"identical\"}`, or the first difference with its `seq`, `expected` and `actual`. " +
          "404 for an unknown run; 409 for a run that has not ended or was resumed after a restart. See docs/event-log.md, \"Replaying a run\"."
      )
  )
  .middleware(Authorization)
{}
