import { Either, Schema } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { describe, expect, it } from "vitest"
import { classifySource, decideOffers, parseManifest, parseSkill, Template } from "../src/index.js"
import { argumentsSchema, withDefaults } from "../src/Arguments.js"

const manifest = (extra = "") => `
[program]
name = "hello"
version = "1.0.0"
description = "Greets"
author = "annal"
${extra}
`
const refusal = (text: string) => {
  const r = parseManifest(text)
  if (Either.isRight(r)) throw new Error("accepted")
  return r.left.message
}

describe("program.toml", () => {
  it("decodes the Oxios schema and ignores unknown tables and keys", () => {
    const r = parseManifest(manifest(`
homepage = "https://example.com"
[tools.greet]
description = "Say hello"
command = "echo hello {who}"
arguments = [{ name = "who", description = "whom" }]
[requires_tools]
names = ["read"]
[host_requirements]
required = ["echo"]
optional = ["git"]
[[mcp]]
name = "srv"
command = "node"
args = ["server.js"]
env = { LEVEL = "debug" }
[something_else]
x = 1
`))
    expect(Either.isRight(r)).toBe(true)
    const { manifest: m, tools } = Either.getOrThrow(r)
    expect(m.program).toEqual({ name: "hello", version: "1.0.0", description: "Greets", author: "annal" })
    expect(m.requires_tools.names).toEqual(["read"])
    expect(m.host_requirements).toEqual({ required: ["echo"], optional: ["git"] })
    expect(m.mcp).toEqual([{ name: "srv", command: "node", args: ["server.js"], env: { LEVEL: "debug" }, enabled: true }])
    expect(tools.map((t) => [t.name, t.kind])).toEqual([["greet", "command"]])
  })

  it("refuses a bad manifest naming the field", () => {
    expect(refusal("[program\nname=")).toContain("not valid TOML")
    expect(refusal(`[program]\nname = "x"\nversion = "1"\ndescription = "d"`)).toBe('invalid field "program.author": is missing in program.toml')
    expect(refusal(manifest().replace('"hello"', '"bad name"'))).toContain('invalid field "program.name"')
    expect(refusal(manifest().replace('"hello"', '"a__b"'))).toContain('invalid field "program.name"')
    expect(refusal(manifest(`[tools.t]\ndescription = "x"\ncommand = "echo"\nmodule = "a.js"`))).toContain('"tools.t" in program.toml: a tool has a command or a module, not both')
    expect(refusal(manifest(`[tools.t]\ndescription = "x"\ncommand = "echo {nope}"`))).toContain('"tools.t.command" in program.toml: {nope} names no declared argument')
    // a command naming some of its arguments must name them all (only one naming none takes them appended)
    expect(refusal(manifest(`[tools.t]\ndescription = "x"\ncommand = "echo {a}"\narguments = [{ name = "a" }, { name = "b" }]`))).toContain(
      'argument "b" is declared but the command does not use it'
    )
    expect(refusal(manifest(`[tools.t]\ndescription = "x"\ncommand = "{a}"\narguments = [{ name = "a" }]`))).toContain("cannot be an argument")
    expect(refusal(manifest(`[tools.t]\ndescription = "x"\ncommand = "echo {a}"\narguments = [{ name = "a", type = "integer", default = "x" }]`))).toContain(
      '"tools.t.arguments.0.default"'
    )
    expect(refusal(manifest(`[tools.t]\ndescription = "x"\ncommand = "echo {a}"\narguments = [{ name = "a", type = "float" }]`))).toContain('"tools.t.arguments.0.type"')
    expect(refusal(manifest(`[tools.t]\ndescription = "x"\nmodule = "../outside.js"`))).toContain('"tools.t.module"')
    expect(refusal(manifest(`[tools.t]\ndescription = "x"\ncommand = "\${HOME}/x"`))).toContain("unknown host variable ${HOME}")
    expect(refusal(manifest(`[tools.${"x".repeat(60)}]\ndescription = "x"\ncommand = "echo"`))).toContain("at most 64 characters")
    expect(refusal(manifest(`[[mcp]]\nname = "a"\ncommand = "x"\n[[mcp]]\nname = "a"\ncommand = "y"`))).toContain('"mcp.1.name"')
  })

  it("accepts every program that ships with Annal", () => {
    const root = resolve(import.meta.dirname, "..")
    const shipped = readdirSync(root).filter((d) => !["src", "test", "package.json", "tsconfig.json"].includes(d))
    expect(shipped.sort()).toEqual(["code-review", "debug", "program-creator", "refactor", "text-stats", "textkit"])
    for (const dir of shipped) {
      const r = parseManifest(readFileSync(join(root, dir, "program.toml"), "utf8"))
      expect(Either.isRight(r), `${dir}: ${Either.isLeft(r) ? r.left.message : ""}`).toBe(true)
      expect(Either.isRight(parseSkill(readFileSync(join(root, dir, "SKILL.md"), "utf8")))).toBe(true)
    }
  })
})

