/**
 * `{{name}}` placeholders in provider commands and environment values. An unknown name is an error rather than
 * text left in place: a shell command with a stray `{{...}}` in it would run, and do the wrong thing.
 */
export type TemplateValues = Readonly<Record<string, string | number>>

const PLACEHOLDER = /\{\{\s*([A-Za-z_]\w*)\s*\}\}/g

/**
 * Values that go into a shell command unquoted. A version comes from the CLI or the admin API, so it must not be
 * able to add shell syntax; anything else is still available through the SWITCHYARD_* environment variables.
 */
const SHELL_SAFE = /^[A-Za-z0-9._:@/+=,%~[\]-]*$/

/** Fills `{{name}}` placeholders; throws naming `what` and the known names for an unknown one. */
export function renderTemplate(template: string, values: TemplateValues, what: string): string {
  return template.replace(PLACEHOLDER, (_whole, name: string) => {
    const value = values[name]
    if (value === undefined) {
      throw new Error(`${what}: unknown placeholder {{${name}}} (known: ${Object.keys(values).map((k) => `{{${k}}}`).join(', ')})`)
    }
    return String(value)
  })
}

/** Like renderTemplate, for a command run by /bin/sh: a value with shell syntax in it is refused. */
export function renderShellCommand(template: string, values: TemplateValues, what: string): string {
  return template.replace(PLACEHOLDER, (whole) => {
    const value = renderTemplate(whole, values, what)
    if (!SHELL_SAFE.test(value)) {
      throw new Error(
        `${what}: the value ${JSON.stringify(value)} of ${whole} cannot go into a shell command ` +
          '(allowed: letters, digits and . _ - + : @ / = , % ~ [ ]); read it from the SWITCHYARD_* environment instead',
      )
    }
    return value
  })
}
