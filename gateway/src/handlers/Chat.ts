/**
 * The chat (seed section 2): one message through the orchestrator; 502 when the model's endpoint
 * fails (unreachable, or an error status — its message names both), 503 with no model or one that
 * cannot be loaded, 504 past the chat timeout. A model that answers in prose is not an error.
 */
import { HttpApiBuilder } from "@effect/platform"
import { Approvals, type ChatError, type ChatTimedOut, EventBus, Orchestrator, Replay } from "@annal/kernel"
import { EventStore } from "@annal/store"
import { type ApiError, AnnalApi, BadGateway, Conflict, GatewayTimeout, InternalError, NotFound, ServiceUnavailable } from "@annal/spec"
import { Effect } from "effect"
import { RateLimiter } from "../http/RateLimiter.js"
import { chatStream } from "./ChatStream.js"
import { API_ACTOR, apiError, requestMeta } from "./common.js"

const chatError = (e: ChatError | ChatTimedOut): ApiError | BadGateway => {
  switch (e._tag) {
    case "ModelUnavailable":
      return new ServiceUnavailable({ error: e.message })
    case "ChatTimedOut":
      return new GatewayTimeout({ error: e.message })
    // the same message as the run's `chat_run_failed` (the WebSocket's `error` frame)
    case "ModelError":
      return new BadGateway({ error: e.message })
    case "AgentRunFailed":
      if (e.model) return new BadGateway({ error: e.message })
      return new InternalError({ error: `the chat failed: ${e.message}` })
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
      .handle("replayRun", ({ path }) =>
        Replay.replayRun(path.id).pipe(
          Effect.provide(services),
          Effect.mapError((e) =>
            e._tag === "RunNotReplayable"
              ? e.notFound === true ? new NotFound({ error: e.message }) : new Conflict({ error: e.message })
              : new InternalError({ error: `the replay failed: ${e.message}` })
          )
        ))
  }))