describe("tools as Oxios writes them", () => {
  const host = { NODE: "/usr/bin/node", TSX: "file:///tsx", PROGRAM_DIR: "/p", WORKSPACE: "/w" }
  const toolOf = (text: string) => Either.getOrThrow(parseManifest(manifest(text))).tools[0]!

  it("takes a tool with arguments and neither command nor module as one with nothing to run", () => {
    const tool = toolOf(`[tools.parse]
description = "Parse a file"
arguments = [{ name = "file", description = "The file", type = "path" }, { name = "strict", type = "boolean", required = false }]`)
    expect(tool.kind).toBe("none")
    expect(tool.declaration.description).toBe("Parse a file")
    expect(tool.declaration.arguments.map((a) => `${a.name}:${a.type}`)).toEqual(["file:path", "strict:boolean"])
  })

  it("appends the declared arguments, in declared order, to a command that names none (binary + default args + args)", () => {
    const tool = toolOf(`[tools.count]
description = "Count"
command = "wc -w"
arguments = [{ name = "file", type = "path" }, { name = "more", type = "string", required = false }, { name = "n", type = "integer", default = 3 }]`)
    if (tool.kind !== "command") throw new Error(tool.kind)
    const argv = (values: Record<string, string | number | boolean | undefined>) =>
      Template.render(tool.template, withDefaults(tool.declaration.arguments, values), host)
    expect(argv({ file: "notes/a.md", more: "b.md", n: 7 })).toEqual(Either.right(["wc", "-w", "notes/a.md", "b.md", "7"]))
    // an absent optional argument is left out; a default fills in
    expect(argv({ file: "notes/a.md" })).toEqual(Either.right(["wc", "-w", "notes/a.md", "3"]))
    // an appended value is still never taken for an option
    expect(argv({ file: "--files0-from=/etc/passwd" })).toEqual(Either.left('invalid argument "file": a value starting with "-" would be read as an option'))
    // typed as declared
    const decode = Schema.decodeUnknownEither(argumentsSchema(tool.declaration.arguments))
    expect(Either.isLeft(decode({ file: "a.md", n: "seven" }))).toBe(true)
    expect(Either.isLeft(decode({}))).toBe(true)
  })

  it("keeps a command with placeholders as it was: nothing is appended", () => {
    const tool = toolOf(`[tools.t]
description = "x"
command = "echo {b} middle {a}"
arguments = [{ name = "a" }, { name = "b" }]`)
    if (tool.kind !== "command") throw new Error(tool.kind)
    expect(Template.render(tool.template, { a: "1", b: "2" }, host)).toEqual(Either.right(["echo", "2", "middle", "1"]))
  })
})

describe("SKILL.md", () => {
  it("reads the front matter's description and keywords", () => {
    expect(Either.getOrThrow(parseSkill("---\ndescription: review code\nkeywords: [review, diff]\ntags: [git]\n---\n# Review\n"))).toEqual({
      description: "review code",
      keywords: ["review", "diff", "git"],
      content: "---\ndescription: review code\nkeywords: [review, diff]\ntags: [git]\n---\n# Review\n"
    })
    expect(Either.getOrThrow(parseSkill("# Plain\n"))).toMatchObject({ description: "", keywords: [] })
    const bad = parseSkill("---\nkeywords: [a\n---\n")
    expect(Either.isLeft(bad) && bad.left.message).toContain("not valid YAML")
    const wrong = parseSkill("---\nkeywords: 3\n---\n")
    expect(Either.isLeft(wrong) && wrong.left.message).toContain('"keywords"')
  })
})

