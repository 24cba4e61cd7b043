// Writes a new program into the workspace: programs/<name>/program.toml, SKILL.md and, for a
// module tool, tools/<tool>.js. The result installs with `annal programs install <that folder>`.
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const PROGRAM_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,47}$/
const TOOL_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/
// TOML basic strings accept JSON's escapes
const str = (s) => JSON.stringify(s)

export default function create({ name, description, tool, tool_description, kind, command, skill }, { workspace }) {
  if (!PROGRAM_NAME.test(name)) throw new Error(`"${name}" is not a program name: letters, digits and -, starting with a letter or digit`)
  if (!TOOL_NAME.test(tool)) throw new Error(`"${tool}" is not a tool name: letters, digits, _ and -`)
  if (`${name}__${tool}`.length > 64) throw new Error(`${name}__${tool} is longer than 64 characters`)
  if (kind === "command" && (command === undefined || command.trim() === "")) throw new Error("a command tool needs a command template")
  const relative = `programs/${name}`
  const dir = join(workspace, relative)
  if (existsSync(dir)) throw new Error(`${relative} exists already`)
  const args = kind === "command" ? [...new Set([...command.matchAll(/(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})/g)].map((m) => m[1]))] : ["input"]
  const manifest = [
    "[program]",
    `name = ${str(name)}`,
    `version = "0.1.0"`,
    `description = ${str(description)}`,
    `author = "program-creator"`,
    "",
    `[tools.${tool}]`,
    `description = ${str(tool_description)}`,
    kind === "command" ? `command = ${str(command.trim())}` : `module = "tools/${tool}.js"`,
    `arguments = [${args.map((a) => `{ name = ${str(a)}, description = ${str(`the ${a}`)} }`).join(", ")}]`,
    ""
  ].join("\n")
  mkdirSync(join(dir, "tools"), { recursive: true })
  writeFileSync(join(dir, "program.toml"), manifest)
  const skillText = skill ?? `# ${name}\n\n${description}\n\nCall \`${name}__${tool}\`: ${tool_description}\n`
  writeFileSync(join(dir, "SKILL.md"), `---\ndescription: ${str(description)}\nkeywords: [${str(name)}, ${str(tool)}]\n---\n${skillText}`)
  const files = ["program.toml", "SKILL.md"]
  if (kind === "module") {
    writeFileSync(
      join(dir, "tools", `${tool}.js`),
      [
        `// ${tool_description}`,
        "// Runs in Annal's sandbox: it may read the program's folder and the workspace, write the workspace.",
        "export default function run({ input }, { workspace }) {",
        `  return \`${tool} received: \${input}\``,
        "}",
        ""
      ].join("\n")
    )
    files.push(`tools/${tool}.js`)
  }
  return `wrote ${files.map((f) => `${relative}/${f}`).join(", ")}; install it with: annal programs install ${dir}`
}
