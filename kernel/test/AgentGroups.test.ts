import { describe, expect, it } from "@effect/vitest"
import { AgentGroups, AgentGroupsDecide, AgentGroupsEvents, AgentGroupsProjection, DataDir, Kernel } from "@annal/kernel"
import { Effect, Either, Layer } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { scratchViews } from "./scratchViews.js"

const tempDir = () => mkdtempSync(join(tmpdir(), "annal-groups-"))
const groupsAt = (dir: string) =>
  AgentGroups.layer.pipe(
    Layer.provideMerge(Layer.merge(Kernel.storeLayer({ filename: join(dir, "annal.db"), synchronous: "NORMAL" }), DataDir.layer(dir)))
  )
const supervisor = { actor: "system" }

describe("agent group decisions", () => {
  it("creates a named group of distinct agents", () => {
    expect(Either.getOrThrow(AgentGroupsDecide.decideCreate("g", undefined, { name: " build ", agent_ids: ["a", "b"] }))).toEqual([
      { type: "agent_group_created", data: { group_id: "g", name: "build", agent_ids: ["a", "b"] } }
    ])
    for (const bad of [{ name: "", agent_ids: ["a"] }, { name: "x", agent_ids: [] }, { name: "x", agent_ids: ["a", "a"] }, { name: "x", agent_ids: ["a b"] }]) {
      const result = AgentGroupsDecide.decideCreate("g", undefined, bad)
      expect(Either.isLeft(result) && result.left._tag).toBe("InvalidCommand")
    }
  })

  it("completes a running member once", () => {
    const group = { members: [{ agent_id: "a", status: "running" as const }, { agent_id: "b", status: "failed" as const }] }
    expect(Either.getOrThrow(AgentGroupsDecide.decideMemberCompleted("g", group, "a", { success: true }))).toEqual([
      { type: "agent_group_member_completed", data: { group_id: "g", agent_id: "a", success: true, result: null } }
    ])
    for (const [agent, tag] of [["b", "InvalidCommand"], ["z", "InvalidCommand"]] as const) {
      const result = AgentGroupsDecide.decideMemberCompleted("g", group, agent, { success: true })
      expect(Either.isLeft(result) && result.left._tag).toBe(tag)
    }
    const unknown = AgentGroupsDecide.decideMemberCompleted("g", undefined, "a", { success: true })
    expect(Either.isLeft(unknown) && unknown.left._tag).toBe("EntityNotFound")
  })

  it("a group runs until every member is done, then fails if any failed", () => {
    const s = (...statuses: Array<"running" | "completed" | "failed">) => AgentGroupsDecide.groupStatus(statuses.map((status) => ({ status })))
    expect(s("running", "completed")).toBe("running")
    expect(s("completed", "completed")).toBe("completed")
    expect(s("completed", "failed")).toBe("failed")
    expect(s("failed", "running")).toBe("running")
  })
})

describe("agent groups projection", () => {
  it("derives the status from the members as they complete", () => {
    const views = scratchViews(AgentGroupsProjection.agentGroupsProjection)
    views.apply(AgentGroupsEvents.AGENT_GROUP_CREATED, { group_id: "g", name: "n", agent_ids: ["a", "b"] })
    views.apply(AgentGroupsEvents.AGENT_GROUP_MEMBER_COMPLETED, { group_id: "g", agent_id: "b", success: false, result: "boom" })
    const group = () => views.db.get("SELECT status, completed_count, failed_count, completed_at FROM agent_groups")
    expect(group()).toEqual({ status: "running", completed_count: 0, failed_count: 1, completed_at: null })
    views.apply(AgentGroupsEvents.AGENT_GROUP_MEMBER_COMPLETED, { group_id: "g", agent_id: "a", success: true, result: null })
    expect(group()).toEqual({ status: "failed", completed_count: 1, failed_count: 1, completed_at: "2026-01-01T00:00:03.000Z" })
    expect(views.db.all("SELECT agent_id, status, result FROM agent_group_members ORDER BY position")).toEqual([
      { agent_id: "a", status: "completed", result: null },
      { agent_id: "b", status: "failed", result: "boom" }
    ])
    views.close()
  })
})

describe("the AgentGroups service", () => {
  it.live("creates groups, records member completions, and lists newest first", () =>
    Effect.gen(function*() {
      const groups = yield* AgentGroups
      const build = yield* groups.create({ name: "parallel-build", agent_ids: ["agent-1", "agent-2", "agent-3"] }, supervisor)
      expect(build).toMatchObject({ name: "parallel-build", agent_count: 3, status: "running", completed_at: null })
      expect(build.members.map((m) => [m.agent_id, m.status])).toEqual([["agent-1", "running"], ["agent-2", "running"], ["agent-3", "running"]])
      const solo = yield* groups.create({ name: "solo", agent_ids: ["agent-9"], id: "group-solo" }, supervisor)
      yield* groups.memberCompleted(build.id, "agent-2", { success: true, result: "built" }, supervisor)
      yield* groups.memberCompleted(build.id, "agent-1", { success: true }, supervisor)
      expect((yield* groups.get(build.id)).status).toBe("running")
      const done = yield* groups.memberCompleted(build.id, "agent-3", { success: true }, supervisor)
      expect(done).toMatchObject({ status: "completed", completed_count: 3, failed_count: 0, completed_at: expect.any(String) })
      expect(done.members.find((m) => m.agent_id === "agent-2")).toMatchObject({ status: "completed", result: "built" })
      const failed = yield* groups.memberCompleted(solo.id, "agent-9", { success: false, result: "timeout" }, supervisor)
      expect(failed.status).toBe("failed")
      expect((yield* Effect.flip(groups.memberCompleted(solo.id, "agent-9", { success: true }, supervisor)))._tag).toBe("InvalidCommand")
      expect((yield* Effect.flip(groups.memberCompleted("nope", "agent-9", { success: true }, supervisor)))._tag).toBe("EntityNotFound")
      expect((yield* Effect.flip(groups.create({ name: "again", agent_ids: ["x"], id: "group-solo" }, supervisor)))._tag).toBe("AlreadyExists")
      expect(yield* groups.list).toEqual([
        { id: "group-solo", name: "solo", agent_count: 1, status: "failed", created_at: solo.created_at, stream: "agent-group-group-solo" },
        { id: build.id, name: "parallel-build", agent_count: 3, status: "completed", created_at: build.created_at, stream: `agent-group-${build.id}` }
      ])
    }).pipe(Effect.provide(groupsAt(tempDir()))))
})
