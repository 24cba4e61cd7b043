/** Every program that ships with Annal installs, is offered on this machine, and its tools work through the gate. */
import { Configuration, Permissions, ToolGate, Workspace } from "@annal/kernel"
import { Effect } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { packDirectory, ProgramHost } from "../src/index.js"
import { shipped, withHost } from "./support.js"

const ctx = { actor: "user:test" }
const SHIPPED = ["code-review", "debug", "refactor", "program-creator", "text-stats", "textkit"]

describe("the programs that ship with Annal", () => {
  it("install, are offered, and their tools work — program-creator's program included", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "annal-shipped-"))
    await withHost(dataDir, Effect.gen(function*() {
      const host = yield* ProgramHost
      for (const name of SHIPPED) {
        yield* host.install({ _tag: "Archive", archive: yield* packDirectory(shipped(name)), location: shipped(name) }, ctx)
        expect(yield* host.get(name === "textkit" ? "textkit" : name), name).toMatchObject({ offered: true, not_offered_reason: null })
      }
      const encode = (s: string) => new TextEncoder().encode(s)
      const workspace = yield* Workspace
      yield* workspace.write("src/app.js", encode("function main() {\n  const total = compute()\n  throw new Error('boom')\n}\n"), ctx)
      yield* workspace.write("src/util.js", encode("export const compute = () => 1\n"), ctx)
      yield* (yield* Configuration).update({ tools: { policies: { "program-creator__create_program": "auto" } } }, ctx)
      const gate = yield* ToolGate
      yield* (yield* Permissions).ensureDefaults("agent-s", ctx)
      const call = (name: string, args: unknown) =>
        Effect.map(gate.call("agent-s", { id: name, name, arguments: JSON.stringify(args) }, ctx), (r) => {
          expect(r.status, `${name}: ${r.content}`).toBe("completed")
          return r.content
        })

      expect(yield* call("code-review__history", { count: 5 })).toMatch(/src\/util\.js/)
      expect(yield* call("code-review__changes", { base: "HEAD~1" })).toContain("+export const compute = () => 1")
      expect(yield* call("debug__locate", { trace: "Error: boom\n    at main (src/app.js:3:9)\n    at node:internal/x:1:1", context: 1 })).toBe(
        "src/app.js:3\n      2 |   const total = compute()\n>     3 |   throw new Error('boom')\n      4 | }"
      )
      // grep walks in directory order
      expect((yield* call("refactor__references", { symbol: "compute" })).split("\n").sort()).toEqual(
        ["", "./src/app.js:2:  const total = compute()", "./src/util.js:1:export const compute = () => 1", "[exit code 0]"]
      )
      expect(yield* call("text-stats__count", { path: "src/util.js" })).toMatch(/^\s*1\s+7\s+31 src\/util\.js/)
      expect(yield* call("textkit__word_frequencies", { text: "to be or not to be", top: 2 })).toBe("be: 2\nto: 2")

      /** Has program-creator write a program, installs the folder it wrote, and lets its tool run unasked. */
      const create = (args: Record<string, string>) =>
        Effect.gen(function*() {
          const written = yield* call("program-creator__create_program", args)
          yield* host.install({ _tag: "Archive", archive: yield* packDirectory(join(workspace.root, "programs", args.name!)), location: args.name! }, ctx)
          yield* (yield* Configuration).update({ tools: { policies: { [`${args.name}__${args.tool}`]: "auto" } } }, ctx)
          return written
        })
      expect(yield* create({ name: "greeter", description: "Greets whoever it is given", tool: "greet", tool_description: "Greet someone" })).toContain(
        "wrote programs/greeter/program.toml, programs/greeter/SKILL.md, programs/greeter/tools/greet.js"
      )
      expect(yield* call("greeter__greet", { input: "Ada" })).toBe("greet received: Ada")
      const liner = { name: "liner", description: "Counts lines", tool: "lines", tool_description: "Count the lines of a file", kind: "command", command: "wc -l -- {file}" }
      expect(yield* create(liner)).toContain("programs/liner/program.toml")
      expect(yield* call("liner__lines", { file: "src/app.js" })).toBe("4 src/app.js\n\n[exit code 0]")
    }))
  }, 120_000)
})