describe("command templates", () => {
  const host = { NODE: "/usr/bin/node", TSX: "file:///tsx", PROGRAM_DIR: "/p", WORKSPACE: "/w" }
  const render = (command: string | ReadonlyArray<string>, values: Record<string, string | number | boolean | undefined>) =>
    Template.render(Either.getOrThrow(Template.parseTemplate(command)), values, host)

  it("substitutes each argument as one argv element, never split or interpreted", () => {
    expect(render("git diff {base}", { base: "HEAD; rm -rf / $(x)" })).toEqual(Either.right(["git", "diff", "HEAD; rm -rf / $(x)"]))
    expect(render(["grep", "-e", "{p}", "--", "{path}"], { p: "a b", path: "-weird" })).toEqual(Either.right(["grep", "-e", "a b", "--", "-weird"]))
    expect(render("tool --max={n} --flag={b}", { n: 3, b: true })).toEqual(Either.right(["tool", "--max=3", "--flag=true"]))
    expect(render("${NODE} ${PROGRAM_DIR}/x.js {{literal}}", {})).toEqual(Either.right(["/usr/bin/node", "/p/x.js", "{literal}"]))
  })

  it("leaves out elements of absent optional arguments", () => {
    expect(render("git log --max-count={n} {ref}", {})).toEqual(Either.right(["git", "log"]))
  })

  it("refuses a value that would be read as an option, unless after --", () => {
    expect(render("git diff {base}", { base: "--output=/etc/x" })).toEqual(Either.left('invalid argument "base": a value starting with "-" would be read as an option'))
    expect(render("cat -- {f}", { f: "-n" })).toEqual(Either.right(["cat", "--", "-n"]))
  })

  it("refuses malformed templates", () => {
    expect(Template.parseTemplate("echo {a")).toEqual(Either.left('unclosed "{" in "{a"'))
    expect(Template.parseTemplate("echo a}")).toMatchObject({ left: expect.stringContaining("unmatched") })
    expect(Template.parseTemplate("")).toEqual(Either.left("the command is empty"))
  })
})

describe("typed arguments", () => {
  const args = [
    { name: "path", description: "", type: "path" as const },
    { name: "n", description: "", type: "integer" as const, default: 3 },
    { name: "mode", description: "", type: "string" as const, enum: ["a", "b"], required: false },
    { name: "on", description: "", type: "boolean" as const, required: false }
  ]
  const decode = Schema.decodeUnknownEither(argumentsSchema(args), { onExcessProperty: "error" })

  it("validates types, enums and required arguments and refuses unknown ones", () => {
    expect(Either.isRight(decode({ path: "a.md", n: 2, mode: "a", on: true }))).toBe(true)
    expect(Either.isLeft(decode({ n: 2 }))).toBe(true)
    expect(Either.isLeft(decode({ path: "a", n: 2.5 }))).toBe(true)
    expect(Either.isLeft(decode({ path: "a", mode: "c" }))).toBe(true)
    expect(Either.isLeft(decode({ path: "a", on: "yes" }))).toBe(true)
    expect(Either.isLeft(decode({ path: "a", extra: 1 }))).toBe(true)
    expect(withDefaults(args, { path: "a" })).toEqual({ path: "a", n: 3 })
  })
})

describe("which programs are offered", () => {
  it("needs every required tool, built in or from a program that is itself offered", () => {
    const decided = decideOffers([
      { name: "a", requires: ["read"], provides: ["a__x"], missingHost: [] },
      { name: "b", requires: ["a__x"], provides: ["b__y"], missingHost: [] },
      { name: "c", requires: ["nope"], provides: ["c__z"], missingHost: [] },
      { name: "d", requires: ["c__z"], provides: [], missingHost: [] },
      { name: "e", requires: [], provides: [], missingHost: ["docker"] }
    ], new Set(["read"]))
    expect(Object.fromEntries([...decided].map(([n, d]) => [n, [d.offered, d.reason]]))).toEqual({
      a: [true, null],
      b: [true, null],
      c: [false, "required tools are missing: nope"],
      d: [false, "required tools are missing: c__z"],
      e: [false, "required host tools are missing: docker"]
    })
  })
})

describe("sources", () => {
  it("tells git URLs from tarballs and refuses ssh, git:// and local paths", () => {
    expect(classifySource("https://example.com/x/repo.git")).toEqual(Either.right({ kind: "git", url: "https://example.com/x/repo.git" }))
    expect(classifySource("http://127.0.0.1:9/p.tar.gz")).toEqual(Either.right({ kind: "tarball", url: "http://127.0.0.1:9/p.tar.gz" }))
    expect(classifySource("git@github.com:a/b.git")).toMatchObject({ left: expect.stringContaining("ssh URLs are not supported") })
    expect(classifySource("ssh://git@host/a/b.git")).toMatchObject({ left: expect.stringContaining("ssh URLs are not supported") })
    expect(classifySource("git://host/a.git")).toMatchObject({ left: expect.stringContaining("git://") })
    expect(classifySource("/srv/programs/x")).toMatchObject({ left: expect.stringContaining("annal programs install") })
    expect(classifySource("./x")).toMatchObject({ left: expect.stringContaining("local paths") })
    expect(classifySource("file:///etc")).toMatchObject({ left: expect.stringContaining("local paths") })
    expect(classifySource("ftp://host/x.tgz")).toMatchObject({ left: expect.stringContaining("unsupported URL scheme") })
    expect(classifySource("https://u:p@host/x.tgz")).toMatchObject({ left: expect.stringContaining("credentials") })
  })
})
