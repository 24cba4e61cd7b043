/**
 * Browser sessions: what `POST /api/auth/session` hands a browser in exchange for the API token.
 * A session is a cookie value `<expires>.<nonce>.<mac>`, the MAC an HMAC-SHA256 under a key kept
 * in `<data-dir>/session.key` (0600) over the expiry, the nonce and the digest of the tokens
 * accepted when it was issued — so sessions outlive a restart, and changing the API key ends
 * every session signed in with the old one. Signing out revokes the nonce until it would have
 * expired anyway.
 */
import { Clock, Context, Effect, Layer } from "effect"
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { SESSION_TTL_SECS } from "@annal/spec"
import { ApiTokens } from "./ApiTokens.js"

export interface SessionClaim {
  readonly nonce: string
  /** Epoch milliseconds. */
  readonly expiresAt: number
}

const mac = (key: Buffer, expiresAt: number, nonce: string, epoch: string) =>
  createHmac("sha256", key).update(`annal-session/v1\n${expiresAt}\n${nonce}\n${epoch}`).digest("base64url")

/** The cookie value of a session. */
export const sealSession = (key: Buffer, claim: SessionClaim, epoch: string): string =>
  `${claim.expiresAt.toString(36)}.${claim.nonce}.${mac(key, claim.expiresAt, claim.nonce, epoch)}`

/** Reads a cookie value: the claim it carries, or why it does not open anything. */
export const openSession = (
  key: Buffer,
  value: string,
  now: number,
  epoch: string
): { readonly ok: true; readonly claim: SessionClaim } | { readonly ok: false; readonly reason: string } => {
  const parts = value.split(".")
  if (parts.length !== 3 || !/^[0-9a-z]{1,12}$/.test(parts[0]!) || !/^[A-Za-z0-9_-]{16,64}$/.test(parts[1]!)) {
    return { ok: false, reason: "malformed session" }
  }
  const expiresAt = parseInt(parts[0]!, 36)
  const nonce = parts[1]!
  const expected = Buffer.from(mac(key, expiresAt, nonce, epoch))
  const found = Buffer.from(parts[2]!)
  if (expected.length !== found.length || !timingSafeEqual(expected, found)) return { ok: false, reason: "invalid session" }
  if (expiresAt <= now) return { ok: false, reason: "session expired" }
  return { ok: true, claim: { nonce, expiresAt } }
}

/** Reads `<data-dir>/session.key`, creating it (0600) with 32 random bytes when missing. */
export const ensureSessionKey = (dataDir: string): Buffer => {
  const path = join(dataDir, "session.key")
  if (existsSync(path)) {
    const key = Buffer.from(readFileSync(path, "utf8").trim(), "base64url")
    if (key.length >= 32) return key
  }
  const key = randomBytes(32)
  writeFileSync(path, `${key.toString("base64url")}\n`, { mode: 0o600 })
  chmodSync(path, 0o600)
  return key
}

export class BrowserSessions extends Context.Tag("@annal/gateway/BrowserSessions")<
  BrowserSessions,
  {
    /** A new session: its cookie value and claim. */
    readonly issue: Effect.Effect<{ readonly value: string; readonly claim: SessionClaim }>
    /** The claim of a cookie value that opens the API now, or why it does not. */
    readonly check: (value: string) => Effect.Effect<{ readonly ok: true; readonly claim: SessionClaim } | { readonly ok: false; readonly reason: string }>
    /** Ends a session before its expiry. */
    readonly revoke: (claim: SessionClaim) => Effect.Effect<void>
  }
>() {
  static readonly make = (dataDir: string) =>
    Effect.gen(function*() {
      const tokens = yield* ApiTokens
      const key = ensureSessionKey(dataDir)
      // nonce → expiry; pruned as they expire
      const revoked = new Map<string, number>()
      const prune = (now: number) => {
        for (const [nonce, expiresAt] of revoked) if (expiresAt <= now) revoked.delete(nonce)
      }
      return BrowserSessions.of({
        issue: Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const claim = { nonce: randomBytes(18).toString("base64url"), expiresAt: now + SESSION_TTL_SECS * 1000 }
          return { claim, value: sealSession(key, claim, yield* tokens.epoch) }
        }),
        check: (value) =>
          Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            const opened = openSession(key, value, now, yield* tokens.epoch)
            if (opened.ok && revoked.has(opened.claim.nonce)) return { ok: false as const, reason: "session signed out" }
            return opened
          }),
        revoke: (claim) =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            prune(now)
            revoked.set(claim.nonce, claim.expiresAt)
          })
      })
    })

  static readonly layer = (dataDir: string) => Layer.effect(BrowserSessions, BrowserSessions.make(dataDir))
}
