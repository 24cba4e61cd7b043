import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { ProgramsDecide, withSkills } from "@annal/kernel"

const installed = (name: string, skill: string | null = null) => ({
  name,
  version: "1.0.0",
  description: "d",
  author: "a",
  source: { kind: "local" as const, location: "/x", commit: null },
  sha256: "a".repeat(64),
  tools: [],
  mcp_servers: [],
  requires_tools: [],
  host_requirements: { required: [], optional: [] },
  skill: skill === null ? null : { description: "", keywords: [], content: skill }
})

describe("programs decisions", () => {
  it("installs a new valid name once", () => {
    expect(ProgramsDecide.decideInstall(installed("hello"), false)).toEqual(Either.right(installed("hello")))
    expect(ProgramsDecide.decideInstall(installed("hello"), true)).toMatchObject({ left: { _tag: "AlreadyExists" } })
    expect(ProgramsDecide.decideInstall(installed("a__b"), false)).toMatchObject({ left: { _tag: "InvalidCommand" } })
    expect(ProgramsDecide.decideInstall({ ...installed("x"), sha256: "nope" }, false)).toMatchObject({ left: { _tag: "InvalidCommand" } })
    expect(ProgramsDecide.decideInstall(installed("x", "é".repeat(40_000)), false)).toMatchObject({ left: { message: expect.stringContaining("64 KB") } })
  })

  it("enables and disables only when the state changes", () => {
    expect(ProgramsDecide.decideSetEnabled("x", { enabled: true }, false)).toEqual(Either.right({ name: "x" }))
    expect(ProgramsDecide.decideSetEnabled("x", { enabled: true }, true)).toEqual(Either.right(undefined))
    expect(ProgramsDecide.decideSetEnabled("x", undefined, true)).toMatchObject({ left: { _tag: "EntityNotFound", message: "program not found: x" } })
    expect(ProgramsDecide.decideUninstall("x", false)).toMatchObject({ left: { _tag: "EntityNotFound" } })
  })
})

describe("skills relevant to a goal", () => {
  const candidates = [
    { program: "code-review", description: "review code changes and give feedback", keywords: ["review", "diff", "pull request"], content: "# Code review" },
    { program: "debug", description: "find the cause of a bug", keywords: ["debug", "bug", "error", "stack", "trace"], content: "# Debugging" },
    { program: "refactor", description: "restructure code without changing behaviour", keywords: ["refactor", "rename"], content: "# Refactoring" }
  ]
  it("offers the programs whose name or keywords the goal names, best first", () => {
    expect(ProgramsDecide.relevantSkills("Review the diff of the last commit", candidates).map((c) => c.program)).toEqual(["code-review"])
    expect(ProgramsDecide.relevantSkills("Fix the bug behind this stack trace, then rename the helper", candidates).map((c) => c.program)).toEqual(["debug", "refactor"])
  })
  it("offers nothing for an unrelated goal or a single incidental description word", () => {
    expect(ProgramsDecide.relevantSkills("Write a poem about the sea", candidates)).toEqual([])
    expect(ProgramsDecide.relevantSkills("Give feedback on my essay", candidates)).toEqual([])
  })
  it("puts the offered skills after the agent's system prompt", () => {
    const skill = { program: "code-review", description: "", content: "# Code review\n1. Read the diff\n" }
    expect(withSkills("Be careful.", [skill])).toBe(
      "Be careful.\n\nSkills of the programs installed for this task (their tools are named <program>__<tool>):\n\n## Program code-review\n# Code review\n1. Read the diff"
    )
    expect(withSkills(undefined, [skill])).toMatch(/^Skills of the programs/)
    expect(withSkills("Be careful.", [])).toBe("Be careful.")
    expect(withSkills(undefined, [])).toBeUndefined()
  })
})
