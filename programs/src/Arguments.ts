/** A tool's declared arguments as the Effect Schema its calls are decoded with (and the JSON schema the model sees). */
import type { ToolArgument } from "@annal/spec"
import { Schema } from "effect"
import type { ArgumentValue } from "./Template.js"

/** Required unless it says otherwise or has a default. */
export const isRequired = (a: ToolArgument): boolean => a.required ?? a.default === undefined

// each argument has its own type; the Struct is typed as a whole below
const valueSchema = (a: ToolArgument): Schema.Schema<any> => {
  switch (a.type) {
    case "path":
      return Schema.String.pipe(Schema.minLength(1), Schema.maxLength(4096))
    case "string":
      return a.enum === undefined
        ? Schema.String.pipe(Schema.maxLength(65_536))
        : Schema.Literal(...(a.enum as [string, ...Array<string>]))
    case "number":
      return Schema.Number.pipe(Schema.finite())
    case "integer":
      return Schema.Int
    case "boolean":
      return Schema.Boolean
  }
}

/** The Struct of the arguments: typed, required where declared, nothing else accepted (the tool refuses unknown fields). */
export const argumentsSchema = (args: ReadonlyArray<ToolArgument>) => {
  const fields: Record<string, Schema.Struct.Field> = {}
  for (const a of args) {
    const described = valueSchema(a).annotations({
      description: a.description === "" ? a.name : a.description,
      ...(a.default === undefined ? {} : { default: a.default })
    })
    fields[a.name] = isRequired(a) ? described : Schema.optional(described)
  }
  return Schema.Struct(fields) as unknown as Schema.Schema<Readonly<Record<string, ArgumentValue | undefined>>, Readonly<Record<string, ArgumentValue | undefined>>>
}

/** The workspace paths a call names: its `path` arguments, which the gate's permission step checks. */
export const pathsOf = (args: ReadonlyArray<ToolArgument>, values: Readonly<Record<string, unknown>>): ReadonlyArray<string> =>
  args.flatMap((a) => (a.type === "path" && typeof values[a.name] === "string" ? [values[a.name] as string] : []))

/** The decoded arguments with the declared defaults filled in. */
export const withDefaults = (
  args: ReadonlyArray<ToolArgument>,
  values: Readonly<Record<string, ArgumentValue | undefined>>
): Readonly<Record<string, ArgumentValue | undefined>> => {
  const out: Record<string, ArgumentValue | undefined> = { ...values }
  for (const a of args) if (out[a.name] === undefined && a.default !== undefined) out[a.name] = a.default
  return out
}
