/**
 * Reading a program: `program.toml` parsed with smol-toml and decoded with the spec's
 * `ProgramManifest` Schema, then checked as a whole (each tool a command, a module or neither,
 * templates that use exactly the declared arguments or none of them — then they are appended —,
 * defaults of the declared type, names agents can call);
 * `SKILL.md` with its YAML front matter. Every refusal names the field.
 */
import {
  describeIssues,
  MAX_PROGRAM_SKILL_BYTES,
  ProgramManifest,
  type ToolArgument,
  type ToolDeclaration,
  utf8Bytes
} from "@annal/spec"
import { Tool } from "@annal/kernel"
import { Data, Either, ParseResult, Schema } from "effect"
import { posix } from "node:path"
import { parse as parseToml } from "smol-toml"
import { parse as parseYaml } from "yaml"
import { appendArguments, parseElement, parseTemplate, type Template } from "./Template.js"

/** The manifest or SKILL.md is not acceptable; the message says which field and why. */
export class ManifestInvalid extends Data.TaggedError("ManifestInvalid")<{ readonly message: string }> {}

/** The name agents call a program's tool by. */
export const toolNameOf = (program: string, tool: string) => `${program}__${tool}`

/**
 * A tool of a valid manifest, with its template parsed; `none` is a tool with neither command nor
 * module (Oxios lists it for its description and arguments), installed but never run.
 */
export type CheckedTool =
  | { readonly kind: "command"; readonly name: string; readonly declaration: ToolDeclaration; readonly template: Template }
  | { readonly kind: "module"; readonly name: string; readonly declaration: ToolDeclaration; readonly module: string }
  | { readonly kind: "none"; readonly name: string; readonly declaration: ToolDeclaration }

/** Why a tool with neither command nor module is not offered to agents. */
export const NOTHING_TO_RUN = "the manifest gives this tool neither a command nor a module, so there is nothing to run; it is listed, not offered to agents"

export interface CheckedManifest {
  readonly manifest: ProgramManifest
  readonly tools: ReadonlyArray<CheckedTool>
}

const invalid = (field: string, why: string) => Either.left(new ManifestInvalid({ message: `invalid field "${field}" in program.toml: ${why}` }))

const matchesType = (a: ToolArgument, value: unknown): boolean => {
  switch (a.type) {
    case "string":
      return typeof value === "string" && (a.enum === undefined || a.enum.includes(value))
    case "path":
      return typeof value === "string" && value !== ""
    case "number":
      return typeof value === "number" && Number.isFinite(value)
    case "integer":
      return typeof value === "number" && Number.isInteger(value)
    case "boolean":
      return typeof value === "boolean"
  }
}

/** A path inside the program (relative, normalised, not leaving it), or undefined. */
export const insidePath = (path: string): string | undefined => {
  if (path.includes("\0") || path.includes("\\") || posix.isAbsolute(path)) return undefined
  const normal = posix.normalize(path)
  return normal === "." || normal === ".." || normal.startsWith("../") ? undefined : normal
}

const checkArguments = (field: string, args: ReadonlyArray<ToolArgument>): Either.Either<void, ManifestInvalid> => {
  const seen = new Set<string>()
  for (const [i, a] of args.entries()) {
    const at = `${field}.arguments.${i}`
    if (seen.has(a.name)) return invalid(`${at}.name`, `argument "${a.name}" is declared twice`)
    seen.add(a.name)
    if (a.enum !== undefined && a.type !== "string") return invalid(`${at}.enum`, "only a string argument can have an enum")
    if (a.default !== undefined && !matchesType(a, a.default)) {
      return invalid(`${at}.default`, `${JSON.stringify(a.default)} is not a valid ${a.type}${a.enum === undefined ? "" : ` of ${a.enum.join(", ")}`}`)
    }
  }
  return Either.void
}

