/** The chat page's reducer: frames folded into turns, each frame applied once however often it comes. */
import { describe, expect, it } from "vitest"
import { applyFrame, emptyChat, type Frame, fromSession, isNoModel, sent } from "../src/chat/chatState.js"

const S = "0193-session"
const run: ReadonlyArray<Frame> = [
  { type: "phase_started", seq: 10, session_id: S, run_id: "r1", phase: "execute" },
  { type: "tool_start", seq: 11, session_id: S, agent_id: "a1", id: "c1", tool: "write" },
  { type: "approval_requested", seq: 12, session_id: S, id: "p1", action: "use_tool:write", resource: "x.txt", reason: "on_demand", expires_at: "2030-01-01T00:00:00.000Z" },
  { type: "token", session_id: S, run_id: "r1", phase: "execute", agent_id: "a1", text: "Wrote " },
  { type: "token", session_id: S, run_id: "r1", phase: "interview", text: "{\"goal" },
  { type: "token", session_id: S, run_id: "r1", phase: "execute", agent_id: "a1", text: "it." },
  { type: "approval_resolved", seq: 13, id: "p1", status: "approved", by: "user:api" },
  { type: "tool_end", seq: 14, session_id: S, agent_id: "a1", id: "c1", tool: "write", status: "completed", duration_ms: 12 },
  { type: "reply", seq: 15, session_id: S, run_id: "r1", id: "m1", reply: "Wrote **it**.", phase: "evaluate", evaluation_passed: true },
  { type: "done", seq: 15, session_id: S, run_id: "r1", status: "completed", phase: "evaluate" }
]

const fold = (frames: ReadonlyArray<Frame>, state = sent(emptyChat(S), "write x.txt", "k1")) => frames.reduce(applyFrame, state)

describe("applyFrame", () => {
  it("folds a run into one turn: timeline, streamed prose, approval, reply", () => {
    const midway = fold(run.slice(0, 6))
    expect(midway.turns[0]!.streaming).toBe("Wrote it.")
    expect(midway.turns[0]!.timeline.map((i) => i.kind)).toEqual(["phase", "tool", "approval"])
    const state = fold(run)
    expect(state.turns).toHaveLength(1)
    const turn = state.turns[0]!
    expect(turn).toMatchObject({ runId: "r1", user: "write x.txt", reply: "Wrote **it**.", streaming: "", status: "completed", evaluationPassed: true, agents: ["a1"] })
    expect(turn.timeline[1]).toMatchObject({ kind: "tool", status: "completed", durationMs: 12 })
    expect(turn.timeline[2]).toMatchObject({ kind: "approval", status: "approved", by: "user:api" })
    expect(state.lastSeq).toBe(15)
  })

  it("keeps the latest seed a frame names: an evolution's new seed replaces the first", () => {
    const seeded = fold([
      { type: "phase_started", seq: 20, session_id: S, run_id: "r2", phase: "seed" },
      { type: "phase_completed", seq: 21, session_id: S, run_id: "r2", phase: "seed", seed_id: "s1" }
    ])
    expect(seeded.turns[0]!.seedId).toBe("s1")
    const evolved = fold([{ type: "phase_completed", seq: 30, session_id: S, run_id: "r2", phase: "evolve", seed_id: "s2" }], seeded)
    expect(evolved.turns[0]!.seedId).toBe("s2")
    expect(fold(run).turns[0]!.seedId).toBeUndefined()
  })

  it("keeps what the interview decided and a phase's fallback on its timeline item", () => {
    const state = fold([
      { type: "phase_completed", seq: 40, session_id: S, run_id: "r3", phase: "interview", outcome: "questions" },
      { type: "phase_completed", seq: 41, session_id: S, run_id: "r3", phase: "seed", fallback: "message_as_goal", detail: "not JSON" }
    ])
    expect(state.turns[0]!.timeline).toEqual([
      { kind: "phase", phase: "interview", state: "completed", generation: undefined, outcome: "questions", fallback: undefined },
      { kind: "phase", phase: "seed", state: "completed", generation: undefined, outcome: undefined, fallback: "message_as_goal" }
    ])
  })

  it("applies a frame replayed by a resume only once", () => {
    const once = fold(run)
    const twice = fold(run.filter((f) => f.seq !== undefined && f.seq >= 11), once)
    expect(twice.turns).toEqual(once.turns)
    expect(twice.turns[0]!.timeline).toHaveLength(3)
  })

  it("ignores another session's frames", () => {
    const state = fold([{ type: "tool_start", seq: 20, session_id: "other", id: "c9", tool: "exec" }])
    expect(state.turns[0]!.timeline).toEqual([])
  })

  it("fails the waiting turn with the server's message when no model is configured", () => {
    const message = "no language model configured: start with --model PATH …"
    const state = fold([{ type: "error", session_id: S, error: message }])
    expect(state.turns[0]).toMatchObject({ status: "failed", error: message })
    expect(isNoModel(state.turns[0]!.error)).toBe(true)
  })

  it("opens a stored session as finished turns", () => {
    const state = fromSession({ id: S, user_messages: ["hi", "again"], agent_responses: [{ content: "hello", phase_reached: "respond", evaluation_passed: null }] })
    expect(state.turns.map((t) => [t.user, t.reply, t.status])).toEqual([["hi", "hello", "completed"], ["again", undefined, "running"]])
  })
})
