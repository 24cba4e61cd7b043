/**
 * An integer query parameter: decimal text on the wire, a safe integer within bounds once
 * decoded (a 400 naming it otherwise). Its JSON Schema in `/openapi.json` is the integer with
 * the same bounds, not the string it arrives as (query parameters are always text; OpenAPI
 * describes the value they serialize).
 */
import { Schema } from "effect"

/** `minimum`..`maximum` (default: the largest safe integer), both inclusive. */
export const IntegerParam = (minimum: number, maximum: number = Number.MAX_SAFE_INTEGER, description?: string) =>
  Schema.NumberFromString.pipe(
    Schema.int(),
    Schema.between(minimum, maximum),
    Schema.annotations({
      jsonSchema: { type: "integer", minimum, maximum, ...(description === undefined ? {} : { description }) },
      ...(description === undefined ? {} : { description })
    })
  )
