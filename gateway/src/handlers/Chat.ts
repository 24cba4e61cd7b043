/** The chat (seed section 2): one message through the orchestrator; 503 with no model, 504 past the chat timeout. */
import { HttpApiBuilder } from "@effect/platform"
import { Approvals, type ChatError, type ChatTimedOut, EventBus, Orchestrator } from "@annal/kernel"
import { EventStore } from "@annal/store"
import { type ApiError, AnnalApi, GatewayTimeout, InternalError, ServiceUnavailable } from "@annal/spec"
import { Effect } from "effect"
import { RateLimiter } from "../http/RateLimiter.js"
import { chatStream } from "./ChatStream.js"
import { API_ACTOR, apiError, requestMeta } from "./common.js"

const chatError = (e: ChatError | ChatTimedOut): ApiError => {
  switch (e._tag) {
    case "ModelUnavailable":
      return new ServiceUnavailable({ error: e.message })
    case "ChatTimedOut":
      return new GatewayTimeout({ error: e.message })
    case "ModelError":
    case "AgentRunFailed":
    case "AgentKilled":
    case "TaskAbandoned":
    case "GroupFailed":
    case "ChatRunFailedEarlier":
      return new InternalError({ error: `the chat failed: ${e.message}` })
    default:
      return apiError("the chat failed")(e)
  }
}

export const ChatLive = HttpApiBuilder.group(AnnalApi, "chat", (handlers) =>
  Effect.gen(function*() {
    const orchestrator = yield* Orchestrator
    const services = yield* Effect.context<Orchestrator | EventBus | EventStore | Approvals | RateLimiter>()
    return handlers
      .handle("chat", ({ payload }) =>
        Effect.gen(function*() {
          const meta = yield* requestMeta
          return yield* orchestrator.chat(payload, { actor: API_ACTOR, meta })
        }).pipe(Effect.mapError(chatError)))
      .handleRaw("chatStream", () => Effect.provide(chatStream, services))
  }))
