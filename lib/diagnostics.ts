/** Diagnostics: every problem found in the input, with a stable code and a source location. */

/** Stable diagnostic codes, like a linter's rule ids. */
export const DIAGNOSTIC_CODES = [
  'missing-file',
  'unreadable-file',
  'parse-error',
  'duplicate-key',
  'unsupported-layout',
  'unknown-key',
  'invalid-value',
  'missing-field',
  'invalid-spec',
  'unknown-dependency',
  'dependency-cycle',
  'duplicate-agent',
  'shared-agent-name',
  'port-conflict',
  'port-reassigned',
  'port-out-of-range',
  'hardcoded-ip',
  'misplaced-group',
  'empty-group',
  'unknown-override',
  'gpu-unavailable',
  'vram-over-budget',
  'unresolved-variable',
  'lock-outdated',
  'literal-secret',
  'unwritable-output',
  'output-not-ours',
  'unsafe-output',
  'missing-script',
  'unreadable-script',
  'script-syntax-error',
  'missing-module',
  'relative-import',
  'code-probe',
  'docker-engine',
  'left-out',
  'renamed-field',
  'health-port-drift',
  'port-drift',
  'undeclared-dependency',
  'unknown-endpoint',
  'socket-mismatch',
  'missing-requirement',
  'namespace-package',
  'name-conflict',
  'unknown-discovery',
  'spec-exists',
  'no-startup-config',
  'invalid-props',
  'unused-ignore',
  'code-not-read',
  'unprobeable-port',
  'invalid-requirement',
  'conflicting-pins',
] as const;

export type DiagnosticCode = (typeof DIAGNOSTIC_CODES)[number];

export type Severity = 'error' | 'warning' | 'info';

/** One problem, located in a file at a config path. */
export interface Diagnostic {
  readonly code: DiagnosticCode;
  readonly severity: Severity;
  readonly message: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly path?: string;
  /**
   * The agents (`machine/name`) this problem stops, when it stops only them: without `--strict` they are
   * left out of what is deployed and the problem is reported as a warning.
   */
  readonly stops?: readonly string[];
  /** The agents (`machine/name`) it concerns, where it concerns some: what `diagnostics.ignore` matches. */
  readonly agents?: readonly string[];
  /** Silenced by the spec's `diagnostics.ignore`: its reason. Kept in JSON, not shown to people. */
  readonly ignored?: string;
}

/** Where a value came from. */
export interface SourceRef {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly path: string;
}

/** Builds a diagnostic located at `at` (when known). */
export function diag(code: DiagnosticCode, severity: Severity, message: string, at?: SourceRef): Diagnostic {
  return at
    ? { code, severity, message, file: at.file, line: at.line, column: at.column, path: at.path }
    : { code, severity, message };
}

/**
 * Text from the input as it may be shown: characters that reorder or hide text (bidi controls such as
 * U+202E, zero-width and other format characters, line and paragraph separators) written as
 * `\u{202E}`, so a message cannot read other than it is (`'Registry'` that is not `Registry`).
 */
export function visible(s: string): string {
  return s.replace(
    /[\p{Cf}\p{Zl}\p{Zp}]/gu,
    (c) => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}}`,
  );
}

/** {@link visible}, and on one line: control characters (a newline in a key or file name) as `?`. */
export function oneLine(s: string): string {
  return visible(s).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** Names for a message: `a`, `a and b`, `a, b and c`. */
export function andList(xs: readonly string[]): string {
  return xs.length > 1 ? `${xs.slice(0, -1).join(', ')} and ${xs.at(-1)}` : (xs[0] ?? '');
}

/** `<file>:<line> <path>: <message>` as in STYLE.md, the prefix omitted where unknown. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.file ? `${oneLine(d.file)}${d.line ? `:${d.line}` : ''}` : '';
  const prefix = [where, d.path && oneLine(d.path)].filter(Boolean).join(' ');
  return `${prefix ? `${prefix}: ` : ''}${visible(d.message)} [${d.code}]`;
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === 'error');
}

const severityRank: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Sorts diagnostics into a stable order: by file, line, column, code, message. */
export function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  const key = (d: Diagnostic) =>
    [
      d.file ?? '\uffff',
      String(d.line ?? 0).padStart(8, '0'),
      String(d.column ?? 0).padStart(6, '0'),
      d.code,
      d.message,
    ].join('\u0000');
  return [...ds].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka !== kb) return ka < kb ? -1 : 1;
    return severityRank[a.severity] - severityRank[b.severity];
  });
}

/** Thrown by the io layer when input is unusable; carries diagnostics, never a stack to the user. */
export class InputError extends Error {
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
    this.name = 'InputError';
  }
}
