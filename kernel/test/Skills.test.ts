import { describe, expect, it } from "@effect/vitest"
import { DataDir, Kernel, Skills, SkillsDecide, SkillsEvents, SkillsProjection } from "@annal/kernel"
import { pageRequest } from "@annal/spec"
import { EventStore } from "@annal/store"
import { Effect, Either, Layer } from "effect"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { scratchViews } from "./scratchViews.js"

const tempDir = () => mkdtempSync(join(tmpdir(), "annal-skills-"))
const skillsAt = (dir: string) =>
  Skills.layer.pipe(
    Layer.provideMerge(Layer.merge(Kernel.storeLayer({ filename: join(dir, "annal.db"), synchronous: "NORMAL" }), DataDir.layer(dir)))
  )
const user = { actor: "user:api" }

describe("skill decisions", () => {
  it("creates a safe, new name with content up to 64 KB", () => {
    expect(Either.getOrThrow(SkillsDecide.decideCreate({ name: "code-review", description: "d", content: "c" }, false))).toEqual({
      name: "code-review",
      description: "d",
      content: "c"
    })
    expect(Either.isRight(SkillsDecide.decideCreate({ name: "big", description: "", content: "é".repeat(32 * 1024) }, false))).toBe(true)
  })

  it.each([
    ["../escape", "InvalidCommand"],
    ["a/b", "InvalidCommand"],
    [".hidden", "InvalidCommand"],
    ["", "InvalidCommand"],
    ["x".repeat(65), "InvalidCommand"]
  ])("refuses the name %j", (name, tag) => {
    const result = SkillsDecide.decideCreate({ name, description: "", content: "" }, false)
    expect(Either.isLeft(result) && result.left._tag).toBe(tag)
  })

  it("refuses content over 64 KB (counted in UTF-8 bytes), an existing name, and deleting an unknown one", () => {
    const big = SkillsDecide.decideCreate({ name: "big", description: "", content: "é".repeat(32 * 1024 + 1) }, false)
    expect(Either.isLeft(big) && big.left.message).toContain("65538")
    const taken = SkillsDecide.decideCreate({ name: "deploy", description: "", content: "" }, true)
    expect(Either.isLeft(taken) && taken.left._tag).toBe("AlreadyExists")
    const gone = SkillsDecide.decideDelete("deploy", false)
    expect(Either.isLeft(gone) && gone.left._tag).toBe("EntityNotFound")
  })
})

describe("skills projection", () => {
  it("holds the live skills; a name can be reused after a delete", () => {
    const views = scratchViews(SkillsProjection.skillsProjection)
    views.apply(SkillsEvents.SKILL_CREATED, { name: "a", description: "first", content: "1" })
    views.apply(SkillsEvents.SKILL_CREATED, { name: "b", description: "", content: "2" })
    views.apply(SkillsEvents.SKILL_DELETED, { name: "a" })
    views.apply(SkillsEvents.SKILL_CREATED, { name: "a", description: "second", content: "3" })
    expect(views.db.all("SELECT name, description, content, seq FROM skills ORDER BY name")).toEqual([
      { name: "a", description: "second", content: "3", seq: 4 },
      { name: "b", description: "", content: "2", seq: 2 }
    ])
    views.close()
  })
})

describe("the Skills service", () => {
  it.live("materialises each skill as <data-dir>/skills/<name>.md, removes it on delete, recreates it at start", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const file = (name: string) => join(dir, "skills", `${name}.md`)
      yield* Effect.gen(function*() {
        const skills = yield* Skills
        expect(yield* skills.create({ name: "deploy", description: "Deploy it", content: "# Deploy\n1. test" }, user)).toBe("deploy")
        expect(yield* skills.create({ name: "review", description: "Review it", content: "" }, user)).toBe("review")
        expect(readFileSync(file("deploy"), "utf8")).toBe("# Deploy\n1. test")
        expect(readFileSync(file("review"), "utf8")).toBe("")
        expect(yield* skills.get("deploy")).toEqual({ name: "deploy", description: "Deploy it", content: "# Deploy\n1. test", path: file("deploy"), stream: "skill-deploy" })
        expect((yield* Effect.flip(skills.create({ name: "deploy", description: "again", content: "x" }, user)))._tag).toBe("AlreadyExists")
        expect(readFileSync(file("deploy"), "utf8")).toBe("# Deploy\n1. test")
        expect(yield* skills.delete("review", user)).toBe("review")
        expect(existsSync(file("review"))).toBe(false)
        expect((yield* Effect.flip(skills.delete("review", user)))._tag).toBe("EntityNotFound")
        expect((yield* Effect.flip(skills.get("review")))._tag).toBe("EntityNotFound")
        const page = yield* skills.list(pageRequest({}))
        expect(page).toEqual({ items: [{ name: "deploy", description: "Deploy it", stream: "skill-deploy" }], total: 1, page: 1, limit: 50 })
      }).pipe(Effect.provide(skillsAt(dir)))

      rmSync(file("deploy"))
      yield* Effect.gen(function*() {
        const skills = yield* Skills
        // the start-up sequence's step writes it back and says so
        expect(existsSync(file("deploy"))).toBe(false)
        expect(yield* skills.recover).toBe("recreated 1 skill file(s) from the log: deploy")
        expect(readFileSync(file("deploy"), "utf8")).toBe("# Deploy\n1. test")
        expect(yield* skills.restoreFiles).toEqual([])
        expect(yield* skills.recover).toBe("every skill file in place")
        expect(existsSync(file("review"))).toBe(false)
      }).pipe(Effect.provide(skillsAt(dir)))
    }))

  it.live("a retried create with the same Idempotency-Key answers as the first did and appends nothing", () =>
    Effect.gen(function*() {
      const skills = yield* Skills
      const store = yield* EventStore
      const ctx = { actor: "user:api", meta: { idempotency_key: "create-deploy-1" } }
      expect(yield* skills.create({ name: "deploy", description: "d", content: "c" }, ctx)).toBe("deploy")
      const head = (yield* store.head).seq
      expect(yield* skills.create({ name: "deploy", description: "d", content: "c" }, ctx)).toBe("deploy")
      expect((yield* store.head).seq).toBe(head)
      // without the key the same create is a conflict
      expect((yield* Effect.flip(skills.create({ name: "deploy", description: "d", content: "c" }, user)))._tag).toBe("AlreadyExists")
    }).pipe(Effect.provide(skillsAt(tempDir()))))
})
