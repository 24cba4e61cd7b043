/**
 * The outermost HTTP middleware: rate limiting of `/api/*` per client address, the request body
 * limit (answered with 413 before a byte of an oversized body is read), JSON routes' bodies
 * (415 for another media type, 400 for nesting too deep), request metrics, and the one commit
 * rule's barrier before the answer to a request that may have changed something.
 */
import { HttpMiddleware, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import { beforeEgress, Configuration } from "@annal/kernel"
import { EventStore } from "@annal/store"
import { Effect, Option } from "effect"
import { errorResponse, renderFailures } from "./Errors.js"
import { hasBody, refuseBody } from "./JsonBody.js"
import { Metrics } from "./Metrics.js"
import { RateLimiter } from "./RateLimiter.js"
import { routeFor } from "./Routes.js"

/** Builds the guard from the services it needs. */
export const makeGuard = Effect.gen(function*() {
  const limiter = yield* RateLimiter
  const metrics = yield* Metrics
  const config = yield* Configuration
  const store = yield* EventStore
  return HttpMiddleware.make((app) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const started = performance.now()
      const path = request.url.split("?")[0] ?? "/"
      const route = routeFor(request.method, path)
      const { security } = yield* config.current
      let response: HttpServerResponse.HttpServerResponse
      const decision = path.startsWith("/api/")
        ? yield* limiter.check(Option.getOrElse(request.remoteAddress, () => "unknown"))
        : undefined
      const length = Number(request.headers["content-length"] ?? "0")
      if (decision !== undefined && !decision.allowed) {
        response = errorResponse(429, "rate limit exceeded; retry later", { "retry-after": String(decision.retryAfterSecs) })
      } else if (Number.isFinite(length) && length > security.max_body_bytes) {
        // Answered before the body is read; Node discards the rest of the body afterwards, so
        // the client, still sending, is not reset before it can read the answer.
        response = errorResponse(413, `request body is too large: ${length} bytes, the limit is ${security.max_body_bytes}`)
      } else {
        response = yield* (hasBody(request.headers)
          ? refuseBody(request, route).pipe(
            Effect.flatMap(Option.match({ onNone: () => app, onSome: Effect.succeed })),
            IncomingMessage.withMaxBodySize(Option.some(security.max_body_bytes))
          )
          : app).pipe(renderFailures) // no body to check, limit or read (a GET's usual case)
        // a read answers from committed views; a command's answer waits for what it appended
        if (request.method !== "GET" && request.method !== "HEAD") yield* beforeEgress(store)
      }
      metrics.observeRequest(request.method, route?.template ?? "unmatched", response.status, (performance.now() - started) / 1000)
      return response
    })
  )
})
