/** The replay's comparison, pure: ids paired one to one, clock readings as times, per-stream order, what only one side has. */
import { describe, expect, it } from "@effect/vitest"
import { ReplayCompare } from "@annal/kernel"
import type { StoredEvent } from "@annal/store"

const A = "01a24944-35bb-75d9-8f67-d39b84f085da"
const B = "01a24944-35bb-75d9-8f67-d39b84f085db"
const X = "01a24999-0000-7000-8000-00000000000a"
const Y = "01a24999-0000-7000-8000-00000000000b"
const SESSION = "01a20000-0000-7000-8000-000000000001"
/** The ids the replay made. */
const made = new Set([X, Y])

let seq = 0
const event = (stream: string, type: string, data: Record<string, unknown>, actor = "user:api"): StoredEvent => ({
  seq: ++seq,
  id: `e-${seq}`,
  stream,
  version: 1,
  type,
  actor,
  at: "2026-12-06T02:00:00.000Z",
  data: data as StoredEvent["data"],
  meta: { session_id: SESSION },
  prev_hash: "",
  hash: ""
})

describe("comparing a replay with the record", () => {
  it("pairs the replay's ids with the record's, in stream names, fields and text", () => {
    const recorded = [
      event(`agent-${A}`, "agent_created", { agent_id: A, name: `chat-${SESSION}`, session_id: SESSION }),
      event(`tool-call-${B}`, "tool_call_requested", { id: B, agent_id: A, note: `call ${B} of ${A}` }, `agent:${A}`)
    ]
    const replayed = [
      event(`agent-${X}`, "agent_created", { agent_id: X, name: `chat-${SESSION}`, session_id: SESSION }),
      event(`tool-call-${Y}`, "tool_call_requested", { id: Y, agent_id: X, note: `call ${Y} of ${X}` }, `agent:${X}`)
    ]
    expect(ReplayCompare.compareRuns(recorded, replayed, made)).toEqual({ result: "identical", events: 2 })
  })

  it("refuses an id paired with two others, and an id the record has meeting a new one", () => {
    const recorded = [event(`agent-${A}`, "agent_created", { agent_id: A }), event(`agent-${B}`, "agent_created", { agent_id: B, parent: A })]
    // the replay's second agent names itself as parent: X would pair with both A and B
    const replayed = [event(`agent-${X}`, "agent_created", { agent_id: X }), event(`agent-${Y}`, "agent_created", { agent_id: Y, parent: Y })]
    expect(ReplayCompare.compareRuns(recorded, replayed, made)).toMatchObject({ result: "different", seq: recorded[1]!.seq, expected: { data: { parent: A } } })
    // an id the replay did not make is the record's own: a replay naming another session differs
    const mine = [event("session", "agent_responded", { session_id: SESSION })]
    const other = [event("session", "agent_responded", { session_id: "01a29999-0000-7000-8000-00000000000c" })]
    expect(ReplayCompare.compareRuns(mine, other, made)).toMatchObject({ result: "different", seq: mine[0]!.seq })
  })

  it("takes clock readings as times, but not other values", () => {
    const recorded = [event("tool-call-1", "tool_call_completed", { duration_ms: 41, expires_at: "2026-12-06T02:05:00.000Z", output: "a" })]
    expect(ReplayCompare.compareRuns(recorded, [event("tool-call-1", "tool_call_completed", { duration_ms: 0, expires_at: "2026-12-06T03:05:00.120Z", output: "a" })], made).result).toBe("identical")
    expect(ReplayCompare.compareRuns(recorded, [event("tool-call-1", "tool_call_completed", { duration_ms: 0, expires_at: "soon", output: "a" })], made).result).toBe("different")
    expect(ReplayCompare.compareRuns(recorded, [event("tool-call-1", "tool_call_completed", { duration_ms: 0, expires_at: "2026-12-06T02:05:00.000Z", output: "b" })], made).result).toBe("different")
  })

  it("compares each stream in its own order, whatever the interleaving; names the first event missing and the first extra", () => {
    const one = event(`agent-${A}`, "agent_output", { agent_id: A, text: "a" })
    const two = event(`agent-${B}`, "agent_output", { agent_id: B, text: "b" })
    const three = event(`agent-${A}`, "agent_stopped", { agent_id: A })
    const x1 = event(`agent-${X}`, "agent_output", { agent_id: X, text: "a" })
    const y2 = event(`agent-${Y}`, "agent_output", { agent_id: Y, text: "b" })
    const x3 = event(`agent-${X}`, "agent_stopped", { agent_id: X })
    expect(ReplayCompare.compareRuns([one, two, three], [y2, x1, x3], made)).toEqual({ result: "identical", events: 3 })
    expect(ReplayCompare.compareRuns([one, two, three], [y2, x1], made)).toMatchObject({ result: "different", seq: three.seq, expected: { type: "agent_stopped" }, actual: null })
    const extra = event(`agent-${X}`, "agent_failed", { agent_id: X })
    expect(ReplayCompare.compareRuns([one, two, three], [y2, x1, x3, extra], made)).toMatchObject({ result: "different", seq: extra.seq, expected: null, actual: { type: "agent_failed" } })
  })
})
