import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import { type RunningServer, startServer } from "./harness.js"
import { connect } from "./wsClient.js"

let server: RunningServer

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.stop()
})

/** How many memories are stored. */
const memories = async () => (await server.json("/api/memory")).body.total as number

const post = (path: string, body: string, contentType: string) =>
  server.json(path, { method: "POST", body, headers: { "content-type": contentType } })

const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth)

describe("a JSON route's body in another media type", () => {
  it("multipart/form-data is 415 naming application/json, and nothing is stored", async () => {
    const body = "--b\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\nremember this\r\n--b--\r\n"
    const before = await memories()
    const { status, body: answer } = await post("/api/memory", body, "multipart/form-data; boundary=b")
    expect(status).toBe(415)
    expect(answer).toEqual({ error: expect.stringContaining("application/json") })
    expect(answer.error).toContain("multipart/form-data")
    expect(await memories()).toEqual(before)
  })

  it("a malformed multipart body (no boundary, garbage) is 415, not 500", async () => {
    const { status, body } = await post("/api/memory", "--\r\n\r\n\u0000garbage", "multipart/form-data")
    expect(status).toBe(415)
    expect(Object.keys(body)).toEqual(["error"])
  })

  it("application/x-www-form-urlencoded is 415 and is not read as the JSON object", async () => {
    const before = await memories()
    const { status, body } = await post("/api/memory", "content=remember+this", "application/x-www-form-urlencoded")
    expect(status).toBe(415)
    expect(body.error).toContain("application/x-www-form-urlencoded")
    expect(await memories()).toEqual(before)
  })

  it("text/plain holding JSON is 415 too; application/json with a charset is taken", async () => {
    const json = JSON.stringify({ content: "typed as text" })
    expect((await post("/api/memory", json, "text/plain")).status).toBe(415)
    const before = await memories()
    const taken = await post("/api/memory", json, "Application/JSON; charset=utf-8")
    expect(taken.status).toBe(200)
    expect(await memories()).toBe(before + 1)
  })

  it("every route the OpenAPI document gives a JSON body answers a form body with 415", async () => {
    const doc = (await server.json("/openapi.json", { token: null })).body
    const checked: Array<string> = []
    for (const [template, item] of Object.entries<Record<string, any>>(doc.paths)) {
      for (const [method, operation] of Object.entries<any>(item)) {
        if (operation?.requestBody?.content?.["application/json"] === undefined) continue
        const path = template.replace(/\{[^}]+\}/g, "x")
        const { status, body } = await server.json(path, {
          method: method.toUpperCase(),
          body: "a=1&b=2",
          headers: { "content-type": "application/x-www-form-urlencoded" }
        })
        expect({ route: `${method} ${template}`, status, keys: Object.keys(body ?? {}) }).toEqual({ route: `${method} ${template}`, status: 415, keys: ["error"] })
        checked.push(`${method} ${template}`)
      }
    }
    // the API has well over a dozen JSON bodies; the loop must have seen them
    expect(checked.length).toBeGreaterThan(15)
    expect(checked).toContain("put /api/config")
    expect(checked).toContain("post /api/chat")
  })

  it("the workspace's file route, which takes any bytes, still takes a form body as the file", async () => {
    const put = await server.fetch("/api/workspace/file/form.txt", {
      method: "PUT",
      body: "a=1&b=2",
      headers: { "content-type": "application/x-www-form-urlencoded" }
    })
    expect(put.status).toBe(200)
    expect(await (await server.fetch("/api/workspace/file/form.txt")).text()).toBe("a=1&b=2")
  })
})

describe("JSON nested too deep", () => {
  it.each([3_000, 100_000])("%i levels is 400 before any decoder recurses, and the server goes on", async (depth) => {
    const { status, body } = await post("/api/memory", `{"content":${nested(depth)}}`, "application/json")
    expect(status).toBe(400)
    expect(body).toEqual({ error: "request body nests deeper than 512 levels" })
    expect((await server.json("/health")).status).toBe(200)
  })

  it("objects count as levels as arrays do; brackets inside strings do not", async () => {
    const objects = '{"a":'.repeat(600) + "1" + "}".repeat(600)
    expect((await post("/api/memory", objects, "application/json")).status).toBe(400)
    const inString = JSON.stringify({ content: "[".repeat(5_000) })
    const { status } = await post("/api/memory", inString, "application/json")
    expect(status).toBe(200)
  })

  it("512 levels are read: a kept Oxios config section that deep is stored and returned", async () => {
    // the body object is level 1, the section's arrays the other 511
    const body = `{"zz_deep_section":${nested(511)}}`
    const { status } = await server.json("/api/config", { method: "PUT", body })
    expect(status).toBe(200)
    const config = (await server.json("/api/config")).body
    expect(JSON.stringify(config.zz_deep_section)).toBe(nested(511))
    const { status: over } = await server.json("/api/config", { method: "PUT", body: `{"zz_deep_section":${nested(512)}}` })
    expect(over).toBe(400)
  })

  it("a deep body on a field that wants a string names the field (400), never a 500", async () => {
    const { status, body } = await post("/api/memory", `{"content":${nested(500)}}`, "application/json")
    expect(status).toBe(400)
    expect(body.error).toContain("content")
  })
})

describe("a WebSocket frame nested too deep", () => {
  it("gets an error frame (no stack overflow in the decoder's message) and the socket stays usable", async () => {
    const client = await connect(server)
    client.send(`{"type":"message","content":${nested(3_000)}}`)
    client.send(`{"type":"message","content":"hi","user_id":${nested(60_000)}}`)
    await client.next(() => client.frames.filter((f) => f.type === "error").length >= 2)
    const errors = client.frames.filter((f) => f.type === "error").map((f) => f.error)
    expect(errors).toEqual(["the frame nests deeper than 512 levels", "the frame nests deeper than 512 levels"])
    // still answering: a bad frame of ordinary depth gets its ordinary error
    client.send({ type: "dance" })
    expect((await client.next((f) => f.type === "error" && String(f.error).includes("unknown frame type"))).error).toContain("dance")
    expect(client.ws.readyState).toBe(WebSocket.OPEN)
    client.ws.close()
  })
})
