/**
 * The pages' pure helpers: how settings become fields and a patch, which field a server error
 * names, how a list typed as text is read, how samples become a chart line, the record's
 * filters, a tool call read from the record, and the windowing of long lists.
 */
import { describe, expect, it } from "vitest"
import { listOf } from "../src/pages/Budgets.js"
import { fieldOfError, flatten, patchOf } from "../src/pages/Settings.js"
import { linePoints } from "../src/pages/Status.js"
import { parentOf } from "../src/pages/Workspace.js"
import { indentJson, toolDetailOf } from "../src/chat/details.js"
import { isFiltered, matches, noFilters } from "../src/recordPages.js"
import { visibleRange } from "../src/virtual.js"

describe("flatten", () => {
  it("names nested settings by their dotted path and keeps arrays and nulls whole", () => {
    expect(flatten({ timeout_secs: 30, policies: { write: "on_demand", exec: "always" }, blacklist: ["sudo", "mkfs"], model: null }, "tools")).toEqual([
      ["tools.timeout_secs", 30],
      ["tools.policies.write", "on_demand"],
      ["tools.policies.exec", "always"],
      ["tools.blacklist", ["sudo", "mkfs"]],
      ["tools.model", null]
    ])
  })

  it("gives a scalar section one field under its own name", () => {
    expect(flatten(8, "port")).toEqual([["port", 8]])
  })

  it("gives an empty object no field at all", () => {
    expect(flatten({}, "empty")).toEqual([])
  })
})

describe("patchOf", () => {
  it("rebuilds the nested object from dotted names, sharing common parents", () => {
    expect(patchOf({ "approvals.timeout_secs": 60, "tools.policies.write": "always", "tools.policies.exec": "auto", "name": "x" })).toEqual({
      approvals: { timeout_secs: 60 },
      tools: { policies: { write: "always", exec: "auto" } },
      name: "x"
    })
  })

  it("is the inverse of flatten for the settings it changes", () => {
    const config = { security: { rate_limit_per_minute: 60, cors: { origins: ["a"] } } }
    expect(patchOf(Object.fromEntries(flatten(config.security, "security")))).toEqual(config)
  })

  it("keeps an explicit null (a setting cleared)", () => {
    expect(patchOf({ "llm.base_url": null })).toEqual({ llm: { base_url: null } })
  })
})

describe("fieldOfError", () => {
  const names = ["approvals.timeout", "approvals.timeout_secs", "tools.policies.write"]

  it("finds the quoted field the server's message names", () => {
    expect(fieldOfError(`"tools.policies.write" must be one of auto, on_demand, always`, names)).toBe("tools.policies.write")
  })

  it("prefers the longest name when one is a prefix of another", () => {
    expect(fieldOfError(`Expected a positive integer at "approvals.timeout_secs"`, names)).toBe("approvals.timeout_secs")
  })

  it("names no field for a message that quotes none of them", () => {
    expect(fieldOfError("the configuration could not be written", names)).toBeUndefined()
    // unquoted, a name is not taken as the field (it may be prose)
    expect(fieldOfError("approvals.timeout_secs is wrong", names)).toBeUndefined()
  })
})

describe("listOf", () => {
  it("splits on commas and new lines, trims and drops blanks", () => {
    expect(listOf(" read, write,\nexec\n\n , ls ")).toEqual(["read", "write", "exec", "ls"])
  })

  it("reads an empty or blank text as no items", () => {
    expect(listOf("")).toEqual([])
    expect(listOf(" ,\n ")).toEqual([])
  })
})

describe("linePoints", () => {
  it("spreads the values across the width, 100 % at the top and 0 % at the bottom", () => {
    expect(linePoints([0, 50, 100], 200, 100)).toBe("0.0,100.0 100.0,50.0 200.0,0.0")
  })

  it("clamps values outside 0–100", () => {
    expect(linePoints([-5, 150], 10, 10)).toBe("0.0,10.0 10.0,0.0")
  })

  it("draws a single sample at the right edge and nothing for none", () => {
    expect(linePoints([25], 600, 160)).toBe("600.0,120.0")
    expect(linePoints([])).toBe("")
  })
})

