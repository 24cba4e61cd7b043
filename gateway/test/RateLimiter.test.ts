import { describe, expect, it } from "vitest"
import { take } from "../src/http/RateLimiter.js"

describe("token bucket", () => {
  it("allows a burst of per_minute requests, then refuses with the wait for one token", () => {
    let bucket = undefined as ReturnType<typeof take>["bucket"] | undefined
    for (let i = 0; i < 60; i++) {
      const d = take(bucket, 1000, 60)
      expect(d.allowed).toBe(true)
      bucket = d.bucket
    }
    const refused = take(bucket, 1000, 60)
    expect(refused).toMatchObject({ allowed: false, retryAfterSecs: 1 })
    // 60/min refills one token per second
    expect(take(refused.bucket, 2000, 60).allowed).toBe(true)
  })

  it("says how long until a token at a slow rate", () => {
    const empty = { tokens: 0, updatedMs: 0 }
    expect(take(empty, 0, 6)).toMatchObject({ allowed: false, retryAfterSecs: 10 })
    expect(take(empty, 5_000, 6)).toMatchObject({ allowed: false, retryAfterSecs: 5 })
    expect(take(empty, 10_000, 6).allowed).toBe(true)
  })

  it("never holds more than its capacity", () => {
    const d = take({ tokens: 3, updatedMs: 0 }, 3_600_000, 5)
    expect(d.bucket.tokens).toBe(4)
  })
})
