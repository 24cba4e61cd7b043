/** The bearer-token check of `/api/*`; every refusal is recorded as an access decision. */
import { HttpServerRequest } from "@effect/platform"
import { Access } from "@annal/kernel"
import { Authorization, Unauthorized } from "@annal/spec"
import { Effect, Layer, Option, Redacted } from "effect"
import { ApiTokens } from "./ApiTokens.js"

/** Paths a browser opens without headers, so they may carry `?token=`. */
const QUERY_TOKEN_PATHS = new Set(["/api/events", "/api/chat/stream"])

/** The token a request presents: the bearer header, else `?token=` where that is allowed. */
export const presentedToken = (request: HttpServerRequest.HttpServerRequest, bearer: string): string => {
  if (bearer !== "") return bearer
  const [path, query] = request.url.split("?", 2)
  if (query === undefined || !QUERY_TOKEN_PATHS.has(path ?? "")) return ""
  return new URLSearchParams(query).get("token") ?? ""
}

const truncate = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max)}…`)

export const AuthorizationLive = Layer.effect(
  Authorization,
  Effect.gen(function*() {
    const tokens = yield* ApiTokens
    const access = yield* Access
    return Authorization.of({
      bearer: (redacted) =>
        Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          const token = presentedToken(request, Redacted.value(redacted))
          if (yield* tokens.verify(token)) return
          const reason = token === "" ? "missing token" : "invalid token"
          // a refused request must not write whatever it likes into the permanent log
          const path = truncate(request.url.split("?")[0] ?? "", 256)
          const client = Option.getOrElse(request.remoteAddress, () => "unknown")
          yield* access
            .record(
              { subject: `api:${client}`, action: "authenticate", resource: `${request.method} ${path}`, allowed: false, reason },
              { actor: "system" }
            )
            .pipe(Effect.catchAll((e) => Effect.logWarning("could not record an access decision", e)))
          return yield* new Unauthorized({ error: `unauthorized: ${reason}` })
        })
    })
  })
)
