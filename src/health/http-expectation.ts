/**
 * What an HTTP check expects of a response: a status (exact or a class like "2xx") and optionally a body, as a
 * substring or as a regular expression written "/.../flags". Parsed once from the configuration, so that a bad
 * value is reported at load time rather than as a failing server.
 */

export type StatusExpectation =
  | { readonly kind: 'exact'; readonly status: number; readonly text: string }
  | { readonly kind: 'class'; readonly hundreds: number; readonly text: string }

export type BodyExpectation =
  | { readonly kind: 'substring'; readonly value: string; readonly text: string }
  | { readonly kind: 'regex'; readonly pattern: RegExp; readonly text: string }

/** 200, "200" or "2xx" (case-insensitive). Throws a TypeError naming the value otherwise. */
export function parseStatusExpectation(value: number | string): StatusExpectation {
  const text = String(value).trim().toLowerCase()
  if (/^[1-5][0-9][0-9]$/.test(text)) return { kind: 'exact', status: Number(text), text }
  if (/^[1-5]xx$/.test(text)) return { kind: 'class', hundreds: Number(text[0]), text }
  throw new TypeError(`expect_status '${value}' is not a status (write it like 200 or 2xx)`)
}

/** "/.../flags" is a regular expression, anything else a substring. Throws a TypeError for an invalid expression. */
export function parseBodyExpectation(value: string): BodyExpectation {
  const regex = /^\/(.+)\/([dgimsuvy]*)$/s.exec(value)
  if (regex === null) return { kind: 'substring', value, text: JSON.stringify(value) }
  try {
    // 'g' and 'y' would make test() stateful across checks.
    const flags = regex[2]!.replace(/[gy]/g, '')
    return { kind: 'regex', pattern: new RegExp(regex[1]!, flags), text: value }
  } catch (err) {
    throw new TypeError(`expect_body ${value} is not a valid regular expression: ${(err as Error).message}`)
  }
}

export function statusMatches(expected: StatusExpectation, status: number): boolean {
  return expected.kind === 'exact' ? status === expected.status : Math.floor(status / 100) === expected.hundreds
}

export function bodyMatches(expected: BodyExpectation, body: string): boolean {
  return expected.kind === 'substring' ? body.includes(expected.value) : expected.pattern.test(body)
}