describe("parentOf", () => {
  it("is the directory above, the root above a top-level one", () => {
    expect(parentOf("a/b/c")).toBe("a/b")
    expect(parentOf("a")).toBe("")
    expect(parentOf("")).toBe("")
  })
})

describe("visibleRange", () => {
  it("covers the rows in view plus the overscan on both sides", () => {
    expect(visibleRange(2800, 560, 28, 100_000, 10)).toEqual({ first: 90, last: 130 })
  })

  it("stays inside the list at its top and bottom", () => {
    expect(visibleRange(0, 560, 28, 100_000, 10)).toEqual({ first: 0, last: 30 })
    expect(visibleRange(28 * 99_990, 560, 28, 100_000, 10)).toEqual({ first: 99_980, last: 100_000 })
    expect(visibleRange(0, 560, 28, 5, 10)).toEqual({ first: 0, last: 5 })
  })
})

describe("the record's filters", () => {
  const event = { type: "memory_stored", stream: "memory-0193", actor: "user:api", at: "2026-12-06T03:00:00.000Z" }

  it("pass an event whose type, stream and actor hold what is typed, from the time given on", () => {
    expect(isFiltered(noFilters)).toBe(false)
    expect(matches(event, noFilters)).toBe(true)
    expect(matches(event, { ...noFilters, type: "memory", stream: "memory-01", actor: "user:" })).toBe(true)
    // a time from which on: the same moment, or a shorter prefix of one (a day, an hour)
    for (const since of ["2026-12-06T03:00:00.000Z", "2026-12-06", "2026-12-06T02"]) expect(matches(event, { ...noFilters, since }), since).toBe(true)
  })

  it("refuse an event any one filter does not hold", () => {
    for (const f of [{ type: "agent_" }, { stream: "cron-" }, { actor: "system" }, { since: "2026-12-06T03:00:00.001Z" }, { since: "2026-12-07" }]) {
      expect(isFiltered({ ...noFilters, ...f })).toBe(true)
      expect(matches(event, { ...noFilters, ...f }), JSON.stringify(f)).toBe(false)
    }
  })
})

describe("toolDetailOf", () => {
  const requested = { type: "tool_call_requested", data: { id: "g1", agent_id: "a1", call_id: "call_2", tool: "write" } }
  const agent = [
    { type: "model_answered", data: { text: "", tool_calls: [{ id: "call_1", name: "read", arguments: "{\"path\":\"a\"}" }] } },
    { type: "agent_step", data: {} },
    { type: "model_answered", data: { text: "", tool_calls: [{ id: "call_2", name: "write", arguments: "{\"path\":\"hello.txt\",\"content\":\"hi\"}" }] } }
  ]

  it("finds the arguments in the agent's answer that made the call, and the output it got back", () => {
    const completed = { type: "tool_call_completed", data: { id: "g1", status: "completed", duration_ms: 3, output: "wrote 2 bytes" } }
    expect(toolDetailOf([completed, { type: "tool_call_started", data: {} }, requested], agent)).toEqual({
      arguments: '{\n  "path": "hello.txt",\n  "content": "hi"\n}',
      result: "wrote 2 bytes",
      outcome: "completed",
      stage: undefined
    })
  })

  it("gives a denial's reason and stage, a running call no result, and no arguments it cannot find", () => {
    const denied = { type: "tool_call_denied", data: { id: "g1", status: "denied", stage: "permission", reason: "not allowed" } }
    expect(toolDetailOf([denied, requested], agent)).toMatchObject({ result: "not allowed", outcome: "denied", stage: "permission" })
    expect(toolDetailOf([requested], [])).toEqual({ arguments: undefined, result: undefined, outcome: "running", stage: undefined })
  })

  it("indents JSON and leaves other text as it is", () => {
    expect(indentJson("{\"a\":[1]}")).toBe('{\n  "a": [\n    1\n  ]\n}')
    expect(indentJson("not json {")).toBe("not json {")
  })
})
