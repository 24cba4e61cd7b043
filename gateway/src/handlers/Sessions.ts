/** Sessions (seed section 14): list, read with history, delete. The chat runtime records the messages. */
import { HttpApiBuilder } from "@effect/platform"
import { Sessions } from "@annal/kernel"
import { AnnalApi, pageRequest } from "@annal/spec"
import { Effect } from "effect"
import { API_ACTOR, apiError, requestMeta, asOf } from "./common.js"

export const SessionsLive = HttpApiBuilder.group(AnnalApi, "sessions", (handlers) =>
  Effect.gen(function*() {
    const sessions = yield* Sessions
    return handlers
      .handle("list", ({ urlParams }) => asOf(urlParams)(Effect.mapError(sessions.list(pageRequest(urlParams)), apiError("could not list sessions"))))
      .handle("get", ({ path, urlParams }) => asOf(urlParams)(Effect.mapError(sessions.get(path.id), apiError("could not read the session"))))
      .handle("delete", ({ path }) =>
        Effect.gen(function*() {
          const id = yield* sessions.delete(path.id, { actor: API_ACTOR, meta: yield* requestMeta })
          return { status: "deleted" as const, id }
        }).pipe(Effect.mapError(apiError("could not delete the session"))))
  }))
