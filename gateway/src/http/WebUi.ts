/**
 * The web UI at `/`: the files `npm run build:web` writes to `gateway/web/dist`, served from
 * memory. Hashed asset names (`/assets/*`) are cached for a year; `index.html` is revalidated
 * (ETag). Each file is sent brotli- or gzip-compressed when the client accepts it, from the
 * `.br`/`.gz` siblings the build wrote. Any other path that is not the API's gets `index.html`,
 * so the UI's own routes load on a reload. Every page carries a strict Content-Security-Policy:
 * scripts and styles only from this origin, no inline script.
 */
import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, extname, join, relative, sep } from "node:path"
import { errorResponse, noRoute } from "./Errors.js"

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'"
].join("; ")

const SECURITY_HEADERS = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin"
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8"
}

export interface Asset {
  readonly type: string
  readonly etag: string
  readonly identity: Uint8Array
  readonly br: Uint8Array | undefined
  readonly gzip: Uint8Array | undefined
  /** A content-hashed name: cached for good. */
  readonly immutable: boolean
}

/** The built UI: URL path → file. */
export type Bundle = ReadonlyMap<string, Asset>

const walk = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]))

/** Reads a built UI folder into memory; undefined when it holds no `index.html`. */
export const loadBundle = (root: string): Bundle | undefined => {
  if (!existsSync(join(root, "index.html"))) return undefined
  const bundle = new Map<string, Asset>()
  for (const file of walk(root)) {
    if (file.endsWith(".br") || file.endsWith(".gz")) continue
    const urlPath = "/" + relative(root, file).split(sep).join("/")
    const identity = readFileSync(file)
    const sibling = (suffix: string) => (existsSync(file + suffix) ? readFileSync(file + suffix) : undefined)
    bundle.set(urlPath, {
      type: TYPES[extname(file)] ?? "application/octet-stream",
      etag: `"${createHash("sha256").update(identity).digest("base64url").slice(0, 27)}"`,
      identity,
      br: sibling(".br"),
      gzip: sibling(".gz"),
      immutable: urlPath.startsWith("/assets/")
    })
  }
  return bundle
}

/** Which representation to send for an `Accept-Encoding` header. */
export const chooseEncoding = (accept: string | undefined, asset: Asset): "br" | "gzip" | undefined => {
  const offered = new Set(
    (accept ?? "")
      .split(",")
      .map((part) => part.trim().split(";"))
      .filter(([, q]) => q === undefined || !/^\s*q=0(\.0*)?\s*$/.test(q))
      .map(([name]) => name!.trim().toLowerCase())
  )
  if (asset.br !== undefined && offered.has("br")) return "br"
  if (asset.gzip !== undefined && offered.has("gzip")) return "gzip"
  return undefined
}

/** Whether a path is the API's (or the server's own), never the UI's. */
const isServerPath = (path: string) => path === "/api" || path.startsWith("/api/") || path === "/health" || path === "/openapi.json"

/** The response to `GET path` from a bundle (undefined: the UI is not built). */
export const respond = (bundle: Bundle | undefined, path: string, headers: Readonly<Record<string, string | undefined>>) => {
  if (bundle === undefined) {
    return HttpServerResponse.text(
      "The web UI is not built. Run `npm run build:web` (npm start does it when needed), then reload.\n",
      { status: 503, headers: SECURITY_HEADERS }
    )
  }
  let asset = bundle.get(path)
  // a client route (no file extension) gets the app; a missing file is a plain 404
  if (asset === undefined && extname(path) === "") asset = bundle.get("/index.html")
  if (asset === undefined) return HttpServerResponse.text("not found\n", { status: 404, headers: SECURITY_HEADERS })
  const common = {
    ...SECURITY_HEADERS,
    etag: asset.etag,
    vary: "accept-encoding",
    "cache-control": asset.immutable ? "public, max-age=31536000, immutable" : "no-cache"
  }
  if (headers["if-none-match"] === asset.etag) return HttpServerResponse.empty({ status: 304, headers: common })
  const encoding = chooseEncoding(headers["accept-encoding"], asset)
  const body = encoding === "br" ? asset.br! : encoding === "gzip" ? asset.gzip! : asset.identity
  return HttpServerResponse.uint8Array(body, {
    contentType: asset.type,
    headers: encoding === undefined ? common : { ...common, "content-encoding": encoding }
  })
}

/** The folder the UI is built into: `ANNAL_WEB_DIR`, else the nearest `gateway/web/dist` above this module. */
export const defaultWebRoot = (env: Readonly<Record<string, string | undefined>> = process.env): string => {
  const fromEnv = env.ANNAL_WEB_DIR
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    for (const candidate of [join(dir, "web", "dist"), join(dir, "gateway", "web", "dist")]) {
      if (existsSync(join(candidate, "..", "index.html")) && statSync(join(candidate, "..")).isDirectory()) return candidate
    }
    if (dirname(dir) === dir) return join(import.meta.dirname, "..", "..", "web", "dist")
  }
}

/** Mounts the UI on the API's router: `GET /*` for every path the API does not own. */
export const layer = (root: string) =>
  HttpApiBuilder.Router.use((router) => {
    // built once when first asked for; a missing build is looked for again at each request
    let bundle: Bundle | undefined
    return router.get(
      "/*",
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const path = decodeURIComponent(request.url.split("?")[0] ?? "/")
        // the catch-all takes every GET: a server path's GET that no route has may still have other methods
        if (isServerPath(path)) return noRoute(request.method, request.url)
        bundle ??= loadBundle(root)
        return respond(bundle, path, request.headers)
      }).pipe(Effect.catchAllDefect(() => Effect.succeed(errorResponse(400, "malformed path"))))
    )
  })
