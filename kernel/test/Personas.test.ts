import { describe, expect, it } from "@effect/vitest"
import { DataDir, Kernel, Personas, PersonasDecide, PersonasEvents, PersonasProjection } from "@annal/kernel"
import type { CreatePersona } from "@annal/spec"
import { EventStore } from "@annal/store"
import { Effect, Either, Layer, Option } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { scratchViews } from "./scratchViews.js"

const tempDir = () => mkdtempSync(join(tmpdir(), "annal-personas-"))
const personasAt = (dir: string) =>
  Personas.layer.pipe(
    Layer.provideMerge(Layer.merge(Kernel.storeLayer({ filename: join(dir, "annal.db"), synchronous: "NORMAL" }), DataDir.layer(dir)))
  )
const user = { actor: "user:api" }

const record = (id: string, enabled = true): PersonasDecide.PersonaRecord => ({
  id,
  name: id,
  role: "r",
  description: "d",
  system_prompt: "",
  enabled,
  model: null,
  personality_traits: []
})
const input = (name: string, more: Partial<CreatePersona> = {}): CreatePersona => ({
  name,
  role: "Engineer",
  description: `${name} persona`,
  system_prompt: "",
  enabled: true,
  model: null,
  personality_traits: [],
  ...more
})

describe("persona decisions", () => {
  it("creates the default persona, active, only on a log that never had a persona event", () => {
    expect(PersonasDecide.decideInitial(0).map((e) => [e.type, e.data.persona_id])).toEqual([
      ["persona_created", "default"],
      ["persona_activated", "default"]
    ])
    expect(PersonasDecide.decideInitial(5)).toEqual([])
  })

  it("updates only the fields that change", () => {
    const state = { personas: [record("a")], activeId: "a" }
    expect(Either.getOrThrow(PersonasDecide.decideUpdate(state, "a", { name: " New ", role: "r", enabled: true }))).toEqual([
      { type: "persona_updated", data: { persona_id: "a", name: "New" } }
    ])
    expect(Either.getOrThrow(PersonasDecide.decideUpdate(state, "a", { role: "r", personality_traits: [] }))).toEqual([])
    expect(Either.isLeft(PersonasDecide.decideUpdate(state, "b", { role: "x" }))).toBe(true)
  })

  it("refuses to delete the last persona", () => {
    const result = PersonasDecide.decideDelete({ personas: [record("a")], activeId: "a" }, "a")
    expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "InvalidCommand", message: "cannot delete the last persona (a)" })
  })

  it("deleting the active persona activates the default, else the oldest enabled one, in the same command", () => {
    const withDefault = { personas: [record("x", true), record("default"), record("a")], activeId: "a" }
    expect(Either.getOrThrow(PersonasDecide.decideDelete(withDefault, "a")).map((e) => [e.type, e.data.persona_id])).toEqual([
      ["persona_deleted", "a"],
      ["persona_activated", "default"]
    ])
    const noDefault = { personas: [record("x", false), record("y"), record("a")], activeId: "a" }
    expect(Either.getOrThrow(PersonasDecide.decideDelete(noDefault, "a")).map((e) => e.data.persona_id)).toEqual(["a", "y"])
    const inactive = { personas: [record("x"), record("a")], activeId: "x" }
    expect(Either.getOrThrow(PersonasDecide.decideDelete(inactive, "a")).map((e) => e.type)).toEqual(["persona_deleted"])
  })

  it("activates an enabled persona, once", () => {
    const state = { personas: [record("a"), record("off", false)], activeId: null }
    expect(Either.getOrThrow(PersonasDecide.decideActivate(state, "a"))).toEqual([{ type: "persona_activated", data: { persona_id: "a", reason: null } }])
    expect(Either.getOrThrow(PersonasDecide.decideActivate({ ...state, activeId: "a" }, "a"))).toEqual([])
    const off = PersonasDecide.decideActivate(state, "off")
    expect(Either.isLeft(off) && off.left._tag).toBe("InvalidCommand")
    const unknown = PersonasDecide.decideActivate(state, "zzz")
    expect(Either.isLeft(unknown) && unknown.left._tag).toBe("EntityNotFound")
  })
})

