/**
 * The chat over a WebSocket with a real local model: node-llama-cpp runs a tiny GGUF the test
 * generates. Its weights are random, except that it prefers `"` (so the JSON grammars of the
 * structured phases close their strings at once) and never picks the end-of-sequence token (so
 * the agent's generation goes on until it is stopped). The model loads, its tokens stream over
 * the socket phase by phase, a kill of the agent aborts the generation mid-stream, and the model
 * answers the next message.
 */
import { join } from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { writeTinyLlamaGguf } from "../../kernel/test/fixtures/tinyGguf.js"
import { type RunningServer, startServer, tempDir } from "./harness.js"
import { connect } from "./wsClient.js"

let server: RunningServer

beforeAll(async () => {
  const model = join(tempDir("annal-gguf-"), "tiny.gguf")
  writeTinyLlamaGguf(model, { seed: 7, neverEnds: true, favour: "\"", contextLength: 16384 })
  server = await startServer({ args: ["--model", model], env: { ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: "" } })
  // the random model is never sure of anything: let every request past the interview
  const set = await server.json("/api/config", { method: "PUT", body: JSON.stringify({ orchestrator: { ambiguity_threshold: 1 } }) })
  expect(set.status).toBe(200)
}, 60_000)
afterAll(async () => {
  await server?.stop()
})

it("loads the GGUF, streams its tokens over the socket, and a kill aborts the agent mid-generation", async () => {
  const llm = (await server.json("/api/status")).body.components.llm
  expect(llm).toMatchObject({ configured: true, provider: "llama", model: "tiny.gguf" })

  const client = await connect(server)
  client.send("write a note")
  const token = await client.next((f) => f.type === "token" && f.phase === "execute", 60_000)
  expect(token.agent_id).toEqual(expect.any(String))
  // the structured phases streamed their tokens first: JSON the grammar shaped
  const interview = client.frames.filter((f) => f.type === "token" && f.phase === "interview").map((f) => f.text).join("")
  expect(JSON.parse(interview)).toHaveProperty("goal_clarity")
  const seed = client.frames.filter((f) => f.type === "token" && f.phase === "seed").map((f) => f.text).join("")
  expect(JSON.parse(seed)).toHaveProperty("goal")
  expect(client.frames.filter((f) => f.type === "phase_started").map((f) => f.phase)).toEqual(["interview", "seed", "execute"])

  // the agent keeps generating until it is killed
  await client.next(() => client.frames.filter((f) => f.type === "token" && f.phase === "execute").length >= 20, 30_000)
  const killed = await server.fetch(`/api/agents/${token.agent_id}/kill`, { method: "POST" })
  expect(killed.status).toBe(200)
  const done = await client.next((f) => f.type === "done", 30_000)
  expect(done.status).toBe("failed")
  expect(client.frames.find((f) => f.type === "error").error).toContain("killed")
  // the generation stopped: no more tokens of that agent arrive
  const count = client.frames.filter((f) => f.type === "token" && f.agent_id === token.agent_id).length
  await new Promise((r) => setTimeout(r, 500))
  expect(client.frames.filter((f) => f.type === "token" && f.agent_id === token.agent_id).length).toBe(count)
  const agents = (await server.json("/api/agents")).body.items
  expect(agents.find((a: any) => a.id === token.agent_id).status).toBe("Stopped")

  // the model is free again: the next message's run streams tokens of its own
  client.send("and another one")
  const next = await client.next((f) => f.type === "token" && f.phase === "execute" && f.agent_id !== token.agent_id, 60_000)
  expect((await server.fetch(`/api/agents/${next.agent_id}/kill`, { method: "POST" })).status).toBe(200)
  await client.next((f) => f.type === "done" && f.run_id === next.run_id, 30_000)
  client.ws.close()
}, 120_000)
