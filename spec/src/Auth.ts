import { HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware, HttpApiSecurity, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { BadRequest, Forbidden, Unauthorized } from "./Errors.js"

/** The cookie a browser holds after signing in (`POST /api/auth/session`). */
export const SESSION_COOKIE = "annal_session"

/** How long a browser session lasts after signing in: 12 hours. */
export const SESSION_TTL_SECS = 12 * 60 * 60

/**
 * Authentication of every `/api/*` endpoint: the bearer token; on the streaming endpoints that
 * browsers open without headers (`/api/events`, `/api/chat/stream`) also `?token=`; and the
 * session cookie a browser got by signing in. A request authenticated by the cookie with an
 * unsafe method (POST, PUT, PATCH, DELETE) or a WebSocket upgrade must come from the server's
 * own origin (`Origin`), else 403.
 */
export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("Authorization", {
  failure: Schema.Union(Unauthorized, Forbidden),
  security: {
    // The bearer check, tried first, also reads the cookie and passes every signed-in request;
    // the cookie scheme's handler runs only after it refused, and gives (and records) the answer.
    bearer: HttpApiSecurity.bearer,
    cookie: HttpApiSecurity.apiKey({ in: "cookie", key: SESSION_COOKIE })
  }
}) {}

export const SignIn = Schema.Struct({
  /** The API token. */
  token: Schema.String.pipe(Schema.maxLength(1024))
}).annotations({ identifier: "SignIn" })

/** Whether the request is signed in, and until when. */
export const BrowserSession = Schema.Struct({
  signed_in: Schema.Boolean,
  /** False when `security.auth_enabled` is off: every request is let in, no sign-in needed. */
  auth_enabled: Schema.Boolean,
  /** ISO-8601; null when not signed in by cookie. */
  expires_at: Schema.NullOr(Schema.String)
}).annotations({ identifier: "BrowserSession" })
export type BrowserSession = typeof BrowserSession.Type

export class AuthGroup extends HttpApiGroup.make("auth")
  .add(
    HttpApiEndpoint.post("signIn", "/api/auth/session")
      .setPayload(SignIn)
      .addSuccess(BrowserSession)
      .addError(BadRequest)
      .addError(Unauthorized)
      .addError(Forbidden)
      .annotate(
        OpenApi.Description,
        `Signs a browser in: exchanges the API token for a session cookie \`${SESSION_COOKIE}\` (HttpOnly, SameSite=Strict, ` +
          `Secure behind HTTPS, ${SESSION_TTL_SECS / 3600} hours). The cookie then authenticates every \`/api/*\` route, ` +
          "the SSE stream, the WebSocket and file links. A wrong token is 401; a request from another origin 403. " +
          "Both outcomes are access decisions on the record."
      )
  )
  .add(
    HttpApiEndpoint.get("session", "/api/auth/session")
      .addSuccess(BrowserSession)
      .annotate(OpenApi.Description, "Whether this request is signed in (by cookie or token), and whether authentication is on.")
  )
  .add(
    HttpApiEndpoint.del("signOut", "/api/auth/session")
      .addSuccess(BrowserSession)
      .addError(Forbidden)
      .annotate(
        OpenApi.Description,
        "Signs out: the session cookie is revoked and cleared; an access decision on the record. 403 from another origin."
      )
  )
{}
