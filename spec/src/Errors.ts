/**
 * The API's errors. On the wire every one of them is exactly `{"error": "..."}` with its
 * status; the gateway renders them (the `_tag` is for the server's own dispatch).
 */
import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

const fields = { error: Schema.String }

export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", fields, HttpApiSchema.annotations({ status: 400 })) {}
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", fields, HttpApiSchema.annotations({ status: 401 })) {}
export class PaymentRequired extends Schema.TaggedError<PaymentRequired>()("PaymentRequired", fields, HttpApiSchema.annotations({ status: 402 })) {}
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", fields, HttpApiSchema.annotations({ status: 403 })) {}
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", fields, HttpApiSchema.annotations({ status: 404 })) {}
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", fields, HttpApiSchema.annotations({ status: 409 })) {}
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", fields, HttpApiSchema.annotations({ status: 413 })) {}
export class TooManyRequests extends Schema.TaggedError<TooManyRequests>()("TooManyRequests", fields, HttpApiSchema.annotations({ status: 429 })) {}
export class InternalError extends Schema.TaggedError<InternalError>()("InternalError", fields, HttpApiSchema.annotations({ status: 500 })) {}
/** The language model (an upstream service) could not be reached or answered an error. */
export class BadGateway extends Schema.TaggedError<BadGateway>()("BadGateway", fields, HttpApiSchema.annotations({ status: 502 })) {}
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", fields, HttpApiSchema.annotations({ status: 503 })) {}
export class GatewayTimeout extends Schema.TaggedError<GatewayTimeout>()("GatewayTimeout", fields, HttpApiSchema.annotations({ status: 504 })) {}

/** Every API error, for dispatch on `_tag`. */
export type ApiError =
  | BadRequest
  | Unauthorized
  | PaymentRequired
  | Forbidden
  | NotFound
  | Conflict
  | PayloadTooLarge
  | TooManyRequests
  | InternalError
  | ServiceUnavailable
  | GatewayTimeout

/** The HTTP status of an API error (502 is only the chat's, which declares it, so it is not one of every route's `ApiError`s). */
export const statusOf = (error: ApiError | BadGateway): number => {
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
    case "Conflict":
      return 409
    case "PayloadTooLarge":
      return 413
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
