/** What every handler needs: who is acting, the request's meta, and error mapping. */
import { HttpServerRequest } from "@effect/platform"
import { InternalError } from "@annal/spec"
import type { EventMeta } from "@annal/store"
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
