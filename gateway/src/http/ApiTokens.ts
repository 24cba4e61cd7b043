/**
 * The API's bearer tokens: `ANNAL_API_KEY` if set, the key set in the configuration if any, and
 * otherwise a token generated on first start into `<data-dir>/token` (mode 0600).
 */
import { Configuration } from "@annal/kernel"
import { Context, Effect, Layer } from "effect"
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest()

/** True when `token` is one of the accepted digests; constant time per comparison. */
export const matches = (token: string, accepted: ReadonlyArray<Buffer>) => {
  const d = digest(token)
  let ok = false
  for (const a of accepted) ok = timingSafeEqual(a, d) || ok
  return ok
}

export interface TokenFile {
  readonly path: string
  readonly token: string
  /** True when this start created it. */
  readonly created: boolean
}

/** Reads `<data-dir>/token`, creating it (0600) with a fresh random token when missing. */
export const ensureTokenFile = (dataDir: string): TokenFile => {
  const path = join(dataDir, "token")
  if (existsSync(path)) return { path, token: readFileSync(path, "utf8").trim(), created: false }
  const token = `annal_${randomBytes(24).toString("base64url")}`
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: "wx" })
  chmodSync(path, 0o600)
  return { path, token, created: true }
}

export interface ApiTokensOptions {
  readonly dataDir: string
  /** `ANNAL_API_KEY`, when set. */
  readonly envKey?: string | undefined
}

export class ApiTokens extends Context.Tag("@annal/gateway/ApiTokens")<
  ApiTokens,
  {
    /** Whether this request's token opens `/api/*` (always true with auth disabled). */
    readonly verify: (token: string) => Effect.Effect<boolean>
    /**
     * A digest of the tokens accepted now: it changes when the API key does, so what was
     * derived from the old key (a browser session) stops opening the API.
     */
    readonly epoch: Effect.Effect<string>
    /** The generated token file, when that is where the token lives. */
    readonly tokenFile: TokenFile | undefined
  }
>() {
  static readonly layer = (options: ApiTokensOptions) =>
    Layer.effect(
      ApiTokens,
      Effect.gen(function*() {
        const config = yield* Configuration
        const envKey = options.envKey !== undefined && options.envKey !== "" ? options.envKey : undefined
        const initial = yield* config.state
        // The generated token exists only when no key is configured anywhere.
        const tokenFile = envKey === undefined && initial.apiKeySha256 === null ? ensureTokenFile(options.dataDir) : undefined
        const fileDigest = tokenFile === undefined ? undefined : digest(tokenFile.token)
        const envDigest = envKey === undefined ? undefined : digest(envKey)
        const acceptedBy = (state: { readonly apiKeySha256: string | null }) => {
          const accepted: Array<Buffer> = []
          if (envDigest !== undefined) accepted.push(envDigest)
          if (state.apiKeySha256 !== null) accepted.push(Buffer.from(state.apiKeySha256, "hex"))
          if (accepted.length === 0 && fileDigest !== undefined) accepted.push(fileDigest)
          return accepted
        }
        return ApiTokens.of({
          tokenFile,
          verify: (token) =>
            Effect.map(config.state, (state) => {
              if (!state.config.security.auth_enabled) return true
              if (token === "") return false
              return matches(token, acceptedBy(state))
            }),
          epoch: Effect.map(config.state, (state) => {
            const hash = createHash("sha256")
            for (const a of acceptedBy(state)) hash.update(a)
            return hash.digest("hex")
          })
        })
      })
    )
}
