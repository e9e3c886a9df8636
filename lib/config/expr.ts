/** Evaluates the shell-style values the configs use: `${VAR}`, `${VAR:-default}` and `${PORT_OFFSET}+7200`. */

export type Variables = Readonly<Record<string, string>>;

/** A value, or what is wrong with it (`reason`) and how to fix it (`fix`). */
export type Evaluated<T> =
  { ok: true; value: T; unresolved: readonly string[] } | { ok: false; reason: string; fix: string };

const VAR_RE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g;

/**
 * Substitutes `${VAR}` and `${VAR:-default}` from `vars`. A variable without a value or a default is
 * left as written and listed in `unresolved`, so the caller can decide whether that matters.
 */
export function substitute(text: string, vars: Variables): { text: string; unresolved: string[] } {
  const unresolved: string[] = [];
  const out = text.replace(VAR_RE, (whole, name: string, def: string | undefined) => {
    const v = vars[name];
    if (v !== undefined) return v;
    if (def !== undefined) return def;
    unresolved.push(name);
    return whole;
  });
  return { text: out, unresolved };
}

/** Evaluates a port: an integer, or a sum of integers and variables such as `${PORT_OFFSET}+7200`. */
export function evaluatePort(raw: unknown, vars: Variables): Evaluated<number> {
  let n: number;
  if (typeof raw === 'number') {
    n = raw;
  } else if (typeof raw === 'string') {
    const { text, unresolved } = substitute(raw.trim(), vars);
    if (unresolved.length > 0)
      return {
        ok: false,
        reason: `variable ${unresolved.map((u) => `'${u}'`).join(', ')} in the port has no value`,
        fix: `define it under 'variables' in the spec`,
      };
    if (!/^\s*\d+(\s*[+-]\s*\d+)*\s*$/.test(text))
      return {
        ok: false,
        reason: `a port must be an integer or a sum such as '\${PORT_OFFSET}+7200'`,
        fix: 'write the port as a number',
      };
    n = 0;
    for (const m of text.replace(/\s+/g, '').matchAll(/([+-]?)(\d+)/g)) n += (m[1] === '-' ? -1 : 1) * Number(m[2]);
  } else {
    return { ok: false, reason: 'a port must be an integer', fix: 'write the port as a number' };
  }
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    return { ok: false, reason: 'a port must be from 1 to 65535', fix: 'pick a port in that range' };
  return { ok: true, value: n, unresolved: [] };
}

/** Evaluates a boolean (`true`, `false`, or a variable that yields one). */
export function evaluateBoolean(raw: unknown, vars: Variables): Evaluated<boolean> {
  if (typeof raw === 'boolean') return { ok: true, value: raw, unresolved: [] };
  if (typeof raw === 'string') {
    const { text, unresolved } = substitute(raw.trim(), vars);
    if (/^(true|yes|on)$/i.test(text)) return { ok: true, value: true, unresolved };
    if (/^(false|no|off)$/i.test(text)) return { ok: true, value: false, unresolved };
  }
  return {
    ok: false,
    reason: 'expected true or false',
    fix: 'an expression is not evaluated: write a boolean or ${VAR:-false}',
  };
}
