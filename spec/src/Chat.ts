/** The chat (seed section 2): one message through the orchestrator's interview → seed → execute → evaluate → evolve loop. */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authorization } from "./Auth.js"
import { BadGateway, GatewayTimeout, ServiceUnavailable, UpgradeRequired } from "./Errors.js"

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
  .middleware(Authorization)
{}
