/**
 * Token-bucket rate limiting of `/api/*` per client address (seed section 25): the bucket holds
 * `per_minute` tokens and refills at `per_minute / 60` per second.
 */
import { Configuration } from "@annal/kernel"
import { Context, Effect, Layer } from "effect"

export interface Bucket {
  readonly tokens: number
  readonly updatedMs: number
}

export interface Decision {
  readonly bucket: Bucket
  readonly allowed: boolean
  /** Whole seconds until one token is back (0 when allowed). */
  readonly retryAfterSecs: number
}

/** Takes one token from a bucket at `nowMs` (pure). */
export const take = (bucket: Bucket | undefined, nowMs: number, perMinute: number): Decision => {
  const capacity = perMinute
  const perMs = perMinute / 60_000
  const start = bucket ?? { tokens: capacity, updatedMs: nowMs }
  const tokens = Math.min(capacity, start.tokens + Math.max(0, nowMs - start.updatedMs) * perMs)
  if (tokens >= 1) return { bucket: { tokens: tokens - 1, updatedMs: nowMs }, allowed: true, retryAfterSecs: 0 }
  return { bucket: { tokens, updatedMs: nowMs }, allowed: false, retryAfterSecs: Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)) }
}

/** Buckets kept at most; the least recently used go first (a full bucket is the default anyway). */
const MAX_CLIENTS = 10_000

export class RateLimiter extends Context.Tag("@annal/gateway/RateLimiter")<
  RateLimiter,
  { readonly check: (client: string) => Effect.Effect<Decision> }
>() {
  static readonly layer = Layer.effect(
    RateLimiter,
    Effect.gen(function*() {
      const config = yield* Configuration
      const buckets = new Map<string, Bucket>()
      return RateLimiter.of({
        check: (client) =>
          Effect.map(config.current, (c) => {
            const decision = take(buckets.get(client), Date.now(), c.security.rate_limit_per_minute)
            buckets.delete(client)
            buckets.set(client, decision.bucket)
            if (buckets.size > MAX_CLIENTS) buckets.delete(buckets.keys().next().value!)
            return decision
          })
      })
    })
  )
}
