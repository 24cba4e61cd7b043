import { describe, expect, it } from "@effect/vitest"
import { AgentGroups, Approvals, Kernel } from "@annal/kernel"
import { EventStore } from "@annal/store"
import { Effect } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const kernel = (dir: string) =>
  Kernel.layer({ store: { filename: join(dir, "annal.db"), synchronous: "NORMAL" }, dataDir: dir, resourceSampleIntervalSecs: 60 })

const user = { actor: "user:test" }

/** The read's failure: what it says, or "succeeded" when it gave an answer. */
const failureOf = <A, E extends { readonly message: string }>(read: Effect.Effect<A, E>) =>
  Effect.match(read, { onFailure: (e) => `${(e as { readonly _tag?: string })._tag}: ${e.message}`, onSuccess: () => "succeeded" })

describe("a view row its projection did not write", () => {
  it.live("is an EventStoreError naming the view and the column, not a wrong answer; the rows it did write still read", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "annal-view-rows-"))
      yield* Effect.gen(function*() {
        const groups = yield* AgentGroups
        const approvals = yield* Approvals
        const kept = yield* groups.create({ name: "kept", agent_ids: ["a"] }, user)
        const scribbled = yield* groups.create({ name: "scribbled", agent_ids: ["a", "b"] }, user)
        const pending = yield* approvals.request({ subject: "agent:x", action: "use_tool:exec", resource: "exec", reason: "why" }, user)
        const store = yield* EventStore
        // someone edits annal.db behind the kernel's back: a count becomes text, a status one no projection writes
        yield* store.withViews((db) =>
          Effect.all([
            db.run("UPDATE agent_groups SET agent_count = 'two' WHERE id = ?", [scribbled.id]),
            db.run("UPDATE approvals SET status = 'maybe' WHERE id = ?", [pending.id])
          ]))

        expect(yield* failureOf(groups.get(scribbled.id))).toMatch(/^EventStoreError: a row of agent_groups is not what its projection writes: .*agent_count.*"two"/s)
        expect(yield* failureOf(groups.list)).toMatch(/a row of agent_groups is not what its projection writes/)
        expect(yield* failureOf(approvals.get(pending.id))).toMatch(/^EventStoreError: a row of approvals is not what its projection writes: .*status.*"maybe"/s)
        expect(yield* failureOf(approvals.list({}))).toMatch(/a row of approvals is not what its projection writes/)

        // the row it did write is read as before
        const group = yield* groups.get(kept.id)
        expect({ name: group.name, agent_count: group.agent_count, members: group.members.map((m) => m.agent_id) }).toEqual({
          name: "kept",
          agent_count: 1,
          members: ["a"]
        })
      }).pipe(Effect.provide(kernel(dir)))
    }), 60_000)
})
