/**
 * Renders every failure as the Oxios error body `{"error": "..."}` with its status: the API's
 * tagged errors, request decoding, unreadable or oversized bodies, unknown routes (404, or 405
 * with `Allow` for a path that has other methods), defects.
 */
import { HttpApiBuilder, HttpServerError, HttpServerResponse } from "@effect/platform"
import { HttpApiDecodeError } from "@effect/platform/HttpApiError"
import { type ApiError, describeIssues, type RouteError, statusOf } from "@annal/spec"
import { Cause, Effect, Option } from "effect"
import { methodsOf } from "./Routes.js"

const API_ERRORS = new Set([
  "BadRequest",
  "Unauthorized",
  "PaymentRequired",
  "Forbidden",
  "NotFound",
  "MethodNotAllowed",
  "RequestTimeout",
  "Conflict",
  "PayloadTooLarge",
  "UnsupportedMediaType",
  "UpgradeRequired",
  "TooManyRequests",
  "InternalError",
  "BadGateway",
  "ServiceUnavailable",
  "GatewayTimeout"
])

/** `{"error": message}` with a status. */
export const errorResponse = (status: number, message: string, headers?: Record<string, string>) =>
  HttpServerResponse.unsafeJson({ error: message }, { status, ...(headers === undefined ? {} : { headers }) })

/** The answer to a request no route takes: 405 with `Allow` when the path has other methods, else 404. */
export const noRoute = (method: string, url: string) => {
  const path = url.split("?")[0] ?? "/"
  // the router ends a path at `;` too, so `/api/status;x` is `/api/status`'s
  const allowed = methodsOf(path.split(";")[0] ?? path)
  // the method is among them when the router refused the path for another reason (a parameter
  // over its 100-character limit): no route takes it, so 404 as for any path no route has
  return allowed.length === 0 || allowed.includes(method)
    ? errorResponse(404, `no such route: ${method} ${path}`)
    : errorResponse(405, `${method} is not allowed on ${path}; allowed: ${allowed.join(", ")}`, { allow: allowed.join(", ") })
}

const isApiError = (u: unknown): u is ApiError | RouteError =>
  typeof u === "object" && u !== null && "_tag" in u && API_ERRORS.has((u as { _tag: string })._tag)

const tooLarge = (u: unknown): boolean => {
  const text = u instanceof Error ? `${u.message} ${String((u as { cause?: unknown }).cause ?? "")}` : String(u)
  return /too large|maxBytes|exceed/i.test(text)
}

/** The response for a failure, or none when the cause is only an interruption. */
export const responseFor = (cause: Cause.Cause<unknown>): Option.Option<HttpServerResponse.HttpServerResponse> => {
  if (Cause.isInterruptedOnly(cause)) return Option.none()
  // HttpApiBuilder reads request bodies with orDie, so an unreadable body arrives as a defect
  const failure = Option.orElse(Cause.failureOption(cause), () => Cause.dieOption(cause))
  if (Option.isSome(failure)) {
    const e = failure.value
    if (isApiError(e)) return Option.some(errorResponse(statusOf(e), e.error))
    if (e instanceof HttpApiDecodeError) return Option.some(errorResponse(400, describeIssues(e.issues)))
    if (HttpServerError.isServerError(e)) {
      if (e._tag === "RouteNotFound") return Option.some(noRoute(e.request.method, e.request.url))
      if (e._tag === "RequestError") {
        if (tooLarge(e.cause)) return Option.some(errorResponse(413, "request body is too large", { connection: "close" }))
        return Option.some(errorResponse(400, e.reason === "Decode" ? "request body is not valid JSON" : `could not read the request: ${e.reason}`))
      }
    }
  }
  return Option.some(errorResponse(500, "internal error"))
}

/** Turns an app's failures into `{"error"}` responses (interruptions stay interruptions). */
export const renderFailures = <E, R>(
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
  Effect.catchAllCause(app, (cause) =>
    Option.match(responseFor(cause), {
      onNone: () => Effect.failCause(cause),
      onSome: (response) =>
        response.status >= 500 ? Effect.as(Effect.logError("request failed", cause), response) : Effect.succeed(response)
    }))

/** The API-level middleware that turns failures into `{"error"}` responses. */
export const errorMiddleware = HttpApiBuilder.middleware(renderFailures)
