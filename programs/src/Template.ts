/**
 * Command templates: how a command tool's declared arguments become argv, never through a shell.
 *
 * A template is a list of argv elements (a TOML string is split on spaces; an array is taken
 * as it is). In an element, `{name}` is a declared argument and `${VAR}` a host variable
 * (`${NODE}`, `${TSX}`, `${PROGRAM_DIR}`, `${WORKSPACE}`); `{{` and `}}` are literal braces.
 * - An element that is exactly `{name}` becomes the argument's value as one argv element,
 *   whatever it contains; when the argument is optional and absent it is left out. A string
 *   value starting with `-` is refused there unless an earlier element is `--`, so a value is
 *   never taken for an option.
 * - An element with an argument inside text (`--base={base}`) is rendered as one element, and
 *   left out when one of its arguments is absent.
 * - The first element names the program: a literal or a host variable, never an argument.
 * - A template that names no argument at all (`wc -w`) takes the declared arguments appended,
 *   in declared order, each as a whole element (Oxios's binary + default args + args).
 */
import { Either } from "effect"

export const HOST_VARIABLES = ["NODE", "TSX", "PROGRAM_DIR", "WORKSPACE"] as const
export type HostVariable = (typeof HOST_VARIABLES)[number]

export type Part =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "Argument"; readonly name: string }
  | { readonly _tag: "Host"; readonly name: HostVariable }

/** One argv element of a template. */
export interface Element {
  readonly parts: ReadonlyArray<Part>
  /** The element is exactly one argument. */
  readonly whole: boolean
  /** An earlier element is `--`: values are operands, not options. */
  readonly afterDashDash: boolean
}

export interface Template {
  readonly elements: ReadonlyArray<Element>
  /** The arguments the template uses, in order of first use. */
  readonly arguments: ReadonlyArray<string>
}

const isHost = (name: string): name is HostVariable => (HOST_VARIABLES as ReadonlyArray<string>).includes(name)

/** The parts of one element, or what is wrong with it. */
export const parseElement = (element: string): Either.Either<ReadonlyArray<Part>, string> => {
  const parts: Array<Part> = []
  let text = ""
  const flush = () => {
    if (text !== "") parts.push({ _tag: "Text", text })
    text = ""
  }
  for (let i = 0; i < element.length; i++) {
    const c = element[i]!
    if ((c === "{" || c === "}") && element[i + 1] === c) {
      text += c
      i++
    } else if (c === "$" && element[i + 1] === "{") {
      const end = element.indexOf("}", i)
      if (end === -1) return Either.left(`unclosed "\${" in ${JSON.stringify(element)}`)
      const name = element.slice(i + 2, end)
      if (!isHost(name)) return Either.left(`unknown host variable \${${name}} (known: ${HOST_VARIABLES.map((v) => `\${${v}}`).join(", ")})`)
      flush()
      parts.push({ _tag: "Host", name })
      i = end
    } else if (c === "{") {
      const end = element.indexOf("}", i)
      if (end === -1) return Either.left(`unclosed "{" in ${JSON.stringify(element)}`)
      const name = element.slice(i + 1, end)
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return Either.left(`{${name}} is not an argument name`)
      flush()
      parts.push({ _tag: "Argument", name })
      i = end
    } else if (c === "}") {
      return Either.left(`unmatched "}" in ${JSON.stringify(element)} (write "}}" for a literal brace)`)
    } else {
      text += c
    }
  }
  flush()
  return Either.right(parts)
}

/** Parses a template: a string split on whitespace, or argv elements. */
export const parseTemplate = (command: string | ReadonlyArray<string>): Either.Either<Template, string> => {
  const raw = typeof command === "string" ? command.trim().split(/\s+/).filter((e) => e !== "") : command
  if (raw.length === 0) return Either.left("the command is empty")
  const elements: Array<Element> = []
  const used: Array<string> = []
  let afterDashDash = false
  for (const [i, element] of raw.entries()) {
    const parsed = parseElement(element)
    if (Either.isLeft(parsed)) return Either.left(parsed.left)
    const parts = parsed.right
    if (parts.length === 0) return Either.left(`element ${i} is empty`)
    if (i === 0 && parts.some((p) => p._tag === "Argument")) return Either.left("the program to run (the first element) cannot be an argument")
    for (const p of parts) if (p._tag === "Argument" && !used.includes(p.name)) used.push(p.name)
    elements.push({ parts, whole: parts.length === 1 && parts[0]!._tag === "Argument", afterDashDash })
    if (element === "--") afterDashDash = true
  }
  return Either.right({ elements, arguments: used })
}

/** The template with one whole element per argument appended, in the order given. */
export const appendArguments = (template: Template, names: ReadonlyArray<string>): Template => {
  const afterDashDash = template.elements.some((e) => e.parts.length === 1 && e.parts[0]!._tag === "Text" && e.parts[0]!.text === "--")
  return {
    elements: [...template.elements, ...names.map((name): Element => ({ parts: [{ _tag: "Argument", name }], whole: true, afterDashDash }))],
    arguments: [...template.arguments, ...names.filter((n) => !template.arguments.includes(n))]
  }
}

export type ArgumentValue = string | number | boolean

/** A value as argv text. */
const show = (value: ArgumentValue) => (typeof value === "string" ? value : String(value))

/**
 * Renders argv from decoded arguments (absent ones are undefined) and the host variables; the
 * error names the argument a value was refused for.
 */
export const render = (
  template: Template,
  values: Readonly<Record<string, ArgumentValue | undefined>>,
  host: Readonly<Record<HostVariable, string>>
): Either.Either<ReadonlyArray<string>, string> => {
  const argv: Array<string> = []
  for (const element of template.elements) {
    if (element.parts.some((p) => p._tag === "Argument" && values[p.name] === undefined)) continue
    if (element.whole) {
      const name = (element.parts[0] as { readonly name: string }).name
      const value = values[name]!
      if (typeof value === "string" && value.startsWith("-") && !element.afterDashDash) {
        return Either.left(`invalid argument "${name}": a value starting with "-" would be read as an option`)
      }
      argv.push(show(value))
      continue
    }
    argv.push(element.parts.map((p) => (p._tag === "Text" ? p.text : p._tag === "Host" ? host[p.name] : show(values[p.name]!))).join(""))
  }
  return Either.right(argv)
}
