/**
 * The web UI's files at `/`: served by the real server from a built folder (here one the test
 * writes, so the server's part is tested apart from the UI's build), with hashed assets cached
 * for good, precompressed bodies, the SPA fallback, and a strict Content-Security-Policy.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { brotliCompressSync, brotliDecompressSync, gzipSync } from "node:zlib"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chooseEncoding, loadBundle, respond } from "../src/http/WebUi.js"
import { type RunningServer, startServer, tempDir } from "./harness.js"

const INDEX = `<!doctype html><html lang="en"><head><script type="module" src="/assets/index-AbC123.js"></script></head><body><div id="app"></div></body></html>`
const SCRIPT = `console.log("the app");`.repeat(50)

let web: string
let s: RunningServer

beforeAll(async () => {
  web = tempDir("annal-web-")
  mkdirSync(join(web, "assets"))
  writeFileSync(join(web, "index.html"), INDEX)
  writeFileSync(join(web, "assets", "index-AbC123.js"), SCRIPT)
  writeFileSync(join(web, "assets", "index-AbC123.js.br"), brotliCompressSync(SCRIPT))
  writeFileSync(join(web, "assets", "index-AbC123.js.gz"), gzipSync(SCRIPT))
  writeFileSync(join(web, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>")
  s = await startServer({ env: { ANNAL_WEB_DIR: web } })
})
afterAll(async () => {
  await s?.stop()
  rmSync(web, { recursive: true, force: true })
})

const get = (path: string, headers: Record<string, string> = {}) => s.fetch(path, { token: null, headers })

describe("GET / and the UI's routes", () => {
  it("serves index.html at / with a strict CSP, revalidated by ETag", async () => {
    const response = await get("/")
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toMatch(/^text\/html/)
    expect(await response.text()).toBe(INDEX)
    const csp = response.headers.get("content-security-policy") ?? ""
    expect(csp).toMatch(/script-src 'self'(;|$)/)
    expect(csp).toMatch(/default-src 'none'/)
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/)
    expect(response.headers.get("x-content-type-options")).toBe("nosniff")
    expect(response.headers.get("cache-control")).toBe("no-cache")
    const etag = response.headers.get("etag")!
    expect((await get("/", { "if-none-match": etag })).status).toBe(304)
  })

  it("answers a client route (a reload on /record) with the app", async () => {
    for (const path of ["/record", "/chat/0193abcd", "/settings?tab=llm"]) {
      const response = await get(path)
      expect(response.status).toBe(200)
      expect(await response.text()).toBe(INDEX)
    }
  })

  it("serves hashed assets compressed and cached for a year", async () => {
    const br = await new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
      // fetch decodes bodies; read the bytes as sent
      import("node:http").then(({ get: httpGet }) =>
        httpGet(`${s.url}/assets/index-AbC123.js`, { headers: { "accept-encoding": "gzip, br" } }, (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (c) => chunks.push(c))
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
        }).on("error", reject)
      )
    })
    expect(br.status).toBe(200)
    expect(br.headers["content-encoding"]).toBe("br")
    expect(br.headers["cache-control"]).toBe("public, max-age=31536000, immutable")
    expect(br.headers["content-type"]).toMatch(/^text\/javascript/)
    expect(brotliDecompressSync(br.body).toString()).toBe(SCRIPT)
    expect(br.body.length).toBeLessThan(SCRIPT.length)
  })

  it("answers 404 to a missing file, and the API's 404 {error} under /api", async () => {
    expect((await get("/assets/nope-123.js")).status).toBe(404)
    const api = await s.json("/api/no-such-thing")
    expect(api.status).toBe(404)
    expect(api.body.error).toContain("/api/no-such-thing")
    // the server's own routes are untouched
    expect((await s.json("/health", { token: null })).body.status).toBe("ok")
    expect((await s.json("/openapi.json", { token: null })).body.openapi).toMatch(/^3\./)
  })
})

describe("the bundle", () => {
  it("picks brotli, then gzip, then none, as the client accepts", () => {
    const bundle = loadBundle(web)!
    const asset = bundle.get("/assets/index-AbC123.js")!
    expect(chooseEncoding("gzip, deflate, br", asset)).toBe("br")
    expect(chooseEncoding("gzip", asset)).toBe("gzip")
    expect(chooseEncoding("br;q=0, gzip", asset)).toBe("gzip")
    expect(chooseEncoding(undefined, asset)).toBeUndefined()
    expect(chooseEncoding("br", bundle.get("/favicon.svg")!)).toBeUndefined()
  })

  it("answers 503 saying how to build the UI when it is not built", async () => {
    expect(loadBundle(join(web, "assets"))).toBeUndefined()
    const response = respond(undefined, "/", {})
    expect(response.status).toBe(503)
    expect(response.headers["content-security-policy"]).toBeDefined()
  })
})