describe("personas projection", () => {
  it("applies partial updates and clears the active slot when the active persona is deleted", () => {
    const views = scratchViews(PersonasProjection.personasProjection)
    views.apply(PersonasEvents.PERSONA_CREATED, { ...PersonasDecide.defaultPersona, persona_id: "p1" })
    views.apply(PersonasEvents.PERSONA_ACTIVATED, { persona_id: "p1", reason: null })
    views.apply(PersonasEvents.PERSONA_UPDATED, { persona_id: "p1", enabled: false, personality_traits: ["calm"], model: "m" })
    expect(views.db.get("SELECT name, enabled, model, personality_traits, created_at, updated_at FROM personas")).toEqual({
      name: "Annal",
      enabled: 0,
      model: "m",
      personality_traits: "[\"calm\"]",
      created_at: "2026-01-01T00:00:01.000Z",
      updated_at: "2026-01-01T00:00:03.000Z"
    })
    views.apply(PersonasEvents.PERSONA_DELETED, { persona_id: "p1" })
    expect(views.db.get("SELECT persona_id FROM persona_active")).toEqual({ persona_id: null })
    views.close()
  })
})

describe("the Personas service", () => {
  it.live("starts with the default persona active, created once", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const first = yield* Effect.gen(function*() {
        const personas = yield* Personas
        return { list: yield* personas.list, active: yield* personas.active }
      }).pipe(Effect.provide(personasAt(dir)))
      expect(first.list).toEqual([expect.objectContaining({ id: "default", name: "Annal", enabled: true, active: true })])
      expect(Option.getOrThrow(first.active)).toMatchObject({ id: "default", role: "General assistant", model: null })
      // a second start, even after the default was renamed and another persona made active, creates nothing
      yield* Effect.gen(function*() {
        const personas = yield* Personas
        const other = yield* personas.create(input("Other"), user)
        yield* personas.activate(other.id, user)
        yield* personas.delete("default", user)
      }).pipe(Effect.provide(personasAt(dir)))
      const again = yield* Effect.gen(function*() {
        const personas = yield* Personas
        const store = yield* EventStore
        return { list: yield* personas.list, created: (yield* store.readStream("personas")).filter((e) => e.type === "persona_created").length }
      }).pipe(Effect.provide(personasAt(dir)))
      expect(again.list.map((p) => [p.name, p.active])).toEqual([["Other", true]])
      expect(again.created).toBe(2)
    }))

  it.live("creates, updates, activates and deletes; deleting the active one falls back and says so", () =>
    Effect.gen(function*() {
      const personas = yield* Personas
      const dev = yield* personas.create(input("Developer", { personality_traits: ["analytical"], model: "gpt-4" }), user)
      const creative = yield* personas.create(input("Creative", { enabled: false }), user)
      expect(yield* personas.get(dev.id)).toMatchObject({ name: "Developer", model: "gpt-4", personality_traits: ["analytical"], enabled: true })
      expect(yield* personas.update(dev.id, { name: "Senior Developer", model: null }, user)).toBe(dev.id)
      expect(yield* personas.get(dev.id)).toMatchObject({ name: "Senior Developer", model: null, role: "Engineer" })
      expect((yield* Effect.flip(personas.activate(creative.id, user)))._tag).toBe("InvalidCommand")
      expect(yield* personas.activate(dev.id, user)).toEqual({ id: dev.id, name: "Senior Developer" })
      expect(Option.getOrThrow(yield* personas.active).id).toBe(dev.id)
      expect(yield* personas.delete(dev.id, user)).toEqual({
        status: "deleted",
        id: dev.id,
        active_id: "default",
        message: `${dev.id} was the active persona; default is active now`
      })
      expect(yield* personas.delete(creative.id, user)).toEqual({ status: "deleted", id: creative.id })
      expect((yield* Effect.flip(personas.delete("default", user)))).toMatchObject({ _tag: "InvalidCommand" })
      expect((yield* Effect.flip(personas.get(dev.id)))._tag).toBe("EntityNotFound")
      expect((yield* Effect.flip(personas.update("nope", { name: "x" }, user)))._tag).toBe("EntityNotFound")
      expect((yield* personas.list).map((p) => [p.id, p.active])).toEqual([["default", true]])
    }).pipe(Effect.provide(personasAt(tempDir()))))

  it.live("two concurrent deletes cannot remove the last two personas", () =>
    Effect.gen(function*() {
      const personas = yield* Personas
      const other = yield* personas.create(input("Other"), user)
      const results = yield* Effect.all([personas.delete("default", user), personas.delete(other.id, user)], {
        concurrency: "unbounded",
        mode: "either"
      })
      const failures = results.filter(Either.isLeft).map((r) => r.left._tag)
      expect(failures).toHaveLength(1)
      expect(["ConcurrentChange", "InvalidCommand"]).toContain(failures[0])
      expect(yield* personas.list).toHaveLength(1)
      expect(Option.isSome(yield* personas.active)).toBe(true)
    }).pipe(Effect.provide(personasAt(tempDir()))))
})
