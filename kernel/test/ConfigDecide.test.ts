import { ConfigDecide } from "@annal/kernel"
import { defaultConfig } from "@annal/spec"
import { Either } from "effect"
import { describe, expect, it } from "vitest"

const state = { config: defaultConfig, apiKeySha256: null, version: 0 }

describe("config decisions", () => {
  it("merges a partial patch and names what changed", () => {
    const result = ConfigDecide.decideUpdate(state, { resources: { overload: { cpu_percent: 75 } } })
    expect(Either.getOrThrow(result)).toMatchObject({
      changed: ["resources.overload.cpu_percent"],
      config: { resources: { overload: { cpu_percent: 75, memory_percent: 90, load_avg: 10 } } }
    })
  })

  it("decides nothing when nothing changes", () => {
    expect(Either.getOrThrow(ConfigDecide.decideUpdate(state, { server: { port: 4200 } }))).toBeUndefined()
  })

  it("keeps only a digest of an API key, and clears it with null", () => {
    const set = Either.getOrThrow(ConfigDecide.decideUpdate(state, { security: { api_key: "0123456789abcdef-key" } }))!
    expect(set.api_key_sha256).toBe(ConfigDecide.sha256("0123456789abcdef-key"))
    expect(JSON.stringify(set)).not.toContain("0123456789abcdef-key")
    expect(set.config.security.api_key_set).toBe(true)
    expect(set.changed).toContain("security.api_key")
    const cleared = Either.getOrThrow(
      ConfigDecide.decideUpdate({ ...state, config: set.config, apiKeySha256: set.api_key_sha256 }, { security: { api_key: null } })
    )!
    expect(cleared.api_key_sha256).toBeNull()
    expect(cleared.config.security.api_key_set).toBe(false)
  })

  it("ignores api_key_set sent back from a GET", () => {
    expect(Either.getOrThrow(ConfigDecide.decideUpdate(state, { security: { api_key_set: true } }))).toBeUndefined()
  })
})