const checkTool = (program: string, name: string, declaration: ToolDeclaration): Either.Either<CheckedTool, ManifestInvalid> => {
  const field = `tools.${name}`
  const qualified = toolNameOf(program, name)
  if (!Tool.TOOL_NAME.test(qualified)) return invalid(field, `the tool's name "${qualified}" must match ${Tool.TOOL_NAME.source} (at most 64 characters)`)
  const args = checkArguments(field, declaration.arguments)
  if (Either.isLeft(args)) return Either.left(args.left)
  if (declaration.command !== undefined && declaration.module !== undefined) return invalid(field, "a tool has a command or a module, not both")
  if (declaration.command === undefined && declaration.module === undefined) {
    if (declaration.child_process) return invalid(`${field}.child_process`, "only module tools run sandboxed")
    return Either.right({ kind: "none", name, declaration })
  }
  if (declaration.command !== undefined) {
    if (declaration.child_process) return invalid(`${field}.child_process`, "only module tools run sandboxed; a command tool is a process already")
    const parsed = parseTemplate(declaration.command)
    if (Either.isLeft(parsed)) return invalid(`${field}.command`, parsed.left)
    const declared = declaration.arguments.map((a) => a.name)
    // no {placeholder} at all: the arguments follow the command, in declared order (as Oxios runs it)
    const template = parsed.right.arguments.length === 0 ? appendArguments(parsed.right, declared) : parsed.right
    const unknown = template.arguments.find((a) => !declared.includes(a))
    if (unknown !== undefined) return invalid(`${field}.command`, `{${unknown}} names no declared argument`)
    const unused = declared.find((a) => !template.arguments.includes(a))
    if (unused !== undefined) return invalid(`${field}.arguments`, `argument "${unused}" is declared but the command does not use it`)
    return Either.right({ kind: "command", name, declaration, template })
  }
  const module = insidePath(declaration.module!)
  if (module === undefined) return invalid(`${field}.module`, `${JSON.stringify(declaration.module)} is not a path inside the program`)
  if (!/\.(m?js)$/.test(module)) return invalid(`${field}.module`, "a module tool is a .js or .mjs file")
  return Either.right({ kind: "module", name, declaration, module })
}

/** Decodes `program.toml`'s text into a checked manifest. */
export const parseManifest = (text: string): Either.Either<CheckedManifest, ManifestInvalid> => {
  const toml = Either.try({
    try: () => parseToml(text) as unknown,
    catch: (e) => new ManifestInvalid({ message: `program.toml is not valid TOML: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}` })
  })
  if (Either.isLeft(toml)) return Either.left(toml.left)
  const decoded = Schema.decodeUnknownEither(ProgramManifest, { errors: "first", onExcessProperty: "ignore" })(toml.right)
  if (Either.isLeft(decoded)) {
    const issues = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)
    return Either.left(new ManifestInvalid({ message: `${describeIssues(issues)} in program.toml` }))
  }
  const manifest = decoded.right
  const tools: Array<CheckedTool> = []
  for (const [name, declaration] of Object.entries(manifest.tools)) {
    const checked = checkTool(manifest.program.name, name, declaration)
    if (Either.isLeft(checked)) return Either.left(checked.left)
    tools.push(checked.right)
  }
  const servers = new Set<string>()
  for (const [i, server] of manifest.mcp.entries()) {
    if (servers.has(server.name)) return invalid(`mcp.${i}.name`, `MCP server "${server.name}" is declared twice`)
    servers.add(server.name)
    for (const [j, element] of [server.command, ...server.args].entries()) {
      const parsed = parseElement(element)
      if (Either.isLeft(parsed)) return invalid(j === 0 ? `mcp.${i}.command` : `mcp.${i}.args.${j - 1}`, parsed.left)
      if (parsed.right.some((p) => p._tag === "Argument")) {
        return invalid(j === 0 ? `mcp.${i}.command` : `mcp.${i}.args.${j - 1}`, "an MCP server's command has no arguments to substitute (write {{ for a brace)")
      }
    }
  }
  return Either.right({ manifest, tools })
}

/** A SKILL.md: the front matter's description and keywords (`keywords` or `tags`), and the whole text. */
export interface Skill {
  readonly description: string
  readonly keywords: ReadonlyArray<string>
  readonly content: string
}

const FrontMatter = Schema.Struct({
  name: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  keywords: Schema.optional(Schema.Array(Schema.String)),
  tags: Schema.optional(Schema.Array(Schema.String))
})

/** Reads a SKILL.md; front matter is optional, and when present must be YAML of that shape. */
export const parseSkill = (content: string): Either.Either<Skill, ManifestInvalid> => {
  const bytes = utf8Bytes(content)
  if (bytes > MAX_PROGRAM_SKILL_BYTES) return Either.left(new ManifestInvalid({ message: `SKILL.md must be at most ${MAX_PROGRAM_SKILL_BYTES} bytes (64 KB), got ${bytes}` }))
  const match = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(content)
  if (match === null) return Either.right({ description: "", keywords: [], content })
  const yaml = Either.try({
    try: () => (parseYaml(match[1]!) as unknown) ?? {},
    catch: (e) => new ManifestInvalid({ message: `SKILL.md front matter is not valid YAML: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}` })
  })
  if (Either.isLeft(yaml)) return Either.left(yaml.left)
  const decoded = Schema.decodeUnknownEither(FrontMatter, { errors: "first", onExcessProperty: "ignore" })(yaml.right)
  if (Either.isLeft(decoded)) {
    return Either.left(new ManifestInvalid({ message: `${describeIssues(ParseResult.ArrayFormatter.formatErrorSync(decoded.left))} in SKILL.md front matter` }))
  }
  const fm = decoded.right
  return Either.right({ description: fm.description ?? "", keywords: [...(fm.keywords ?? []), ...(fm.tags ?? [])], content })
}
