import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Unauthorized } from "./Errors.js"

/**
 * Bearer-token authentication of every `/api/*` endpoint. Streaming endpoints that browsers
 * open without headers (`/api/events`, `/api/chat/stream`) also accept `?token=`.
 */
export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("Authorization", {
  failure: Unauthorized,
  security: { bearer: HttpApiSecurity.bearer }
}) {}
