/**
 * What a cookie-authenticated request must show: that it comes from a page of this server.
 * A browser attaches the session cookie to any request to this host; only `Origin` tells a
 * request this server's own page made from one another site's page made (SameSite=Strict does
 * not separate two ports of one host, which are the same site).
 */
type Headers = Readonly<Record<string, string | undefined>>

const first = (value: string | undefined) => value?.split(",")[0]?.trim() ?? ""

/** Whether the request reached us over HTTPS (directly, or as a proxy in front says). */
export const isSecure = (headers: Headers): boolean => first(headers["x-forwarded-proto"]).toLowerCase() === "https"

/** This server's origin as the browser sees it: scheme and host, as a proxy in front forwards them. */
export const ownOrigin = (headers: Headers): string => {
  const host = first(headers["x-forwarded-host"]) || first(headers.host)
  return `${isSecure(headers) ? "https" : "http"}://${host.toLowerCase()}`
}

/** Methods that change something, and a WebSocket upgrade (which can send anything), need the check. */
export const needsOriginCheck = (method: string, headers: Headers): boolean =>
  !(method === "GET" || method === "HEAD" || method === "OPTIONS") || first(headers.upgrade).toLowerCase() === "websocket"

/** Why a request may not act with the cookie, or undefined when it comes from our own origin. */
export const originRefusal = (headers: Headers): string | undefined => {
  const origin = headers.origin
  if (origin === undefined || origin === "") return "cross-origin request refused: no Origin header on a request authenticated by cookie"
  if (origin.toLowerCase() !== ownOrigin(headers)) return `cross-origin request refused: Origin ${origin.slice(0, 200)} is not this server's`
  return undefined
}
