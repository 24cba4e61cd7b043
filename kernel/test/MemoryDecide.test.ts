import { describe, expect, it } from "@effect/vitest"
import { LexicalEmbedder, MemoryDecide } from "@annal/kernel"
import { Either } from "effect"
import { createHash } from "node:crypto"

const cosine = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * b[i]!, 0)

describe("memory decisions", () => {
  it("stores a memory with the seed's defaults and collapses duplicate tags", () => {
    expect(MemoryDecide.decideStore({ content: "Oxios uses an event bus" }, "id-1")).toEqual(
      Either.right({ id: "id-1", memory_type: "fact", content: "Oxios uses an event bus", tags: [], importance: 0.5 })
    )
    expect(MemoryDecide.decideStore({ content: "x", memory_type: "episode", tags: ["a", "b", "a"], importance: 1 }, "id-2")).toEqual(
      Either.right({ id: "id-2", memory_type: "episode", content: "x", tags: ["a", "b"], importance: 1 })
    )
  })

  it("refuses what the API refuses, naming the field", () => {
    const refused = (request: unknown) => {
      const result = MemoryDecide.decideStore(request, "id")
      return Either.isLeft(result) ? result.left.message : "accepted"
    }
    expect(refused({ content: "" })).toContain('"content"')
    expect(refused({ content: "   " })).toContain('"content"')
    expect(refused({ content: "é".repeat(16 * 1024 + 1) })).toMatch(/"content".*32 KB/)
    expect(refused({ content: "a".repeat(32 * 1024) })).toBe("accepted")
    expect(refused({ content: "x", memory_type: "conversation" })).toContain('"memory_type"')
    expect(refused({ content: "x", importance: 1.01 })).toContain('"importance"')
    expect(refused({ content: "x", tags: "a" })).toContain('"tags"')
    // fields it does not know are ignored, as an Oxios client's name and category are
    expect(refused({ content: "x", name: "n", category: "knowledge" })).toBe("accepted")
  })

  it("deletes only what exists", () => {
    expect(MemoryDecide.decideDelete("m1", true)).toEqual(Either.right({ id: "m1" }))
    const missing = MemoryDecide.decideDelete("m1", false)
    expect(Either.isLeft(missing) && missing.left._tag).toBe("EntityNotFound")
  })

  it("records a recall by the query's hash and length, never its text, and nothing for no results", () => {
    const recall = MemoryDecide.decideRecall("semantic", { query: "where is my passport?", memory_type: "fact" }, ["a", "b"])
    expect(recall).toEqual({
      mode: "semantic",
      memory_type: "fact",
      query_sha256: createHash("sha256").update("where is my passport?").digest("hex"),
      query_length: 21,
      memory_ids: ["a", "b"],
      count: 2
    })
    expect(JSON.stringify(recall)).not.toContain("passport")
    expect(MemoryDecide.decideRecall("keyword", { query: "x" }, [])).toBeUndefined()
  })

  it("turns any keyword query into a safe FTS5 expression of quoted words", () => {
    expect(MemoryDecide.matchExpression("event architecture")).toBe('"event" OR "architecture"')
    expect(MemoryDecide.matchExpression('AND( "x* NEAR(y) OR')).toBe('"x" OR "near" OR "y"')
    expect(MemoryDecide.matchExpression("OR AND")).toBe('"or" OR "and"')
    expect(MemoryDecide.matchExpression("what is the event log?")).toBe('"event" OR "log"')
    expect(MemoryDecide.matchExpression("Straße café")).toBe('"straße" OR "café"')
    expect(MemoryDecide.matchExpression('" * ( ) : ^ -')).toBeUndefined()
    expect(MemoryDecide.matchExpression("a a A")).toBe('"a"')
  })
})

describe("the lexical embedder", () => {
  const embed = (text: string) => LexicalEmbedder.lexicalEmbedding(text, 384)

  it("is deterministic and unit length", () => {
    const a = embed("The deployment pipeline pushes images to the registry")
    expect(a).toHaveLength(384)
    expect(Array.from(embed("The deployment pipeline pushes images to the registry"))).toEqual(Array.from(a))
    expect(cosine(a, a)).toBeCloseTo(1, 5)
    expect(Array.from(embed("?!, ...")).every((x) => x === 0)).toBe(true)
  })

  it("puts a paraphrase nearer than an unrelated text", () => {
    const stored = embed("The deployment pipeline builds the container image and pushes it to the registry")
    const unrelated = embed("My favourite recipe for banana bread uses brown sugar and butter")
    const query = embed("how do we build and push container images when deploying?")
    expect(cosine(query, stored)).toBeGreaterThan(0.2)
    expect(cosine(query, stored)).toBeGreaterThan(cosine(query, unrelated) + 0.15)
    // morphology: shared character n-grams relate forms of a word
    expect(cosine(embed("deploying"), embed("deployment"))).toBeGreaterThan(cosine(embed("deploying"), embed("breakfast")) + 0.1)
  })

  it("ignores case and accents, and names its vector space", () => {
    expect(Array.from(embed("Café RÉSUMÉ"))).toEqual(Array.from(embed("cafe resume")))
    expect(LexicalEmbedder.makeLexicalEmbedder(256).fingerprint).toBe(`lexical/v${LexicalEmbedder.LEXICAL_VERSION}/d256`)
  })
})
