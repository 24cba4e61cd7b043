/** What every handler needs: who is acting, the request's meta, and error mapping. */
import { HttpServerRequest } from "@effect/platform"
import type { AccessRefused, AlreadyExists, ConcurrentChange, EntityNotFound, Exhausted, InvalidCommand, Unavailable } from "@annal/kernel"
import {
  type ApiError,
  BadRequest,
  Conflict,
  Forbidden,
  InternalError,
  NotFound,
  PaymentRequired,
  ServiceUnavailable
} from "@annal/spec"
import { type EventMeta, type EventStoreError, PastViews, readingAt } from "@annal/store"
import { Effect } from "effect"

/** The actor of requests made with the API token. */
export const API_ACTOR = "user:api"

/** The event meta of this request: its `Idempotency-Key` and `X-Request-Id` when given. */
export const requestMeta = Effect.map(HttpServerRequest.HttpServerRequest, (request): EventMeta => {
  const key = request.headers["idempotency-key"]
  const id = request.headers["x-request-id"]
  return {
    ...(key === undefined || key === "" ? {} : { idempotency_key: key.slice(0, 200) }),
    ...(id === undefined || id === "" ? {} : { correlation_id: id.slice(0, 200) })
  }
})

/** Maps an unexpected service failure to a 500 that says what failed. */
export const internal = (what: string) => (e: { readonly message: string }) =>
  new InternalError({ error: `${what}: ${e.message}` })

/** Any kernel failure a handler can meet. */
export type KernelFailure =
  | EntityNotFound
  | InvalidCommand
  | AccessRefused
  | ConcurrentChange
  | AlreadyExists
  | Exhausted
  | Unavailable
  | EventStoreError

/** Maps a kernel failure to the API error with its status; `what` names the operation for 500s. */
export const apiError = (what: string) => (e: KernelFailure): ApiError => {
  switch (e._tag) {
    case "EntityNotFound":
      return new NotFound({ error: e.message })
    case "InvalidCommand":
      return new BadRequest({ error: e.message })
    case "AccessRefused":
      return new Forbidden({ error: e.message })
    case "ConcurrentChange":
    case "AlreadyExists":
      return new Conflict({ error: e.message })
    case "Exhausted":
      return new PaymentRequired({ error: e.message })
    case "Unavailable":
      return new ServiceUnavailable({ error: e.message })
    case "EventStoreError":
      return new InternalError({ error: `${what}: ${e.message}` })
  }
}

/**
 * Runs a read of the views as they stood right after event `at_seq` when the request gives one
 * (400 beyond the log's head), else of the live views: `?at_seq` on every view read.
 */
export const asOf = (query: { readonly at_seq?: number | undefined }) =>
<A, E, R>(read: Effect.Effect<A, E, R>): Effect.Effect<A, E | BadRequest | InternalError, R | PastViews> => {
  const seq = query.at_seq
  if (seq === undefined) return read
  return Effect.flatMap(PastViews, (views) => views.at(seq)).pipe(
    Effect.mapError((e) =>
      e._tag === "BeyondHead" ? new BadRequest({ error: e.message }) : new InternalError({ error: `could not build the views as of seq ${seq}: ${e.message}` })
    ),
    Effect.flatMap((past) => readingAt(past)(read))
  )
}
