/**
 * Signing a browser in and out (`/api/auth/session`): the API token for a session cookie. These
 * routes take no authentication of their own; both outcomes of a sign-in and every sign-out are
 * access decisions on the record.
 */
import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { AnnalApi, BadRequest, type BrowserSession, describeIssues, Forbidden, SESSION_COOKIE, SESSION_TTL_SECS, SignIn, Unauthorized } from "@annal/spec"
import { Access } from "@annal/kernel"
import { Duration, Effect, ParseResult } from "effect"
import { ApiTokens } from "../http/ApiTokens.js"
import { authenticate, recordDecision } from "../http/Auth.js"
import { BrowserSessions } from "../http/BrowserSessions.js"
import { isSecure, originRefusal } from "../http/SameOrigin.js"

const cookieOptions = (request: HttpServerRequest.HttpServerRequest) =>
  ({ httpOnly: true, sameSite: "strict", path: "/", secure: isSecure(request.headers) }) as const

const answer = (body: BrowserSession) => HttpServerResponse.unsafeJson(body)

export const AuthLive = HttpApiBuilder.group(AnnalApi, "auth", (handlers) =>
  Effect.gen(function*() {
    const tokens = yield* ApiTokens
    const sessions = yield* BrowserSessions
    const access = yield* Access
    const provide = <A, E>(effect: Effect.Effect<A, E, ApiTokens | BrowserSessions | Access>) =>
      effect.pipe(Effect.provideService(ApiTokens, tokens), Effect.provideService(BrowserSessions, sessions), Effect.provideService(Access, access))
    const authEnabled = Effect.map(tokens.verify(""), (open) => !open)

    return handlers
      .handleRaw("signIn", ({ request }) =>
        provide(Effect.gen(function*() {
          // A page of another site must not sign a browser in (to an account of its choosing).
          if (request.headers.origin !== undefined) {
            const refusal = originRefusal(request.headers)
            if (refusal !== undefined) {
              yield* recordDecision(request, { action: "sign_in", allowed: false, reason: refusal })
              return yield* new Forbidden({ error: refusal })
            }
          }
          const body = yield* HttpServerRequest.schemaBodyJson(SignIn).pipe(
            Effect.provideService(HttpServerRequest.HttpServerRequest, request),
            Effect.mapError((e) =>
              new BadRequest({ error: ParseResult.isParseError(e) ? describeIssues(ParseResult.ArrayFormatter.formatErrorSync(e)) : "request body is not valid JSON" })
            )
          )
          if (body.token === "" || !(yield* tokens.verify(body.token))) {
            const reason = body.token === "" ? "missing token" : "invalid token"
            yield* recordDecision(request, { action: "sign_in", allowed: false, reason })
            return yield* new Unauthorized({ error: `unauthorized: ${reason}` })
          }
          const { claim, value } = yield* sessions.issue
          yield* recordDecision(request, { action: "sign_in", allowed: true, reason: null, resource: `session ${claim.nonce}` })
          const response = answer({ signed_in: true, auth_enabled: yield* authEnabled, expires_at: new Date(claim.expiresAt).toISOString() })
          return yield* HttpServerResponse.setCookie(response, SESSION_COOKIE, value, {
            ...cookieOptions(request),
            maxAge: Duration.seconds(SESSION_TTL_SECS)
          }).pipe(Effect.orDie)
        })))
      .handleRaw("session", ({ request }) =>
        provide(Effect.gen(function*() {
          const bearer = (request.headers.authorization ?? "").replace(/^Bearer /, "")
          const outcome = yield* authenticate(request, bearer)
          return answer({
            signed_in: outcome.ok,
            auth_enabled: yield* authEnabled,
            expires_at: outcome.ok && outcome.by === "cookie" ? new Date(outcome.claim.expiresAt).toISOString() : null
          })
        })))
      .handleRaw("signOut", ({ request }) =>
        provide(Effect.gen(function*() {
          const cookie = request.cookies[SESSION_COOKIE] ?? ""
          const session = cookie === "" ? undefined : yield* sessions.check(cookie)
          if (session?.ok === true) {
            const refusal = originRefusal(request.headers)
            if (refusal !== undefined) {
              yield* recordDecision(request, { action: "sign_out", allowed: false, reason: refusal, resource: `session ${session.claim.nonce}` })
              return yield* new Forbidden({ error: refusal })
            }
            yield* sessions.revoke(session.claim)
            yield* recordDecision(request, { action: "sign_out", allowed: true, reason: null, resource: `session ${session.claim.nonce}` })
          }
          // an expired or unknown cookie is cleared all the same
          return HttpServerResponse.expireCookie(
            answer({ signed_in: false, auth_enabled: yield* authEnabled, expires_at: null }),
            SESSION_COOKIE,
            cookieOptions(request)
          )
        })))
  }))
