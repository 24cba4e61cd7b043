/**
 * The API's errors. On the wire every one of them is exactly `{"error": "..."}` with its
 * status; the gateway renders them (the `_tag` is for the server's own dispatch). So each
 * one's JSON Schema, which `/openapi.json` shows, is the body a client reads: `{"error"}`,
 * not the class's encoded form (which carries the `_tag`).
 */
import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

const fields = { error: Schema.String }

/** The JSON Schema of every error body: `{"error": string}` (exactly that: no other field). */
export const ERROR_BODY_JSON_SCHEMA = {
  type: "object",
  required: ["error"],
  properties: { error: { type: "string", description: "What went wrong, for a person to read." } },
  additionalProperties: false
} as const

/** The annotations of an API error: its status, the body it is sent as, and what it means. */
const error = <A>(status: number, description: string): Schema.Annotations.GenericSchema<A> => ({
  ...HttpApiSchema.annotations<A>({ status }),
  jsonSchema: ERROR_BODY_JSON_SCHEMA,
  description
})

export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", fields, error(400, "The request is not valid: a parameter, field or body the route cannot accept (the message names it).")) {}
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", fields, error(401, "No valid token or session.")) {}
export class PaymentRequired extends Schema.TaggedError<PaymentRequired>()("PaymentRequired", fields, error(402, "A budget is exhausted.")) {}
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", fields, error(403, "Refused: a permission, a path outside the workspace, or a cross-origin browser request.")) {}
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", fields, error(404, "No such entity.")) {}
/** 405 is not any operation's answer (it is a path's, for the methods it lacks) but its body is the same. */
export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>()("MethodNotAllowed", fields, error(405, "The path exists but not with this method; `Allow` lists its methods.")) {}
export class RequestTimeout extends Schema.TaggedError<RequestTimeout>()("RequestTimeout", fields, error(408, "The request's headers or body did not arrive in time.")) {}
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", fields, error(409, "Conflicts with the current state (it already exists, or it changed meanwhile).")) {}
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", fields, error(413, "The request body is over the limit.")) {}
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()("UnsupportedMediaType", fields, error(415, "The body is not JSON where JSON is expected (e.g. a form or multipart body).")) {}
/** The chat stream's answer to a request that is not a WebSocket upgrade. */
export class UpgradeRequired extends Schema.TaggedError<UpgradeRequired>()("UpgradeRequired", fields, error(426, "This route speaks WebSocket: send an `Upgrade: websocket` request.")) {}
export class TooManyRequests extends Schema.TaggedError<TooManyRequests>()("TooManyRequests", fields, error(429, "Rate limit exceeded; `Retry-After` says when to try again.")) {}
export class InternalError extends Schema.TaggedError<InternalError>()("InternalError", fields, error(500, "The server failed; the message says what failed.")) {}
/** The language model (an upstream service) could not be reached or answered an error. */
export class BadGateway extends Schema.TaggedError<BadGateway>()("BadGateway", fields, error(502, "The language model could not be reached or answered an error.")) {}
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", fields, error(503, "A service this route needs is not available now (the message says which).")) {}
export class GatewayTimeout extends Schema.TaggedError<GatewayTimeout>()("GatewayTimeout", fields, error(504, "The work did not finish in time.")) {}

/** Every API error, for dispatch on `_tag`. */
export type ApiError =
  | BadRequest
  | Unauthorized
  | PaymentRequired
  | Forbidden
  | NotFound
  | RequestTimeout
  | Conflict
  | PayloadTooLarge
  | UnsupportedMediaType
  | TooManyRequests
  | InternalError
  | ServiceUnavailable
  | GatewayTimeout

/** An error some routes (or paths) answer but not every route, so not one of every route's `ApiError`s. */
export type RouteError = BadGateway | MethodNotAllowed | UpgradeRequired

/** The HTTP status of an API error. */
export const statusOf = (error: ApiError | RouteError): number => {
  switch (error._tag) {
    case "BadRequest":
      return 400
    case "Unauthorized":
      return 401
    case "PaymentRequired":
      return 402
    case "Forbidden":
      return 403
    case "NotFound":
      return 404
    case "MethodNotAllowed":
      return 405
    case "RequestTimeout":
      return 408
    case "Conflict":
      return 409
    case "PayloadTooLarge":
      return 413
    case "UnsupportedMediaType":
      return 415
    case "UpgradeRequired":
      return 426
    case "TooManyRequests":
      return 429
    case "InternalError":
      return 500
    case "BadGateway":
      return 502
    case "ServiceUnavailable":
      return 503
    case "GatewayTimeout":
      return 504
  }
}

/** An issue from a failed decode: where it is and what is wrong. */
export interface FieldIssue {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

/** Names the first bad field of a failed decode, e.g. `invalid field "security.port": Expected ...`. */
export const describeIssues = (issues: ReadonlyArray<FieldIssue>, where = "field"): string => {
  const first = issues[0]
  if (first === undefined) return "invalid request"
  const path = first.path.map(String).join(".")
  const message = first.message.replace(/\s+/g, " ")
  return path === "" ? `invalid request: ${message}` : `invalid ${where} "${path}": ${message}`
}
