/** Secret variables: the names that hold secrets by convention and the references a config makes to them. */
import { isObj } from './values.ts';

/** Variable names that hold secrets by convention: `*_KEY`, `*TOKEN`, `*PASSWORD`, `*SECRET`. */
export const SECRET_NAME = /(_KEY|TOKEN|PASSWORD|SECRET)$/i;

export function collectSecretRefs(v: unknown, found: (name: string) => void) {
  if (Array.isArray(v)) v.forEach((x) => collectSecretRefs(x, found));
  else if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (
        typeof x === 'string' &&
        k.endsWith('_env') &&
        /(^|_)(api_key|token|secret|password)_env$/.test(k) &&
        /^[A-Z_][A-Z0-9_]*$/.test(x)
      )
        found(x);
      else collectSecretRefs(x, found);
    }
  }
}
