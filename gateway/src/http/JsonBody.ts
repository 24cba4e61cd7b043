/**
 * Request bodies are JSON where the API declares JSON. The platform's decoder picks a parser by
 * the Content-Type (a form body would be decoded as if it were the JSON object, a multipart body
 * parsed, and a malformed one die), and the decoders and error formatters recurse once per level
 * of nesting. So before a route sees its body, one check for every JSON route: another media type
 * is 415, and nesting deeper than `MAX_JSON_DEPTH` is 400 — found by a linear scan of the text,
 * before anything recursive touches it.
 */
import type { HttpServerRequest } from "@effect/platform"
import { Effect, Option } from "effect"
import { errorResponse } from "./Errors.js"
import type { Route } from "./Routes.js"

/** The deepest nesting of arrays and objects a JSON body may have. */
export const MAX_JSON_DEPTH = 512

/** The media type of a Content-Type header, lower-cased, without its parameters. */
export const mediaTypeOf = (contentType: string): string => (contentType.split(";")[0] ?? "").trim().toLowerCase()

/**
 * Whether a JSON text nests arrays and objects deeper than `limit`. Brackets inside strings do not
 * count; the text need not be valid JSON (the parser judges that afterwards).
 */
export const nestsDeeperThan = (text: string, limit: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92 /* \ */) i++
      else if (c === 34 /* " */) inString = false
    } else if (c === 34) {
      inString = true
    } else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > limit) return true
    } else if (c === 93 /* ] */ || c === 125 /* } */) {
      depth--
    }
  }
  return false
}

/** Whether a request comes with a body (HTTP/1.1: a non-zero Content-Length or a Transfer-Encoding). */
export const hasBody = (headers: HttpServerRequest.HttpServerRequest["headers"]): boolean =>
  headers["transfer-encoding"] !== undefined || (headers["content-length"] !== undefined && headers["content-length"] !== "0")

/**
 * The refusal for a request whose body a JSON route cannot take, if any. Reads the body (the
 * platform caches it for the route's own decoder); a body that cannot be read dies, as the
 * platform's own reading does, with a RequestError the error renderer answers (400 or 413).
 */
export const refuseBody = (request: HttpServerRequest.HttpServerRequest, route: Route | undefined) =>
  Effect.gen(function*() {
    const accepted = route?.bodyTypes
    if (accepted === undefined || !accepted.includes("application/json") || !hasBody(request.headers)) return Option.none()
    const contentType = request.headers["content-type"]
    // No Content-Type at all is read as JSON, as the platform does.
    if (contentType !== undefined && !accepted.includes(mediaTypeOf(contentType))) {
      return Option.some(errorResponse(415, `unsupported content type "${mediaTypeOf(contentType)}": this route takes application/json`))
    }
    const text = yield* Effect.orDie(request.text)
    if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
      return Option.some(errorResponse(400, `request body nests deeper than ${MAX_JSON_DEPTH} levels`))
    }
    return Option.none()
  })
