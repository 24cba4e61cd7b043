import { describe, expect, it } from "@effect/vitest"
import { uuidv7 } from "../src/index.js"

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe("uuidv7", () => {
  it("makes RFC 9562 version 7 ids that carry the time and sort in creation order", () => {
    const before = Date.now()
    const ids = Array.from({ length: 20_000 }, () => uuidv7())
    const after = Date.now()
    for (const id of ids) expect(id).toMatch(V7)
    expect(new Set(ids).size).toBe(ids.length)
    expect([...ids].sort()).toEqual(ids)
    // the first 48 bits are the Unix time in milliseconds
    const ms = (id: string) => parseInt(id.replace(/-/g, "").slice(0, 12), 16)
    expect(ms(ids[0]!)).toBeGreaterThanOrEqual(before)
    // 4096 ids in one millisecond borrow the next ones, a few at most over this many
    expect(ms(ids[ids.length - 1]!)).toBeLessThanOrEqual(after + 5)
  })
})
