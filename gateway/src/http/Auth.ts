/**
 * Authentication of `/api/*`: the bearer token (or `?token=` where a browser cannot send headers),
 * else the browser session cookie, which for unsafe methods must come with this server's own
 * `Origin`. Every refusal is recorded as an access decision.
 */
import { HttpServerRequest } from "@effect/platform"
import { Access } from "@annal/kernel"
import { Authorization, Forbidden, SESSION_COOKIE, Unauthorized } from "@annal/spec"
import { Effect, Layer, Option, Redacted } from "effect"
import { ApiTokens } from "./ApiTokens.js"
import { BrowserSessions, type SessionClaim } from "./BrowserSessions.js"
import { needsOriginCheck, originRefusal } from "./SameOrigin.js"

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

/** The subject of a request's access decisions: its client address. */
export const requestSubject = (request: HttpServerRequest.HttpServerRequest) =>
  `api:${Option.getOrElse(request.remoteAddress, () => "unknown")}`

/** What an authentication check found. */
export type Authenticated =
  | { readonly ok: true; readonly by: "token" | "open" }
  | { readonly ok: true; readonly by: "cookie"; readonly claim: SessionClaim }
  | { readonly ok: false; readonly status: 401 | 403; readonly reason: string }

/** Checks a request against the given token store and sessions: its token, else its session cookie (and then its origin when it must). */
const authenticateWith = (tokens: ApiTokens["Type"], sessions: BrowserSessions["Type"]) =>
(request: HttpServerRequest.HttpServerRequest, bearer: string) =>
  Effect.gen(function*() {
    const token = presentedToken(request, bearer)
    const cookie = request.cookies[SESSION_COOKIE] ?? ""
    if (token !== "" || cookie === "") {
      if (yield* tokens.verify(token)) return { ok: true, by: token === "" ? "open" : "token" } satisfies Authenticated
      return { ok: false, status: 401, reason: token === "" ? "missing token" : "invalid token" } satisfies Authenticated
    }
    if (yield* tokens.verify("")) return { ok: true, by: "open" } satisfies Authenticated
    const session = yield* sessions.check(cookie)
    if (!session.ok) return { ok: false, status: 401, reason: `${session.reason}; sign in again` } satisfies Authenticated
    if (needsOriginCheck(request.method, request.headers)) {
      const refusal = originRefusal(request.headers)
      if (refusal !== undefined) return { ok: false, status: 403, reason: refusal } satisfies Authenticated
    }
    return { ok: true, by: "cookie", claim: session.claim } satisfies Authenticated
  })

/** Checks a request: its token, else its session cookie (and then its origin when it must). */
export const authenticate = (request: HttpServerRequest.HttpServerRequest, bearer: string) =>
  Effect.flatMap(Effect.all([ApiTokens, BrowserSessions]), ([tokens, sessions]) => authenticateWith(tokens, sessions)(request, bearer))

/** Records an access decision about a request; a failure to record is logged, not the request's failure. */
export const recordDecision = (
  request: HttpServerRequest.HttpServerRequest,
  decision: { readonly action: string; readonly allowed: boolean; readonly reason: string | null; readonly resource?: string }
) =>
  Effect.gen(function*() {
    const access = yield* Access
    // a refused request must not write whatever it likes into the permanent log
    const path = truncate(request.url.split("?")[0] ?? "", 256)
    yield* access
      .record(
        {
          subject: requestSubject(request),
          action: decision.action,
          resource: decision.resource ?? `${request.method} ${path}`,
          allowed: decision.allowed,
          reason: decision.reason
        },
        { actor: "system" }
      )
      .pipe(Effect.catchAll((e) => Effect.logWarning("could not record an access decision", e)))
  })

/**
 * What the first check fails with when it refuses: the second (the cookie scheme's) then gives
 * the answer, so this never reaches a client. Built once: an error's stack costs more than the
 * whole check, and a request that passes would pay nothing for it.
 */
const REFUSED_FIRST = new Unauthorized({ error: "unauthorized" })

/** The bearer token as the platform reads it for the bearer scheme. */
const bearerOf = (request: HttpServerRequest.HttpServerRequest) => (request.headers.authorization ?? "").slice("Bearer ".length)

export const AuthorizationLive = Layer.effect(
  Authorization,
  Effect.gen(function*() {
    const tokens = yield* ApiTokens
    const sessions = yield* BrowserSessions
    const access = yield* Access
    const check = authenticateWith(tokens, sessions)
    return Authorization.of({
      // Tried first (the security schemes are tried in order): a request that passes is done here,
      // with the services it needs at hand (providing them per request copies the whole context).
      bearer: (redacted) =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          Effect.flatMap(check(request, Redacted.value(redacted)), (outcome) => (outcome.ok ? Effect.void : Effect.fail(REFUSED_FIRST)))),
      // Only after the bearer check refused: the same check, recorded, and its answer.
      cookie: () =>
        Effect.provideService(Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          const outcome = yield* check(request, bearerOf(request))
          if (outcome.ok) return
          yield* recordDecision(request, { action: "authenticate", allowed: false, reason: outcome.reason })
          return yield* outcome.status === 403
            ? new Forbidden({ error: outcome.reason })
            : new Unauthorized({ error: `unauthorized: ${outcome.reason}` })
        }), Access, access)
    })
  })
)
