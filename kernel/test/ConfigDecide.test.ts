import { ConfigDecide } from "@annal/kernel"
import { AnnalConfig, defaultConfig } from "@annal/spec"
import { Either } from "effect"
import { describe, expect, it } from "vitest"

const state = { config: defaultConfig, apiKeySha256: null, version: 0, extra: {} }

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

describe("config keys Annal does not know", () => {
  it("keeps them beside the applied known settings, naming each changed leaf", () => {
    const change = Either.getOrThrow(
      ConfigDecide.decideUpdate(state, { kernel: { max_agents: 4 }, security: { cors_origins: ["http://x"], auth_enabled: false } } as any)
    )!
    expect(change.config.security.auth_enabled).toBe(false)
    expect(change.extra).toEqual({ kernel: { max_agents: 4 }, security: { cors_origins: ["http://x"] } })
    expect(change.changed).toEqual(["kernel.max_agents", "security.auth_enabled", "security.cors_origins"])
    expect(ConfigDecide.documentOf({ config: change.config, extra: change.extra! })).toMatchObject({
      kernel: { max_agents: 4 },
      security: { cors_origins: ["http://x"], auth_enabled: false, rate_limit_per_minute: 600 }
    })
  })

  it("never lets an unknown key replace a known setting, and a record knows every key", () => {
    const split = ConfigDecide.splitUnknown({ tools: { policies: { anything: "auto" }, shiny: 1 }, server: "x" }, AnnalConfig.ast)
    expect(split).toEqual({ known: { tools: { policies: { anything: "auto" } }, server: "x" }, unknown: { tools: { shiny: 1 } } })
  })
})

describe("the stored configuration at start", () => {
  it("replaces each unusable setting by its default and says so", () => {
    const { config, repaired } = ConfigDecide.usableConfig(
      { server: { host: " ", port: 4200 }, events: { ping_interval_secs: 0 }, llm: { provider: "openai", base_url: null } },
      defaultConfig
    )
    expect(config.server.host).toBe("127.0.0.1")
    expect(config.events.ping_interval_secs).toBe(30)
    expect(config.llm).toEqual(defaultConfig.llm)
    expect(repaired.map((r) => r.split(":")[0])).toEqual(["server.host", "events.ping_interval_secs", "llm.base_url", "llm"])
  })

  it("keeps a usable configuration as it is", () => {
    expect(ConfigDecide.usableConfig({ server: { host: "::1", port: 1 } }, defaultConfig)).toEqual({
      config: { ...defaultConfig, server: { host: "::1", port: 1 } },
      repaired: []
    })
  })
})
